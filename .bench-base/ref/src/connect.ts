import type { LookupFunction } from 'node:net'
import { channels } from './diagnostics.js'
import { type Address, checkAddress, checkConnectTimeout, describeAddress, dial } from './dial.js'
import type { Factory } from './protocol.js'
import { Stream, type StreamOptions, StreamSettings } from './stream.js'
import { type TlsClientOptions, tlsClientOptions } from './tls.js'
import { checkFunction, checkOptions, invalid } from './validate.js'

export { type Address, DEFAULT_CONNECT_TIMEOUT } from './dial.js'

/** Options of {@link connect}. */
export interface ConnectOptions<S = unknown> extends StreamOptions {
  /** Give up connecting after this many ms (TLS handshake included) with a `ConnectError`: a whole number within 1..2^31-1. @default 1000 */
  connectTimeout?: number
  /** Connect with TLS; the server's certificate is verified (give `ca` for a private one). */
  tls?: TlsClientOptions
  /** Host name resolution, a function like `dns.lookup`. @default dns.lookup */
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
export function connect<S>(address: Address, factory: Factory<S>, options?: ConnectOptions<S>): Promise<Stream> {
  return start('connect', address, factory, options)
}

/** `connect()` and `connectTls()`, with `where` naming the one called in messages. */
function start<S>(where: string, address: Address, factory: Factory<S>, options: ConnectOptions<S> | undefined): Promise<Stream> {
  const target = checkAddress(where, address)
  checkFunction(where, 'factory', factory, 'a function (transport, seed, scope) => Intent')
  const o = checkOptions<ConnectOptions<S>>(where, 'options', options)
  const connectTimeout = checkConnectTimeout(where, o.connectTimeout)
  const settings = new StreamSettings(o, where)
  const tls = o.tls === undefined ? undefined : tlsClientOptions(where, 'options.tls', o.tls)
  const lookup = o.lookup === undefined ? undefined : checkFunction<LookupFunction>(where, 'options.lookup', o.lookup, 'a function like dns.lookup')
  const { ready } = dial(target, { connectTimeout, tls, lookup })
  return ready.then((socket) => {
    const stream = Stream.attach(socket, factory, o.seed as S, settings)
    if (channels.clientConnect.hasSubscribers) channels.clientConnect.publish({ address: describeAddress(target), stream })
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
  const o = checkOptions<Partial<ConnectTlsOptions<S>>>('connectTls', 'options', options)
  // The point of connectTls: no silent plain-text connection when `tls` was forgotten.
  if (o.tls === undefined) throw invalid('connectTls', 'options.tls', 'TLS options (use {} for the defaults)', undefined)
  return start('connectTls', address, factory, o)
}
