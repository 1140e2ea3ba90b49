/**
 * The accept side: one {@link Stream} per connection on TCP, a Unix socket or TLS, a bound on
 * live connections, and a graceful close.
 *
 * Assumptions: the factory is synchronous and cheap (it runs in the accept callback); a
 * connection over `maxConnections` is accepted and closed at once by Node (the client sees the
 * connection reset or closed), never queued in memory; accept errors such as `EMFILE` are
 * transient and only reported (Node keeps accepting).
 */

import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
import { chmod, lstat, unlink } from 'node:fs/promises'
import net from 'node:net'
import { dirname } from 'node:path'
import tls from 'node:tls'
import type { Address } from './address.js'
import { MemoryBudget } from './budget.js'
import { withResolvers } from './deferred.js'
import { channels } from './diagnostics.js'
import { ClosedError, InvalidArgumentError, ListenError, UnsupportedError } from './errors.js'
import { type StreamOptions, StreamSettings } from './limits.js'
import type { Factory, SeedArgument } from './protocol.js'
import { readProxyHeader } from './proxy-accept.js'
import { type ProxyProtocolOptions, proxyProtocolOptions } from './proxy-protocol.js'
import { abortError, checkIdlePolicy, checkSignal, type IdlePolicy, onAbort } from './shutdown.js'
import { type ListenOptions, type ListenSettings, listenSettings } from './socket-options.js'
import { ServerCounters, type ServerStats } from './stats.js'
import { Stream } from './stream.js'
import { type TlsServerOptions, tlsServerOptions } from './tls.js'
import { TlsReloader } from './tls-reload.js'
import { checkFunction, checkInteger, checkMs, checkObject, checkOptions, checkString, checkUnixPath, describeValue, invalid } from './validate.js'

/** Where to listen: TCP `{ host, port }` (port 0 picks a free port) or a Unix socket `{ path }`. */
export type ListenAddress =
  | {
      /** Interface to bind, a non-empty string. @default all interfaces (`::` and `0.0.0.0`) */
      host?: string
      /** TCP port, an integer within 0..65535; 0 picks a free one (read it back from `server.address`). */
      port: number
    }
  | {
      /**
       * Unix socket path. A socket file left by a crashed process is removed if nothing
       * answers on it; a live server there is an error. The file is removed on close.
       * At most 107 bytes (UTF-8) on Linux, 103 on macOS and the BSDs: a longer one is an
       * `InvalidArgumentError`, not a socket file of a truncated name.
       */
      path: string
    }

/** Options of {@link serve} besides the address. Stream options apply to every accepted connection. */
export interface ServerOptions extends StreamOptions, ListenOptions {
  /** Serve TLS with this key and certificate; plain TCP or Unix without. */
  tls?: TlsServerOptions
  /**
   * Most connections open at once; a connection over the limit is closed as soon as it is
   * accepted (Node's `server.maxConnections`), and live connections are unaffected. A positive safe integer.
   * @default 10000
   */
  maxConnections?: number
  /**
   * A memory budget for all connections together: while the input they buffer is over this many
   * bytes, reading pauses but for one connection that wants to read (the one holding the most
   * input, in turns), so that frames complete, instead of the process growing with every slow
   * peer. Output waiting for a peer is charged to that connection (`outputHighWaterMark`, its
   * deadline), so a client that does not read never stalls the others. See `MemoryBudget`.
   * A positive safe integer.
   * @default no budget
   */
  maxBufferedBytes?: number
  /**
   * Stops the server when aborted, as `close()` with its defaults does (idle streams end, busy
   * ones get `close()`'s timeout); `serve` rejects with the signal's reason (an `AbortError`
   * `DOMException` unless given one) if it aborts before listening, and at once, without
   * listening, if it is already aborted. The listener on the signal is removed when the server closes.
   * @default none
   */
  signal?: AbortSignal
  /**
   * Every connection begins with a PROXY protocol header (v1 text or v2 binary, as HAProxy's
   * `send-proxy`/`send-proxy-v2` and cloud load balancers send it): the protocol then sees the
   * client's addresses in `remoteAddress`/`remotePort` (and the proxy's in `localAddress`/
   * `localPort`), and the header itself, TLVs included, as `t.proxy`. A connection without a
   * valid header is closed, with a `ProxyProtocolError` on the `rotor-stream:server:error`
   * channel; there is no "optional" mode (see {@link ProxyProtocolOptions}). With `tls`, the
   * header is read from the raw socket BEFORE the handshake, which is where proxies send it (a
   * TLS passthrough proxy sends it ahead of the client's ClientHello); libraries that looked
   * for it after the handshake never saw it, or failed the handshake on it. On Bun, `tls` with
   * `proxyProtocol` throws an `UnsupportedError` (its TLS server cannot wait for the header).
   * @default false
   */
  proxyProtocol?: boolean | ProxyProtocolOptions
}

