/**
 * The stream loop, independent of any socket: `Stream` drives it from a `net.Socket`, the test
 * kit from scripted chunks and a virtual clock. Both run exactly this code.
 *
 * After every event (data, end of stream, output written, timer, wakeup) `#run()` calls
 * handlers for as long as the buffered input satisfies the current expectation, writes all
 * output of the round in one write, then decides whether to read and when to wake up.
 */
import { type BudgetMember, MemoryBudget } from './budget.js'
import { Buf } from './buf.js'
import { channels } from './diagnostics.js'
import { EndOfStreamError, type Exception, HandlerError, LimitReachedError, ReadError, TimeoutError, TooSlowError, WriteError } from './errors.js'
import { checkMinRate, Intent, Kind, type MinRate } from './intent.js'
import type { Factory, Protocol, Scope, Transport } from './protocol.js'
import { checkInteger, checkOptions, invalid } from './validate.js'

/** Limits shared by every kind of stream. */
export interface StreamLimits {
  /**
   * Most bytes of input one expectation may need: `expectBytes(n)` with a larger `n`, or a
   * delimiter not found within this many bytes, is a `LimitReachedError`. A positive safe integer.
   * @default 16777216 (16 MiB)
   */
  maxBufferSize?: number
  /**
   * Automatic pushback: while more than this many bytes of output are unwritten, buffered
   * requests are not processed and nothing is read, even if the protocol did not ask for
   * `expectFlush`. Keeps a peer that pipelines requests but never reads its replies from
   * growing the process. A non-negative safe integer (0: push back as soon as anything is unwritten).
   * @default 1048576 (1 MiB)
   */
  outputHighWaterMark?: number
  /**
   * Minimum data rate while a frame is open (some input buffered, the protocol waiting for
   * more): below `bytes` bytes per `per` ms, `exception()` gets a `TooSlowError`. An
   * expectation can override it with `Intent.minRate()`. Off by default: idle deadlines are
   * the protocol's choice, and so is this. `bytes` is a positive safe integer, `per` a whole
   * number of ms within 1..2^31-1.
   * @default null
   */
  minRate?: MinRate | null
  /**
   * A memory budget shared with other streams (a server's `maxBufferedBytes`): while the
   * buffers of all its streams together hold more than its limit, this stream stops reading
   * (see `MemoryBudget`).
   * @default null
   */
  budget?: MemoryBudget | null
}

/** Defaults of {@link StreamLimits}. */
export const LIMIT_DEFAULTS: Readonly<Required<StreamLimits>> = Object.freeze({
  maxBufferSize: 16 * 1024 * 1024,
  outputHighWaterMark: 1024 * 1024,
  minRate: null,
  budget: null,
})

/**
 * Throws `InvalidArgumentError` unless `limits` keep every bound in force; `where` names the
 * function they were given to, for the message. Returns a copy of the minimum rate, or null:
 * changing the caller's object later must not change a rate that was checked.
 */
function checkLimits(limits: StreamLimits, where: string): MinRate | null {
  const { maxBufferSize, outputHighWaterMark, minRate, budget } = limits
  if (maxBufferSize !== undefined) checkInteger(where, 'options.maxBufferSize', maxBufferSize, { min: 1 })
  if (outputHighWaterMark !== undefined) checkInteger(where, 'options.outputHighWaterMark', outputHighWaterMark)
  if (budget !== undefined && budget !== null && !(budget instanceof MemoryBudget)) throw invalid(where, 'options.budget', 'a MemoryBudget or null', budget)
  return minRate === undefined || minRate === null ? null : checkMinRate(where, 'options.minRate', minRate)
}

/**
 * {@link StreamLimits} validated, with every default filled in. A server or client makes one and
 * all its streams share it: a connection neither validates its options again nor holds a copy.
 * @internal
 */
