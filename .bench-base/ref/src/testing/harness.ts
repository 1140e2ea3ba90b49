import { Engine, Limits, type StreamLimits } from '../engine.js'
import type { Exception, HandlerError } from '../errors.js'
import type { Factory } from '../protocol.js'
import { checkBytes, checkFunction, checkNumber, checkOptions, checkString } from '../validate.js'

/** Options of a {@link Harness}. */
export interface HarnessOptions<S = unknown> extends StreamLimits {
  /** Passed to the factory as `seed`. */
  seed?: S
  /** Start of the virtual clock, in ms: a finite number. @default 0 */
  now?: number
  /** What `transport.remoteAddress` reports, a string. @default '127.0.0.1' */
  remoteAddress?: string
}

/** How a harnessed stream stands: still running, ended with `Intent.done()`, or ended with an error. */
export type Closed = 'open' | 'done' | 'error'

/**
 * Drives a protocol without sockets or real time: feed input chunks, end the input, advance a
 * virtual clock, make the peer stop reading, inject read and write errors; then look at the
 * output, the handler calls and how the stream ended. It runs the very same loop as a socket
 * `Stream` (Netty's EmbeddedChannel, tokio's mock IO).
 *
 * ```ts
 * const h = new Harness(LineEcho.create)
 * h.feed('hello\r\n')
 * assert.equal(h.takeOutput().toString(), 'hello\r\n')
 * h.advance(30_000)
 * assert.equal(h.closed, 'done')
 * ```
 */
export class Harness<S = unknown> {
  readonly #engine: ScriptedEngine

  /** Creates the protocol with `factory` (as on a new connection) and runs its first round. */
  constructor(factory: Factory<S>, options?: HarnessOptions<S>) {
    checkFunction('Harness', 'factory', factory, 'a function (transport, seed, scope) => Intent')
    const o = checkOptions<HarnessOptions<S>>('Harness', 'options', options)
    if (o.now !== undefined) checkNumber('Harness', 'options.now', o.now)
    if (o.remoteAddress !== undefined) checkString('Harness', 'options.remoteAddress', o.remoteAddress, false)
    new Limits(o, 'Harness') // the engine checks them again, but would not say "Harness"
    this.#engine = new ScriptedEngine(o)
    this.#engine.begin(factory, o.seed as S)
  }

