/**
 * TLS for servers and clients, plus `dial()`: the one place that opens a client connection
 * (plain or TLS, TCP or Unix) and bounds it with a connect timeout that covers the handshake.
 *
 * Assumptions: certificates are verified by default on the client side (a self-signed or
 * unknown certificate fails the connection unless its CA is given); TLS material is checked
 * when a server or client is created, not on the first connection.
 */
import { X509Certificate } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import { type Address, type ConnectOptions, DEFAULT_CONNECT_TIMEOUT } from './connect.js'
import { channels } from './diagnostics.js'
import { ConnectError, InvalidArgumentError, TimeoutError } from './errors.js'
import type { Factory } from './protocol.js'
import { Stream } from './stream.js'

/** PEM text or buffers, one or several (what `tls.createSecureContext` accepts for `cert` and `ca`). */
export type PemMaterial = string | Buffer | Array<string | Buffer>
/** A private key: PEM text or buffer, or several (what `tls.createSecureContext` accepts for `key`). */
export type KeyMaterial = NonNullable<tls.SecureContextOptions['key']>

/** TLS on the accept side ({@link serve}'s `tls` option). */
export interface TlsServerOptions {
  /** The server's private key (PEM). */
  key: KeyMaterial
  /** The server's certificate chain (PEM), leaf first. */
  cert: PemMaterial
  /** CAs trusted for client certificates (with `requestCert`). @default Node's bundled root CAs */
  ca?: PemMaterial
  /** Ask clients for a certificate. @default false */
  requestCert?: boolean
  /**
   * With `requestCert`: refuse clients whose certificate does not verify against `ca`.
   * @default true
   */
  rejectUnauthorized?: boolean
  /**
   * A client that has not finished the TLS handshake this many ms after connecting is
   * disconnected (Node's own default is 120 s, long enough to pin sockets on a busy server).
   * @default 10000
   */
  handshakeTimeout?: number
}

/** TLS on the connecting side ({@link Persistent}'s and {@link connectTls}'s `tls` option). */
export interface TlsClientOptions {
  /**
   * CAs that may sign the server's certificate; give the server's own certificate or its CA
   * to trust a self-signed or private one.
   * @default Node's bundled root CAs
   */
  ca?: PemMaterial
  /** Client certificate chain (PEM), for servers that ask for one. */
  cert?: PemMaterial
  /** Private key of `cert`. */
  key?: KeyMaterial
  /**
   * Name sent as SNI and checked against the certificate.
   * @default the host name (none for an IP address, which is checked against the certificate's IP entries); `'localhost'` over a Unix socket
   */
  servername?: string
  /**
   * Verify the server's certificate (chain and name). Turning this off accepts any server,
   * including an attacker in the middle: give `ca` instead.
   * @default true
   */
  rejectUnauthorized?: boolean
}

/** Default TLS handshake timeout on the server side, in ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000

/**
 * Validates server TLS material once and returns the options for `tls.createServer`.
 * Throws `InvalidArgumentError` (`RS_ERR_INVALID_ARG`) for missing or unusable key, certificate
 * or CA, with OpenSSL's error (e.g. `ERR_OSSL_PEM_NO_START_LINE`) as `cause`.
 * @internal
 */
export function tlsServerOptions(options: TlsServerOptions): tls.TlsOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('tls must be an object with key and cert')
  if (isEmpty(options.key)) throw new InvalidArgumentError('tls.key is required: the server private key in PEM')
  if (isEmpty(options.cert)) throw new InvalidArgumentError('tls.cert is required: the server certificate in PEM')
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT
  if (!(handshakeTimeout > 0)) throw new InvalidArgumentError(`tls.handshakeTimeout must be > 0, got ${handshakeTimeout}`)
  const material = { key: options.key, cert: options.cert, ...(options.ca !== undefined && { ca: options.ca }) }
  checkMaterial(material, 'server')
  return {
    ...material,
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    handshakeTimeout,
    allowHalfOpen: true,
  }
}

/**
 * Validates client TLS options once and returns the options for `tls.connect` (without the address).
 * @internal
 */
export function tlsClientOptions(options: TlsClientOptions): tls.ConnectionOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('tls must be an object (use {} for the defaults)')
  if ((options.cert === undefined) !== (options.key === undefined)) throw new InvalidArgumentError('tls.cert and tls.key go together')
  const material = {
    ...(options.ca !== undefined && { ca: options.ca }),
    ...(options.cert !== undefined && { cert: options.cert }),
    ...(options.key !== undefined && { key: options.key }),
  }
  if (Object.keys(material).length > 0) checkMaterial(material, 'client')
  return {
    ...material,
    ...(options.servername !== undefined && { servername: options.servername }),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  }
}