export class Limits {
  readonly maxBufferSize: number
  readonly outputHighWaterMark: number
  readonly minRate: MinRate | null
  readonly budget: MemoryBudget | null

  /**
   * Throws `InvalidArgumentError` unless `limits` (an object, or undefined for the defaults)
   * keep every bound in force; `where` names the function they were given to.
   */
  constructor(options: StreamLimits | undefined, where = 'stream options') {
    const limits = checkOptions<StreamLimits>(where, 'options', options)
    this.minRate = checkLimits(limits, where)
    this.maxBufferSize = limits.maxBufferSize ?? LIMIT_DEFAULTS.maxBufferSize
    this.outputHighWaterMark = limits.outputHighWaterMark ?? LIMIT_DEFAULTS.outputHighWaterMark
    this.budget = limits.budget ?? null
  }
}

/** A handler that keeps returning the same unmet-by-consumption expectation this many times is stuck. */
const MAX_IDLE_SPINS = 10_000

/** The state machine runner (not part of the public API). Subclasses provide the I/O through the `io…` hooks. */
export abstract class Engine implements Transport, Scope, BudgetMember {
  readonly input = new Buf()
  readonly output = new Buf()
  /** Why the stream ended: `undefined` while running and after `Intent.done()` (unless flushing the last output failed). */
  protected endReason: Error | undefined = undefined
  /** The current protocol state; `null` until the factory returned and after the end. */
  #protocol: Protocol | null = null
  // The expectation waited for, copied from the Intent the last handler returned: a protocol
  // may keep one Intent and return it again, changing it in between.
  #kind: Kind = Kind.Pending
  /** Bytes wanted (Bytes), most bytes before the delimiter (Delimiter), unwritten bytes allowed (Flush). */
  #n = 0
  #delimiter: Buffer | number = 0
  #delimiterLength = 0
  /** Where the delimiter search starts. */
  #offset = 0
  /** Delimiter search: input before this position (relative) is known not to start a delimiter. */
  #searched = 0
  /** Absolute deadline of the current Intent in ms, or NaN. */
  #deadline = Number.NaN
  /** The wake-up time last passed to `ioArmTimer`: the deadline or the rate check, whichever is first (NaN = none). */
  #armed = Number.NaN
  /** The minimum rate in force for the current expectation, or null. */
  #rate: MinRate | null = null
  /** Start of the current rate window (a frame is open and awaited), or NaN when no window runs. */
  #rateStart = Number.NaN
  /** Bytes received since `#rateStart`. */
  #rateBytes = 0
  /** Limits, shared with the other streams of the same server or client. */
  readonly #limits: Limits
  /** The peer sent FIN: no more input will come. */
  #eof = false
  /** `exception(EndOfStream)` was already delivered once. */
  #eofDelivered = false
  /** Input length when LimitReached was last delivered; -1 after new data. Catches a protocol that ignores the limit. */
  #limitLength = -1
  /** Consecutive bytesRead calls of one run at `#spinEnd` that consumed no input (see MAX_IDLE_SPINS). */
  #spins = 0
  #spinEnd = -1
  /** `now()` of the current round; NaN between rounds. */
  #now = Number.NaN
  /** Bytes unwritten below us (in the socket) when the round started, or after our last write in it. */
  #unwritten = 0
  /** Inside `#run()`: events that arrive now are picked up by the running loop. */
  #running = false
  /** The deadline passed; `timeout` runs at the top of the next loop turn. */
  #timeoutPending = false
  /** A rate window closed too slow; `exception` gets it at the top of the next loop turn. */
  #tooSlow: TooSlowError | null = null
  /** A notifier fired; `wakeup` runs at the top of the next loop turn. */
  #wakeupPending = false
  /** Processing stopped because too much output is unwritten (automatic pushback). */
  #blocked = false
  /** The protocol is finished (done, error or fatal); no handler runs any more. */
  #ended = false
  /** Which handler is running, for `HandlerError`. */
  #handler = 'factory'
  #notifier: (() => void) | null = null
  /**
   * Observer of every handler call, for the test kit and tracing: the handler's name and its
   * argument (`end` of bytesRead, the reason of exception and fatal). `null` costs one check per call.
   */
  protected trace: ((handler: string, detail?: number | Error) => void) | null = null

