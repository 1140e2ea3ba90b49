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
import { lstat, unlink } from 'node:fs/promises'
import net from 'node:net'
import { dirname } from 'node:path'
import tls from 'node:tls'
import type { Address } from './address.js'
import { MemoryBudget } from './budget.js'
import { withResolvers } from './deferred.js'
import { channels } from './diagnostics.js'
import { ClosedError, InvalidArgumentError, ListenError } from './errors.js'
import { type StreamOptions, StreamSettings } from './limits.js'
import type { Factory, SeedArgument } from './protocol.js'
import { readProxyHeader } from './proxy-accept.js'
import { type ProxyProtocolOptions, proxyProtocolOptions } from './proxy-protocol.js'
import { Stream } from './stream.js'
import { type TlsServerOptions, tlsServerOptions } from './tls.js'
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
export interface ServerOptions extends StreamOptions {
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
   * Every connection begins with a PROXY protocol header (v1 text or v2 binary, as HAProxy's
   * `send-proxy`/`send-proxy-v2` and cloud load balancers send it): the protocol then sees the
   * client's addresses in `remoteAddress`/`remotePort` (and the proxy's in `localAddress`/
   * `localPort`), and the header itself, TLVs included, as `t.proxy`. A connection without a
   * valid header is closed, with a `ProxyProtocolError` on the `rotor-stream:server:error`
   * channel; there is no "optional" mode (see {@link ProxyProtocolOptions}). With `tls`, the
   * header is read from the raw socket BEFORE the handshake, which is where proxies send it (a
   * TLS passthrough proxy sends it ahead of the client's ClientHello); libraries that looked
   * for it after the handshake never saw it, or failed the handshake on it.
   * @default false
   */
  proxyProtocol?: boolean | ProxyProtocolOptions
  /** Length of the kernel's queue of connections not yet accepted, an integer within 1..2^31-1. @default {@link DEFAULT_BACKLOG} (511) */
  backlog?: number
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
  // Node hands the backlog to listen(2) as a C int.
  const backlog = options.backlog === undefined ? DEFAULT_BACKLOG : checkInteger('serve', 'options.backlog', options.backlog, { min: 1, max: 2 ** 31 - 1 })
  const tlsOptions = options.tls === undefined ? null : tlsServerOptions('serve', 'options.tls', options.tls)
  // The type only: MemoryBudget checks the range.
  if (options.maxBufferedBytes !== undefined && typeof options.maxBufferedBytes !== 'number') {
    throw invalid('serve', 'options.maxBufferedBytes', 'a positive integer (bytes)', options.maxBufferedBytes)
  }
  const budget = options.maxBufferedBytes === undefined ? options.budget : new MemoryBudget(options.maxBufferedBytes)
  const streamOptions = new StreamSettings({ ...options, budget }, 'serve')
  const proxy = proxyProtocolOptions('serve', options.proxyProtocol)
  const server = Server.create(factory as Factory<unknown>, seed, streamOptions, tlsOptions, proxy)
  return server.listen(address, maxConnections, backlog)
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
  /** What `#whenEmpty()` handed out; resolved and cleared when no connection is left. */
  #empty: { promise: Promise<void>; resolve: () => void } | null = null

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
    streamOptions.serverHook = (stream) => this.#forget(stream.socket)
    if (tlsOptions === null) {
      this.#server = net.createServer({ allowHalfOpen: true }, (socket) => this.#onSocket(socket, false))
    } else {
      this.#server = tls.createServer(tlsOptions, (socket) => this.#attach(socket))
      // The PROXY header comes before the ClientHello: hold the handshake until it is read.
      if (proxy !== null) this.#startTls = takeListeners(this.#server, 'connection')
      this.#server.on('connection', (socket: net.Socket) => this.#onSocket(socket, true))
      // A failed or timed-out handshake (handshakeTimeout) does not close the socket by itself
      // in Node 20: without this, clients that never finish the handshake pin sockets forever.
      // Reported like a failed accept, so that a plain-text client or a refused certificate is visible.
      this.#server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
        socket.destroy()
        if (channels.serverError.hasSubscribers) channels.serverError.publish({ server: this, error })
      })
    }
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
   * Stops accepting at once, lets live streams go on until they end by themselves or
   * `timeout` ms pass, then closes the rest. Resolves when every socket is closed and the
   * Unix socket file (if any) is removed. Calling it again returns the same promise.
   *
   * The trap: a protocol idling on a kept-alive connection does not end by itself; it holds
   * the close for the whole `timeout`.
   */
  close(options?: CloseOptions): Promise<void> {
    const o = checkOptions<CloseOptions>('Server.close', 'options', options)
    const timeout = o.timeout === undefined ? DEFAULT_CLOSE_TIMEOUT : checkMs('Server.close', 'options.timeout', o.timeout)
    this.#closing ??= this.#shutdown(timeout)
    return this.#closing
  }

  /** @internal Used by {@link serve}: listens, handling a stale Unix socket file. */
  async listen(address: ListenAddress, maxConnections: number, backlog: number): Promise<Server> {
    this.#server.maxConnections = maxConnections
    try {
      await this.#listenOnce(address, backlog)
    } catch (err) {
      if (!('path' in address) || errorCode(err) !== 'EADDRINUSE') throw listenError(address, err)
      const found = await removeStaleSocket(address.path, err)
      // In a cluster the live server may be our own primary, listening for a sibling worker:
      // listening again joins it. Elsewhere a live server is someone else's.
      if (found === 'live' && !cluster.isWorker) {
        throw new ListenError(address.path, `cannot listen on ${address.path}: another server is listening there (EADDRINUSE)`, { cause: err })
      }
      try {
        await this.#listenOnce(address, backlog)
      } catch (again) {
        throw listenError(address, again)
      }
    }
    // After listening, 'error' means a failed accept: report it, never crash the process.
    this.#server.on('error', (error) => {
      if (channels.serverError.hasSubscribers) channels.serverError.publish({ server: this, error })
    })
    const bound = this.#server.address()
    this.#address =
      typeof bound === 'string' || bound === null ? { path: 'path' in address ? address.path : String(bound) } : { host: bound.address, port: bound.port }
    return this
  }

  #listenOnce(address: ListenAddress, backlog: number): Promise<void> {
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
      if ('path' in address) server.listen({ path: address.path, backlog })
      else server.listen({ port: address.port, backlog, ...(address.host !== undefined && { host: address.host }) })
    })
  }

  /** A raw TCP or Unix socket was accepted (for TLS, before the handshake). */
  #onSocket(socket: net.Socket, isTls: boolean): void {
    if (this.#closing !== null) {
      socket.destroy() // accepted while the listener was closing
      return
    }
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
    if (this.#connections.delete(socket)) this.#checkEmpty()
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
    this.#connections.set(raw instanceof net.Socket && this.#connections.has(raw) ? raw : socket, stream)
    if (channels.serverAccept.hasSubscribers) channels.serverAccept.publish({ server: this, stream })
  }

  async #shutdown(timeout: number): Promise<void> {
    const listenerClosed = new Promise<void>((resolve) => {
      // The callback runs once the listener is closed and Node counts no connection (or at
      // once with ERR_SERVER_NOT_RUNNING if it was not listening): either way, done.
      this.#server.close(() => resolve())
    })
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
