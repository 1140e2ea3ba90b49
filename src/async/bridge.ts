/**
 * The protocol under a `Connection`: it turns engine events into settled promises.
 *
 * One read at a time is handed to the engine (`readBytes`, `readDelimited`, `waitBytes`,
 * `waitDelimiter`), and beside it at most one flush (`waitFlush`): while the flush is unmet the
 * engine waits for it and reads nothing (pushback), then goes back to the read. While no read is
 * pending the bridge reads ahead up to READ_AHEAD bytes, then sleeps, so nothing more is read
 * from the socket (backpressure). Arguments are
 * checked by the `Connection`; what the bridge checks again is only what would otherwise leave a
 * promise unsettled forever.
 * Not part of the package's API. (Not tagged internal: on a file's first comment the tag
 * would strip the import below from the declarations.)
 */
import type { Buf } from '../buf.js'
import type { Detached } from '../detach.js'
import { Engine } from '../engine.js'
import { ClosedError, EndOfStreamError, type Exception, InvalidArgumentError, TimeoutError } from '../errors.js'
import type { Framer } from '../framing/framer.js'
import { Intent, type IntentBuilder } from '../intent.js'
import type { Factory, Protocol, Scope, Transport } from '../protocol.js'
import type { TlsUpgrade } from '../starttls.js'
import type { WaitOptions } from './connection.js'

/**
 * While no read waits, the bridge keeps reading until this many bytes are buffered: pipelined
 * requests then arrive while the handler works, and the socket is not paused and resumed
 * between two reads. Past it, nothing is read until the next wait (backpressure).
 */
const READ_AHEAD = 64 * 1024

/** What a wait asks the engine for, and so which event meets it (`bytesRead` or `bytesFlushed`). */
type WaitKind = 'bytes' | 'delimiter' | 'flush'

/**
 * A wait handed to the engine: what it waits for and how it completes. One per wait, from the
 * call that starts it until it settles; while it exists it is the bridge's state (or, after
 * `end()`, held by the finishing state).
 */
class PendingWait {
  /**
   * 'waiting': registered, but the engine still runs the previous expectation (reading ahead or
   * sleep), so its events are not this wait's. 'taken': the engine runs this wait's expectation;
   * its `bytesRead`, `bytesFlushed`, `timeout` or limit settle it. Only ever goes forward.
   */
  phase: 'waiting' | 'taken' = 'waiting'
  readonly kind: WaitKind
  /**
   * Whether `bytesRead` takes the bytes (readExactly, readUntil): it copies the first `end` and
   * resolves with the copy. Consuming there, not later, is also what shows the engine the bridge
   * is not spinning. Otherwise (frames(), flush) the wait resolves with nothing and the caller
   * takes what it needs.
   */
  readonly takes: boolean
  /** Bytes consumed after the taken ones (the delimiter of readUntil); 0 unless `takes`. */
  readonly skip: number
  /** Rejects the wait when it aborts (already-aborted signals never get this far). */
  readonly signal: AbortSignal | undefined
  /**
   * When the wait times out, absolute on the engine's clock (NaN for never): fixed when the wait
   * starts, so that a read set aside for a flush keeps its own deadline.
   */
  readonly deadline: number
  /** A flush: met once at most this many bytes are unwritten; 0 for reads. */
  readonly flushTo: number
  readonly resolve: (bytes: Buffer | undefined) => void
  readonly reject: (reason: unknown) => void

  constructor(
    kind: WaitKind,
    takes: boolean,
    skip: number,
    options: { signal: AbortSignal | undefined; deadline: number; flushTo: number },
    resolve: (bytes: Buffer | undefined) => void,
    reject: (reason: unknown) => void,
  ) {
    this.kind = kind
    this.takes = takes
    this.skip = skip
    this.signal = options.signal
    this.deadline = options.deadline
    this.flushTo = options.flushTo
    this.resolve = resolve
    this.reject = reject
  }
}