/** What {@link serve} takes: where to listen, plus {@link ServerOptions}. */
export type ServeOptions = ListenAddress & ServerOptions

/** Options of {@link Server.close}. */
export interface CloseOptions {
  /**
   * How long live connections may go on after listening stopped, in ms; after it the remaining
   * streams are closed (their protocol's `fatal` gets a `ClosedError`). 0 closes them at once.
   * A whole number of ms within 0..2^31-1.
   * @default 5000
   */
  timeout?: number
  /**
   * What happens to *idle* streams of protocols without a `shutdown` handler (a protocol with
   * one is asked instead, see `Protocol.shutdown`). Idle: waiting for input
   * (`expectBytes`/`expectDelimiter`) with an empty `input`, an empty `output` and nothing
   * unwritten in the socket, i.e. between two requests as far as the engine can tell; for the
   * async API, `frames()` waiting between two frames (a `readExactly`/`readUntil` may be inside a
   * request, so it never counts as idle: check `conn.closing` before the next request).
   * - `'end'`: they end at once and cleanly (FIN, as after `Intent.done()`), and so does every
   *   busy stream as soon as it becomes idle; busy ones are told (`scope.closing`,
   *   `Connection.closing`). The close resolves as soon as the busy streams finish. Go's
   *   `Server.Shutdown` and Node >= 19's `server.close()` do the same.
   * - `'wait'`: the behaviour before: they are left alone and hold the close until they end by
   *   themselves or `timeout` passes (an idle keep-alive connection holds it for the whole
   *   timeout). `scope.closing` and the `shutdown` handlers work as with `'end'`.
   * @default 'end'
   */
  idle?: IdlePolicy
}

/** Default of {@link ServerOptions.maxConnections}. */
export const DEFAULT_MAX_CONNECTIONS = 10_000
/** Default of {@link CloseOptions.timeout}, in ms. */
export const DEFAULT_CLOSE_TIMEOUT = 5000
/** Default of {@link ServerOptions.backlog}: Node's own. */
export const DEFAULT_BACKLOG = 511
/** A socket file that neither accepts nor refuses within this many ms is taken as live, not stale. */
const STALE_PROBE_TIMEOUT = 1000

/**
 * Listens and runs `factory(transport, seed, scope)` on every accepted connection (after the
 * TLS handshake with `tls`). For the async API, pass `handleAsync(async (conn) => { ... })` as
 * the factory. A factory that returns anything but an Intent (a promise, say) ends only that
 * connection, with a `HandlerError` reported to `onError`. Resolves with the {@link Server} once it is listening; rejects with
 * a {@link ListenError} if it cannot listen. Bad options, including unusable TLS material,
 * throw `InvalidArgumentError` synchronously.
 *
 * ```ts
 * const server = await serve({ host: '127.0.0.1', port: 7000 }, LineEcho.create)
 * process.once('SIGTERM', () => server.close({ timeout: 10_000 }))
 * ```
 *
 * Under `node:cluster`, call it in every worker with the same address: the workers share the
 * listening socket, and each worker's `maxConnections` applies to that worker.
 */
