import type { Detached } from './detach.js'
import { LimitReachedError, ProtocolError } from './errors.js'
import { TlsUpgrade } from './starttls.js'
import { checkBoolean, checkMs, checkObject, invalid, isError } from './validate.js'

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
  /** Upgrade to TLS, then `tlsReady` (see `startTls`). */
  StartTls: 8,
  /** Hand the socket and the unconsumed input over (see `Intent.detach`). */
  Detach: 9,
} as const
/** @internal */
export type Kind = (typeof Kind)[keyof typeof Kind]

/** Options of {@link IntentBuilder.expectDelimiter}. */
export interface DelimiterOptions {
  /**
   * Most bytes allowed before the delimiter. When the input holds `max` bytes plus the
   * delimiter's length without a delimiter in them, `exception()` gets a `LimitReachedError`.
   * Required: an unbounded wait for a delimiter lets a peer fill the process's memory.
   * A non-negative safe integer.
   */
  max: number
  /** Skip this many bytes at the start of the input before searching (they are known not to hold it); a non-negative safe integer. @default 0 */
  offset?: number
}

/** Type-only mark of a builder (no value exists at run time): see {@link IntentBuilder}. */
declare const builder: unique symbol

/**
 * The first half of an Intent: the next state is chosen, the expectation is not yet.
 * Exactly one `expect…` or `sleep` call must follow.
 */
export interface IntentBuilder<P> {
  /**
   * Type-only. A builder has no expectation yet; the `Intent` its `expect…` methods return has
   * one and no `expect…` methods, so that an expectation is not set twice by accident
   * (`Intent.of(s).expectBytes(4).expectFlush()`). Keep the builder to set a new one on the same
   * object later (an Intent reused across requests).
   */
  readonly [builder]: true
  /** Wait until at least `n` bytes (a non-negative safe integer) are buffered; `bytesRead` then gets `end = n`. */
  expectBytes(n: number): Intent<P>
  /**
   * Wait until `delimiter` is buffered; `bytesRead` then gets `end` = its position (the bytes
   * before it are `input.view(0, end)`, the delimiter itself is not consumed for you).
   * The search resumes where the last one stopped, so a slow peer costs no rescans.
   * `delimiter` is a non-empty string (utf8) or Uint8Array.
   */
  expectDelimiter(delimiter: Uint8Array | string, options: DelimiterOptions): Intent<P>
  /**
   * Wait until at most `n` bytes of output remain unwritten to the kernel, then call
   * `bytesFlushed`. Nothing is read meanwhile: this is the pushback that keeps a peer who does
   * not read from making the process buffer without bound. `n` is a non-negative safe integer.
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
  /**
   * Upgrades the connection to TLS in its middle (SMTP/IMAP `STARTTLS`, PostgreSQL's
   * SSLRequest), then calls the state's `tlsReady(t, scope)` handler, which returns the next
   * Intent as any handler does. The output written so far leaves first, in plaintext (the
   * "go ahead" answer); nothing is read meanwhile; the handshake is bounded by this Intent's
   * deadline (`.timeout(ms)`), else by the upgrade's `handshakeTimeout`. Plaintext input still
   * unconsumed is refused (see {@link TlsUpgrade}). A failure reaches `exception()` as a
   * `TlsUpgradeError` (`RS_ERR_TLS_UPGRADE`), after which the stream ends.
   *
   * An Intent of its own, not a method on the transport: the upgrade has to happen between two
   * rounds (after the output of this one is written, before anything more is read), which is
   * exactly where the engine takes the next Intent; and the handshake is an event the
   * protocol waits for, as it waits for bytes or a flush.
   */
  startTls(upgrade: TlsUpgrade): Intent<P>
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
 * An Intent's expectation is set once for the type checker (no `expect…` on what `expectBytes`
 * returned); keep the builder from `Intent.of()` to set a new one on the same object.
 *
 * ```ts
 * #line = Intent.of(this).expectDelimiter('\n', { max: 1024 })  // the same expectation each time
 * bytesRead(t, end, scope) { ...; return this.#line.deadline(scope.now() + 30_000) }
 *
 * #next = Intent.of(this)  // a builder: a new expectation each time
 * bytesRead(t, end) { ...; return this.#next.expectBytes(length) }
 * ```
 */
