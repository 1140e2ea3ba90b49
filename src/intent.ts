import { MAX_TIMER } from './deadline.js'
import { InvalidArgumentError, LimitReachedError, ProtocolError } from './errors.js'

/**
 * What a stream waits for next. Small integers keep the engine's switch cheap.
 * @internal
 */
export const Kind = {
  /** Built by `Intent.of()` but no expectation chosen yet: a bug in the protocol. */
  Pending: 0,
  Bytes: 1,
  Delimiter: 2,
  Flush: 3,
  Sleep: 4,
  Done: 5,
  Error: 6,
  /** Bad input: `exception()` gets the error next (see `reject`). */
  Reject: 7,
} as const
/** @internal */
export type Kind = (typeof Kind)[keyof typeof Kind]

/** Options of {@link IntentBuilder.expectDelimiter}. */
export interface DelimiterOptions {
  /**
   * Most bytes allowed before the delimiter. When the input holds `max` bytes plus the
   * delimiter's length without a delimiter in them, `exception()` gets a `LimitReachedError`.
   * Required: an unbounded wait for a delimiter lets a peer fill the process's memory.
   */
  max: number
  /** Skip this many bytes at the start of the input before searching (they are known not to hold it). @default 0 */
  offset?: number
}

/**
 * The first half of an Intent: the next state is chosen, the expectation is not yet.
 * Exactly one `expect…` or `sleep` call must follow.
 */
export interface IntentBuilder<P> {
  /** Wait until at least `n` bytes are buffered; `bytesRead` then gets `end = n`. */
  expectBytes(n: number): Intent<P>
  /**
   * Wait until `delimiter` is buffered; `bytesRead` then gets `end` = its position (the bytes
   * before it are `input.view(0, end)`, the delimiter itself is not consumed for you).
   * The search resumes where the last one stopped, so a slow peer costs no rescans.
   */
  expectDelimiter(delimiter: Uint8Array | string, options: DelimiterOptions): Intent<P>
  /**
   * Wait until at most `n` bytes of output remain unwritten to the kernel, then call
   * `bytesFlushed`. Nothing is read meanwhile: this is the pushback that keeps a peer who does
   * not read from making the process buffer without bound.
   */
  expectFlush(n?: number): Intent<P>
  /**
   * Wait for `wakeup` (see `Scope.notifier()`) or the deadline. Input is not handed to the
   * protocol meanwhile; the stream reads at most a few KiB ahead (`SLEEP_READ_LIMIT`), so that
   * the peer's FIN or a reset reaches `exception()` while asleep.
   */
  sleep(): Intent<P>
  /**
   * The peer's input is bad and the protocol will not parse further: `exception(t, error)` runs
   * next, on this state, after the answers already written for the input before it. Its default
   * flushes those answers, then ends the stream with `error`, identically however TCP split the
   * input. `expectFrame()` answers a malformed or oversized frame with it.
   */
  reject(error: ProtocolError | LimitReachedError): Intent<P>
}

/**
 * A handler's answer: the protocol's next state, what it waits for, and optionally a deadline.
 *
 * ```ts
 * return Intent.of(this).expectDelimiter(CRLF, { max: 4096 }).timeout(30_000)
 * ```
 *
 * The stream copies an Intent when a handler returns it, so a protocol may keep one and return
 * it again, with a new deadline or expectation: a hot loop then allocates no Intent per request.
 *
 * ```ts
 * #next = Intent.of(this).expectDelimiter('\n', { max: 1024 })
 * bytesRead(t, end, scope) { ...; return this.#next.deadline(scope.now() + 30_000) }
 * ```
 */
export class Intent<P> implements IntentBuilder<P> {
  /** @internal */ kind: Kind = Kind.Pending
  /** @internal The next protocol state; `undefined` for done and error. */
  readonly state: P
  /** @internal Bytes wanted (Bytes), most bytes before the delimiter (Delimiter), unwritten bytes allowed (Flush). */
  n = 0
  /** @internal Delimiter bytes; only for Kind.Delimiter. */
  delimiter: Buffer | number | null = null
  /** @internal Length of the delimiter in bytes; only for Kind.Delimiter. */
  delimiterLength = 0
  /** @internal Where the delimiter search starts; only for Kind.Delimiter. */
  offset = 0
  /**
   * @internal The deadline: absolute ms of `Scope.now()`'s clock, or with `relative` ms after the
   * stream takes this Intent; NaN for none. One number, not two: each costs a heap box per Intent.
   */
  time = Number.NaN
  /** @internal `time` is relative (`timeout()`), not absolute (`deadline()`). */
  relative = false
  /** @internal The reason of `Intent.error()` and `reject()`. */
  error: Error | null = null
  /** @internal `Intent.error(e, { flush: true })`: the output written so far leaves before the close. */
  flush = false
  /** @internal This expectation's minimum data rate: undefined = the stream's, null = none. */
  rate: MinRate | null | undefined = undefined

  private constructor(state: P) {
    this.state = state
  }

  /** Starts an Intent whose next state is `state` (usually `this`, or a new state object). */
  static of<P>(state: P): IntentBuilder<P> {
    return new Intent(state)
  }

