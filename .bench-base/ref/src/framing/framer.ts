import { Buf } from '../buf.js'
import type { LimitReachedError, ProtocolError } from '../errors.js'
import type { Intent, IntentBuilder } from '../intent.js'
import { checkBytes, invalid } from '../validate.js'

/**
 * What {@link Framer.scan} found at the start of the input:
 * - `frame`: a whole frame is buffered; its payload is `input.view(start, end)` and the frame,
 *   framing included, is the first `size` bytes (consume them when done);
 * - `bytes`: wait until at least `n` bytes are buffered;
 * - `delimiter`: wait for `delimiter` at or after `offset`, at most `max` bytes in;
 * - `error`: the input can never become a valid frame (e.g. a declared length over the limit).
 */
export type Scan =
  | { readonly kind: 'frame'; readonly start: number; readonly end: number; readonly size: number }
  | { readonly kind: 'bytes'; readonly n: number }
  | { readonly kind: 'delimiter'; readonly delimiter: Buffer; readonly max: number; readonly offset: number }
  | { readonly kind: 'error'; readonly error: ProtocolError | LimitReachedError }

/**
 * A way of cutting a byte stream into frames, and of writing frames. Framers are stateless and
 * can be shared by any number of streams; they work with both the state-machine API (see
 * {@link expectFrame}) and the async API (`conn.frames(framer)`).
 */
export interface Framer {
  /** Looks at the start of `input` without consuming anything. */
  scan(input: Buf): Scan
  /** Appends one frame carrying `payload` to `output`. Throws `InvalidArgumentError` if it cannot be framed. */
  encode(output: Buf, payload: Uint8Array | string): void
}

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
 * When a whole frame is already buffered it returns `expectBytes(0)`, so `bytesRead` runs again at once.
 */
export function expectFrame<P>(builder: IntentBuilder<P>, framer: Framer, input: Buf): Intent<P> {
  if (typeof (builder as Partial<IntentBuilder<P>> | null)?.expectBytes !== 'function' || typeof builder.expectDelimiter !== 'function') {
    throw invalid('expectFrame', 'builder', 'an IntentBuilder (Intent.of(state))', builder)
  }
  if (typeof (framer as Partial<Framer> | null)?.scan !== 'function') throw invalid('expectFrame', 'framer', 'a Framer (lines(), lengthPrefixed()...)', framer)
  checkInput('expectFrame', input)
  const scan = framer.scan(input)
  switch (scan.kind) {
    case 'frame':
      return builder.expectBytes(0)
    case 'bytes':
      return builder.expectBytes(scan.n)
    case 'delimiter':
      return builder.expectDelimiter(scan.delimiter, { max: scan.max, offset: scan.offset })
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
