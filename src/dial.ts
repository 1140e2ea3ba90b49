/**
 * `dial()`: the one place that opens a client connection (plain or TLS, TCP or Unix) and bounds
 * it with a connect timeout that covers the TLS handshake. Used by `connect()`, `open()` and
 * `Persistent`.
 */
import net from 'node:net'
import tls from 'node:tls'
import { type Address, describeAddress } from './address.js'
import { ConnectError, TimeoutError } from './errors.js'
import { rememberServername } from './tls-info.js'

/** What {@link dial} needs: client options validated by `clientSettings()`. @internal */
export interface DialOptions {
  /** ms until the connection, including the TLS handshake, must be up. */
  connectTimeout: number
  /** Options from `tlsClientOptions()`; plain TCP or Unix when undefined. */
  tls: tls.ConnectionOptions | undefined
  /** Host name resolution, called on every dial; `net.connect`'s own (`dns.lookup`) when undefined. */
  lookup: net.LookupFunction | undefined
}

/** A connection being established. @internal */
export interface Dial {
  /** The socket (a `TLSSocket` with TLS); destroy it to cancel. */
  readonly socket: net.Socket
  /**
   * Resolves once connected (after the handshake with TLS); rejects with a `ConnectError`
   * whose `cause` is the socket's error, or a `TimeoutError` after `connectTimeout`.
   * The socket is destroyed before it rejects.
   */
  readonly ready: Promise<net.Socket>
}

/**
 * Starts one connection (with TLS, offering `session` to resume, if given). Host names are resolved on every call (by `net.connect`), so a
 * server that moved is found on the next attempt.
 * @internal
 */
export function dial(address: Address, options: DialOptions, session?: Buffer): Dial {
  const where = describeAddress(address)
  const target = 'path' in address ? { path: address.path } : { host: address.host, port: address.port }
  const lookup = options.lookup === undefined ? {} : { lookup: options.lookup }
  const socket =
    options.tls === undefined
      ? net.connect({ ...target, ...lookup, allowHalfOpen: true })
      : tls.connect({ ...options.tls, ...target, ...lookup, ...(session !== undefined && { session }) })
  if (options.tls !== undefined) rememberServername(socket, options.tls.servername, 'path' in address ? undefined : address.host)
  const connected = options.tls === undefined ? 'connect' : 'secureConnect'
  const ready = new Promise<net.Socket>((resolve, reject) => {
    const settle = (err: ConnectError | null): void => {
      clearTimeout(timer)
      socket.removeListener(connected, onConnect)
      socket.removeListener('error', onError)
      socket.removeListener('close', onClose)
      if (err === null) {
        resolve(socket)
        return
      }
      socket.destroy()
      reject(err)
    }
    const onConnect = (): void => settle(null)
    const onError = (err: Error): void => settle(new ConnectError(`connect to ${where} failed: ${err.message}`, { cause: err }))
    // Destroyed from outside (a cancelled dial) or closed by the peer mid-handshake without an error.
    const onClose = (): void => settle(new ConnectError(`connect to ${where} failed: socket closed before the connection was up`))
    const timer = setTimeout(() => {
      const cause = new TimeoutError(`no connection within ${options.connectTimeout} ms`)
      settle(new ConnectError(`connect to ${where} timed out after ${options.connectTimeout} ms`, { cause }))
    }, options.connectTimeout)
    socket.once(connected, onConnect)
    socket.on('error', onError)
    socket.once('close', onClose)
  })
  return { socket, ready }
}
