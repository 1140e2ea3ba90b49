import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { types } from 'node:util'
import { DeadlineTimer } from './deadline.js'
import { channels } from './diagnostics.js'
import { Engine, Limits, type StreamLimits } from './engine.js'
import { ClosedError, type HandlerError } from './errors.js'
import type { Factory } from './protocol.js'
import { checkBoolean, checkFunction, checkMs, invalid } from './validate.js'

/** Options of a {@link Stream}. */
export interface StreamOptions extends StreamLimits {
  /**
   * After `Intent.done()` the output is flushed, the socket is half-closed, and the stream
   * keeps reading (and discarding) until the peer closes too, for at most this many ms after
   * the flush, then closes. Closing with unread input would make the kernel send RST, which
   * can destroy the peer's copy of our last answer (the HTTP "lingering close"). The flush
   * itself may take up to `FLUSH_ON_DONE_TIMEOUT` (30 s) for a peer that reads slowly.
   * A whole number of ms within 0..2^31-1.
   * @default 2000
   */
  lingerTimeout?: number
  /** Disable Nagle's algorithm, as request-reply traffic wants: `true` or `false`. @default true */
  noDelay?: boolean
  /**
   * Called when a protocol handler throws (a bug in the protocol, `HandlerError`, also for an
   * async handler given to `handleAsync`): only that connection ends, and this makes it visible.
   * `null` silences it. The stream is passed for its addresses.
   * @default prints one line to stderr: the code, the handler, the peer, then the stack
   */
  onError?: ((error: HandlerError, stream: Stream) => void) | null
}

/** The default `onError`: one entry per error on stderr, never silent. */
export function printHandlerError(error: HandlerError, stream: Stream): void {
  const cause = error.cause instanceof Error ? error.cause : error
  const peer = stream.remoteAddress === undefined ? '' : ` (peer ${stream.remoteAddress}${stream.remotePort === undefined ? '' : `:${stream.remotePort}`})`
  console.error(`rotor-stream: ${error.code} in ${error.handler}${peer}: ${cause.stack ?? String(cause)}`)
}

const STREAM_DEFAULTS = { lingerTimeout: 2000, noDelay: true, onError: printHandlerError } as const
/** After `Intent.done()`, a peer gets this long (ms) to read our last output before the socket is destroyed. */
export const FLUSH_ON_DONE_TIMEOUT = 30_000

/**
 * {@link StreamOptions} validated, with every default filled in: made once where options are
 * passed (connect, serve, Persistent), so that a bad one fails at once instead of on every new
 * connection, and shared by every stream made there. Only the stream's own options are kept: a
 * server's or client's other options stay out of every stream.
 * @internal
 */
export class StreamSettings extends Limits {
  readonly lingerTimeout: number
  readonly noDelay: boolean
  readonly onError: ((error: HandlerError, stream: Stream) => void) | null

  /** Throws `InvalidArgumentError`, naming `where` (the function `options` were given to). */
  constructor(options: StreamOptions | undefined, where: string) {
    super(options, where) // checks that options is an object, or undefined
    const { lingerTimeout = STREAM_DEFAULTS.lingerTimeout, noDelay = STREAM_DEFAULTS.noDelay, onError = STREAM_DEFAULTS.onError } = options ?? {}
    this.lingerTimeout = checkMs(where, 'options.lingerTimeout', lingerTimeout)
    this.noDelay = checkBoolean(where, 'options.noDelay', noDelay)
    if (onError !== null && typeof onError !== 'function') throw invalid(where, 'options.onError', 'a function or null', onError)
    this.onError = onError
  }

  static of(options: StreamOptions | undefined, where: string): StreamSettings {
    return options instanceof StreamSettings ? options : new StreamSettings(options, where)
  }
}

/**
 * Whether `value` has what a stream drives. Not `instanceof net.Socket`: a runtime's own socket
 * class (Bun, Deno) need not be Node's.
 */
function isSocket(value: unknown): value is Socket {
  if (typeof value !== 'object' || value === null) return false
  const socket = value as Partial<Record<'write' | 'pause' | 'resume' | 'destroy' | 'on' | 'end', unknown>>
  return (
    typeof socket.write === 'function' &&
    typeof socket.pause === 'function' &&
    typeof socket.resume === 'function' &&
    typeof socket.destroy === 'function' &&
    typeof socket.on === 'function' &&
    typeof socket.end === 'function'
  )
}

/** The clock of `Scope.now()` and of deadlines: monotonic milliseconds. */
const monotonicNow = (): number => performance.now()

/** The marker write of `ioWrite`. */
const NO_BYTES = Buffer.alloc(0)

