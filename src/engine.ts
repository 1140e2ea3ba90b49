/**
 * The stream loop, independent of any socket. The engine alone decides (what to read, when to
 * call which handler, when to write, when to wake up, how to end); a {@link StreamIO} carries
 * it out: the socket glue (`Stream`, stream.ts) on a `net.Socket`, the test kit on scripted
 * chunks and a virtual clock. Both run exactly this code.
 *
 * After every event (data, end of stream, output written, timer, wakeup) `#run()` calls
 * handlers for as long as the buffered input satisfies the current expectation, writes all
 * output of the round in one write, then decides whether to read and when to wake up.
 */
import { Buf } from './buf.js'
import { withResolvers } from './deferred.js'
import type { Detached } from './detach.js'
import { channels } from './diagnostics.js'
import {
  ClosedError,
  EndOfStreamError,
  type Exception,
  HandlerError,
  LimitReachedError,
  ReadError,
  TimeoutError,
  TlsUpgradeError,
  TooSlowError,
  WriteError,
} from './errors.js'
import { Expectation, TOO_LONG } from './expectation.js'
import { Intent, Kind } from './intent.js'
import type { StreamIO } from './io.js'
import { type Limits, SLEEP_READ_LIMIT } from './limits.js'
import type { Factory, Protocol, Scope, Transport } from './protocol.js'
import { checked, defaultException, NO_PROTOCOL, writeAfterHalfClose } from './protocol-rules.js'
import type { ProxyHeader } from './proxy-protocol.js'
import { RateWindow } from './rate-window.js'
import { SpinGuard } from './spin-guard.js'
import type { TlsUpgrade } from './starttls.js'
import { StreamStats } from './stats.js'
import { type TlsInfo, tlsInfo } from './tls-info.js'
import { invalid, isError } from './validate.js'

// Bits of `Engine.#flags`, read with `#is(FLAG)` and written with `#set(FLAG, on)`.
/** Inside `#run()`: events that arrive now are picked up by the running loop. */
const RUNNING = 1 << 0
/** Processing stopped because too much output is unwritten (automatic pushback). */
const BLOCKED = 1 << 1
/** The deadline passed; `timeout` runs. */
const TIMEOUT_PENDING = 1 << 2
/** A notifier fired; `wakeup` runs. */
const WAKEUP_PENDING = 1 << 3
/** A wakeup asked for from inside `wakeup` waits for a later turn of the event loop. */
const WAKEUP_DEFERRED = 1 << 4
/**
 * The run about to start continues the protocol's own loop (a wakeup it asked for from inside
 * `wakeup`, a deadline its `timeout` set in the past): the spin count goes on instead of restarting.
 */
const SELF_DRIVEN = 1 << 5
/** `timeout` returned a deadline that has already passed. */
const PAST_DEADLINE = 1 << 6
/** The peer sent FIN: no more input will come. */
const EOF = 1 << 7
/** `halfClose()` was called: the write side is closed, output after it is refused. */
const WRITE_CLOSED = 1 << 8
/** The protocol is finished (done, error or fatal); no handler runs any more. */
const ENDED = 1 << 9
/** The I/O below has closed (`closed` resolves at once). */
const IO_CLOSED = 1 << 10
/** The server closes: `scope.closing`. */
const CLOSING = 1 << 11
/** The server closes and idle streams of protocols without `shutdown` end (`idle: 'end'`): checked after every round. */
const END_IDLE = 1 << 12
/** `busy`: a protocol in the middle of something while it waits for input. */
const BUSY = 1 << 13
/** Two bits: the index of the TLS upgrade's phase in UPGRADE_PHASES. */
const UPGRADE_PHASE_SHIFT = 14
const UPGRADE_PHASE = 3 << UPGRADE_PHASE_SHIFT
const UPGRADE_PHASES = ['start', 'handshake', 'secure'] as const
type UpgradePhase = (typeof UPGRADE_PHASES)[number]

/**
 * The state machine runner: the `Transport` and `Scope` a protocol's handlers receive, and what
 * `Stream` adds socket access to. Its state is in a few parts: the buffers; the protocol and
 * its {@link Expectation}; the loop's round (running, clock, unwritten, pushback); the events
 * waiting for the next loop turn; the spin guard; the min-rate window; and the lifecycle
 * (end of input, write side closed, ended, closed).
 */
export class Engine implements Transport, Scope {
  readonly input = new Buf()
  readonly output = new Buf()
  readonly #io: StreamIO
  /** Limits, shared with the other streams of the same server or client. */
  readonly #limits: Limits