export class Intent<P> {
  /** @internal */ kind: Kind = Kind.Pending
  /** @internal The next protocol state; `undefined` for done and error. */
  readonly state: P
  /** @internal Bytes wanted (Bytes), most bytes before the delimiter (Delimiter), unwritten bytes allowed (Flush). */
  n = 0
  /** @internal Delimiter bytes; only for Kind.Delimiter. */
  delimiter: Buffer | number = 0
  /** @internal Length of the delimiter in bytes; only for Kind.Delimiter. */
  delimiterLength = 0
  /** @internal Where the delimiter search starts; only for Kind.Delimiter. */
  offset = 0
  /**
   * @internal Kind.Delimiter only: past `max`, call `bytesRead` (end -1) instead of `exception()`,
   * so that a framer decides at the first byte past its limit. Set by `expectFrame` after
   * `expectDelimiter`, which clears it.
   */
  limitToRead = false
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
    // The engine calls the state's handlers: catch a missing state here, not as a HandlerError later.
    if (state === null || (typeof state !== 'object' && typeof state !== 'function'))
      throw invalid('Intent.of', 'state', "an object (the protocol's next state)", state)
    return Intent.#builder(new Intent(state))
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
    // isNativeError: an Error made in another realm (a vm context) is an Error too.
    if (!isError(error)) throw invalid('Intent.error', 'error', 'an Error', error)
    const intent = new Intent<never>(undefined as never)
    intent.kind = Kind.Error
    intent.error = error
    if (options !== undefined) {
      const { flush = false } = checkObject<{ flush?: boolean }>('Intent.error', 'options', options)
      intent.flush = checkBoolean('Intent.error', 'options.flush', flush)
    }
    return intent
  }

  /**
   * Ends the protocol without closing the connection: the output written so far is handed to
   * the socket, every listener and timer of the library is removed, the server forgets the
   * connection, and `callback` gets the socket (paused) with a copy of the input not consumed.
   * The stream's `closed` resolves with `undefined`; `fatal` is not called. For an HTTP server
   * passing an `Upgrade: websocket` connection to another library, or switching protocols:
   * bytes the peer sent behind the upgrade request are in `detached.input`, never lost.
   * A callback that throws is reported as a `HandlerError` (to `onError`) and the socket destroyed.
   */
  static detach(callback: (detached: Detached) => void): Intent<never> {
    if (typeof callback !== 'function') throw invalid('Intent.detach', 'callback', 'a function (detached) => void', callback)
    const intent = new Intent<never>(undefined as never)
    intent.kind = Kind.Detach
    extras.set(intent, callback)
    return intent
  }

  /** @internal The upgrade of a `startTls` Intent, or the callback of `detach`. */
  static extra(intent: Intent<unknown>): unknown {
    return extras.get(intent)
  }

  /** {@inheritDoc IntentBuilder.startTls} */
  startTls(this: IntentBuilder<P>, upgrade: TlsUpgrade): Intent<P> {
    if (!(upgrade instanceof TlsUpgrade))
      throw invalid('Intent.startTls', 'upgrade', 'a TlsUpgrade (TlsUpgrade.server(...) or TlsUpgrade.client(...))', upgrade)
    const intent = Intent.#intent(this)
    intent.kind = Kind.StartTls
    extras.set(intent, upgrade)
    return intent
  }

  /**
   * A builder and its Intent are one object (an Intent allocated per request is the cost to keep
   * down); only their types differ. These two are the one place where they meet.
   */
  static #builder<P>(intent: Intent<P>): IntentBuilder<P> {
    return intent as unknown as IntentBuilder<P>
  }
  static #intent<P>(builder: IntentBuilder<P>): Intent<P> {
    return builder as unknown as Intent<P>
  }

  /** {@inheritDoc IntentBuilder.expectBytes} */
  expectBytes(this: IntentBuilder<P>, n: number): Intent<P> {
    if (!(Number.isSafeInteger(n) && n >= 0)) throw invalid('Intent.expectBytes', 'n', 'a non-negative integer', n)
    const intent = Intent.#intent(this)
    intent.kind = Kind.Bytes
    intent.n = n
    return intent
  }

  /** {@inheritDoc IntentBuilder.expectDelimiter} */
  expectDelimiter(this: IntentBuilder<P>, delimiter: Uint8Array | string, options: DelimiterOptions): Intent<P> {
    const bytes = toBuffer(delimiter, 'Intent.expectDelimiter')
    if (typeof options !== 'object' || options === null) throw invalid('Intent.expectDelimiter', 'options', 'an object { max, offset? }', options)
    const { max, offset = 0 } = options
    if (!(Number.isSafeInteger(max) && max >= 0)) throw invalid('Intent.expectDelimiter', 'options.max', 'a non-negative integer', max)
    if (!(Number.isSafeInteger(offset) && offset >= 0)) throw invalid('Intent.expectDelimiter', 'options.offset', 'a non-negative integer', offset)
    const intent = Intent.#intent(this)
    intent.kind = Kind.Delimiter
    // A one-byte delimiter is searched as a number: Buffer#indexOf then runs a plain memchr.
    intent.delimiter = bytes.length === 1 ? (bytes[0] as number) : bytes
    intent.delimiterLength = bytes.length
    intent.n = max
    intent.offset = offset
    intent.limitToRead = false
    return intent
  }

  /** {@inheritDoc IntentBuilder.expectFlush} */
  expectFlush(this: IntentBuilder<P>, n = 0): Intent<P> {
    if (!(Number.isSafeInteger(n) && n >= 0)) throw invalid('Intent.expectFlush', 'n', 'a non-negative integer', n)
    const intent = Intent.#intent(this)
    intent.kind = Kind.Flush
    intent.n = n
    return intent
  }

  /** {@inheritDoc IntentBuilder.sleep} */
  sleep(this: IntentBuilder<P>): Intent<P> {
    const intent = Intent.#intent(this)
    intent.kind = Kind.Sleep
    return intent
  }

  /** {@inheritDoc IntentBuilder.reject} */
  reject(this: IntentBuilder<P>, error: ProtocolError | LimitReachedError): Intent<P> {
    if (!(error instanceof ProtocolError || error instanceof LimitReachedError)) {
      throw invalid('reject', 'error', 'a ProtocolError or a LimitReachedError', error)
    }
    const intent = Intent.#intent(this)
    intent.kind = Kind.Reject
    intent.error = error
    return intent
  }

  /**
   * Calls `timeout` once `Scope.now()` reaches `at` (absolute, in ms), unless another Intent
   * comes first. `Infinity` means no deadline; a time in the past fires at once. Any number but
   * NaN and -Infinity (fractions too: `Scope.now()` has them).
   */
  deadline(at: number): Intent<P> {
    // `> -Infinity` is false for NaN too; typeof first, or '5' would pass as a number.
    if (!(typeof at === 'number' && at > Number.NEGATIVE_INFINITY))
      throw invalid('Intent.deadline', 'at', "a time in ms on Scope.now()'s clock (Infinity for none)", at)
    this.time = at === Number.POSITIVE_INFINITY ? Number.NaN : at
    this.relative = false
    return this
  }

  /**
   * Overrides the stream's `minRate` for this expectation (`null` turns it off): while a frame
   * is open (input buffered, more awaited), the peer must send at least `rate.bytes` bytes in
   * every `rate.per` ms, or `exception()` gets a `TooSlowError`. See {@link MinRate} for the ranges.
   */
  minRate(rate: MinRate | null): Intent<P> {
    this.rate = rate === null ? null : checkMinRate('Intent.minRate', 'rate', rate)
    return this
  }

  /**
   * Calls `timeout` `ms` milliseconds after the stream takes this Intent, unless another Intent
   * comes first. `Infinity` means no deadline. Any number >= 0, fractions too.
   */
  timeout(ms: number): Intent<P> {
    if (!(typeof ms === 'number' && ms >= 0)) throw invalid('Intent.timeout', 'ms', 'a number of ms >= 0 (Infinity for none)', ms)
    this.time = ms === Number.POSITIVE_INFINITY ? Number.NaN : ms
    this.relative = true
    return this
  }
}

