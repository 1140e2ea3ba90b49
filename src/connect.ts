import type { LookupFunction } from 'node:net'
import { channels } from './diagnostics.js'
import { type Address, checkAddress, checkConnectTimeout, describeAddress, dial } from './dial.js'
import type { Factory } from './protocol.js'
import { Stream, type StreamOptions, StreamSettings } from './stream.js'
import { type TlsClientOptions, tlsClientOptions } from './tls.js'

export { type Address, DEFAULT_CONNECT_TIMEOUT } from './dial.js'

/** Options of {@link connect}. */
export interface ConnectOptions<S = unknown> extends StreamOptions {
  /** Give up connecting after this many ms (TLS handshake included) with a `ConnectError`. @default 1000 */
  connectTimeout?: number
  /** Connect with TLS; the server's certificate is verified (give `ca` for a private one). */
  tls?: TlsClientOptions
  /** Host name resolution. @default dns.lookup */
  lookup?: LookupFunction
  /** Passed to the factory as `seed`. */
  seed?: S
}

/**
 * Opens one connection and runs a protocol on it (a one-shot client), over TCP `{ host, port }`
 * or a Unix socket `{ path }`, with TLS when `tls` is given.
 * Resolves with the {@link Stream} once connected (and the certificate verified) and the factory
 * has created the first state; rejects with a `ConnectError` (its `cause` is the socket's error,
 * e.g. `ECONNREFUSED` or `DEPTH_ZERO_SELF_SIGNED_CERT`) if the connection fails or takes longer
 * than `connectTimeout`. Bad arguments throw `InvalidArgumentError` synchronously.
 *
 * ```ts
 * const stream = await connect({ host: '127.0.0.1', port: 6379 }, Ping.create)
 * await stream.closed
 * ```
 */
export function connect<S>(address: Address, factory: Factory<S>, options: ConnectOptions<S> = {}): Promise<Stream> {
  checkAddress(address)
  const connectTimeout = checkConnectTimeout(options.connectTimeout)
  const settings = new StreamSettings(options)
  const tls = options.tls === undefined ? undefined : tlsClientOptions(options.tls)
  const { ready } = dial(address, { connectTimeout, tls, lookup: options.lookup })
  return ready.then((socket) => {
    const stream = Stream.attach(socket, factory, options.seed as S, settings)
    if (channels.clientConnect.hasSubscribers) channels.clientConnect.publish({ address: describeAddress(address), stream })
    return stream
  })
}

/** Options of {@link connectTls}. */
export interface ConnectTlsOptions<S = unknown> extends ConnectOptions<S> {
  /** Certificate verification and client certificate; `{}` verifies against Node's root CAs. */
  tls: TlsClientOptions
}

/** `connect()` with `tls` required: a TLS client that cannot silently fall back to plain text. */
export function connectTls<S>(address: Address, factory: Factory<S>, options: ConnectTlsOptions<S>): Promise<Stream> {
  return connect(address, factory, options)
}