/** The Stream running on a socket, kept on the socket so that one set of listener functions serves every stream. */
const kStream = Symbol('rotor-stream.stream')
type OwnedSocket = Socket & { [kStream]: Stream }

/**
 * A protocol running on one socket: one input Buf, one output Buf, one deadline.
 *
 * ```ts
 * const stream = Stream.attach(socket, (t, seed, scope) => Intent.of(new Echo()).expectDelimiter('\n', { max: 1024 }))
 * const reason = await stream.closed // undefined after Intent.done()
 * ```
 */
export class Stream extends Engine {
  /** The socket (a `net.Socket` or `tls.TLSSocket`). */
  readonly socket: Socket
  /** `closed`, made when first asked for: a server does not need a promise per connection. */
  #closed: Promise<Error | undefined> | null = null
  #resolveClosed: ((reason: Error | undefined) => void) | null = null
  /** The socket has closed (`closed` resolves at once). */
  #socketClosed = false
  /**
   * Called once the socket has closed, before `closed` resolves: how a server keeps count of its
   * streams with one function for all of them.
   * @internal
   */
  closeHook: ((stream: Stream) => void) | null = null
  /** Whether the socket is flowing (we asked for data). */
  #reading = false
  /** Set by a failed write so that the 'error' event which follows is not taken for a read error. */
  #writeFailed = false
  readonly #timer: DeadlineTimer<Stream>
  #lingerTimer: NodeJS.Timeout | null = null
  readonly #settings: StreamSettings
  /** A TLS socket: every write carries the callback (see `ioWrite`). */
  readonly #isTls: boolean

  /**
   * Runs a protocol on a connected socket. `factory(transport, seed, scope)` creates the first
   * state synchronously. The socket is switched to half-open mode (a FIN from the peer is
   * `exception(EndOfStream)`, and the protocol may still answer).
   */
  static attach<S>(socket: Socket, factory: Factory<S>, seed?: S, options?: StreamOptions): Stream {
    if (!isSocket(socket)) throw invalid('Stream.attach', 'socket', 'a net.Socket or tls.TLSSocket', socket)
    checkFunction('Stream.attach', 'factory', factory, 'a function (transport, seed, scope) => Intent')
    const stream = new Stream(socket, StreamSettings.of(options, 'Stream.attach'))
    if (channels.streamOpen.hasSubscribers) channels.streamOpen.publish({ stream })
    stream.start(factory, seed as S)
    return stream
  }

