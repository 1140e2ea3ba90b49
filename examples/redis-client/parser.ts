/**
 * The RESP2 reply parser of the Redis client, without sockets or Bufs: it reads complete replies
 * from one view of the input, with offsets, and hands each to its owner. A partial reply keeps
 * its parse state (inside a bulk string, arrays half filled), so a reply split over many reads
 * is never parsed twice; the owner consumes what `parse` reports as parsed.
 */
import { ProtocolError } from 'rotor-stream'

/**
 * A RESP2 reply: simple string or bulk (string, or Buffer with `returnBuffers`), integer, null,
 * or an array. An error inside an array (one command of an EXEC failed) stays a value there.
 */
export type RedisReply = string | number | Buffer | null | (RedisReply | ReplyError)[]

/** An error reply from the server (`-ERR ...`): the command ran and failed. */
export class ReplyError extends Error {
  override name = 'ReplyError'
  /** The first word of the error: `ERR`, `WRONGTYPE`, ... */
  readonly prefix: string
  constructor(message: string) {
    super(message)
    this.prefix = message.split(' ', 1)[0] ?? 'ERR'
  }
}

const CR = 0x0d
const LF = 0x0a
/** Longest status, error or header line accepted from the server, in bytes. */
export const MAX_LINE = 64 * 1024
/**
 * Lines are scanned for their LF by a JS loop up to this many bytes, then by `indexOf`: most
 * reply lines are a few bytes (`+OK`, `$16`, `:1`), and for those the loop costs less than the
 * call into `Buffer#indexOf`.
 */
const SHORT_LINE = 32

/** An array reply being filled. */
interface OpenArray {
  readonly items: (RedisReply | ReplyError)[]
  /** Elements still to come. */
  remaining: number
}

/** Parses the replies of one connection, in order, across reads. */
export class ReplyParser {
  /** `header`: at a reply's (or array element's) type line; `bulk`: `#bulkLength` bytes + CRLF to come. */
  #phase: 'header' | 'bulk' = 'header'
  /** Length of the bulk string being read (phase `bulk`). */
  #bulkLength = 0
  /** The innermost array being filled, or null; nested replies need no recursion or reparsing. */
  #open: OpenArray | null = null
  /** The arrays enclosing `#open`, innermost last. */
  readonly #enclosing: OpenArray[] = []
  readonly #returnBuffers: boolean
  /** Takes each complete top-level reply; false if no command awaited it. */
  readonly #onReply: (reply: RedisReply | ReplyError) => boolean

  constructor(returnBuffers: boolean, onReply: (reply: RedisReply | ReplyError) => boolean) {
    this.#returnBuffers = returnBuffers
    this.#onReply = onReply
  }

  /**
   * Bytes the parser waits for when it stopped inside a bulk string (its length plus CRLF); null
   * when it waits for a line.
   */
  get bulkBytes(): number | null {
    return this.#phase === 'bulk' ? this.#bulkLength + 2 : null
  }

  /**
   * Parses every complete reply in `buf` and returns how many bytes it parsed (the caller
   * consumes them), or the ProtocolError that makes the rest unreadable. `end` is what the
   * stream reported for the expectation the parser last asked for: the first line's LF when it
   * waited for a line (the stream already searched for it), ignored inside a bulk string. A line
   * over MAX_LINE is left unparsed: the stream's bound on the line expectation reports it.
   * `buf` is read during the call only.
   */
  parse(buf: Buffer, end: number): number | ProtocolError {
    const length = buf.length
    let pos = 0
    let lf = this.#phase === 'header' ? end : -1
    for (;;) {
      if (this.#phase === 'bulk') {
        const stop = pos + this.#bulkLength
        if (stop + 2 > length) return pos
        if (buf[stop] !== CR || buf[stop + 1] !== LF) return new ProtocolError('bulk reply not ended by CRLF')
        const value = this.#returnBuffers ? Buffer.from(buf.subarray(pos, stop)) : buf.toString('utf8', pos, stop)
        pos = stop + 2
        this.#phase = 'header'
        if (!this.#complete(value)) return new ProtocolError('a reply arrived for no command')
        continue
      }
      if (lf < pos) lf = lineEnd(buf, pos, length)
      if (lf < 0 || lf - pos > MAX_LINE) return pos
      if (lf < pos + 2 || buf[lf - 1] !== CR) return new ProtocolError('reply line not ended by CRLF')
      const type = buf[pos] as number // pos < lf < length
      const from = pos + 1
      const to = lf - 1
      pos = lf + 1
      let value: RedisReply | ReplyError
      switch (type) {
        case 0x2b: // '+' simple string; `+OK` is most replies, and a constant costs no string
          value = to - from === 2 && buf[from] === 0x4f && buf[from + 1] === 0x4b ? 'OK' : buf.toString('latin1', from, to)
          break
        case 0x2d: // '-' error
          value = new ReplyError(buf.toString('latin1', from, to))
          break
        case 0x3a: // ':' integer
          value = parseInteger(buf, from, to)
          if (Number.isNaN(value)) return new ProtocolError(`bad integer ${buf.toString('latin1', from, to)}`)
          break
        case 0x24: {
          // '$' bulk string
          const size = parseInteger(buf, from, to)
          if (!(size >= -1)) return new ProtocolError(`bad bulk length ${buf.toString('latin1', from, to)}`)
          if (size >= 0) {
            this.#phase = 'bulk'
            this.#bulkLength = size
            continue
          }
          value = null
          break
        }
        case 0x2a: {
          // '*' array
          const count = parseInteger(buf, from, to)
          if (!(count >= -1)) return new ProtocolError(`bad array length ${buf.toString('latin1', from, to)}`)
          if (count > 0) {
            if (this.#open !== null) this.#enclosing.push(this.#open)
            this.#open = { items: [], remaining: count }
            continue
          }
          value = count === 0 ? [] : null
          break
        }
        default:
          return new ProtocolError(`unexpected reply type ${String.fromCharCode(type)}`)
      }
      if (!this.#complete(value)) return new ProtocolError('a reply arrived for no command')
    }
  }

  /** A complete value: fills the innermost open array, or goes to the owner. False if no command awaited it. */
  #complete(value: RedisReply | ReplyError): boolean {
    let done = value
    for (let open = this.#open; open !== null; open = this.#open) {
      open.items.push(done)
      if (--open.remaining > 0) return true
      done = open.items
      this.#open = this.#enclosing.pop() ?? null
    }
    return this.#onReply(done)
  }
}

/** Position of the first LF in `buf[from, length)`, or -1: short lines by a JS loop, long ones by `indexOf`. */
function lineEnd(buf: Buffer, from: number, length: number): number {
  const short = Math.min(length, from + SHORT_LINE)
  for (let i = from; i < short; i++) if (buf[i] === LF) return i
  return short < length ? buf.indexOf(LF, short) : -1
}

/**
 * The integer in `buf[from, to)`: an optional `-` and at least one digit, nothing else; NaN
 * otherwise. Up to 15 digits are summed in place (exact in a double); longer ones go through
 * `Number()` of the text, which rounds them correctly.
 */
export function parseInteger(buf: Buffer, from: number, to: number): number {
  const negative = buf[from] === 0x2d
  const first = negative ? from + 1 : from
  if (to === first) return Number.NaN
  let n = 0
  for (let i = first; i < to; i++) {
    const digit = (buf[i] as number) - 0x30 // i < to <= buf.length
    if (digit < 0 || digit > 9) return Number.NaN
    n = n * 10 + digit
  }
  if (to - first > 15) return Number(buf.toString('latin1', from, to))
  return negative ? -n : n
}