/** No wait pending: the bridge reads ahead (up to READ_AHEAD) or sleeps. */
interface Idle {
  readonly phase: 'idle'
}
/**
 * `end()` was called: the next handler returns `Intent.done()`. A wait already pending then (or
 * started after) is `wait`; it is still met by the events of an expectation the engine had
 * taken, rejected by its signal, and otherwise rejected when the stream has closed.
 */
interface Finishing {
  readonly phase: 'finishing'
  wait: PendingWait | null
}
/** The stream has ended: `reason` undefined when cleanly. Final. */
interface Closed {
  readonly phase: 'closed'
  readonly reason: Error | undefined
}
/**
 * The bridge's phase (its read side), with the data each phase has. A flush waits apart, in
 * `#flush`. Transitions:
 *
 *     idle ──wait──▶ waiting ──engine takes it (#next)──▶ taken ──met/timeout/limit/abort──▶ idle
 *                    waiting ──abort / end of stream──▶ idle
 *     idle | waiting | taken ──end()──▶ finishing (keeps the wait) ──stream closed──▶ closed
 *     any ──stream closed / fatal──▶ closed (a pending wait rejects with the reason)
 */
type State = Idle | PendingWait | Finishing | Closed

const IDLE: Idle = Object.freeze({ phase: 'idle' })

/** The closing signal of a bridge not (yet) on a stream. */
const NEVER_ABORTED = new AbortController().signal
/** `startTls()` (with its upgrade) or `detach()` (upgrade null), until it settles. */
interface Handover {
  readonly upgrade: TlsUpgrade | null
  taken: boolean
  readonly resolve: (value: Detached | undefined) => void
  readonly reject: (reason: unknown) => void
}

/** What an aborted signal rejects with: its reason, as `fetch` and `timers/promises` do. @internal */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}

/** The error of a read started while another one is in progress. @internal */
export function inProgress(method: string): InvalidArgumentError {
  return new InvalidArgumentError(`${method}: another read is in progress; start the next read after the previous one settled`)
}

/** A copy of the first `n` readable bytes of `input`, then consumes them and `skip` more. @internal */
export function takeCopy(input: Buf, n: number, skip: number): Buffer {
  const bytes = input.copy(0, n)
  input.consume(n + skip)
  return bytes
}

/**
 * A rejection settled on a later turn of the event loop: a handler that retries its reads in a
 * loop after the end (catching every error) then yields to the event loop on each turn instead
 * of spinning in microtasks, and other connections are served meanwhile.
 */
function rejectLater(reason: Error): Promise<never> {
  return new Promise((_resolve, reject) => setImmediate(reject, reason))
}

/** The protocol that turns engine events into settled promises. @internal */
export class Bridge implements Protocol {
  /** Set by the factory: the stream (its engine), on a socket or in the test kit alike. */
  #engine: Engine | null = null
  #notify: (() => void) | null = null
  #state: State = IDLE
  /**
   * The read side: 'open' reads ahead while idle; 'capped' once reading ahead hit the stream's
   * maxBufferSize (set below READ_AHEAD): only waits read from then on; 'ended' once the peer
   * ended its side (after EndOfStream was delivered): reads reject, writes and flushes go on.
   * Moves forward only.
   */
  #input: 'open' | 'capped' | 'ended' = 'open'
  /** A flush of written output is scheduled (`#flushNow` on the next tick). */
  #flushScheduled = false
  /** Expectation of the pending wait; one per bridge, reset for each wait (the engine copies it). */
  readonly #wait: IntentBuilder<Bridge> = Intent.of<Bridge>(this)
  /** The same object as `#wait`, as the Intent handlers return. */
  readonly #waitIntent: Intent<Bridge> = this.#wait.sleep()
  /**
   * The pending flush, or null: met before the read (the engine waits for it first, reading
   * nothing), rejected when the stream closes. Its phase: 'taken' once `#next` handed it over.
   */
  #flush: PendingWait | null = null
  /** Expectation of the pending flush (the read keeps `#wait`, to be taken again after it). */
  readonly #flushWait: IntentBuilder<Bridge> = Intent.of<Bridge>(this)
  /** Expectation while idle: any byte more than is buffered (see READ_AHEAD); no rate check, nobody waits. */
  readonly #readAhead: IntentBuilder<Bridge> = Intent.of<Bridge>(this)
  readonly #sleep: Intent<Bridge> = Intent.of<Bridge>(this).sleep()
  /** Resolvers of `finish()`, called once the stream has closed. */
  #onClosed: Array<() => void> = []
  /** A TLS upgrade or a detach asked for (`taken` once the engine has the Intent); null otherwise. */
  #handover: Handover | null = null