  /**
   * The stream's yes/no states, one bit each (the constants above the class): one field instead of fourteen (8 bytes each on a 64-bit heap
   * without pointer compression), for every idle connection.
   */
  #flags = 0
  /** Whether the bit `flag` of `#flags` is set. */
  #is(flag: number): boolean {
    return (this.#flags & flag) !== 0
  }
  #set(flag: number, on: boolean): void {
    this.#flags = on ? this.#flags | flag : this.#flags & ~flag
  }

  // --- The protocol and what it waits for ---------------------------------------------------------
  /** The current protocol state; `NO_PROTOCOL` until the factory returned and after the end. */
  #protocol: Protocol = NO_PROTOCOL
  readonly #expect = new Expectation()
  /** Which handler is running, for `HandlerError`. */
  #handler = 'factory'
  #notifier: (() => void) | null = null

  // --- The round in progress -----------------------------------------------------------------------
  /** `now()` of the current round; NaN between rounds. */
  #now = Number.NaN
  /** Bytes unwritten below us (in the socket) when the round started, or after our last write in it. */
  #unwritten = 0
  /** The wake-up time last passed to `armTimer`: the deadline or the rate check, whichever is first (NaN = none). */
  #armed = Number.NaN

  // --- Events for the next loop turn ---------------------------------------------------------------
  /** An exception to deliver: a rate window closed too slow, or `reject()`. */
  #pendingException: Exception | null = null

  // --- Guards ---------------------------------------------------------------------------------------
  /** Handler calls that change nothing, the end of the stream and ignored limits (see SpinGuard). */
  #guardMade: SpinGuard | null = null
  /** Made at the first handler call it measures: a connection that never sent anything has none. */
  get #guard(): SpinGuard {
    this.#guardMade ??= new SpinGuard()
    return this.#guardMade
  }
  /** The minimum-rate window, made when a rate first applies. */
  #window: RateWindow | null = null

  // --- A TLS upgrade (Intent.startTls) ----------------------------------------------------------------
  /** The upgrade asked for, while it runs; null otherwise. */
  #upgrade: TlsUpgrade | null = null
  /** Where the upgrade stands: to start (output not yet written), handshaking, secure (tlsReady is due). */
  get #upgradePhase(): UpgradePhase {
    return UPGRADE_PHASES[(this.#flags & UPGRADE_PHASE) >> UPGRADE_PHASE_SHIFT] as UpgradePhase
  }
  set #upgradePhase(phase: UpgradePhase) {
    this.#flags = (this.#flags & ~UPGRADE_PHASE) | (UPGRADE_PHASES.indexOf(phase) << UPGRADE_PHASE_SHIFT)
  }

  // --- Lifecycle --------------------------------------------------------------------------------------
  /** Why the stream ended: `undefined` while running and after `Intent.done()` (unless flushing the last output failed). */
  #endReason: Error | undefined = undefined
  /**
   * The counters, made on the first byte in or out (or when asked for): an idle connection has
   * none. They also keep `closed` and its resolver (see `StreamStats.closedWaiter`): one field
   * for both, so that an idle connection is no bigger than before it had counters.
   */
  #stats: StreamStats | null = null

  // --- Server shutdown (see shutdown.ts) ---------------------------------------------------------------
  /** Aborted when the server starts closing; made when first asked for (`Connection.closing`). */
  #closingController: AbortController | null = null
  /**
   * Set by a protocol that knows it is in the middle of something while it waits for input
   * (the async bridge, but while `frames()` waits between frames): never idle then. @internal
   */
  get busy(): boolean {
    return (this.#flags & BUSY) !== 0
  }
  set busy(on: boolean) {
    this.#flags = on ? this.#flags | BUSY : this.#flags & ~BUSY
  }

  /** @internal Runs on `io`; `limits` are checked already (see `Limits`). */
  constructor(io: StreamIO, limits: Limits) {
    this.#io = io
    this.#limits = limits
  }

  // --- Transport and Scope (the engine is both, so a stream allocates neither) ----------------------

  get remoteAddress(): string | undefined {
    return this.#io.endpoints.remoteAddress
  }
  get remotePort(): number | undefined {
    return this.#io.endpoints.remotePort
  }
  get localAddress(): string | undefined {
    return this.#io.endpoints.localAddress
  }
  get localPort(): number | undefined {
    return this.#io.endpoints.localPort
  }
  get proxy(): ProxyHeader | undefined {
    return this.#io.endpoints.proxy
  }

  /** What TLS negotiated on this connection; `null` on a plain one (see {@link TlsInfo}). */
  get tls(): TlsInfo | null {
    return tlsInfo(this.#io.endpoints)
  }

  /** Bytes in and out, reads, writes and time in pushback so far (see {@link StreamStats}). */
  get stats(): StreamStats {
    this.#stats ??= new StreamStats()
    return this.#stats
  }

  /** The counters if any byte went in or out (or `stats` was read); `null` otherwise. @internal */
  get statsIfAny(): StreamStats | null {
    return this.#stats
  }

  /**
   * The time at the start of the current event, in ms: every handler of one round sees the same
   * value, and 32 pipelined requests cost one clock read, not 32.
   */
  now(): number {
    if (Number.isNaN(this.#now)) this.#now = this.#io.clock()
    return this.#now
  }

  notifier(): () => void {
    this.#notifier ??= () => {
      if (this.#is(ENDED) || this.#is(WAKEUP_PENDING)) return
      this.#set(WAKEUP_PENDING, true)
      // Asked for from inside wakeup itself: the next wakeup waits for a later turn of the event
      // loop, so that a protocol polling through its own notifier never starves other connections.
      this.#set(WAKEUP_DEFERRED, this.#is(RUNNING) && this.#handler === 'wakeup')
      this.#io.scheduleWakeup(this.#is(WAKEUP_DEFERRED))
    }
    return this.#notifier
  }

  /**
   * Flushes the output, then closes the write side (FIN); reading goes on. Output written after
   * it ends the stream with a `WriteError` instead of being lost.
   */
  halfClose(): void {
    if (this.#is(ENDED) || this.#is(WRITE_CLOSED)) return
    if (this.output.length > 0) this.#write() // counted as unwritten, as any write: expectFlush stays exact
    this.#set(WRITE_CLOSED, true)
    this.#io.halfClose()
  }

  // --- Control from outside ------------------------------------------------------------------------

  /** True once the protocol has finished; the socket may still be flushing. */
  get isEnded(): boolean {
    return this.#is(ENDED)
  }

  /**
   * Resolves once the connection is fully closed: with `undefined` when the protocol ended with
   * `Intent.done()` and its last output was written, otherwise with the reason (also given to
   * `fatal`, or a `WriteError` when writing the last output after `Intent.done()` failed).
   * Never rejects.
   */
  get closed(): Promise<Error | undefined> {
    const stats = this.stats
    let waiter = stats.closedWaiter
    if (waiter === null) {
      const { promise, resolve } = withResolvers<Error | undefined>()
      if (this.#is(IO_CLOSED)) resolve(this.#endReason)
      waiter = { promise, resolve }
      stats.closedWaiter = waiter
    }
    return waiter.promise
  }

  get closing(): boolean {
    return this.#is(CLOSING)
  }

  /** Aborted (with a `ClosedError`) when the server starts closing; never on client streams. @internal */
  get closingSignal(): AbortSignal {
    if (this.#closingController === null) {
      this.#closingController = new AbortController()
      if (this.#is(CLOSING)) this.#closingController.abort(new ClosedError('server closing'))
    }
    return this.#closingController.signal
  }

  /**
   * The server starts closing: idle streams end now (with `idle` 'end'), busy ones are told
   * (`closing`, the signal, the protocol's `shutdown` handler). Called once per stream. @internal
   */
  shutdown(idle: 'end' | 'wait'): void {
    if (this.#is(CLOSING) || this.#is(ENDED)) return
    this.#set(CLOSING, true)
    this.#set(END_IDLE, idle === 'end')
    this.#closingController?.abort(new ClosedError('server closing'))
    // From inside a handler of this stream (close() called there): told once the round is over.
    if (this.#is(RUNNING)) queueMicrotask(() => this.#tellShutdown())
    else this.#tellShutdown()
  }

  #tellShutdown(): void {
    if (this.#is(ENDED)) return
    const protocol = this.#protocol
    if (!protocol.shutdown) {
      if (this.#is(END_IDLE) && this.#isIdle()) this.#finish(undefined) // a clean end, as Intent.done(): nobody waits for an answer
      return
    }
    this.#set(RUNNING, true)
    this.#now = Number.NaN
    this.#unwritten = this.#io.unwritten()
    this.#handler = 'shutdown'
    this.#io.trace?.({ handler: 'shutdown' })
    try {
      const intent = protocol.shutdown(this, this)
      if (intent !== undefined) this.#take(intent)
    } catch (err) {
      this.#fail(new HandlerError(this.#handler, err))
    }
    this.#set(RUNNING, false)
    this.#run() // writes what the handler wrote, meets what is buffered, settles (and ends if idle)
  }

  /**
   * Waiting for input with nothing buffered either way: between two requests, as far as the
   * engine can tell (a protocol that consumed a request's head and waits for its body looks the
   * same: such a protocol has a `shutdown` handler, and then is never judged by this).
   */
  #isIdle(): boolean {
    return (
      this.#protocol.shutdown === undefined &&
      this.#expect.readsInput &&
      !this.busy &&
      !this.#is(EOF) &&
      this.input.length === 0 &&
      this.output.length === 0 &&
      this.#pendingException === null &&
      this.#io.unwritten() === 0
    )
  }

  /** Runs `wakeup` on the protocol soon (same as calling `notifier()`'s function). */
  wakeup(): void {
    this.notifier()()
  }

  /** Ends the stream from outside at once: the connection is closed, `fatal` gets `reason` (an Error). */
  close(reason: Error = new ClosedError()): void {
    if (!isError(reason)) throw invalid('Stream.close', 'reason', 'an Error (or undefined for a ClosedError)', reason)
    this.#fail(reason)
  }

  // --- Events, reported by the I/O ---------------------------------------------------------------------

  /** Creates the first state through `factory` and runs the first round. @internal */
  start<S>(factory: Factory<S>, seed: S): void {
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

  /** Bytes arrived; the chunk is given away. @internal */
  onData(chunk: Buffer): void {
    if (this.#is(ENDED)) return
    // Reading a frame of known size: the input needs room for all of it (see Buf.append).
    const expect = this.#expect
    this.input.append(chunk, expect.kind === Kind.Bytes ? Math.min(expect.n, this.#limits.maxBufferSize) : 0)
    const stats = this.stats
    stats.bytesIn += chunk.length
    stats.reads++
    this.#window?.count(chunk.length)
    this.#guardMade?.inputArrived()
    this.#run()
  }

  /** The peer sent FIN. @internal */
  onEnd(): void {
    if (this.#is(ENDED) || this.#is(EOF)) return
    this.#set(EOF, true)
    this.#run()
  }

  /** Some output reached the kernel. @internal */
  onWritten(): void {
    if (this.#expect.kind === Kind.Flush || this.#is(BLOCKED)) this.#run()
    else if ((this.#limits.budget !== null || this.#is(END_IDLE)) && !this.#is(ENDED)) this.#settle() // the output it held is gone
  }

  /** The shared memory budget changed state: re-decide whether to read. @internal */
  budgetChanged(): void {
    if (!this.#is(RUNNING) && !this.#is(ENDED)) this.#settle()
  }

  /** The armed timer fired: the deadline passed, a rate window closed, or neither yet (re-arm). @internal */
  onTimer(): void {
    this.#armed = Number.NaN
    if (this.#is(ENDED)) return
    this.#now = Number.NaN
    const now = this.now()
    const expect = this.#expect
    if (now >= expect.deadline) {
      expect.deadline = Number.NaN
      if (expect.kind === Kind.StartTls) {
        this.onTlsFailed(new TlsUpgradeError('timeout', 'the TLS handshake did not finish before the deadline', { cause: new TimeoutError() }))
        return
      }
      this.#set(TIMEOUT_PENDING, true)
      this.#set(SELF_DRIVEN, this.#is(PAST_DEADLINE)) // timeout set a deadline already passed: its own loop
      this.#run()
      return
    }
    const rate = expect.rate
    const received = rate === null || this.#window === null ? -1 : this.#window.check(now, rate)
    if (rate !== null && received >= 0) {
      this.#pendingException = new TooSlowError(received, rate.bytes, rate.per)
      this.#run()
      return
    }
    this.#settle() // fired early (the deadline moved later), or the next rate window started: re-arm
  }

  /** A scheduled wakeup is due. @internal */
  onWakeup(): void {
    this.#run()
  }

  /** A wakeup that `wakeup` asked for is due, a turn later: it continues the protocol's own loop. @internal */
  onDeferredWakeup(): void {
    if (!this.#is(WAKEUP_DEFERRED)) return
    this.#set(WAKEUP_DEFERRED, false)
    this.#set(SELF_DRIVEN, true)
    this.#run()
  }

  /** The TLS handshake of `Intent.startTls` is done: `tlsReady` runs. @internal */
  onTlsReady(): void {
    if (this.#is(ENDED) || this.#upgrade === null) return
    this.#upgradePhase = 'secure'
    this.#run()
  }

  /**
   * The TLS upgrade failed (`cause`: the TLS error, or a `TlsUpgradeError` already): `exception`
   * hears of it, then the stream ends, as after a read error. @internal
   */
  onTlsFailed(cause: unknown): void {
    if (this.#is(ENDED)) return
    const reason =
      cause instanceof TlsUpgradeError
        ? cause
        : new TlsUpgradeError('handshake', `TLS handshake failed: ${String((cause as Error)?.message ?? cause)}`, { cause })
    this.#upgrade = null
    this.#expect.sleep() // whatever exception() answers, no handler runs on the broken connection
    try {
      this.#deliver(reason)
    } catch (err) {
      this.#fail(new HandlerError(this.#handler, err))
    }
    this.#fail(reason)
  }

  /** Reading failed; the connection is gone. @internal */
  onReadError(cause: unknown): void {
    if (this.#is(ENDED)) return
    const reason = new ReadError(cause)
    try {
      this.#deliver(reason) // taken as any answer is, so an end (done, error) is the protocol's choice
    } catch (err) {
      this.#fail(new HandlerError(this.#handler, err))
    }
    // Nothing can be read or written any more: an answer that is not an end cannot be carried out.
    this.#fail(reason)
  }

  /** Writing failed. @internal */
  onWriteError(cause: unknown): void {
    if (!this.#is(ENDED)) this.#fail(new WriteError(cause))
    // After Intent.done() the last output failed to go out: the end was not clean after all.
    else this.#endReason ??= new WriteError(cause)
  }

  /** The I/O below has closed for good; ends the stream if it still ran. @internal */
  onClosed(): void {
    if (this.#is(IO_CLOSED)) return
    this.#fail(new ClosedError('socket closed before the protocol finished'))
    this.#set(IO_CLOSED, true)
    this.#stats?.closedWaiter?.resolve(this.#endReason)
  }

  /** Why the stream ended, once it has (undefined for a clean end). @internal */
  get endReason(): Error | undefined {
    return this.#endReason
  }

  // --- The loop ---------------------------------------------------------------------------------------

  /** Runs handlers while buffered input satisfies the expectation, writes once, then settles. */
  #run(): void {
    if (this.#is(RUNNING) || this.#is(ENDED)) return
    this.#set(RUNNING, true)
    this.#now = Number.NaN
    this.#unwritten = this.#io.unwritten()
    // An event from outside (input, a completed write, a deadline, a notifier) restarts the spin
    // count; a wakeup or deadline the protocol set up for itself continues it.
    if (this.#is(SELF_DRIVEN)) this.#set(SELF_DRIVEN, false)
    else this.#guardMade?.reset()
    try {
      for (;;) {
        if (this.#pendingException !== null) {
          const reason = this.#pendingException
          this.#pendingException = null
          this.#deliver(reason)
        } else if (this.#is(TIMEOUT_PENDING)) {
          this.#set(TIMEOUT_PENDING, false)
          this.#call('timeout', -1)
        } else if (this.#is(WAKEUP_PENDING) && !this.#is(WAKEUP_DEFERRED)) {
          this.#set(WAKEUP_PENDING, false)
          this.#call('wakeup', -1)
        } else if (!this.#step()) {
          if (this.#is(ENDED) || this.output.length === 0) break
          this.#write()
          // A synchronous write may already satisfy a flush expectation: go round once more.
          if (this.#expect.kind !== Kind.Flush) break
        }
        if (this.#is(ENDED)) break
      }
    } catch (err) {
      this.#fail(new HandlerError(this.#handler, err))
    }
    this.#set(RUNNING, false)
    if (!this.#is(ENDED)) this.#settle()
    this.#now = Number.NaN // outside a round, now() reads the clock again
  }

  /** Calls at most one handler if the current expectation can be met now; returns whether it did. */
  #step(): boolean {
    const expect = this.#expect
    const input = this.input
    const limits = this.#limits
    switch (expect.kind) {
      case Kind.Bytes:
        if (this.#pushedBack()) return false
        if (expect.n > limits.maxBufferSize) return this.#limit(limits.maxBufferSize)
        if (input.length >= expect.n) return this.#call('bytesRead', expect.n)
        break
      case Kind.Delimiter: {
        if (this.#pushedBack()) return false
        const at = expect.findDelimiter(input, limits.maxBufferSize)
        if (at >= 0) return this.#call('bytesRead', at)
        if (at === TOO_LONG) {
          // A framer's own max (not the stream's maxBufferSize) was passed: the framer decides, at once.
          if (expect.limitToRead && expect.n <= limits.maxBufferSize - expect.delimiterLength) return this.#call('bytesRead', -1)
          return this.#limit(expect.delimiterLimit(limits.maxBufferSize))
        }
        break
      }
      case Kind.Flush:
        // A flush point above outputHighWaterMark is held to it: a bytesFlushed that writes and
        // asks again cannot grow the output past the automatic pushback.
        if (this.output.length + this.#unwritten <= Math.min(expect.n, limits.outputHighWaterMark)) return this.#call('bytesFlushed', -1)
        return false
      case Kind.StartTls:
        return this.#upgradeStep()
      case Kind.Sleep:
        // Asleep, the peer's FIN is still news, once: a client idle between requests learns at
        // once that its server went away, instead of losing the next request.
        if (!this.#is(EOF) || this.#guardMade?.endTold === true) return false
        break
    }
    if (!this.#is(EOF)) return false
    // A read expectation that can never be met: the peer has finished sending.
    if (!this.#guard.tellEnd()) {
      this.#fail(new EndOfStreamError('end of stream: the protocol kept waiting for input after it was told'))
      return false
    }
    this.#deliver(new EndOfStreamError())
    return true
  }

  /**
   * Calls `handler` (`end` is bytesRead's argument, -1 for the others) and takes its answer,
   * under the spin guard. Returns true: a handler ran.
   */
  #call(handler: 'bytesRead' | 'bytesFlushed' | 'timeout' | 'wakeup' | 'tlsReady', end: number): boolean {
    const protocol = this.#protocol
    this.#handler = handler
    this.#io.trace?.(handler === 'bytesRead' ? { handler, end } : { handler })
    let intent: Intent<Protocol>
    const input = this.input.length
    const output = this.output.length
    switch (handler) {
      case 'bytesRead':
        intent = protocol.bytesRead(this, end, this)
        break
      case 'bytesFlushed':
        intent = protocol.bytesFlushed ? protocol.bytesFlushed(this, this) : Intent.done()
        break
      case 'timeout':
        intent = protocol.timeout ? protocol.timeout(this, this) : Intent.error(new TimeoutError())
        break
      case 'wakeup':
        // Without a handler a wakeup changes nothing: the same expectation and deadline stand.
        if (!protocol.wakeup) return true
        intent = protocol.wakeup(this, this)
        break
      case 'tlsReady':
        intent = (protocol.tlsReady as NonNullable<Protocol['tlsReady']>)(this, this) // checked when startTls was taken
        break
    }
    this.#take(intent)
    this.#guard.after(handler, this.input.length < input, this.output.length > output, end)
    return true
  }

  /**
   * The `startTls` expectation: first refuse unconsumed plaintext (see TlsUpgrade), write the
   * output of the round in plaintext and hand the socket to the I/O; then nothing until the
   * handshake ends; then `tlsReady`. Returns true when a handler ran.
   */
  #upgradeStep(): boolean {
    const upgrade = this.#upgrade as TlsUpgrade
    switch (this.#upgradePhase) {
      case 'handshake':
        return false
      case 'secure':
        this.#upgrade = null
        return this.#call('tlsReady', -1)
    }
    this.#upgradePhase = 'handshake'
    const input = this.input
    let fed: Buffer | null = null
    if (input.length > 0) {
      if (upgrade.unconsumed === 'refuse') {
        this.onTlsFailed(
          new TlsUpgradeError(
            'unconsumed-input',
            `${input.length} plaintext bytes were received and not consumed before the TLS upgrade: refused, as they must not be taken for encrypted ones (use unconsumed: 'feed' to hand them to TLS on purpose)`,
          ),
        )
        return true
      }
      fed = input.copy()
      input.consume(input.length)
    }
    if (this.output.length > 0) this.#write()
    if (this.#is(ENDED)) return true
    const refused = this.#io.startTls === undefined ? new TlsUpgradeError('unsupported', 'this stream cannot upgrade to TLS') : this.#io.startTls(upgrade, fed)
    if (refused !== null) {
      this.onTlsFailed(refused)
      return true
    }
    return false
  }

  /**
   * `Intent.detach`: the output leaves, the protocol ends, the I/O lets the socket go, and the
   * callback gets it with the unconsumed input.
   */
  #detach(callback: (detached: Detached) => void): void {
    if (this.#is(WRITE_CLOSED) && this.output.length > 0) {
      this.#fail(new WriteError(writeAfterHalfClose()))
      return
    }
    if (this.#io.detach === undefined || this.#upgrade !== null) {
      this.#fail(new HandlerError(this.#handler, new TypeError('this stream cannot detach now (no socket, or a TLS upgrade runs)')))
      return
    }
    const input = this.input.copy()
    this.input.consume(input.length)
    this.#end()
    if (this.output.length > 0) this.#io.write(this.output.take())
    const socket = this.#io.detach()
    this.#set(IO_CLOSED, true)
    this.#stats?.closedWaiter?.resolve(undefined)
    try {
      callback({ socket, input })
    } catch (err) {
      // The socket was handed over: a callback that throws leaves it to no one.
      this.#io.reportError(new HandlerError('detach', err))
      socket.destroy()
    }
  }

  /** Delivers LimitReached, unless the protocol already ignored the same one. */
  #limit(limit: number): boolean {
    const reason = new LimitReachedError(limit)
    if (!this.#guard.tellLimit(this.input.length)) {
      this.#fail(reason) // the exception handler consumed nothing and asked again: it would spin forever
      return false
    }
    this.#deliver(reason)
    return true
  }

  /** Calls `exception` with `reason` and takes its answer, under the spin guard. */
  #deliver(reason: Exception): void {
    this.#handler = 'exception'
    const input = this.input.length
    const output = this.output.length
    this.#take(this.#exception(reason))
    this.#guard.after('exception', this.input.length < input, this.output.length > output, -1)
  }

  #exception(reason: Exception): Intent<Protocol> {
    if (channels.streamException.hasSubscribers) channels.streamException.publish({ stream: this, reason })
    this.#io.trace?.({ handler: 'exception', reason })
    const protocol = this.#protocol
    if (protocol.exception) return protocol.exception(this, reason, this)
    return defaultException(reason)
  }

  /** True (and remembered) while too much output is unwritten to process more input. */
  #pushedBack(): boolean {
    if (this.output.length + this.#unwritten <= this.#limits.outputHighWaterMark) {
      if (this.#is(BLOCKED)) this.#stats?.pushbackEnded(this.now())
      this.#set(BLOCKED, false)
      return false
    }
    // Hand what we have to the socket first: it may take it all at once.
    if (this.output.length > 0) this.#write()
    this.#set(BLOCKED, this.#unwritten > this.#limits.outputHighWaterMark)
    if (this.#is(BLOCKED)) this.#stats?.pushbackStarted(this.now()) // written before: the counters exist
    return this.#is(BLOCKED)
  }

  #write(): void {
    if (this.#is(WRITE_CLOSED)) {
      this.#fail(new WriteError(writeAfterHalfClose()))
      return
    }
    this.#unwritten = this.#io.write(this.#counted(this.output.take()))
  }

  /** Counts `data` as one write. */
  #counted(data: Buffer): Buffer {
    const stats = this.stats
    stats.bytesOut += data.length
    stats.writes++
    return data
  }

  /** Adopts the next Intent returned by a handler. */
  #take(intent: Intent<Protocol>): void {
    if (this.#is(ENDED)) return // the stream was closed during the handler; its answer does not matter
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
        this.#expect.sleep()
        this.#pendingException = intent.error as Exception
        return
      case Kind.Pending:
        throw new TypeError(`${this.#handler} returned Intent.of() without an expectation (expectBytes, expectDelimiter, expectFlush or sleep)`)
      case Kind.Detach:
        this.#detach(Intent.extra(intent) as (detached: Detached) => void)
        return
      case Kind.StartTls:
        this.#takeUpgrade(intent)
        return
    }
    this.#protocol = intent.state
    const expect = this.#expect
    expect.adopt(intent, intent.relative ? this.now() : 0, this.#limits.minRate) // the clock is read only when needed
    this.#set(PAST_DEADLINE, this.#handler === 'timeout' && expect.deadline <= this.now())
  }

  /** Takes a `startTls` Intent: the upgrade starts in the loop's next step (see `#upgradeStep`). */
  #takeUpgrade(intent: Intent<Protocol>): void {
    if (typeof intent.state.tlsReady !== 'function') throw new TypeError(`${this.#handler} returned startTls() on a state without a tlsReady handler`)
    if (this.#upgrade !== null) throw new TypeError(`${this.#handler} returned startTls() while a TLS upgrade runs`)
    const upgrade = Intent.extra(intent) as TlsUpgrade
    this.#protocol = intent.state
    const expect = this.#expect
    expect.adopt(intent, intent.relative ? this.now() : 0, null)
    // Bounded always: without a deadline of its own, the upgrade's handshakeTimeout.
    if (Number.isNaN(expect.deadline)) expect.deadline = this.now() + upgrade.handshakeTimeout
    this.#upgrade = upgrade
    this.#upgradePhase = 'start'
  }

  /** After a round: read only while waiting for input, keep one timer on the earliest wake-up. */
  #settle(): void {
    if (this.#is(END_IDLE) && this.#isIdle()) {
      this.#finish(undefined) // a clean end, as Intent.done(): nobody waits for an answer
      return
    }
    const expect = this.#expect
    // Drained input keeps large storage only while large frames are read (see Buf.release).
    this.input.release(expect.kind === Kind.Bytes ? expect.n : 0)
    const waiting = expect.readsInput
    // Asleep, a little is still read: the peer's FIN or reset shows only to a reading socket.
    const asleep = expect.kind === Kind.Sleep && this.input.length < Math.min(SLEEP_READ_LIMIT, this.#limits.maxBufferSize)
    let reading = (waiting || asleep) && !this.#is(EOF) && !this.#is(BLOCKED)
    const budget = this.#limits.budget
    if (budget !== null) {
      const wait = reading && waiting ? 'input' : this.#is(BLOCKED) || expect.kind === Kind.Flush ? 'output' : 'other'
      const may = budget.update(this, this.input.capacity, this.output.length + this.#io.unwritten(), wait)
      // A sleeper's read-ahead is no claim on the budget: it stops while the budget is exhausted
      // (and resumes with its next event), and never takes the grant from a stream that waits for input.
      reading = wait === 'input' ? may : reading && !budget.isExhausted
    }
    this.#io.setReading(reading)
    let wake = expect.deadline
    const rate = expect.rate
    if (rate !== null && reading && waiting && this.input.length > 0) {
      // A frame is open and the peer owes us the rest: measure its pace from now on.
      this.#window ??= new RateWindow()
      const check = this.#window.open(this.now(), rate)
      if (!(check >= wake)) wake = check // NaN-safe minimum
    } else {
      this.#window?.stop()
    }
    if (!Object.is(wake, this.#armed)) {
      this.#armed = wake
      this.#io.armTimer(wake)
    }
  }

  /**
   * End after a flush: the output written so far leaves, then the connection closes. Clean
   * without `reason`; with one (`Intent.error(e, { flush: true })`) the stream still ends with it.
   */
  #finish(reason: Error | undefined): void {
    if (this.#is(WRITE_CLOSED) && this.output.length > 0) {
      this.#fail(new WriteError(writeAfterHalfClose()))
      return
    }
    const protocol = this.#protocol
    this.#end()
    if (this.output.length > 0) this.#io.write(this.#counted(this.output.take()))
    if (reason !== undefined) this.#endReason = reason
    if (reason instanceof HandlerError) this.#io.reportError(reason)
    this.#io.finish(reason)
    if (reason !== undefined) this.#reportFatal(protocol, reason)
  }

  /** Abnormal end: close at once, tell the protocol through `fatal`. */
  #fail(reason: Error): void {
    if (this.#is(ENDED)) return
    const protocol = this.#protocol
    this.#end()
    this.#endReason = reason
    this.output.clear()
    if (reason instanceof HandlerError) this.#io.reportError(reason) // while the peer's address is still known
    this.#io.destroy(reason)
    this.#reportFatal(protocol, reason)
  }

  /** Tells tracing and the protocol's `fatal` why the stream ended. */
  #reportFatal(protocol: Protocol, reason: Error): void {
    if (channels.streamFatal.hasSubscribers) channels.streamFatal.publish({ stream: this, reason })
    this.#io.trace?.({ handler: 'fatal', reason })
    if (protocol.fatal) {
      try {
        protocol.fatal(reason, this)
      } catch {
        // fatal is the last word: an error there has nowhere left to go
      }
    }
  }

  #end(): void {
    this.#set(ENDED, true)
    if (this.#is(BLOCKED)) this.#stats?.pushbackEnded(this.#io.clock())
    this.#limits.budget?.leave(this)
    this.#protocol = NO_PROTOCOL // the state may hold much: let it go
    this.#expect.clear()
    this.#set(WAKEUP_PENDING, false)
    this.#set(WAKEUP_DEFERRED, false)
    this.#set(TIMEOUT_PENDING, false)
    this.#pendingException = null
    this.#window?.stop()
    if (!Number.isNaN(this.#armed)) {
      this.#armed = Number.NaN
      this.#io.armTimer(Number.NaN)
    }
    this.#io.setReading(false)
  }
}