  /** Delivers one chunk of input (a string or a Uint8Array), as one socket read. */
  feed(chunk: Uint8Array | string): this {
    checkBytes('Harness.feed', 'chunk', chunk)
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk)
    this.#engine.data(bytes)
    return this
  }

  /** The peer sends FIN. */
  end(): this {
    this.#engine.eof()
    return this
  }

  /** Moves the virtual clock forward by `ms` (a finite number >= 0), firing the deadline if it is passed on the way. */
  advance(ms: number): this {
    checkNumber('Harness.advance', 'ms', ms, { min: 0 })
    this.#engine.advance(ms)
    return this
  }

  /** Fires the stream's notifier (the protocol's `wakeup` runs, as after a microtask). */
  wakeup(): this {
    this.#engine.notifier()()
    this.#engine.flushWakeups()
    return this
  }

  /** From now on, output stays unwritten (the peer does not read) until `drain()`. */
  stall(): this {
    this.#engine.stalled = true
    return this
  }

  /** The peer reads everything written so far, and keeps reading. */
  drain(): this {
    this.#engine.drain()
    return this
  }

  /** Reading fails with `cause` (e.g. an `ECONNRESET` error). */
  readError(cause: unknown = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })): this {
    this.#engine.readError(cause)
    return this
  }

  /** The next write, or the pending one, fails with `cause` (e.g. `EPIPE`). */
  writeError(cause: unknown = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })): this {
    this.#engine.writeError(cause)
    return this
  }

  /** Returns the bytes the peer has received since the last call, and forgets them. */
  takeOutput(): Buffer {
    const out = Buffer.concat(this.#engine.written)
    this.#engine.written.length = 0
    return out
  }

  /** Every byte the peer has received so far. */
  get output(): Buffer {
    return Buffer.concat(this.#engine.written)
  }

  /** Bytes written by the stream that the peer has not read (see `stall()`). */
  get unwritten(): number {
    return this.#engine.unwrittenBytes
  }

  /** Handler calls in order, e.g. `['bytesRead 5', 'exception RS_ERR_END_OF_STREAM']`. */
  get events(): readonly string[] {
    return this.#engine.events
  }

  /** Every exception reason the protocol received. */
  get exceptions(): readonly Exception[] {
    return this.#engine.exceptions
  }

  /** How the stream ended, or `'open'`. */
  get closed(): Closed {
    return this.#engine.closedAs
  }

  /** The error the stream ended with (what `fatal` received), if any. */
  get error(): Error | undefined {
    return this.#engine.error
  }

  /** Number of socket writes so far: all output of one round leaves in one write. */
  get writes(): number {
    return this.#engine.writeCount
  }

  /** Whether the stream is reading (false while it sleeps, waits for a flush, or is pushed back). */
  get isReading(): boolean {
    return this.#engine.reading
  }

  /** Whether the write side was half-closed by the protocol. */
  get isHalfClosed(): boolean {
    return this.#engine.halfClosed
  }

  /** The armed deadline (ms on the virtual clock), or NaN. */
  get deadline(): number {
    return this.#engine.armed
  }

  /** Bytes of input buffered and not consumed. */
  get buffered(): number {
    return this.#engine.input.length
  }

  /** The virtual clock, in ms. */
  get now(): number {
    return this.#engine.virtualTime
  }
}

/** Deadlines one `advance()` may fire before it gives up on a protocol that never moves on. */
const MAX_FIRINGS = 100_000

/** The engine with scripted I/O. */
class ScriptedEngine extends Engine {
  readonly remoteAddress: string | undefined
  readonly remotePort = 40000
  readonly localAddress = '127.0.0.1'
  readonly localPort = 7
  readonly events: string[] = []
  readonly exceptions: Exception[] = []
  readonly written: Buffer[] = []
  /** Written but not read by the peer (while stalled). */
  readonly #pending: Buffer[] = []
  unwrittenBytes = 0
  writeCount = 0
  stalled = false
  halfClosed = false
  reading = false
  armed = Number.NaN
  closedAs: Closed = 'open'
  error: Error | undefined = undefined
  #clock: number
  #wakeupDue = false
  /** A wakeup asked for from inside `wakeup`: a real stream runs it on a later turn of the event loop. */
  #deferredWakeupDue = false
  #failNextWrite: unknown = undefined
  /** Reports a socket makes after `write()` returned (a failed write). */
  readonly #deferred: (() => void)[] = []

  constructor(options: HarnessOptions) {
    super(options)
    this.#clock = options.now ?? 0
    this.remoteAddress = options.remoteAddress ?? '127.0.0.1'
    this.trace = (handler, detail) => {
      if (detail instanceof Error) {
        if (handler === 'exception') this.exceptions.push(detail as Exception)
        this.events.push(`${handler} ${errorCode(detail)}`)
      } else {
        this.events.push(detail === undefined ? handler : `${handler} ${detail}`)
      }
    }
  }

  begin<S>(factory: Factory<S>, seed: S): void {
    this.start(factory, seed)
    this.flushWakeups()
  }

  protected clock(): number {
    return this.#clock
  }

  get virtualTime(): number {
    return this.#clock
  }

  data(chunk: Buffer): void {
    this.onData(chunk)
    this.flushWakeups()
  }

  eof(): void {
    this.onEnd()
    this.flushWakeups()
  }

  advance(ms: number): void {
    const target = this.#clock + ms
    // Fire every deadline on the way, at its own time, as a real timer would. A protocol that
    // keeps setting deadlines in the past would spin a real stream too: stop and say so.
    for (let fired = 0; !Number.isNaN(this.armed) && this.armed <= target; fired++) {
      if (fired === MAX_FIRINGS) throw new Error(`advance(${ms}): the deadline fired ${MAX_FIRINGS} times; does timeout() keep returning a past deadline?`)
      this.#clock = Math.max(this.#clock, this.armed)
      this.armed = Number.NaN
      this.onTimer()
      this.flushWakeups()
    }
    this.#clock = target
  }

  drain(): void {
    this.stalled = false
    this.written.push(...this.#pending)
    this.#pending.length = 0
    this.unwrittenBytes = 0
    this.onWritten()
    this.flushWakeups()
  }

  readError(cause: unknown): void {
    this.onReadError(cause)
    this.flushWakeups()
  }

  writeError(cause: unknown): void {
    if (this.unwrittenBytes > 0) {
      this.onWriteError(cause)
      this.flushWakeups()
    } else {
      this.#failNextWrite = cause
    }
  }

  /** Runs what a real stream would run in later microtasks: write-error reports and wakeups. */
  flushWakeups(): void {
    for (;;) {
      const report = this.#deferred.shift()
      if (report !== undefined) {
        report()
      } else if (this.#wakeupDue) {
        this.#wakeupDue = false
        this.onWakeup()
      } else if (this.#deferredWakeupDue) {
        // The event loop moves on: nothing else is due, so the deferred wakeup runs now.
        this.#deferredWakeupDue = false
        this.onDeferredWakeup()
      } else {
        return
      }
    }
  }

  protected ioWrite(data: Buffer): number {
    this.writeCount++
    if (this.#failNextWrite !== undefined) {
      const cause = this.#failNextWrite
      this.#failNextWrite = undefined
      this.unwrittenBytes += data.length
      this.#deferred.push(() => this.onWriteError(cause))
      return this.unwrittenBytes
    }
    if (this.halfClosed || this.closedAs !== 'open') {
      this.unwrittenBytes += data.length
      this.#deferred.push(() => this.onWriteError(new Error('write after end')))
      return this.unwrittenBytes
    }
    if (this.stalled) {
      this.#pending.push(data)
      this.unwrittenBytes += data.length
    } else {
      this.written.push(data)
      this.#deferred.push(() => this.onWritten()) // a socket reports the completed write later
    }
    return this.unwrittenBytes
  }

  protected ioUnwritten(): number {
    return this.unwrittenBytes
  }

  protected ioSetReading(on: boolean): void {
    this.reading = on
  }

  protected ioArmTimer(deadline: number): void {
    this.armed = deadline
  }

  protected ioScheduleWakeup(later: boolean): void {
    if (later) this.#deferredWakeupDue = true
    else this.#wakeupDue = true
  }

  protected ioHalfClose(): void {
    this.halfClosed = true
  }

  protected ioReportError(_error: HandlerError): void {
    // The test kit reports handler errors through `error` and `events`.
  }

  protected ioFinish(reason: Error | undefined): void {
    this.closedAs = reason === undefined ? 'done' : 'error'
    this.error = reason
  }

  protected ioDestroy(reason: Error): void {
    this.closedAs = 'error'
    this.error = reason
    this.#pending.length = 0
    this.unwrittenBytes = 0
  }
}

/** The `code` of an error (ours or Node's), else its name. */
function errorCode(err: Error): string {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : err.name
}
