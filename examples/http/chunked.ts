/**
 * An incremental decoder of the chunked transfer coding (RFC 9112 §7.1), for request bodies on
 * the server and response bodies on the client.
 *
 *     chunked-body = *chunk last-chunk trailer-section CRLF
 *     chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *     last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * `decode(input)` eats everything it can from the front of a Buf and says what it needs next:
 * a line, a number of bytes, or nothing (the body is complete). The protocol turns that into an
 * Intent, so the decoder itself knows nothing of streams and is tested on plain Bufs.
 */
import type { Buf } from 'rotor-stream'
import { parseChunkSize } from './parse.js'

const CR = 0x0d
const LF = 0x0a
/** Longest chunk-size line (size and extensions), bytes without CRLF; longer is a 400. */
export const MAX_CHUNK_LINE = 4096
/** Most bytes of trailer field lines (CRLFs not counted) after the last chunk; they are read and dropped; more is a 431. */
export const MAX_TRAILERS = 16 * 1024

/** What the decoder needs before it can go on. */
export type ChunkedNeed =
  /**
   * A CRLF-terminated line of at most `max` bytes (without the CRLF). A server waits with
   * `expectDelimiter('\n', { max: max + 1 })`, so that it is woken by a bare LF too and answers
   * it at once; `expectDelimiter(CRLF, { max })` also works, but a bare LF then waits for a CRLF.
   */
  | { readonly kind: 'line'; readonly max: number }
  /** `n` bytes buffered in all: wait with `expectBytes(n)`. */
  | { readonly kind: 'bytes'; readonly n: number }
  /** The body is complete; `body()` has it, and what follows it is still in the input. */
  | { readonly kind: 'done' }
  /** The body is malformed (400: a bad line, a bare LF), too large (413) or has too many trailers (431). */
  | { readonly kind: 'error'; readonly status: 400 | 413 | 431; readonly message: string }

/** #lineEnd: no LF yet. */
const NO_LINE = -1
/** #lineEnd: the line is longer than allowed. */
const TOO_LONG = -2
/** #lineEnd: an LF without CR before it. */
const BARE_LF = -3
/** 1 for the bytes of a token (RFC 9110 §5.6.2: tchar), 0 for the rest. */
const TCHAR = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1
const COLON = 0x3a
const HTAB = 0x09
const DEL = 0x7f

/**
 * Whether `line` (without its CRLF) is a field line (RFC 9112 §5): a token, a colon at
 * once, then a value of SP, HTAB, visible characters and obs-text — no CR, LF, NUL or other control.
 */
function isFieldLine(line: Buffer): boolean {
  const end = line.length
  let i = 0
  while (i < end && TCHAR[line[i] as number] === 1) i++
  if (i === 0 || i === end || line[i] !== COLON) return false
  for (i++; i < end; i++) {
    const c = line[i] as number
    if ((c < 0x20 && c !== HTAB) || c === DEL) return false
  }
  return true
}

const NEED_SIZE_LINE: ChunkedNeed = Object.freeze({ kind: 'line', max: MAX_CHUNK_LINE })
const DONE: ChunkedNeed = Object.freeze({ kind: 'done' })

/** Decodes one chunked body. Create one per message. */
export class ChunkedDecoder {
  /**
   * `size`: at a chunk-size line. `data`: inside a chunk, `#remaining` data bytes and a CRLF to
   * go. `trailers`: after the last chunk, at a trailer field line or the final empty line.
   */
  phase: 'size' | 'data' | 'trailers' = 'size'
  /** Data bytes of the current chunk not yet read (phase data). */
  #remaining = 0
  /** The decoded data so far, copied out of the input (the input's views die with consume()). */
  readonly #parts: Buffer[] = []
  /** Sum of `#parts` lengths; never above `#maxBody`. */
  #length = 0
  /** Bytes of trailer field lines so far, without their CRLFs (phase trailers); never above MAX_TRAILERS. */
  #trailerBytes = 0
  readonly #maxBody: number