export function serve<S>(options: ServeOptions, factory: Factory<S>, ...[seed]: SeedArgument<S>): Promise<Server> {
  checkServeArguments(options, factory)
  // Which API a function is for is never guessed from how it was declared (a bound or down-compiled
  // async function looks like any other): the async API is asked for with handleAsync(). An
  // `async` function here is surely a mistake, so it is refused now rather than on every connection.
  if (isAsyncFunction(factory)) {
    throw new InvalidArgumentError('serve(): factory is an async function; for the async API pass handleAsync(handler) instead')
  }
  const address = listenAddress(options)
  const maxConnections =
    options.maxConnections === undefined ? DEFAULT_MAX_CONNECTIONS : checkInteger('serve', 'options.maxConnections', options.maxConnections, { min: 1 })
  const listen = listenSettings(options, 'path' in address, DEFAULT_BACKLOG)
  const signal = checkSignal('serve', 'options.signal', options.signal)
  const tlsOptions = options.tls === undefined ? null : tlsServerOptions('serve', 'options.tls', options.tls)
  // The type only: MemoryBudget checks the range.
  if (options.maxBufferedBytes !== undefined && typeof options.maxBufferedBytes !== 'number') {
    throw invalid('serve', 'options.maxBufferedBytes', 'a positive integer (bytes)', options.maxBufferedBytes)
  }
  const budget = options.maxBufferedBytes === undefined ? options.budget : new MemoryBudget(options.maxBufferedBytes)
  const streamOptions = new StreamSettings({ ...options, budget }, 'serve')
  if (signal?.aborted) return Promise.reject(abortError(signal))
  const proxy = proxyProtocolOptions('serve', options.proxyProtocol)
  // Bun's TLS server starts the handshake on the raw socket by itself, header included (the
  // handshake then fails on every connection): refused rather than a server that can never work.
  const bun = (process.versions as NodeJS.ProcessVersions & { bun?: string }).bun
  if (proxy !== null && tlsOptions !== null && bun !== undefined) {
    throw new UnsupportedError(`serve: options.proxyProtocol with options.tls is not supported on Bun ${bun} (terminate TLS in the proxy, or use Node or Deno)`)
  }
  const server = Server.create(factory as Factory<unknown>, seed, streamOptions, tlsOptions, proxy)
  return server.listen(address, maxConnections, listen, signal)
}

/**
 * A listening server (see {@link serve}). It keeps the process alive until {@link Server.close}.
 */
export class Server {
  readonly #server: net.Server
  readonly #factory: Factory<unknown>
  readonly #seed: unknown
  readonly #streamOptions: StreamSettings
  /**
   * Every connection accepted and not yet closed, by the socket accepted (for TLS the raw socket,
   * from before the handshake), with the stream running on it; null while a TLS handshake runs.
   * A plain connection's stream says when its socket closed (`serverHook`); a TLS connection's
   * raw socket does (`#rawSocketClosed`).
   */
  readonly #connections = new Map<net.Socket, Stream | null>()
  /** The 'close' listener of every raw TLS socket (`this` is the socket): one function per server, not a closure per connection. */
  readonly #rawSocketClosed: (this: net.Socket) => void
  /** With `proxyProtocol`: its options; null without. */
  readonly #proxy: Required<ProxyProtocolOptions> | null
  /** With `proxyProtocol` and `tls`: Node's accept listener, which starts the handshake; called once the header is read. */
  #startTls: ((socket: net.Socket) => void)[] = []
  /** Set once listening. */
  #address: Address | null = null
  /** The close in progress or done; `null` while serving. */
  #closing: Promise<void> | null = null
  /** What `close()` does with idle streams; also applied to TLS connections whose handshake ends while closing. */
  #idle: IdlePolicy = 'end'
  /** Removes the listener on `serve`'s `signal`: called when the close starts. */
  #disposeSignal: (() => void) | null = null
  /** What `#whenEmpty()` handed out; resolved and cleared when no connection is left. */
  #empty: { promise: Promise<void>; resolve: () => void } | null = null
  /** What `stats` reports. */
  readonly #counters = new ServerCounters()
  /** The TLS settings in force and `setTls()`; null without TLS. */
  readonly #tls: TlsReloader | null

