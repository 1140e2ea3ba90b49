import { isUtf8 } from 'node:buffer'
import type { Buf } from '../buf.js'
import { InvalidArgumentError, LimitReachedError, ProtocolError } from '../errors.js'
import { checkBoolean, checkInteger, checkObject, checkOneOf } from '../validate.js'
import { checkInput, checkTooLong, checkUnterminated, DISCARD_DUE, type Framer, PerInput, payloadBytes, type Scan, type TooLongPolicy } from './framer.js'

const LF = Buffer.from('\n')
const CR = 0x0d

/** Options of {@link lines}. */
export interface LinesOptions {
  /** Longest line in bytes, without its ending, a non-negative safe integer; a longer one is a `LimitReachedError`, at its first byte past `max`. */
  max: number
  /** Line ending written by `encode`, `'lf'` or `'crlf'`; reading accepts LF and CRLF either way. @default 'lf' */
  ending?: 'lf' | 'crlf'
  /**
   * A line over `max`: `'error'` refuses it (a `LimitReachedError`, the stream ends); `'discard'`
   * drops it up to its LF without buffering it, reports it once (a `discard` scan carrying the
   * error) and goes on with the next line (tokio's LinesCodec, Netty's `failFast` discarding).
   * @default 'error'
   */
  onTooLong?: TooLongPolicy
  /**
   * Bytes after the last LF when the peer ends the stream: `'error'` (an `EndOfStreamError`
   * inside a line) or `'frame'`: one last line, a trailing CR removed (tokio's `decode_eof`).
   * @default 'error'
   */
  unterminated?: 'error' | 'frame'
  /**
   * Lines are UTF-8 text: a line that is not valid UTF-8 is a `ProtocolError` (`RS_ERR_PROTOCOL`)
   * when it is scanned, and `encode` refuses one. `true` or `false`. @default false
   */
  utf8?: boolean
}

/**
 * Lines ended by LF or CRLF (the CR is not part of the payload), like Netty's
 * LineBasedFrameDecoder and tokio's LinesCodec. `max` is required: a peer that never sends a
 * line ending must not fill the memory.
 */
export function lines(options: LinesOptions): Framer {
  const where = 'lines'
  const o = checkObject<LinesOptions>(where, 'options', options, 'an object { max, ending? }')
  const { max, ending = 'lf', onTooLong = 'error', unterminated = 'error', utf8 = false } = o
  checkInteger(where, 'options.max', max)
  checkOneOf(where, 'options.ending', ending, ['lf', 'crlf'] as const)
  checkTooLong(where, onTooLong)
  checkUnterminated(where, unterminated)
  checkBoolean(where, 'options.utf8', utf8)
  const end = ending === 'crlf' ? '\r\n' : '\n'
  const discard = onTooLong === 'discard'
  // The engine searches up to max and calls back at the first byte past it; the CR a CRLF may
  // put there is judged by scan (a bytes wait for the LF after it).
  const wait: Scan = { kind: 'delimiter', delimiter: LF, max, offset: 0, rescanAtMax: true }
  const afterCr: Scan = { kind: 'bytes', n: max + 2 }
  /** Inputs in the middle of dropping an over-long line (discard mode only). */
  const dropping = new PerInput<true>()
  const tooLong = (): LimitReachedError => new LimitReachedError(max, `line longer than ${max} bytes`)

  /** Drops up to and with the next LF, or all that is buffered. */
  function drop(input: Buf, commit: boolean, report: LimitReachedError | null): Scan {
    const at = input.indexOf(0x0a)
    if (input.length === 0 && report === null) return wait
    if (!commit) return DISCARD_DUE
    const size = at >= 0 ? at + 1 : input.length
    if (at >= 0) dropping.delete(input)
    else dropping.set(input, true)
    input.consume(size)
    return { kind: 'discard', size, error: report }
  }

  /** The line `[0, stop)` ended at `size`: a frame, unless it is not UTF-8 when it must be. */
  function line(input: Buf, stop: number, size: number): Scan {
    if (utf8 && !isUtf8(input.view(0, stop))) return { kind: 'error', error: new ProtocolError('lines: a line is not valid UTF-8') }
    return { kind: 'frame', start: 0, end: stop, size }
  }

  function scan(input: Buf, commit: boolean): Scan {
    if (discard && dropping.get(input) !== undefined) return drop(input, commit, null)
    const at = input.indexOf(0x0a)
    if (at >= 0) {
      const stop = at > 0 && input.byte(at - 1) === CR ? at - 1 : at
      if (stop <= max) return utf8 ? line(input, stop, at + 1) : { kind: 'frame', start: 0, end: stop, size: at + 1 }
    } else if (input.length <= max) {
      return wait
    } else if (input.length === max + 1 && input.byte(max) === CR) {
      return afterCr // max bytes and a CR: the next byte decides
    }
    return onTooLong === 'error' ? { kind: 'error', error: tooLong() } : drop(input, commit, tooLong())
  }

  const framer: Framer = {
    scan(input: Buf): Scan {
      checkInput('lines.scan', input)
      return scan(input, true)
    },
    encode(output: Buf, payload: Uint8Array | string): void {
      const bytes = payloadBytes('lines.encode', output, payload)
      if (bytes.length > max) throw new InvalidArgumentError(`line of ${bytes.length} bytes exceeds max ${max}`)
      if (bytes.indexOf(0x0a) >= 0) throw new InvalidArgumentError('a line cannot contain LF')
      if (utf8 && !isUtf8(bytes)) throw new InvalidArgumentError('lines: the payload is not valid UTF-8')
      // A payload ending in CR would lose it when read back (the CR of a CRLF): refused with LF endings.
      if (ending === 'lf' && bytes.length > 0 && bytes[bytes.length - 1] === CR)
        throw new InvalidArgumentError('lines: a payload ending in CR cannot be read back')
      output.write(bytes)
      output.write(end)
    },
    scanEnd(input: Buf): Scan | null {
      checkInput('lines.scanEnd', input)
      if (onTooLong === 'discard' && dropping.get(input) !== undefined) {
        dropping.delete(input)
        const size = input.length
        input.consume(size)
        return { kind: 'discard', size, error: null }
      }
      if (unterminated === 'error') return null
      const length = input.length
      const stop = length > 0 && input.byte(length - 1) === CR ? length - 1 : length
      if (stop > max) return onTooLong === 'error' ? { kind: 'error', error: tooLong() } : drop(input, true, tooLong())
      return line(input, stop, length)
    },
  }
  if (onTooLong === 'discard') framer.peek = (input: Buf): Scan => scan(input, false)
  return framer
}
