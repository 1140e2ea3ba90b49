/**
 * One-shot clients (`connect`, `connectTls`) and the options every client shares.
 *
 * Assumptions: the client options are declared once, as {@link ClientOptions}, and checked in
 * one place (`clientSettings()`) for `connect`, `connectTls`, `open` and `Persistent`, so that
 * the four accept and refuse the same values with the same messages.
 */
import type { LookupFunction } from 'node:net'
import { type Address, checkAddress, describeAddress } from './address.js'
import { channels } from './diagnostics.js'
import { type DialOptions, dial } from './dial.js'
import { type StreamOptions, StreamSettings } from './limits.js'
import type { Factory } from './protocol.js'
import { abortable, abortError, checkSignal } from './shutdown.js'
import { Stream } from './stream.js'
import { type TlsClientOptions, tlsClientOptions } from './tls.js'
import { checkFunction, checkMs, checkOptions, invalid } from './validate.js'

/** Default of {@link ClientOptions.connectTimeout}, in ms (the Rust crate's choice). */
export const DEFAULT_CONNECT_TIMEOUT = 1000

/**
 * Options of every client: {@link connect}, {@link connectTls}, `open()` and `Persistent`.
 * The stream options apply to every connection the client makes.
 */
export interface ClientOptions extends StreamOptions {
  /**
   * Give up connecting after this many ms, TLS handshake included, with a `ConnectError`
   * (each attempt of a `Persistent`): a whole number within 1..2^31-1.
   * @default 1000
   */
  connectTimeout?: number
  /** Connect with TLS; the server's certificate is verified (give `ca` for a private one). */
  tls?: TlsClientOptions
  /** Host name resolution, a function like `dns.lookup`, called on every connection attempt. @default dns.lookup */
  lookup?: LookupFunction
  /**
   * Cancels: `connect`/`open` reject with the signal's reason (an `AbortError` `DOMException`
   * unless `abort()` was given one) and the socket and connect timer are freed; an already
   * aborted signal rejects at once, before any socket is opened. It covers connecting only: once
   * the promise resolved, the listener is removed and aborting does nothing to the stream (close
   * it with `stream.close()`). For `Persistent`, aborting is `stop()`, for as long as it runs.
   * @default none
   */
  signal?: AbortSignal
}

/**
 * The `seed` option of a client that takes a factory: passed to the factory as `seed` on every
 * connection. Required when the factory's seed type does not admit `undefined`, so that a
 * factory written for a seed always gets one.
 */
export type SeedOption<S> = undefined extends S
  ? {
      /** Passed to the factory as `seed`. */
      seed?: S
    }
  : {
      /** Passed to the factory as `seed`: required, as the factory's seed type does not admit `undefined`. */
      seed: S
    }

/**
 * The options argument of a client that takes a factory: optional unless the factory needs a
 * seed (see {@link SeedOption}).
 */
export type OptionsArgument<O, S> = undefined extends S ? [options?: O] : [options: O]

/** Options of {@link connect}. */
export type ConnectOptions<S = unknown> = ClientOptions & SeedOption<S>

/** Options of {@link connectTls}: {@link ConnectOptions} with `tls` required. */
export type ConnectTlsOptions<S = unknown> = ConnectOptions<S> & {
  /** Certificate verification and client certificate; `{}` verifies against Node's root CAs. */
  tls: TlsClientOptions
}

/**
 * Opens one connection and runs a protocol on it (a one-shot client), over TCP `{ host, port }`
 * or a Unix socket `{ path }`, with TLS when `tls` is given.
 * Resolves with the {@link Stream} once connected (and the certificate verified) and the factory
 * has created the first state; rejects with a `ConnectError` (its `cause` is the socket's error,
 * e.g. `ECONNREFUSED` or `DEPTH_ZERO_SELF_SIGNED_CERT`) if the connection fails or takes longer
 * than `connectTimeout`. Bad arguments throw `InvalidArgumentError` synchronously. The options,
 * with their `seed`, are required when the factory's seed type does not admit `undefined`.
 *
 * ```ts
 * const stream = await connect({ host: '127.0.0.1', port: 6379 }, Ping.create)
 * await stream.closed
 * ```
 */
export function connect<S>(address: Address, factory: Factory<S>, ...[options]: OptionsArgument<ConnectOptions<S>, S>): Promise<Stream> {
  return startClient('connect', address, factory, options)
}

/** `connect()` with `tls` required: a TLS client that cannot silently fall back to plain text. */
export function connectTls<S>(address: Address, factory: Factory<S>, options: ConnectTlsOptions<S>): Promise<Stream> {
  const o = checkOptions<ClientOptions>('connectTls', 'options', options)
  // The point of connectTls: no silent plain-text connection when `tls` was forgotten.
  if (o.tls === undefined) throw invalid('connectTls', 'options.tls', 'TLS options (use {} for the defaults)', undefined)
  return startClient('connectTls', address, factory, o)
}

/**
 * {@link ClientOptions} validated, with every default filled in: made once where the options
 * are given, and used for every connection of that client.
 * @internal
 */
export interface ClientSettings {
  /** What `dial()` needs for each connection. */
  readonly dial: DialOptions
  /** What `Stream.attach()` needs for each connection. */
  readonly stream: StreamSettings
  /** `options.signal`, checked. */
  readonly signal: AbortSignal | undefined
}

/**
 * The one check of {@link ClientOptions}, for every client; `where` names the function they were
 * given to (`connect`, `open`, `Persistent`…). Throws `InvalidArgumentError`. `options` must
 * already be known to be an object (see `checkOptions`).
 * @internal
 */
export function clientSettings(where: string, options: ClientOptions): ClientSettings {
  const connectTimeout =
    options.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT : checkMs(where, 'options.connectTimeout', options.connectTimeout, { min: 1 })
  const stream = new StreamSettings(options, where)
  const tls = options.tls === undefined ? undefined : tlsClientOptions(where, 'options.tls', options.tls)
  const lookup = options.lookup === undefined ? undefined : checkFunction<LookupFunction>(where, 'options.lookup', options.lookup, 'a function like dns.lookup')
  const signal = checkSignal(where, 'options.signal', options.signal)
  return { dial: { connectTimeout, tls, lookup }, stream, signal }
}

/**
 * `connect()`, `connectTls()` and `open()`: checks every argument (throwing `InvalidArgumentError`
 * naming `where`), connects, and runs `factory` on the connection with `options.seed`.
 * @internal
 */
export function startClient<S>(where: string, address: Address, factory: Factory<S>, options: unknown): Promise<Stream> {
  const target = checkAddress(where, address)
  checkFunction(where, 'factory', factory, 'a function (transport, seed, scope) => Intent')
  const o = checkOptions<ClientOptions & { seed?: S }>(where, 'options', options)
  const settings = clientSettings(where, o)
  const signal = settings.signal
  if (signal?.aborted) return Promise.reject(abortError(signal))
  const attempt = dial(target, settings.dial)
  // Destroying the socket also clears dial's connect timer (it settles on 'close').
  return abortable(attempt.ready, signal, () => attempt.socket.destroy()).then((socket) => {
    const stream = Stream.attach(socket, factory, o.seed, settings.stream)
    if (channels.clientConnect.hasSubscribers) channels.clientConnect.publish({ address: describeAddress(target), stream })
    return stream
  })
}