  /** `maxBody`: most decoded bytes accepted; a chunk that would pass it is a 413 before it is read. */
  constructor(maxBody: number) {
    this.#maxBody = maxBody
  }

  /** Decoded bytes so far. */
  get length(): number {
    return this.#length
  }

  /** The decoded body (once `decode` said `done`). */
  body(): Buffer {
    return this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#length)
  }

  /** Decodes from the front of `input`, consuming what it used, until it needs more or is done. */
  decode(input: Buf): ChunkedNeed {
    for (;;) {
      switch (this.phase) {
        case 'size': {
          const end = this.#lineEnd(input, MAX_CHUNK_LINE)
          if (end < 0) return this.#needLine(end, MAX_CHUNK_LINE)
          const size = parseChunkSize(input.toString('latin1', 0, end))
          if (size === null) return { kind: 'error', status: 400, message: 'malformed chunk size' }
          // Checked before a byte of the chunk is buffered: a peer cannot make us hold more.
          if (size > this.#maxBody - this.#length) return { kind: 'error', status: 413, message: `body larger than ${this.#maxBody} bytes` }
          input.consume(end + 2)
          this.#remaining = size
          this.phase = size === 0 ? 'trailers' : 'data'
          break
        }
        case 'data': {
          const n = this.#remaining
          if (input.length < n + 2) return { kind: 'bytes', n: n + 2 }
          if (input.byte(n) !== CR || input.byte(n + 1) !== LF) return { kind: 'error', status: 400, message: 'chunk data not followed by CRLF' }
          this.#parts.push(input.copy(0, n))
          this.#length += n
          input.consume(n + 2)
          this.phase = 'size'
          break
        }
        case 'trailers': {
          const left = MAX_TRAILERS - this.#trailerBytes
          const end = this.#lineEnd(input, left)
          if (end < 0) return this.#needLine(end, left)
          if (end === 0) {
            input.consume(2)
            return DONE // the empty line that ends the message
          }
          // Read as strictly as the head's fields: a line that is not a field could be a request
          // that a proxy in front of us sees as such (smuggling). The trailers are then dropped.
          if (!isFieldLine(input.view(0, end))) return { kind: 'error', status: 400, message: 'malformed trailer field' }
          input.consume(end + 2)
          this.#trailerBytes += end
          break
        }
      }
    }
  }

  /**
   * The error for a line that grew past its bound. The protocol calls it when the stream reports
   * a `LimitReachedError` on the `line` expectation, so that a line too long gives the same answer
   * whether the decoder or the stream noticed it.
   */
  overLimit(): ChunkedNeed {
    return this.phase === 'trailers'
      ? { kind: 'error', status: 431, message: `trailers larger than ${MAX_TRAILERS} bytes` }
      : { kind: 'error', status: 400, message: `chunk size line longer than ${MAX_CHUNK_LINE} bytes` }
  }

  /**
   * Where the CRLF ending the line at the front of `input` is, or why there is none yet: NO_LINE
   * (wait for more), TOO_LONG (past `max` bytes), BARE_LF (an LF without its CR ends it). The
   * bound is the stream's rule for `expectDelimiter('\n', { max: max + 1 })` — an LF found past
   * `max + 1`, or `max + 2` bytes buffered without one — so that the answer does not depend on
   * whether the decoder or the stream noticed.
   */
  #lineEnd(input: Buf, max: number): number {
    const lf = input.indexOf(LF)
    if (lf < 0) return input.length >= max + 2 ? TOO_LONG : NO_LINE
    if (lf > max + 1) return TOO_LONG
    return lf > 0 && input.byte(lf - 1) === CR ? lf - 1 : BARE_LF
  }

  /** The answer to #lineEnd's `why`; `max` is the bound it was given. */
  #needLine(why: number, max: number): ChunkedNeed {
    if (why === BARE_LF) return { kind: 'error', status: 400, message: 'bare LF in a chunked body: lines end with CRLF' }
    if (why === TOO_LONG) return this.overLimit()
    return max === MAX_CHUNK_LINE ? NEED_SIZE_LINE : { kind: 'line', max }
  }
}