  private constructor(socket: Socket, settings: StreamSettings) {
    super(settings)
    this.socket = socket
    this.#settings = settings
    this.#isTls = (socket as Socket & { encrypted?: boolean }).encrypted === true
    this.#timer = new DeadlineTimer<Stream>(Stream.#timerFired, this)
    socket.allowHalfOpen = true
    if (settings.noDelay) socket.setNoDelay(true)
    // Paused before the 'data' listener goes on, so that only the protocol's expectation starts reading.
    socket.pause()
    // Shared listeners that find the stream on the socket: no closures per connection.
    ;(socket as OwnedSocket)[kStream] = this
    socket.on('data', Stream.#socketData)
    socket.on('end', Stream.#socketEnd)
    socket.on('error', Stream.#socketError)
    socket.on('close', Stream.#socketClose)
  }

  // Function expressions, not methods: `this` is the socket that emitted the event.
  static readonly #socketData = function (this: OwnedSocket, chunk: Buffer): void {
    this[kStream].onData(chunk)
  }
  static readonly #socketEnd = function (this: OwnedSocket): void {
    this[kStream].onEnd()
  }
  static readonly #socketError = function (this: OwnedSocket, err: Error): void {
    this[kStream].#onError(err)
  }
  static readonly #socketClose = function (this: OwnedSocket): void {
    this[kStream].#onClose()
  }
  static #timerFired(stream: Stream): void {
    stream.onTimer()
  }

  /**
   * Resolves once the socket is fully closed: with `undefined` when the protocol ended with
   * `Intent.done()` and its last output was written, otherwise with the reason (also given to
   * `fatal`, or a `WriteError` when writing the last output after `Intent.done()` failed).
   * Never rejects.
   */
  get closed(): Promise<Error | undefined> {
    if (this.#closed === null) {
      if (this.#socketClosed) {
        this.#closed = Promise.resolve(this.endReason)
      } else {
        this.#closed = new Promise((resolve) => {
          this.#resolveClosed = resolve
        })
      }
    }
    return this.#closed
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort
  }
  get localAddress(): string | undefined {
    return this.socket.localAddress
  }
  get localPort(): number | undefined {
    return this.socket.localPort
  }

  protected clock(): number {
    return monotonicNow()
  }

  /** Runs `wakeup` on the protocol soon (same as calling `notifier()`'s function). */
  wakeup(): void {
    this.notifier()()
  }

  /** Ends the stream from outside at once: the socket is destroyed, `fatal` gets `reason` (an Error). */
  close(reason: Error = new ClosedError()): void {
    if (!(reason instanceof Error || types.isNativeError(reason))) throw invalid('Stream.close', 'reason', 'an Error (or undefined for a ClosedError)', reason)
    this.abort(reason)
  }

  // --- I/O hooks --------------------------------------------------------------------------------

  /** The write callback, made when first needed: an idle connection never needs it. */
  #afterWrite: ((err?: Error | null) => void) | null = null

  #writeCallback(): (err?: Error | null) => void {
    this.#afterWrite ??= (err?: Error | null): void => {
      if (err) {
        this.#writeFailed = true
        this.onWriteError(err)
      } else {
        this.onWritten()
      }
    }
    return this.#afterWrite
  }

  protected ioWrite(data: Buffer): number {
    const socket = this.socket
    if (this.#isTls) {
      socket.write(data, this.#writeCallback())
      return socket.writableLength
    }
    // Without a callback, a write the kernel takes at once costs Node no nextTick: the usual
    // case for request-reply traffic. Only output left pending needs a word when it is written,
    // which a marker write gives: its callback runs once every write before it is done. (Not
    // on TLS, where an empty write is refused by some runtimes, Deno's for one.)
    socket.write(data)
    const unwritten = socket.writableLength
    if (unwritten > 0 && !socket.destroyed) socket.write(NO_BYTES, this.#writeCallback())
    return unwritten
  }

  protected ioUnwritten(): number {
    return this.socket.writableLength
  }

  protected ioSetReading(on: boolean): void {
    if (on === this.#reading) return
    this.#reading = on
    if (on) this.socket.resume()
    else this.socket.pause()
  }

  protected ioArmTimer(deadline: number): void {
    this.#timer.arm(deadline, monotonicNow)
  }

  /** The wakeup callbacks, made on the first notifier call: most connections never need one. */
  #wakeupTask: (() => void) | null = null
  #deferredWakeupTask: (() => void) | null = null

  protected ioScheduleWakeup(later: boolean): void {
    if (later) {
      this.#deferredWakeupTask ??= () => this.onDeferredWakeup()
      setImmediate(this.#deferredWakeupTask)
    } else {
      this.#wakeupTask ??= () => this.onWakeup()
      queueMicrotask(this.#wakeupTask)
    }
  }

  protected ioHalfClose(): void {
    this.socket.end()
  }

  protected ioReportError(error: HandlerError): void {
    const report = this.#settings.onError
    if (report === null) return
    try {
      report(error, this)
    } catch {
      // a failing error reporter must not take the connection's cleanup down with it
    }
  }

  protected ioFinish(_reason: Error | undefined): void {
    const socket = this.socket
    if (socket.destroyed) return
    // Lingering close: drain (and drop) what the peer still sends until it closes too, so that
    // our FIN is not turned into an RST by unread input.
    this.#reading = true
    socket.resume()
    const destroy = (): void => {
      socket.destroy()
    }
    socket.end(() => {
      // Flushed: now the peer has lingerTimeout to close its side.
      if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer)
      if (socket.destroyed || socket.readableEnded) return
      this.#lingerTimer = setTimeout(destroy, this.#settings.lingerTimeout)
      this.#lingerTimer.unref()
    })
    if (socket.destroyed || socket.writableFinished) return
    this.#lingerTimer = setTimeout(destroy, FLUSH_ON_DONE_TIMEOUT)
    this.#lingerTimer.unref()
  }

  protected ioDestroy(_reason: Error): void {
    this.socket.destroy()
  }

  #onError(err: Error): void {
    if (this.#writeFailed) return
    // A write that failed at once reaches us only here (it had no callback): Node names the syscall.
    if ((err as NodeJS.ErrnoException).syscall === 'write') {
      this.#writeFailed = true
      this.onWriteError(err)
      return
    }
    if (!this.isEnded) this.onReadError(err)
    // After Intent.done(), an error (a reset) while the last output is unwritten means it is lost;
    // Node then calls the pending write callbacks without an error, so this is the only sign.
    else if (this.socket.writableLength > 0) this.onWriteError(err)
  }

  #onClose(): void {
    if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer)
    this.#lingerTimer = null
    this.#timer.cancel()
    this.abort(new ClosedError('socket closed before the protocol finished'))
    this.#socketClosed = true
    if (channels.streamClose.hasSubscribers) channels.streamClose.publish({ stream: this, reason: this.endReason })
    this.closeHook?.(this)
    this.#resolveClosed?.(this.endReason)
  }
}