  get input(): Buf {
    if (this.#engine === null) throw new ClosedError('not connected')
    return this.#engine.input
  }

  /** The peer has ended its side: nothing more will be read. */
  get isEnded(): boolean {
    return this.#input === 'ended'
  }

  /** The stream has ended (cleanly or not). */
  get isClosed(): boolean {
    return this.#state.phase === 'closed'
  }

  /** Aborted when the server starts closing (never on a client connection). */
  get closingSignal(): AbortSignal {
    return this.#engine === null ? NEVER_ABORTED : this.#engine.closingSignal
  }

  /** The stream's transport, once the factory ran. */
  get transport(): Transport | null {
    return this.#engine
  }

  /** The stream factory: the bridge starts asleep and follows the stream to its end. */
  readonly factory: Factory = (t: Transport, _seed: unknown, scope: Scope): Intent<Bridge> => {
    // Every stream is an Engine (a socket's Stream, the test kit's harness): its `closed` and
    // `close` are what `end()` and `destroy()` follow.
    if (!(t instanceof Engine))
      throw new TypeError('the async API runs on a rotor-stream stream (handleAsync(...) is a factory for serve, connect or the test kit)')
    this.#engine = t
    this.#notify = scope.notifier()
    void t.closed.then((reason) => this.#markClosed(reason))
    return this.#sleep
  }

  // --- Waits: one method per kind; each resolves once the engine has met it ----------------------

  /** Resolves with the next `n` bytes (a copy), consumed. */
  readBytes(n: number, options: WaitOptions): Promise<Buffer> {
    const refused = this.#refuse('bytes', options)
    if (refused !== null) return refused
    this.#wait.expectBytes(n)
    return this.#begin('bytes', true, 0, options) as Promise<Buffer>
  }

  /**
   * Resolves with the bytes before `needle` (a copy; at most `max`), consumed with the needle.
   * The search starts at `offset`: the caller searched the bytes before it already.
   */
  readDelimited(needle: Buffer, max: number, offset: number, options: WaitOptions): Promise<Buffer> {
    const refused = this.#refuse('delimiter', options)
    if (refused !== null) return refused
    this.#wait.expectDelimiter(needle, { max, offset })
    return this.#begin('delimiter', true, needle.length, options) as Promise<Buffer>
  }

  /** Resolves once `n` bytes are buffered; they stay there. */
  waitBytes(n: number, options: WaitOptions): Promise<void> {
    const refused = this.#refuse('bytes', options)
    if (refused !== null) return refused
    this.#wait.expectBytes(n)
    return this.#begin('bytes', false, 0, options) as Promise<void>
  }

  /**
   * Resolves once `needle` is buffered within `max` bytes; nothing is consumed. With
   * `rescanAtMax` (a framer's wait), also once `max` is passed without it: the framer decides.
   */
  waitDelimiter(needle: Buffer, max: number, options: WaitOptions, rescanAtMax = false): Promise<void> {
    const refused = this.#refuse('delimiter', options)
    if (refused !== null) return refused
    this.#wait.expectDelimiter(needle, { max, offset: 0 }).limitToRead = rescanAtMax
    return this.#begin('delimiter', false, 0, options) as Promise<void>
  }

  /** Resolves once at most `n` bytes of output remain unwritten; may wait beside a read. */
  waitFlush(n: number, options: WaitOptions): Promise<void> {
    const refused = this.#refuse('flush', options)
    if (refused !== null) return refused
    const { signal } = options
    return new Promise<void>((resolve, reject) => {
      this.#flush = new PendingWait('flush', false, 0, { signal, deadline: this.#deadline(options), flushTo: n }, () => resolve(), reject)
      signal?.addEventListener('abort', this.#onFlushAbort, { once: true })
      this.#wake() // the engine takes the flush in `wakeup`
    })
  }

  /** Upgrades to TLS once the engine takes it (no read or flush may wait); resolves once secure. */
  startTls(upgrade: TlsUpgrade): Promise<void> {
    return this.#handOver('startTls', upgrade) as Promise<void>
  }

  /** Lets the socket go with the unconsumed input (no read or flush may wait). */
  detach(): Promise<Detached> {
    return this.#handOver('detach', null) as Promise<Detached>
  }

  #handOver(method: string, upgrade: TlsUpgrade | null): Promise<Detached | undefined> {
    const state = this.#state
    if (state.phase === 'closed') return rejectLater(state.reason ?? new ClosedError('connection closed'))
    if (state.phase === 'finishing') return Promise.reject(new ClosedError('connection ending'))
    if (this.#pending() !== null || this.#flush !== null || this.#handover !== null)
      return Promise.reject(new InvalidArgumentError(`${method}: a read, flush, startTls or detach is in progress; call it after they settled`))
    return new Promise<Detached | undefined>((resolve, reject) => {
      this.#handover = { upgrade, taken: false, resolve, reject }
      this.#wake()
    })
  }

  /** The absolute deadline of a wait with `options.timeout`, NaN for none. */
  #deadline(options: WaitOptions): number {
    const { timeout } = options
    return timeout === undefined || timeout === Number.POSITIVE_INFINITY || this.#engine === null ? Number.NaN : this.#engine.now() + timeout
  }

  /**
   * The rejection of a wait that cannot start, or null. The Connection checked its arguments
   * and that no other wait runs; the last two checks are a backstop (an already-aborted signal
   * never fires its listener, so the wait would never end).
   */
  #refuse(kind: WaitKind, options: WaitOptions): Promise<never> | null {
    const state = this.#state
    if (state.phase === 'closed') return rejectLater(state.reason ?? new ClosedError('connection closed'))
    if (this.#input === 'ended' && kind !== 'flush') return rejectLater(new EndOfStreamError())
    if ((kind === 'flush' ? this.#flush : this.#pending()) !== null) return Promise.reject(inProgress('wait'))
    const signal = options.signal
    if (signal?.aborted) return Promise.reject(abortReason(signal))
    return null
  }

  /** Starts the wait whose expectation is in `#waitIntent`: idle → waiting (or finishing keeps it). */
  #begin(kind: WaitKind, takes: boolean, skip: number, options: WaitOptions): Promise<Buffer | undefined> {
    const { signal } = options
    const deadline = this.#deadline(options)
    this.#waitIntent.deadline(Number.isNaN(deadline) ? Number.POSITIVE_INFINITY : deadline)
    return new Promise<Buffer | undefined>((resolve, reject) => {
      const wait = new PendingWait(kind, takes, skip, { signal, deadline, flushTo: 0 }, resolve, reject)
      const state = this.#state
      if (state.phase === 'finishing') state.wait = wait
      else this.#state = wait
      signal?.addEventListener('abort', this.#onAbort, { once: true })
      this.#wake() // the engine takes the new expectation in `wakeup`
    })
  }

  /** The pending wait, taken by the engine or not. */
  #pending(): PendingWait | null {
    const state = this.#state
    switch (state.phase) {
      case 'waiting':
      case 'taken':
        return state
      case 'finishing':
        return state.wait
      case 'idle':
      case 'closed':
        return null
      default:
        return unreachable(state)
    }
  }

  /** The pending wait if the engine runs its expectation: the engine's events are then the wait's. */
  #taken(): PendingWait | null {
    const wait = this.#pending()
    return wait !== null && wait.phase === 'taken' ? wait : null
  }

  readonly #onAbort = (): void => {
    const wait = this.#pending()
    if (wait?.signal !== undefined) this.#settle(wait, abortReason(wait.signal))
  }

  readonly #onFlushAbort = (): void => {
    const wait = this.#flush
    if (wait?.signal !== undefined) this.#settle(wait, abortReason(wait.signal))
  }

