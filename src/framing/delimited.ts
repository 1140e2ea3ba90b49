import type { Buf } from '../buf.js'
import { InvalidArgumentError, LimitReachedError } from '../errors.js'
import { toBuffer } from '../intent.js'
import { checkBoolean, checkInteger, checkObject, invalid } from '../validate.js'
import { checkInput, checkTooLong, checkUnterminated, DISCARD_DUE, type Framer, PerInput, payloadBytes, type Scan, type TooLongPolicy } from './framer.js'

/** Options of {@link delimited}. */
export interface DelimitedOptions {
  /**
   * What ends a frame: one delimiter or several (a non-empty array), each a non-empty string
   * (UTF-8) or Uint8Array. With several, a frame ends at the earliest one; of two starting at
   * the same byte, the longer wins (`['\r', '\r\n']` reads `a\r\n` as `a`), whatever the split.
   * One delimiter is searched by the engine, resuming where it stopped; with several, each read
   * searches the frame's first `max` bytes again (memchr/memmem speed; keep `max` modest).
   */
  delimiter: Uint8Array | string | readonly (Uint8Array | string)[]
  /** Longest frame in bytes, without its delimiter, a non-negative safe integer. */
  max: number
  /** The payload ends with the delimiter that ended it (Netty's `stripDelimiter: false`). @default false */
  keepDelimiter?: boolean
  /**
   * Written by `encode` after each payload; one of the delimiters. `encode` refuses a payload that
   * would not read back whole; it cannot see the next payload, so with a delimiter that begins a
   * longer one (`'\r'` beside `'\r\n'`) write the longer, or the next payload's first bytes may join it.
   * @default the first delimiter
   */
  encodeDelimiter?: Uint8Array | string
  /**
   * A frame over `max`: `'error'` refuses it (a `LimitReachedError`, the stream ends);
   * `'discard'` drops it up to its delimiter without buffering it, reports it once (a `discard`
   * scan with the error) and goes on with the next frame. Decided at the first byte past `max`.
   * @default 'error'
   */
  onTooLong?: TooLongPolicy
  /**
   * Bytes after the last delimiter when the peer ends the stream: `'error'` (an
   * `EndOfStreamError` inside a frame) or `'frame'`, one last frame (tokio's `decode_eof`).
   * @default 'error'
   */
  unterminated?: 'error' | 'frame'
}

/** Where a scan found the end of a frame: a delimiter at `at`, `length` bytes long; `at` -1 for none. */
interface Match {
  at: number
  length: number
  /** A delimiter may still start at or before `at` (or, without a match, within the limit): read one byte more. */
  pending: boolean
}

/**
 * Frames ended by a delimiter, or by the first of several (Netty's DelimiterBasedFrameDecoder,
 * tokio's AnyDelimiterCodec with byte sequences). The delimiter is not part of the payload
 * unless `keepDelimiter`. Over-long frames are refused at their first byte past `max`.
 */
export function delimited(options: DelimitedOptions): Framer {
  const where = 'delimited'
  const o = checkObject<DelimitedOptions>(where, 'options', options, 'an object { delimiter, max, ... }')
  const { max, keepDelimiter = false, onTooLong = 'error', unterminated = 'error' } = o
  const delimiters = checkDelimiters(o.delimiter)
  checkInteger(where, 'options.max', max)
  checkBoolean(where, 'options.keepDelimiter', keepDelimiter)
  checkTooLong(where, onTooLong)
  checkUnterminated(where, unterminated)
  const ending = o.encodeDelimiter === undefined ? (delimiters[0] as Buffer) : toBuffer(o.encodeDelimiter, `${where}: options.encodeDelimiter`)
  if (!delimiters.some((d) => d.equals(ending))) throw invalid(where, 'options.encodeDelimiter', 'one of the delimiters', o.encodeDelimiter)
  const longest = Math.max(...delimiters.map((d) => d.length))
  const single = delimiters.length === 1 ? (delimiters[0] as Buffer) : null
  // One delimiter: the engine searches, and calls back at the first byte from which none can start within max.
  // (Unless max is shorter than the delimiter: then one byte at a time.)
  const wait: Scan | null =
    single !== null && max + 1 >= single.length ? { kind: 'delimiter', delimiter: single, max: max + 1 - single.length, offset: 0, rescanAtMax: true } : null
  /** Inputs in the middle of dropping an over-long frame (discard mode only). */
  const dropping = new PerInput<true>()
  const tooLong = (): LimitReachedError => new LimitReachedError(max, `frame longer than ${max} bytes`)

  /** Waits for one byte more, or for the delimiter (one only: the engine searches). */
  function more(input: Buf): Scan {
    return wait !== null && input.length <= max ? wait : { kind: 'bytes', n: input.length + 1 }
  }

  /** While dropping: up to the end of the frame, or all but a tail that may begin a delimiter. */
  function drop(input: Buf, commit: boolean, report: LimitReachedError | null): Scan {
    const m = find(input, delimiters, input.length, longest)
    if (m.at >= 0 && !m.pending) {
      if (!commit) return DISCARD_DUE
      dropping.delete(input)
      input.consume(m.at + m.length)
      return { kind: 'discard', size: m.at + m.length, error: report }
    }
    const keep = partialTail(input, delimiters)
    const size = input.length - keep
    if (commit) dropping.set(input, true)
    if (size === 0 && report === null) return wait ?? { kind: 'bytes', n: input.length + 1 }
    if (!commit) return DISCARD_DUE
    input.consume(size)
    return { kind: 'discard', size, error: report }
  }

  function scan(input: Buf, commit: boolean): Scan {
    if (onTooLong === 'discard' && dropping.get(input) !== undefined) return drop(input, commit, null)
    const m = find(input, delimiters, max, longest)
    if (m.pending) return { kind: 'bytes', n: input.length + 1 }
    if (m.at >= 0) return { kind: 'frame', start: 0, end: keepDelimiter ? m.at + m.length : m.at, size: m.at + m.length }
    if (input.length <= max) return more(input)
    // No delimiter can start within max any more: the first byte past it decided.
    return onTooLong === 'error' ? { kind: 'error', error: tooLong() } : drop(input, commit, tooLong())
  }

  const framer: Framer = {
    scan(input: Buf): Scan {
      checkInput('delimited.scan', input)
      return scan(input, true)
    },
    encode(output: Buf, payload: Uint8Array | string): void {
      const bytes = payloadBytes('delimited.encode', output, payload)
      if (bytes.length > max) throw new InvalidArgumentError(`delimited: frame of ${bytes.length} bytes exceeds max ${max}`)
      // The payload and its delimiter must read back as one frame: no delimiter may end it earlier.
      const framed = Buffer.concat([bytes, ending])
      const m = findIn(framed, delimiters)
      if (m.at !== bytes.length || m.length !== ending.length) throw new InvalidArgumentError('delimited: the payload contains a delimiter')
      output.write(framed)
    },
    scanEnd(input: Buf): Scan | null {
      checkInput('delimited.scanEnd', input)
      if (input.length === 0) return null
      if (onTooLong === 'discard' && dropping.get(input) !== undefined) {
        dropping.delete(input)
        const size = input.length
        input.consume(size)
        return { kind: 'discard', size, error: null }
      }
      // No byte will come to make a longer delimiter: a whole one in view ends a frame after all.
      const m = find(input, delimiters, max, longest)
      if (m.at >= 0) return { kind: 'frame', start: 0, end: keepDelimiter ? m.at + m.length : m.at, size: m.at + m.length }
      if (unterminated === 'error') return null
      if (input.length <= max) return { kind: 'frame', start: 0, end: input.length, size: input.length }
      return { kind: 'error', error: tooLong() }
    },
  }
  if (onTooLong === 'discard') framer.peek = (input: Buf): Scan => scan(input, false)
  return framer
}