/** What {@link dial} needs. @internal */
export interface DialOptions {
  /** ms until the connection, including the TLS handshake, must be up. */
  connectTimeout: number
  /** Options from {@link tlsClientOptions}; plain TCP or Unix without. */
  tls?: tls.ConnectionOptions | undefined
  /** Host name resolution, called on every dial. @default dns.lookup */
  lookup?: net.LookupFunction | undefined
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
 * Starts one connection. Host names are resolved on every call (by `net.connect`), so a
 * server that moved is found on the next attempt.
 * @internal
 */
export function dial(address: Address, options: DialOptions): Dial {
  const where = describe(address)
  const target = 'path' in address ? { path: address.path } : { host: address.host, port: address.port }
  const lookup = options.lookup === undefined ? {} : { lookup: options.lookup }
  const socket = options.tls === undefined ? net.connect({ ...target, ...lookup, allowHalfOpen: true }) : tls.connect({ ...options.tls, ...target, ...lookup })
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
    // The socket keeps the process alive while connecting; the timer need not.
    timer.unref()
    socket.once(connected, onConnect)
    socket.on('error', onError)
    socket.once('close', onClose)
  })
  return { socket, ready }
}

/** Options of {@link connectTls}. */
export interface ConnectTlsOptions<S = unknown> extends ConnectOptions<S> {
  /** Certificate verification and client certificate; `{}` verifies against Node's root CAs. */
  tls: TlsClientOptions
  /** Host name resolution. @default dns.lookup */
  lookup?: net.LookupFunction
}

/**
 * Opens one TLS connection (TCP or Unix) and runs a protocol on it, like `connect()` does for
 * plain sockets. Resolves with the {@link Stream} once the handshake is done and the server's
 * certificate verified; rejects with a `ConnectError` if connecting or verifying fails (the
 * `cause` carries Node's code, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`) or `connectTimeout` passes.
 *
 * ```ts
 * const stream = await connectTls({ host: 'localhost', port: 6380 }, Ping.create, { tls: { ca } })
 * ```
 */
export function connectTls<S>(address: Address, factory: Factory<S>, options: ConnectTlsOptions<S>): Promise<Stream> {
  checkAddress(address)
  const connectTimeout = checkConnectTimeout(options.connectTimeout)
  const { ready } = dial(address, { connectTimeout, tls: tlsClientOptions(options.tls), lookup: options.lookup })
  return ready.then((socket) => {
    let stream: Stream
    try {
      stream = Stream.attach(socket, factory, options.seed as S, options)
    } catch (err) {
      socket.destroy() // bad stream options: no socket may outlive the failed call
      throw err
    }
    if (channels.clientConnect.hasSubscribers) channels.clientConnect.publish({ address: describe(address), stream })
    return stream
  })
}

/** Validates a `connectTimeout` option, in ms. @internal */
export function checkConnectTimeout(value: number | undefined): number {
  const timeout = value ?? DEFAULT_CONNECT_TIMEOUT
  if (!(timeout > 0 && timeout <= 2 ** 31 - 1)) throw new InvalidArgumentError(`connectTimeout must be within 1..2147483647 ms, got ${timeout}`)
  return timeout
}

/** Checks a `{ host, port }` or `{ path }` address; throws `InvalidArgumentError`. @internal */
export function checkAddress(address: Address): void {
  if (typeof address !== 'object' || address === null) throw new InvalidArgumentError('address must be { host, port } or { path }')
  if ('path' in address) {
    if (typeof address.path !== 'string' || address.path === '') throw new InvalidArgumentError(`invalid Unix socket path ${String(address.path)}`)
    return
  }
  if (typeof address.host !== 'string' || address.host === '') throw new InvalidArgumentError(`invalid host ${String(address.host)}`)
  if (!(Number.isInteger(address.port) && address.port > 0 && address.port < 65536)) throw new InvalidArgumentError(`invalid port ${address.port}`)
}

/** `host:port` or the Unix path, for messages. @internal */
export function describe(address: Address): string {
  return 'path' in address ? address.path : `${address.host}:${address.port}`
}

/** Builds a secure context once, so bad material fails at creation with a clear message. */
function checkMaterial(material: tls.SecureContextOptions, side: 'server' | 'client'): void {
  try {
    // OpenSSL skips CA entries it cannot parse, which would surface later as "unable to verify".
    if (material.ca !== undefined) checkCertificates(material.ca as PemMaterial, 'ca')
    tls.createSecureContext(material)
  } catch (err) {
    const error = new InvalidArgumentError(`unusable TLS ${side} key, certificate or CA: ${err instanceof Error ? err.message : String(err)}`)
    // InvalidArgumentError takes no ErrorOptions; keep OpenSSL's error (with its code) as `cause` all the same.
    Object.defineProperty(error, 'cause', { value: err, writable: true, configurable: true, enumerable: false })
    throw error
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Parses every certificate in `pem`; throws if there is none or one does not parse. */
function checkCertificates(pem: PemMaterial, option: string): void {
  for (const item of Array.isArray(pem) ? pem : [pem]) {
    const blocks = String(item).match(PEM_CERTIFICATE)
    if (blocks === null) throw new Error(`tls.${option} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`)
    for (const block of blocks) new X509Certificate(block)
  }
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)
}
