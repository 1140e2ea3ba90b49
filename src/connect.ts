import net from 'node:net'
import { channels } from './diagnostics.js'
import { ConnectError, InvalidArgumentError } from './errors.js'
import type { Factory } from './protocol.js'
import { checkStreamOptions, Stream, type StreamOptions } from './stream.js'

/** Where to connect or listen: TCP `{ host, port }` or a Unix socket `{ path }`. */
export type Address = { host: string; port: number } | { path: string }

/** Options of {@link connect}. */
export interface ConnectOptions<S = unknown> extends StreamOptions {
  /** Give up connecting after this many ms with a `ConnectError`. @default 1000 */
  connectTimeout?: number
  /** Passed to the factory as `seed`. */
  seed?: S
}

/** Default connect timeout in ms (the Rust crate's choice). */
export const DEFAULT_CONNECT_TIMEOUT = 1000

/**
 * Opens one connection and runs a protocol on it (a one-shot client).
 * Resolves with the {@link Stream} once connected and the factory has created the first state;
 * rejects with a `ConnectError` (its `cause` is the socket's error) if the connection fails or
 * takes longer than `connectTimeout`.
 *
 * ```ts
 * const stream = await connect({ host: '127.0.0.1', port: 6379 }, Ping.create)
 * await stream.closed
 * ```
 */
export function connect<S>(address: Address, factory: Factory<S>, options: ConnectOptions<S> = {}): Promise<Stream> {
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT
  if (!(timeout > 0)) throw new InvalidArgumentError(`connectTimeout must be > 0, got ${timeout}`)
  checkStreamOptions(options)
  const socket = openSocket(address)
  return new Promise<Stream>((resolve, reject) => {
    const fail = (err: ConnectError): void => {
      clearTimeout(timer)
      socket.removeListener('connect', onConnect)
      socket.destroy()
      reject(err)
    }
    const onError = (err: Error): void => fail(new ConnectError(`connect to ${describeAddress(address)} failed: ${err.message}`, { cause: err }))
    const onConnect = (): void => {
      clearTimeout(timer)
      socket.removeListener('error', onError)
      const stream = Stream.attach(socket, factory, options.seed as S, options)
      if (channels.clientConnect.hasSubscribers) channels.clientConnect.publish({ address: describeAddress(address), stream })
      resolve(stream)
    }
    const timer = setTimeout(() => fail(new ConnectError(`connect to ${describeAddress(address)} timed out after ${timeout} ms`)), timeout)
    socket.once('connect', onConnect)
    socket.once('error', onError)
  })
}

/** Starts a plain TCP or Unix socket connection. @internal */
export function openSocket(address: Address): net.Socket {
  if ('path' in address) return net.connect({ path: address.path, allowHalfOpen: true })
  if (!(Number.isInteger(address.port) && address.port > 0 && address.port < 65536)) {
    throw new InvalidArgumentError(`invalid port ${address.port}`)
  }
  return net.connect({ host: address.host, port: address.port, allowHalfOpen: true })
}

/** `host:port` or the Unix path, for messages. @internal */
export function describeAddress(address: Address): string {
  return 'path' in address ? address.path : `${address.host}:${address.port}`
}
