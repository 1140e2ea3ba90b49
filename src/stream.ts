/**
 * The socket glue: a `Stream` is the engine on a `net.Socket` (or `tls.TLSSocket`). `SocketIO`
 * carries out what the engine decides (write, pause/resume, arm the timer, half-close, close
 * with a lingering close) and reports the socket's events back to it.
 */
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { DeadlineTimer } from './deadline.js'
import { channels } from './diagnostics.js'
import { Engine } from './engine.js'
import { type HandlerError, TlsUpgradeError } from './errors.js'
import type { Endpoints, StreamIO } from './io.js'
import { FLUSH_ON_DONE_TIMEOUT, type StreamOptions, StreamSettings } from './limits.js'
import type { Factory } from './protocol.js'
import { endpointsOf } from './proxy-accept.js'
import { type TlsUpgrade, upgradeSocket } from './starttls.js'
import { checkFunction, invalid } from './validate.js'

/**
 * A protocol running on one socket: one input Buf, one output Buf, one deadline.
 *
 * ```ts
 * const stream = Stream.attach(socket, (t, seed, scope) => Intent.of(new Echo()).expectDelimiter('\n', { max: 1024 }))
 * const reason = await stream.closed // undefined after Intent.done()
 * ```
 */
export class Stream extends Engine {
  readonly #socketIO: SocketIO
  /** @internal The socket the stream was attached to (a server's key for it), whatever it became since. */
  readonly accepted: Socket

