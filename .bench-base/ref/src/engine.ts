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
import { SpinGuard } from './spin-guard.js'
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
   * A memory budget shared with other streams (a server's `maxBufferedBytes`): while the input
   * buffered by all its streams together is over its limit, this stream stops reading unless
   * it holds the budget's turn (see `MemoryBudget`).
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

/**
 * While the protocol sleeps, input is still read (so that the peer's FIN or reset is noticed at
 * once) until this many bytes are buffered, or `maxBufferSize` if lower; one more read may pass it.
 */
export const SLEEP_READ_LIMIT = 16 * 1024

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
  /** Counts handler calls that change nothing (see SpinGuard). */
  readonly #guard = new SpinGuard()
  /**
   * The run about to start continues the protocol's own loop (a wakeup it asked for from inside
   * `wakeup`, a deadline its `timeout` set in the past): the spin count goes on instead of restarting.
   */
  #selfDriven = false
  /** `timeout` returned a deadline that has already passed. */
  #pastDeadline = false
  /** A wakeup asked for from inside `wakeup` waits for a later turn of the event loop. */
  #wakeupDeferred = false
  /** `halfClose()` was called: the write side is closed, output after it is refused. */
  #writeClosed = false
  /** `now()` of the current round; NaN between rounds. */
  #now = Number.NaN
  /** Bytes unwritten below us (in the socket) when the round started, or after our last write in it. */
  #unwritten = 0
  /** Inside `#run()`: events that arrive now are picked up by the running loop. */
  #running = false
  /** The deadline passed; `timeout` runs at the top of the next loop turn. */
  #timeoutPending = false
  /** An exception to deliver at the top of the next loop turn: a rate window closed too slow, or `reject()`. */
  #pendingException: Exception | null = null
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
      // Asked for from inside wakeup itself: the next wakeup waits for a later turn of the event
      // loop, so that a protocol polling through its own notifier never starves other connections.
      this.#wakeupDeferred = this.#running && this.#handler === 'wakeup'
      this.ioScheduleWakeup(this.#wakeupDeferred)
    }
    return this.#notifier
  }

  /**
   * Flushes the output, then closes the write side (FIN); reading goes on. Output written after
   * it ends the stream with a `WriteError` instead of being lost.
   */
  halfClose(): void {
    if (this.#ended || this.#writeClosed) return
    if (this.output.length > 0) this.#write() // counted as unwritten, as any write: expectFlush stays exact
    this.#writeClosed = true
    this.ioHalfClose()
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
  /**
   * Call `onWakeup()` soon (a microtask), outside the current call stack; with `later`, call
   * `onDeferredWakeup()` on a later turn of the event loop instead (after I/O of other streams).
   */
  protected abstract ioScheduleWakeup(later: boolean): void
  /** Send FIN once what was written is flushed; reading goes on. Called at most once. */
  protected abstract ioHalfClose(): void
  /**
   * The protocol finished: flush what was written, then close. Called once. `reason` is
   * undefined for a clean end, else the error the stream ends with after the flush.
   */
  protected abstract ioFinish(reason: Error | undefined): void
  /** Close at once, dropping unwritten output. Called once, before `fatal` runs. */
  protected abstract ioDestroy(reason: Error): void
  /** A handler threw (a bug in the protocol): make it visible (the `onError` option). */
  protected abstract ioReportError(error: HandlerError): void

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
      this.#selfDriven = this.#pastDeadline // timeout set a deadline already passed: its own loop
      this.#run()
      return
    }
    const rate = this.#rate
    if (rate !== null && now >= this.#rateStart + rate.per) {
      if (this.#rateBytes < rate.bytes) {
        this.#pendingException = new TooSlowError(this.#rateBytes, rate.bytes, rate.per)
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

  /** A wakeup that `wakeup` asked for is due, a turn later: it continues the protocol's own loop. */
  protected onDeferredWakeup(): void {
    if (!this.#wakeupDeferred) return
    this.#wakeupDeferred = false
    this.#selfDriven = true
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
    if (intent.kind === Kind.Done) this.#finish(undefined)
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
    // An event from outside (input, a completed write, a deadline, a notifier) restarts the spin
    // count; a wakeup or deadline the protocol set up for itself continues it.
    if (this.#selfDriven) this.#selfDriven = false
    else this.#guard.reset()
    const guard = this.#guard
    try {
      for (;;) {
        if (this.#pendingException !== null) {
          const reason = this.#pendingException
          this.#pendingException = null
          this.#deliver(reason)
        } else if (this.#timeoutPending) {
          this.#timeoutPending = false
          this.#handler = 'timeout'
          if (this.trace !== null) this.trace('timeout')
          const protocol = this.#protocol as Protocol
          guard.before(this.input.length, this.output.length)
          this.#take(protocol.timeout ? protocol.timeout(this, this) : Intent.error(new TimeoutError()))
          guard.after('timeout', this.input.length, this.output.length, -1)
        } else if (this.#wakeupPending && !this.#wakeupDeferred) {
          this.#wakeupPending = false
          this.#handler = 'wakeup'
          if (this.trace !== null) this.trace('wakeup')
          const protocol = this.#protocol as Protocol
          // Without a handler a wakeup changes nothing: the same expectation and deadline stand.
          if (protocol.wakeup) {
            guard.before(this.input.length, this.output.length)
            this.#take(protocol.wakeup(this, this))
            guard.after('wakeup', this.input.length, this.output.length, -1)
          }
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
          this.#guard.before(input.length, this.output.length)
          this.#take(protocol.bytesRead(this, n, this))
          this.#guard.after('bytesRead', input.length, this.output.length, n)
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
            this.#guard.before(length, this.output.length)
            this.#take(protocol.bytesRead(this, at, this))
            this.#guard.after('bytesRead', input.length, this.output.length, at)
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
        // A flush point above outputHighWaterMark is held to it: a bytesFlushed that writes and
        // asks again cannot grow the output past the automatic pushback.
        if (this.output.length + this.#unwritten <= Math.min(this.#n, this.#limits.outputHighWaterMark)) {
          this.#handler = 'bytesFlushed'
          if (this.trace !== null) this.trace('bytesFlushed')
          this.#guard.before(input.length, this.output.length)
          this.#take(protocol.bytesFlushed ? protocol.bytesFlushed(this, this) : Intent.done())
          this.#guard.after('bytesFlushed', input.length, this.output.length, -1)
          return true
        }
        return false
      case Kind.Sleep:
        // Asleep, the peer's FIN is still news, once: a client idle between requests learns at
        // once that its server went away, instead of losing the next request.
        if (!this.#eof || this.#eofDelivered) return false
        break
    }
    if (!this.#eof) return false
    // A read expectation that can never be met: the peer has finished sending.
    if (this.#eofDelivered) {
      this.#fail(new EndOfStreamError('end of stream: the protocol kept waiting for input after it was told'))
      return false
    }
    this.#eofDelivered = true
    this.#deliver(new EndOfStreamError())
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
    this.#deliver(reason)
    return true
  }

  /** Calls `exception` with `reason` and takes its answer, under the spin guard. */
  #deliver(reason: Exception): void {
    this.#guard.before(this.input.length, this.output.length)
    this.#take(this.#exception(reason))
    this.#guard.after('exception', this.input.length, this.output.length, -1)
  }

  #exception(reason: Exception): Intent<Protocol> {
    const protocol = this.#protocol as Protocol
    this.#handler = 'exception'
    if (channels.streamException.hasSubscribers) channels.streamException.publish({ stream: this, reason })
    if (this.trace !== null) this.trace('exception', reason)
    if (protocol.exception) return protocol.exception(this, reason, this)
    return defaultException(reason)
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
    if (this.#writeClosed) {
      this.#fail(new WriteError(writeAfterHalfClose()))
      return
    }
    this.#unwritten = this.ioWrite(this.output.take())
  }

  /** Adopts the next Intent returned by a handler. */
  #take(intent: Intent<Protocol>): void {
    if (this.#ended) return // the stream was closed during the handler; its answer does not matter
    switch (checked(intent, this.#handler).kind) {
      case Kind.Done:
        this.#finish(undefined)
        return
      case Kind.Error: {
        const reason = intent.error ?? new Error('Intent.error() without an error')
        if (intent.flush) this.#finish(reason)
        else this.#fail(reason)
        return
      }
      case Kind.Reject:
        // Bad input seen by the protocol (a framer): exception() hears of it at the top of the
        // next loop turn, after the replies written for the good input before it.
        this.#protocol = intent.state
        this.#kind = Kind.Sleep
        this.#deadline = Number.NaN
        this.#pendingException = intent.error as Exception
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
    this.#pastDeadline = this.#handler === 'timeout' && this.#deadline <= this.now()
    this.#rate = intent.rate === undefined ? this.#limits.minRate : intent.rate
  }

  /** After a round: read only while waiting for input, keep one timer on the earliest wake-up. */
  #settle(): void {
    const kind = this.#kind
    const waiting = kind === Kind.Bytes || kind === Kind.Delimiter
    // Asleep, a little is still read: the peer's FIN or reset shows only to a reading socket.
    const asleep = kind === Kind.Sleep && this.input.length < Math.min(SLEEP_READ_LIMIT, this.#limits.maxBufferSize)
    let reading = (waiting || asleep) && !this.#eof && !this.#blocked
    const budget = this.#limits.budget
    if (budget !== null) {
      const wait = reading && waiting ? 'input' : this.#blocked || kind === Kind.Flush ? 'output' : 'other'
      const may = budget.update(this, this.input.capacity, this.output.length + this.ioUnwritten(), wait)
      // A sleeper's read-ahead is no claim on the budget: it stops while the budget is exhausted
      // (and resumes with its next event), and never takes the grant from a stream that waits for input.
      reading = wait === 'input' ? may : reading && !budget.isExhausted
    }
    this.ioSetReading(reading)
    let wake = this.#deadline
    if (this.#rate !== null && reading && waiting && this.input.length > 0) {
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

  /**
   * End after a flush: the output written so far leaves, then the socket closes. Clean without
   * `reason`; with one (`Intent.error(e, { flush: true })`) the stream still ends with it.
   */
  #finish(reason: Error | undefined): void {
    if (this.#writeClosed && this.output.length > 0) {
      this.#fail(new WriteError(writeAfterHalfClose()))
      return
    }
    const protocol = this.#protocol
    this.#end()
    if (this.output.length > 0) this.ioWrite(this.output.take())
    if (reason !== undefined) this.endReason = reason
    if (reason instanceof HandlerError) this.ioReportError(reason)
    this.ioFinish(reason)
    if (reason !== undefined) this.#reportFatal(protocol, reason)
  }

  /** Abnormal end: close at once, tell the protocol through `fatal`. */
  #fail(reason: Error): void {
    if (this.#ended) return
    const protocol = this.#protocol
    this.#end()
    this.endReason = reason
    this.output.clear()
    if (reason instanceof HandlerError) this.ioReportError(reason) // while the peer's address is still known
    this.ioDestroy(reason)
    this.#reportFatal(protocol, reason)
  }

  /** Tells tracing and the protocol's `fatal` why the stream ended. */
  #reportFatal(protocol: Protocol | null, reason: Error): void {
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
    this.#wakeupDeferred = false
    this.#timeoutPending = false
    this.#pendingException = null
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
  if (!(intent instanceof Intent)) {
    const promise = typeof (intent as { then?: unknown } | null)?.then === 'function'
    const hint = promise ? ' (a Promise: for an async connection handler, pass handleAsync(handler) instead of a factory)' : ''
    throw new TypeError(`${handler} returned ${String(intent)}, not an Intent${hint}`)
  }
  return intent
}

/**
 * What `exception` does when the protocol has no handler: end cleanly at end of stream; after
 * bad input (a limit, a malformed frame) flush the answers already written for the good input
 * before it, then end with the reason, so that the outcome never depends on how TCP split the
 * input; after a read error or a too slow peer, end at once.
 */
function defaultException(reason: Exception): Intent<Protocol> {
  switch (reason.code) {
    case 'RS_ERR_END_OF_STREAM':
      return Intent.done()
    case 'RS_ERR_LIMIT_REACHED':
    case 'RS_ERR_PROTOCOL':
      return Intent.error(reason, { flush: true })
    default:
      return Intent.error(reason)
  }
}

/** The cause of the `WriteError` for output written after `halfClose()` (Node's code for it). */
function writeAfterHalfClose(): Error {
  return Object.assign(new Error('output written after halfClose(): the write side is closed'), { code: 'ERR_STREAM_WRITE_AFTER_END' })
}