  /** Ends the stream cleanly: buffered output is flushed, then the socket is closed. */
  static done(): Intent<never> {
    const intent = new Intent<never>(undefined as never)
    intent.kind = Kind.Done
    return intent
  }

  /**
   * Ends the stream with `error` and reports it to `fatal`: at once, dropping pending output, or
   * with `{ flush: true }` after the output written so far has left (for example the replies to
   * the requests before a bad one). For bad peer input prefer a `ProtocolError`.
   */
  static error(error: Error, options?: { flush?: boolean }): Intent<never> {
    if (!(error instanceof Error)) throw new InvalidArgumentError(`Intent.error: error must be an Error, got ${String(error)}`)
    const intent = new Intent<never>(undefined as never)
    intent.kind = Kind.Error
    intent.error = error
    intent.flush = options?.flush === true
    return intent
  }

  expectBytes(n: number): Intent<P> {
    if (!(Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError(`expectBytes: n must be a non-negative integer, got ${n}`)
    this.kind = Kind.Bytes
    this.n = n
    return this
  }

  expectDelimiter(delimiter: Uint8Array | string, options: DelimiterOptions): Intent<P> {
    const bytes = toBuffer(delimiter)
    const { max, offset = 0 } = options
    if (bytes.length === 0) throw new InvalidArgumentError('expectDelimiter: the delimiter is empty')
    if (!(Number.isInteger(max) && max >= 0)) throw new InvalidArgumentError(`expectDelimiter: max must be a non-negative integer, got ${max}`)
    if (!(Number.isInteger(offset) && offset >= 0)) throw new InvalidArgumentError(`expectDelimiter: offset must be a non-negative integer, got ${offset}`)
    this.kind = Kind.Delimiter
    // A one-byte delimiter is searched as a number: Buffer#indexOf then runs a plain memchr.
    this.delimiter = bytes.length === 1 ? (bytes[0] as number) : bytes
    this.delimiterLength = bytes.length
    this.n = max
    this.offset = offset
    return this
  }

  expectFlush(n = 0): Intent<P> {
    if (!(Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError(`expectFlush: n must be a non-negative integer, got ${n}`)
    this.kind = Kind.Flush
    this.n = n
    return this
  }

  sleep(): Intent<P> {
    this.kind = Kind.Sleep
    return this
  }

  reject(error: ProtocolError | LimitReachedError): Intent<P> {
    if (!(error instanceof ProtocolError || error instanceof LimitReachedError)) {
      throw new InvalidArgumentError(`reject: error must be a ProtocolError or a LimitReachedError, got ${String(error)}`)
    }
    this.kind = Kind.Reject
    this.error = error
    return this
  }

  /**
   * Calls `timeout` once `Scope.now()` reaches `at` (absolute, in ms), unless another Intent
   * comes first. `Infinity` means no deadline.
   */
  deadline(at: number): Intent<P> {
    if (Number.isNaN(at)) throw new InvalidArgumentError('deadline: NaN')
    this.time = at === Number.POSITIVE_INFINITY ? Number.NaN : at
    this.relative = false
    return this
  }

  /**
   * Overrides the stream's `minRate` for this expectation (`null` turns it off): while a frame
   * is open (input buffered, more awaited), the peer must send at least `rate.bytes` bytes in
   * every `rate.per` ms, or `exception()` gets a `TooSlowError`.
   */
  minRate(rate: MinRate | null): Intent<P> {
    this.rate = rate === null ? null : checkMinRate(rate)
    return this
  }

  /**
   * Calls `timeout` `ms` milliseconds after the stream takes this Intent, unless another Intent
   * comes first. `Infinity` means no deadline.
   */
  timeout(ms: number): Intent<P> {
    if (!(ms >= 0)) throw new InvalidArgumentError(`timeout: ms must be >= 0, got ${ms}`)
    this.time = ms === Number.POSITIVE_INFINITY ? Number.NaN : ms
    this.relative = true
    return this
  }
}

/**
 * A minimum data rate: at least `bytes` bytes in every window of `per` ms. It ends a peer that
 * keeps a frame open by dripping bytes just fast enough to defeat an idle deadline (slowloris).
 */
export interface MinRate {
  /** Bytes the peer must send in each window. */
  bytes: number
  /** Length of the window, in ms. */
  per: number
}

/** Validates a {@link MinRate}; throws `InvalidArgumentError`. */
export function checkMinRate(rate: MinRate): MinRate {
  if (!(rate !== null && typeof rate === 'object' && Number.isInteger(rate.bytes) && rate.bytes > 0 && rate.per > 0 && rate.per <= MAX_TIMER)) {
    throw new InvalidArgumentError(`minRate must be { bytes: integer > 0, per: ms > 0 }, got ${JSON.stringify(rate)}`)
  }
  return { bytes: rate.bytes, per: rate.per }
}

/** A delimiter as a Buffer: Buffers as they are, strings encoded as utf8, other byte arrays viewed, not copied. @internal */
export function toBuffer(bytes: Uint8Array | string): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes
  return typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
}