  /** The socket (a `net.Socket` or `tls.TLSSocket`); after `Intent.startTls`, the `tls.TLSSocket` over the first one. */
  get socket(): Socket {
    return this.#socketIO.socket
  }

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
    // The low-level entry: serve, connect and Persistent require a seed by their types where the
    // factory needs one (SeedArgument, SeedOption); here the caller vouches for it.
    stream.start(factory, seed as S)
    return stream
  }

  private constructor(socket: Socket, settings: StreamSettings) {
    const io = new SocketIO(socket, settings)
    super(io, settings)
    io.bind(this)
    this.#socketIO = io
    this.accepted = socket
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

/** The marker write of `write()`. */
const NO_BYTES = Buffer.alloc(0)

/** The I/O of a stream, kept on its socket so that one set of listener functions serves every stream. */
const kIO = Symbol('rotor-stream.io')
type OwnedSocket = Socket & { [kIO]: SocketIO }

// Bits of `SocketIO.#flags`, read with `#is(FLAG)` and written with `#set(FLAG, on)`.
/** A TLS socket: every write carries the callback (see `write`). */
const IS_TLS = 1 << 0
/** A TLS upgrade runs: from `startTls` until the handshake is done. */
const UPGRADING = 1 << 1
/** Whether the socket is flowing (we asked for data). */
const READING = 1 << 2
/** Set by a failed write so that the 'error' event which follows is not taken for a read error. */
const WRITE_FAILED = 1 << 3

/**
 * A socket as the engine's I/O. It is also the stream's timer (a `DeadlineTimer`), so that an
 * idle connection holds one object for both.
 */
class SocketIO extends DeadlineTimer implements StreamIO {
  readonly #settings: StreamSettings
  /** Yes/no states, one bit each (the constants above the class): one field instead of four. */
  #flags = 0
  /** Whether the bit `flag` of `#flags` is set. */
  #is(flag: number): boolean {
    return (this.#flags & flag) !== 0
  }
  #set(flag: number, on: boolean): void {
    this.#flags = on ? this.#flags | flag : this.#flags & ~flag
  }
  /** The stream this I/O serves: set by `bind()`, right after the stream is made, before any event. */
  #stream!: Stream
  /** The socket; replaced once by its TLS socket after `startTls`. */
  #socket: Socket
  #lingerTimer: NodeJS.Timeout | null = null
  /** The write callback, made when first needed: an idle connection never needs it. */
  #afterWrite: ((err?: Error | null) => void) | null = null
  /** The wakeup callbacks, made on the first notifier call: most connections never need one. */
  #wakeupTask: (() => void) | null = null
  #deferredWakeupTask: (() => void) | null = null

  constructor(socket: Socket, settings: StreamSettings) {
    super()
    this.#settings = settings
    this.#socket = socket
    this.#set(IS_TLS, (socket as Socket & { encrypted?: boolean }).encrypted === true)
    if (settings.noDelay) socket.setNoDelay(true)
    if (settings.keepAliveDelay >= 0) socket.setKeepAlive(true, settings.keepAliveDelay)
    this.#listen(socket)
  }

  #listen(socket: Socket): void {
    socket.allowHalfOpen = true
    // Paused before the 'data' listener goes on, so that only the protocol's expectation starts reading.
    socket.pause()
    // Shared listeners that find the I/O on the socket: no closures per connection.
    ;(socket as OwnedSocket)[kIO] = this
    socket.on('data', SocketIO.#socketData)
    socket.on('end', SocketIO.#socketEnd)
    socket.on('error', SocketIO.#socketError)
    socket.on('close', SocketIO.#socketClose)
  }

  /** Takes every listener of the library off `socket`: it is someone else's now (or its TLS socket's). */
  #unlisten(socket: Socket): void {
    socket.off('data', SocketIO.#socketData)
    socket.off('end', SocketIO.#socketEnd)
    socket.off('error', SocketIO.#socketError)
    socket.off('close', SocketIO.#socketClose)
    delete (socket as Partial<OwnedSocket>)[kIO]
  }

  bind(stream: Stream): void {
    this.#stream = stream
  }

  get socket(): Socket {
    return this.#socket
  }

  // Function expressions, not methods: `this` is the socket that emitted the event.
  static readonly #socketData = function (this: OwnedSocket, chunk: Buffer): void {
    this[kIO].#stream.onData(chunk)
  }
  static readonly #socketEnd = function (this: OwnedSocket): void {
    const io = this[kIO]
    // A FIN in the middle of the handshake: it will never finish (a half-open socket would wait for the deadline).
    if (io.#is(UPGRADING)) io.#stream.onTlsFailed(Object.assign(new Error('the peer closed the connection during the TLS handshake'), { code: 'ECONNRESET' }))
    else io.#stream.onEnd()
  }
  static readonly #socketError = function (this: OwnedSocket, err: Error): void {
    this[kIO].#onError(err)
  }
  static readonly #socketClose = function (this: OwnedSocket): void {
    this[kIO].#onClose()
  }

  /** The socket, or the PROXY header's addresses over it: looked up once, on first use. */
  #endpoints: Endpoints | null = null
  get endpoints(): Endpoints {
    this.#endpoints ??= endpointsOf(this.#socket)
    return this.#endpoints
  }

  clock(): number {
    return monotonicNow()
  }

  #writeCallback(): (err?: Error | null) => void {
    this.#afterWrite ??= (err?: Error | null): void => {
      if (err) {
        this.#set(WRITE_FAILED, true)
        this.#stream.onWriteError(err)
      } else {
        this.#stream.onWritten()
      }
    }
    return this.#afterWrite
  }

  write(data: Buffer): number {
    const socket = this.#socket
    if (this.#is(IS_TLS)) {
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

  unwritten(): number {
    return this.#socket.writableLength
  }

  setReading(on: boolean): void {
    if (on === this.#is(READING)) return
    this.#set(READING, on)
    if (on) this.#socket.resume()
    else this.#socket.pause()
  }

  armTimer(deadline: number): void {
    this.armDeadline(deadline)
  }

  protected deadlineReached(): void {
    this.#stream.onTimer()
  }

  scheduleWakeup(later: boolean): void {
    if (later) {
      this.#deferredWakeupTask ??= () => this.#stream.onDeferredWakeup()
      setImmediate(this.#deferredWakeupTask)
    } else {
      this.#wakeupTask ??= () => this.#stream.onWakeup()
      queueMicrotask(this.#wakeupTask)
    }
  }

  halfClose(): void {
    this.#socket.end()
  }

  reportError(error: HandlerError): void {
    const report = this.#settings.onError
    if (report === null) return
    try {
      report(error, this.#stream)
    } catch {
      // a failing error reporter must not take the connection's cleanup down with it
    }
  }

  finish(_reason: Error | undefined): void {
    const socket = this.#socket
    if (socket.destroyed) return
    // Lingering close: drain (and drop) what the peer still sends until it closes too, so that
    // our FIN is not turned into an RST by unread input.
    this.#set(READING, true)
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

  destroy(_reason: Error): void {
    this.#socket.destroy()
  }

  startTls(upgrade: TlsUpgrade, fed: Buffer | null): TlsUpgradeError | null {
    const raw = this.#socket
    if (this.#is(IS_TLS)) return new TlsUpgradeError('unsupported', 'the connection is encrypted already')
    // Received while the protocol was not reading, never handed to it: plaintext all the same.
    if (raw.readableLength > 0 && upgrade.unconsumed === 'refuse')
      return new TlsUpgradeError('unconsumed-input', `${raw.readableLength} plaintext bytes were received before the TLS upgrade and not consumed: refused`)
    this.#set(UPGRADING, true)
    // Nothing more is read in plaintext: what arrives from now on is the handshake's.
    this.#set(READING, false)
    raw.pause()
    // The plaintext output (the "go ahead") leaves before the socket changes hands.
    if (raw.writableLength === 0) this.#wrap(upgrade, fed)
    else raw.write(NO_BYTES, (err?: Error | null) => (err ? undefined : this.#wrap(upgrade, fed)))
    return null
  }

  #wrap(upgrade: TlsUpgrade, fed: Buffer | null): void {
    const raw = this.#socket
    if (raw.destroyed || this.#stream.isEnded) return
    this.#unlisten(raw)
    raw.on('error', ignore) // the TLS socket reports the errors of the one below
    const socket = upgradeSocket(
      raw,
      upgrade,
      fed,
      () => {
        this.#set(UPGRADING, false)
        this.#stream.onTlsReady()
      },
      (err) => this.#stream.onTlsFailed(err),
    )
    this.#socket = socket
    this.#set(IS_TLS, true)
    this.#set(READING, false)
    this.#listen(socket)
  }

  detach(): Socket {
    const socket = this.#socket
    this.#unlisten(socket)
    if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer)
    this.#lingerTimer = null
    this.cancelDeadline()
    this.#set(READING, false)
    socket.pause()
    const stream = this.#stream
    if (channels.streamClose.hasSubscribers) channels.streamClose.publish({ stream, reason: undefined })
    this.#settings.serverHook?.(stream)
    return socket
  }

  #onError(err: Error): void {
    if (this.#is(UPGRADING)) {
      this.#stream.onTlsFailed(err)
      return
    }
    if (this.#is(WRITE_FAILED)) return
    // A write that failed at once reaches us only here (it had no callback): Node names the syscall.
    if ((err as NodeJS.ErrnoException).syscall === 'write') {
      this.#set(WRITE_FAILED, true)
      this.#stream.onWriteError(err)
      return
    }
    if (!this.#stream.isEnded) this.#stream.onReadError(err)
    // After Intent.done(), an error (a reset) while the last output is unwritten means it is lost;
    // Node then calls the pending write callbacks without an error, so this is the only sign.
    else if (this.#socket.writableLength > 0) this.#stream.onWriteError(err)
  }

  #onClose(): void {
    if (this.#lingerTimer !== null) clearTimeout(this.#lingerTimer)
    this.#lingerTimer = null
    this.cancelDeadline()
    const stream = this.#stream
    if (this.#is(UPGRADING)) stream.onTlsFailed(new Error('the connection closed during the TLS upgrade'))
    stream.onClosed()
    if (channels.streamClose.hasSubscribers) channels.streamClose.publish({ stream, reason: stream.endReason, stats: stream.stats })
    this.#settings.serverHook?.(stream)
  }
}

/** The error listener left on the socket below a TLS socket, which reports its errors. */
function ignore(): void {}