/**
 * What `startTls` and `detach` carry, beside their Intent rather than on it: a field on every
 * Intent would cost every request a word of memory for two rare answers.
 */
const extras = new WeakMap<object, unknown>()

/**
 * A minimum data rate: at least `bytes` bytes in every window of `per` ms. It ends a peer that
 * keeps a frame open by dripping bytes just fast enough to defeat an idle deadline (slowloris).
 */
export interface MinRate {
  /** Bytes the peer must send in each window: a positive safe integer. */
  bytes: number
  /** Length of the window: a whole number of ms within 1..2^31-1. */
  per: number
}

/**
 * Validates a {@link MinRate} given to `where` as `name`; throws `InvalidArgumentError`.
 * @internal
 */
export function checkMinRate(where: string, name: string, rate: MinRate): MinRate {
  checkObject(where, name, rate, '{ bytes, per } (or null for none)')
  if (!(Number.isSafeInteger(rate.bytes) && rate.bytes > 0)) throw invalid(where, `${name}.bytes`, 'a positive integer', rate.bytes)
  return { bytes: rate.bytes, per: checkMs(where, `${name}.per`, rate.per, { min: 1 }) }
}

/**
 * A delimiter as a Buffer: Buffers as they are, strings encoded as utf8, other byte arrays
 * viewed, not copied. Throws `InvalidArgumentError` for anything else and for an empty one,
 * naming `where` (the default is its other caller, the async API's `readUntil`).
 * @internal
 */
export function toBuffer(bytes: Uint8Array | string, where = 'readUntil'): Buffer {
  let buffer: Buffer | null = null
  if (Buffer.isBuffer(bytes)) buffer = bytes
  else if (typeof bytes === 'string') buffer = Buffer.from(bytes)
  else if (bytes instanceof Uint8Array) buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  // An empty delimiter would match everywhere: every read would be an empty frame, forever.
  if (buffer === null || buffer.length === 0) throw invalid(where, 'delimiter', 'a non-empty string or Uint8Array', bytes)
  return buffer
}