  /**
   * Resolves (`error` null) or rejects `wait`, the pending one: taken → idle (finishing drops
   * it, closed stays closed). `error` is unknown: a signal's reason may be any value (never null,
   * see abortReason).
   */
  #settle(wait: PendingWait, error: unknown, bytes?: Buffer): void {
    const state = this.#state
    if (this.#flush === wait) {
      this.#flush = null
      wait.signal?.removeEventListener('abort', this.#onFlushAbort)
    } else {
      if (state === wait) this.#state = IDLE
      else if (state.phase === 'finishing' && state.wait === wait) state.wait = null
      wait.signal?.removeEventListener('abort', this.#onAbort)
    }
    if (error === null) wait.resolve(bytes)
    else {
      wait.reject(error)
      this.#wake() // stop waiting for the abandoned expectation
    }
  }

  /** Any phase → closed: a pending wait rejects with the close reason, `finish()` resolves. */
  #markClosed(reason: Error | undefined): void {
    if (this.#state.phase === 'closed') return
    const wait = this.#pending()
    const flush = this.#flush
    this.#state = { phase: 'closed', reason }
    const handover = this.#handover
    this.#handover = null
    handover?.reject(reason ?? new ClosedError('connection closed'))
    if (wait !== null) this.#settle(wait, reason ?? new ClosedError('connection closed'))
    if (flush !== null) this.#settle(flush, reason ?? new ClosedError('connection closed'))
    for (const callback of this.#onClosed) callback()
    this.#onClosed = []
  }

  // --- Output and the end -----------------------------------------------------------------------

  write(data: Uint8Array | string): void {
    this.#output().write(data)
    this.#scheduleFlush()
  }

  /** Appends one frame of `framer` carrying `payload` (what the framer's `encode` checks, it throws). */
  writeFrame(framer: Framer, payload: Uint8Array | string): void {
    framer.encode(this.#output(), payload)
    this.#scheduleFlush()
  }

  #output(): Buf {
    if (this.#state.phase === 'closed' || this.#engine === null) throw new ClosedError('connection closed')
    return this.#engine.output
  }

  #scheduleFlush(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      // After the current burst of awaits settles: process.nextTick runs once the microtask
      // queue is empty, so all of it leaves in one socket write (a microtask would interleave
      // with the awaits and write line by line). Usually the next wait's wakeup wrote it already.
      process.nextTick(this.#flushNow)
    }
  }

  readonly #flushNow = (): void => {
    this.#flushScheduled = false
    if (this.#engine !== null && this.#engine.output.length > 0) this.#wake()
  }

  /** idle | waiting | taken → finishing; resolves once the stream has closed. */
  finish(): Promise<void> {
    const state = this.#state
    if (state.phase === 'closed') return Promise.resolve()
    return new Promise<void>((resolve) => {
      this.#onClosed.push(resolve)
      if (state.phase !== 'finishing') this.#state = { phase: 'finishing', wait: this.#pending() }
      this.#wake()
    })
  }

  destroy(reason?: Error): void {
    this.#engine?.close(reason)
  }

  #wake(): void {
    this.#notify?.()
  }

  // --- Engine events ----------------------------------------------------------------------------

  /** The expectation for the phase: waiting → taken hands the wait's to the engine. */
  #next(): Intent<Bridge> {
    const state = this.#state
    // Idle at a server's close only while frames() waits between frames; a read-ahead (the
    // handler works) or readExactly/readUntil (maybe inside a request: unknowable) is busy.
    ;(this.#engine as Engine).busy = !((state.phase === 'waiting' || state.phase === 'taken') && !state.takes && state.kind !== 'flush')
    const handover = this.#handover
    if (handover !== null && !handover.taken && state.phase !== 'finishing' && state.phase !== 'closed') {
      handover.taken = true
      if (handover.upgrade !== null) return Intent.of<Bridge>(this).startTls(handover.upgrade)
      return Intent.detach((detached) => {
        this.#handover = null
        handover.resolve(detached)
      })
    }
    const flush = this.#flush
    if (flush !== null && state.phase !== 'finishing' && state.phase !== 'closed') {
      // The flush first (nothing is read meanwhile); a read's deadline still counts.
      flush.phase = 'taken'
      const read = this.#pending()
      const at = read !== null && !(read.deadline >= flush.deadline) ? read.deadline : flush.deadline
      return this.#flushWait.expectFlush(flush.flushTo).deadline(Number.isNaN(at) ? Number.POSITIVE_INFINITY : at)
    }
    switch (state.phase) {
      case 'waiting':
        state.phase = 'taken'
        return this.#waitIntent
      case 'taken':
        return this.#waitIntent
      case 'idle': {
        const buffered = this.input.length
        if (this.#input !== 'open' || buffered >= READ_AHEAD) return this.#sleep
        return this.#readAhead.expectBytes(buffered + 1).minRate(null)
      }
      case 'finishing':
        return Intent.done()
      case 'closed':
        // Nothing calls a protocol after its stream has closed; were it to, this is the answer.
        return Intent.done()
      default:
        return unreachable(state)
    }
  }

  wakeup(): Intent<Bridge> {
    return this.#next()
  }

  bytesRead(t: Transport, end: number): Intent<Bridge> {
    // Reading ahead also ends here: only a taken read is met.
    const wait = this.#taken()
    if (wait !== null && wait.kind !== 'flush') this.#settle(wait, null, wait.takes ? takeCopy(t.input, end, wait.skip) : undefined)
    return this.#next()
  }

  bytesFlushed(): Intent<Bridge> {
    const flush = this.#flush
    if (flush !== null && flush.phase === 'taken') this.#settle(flush, null)
    return this.#next()
  }

  timeout(_t: Transport, scope: Scope): Intent<Bridge> {
    // Deadlines are absolute: whichever waits' have passed time out (a read's, also while a flush ran).
    const now = scope.now()
    const flush = this.#flush
    if (flush !== null && flush.deadline <= now) this.#settle(flush, new TimeoutError('flush timed out'))
    const wait = this.#pending()
    if (wait !== null && wait.deadline <= now) this.#settle(wait, new TimeoutError('read timed out'))
    return this.#next()
  }

  tlsReady(): Intent<Bridge> {
    const handover = this.#handover
    this.#handover = null
    handover?.resolve(undefined)
    return this.#next()
  }

  exception(_t: Transport, reason: Exception): Intent<Bridge> {
    const code = reason.code
    if (code === 'RS_ERR_TLS_UPGRADE') {
      const handover = this.#handover
      this.#handover = null
      handover?.reject(reason)
      return Intent.error(reason)
    }
    if (code === 'RS_ERR_END_OF_STREAM') this.#input = 'ended'
    // The end of the stream and a read error end any wait; other exceptions only a taken one.
    const wait = code === 'RS_ERR_END_OF_STREAM' || code === 'RS_ERR_READ' ? this.#pending() : this.#taken()
    if (wait !== null) this.#settle(wait, reason)
    // A limit while reading ahead: maxBufferSize is below READ_AHEAD; read only for waits from now on.
    else if (code === 'RS_ERR_LIMIT_REACHED' && this.#input === 'open') this.#input = 'capped'
    // After end of stream the read side is over; the write side stays usable until end().
    return code === 'RS_ERR_READ' ? Intent.error(reason) : this.#next()
  }

  fatal(reason: Error): void {
    this.#markClosed(reason)
  }
}

function unreachable(value: never): never {
  throw new Error(`unreachable: ${String((value as { phase?: unknown }).phase)}`)
}