/** The delimiter option as Buffers; throws `InvalidArgumentError`. */
function checkDelimiters(value: unknown): Buffer[] {
  const list = Array.isArray(value) ? (value as unknown[]) : [value]
  if (list.length === 0) throw invalid('delimited', 'options.delimiter', 'a non-empty string or Uint8Array, or a non-empty array of them', value)
  return list.map((d, i) => {
    if (typeof d !== 'string' && !(d instanceof Uint8Array)) {
      throw invalid('delimited', Array.isArray(value) ? `options.delimiter[${i}]` : 'options.delimiter', 'a non-empty string or Uint8Array', d)
    }
    return Buffer.from(toBuffer(d, 'delimited: options.delimiter'))
  })
}

/**
 * The earliest delimiter starting at or before `limit` (the longer of two at the same byte),
 * and whether a delimiter cut off by the end of the input could still come first. Searches
 * only as far as a delimiter starting at `limit` reaches.
 */
export function find(input: Buf, delimiters: readonly Buffer[], limit: number, longest: number): Match {
  const length = input.length
  const window = limit + longest >= length ? input.view() : input.view(0, limit + longest)
  const m = findIn(window, delimiters)
  if (m.at > limit) m.at = -1
  const last = m.at >= 0 ? m.at : Math.min(limit, length - 1)
  // Only a delimiter that starts within its own length of the end can be cut off.
  for (const d of delimiters) {
    for (let q = Math.max(0, length - d.length + 1); q <= last; q++) {
      if (q === m.at && d.length <= m.length) continue
      if (isPrefixAt(input, d, q)) {
        m.pending = true
        return m
      }
    }
  }
  return m
}

/** The earliest whole delimiter in `bytes` (the longest at the same position). */
function findIn(bytes: Buffer, delimiters: readonly Buffer[]): Match {
  const m: Match = { at: -1, length: 0, pending: false }
  for (const d of delimiters) {
    const at = d.length === 1 ? bytes.indexOf(d[0] as number) : bytes.indexOf(d)
    if (at >= 0 && (m.at < 0 || at < m.at || (at === m.at && d.length > m.length))) {
      m.at = at
      m.length = d.length
    }
  }
  return m
}

/** Whether the input from `q` to its end is the start of `d` (shorter than it). */
function isPrefixAt(input: Buf, d: Buffer, q: number): boolean {
  const n = input.length - q
  if (n <= 0 || n >= d.length) return false
  for (let i = 0; i < n; i++) if (input.byte(q + i) !== d[i]) return false
  return true
}

/** Bytes at the end of the input that may begin a delimiter: kept while dropping. */
function partialTail(input: Buf, delimiters: readonly Buffer[]): number {
  let keep = 0
  for (const d of delimiters) {
    for (let q = Math.max(0, input.length - d.length + 1); q < input.length; q++) {
      if (isPrefixAt(input, d, q)) {
        keep = Math.max(keep, input.length - q)
        break
      }
    }
  }
  return keep
}