  constructor(limits: StreamLimits = {}) {
    this.#limits = limits instanceof Limits ? limits : new Limits(limits)
  }

  // --- Transport and Scope (the engine is both, so a stream allocates neither) -----------------

  abstract readonly remoteAddress: string | undefined
  abstract readonly remotePort: number | undefined
  abstract readonly localAddress: string | undefined
  abstract readonly localPort: number | undefined
  abstract halfClose(): void
  /** The real (or virtual) clock, in ms. */
  protected abstract clock(): number

  /**
   * The time at the start of the current event, in ms: every handler of one round sees the same
   * value, and 32 pipelined requests cost one clock read, not 32.
   */
  now(): number {
    if (Number.isNaN(this.#now)) this.#now = this.clock()
    return this.#now
  }

  notifier(): () => void {
    this.#notifier ??= () => {
      if (this.#ended || this.#wakeupPending) return
      this.#wakeupPending = true
      this.ioScheduleWakeup()
    }
    return this.#notifier
  }

  /** True once the protocol has finished; the socket may still be flushing. */
  get isEnded(): boolean {
    return this.#ended
  }

  // --- I/O hooks --------------------------------------------------------------------------------

  /** Send `data` (the stream gives it away); returns the bytes still unwritten after it, as `ioUnwritten()` would. */
  protected abstract ioWrite(data: Buffer): number
  /** Bytes handed to `ioWrite` that have not reached the kernel yet. */
  protected abstract ioUnwritten(): number
  /** Start or stop reading; called after every round with the wanted state. */
  protected abstract ioSetReading(on: boolean): void
  /** Call `onTimer()` at absolute time `deadline`; NaN cancels. */
  protected abstract ioArmTimer(deadline: number): void
  /** Call `onWakeup()` soon (a microtask), outside the current call stack. */
  protected abstract ioScheduleWakeup(): void
  /** The protocol finished cleanly: flush what was written, then close. Called once. */
  protected abstract ioFinish(): void
  /** Close at once, dropping unwritten output. Called once, before `fatal` runs. */
  protected abstract ioDestroy(reason: Error): void

  // --- Events, called by the subclass -----------------------------------------------------------

  /** Creates the first state through `factory` and runs the first round. */
  protected start<S>(factory: Factory<S>, seed: S): void {
    try {
      this.#handler = 'factory'
      this.#now = Number.NaN
      this.#take(factory(this, seed, this))
    } catch (err) {
      this.#fail(new HandlerError(this.#handler, err))
      return
    }
    this.#run()
  }

  /** Bytes arrived; the chunk is given away. */
  protected onData(chunk: Buffer): void {
    if (this.#ended) return
    this.input.append(chunk)
    this.#rateBytes += chunk.length
    this.#limitLength = -1
    this.#run()
  }

  /** The peer sent FIN. */
  protected onEnd(): void {
    if (this.#ended || this.#eof) return
    this.#eof = true
    this.#run()
  }

  /** Some output reached the kernel. */
  protected onWritten(): void {
    if (this.#kind === Kind.Flush || this.#blocked) this.#run()
    else if (this.#limits.budget !== null && !this.#ended) this.#settle() // the output it held is gone
  }

  /** The shared memory budget changed state: re-decide whether to read. @internal */
  budgetChanged(): void {
    if (!this.#running && !this.#ended) this.#settle()
  }

  /** The armed timer fired: the deadline passed, a rate window closed, or neither yet (re-arm). */
  protected onTimer(): void {
    this.#armed = Number.NaN
    if (this.#ended) return
    this.#now = Number.NaN
    const now = this.now()
    if (now >= this.#deadline) {
      this.#deadline = Number.NaN
      this.#timeoutPending = true
      this.#run()
      return
    }
    const rate = this.#rate
    if (rate !== null && now >= this.#rateStart + rate.per) {
      if (this.#rateBytes < rate.bytes) {
        this.#tooSlow = new TooSlowError(this.#rateBytes, rate.bytes, rate.per)
        this.#rateStart = Number.NaN
        this.#run()
        return
      }
      this.#rateStart = now // fast enough: the next window starts
      this.#rateBytes = 0
    }
    this.#settle() // fired early (the deadline moved later): re-arm
  }

  /** A scheduled wakeup is due. */
  protected onWakeup(): void {
    this.#run()
  }

  /** Reading failed; the socket is gone. */
  protected onReadError(cause: unknown): void {
    if (this.#ended) return
    const reason = new ReadError(cause)
    let intent: Intent<Protocol>
    try {
      intent = checked(this.#exception(reason), this.#handler)
    } catch (err) {
      this.#fail(new HandlerError(this.#handler, err))
      return
    }
    // The socket is gone: only the choice between a clean and an abnormal end is left.
    if (intent.kind === Kind.Done) this.#finish()
    else this.#fail(intent.kind === Kind.Error && intent.error !== null ? intent.error : reason)
  }

  /** Writing failed. */
  protected onWriteError(cause: unknown): void {
    if (!this.#ended) this.#fail(new WriteError(cause))
    // After Intent.done() the last output failed to go out: the end was not clean after all.
    else this.endReason ??= new WriteError(cause)
  }

  /** The stream is ended from outside with `reason` (shutdown, a closed socket). */
  protected abort(reason: Error): void {
    if (!this.#ended) this.#fail(reason)
  }

  // --- The loop ---------------------------------------------------------------------------------

  /** Runs handlers while buffered input satisfies the expectation, writes once, then settles. */
  #run(): void {
    if (this.#running || this.#ended) return
    this.#running = true
    this.#now = Number.NaN
    this.#unwritten = this.ioUnwritten()
    this.#spinEnd = -1 // a spin happens within one run: an event in between is progress
    try {
      for (;;) {
        if (this.#tooSlow !== null) {
          const reason = this.#tooSlow
          this.#tooSlow = null
          this.#take(this.#exception(reason))
        } else if (this.#timeoutPending) {
          this.#timeoutPending = false
          this.#handler = 'timeout'
          if (this.trace !== null) this.trace('timeout')
          const protocol = this.#protocol as Protocol
          this.#take(protocol.timeout ? protocol.timeout(this, this) : Intent.error(new TimeoutError()))
        } else if (this.#wakeupPending) {
          this.#wakeupPending = false
          this.#handler = 'wakeup'
          if (this.trace !== null) this.trace('wakeup')
          const protocol = this.#protocol as Protocol
          // Without a handler a wakeup changes nothing: the same expectation and deadline stand.
          if (protocol.wakeup) this.#take(protocol.wakeup(this, this))
        } else if (!this.#step()) {
          if (this.#ended) break
          if (this.output.length === 0) break
          this.#write()
          // A synchronous write may already satisfy a flush expectation: go round once more.
          if (this.#kind !== Kind.Flush) break
        }
        if (this.#ended) break
      }
    } catch (err) {
      this.#fail(new HandlerError(this.#handler, err))
    }
    this.#running = false
    if (!this.#ended) this.#settle()
    this.#now = Number.NaN // outside a round, now() reads the clock again
  }

  /** Calls at most one handler if the current expectation can be met now; returns whether it did. */
  #step(): boolean {
    const protocol = this.#protocol as Protocol
    const input = this.input
    switch (this.#kind) {
      case Kind.Bytes: {
        if (this.#pushedBack()) return false
        const n = this.#n
        if (n > this.#limits.maxBufferSize) return this.#limit(this.#limits.maxBufferSize)
        if (input.length >= n) {
          this.#handler = 'bytesRead'
          if (this.trace !== null) this.trace('bytesRead', n)
          const before = input.length
          this.#take(protocol.bytesRead(this, n, this))
          this.#checkSpin(before, n)
          return true
        }
        break
      }
      case Kind.Delimiter: {
        if (this.#pushedBack()) return false
        const length = input.length
        const size = this.#delimiterLength
        const max = Math.min(this.#n, this.#limits.maxBufferSize - size)
        const from = Math.max(this.#offset, this.#searched)
        if (length - from >= size) {
          const at = input.indexOf(this.#delimiter, from)
          if (at >= 0 && at <= max) {
            this.#handler = 'bytesRead'
            if (this.trace !== null) this.trace('bytesRead', at)
            this.#take(protocol.bytesRead(this, at, this))
            this.#checkSpin(length, at)
            return true
          }
          if (at > max) return this.#limit(max)
          // Nothing found: the next search only needs to re-check a delimiter's width of overlap.
          this.#searched = length - size + 1
        }
        if (length >= max + size) return this.#limit(max)
        break
      }
      case Kind.Flush:
        if (this.output.length + this.#unwritten <= this.#n) {
          this.#handler = 'bytesFlushed'
          if (this.trace !== null) this.trace('bytesFlushed')
          this.#take(protocol.bytesFlushed ? protocol.bytesFlushed(this, this) : Intent.done())
          return true
        }
        return false
      case Kind.Sleep:
        return false
    }
    if (!this.#eof) return false
    // A read expectation that can never be met: the peer has finished sending.
    if (this.#eofDelivered) {
      this.#fail(new EndOfStreamError('end of stream: the protocol kept waiting for input after it was told'))
      return false
    }
    this.#eofDelivered = true
    this.#take(this.#exception(new EndOfStreamError()))
    return true
  }

  /** Delivers LimitReached, unless the protocol already ignored the same one. */
  #limit(limit: number): boolean {
    const reason = new LimitReachedError(limit)
    if (this.#limitLength === this.input.length) {
      this.#fail(reason) // the exception handler consumed nothing and asked again: it would spin forever
      return false
    }
    this.#limitLength = this.input.length
    this.#take(this.#exception(reason))
    return true
  }

  #exception(reason: Exception): Intent<Protocol> {
    const protocol = this.#protocol as Protocol
    this.#handler = 'exception'
    if (channels.streamException.hasSubscribers) channels.streamException.publish({ stream: this, reason })
    if (this.trace !== null) this.trace('exception', reason)
    if (protocol.exception) return protocol.exception(this, reason, this)
    return reason.code === 'RS_ERR_END_OF_STREAM' ? Intent.done() : Intent.error(reason)
  }

  /**
   * Guards against a protocol that neither consumes input nor moves on: bytesRead called again
   * and again, in one run, at the same `end` with the same input. (Scanning ahead with `offset`
   * moves `end`; input consumed outside bytesRead, on a later event, is progress.)
   */
  #checkSpin(lengthBefore: number, end: number): void {
    if (this.input.length !== lengthBefore || end !== this.#spinEnd) {
      this.#spins = 0
      this.#spinEnd = end
    } else if (++this.#spins > MAX_IDLE_SPINS) {
      throw new Error(`bytesRead returned ${MAX_IDLE_SPINS} times without consuming input: consume what you parse`)
    }
  }

  /** True (and remembered) while too much output is unwritten to process more input. */
  #pushedBack(): boolean {
    if (this.output.length + this.#unwritten <= this.#limits.outputHighWaterMark) {
      this.#blocked = false
      return false
    }
    // Hand what we have to the socket first: it may take it all at once.
    if (this.output.length > 0) this.#write()
    this.#blocked = this.#unwritten > this.#limits.outputHighWaterMark
    return this.#blocked
  }

  #write(): void {
    this.#unwritten = this.ioWrite(this.output.take())
  }

  /** Adopts the next Intent returned by a handler. */
  #take(intent: Intent<Protocol>): void {
    if (this.#ended) return // the stream was closed during the handler; its answer does not matter
    switch (checked(intent, this.#handler).kind) {
      case Kind.Done:
        this.#finish()
        return
      case Kind.Error:
        this.#fail(intent.error ?? new Error('Intent.error() without an error'))
        return
      case Kind.Pending:
        throw new TypeError(`${this.#handler} returned Intent.of() without an expectation (expectBytes, expectDelimiter, expectFlush or sleep)`)
    }
    this.#protocol = intent.state
    this.#n = intent.n
    if (intent.kind === Kind.Delimiter) {
      this.#delimiter = intent.delimiter as Buffer | number
      this.#delimiterLength = intent.delimiterLength
      this.#offset = intent.offset
    }
    this.#kind = intent.kind
    this.#searched = 0
    this.#deadline = intent.relative ? this.now() + intent.time : intent.time
    this.#rate = intent.rate === undefined ? this.#limits.minRate : intent.rate
  }

  /** After a round: read only while waiting for input, keep one timer on the earliest wake-up. */
  #settle(): void {
    const kind = this.#kind
    let reading = (kind === Kind.Bytes || kind === Kind.Delimiter) && !this.#eof && !this.#blocked
    const budget = this.#limits.budget
    if (budget !== null) {
      budget.update(this, this.input.capacity + this.output.length + this.ioUnwritten())
      if (reading && !budget.mayRead(this)) reading = false
    }
    this.ioSetReading(reading)
    let wake = this.#deadline
    if (this.#rate !== null && reading && this.input.length > 0) {
      // A frame is open and the peer owes us the rest: measure its pace from now on.
      if (Number.isNaN(this.#rateStart)) {
        this.#rateStart = this.now()
        this.#rateBytes = 0
      }
      const check = this.#rateStart + this.#rate.per
      if (!(check >= wake)) wake = check // NaN-safe minimum
    } else {
      this.#rateStart = Number.NaN
    }
    if (!Object.is(wake, this.#armed)) {
      this.#armed = wake
      this.ioArmTimer(wake)
    }
  }

  /** Clean end: flush, then close. */
  #finish(): void {
    this.#end()
    if (this.output.length > 0) this.ioWrite(this.output.take())
    this.ioFinish()
  }

  /** Abnormal end: close at once, tell the protocol through `fatal`. */
  #fail(reason: Error): void {
    if (this.#ended) return
    const protocol = this.#protocol
    this.#end()
    this.endReason = reason
    this.output.clear()
    this.ioDestroy(reason)
    if (channels.streamFatal.hasSubscribers) channels.streamFatal.publish({ stream: this, reason })
    if (this.trace !== null) this.trace('fatal', reason)
    if (protocol?.fatal) {
      try {
        protocol.fatal(reason, this)
      } catch {
        // fatal is the last word: an error there has nowhere left to go
      }
    }
  }

  #end(): void {
    this.#ended = true
    this.#limits.budget?.leave(this)
    this.#protocol = null
    this.#delimiter = 0
    this.#kind = Kind.Pending
    this.#wakeupPending = false
    this.#timeoutPending = false
    this.#tooSlow = null
    this.#rateStart = Number.NaN
    this.#deadline = Number.NaN
    if (!Number.isNaN(this.#armed)) {
      this.#armed = Number.NaN
      this.ioArmTimer(Number.NaN)
    }
    this.ioSetReading(false)
  }
}

/** Throws unless a handler returned an Intent. */
function checked(intent: Intent<Protocol>, handler: string): Intent<Protocol> {
  if (!(intent instanceof Intent)) throw new TypeError(`${handler} returned ${String(intent)}, not an Intent`)
  return intent
}