  private constructor(
    factory: Factory<unknown>,
    seed: unknown,
    streamOptions: StreamSettings,
    tlsOptions: tls.TlsOptions | null,
    proxy: Required<ProxyProtocolOptions> | null,
  ) {
    this.#proxy = proxy
    this.#factory = factory
    this.#seed = seed
    this.#streamOptions = streamOptions
    const server = this
    this.#rawSocketClosed = function (this: net.Socket): void {
      server.#forget(this)
    }
    streamOptions.serverHook = (stream) => this.#release(stream)
    if (tlsOptions === null) {
      this.#tls = null
      this.#server = net.createServer({ allowHalfOpen: true }, (socket) => this.#onSocket(socket, false))
    } else {
      this.#tls = new TlsReloader(tlsOptions)
      this.#server = tls.createServer(this.#tls.serverOptions(), (socket) => this.#attach(socket))
      // The PROXY header comes before the ClientHello: hold the handshake until it is read.
      if (proxy !== null) this.#startTls = takeListeners(this.#server, 'connection')
      this.#server.on('connection', (socket: net.Socket) => this.#onSocket(socket, true))
      // A failed or timed-out handshake (handshakeTimeout) does not close the socket by itself
      // in Node 20: without this, clients that never finish the handshake pin sockets forever.
      // Reported like a failed accept, so that a plain-text client or a refused certificate is visible.
      this.#server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
        socket.destroy()
        this.#counters.tlsHandshakeFailures++
        if (channels.serverError.hasSubscribers) channels.serverError.publish({ server: this, error })
      })
    }
  }

  /**
   * Counters since the server started: connections accepted, open now, refused over
   * `maxConnections`, failed TLS handshakes, and the bytes of its streams, closed and live
   * (see {@link ServerStats}). A new snapshot on every read, which visits every live stream:
   * read it when scraped, not per request.
   */
  get stats(): ServerStats {
    return this.#counters.snapshot(this.connections, this.#connections.values())
  }

  /**
   * Replaces the TLS key, certificate, CAs and per-host certificates (`hosts`) without a
   * restart, e.g. after a certificate renewal: connections accepted from now on get the new
   * ones; connections already up keep theirs. `options` are checked like `serve`'s `tls`: an
   * invalid one throws `InvalidArgumentError` (`RS_ERR_INVALID_ARG`) and the certificates in
   * force stay. `requestCert`, `rejectUnauthorized`, `handshakeTimeout` and `alpnProtocols`
   * are fixed when the server is made: give the same values (or leave them out for the
   * defaults, as at first); a different one throws. Throws on a server without TLS.
   * Sessions resumed after the reload were established under the old certificate (see
   * `TlsClientOptions.reuseSession`); tickets issued before it stop resuming.
   */
  setTls(options: TlsServerOptions): void {
    if (this.#tls === null) throw new InvalidArgumentError('Server.setTls: the server was made without tls; TLS cannot be added to a running plain server')
    const next = tlsServerOptions('Server.setTls', 'options', options)
    this.#tls.replace('Server.setTls', next, this.#server as tls.Server)
  }

  /** @internal Used by {@link serve}. */
  static create(
    factory: Factory<unknown>,
    seed: unknown,
    streamOptions: StreamSettings,
    tlsOptions: tls.TlsOptions | null,
    proxy: Required<ProxyProtocolOptions> | null = null,
  ): Server {
    return new Server(factory, seed, streamOptions, tlsOptions, proxy)
  }

  /** Connections open now: accepted and not yet closed (including TLS handshakes in progress). */
  get connections(): number {
    return this.#connections.size
  }

  /**
   * Where the server listens: `{ host, port }` with the real port (also when 0 was asked), or
   * `{ path }`. It can be given as is to `connect()` or `Persistent`.
   */
  get address(): Address {
    if (this.#address === null) throw new InvalidArgumentError('the server is not listening')
    return this.#address
  }

  /** Whether {@link close} was called. */
  get isClosing(): boolean {
    return this.#closing !== null
  }

  /**
   * Stops accepting at once and ends idle streams at once (see {@link CloseOptions.idle}); busy
   * streams learn that the server closes (`scope.closing`, `Protocol.shutdown`,
   * `Connection.closing`) and go on until they end or become idle, or `timeout` ms pass; then
   * the rest are closed. Resolves when every socket is closed and the Unix socket file (if
   * any) is removed. Calling it again returns the same promise (its options are not read again).
   *
   * With `idle: 'wait'` (the behaviour before), the trap is back: a protocol idling on a
   * kept-alive connection does not end by itself and holds the close for the whole `timeout`.
   */
  close(options?: CloseOptions): Promise<void> {
    const o = checkOptions<CloseOptions>('Server.close', 'options', options)
    const timeout = o.timeout === undefined ? DEFAULT_CLOSE_TIMEOUT : checkMs('Server.close', 'options.timeout', o.timeout)
    const idle = checkIdlePolicy('Server.close', 'options.idle', o.idle)
    this.#closing ??= this.#shutdown(timeout, idle)
    return this.#closing
  }

  /** @internal Used by {@link serve}: listens, handling a stale Unix socket file. */
  async listen(address: ListenAddress, maxConnections: number, listen: ListenSettings, signal?: AbortSignal): Promise<Server> {
    this.#server.maxConnections = maxConnections
    await this.#listen(address, listen)
    if (signal !== undefined) {
      // Aborted while listening was under way (it takes a turn of the event loop): close again.
      if (signal.aborted) {
        await this.close()
        throw abortError(signal)
      }
      this.#disposeSignal = onAbort(signal, () => void this.close())
    }
    return this
  }

  async #listen(address: ListenAddress, listen: ListenSettings): Promise<void> {
    try {
      await this.#listenOnce(address, listen)
    } catch (err) {
      if (!('path' in address) || errorCode(err) !== 'EADDRINUSE') throw listenError(address, err)
      const found = await removeStaleSocket(address.path, err)
      // In a cluster the live server may be our own primary, listening for a sibling worker:
      // listening again joins it. Elsewhere a live server is someone else's.
      if (found === 'live' && !cluster.isWorker) {
        throw new ListenError(address.path, `cannot listen on ${address.path}: another server is listening there (EADDRINUSE)`, { cause: err })
      }
      try {
        await this.#listenOnce(address, listen)
      } catch (again) {
        throw listenError(address, again)
      }
    }
    // A connection over maxConnections, closed by Node as soon as accepted (Node >= 18.6).
    this.#server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      this.#counters.refused++
      if (channels.serverRefused.hasSubscribers) {
        channels.serverRefused.publish({ server: this, remoteAddress: data?.remoteAddress, remotePort: data?.remotePort })
      }
    })
    // After listening, 'error' means a failed accept: report it, never crash the process.
    this.#server.on('error', (error) => {
      if (channels.serverError.hasSubscribers) channels.serverError.publish({ server: this, error })
    })
    if (listen.mode >= 0 && 'path' in address) await chmodSocket(this.#server, address.path, listen.mode)
    const bound = this.#server.address()
    this.#address =
      typeof bound === 'string' || bound === null ? { path: 'path' in address ? address.path : String(bound) } : { host: bound.address, port: bound.port }
  }

  #listenOnce(address: ListenAddress, { backlog, listen }: ListenSettings): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = this.#server
      const onError = (err: Error): void => {
        server.removeListener('listening', onListening)
        reject(err)
      }
      const onListening = (): void => {
        server.removeListener('error', onError)
        resolve()
      }
      server.once('error', onError)
      server.once('listening', onListening)
      if ('path' in address) server.listen({ path: address.path, backlog, ...listen })
      else server.listen({ port: address.port, backlog, ...listen, ...(address.host !== undefined && { host: address.host }) })
    })
  }

  /** A raw TCP or Unix socket was accepted (for TLS, before the handshake). */
  #onSocket(socket: net.Socket, isTls: boolean): void {
    if (this.#closing !== null) {
      socket.destroy() // accepted while the listener was closing
      return
    }
    this.#counters.accepted++
    if (this.#proxy !== null) {
      this.#acceptProxied(socket, isTls)
      return
    }
    if (!isTls) {
      this.#attach(socket)
      return
    }
    this.#connections.set(socket, null)
    socket.on('close', this.#rawSocketClosed)
    // The TLSSocket reports errors; this keeps a raw-socket error from being unhandled.
    socket.on('error', ignore)
  }

  /** With `proxyProtocol`: reads the header, then starts TLS or the stream on the rest. */
  #acceptProxied(socket: net.Socket, isTls: boolean): void {
    this.#connections.set(socket, null) // closed by close() like a TLS handshake
    socket.on('close', this.#rawSocketClosed)
    socket.on('error', ignore) // reported by readProxyHeader, then by the stream or the TLS socket
    readProxyHeader(socket, this.#proxy as Required<ProxyProtocolOptions>, (error) => {
      if (error !== null) {
        if (channels.serverError.hasSubscribers) channels.serverError.publish({ server: this, error })
      } else if (this.#closing !== null) {
        socket.destroy()
      } else if (isTls) {
        for (const startTls of this.#startTls) startTls.call(this.#server, socket)
      } else {
        this.#attach(socket)
      }
    })
  }

  /** `socket` has closed: the connection is gone. */
  #forget(socket: net.Socket): void {
    this.#counters.closed(this.#connections.get(socket))
    if (this.#connections.delete(socket)) this.#checkEmpty()
  }

  /**
   * A stream closed or was detached (`Intent.detach`): for TLS its raw socket is the key (and
   * says no more). A detached socket is still open: Node's listener would count it until it
   * closes and `close()` would wait for it, so it is taken off that count too.
   */
  #release(stream: Stream): void {
    const socket = stream.accepted
    const raw = (socket as net.Socket & { _parent?: unknown })._parent
    const key = raw instanceof net.Socket && this.#connections.has(raw) ? raw : socket
    if (key !== socket) key.off('close', this.#rawSocketClosed)
    if (!stream.socket.destroyed) uncount(key)
    this.#forget(key)
  }

  #checkEmpty(): void {
    if (this.#empty !== null && this.connections === 0) {
      this.#empty.resolve()
      this.#empty = null
    }
  }

  #attach(socket: net.Socket): void {
    let stream: Stream
    try {
      stream = Stream.attach(socket, this.#factory, this.#seed, this.#streamOptions)
    } catch {
      socket.destroy() // options were validated in serve(); nothing else throws here
      return
    }
    // A TLS socket wraps the raw socket that was accepted (Node keeps it as `_parent`); a runtime
    // without a raw 'connection' event, or without `_parent`, has the stream's own socket as key.
    const raw = (socket as net.Socket & { _parent?: unknown })._parent
    const fromRaw = raw instanceof net.Socket && this.#connections.has(raw)
    if (!fromRaw && this.#tls !== null) this.#counters.accepted++ // no raw 'connection' event counted it
    this.#connections.set(fromRaw ? raw : socket, stream)
    if (channels.serverAccept.hasSubscribers) channels.serverAccept.publish({ server: this, stream })
    if (this.#closing !== null) stream.shutdown(this.#idle) // a TLS handshake that ended while closing
  }

  async #shutdown(timeout: number, idle: IdlePolicy): Promise<void> {
    this.#disposeSignal?.()
    this.#disposeSignal = null
    const listenerClosed = new Promise<void>((resolve) => {
      // The callback runs once the listener is closed and Node counts no connection (or at
      // once with ERR_SERVER_NOT_RUNNING if it was not listening): either way, done.
      this.#server.close(() => resolve())
    })
    this.#idle = idle
    // A copy: a stream told may end at once (its socket closes later, but stay safe).
    for (const stream of [...this.#connections.values()]) stream?.shutdown(idle)
    if (this.connections > 0 && timeout > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([this.#whenEmpty(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))])
      clearTimeout(timer)
    }
    if (this.connections > 0) {
      for (const [socket, stream] of this.#connections) {
        if (stream === null)
          socket.destroy() // a TLS handshake
        else stream.close(new ClosedError('server closed'))
      }
      await this.#whenEmpty()
    }
    await listenerClosed
  }

  #whenEmpty(): Promise<void> {
    if (this.connections === 0) return Promise.resolve()
    this.#empty ??= withResolvers<void>()
    return this.#empty.promise
  }
}

/** serve()'s own arguments, before anything is read from them. */
function checkServeArguments(options: unknown, handler: unknown): void {
  checkObject('serve', 'options', options, 'an object with { host?, port } or { path }, and server options')
  checkFunction('serve', 'factory', handler, 'a function (transport, seed, scope) => Intent, or an async (conn) => {} handler')
}

function listenAddress(options: ServeOptions): ListenAddress {
  const { host, port, path } = options as { host?: unknown; port?: unknown; path?: unknown }
  if (path !== undefined) {
    // Which one would be listened on is not obvious to the reader of the call: refuse to guess.
    if (host !== undefined || port !== undefined) {
      throw new InvalidArgumentError(
        `serve: options must have either { host, port } or { path }, not both, got path ${describeValue(path)} with ${port !== undefined ? `port ${describeValue(port)}` : `host ${describeValue(host)}`}`,
      )
    }
    return { path: checkUnixPath('serve', 'options.path', path) }
  }
  if (!(Number.isSafeInteger(port) && (port as number) >= 0 && (port as number) <= 65535)) {
    throw invalid('serve', 'options.port', 'an integer within 0..65535 (or give options.path, a Unix socket)', port)
  }
  return host === undefined ? { port: port as number } : { host: checkString('serve', 'options.host', host), port: port as number }
}

/**
 * `path` is in use. Removes it if it is a socket file nobody answers on (left by a crashed
 * process) and returns `'stale'`; returns `'live'` if a server answers there; throws a
 * ListenError if the file is not a socket.
 */
async function removeStaleSocket(path: string, inUse: unknown): Promise<'stale' | 'live'> {
  const stat = await lstat(path).catch(() => null)
  if (stat === null) return 'stale' // removed meanwhile: just listen again
  if (!stat.isSocket()) throw new ListenError(path, `cannot listen on ${path}: the file exists and is not a socket (not removing it)`, { cause: inUse })
  if (await isLive(path)) return 'live'
  await unlink(path).catch((err: unknown) => {
    if (errorCode(err) !== 'ENOENT') throw listenError({ path }, err)
  })
  return 'stale'
}

/** Connects to a Unix socket: true if something accepts (or is too busy to refuse), false if refused. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path })
    const done = (live: boolean): void => {
      clearTimeout(timer)
      probe.destroy()
      resolve(live)
    }
    const timer = setTimeout(() => done(true), STALE_PROBE_TIMEOUT)
    probe.once('connect', () => done(true))
    probe.once('error', (err) => {
      const code = errorCode(err)
      done(code !== 'ECONNREFUSED' && code !== 'ENOENT')
    })
  })
}

/** Wraps Node's listen error with a message that says what to do about it. */
function listenError(address: ListenAddress, err: unknown): ListenError {
  const where = 'path' in address ? address.path : `${address.host ?? '*'}:${address.port}`
  const code = errorCode(err)
  // Node reports a Unix path in a missing directory as EACCES; say what is really wrong.
  const missingDir = 'path' in address && (code === 'EACCES' || code === 'ENOENT') && !existsSync(dirname(address.path))
  const why = missingDir
    ? `the directory ${dirname(address.path)} does not exist`
    : code === 'EADDRINUSE'
      ? 'the address is already in use (another server listens there)'
      : code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges; a Unix path needs write access to its directory)'
        : code === 'EADDRNOTAVAIL'
          ? 'the address is not available on this host'
          : err instanceof Error
            ? err.message
            : String(err)
  return new ListenError(where, `cannot listen on ${where}: ${why}${code === undefined ? '' : ` (${code})`}`, { cause: err })
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined
  return typeof err.code === 'string' ? err.code : undefined
}

function ignore(): void {}

/** Sets the Unix socket file's mode after listening; a failure closes the server and is a ListenError. */
async function chmodSocket(server: net.Server, path: string, mode: number): Promise<void> {
  try {
    await chmod(path, mode)
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    throw new ListenError(path, `cannot set the mode of ${path} to ${mode.toString(8)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

/** Removes and returns the listeners of `event` on `emitter`. */
function takeListeners(emitter: net.Server, event: string): ((socket: net.Socket) => void)[] {
  const listeners = emitter.listeners(event) as ((socket: net.Socket) => void)[]
  emitter.removeAllListeners(event)
  return listeners
}

/** True for functions declared `async` (their results are promises of nothing to run). */
function isAsyncFunction(fn: unknown): boolean {
  return Object.prototype.toString.call(fn) === '[object AsyncFunction]'
}

/**
 * Takes a handed-off socket off the count of the Node server that accepted it (`_server`,
 * `_connections`: Node's own fields, feature-checked; a runtime without them keeps counting it,
 * and its listener's close then waits for the socket).
 */
function uncount(socket: net.Socket): void {
  const s = socket as net.Socket & { _server?: { _connections?: unknown; _emitCloseIfDrained?: unknown } | null }
  const server = s._server
  if (server === null || server === undefined || typeof server._connections !== 'number') return
  s._server = null
  server._connections--
  if (typeof server._emitCloseIfDrained === 'function') server._emitCloseIfDrained()
}
