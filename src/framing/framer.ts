import { Buf } from '../buf.js'
import type { LimitReachedError, ProtocolError } from '../errors.js'
import type { Intent, IntentBuilder } from '../intent.js'
import { checkBytes, checkOneOf, invalid } from '../validate.js'

/**
 * What {@link Framer.scan} found at the start of the input:
 * - `frame`: a whole frame is buffered; its payload is `input.view(start, end)` and the frame,
 *   framing included, is the first `size` bytes (consume them when done);
 * - `bytes`: wait until at least `n` bytes are buffered;
 * - `delimiter`: wait for `delimiter` at or after `offset`, at most `max` bytes in. With
 *   `rescanAtMax` the framer judges the limit itself: past `max` without the delimiter, `scan`
 *   must be called again (`expectFrame` and `conn.frames()` do), and it answers `error`,
 *   `discard` or another wait, never this one again;
 * - `error`: the input can never become a valid frame (e.g. a declared length over the limit);
 * - `discard` (only from framers made with `onTooLong: 'discard'`): `size` bytes of an over-long
 *   frame were dropped already (scan consumed them); `error` is the report, once per dropped
 *   frame, on its first `discard`, and `null` on the ones after. Scan again.
 */
export type Scan =
  | { readonly kind: 'frame'; readonly start: number; readonly end: number; readonly size: number }
  | { readonly kind: 'bytes'; readonly n: number }
  | {
      readonly kind: 'delimiter'
      readonly delimiter: Buffer
      readonly max: number
      readonly offset: number
      readonly rescanAtMax?: boolean
    }
  | { readonly kind: 'error'; readonly error: ProtocolError | LimitReachedError }
  | { readonly kind: 'discard'; readonly size: number; readonly error: LimitReachedError | null }

/**
 * A way of cutting a byte stream into frames, and of writing frames. Framers can be shared by
 * any number of streams; they work with both the state-machine API (see {@link expectFrame}) and
 * the async API (`conn.frames(framer)`, `conn.writeFrame(framer, payload)`).
 *
 * A framer made with `onTooLong: 'discard'` remembers, per input `Buf`, that it is in the middle
 * of dropping an over-long frame: scan the same `transport.input` each time, and consume exactly
 * the `size` of each `frame` it returns, nothing else.
 */
export interface Framer {
  /**
   * Looks at the start of `input`. Consumes nothing, except in discard mode (a `discard` result:
   * the bytes it reports are gone already).
   */
  scan(input: Buf): Scan
  /** Appends one frame carrying `payload` to `output`. Throws `InvalidArgumentError` if it cannot be framed. */
  encode(output: Buf, payload: Uint8Array | string): void
  /**
   * Like `scan` but without side effects: never consumes and never reports; answers
   * `{ kind: 'discard', size: 0, error: null }` where `scan` would drop bytes. `expectFrame` uses
   * it when present, so that a report is never taken by it and lost to the protocol.
   */
  peek?(input: Buf): Scan
  /**
   * The peer ended the stream with `input` (not empty) left over and `scan` waiting for more:
   * `frame` takes it as a last frame (tokio's `decode_eof`), `error` refuses it, `discard` drops
   * it. Absent, or without the framer's opt-in, the end inside a frame is an `EndOfStreamError`.
   */
  scanEnd?(input: Buf): Scan | null
}

/** What a framer does with a frame over its limit. */
export type TooLongPolicy = 'error' | 'discard'

/**
 * Turns what a framer waits for into the Intent's expectation, for a protocol that reads frames:
 *
 * ```ts
 * bytesRead(t: Transport): Intent<Echo> {
 *   const scan = FRAMER.scan(t.input)
 *   if (scan.kind === 'frame') { handle(t.input.view(scan.start, scan.end)); t.input.consume(scan.size) }
 *   if (scan.kind === 'error') return Intent.of(this).reject(scan.error) // exception() answers it
 *   return expectFrame(Intent.of(this), FRAMER, t.input)
 * }
 * ```
 * When a whole frame is already buffered (or a `discard` is due) it returns `expectBytes(0)`,
 * so `bytesRead` runs again at once. `bytesRead` may then get `end` -1: a framer's limit was
 * reached and its `scan` decides (see `rescanAtMax`).
 */
export function expectFrame<P>(builder: IntentBuilder<P>, framer: Framer, input: Buf): Intent<P> {
  if (typeof (builder as Partial<IntentBuilder<P>> | null)?.expectBytes !== 'function' || typeof builder.expectDelimiter !== 'function') {
    throw invalid('expectFrame', 'builder', 'an IntentBuilder (Intent.of(state))', builder)
  }
  if (typeof (framer as Partial<Framer> | null)?.scan !== 'function') throw invalid('expectFrame', 'framer', 'a Framer (lines(), lengthPrefixed()...)', framer)
  checkInput('expectFrame', input)
  const scan = framer.peek === undefined ? framer.scan(input) : framer.peek(input)
  switch (scan.kind) {
    case 'frame':
    case 'discard':
      return builder.expectBytes(0)
    case 'bytes':
      return builder.expectBytes(scan.n)
    case 'delimiter': {
      const intent = builder.expectDelimiter(scan.delimiter, { max: scan.max, offset: scan.offset })
      if (scan.rescanAtMax === true) intent.limitToRead = true
      return intent
    }
    case 'error':
      // exception() hears of it after the replies to the frames before it: the same under every split.
      return builder.reject(scan.error)
  }
}

/** Throws unless `input` is a Buf (what `scan` and `expectFrame` read). @internal */
export function checkInput(where: string, input: unknown): void {
  if (!(input instanceof Buf)) throw invalid(where, 'input', 'a Buf (transport.input)', input)
}

/** Checks `encode`'s arguments and returns the payload's bytes. @internal */
export function payloadBytes(where: string, output: unknown, payload: unknown): Uint8Array {
  if (!(output instanceof Buf)) throw invalid(where, 'output', 'a Buf (transport.output)', output)
  const bytes = checkBytes(where, 'payload', payload)
  return typeof bytes === 'string' ? Buffer.from(bytes) : bytes
}

/** Checks an `onTooLong` option. @internal */
export function checkTooLong(where: string, value: unknown): TooLongPolicy {
  return checkOneOf(where, 'options.onTooLong', value, ['error', 'discard'] as const)
}

/** Checks an `unterminated` option. @internal */
export function checkUnterminated(where: string, value: unknown): 'error' | 'frame' {
  return checkOneOf(where, 'options.unterminated', value, ['error', 'frame'] as const)
}

/** The `discard` result of `peek`: bytes are due to be dropped. @internal */
export const DISCARD_DUE: Scan = Object.freeze({ kind: 'discard', size: 0, error: null })

/**
 * State a framer keeps per input Buf while it drops an over-long frame; absent otherwise.
 * Keyed weakly: a stream's Buf going away takes its state with it. @internal
 */
export class PerInput<T> {
  readonly #map = new WeakMap<Buf, T>()
  get(input: Buf): T | undefined {
    return this.#map.get(input)
  }
  set(input: Buf, value: T): void {
    this.#map.set(input, value)
  }
  delete(input: Buf): void {
    this.#map.delete(input)
  }
}
