/**
 * The reply parser of the Redis client (RESP2 and RESP3), without sockets or Bufs: it reads
 * complete replies from one view of the input, with offsets, and hands each to its owner. A
 * partial reply keeps its parse state (inside a bulk string, aggregates half filled), so a reply
 * split over many reads is never parsed twice; the owner consumes what `parse` reports as parsed.
 *
 * RESP3 (https://github.com/redis/redis-specification/blob/master/protocol/RESP3.md) adds types
 * the server only sends after `HELLO 3`; the parser accepts them always (RESP2 is a subset).
 * Streamed strings and aggregates (`$?`, `*?`) are refused: Redis never sends them.
 */
import { ProtocolError } from 'rotor-stream'
import { ReplyTooLargeError } from './errors.js'

/**
 * A reply: simple string or bulk (string, or Buffer with `returnBuffers`), integer, null, array;
 * with RESP3 also map, set, double (number), boolean, big number (bigint) and verbatim string
 * (its text, without the format). An error inside an aggregate (one command of an EXEC failed)
 * stays a value there.
 */
export type RedisReply = string | number | bigint | boolean | Buffer | null | ReplyItem[] | Map<ReplyItem, ReplyItem> | Set<ReplyItem>

/** An element of an aggregate reply: a value, or the error of one command of a transaction. */
export type ReplyItem = RedisReply | ReplyError

/** An error reply from the server (`-ERR ...`, or RESP3's blob error): the command ran and failed. */
export class ReplyError extends Error {
  override name = 'ReplyError'
  /** The first word of the error: `ERR`, `WRONGTYPE`, ... */
  readonly prefix: string
  constructor(message: string) {
    super(message)
    this.prefix = message.split(' ', 1)[0] ?? 'ERR'
  }
}

/**
 * Takes each complete top-level reply (an error reply, or a `ReplyTooLargeError` in place of a
 * reply over `maxReplySize`); `push` is true for a RESP3 push frame (`>`), whose value is then
 * its array. Returns false if no command awaited the reply (a protocol error).
 */
export type ReplySink = (reply: ReplyItem | ReplyTooLargeError, push: boolean) => boolean

/** What the parser needs of the client's options. */
export interface ParserOptions {
  /** Bulk replies as Buffers instead of utf8 strings. */
  readonly returnBuffers: boolean
  /** Most bytes of one top-level reply, headers included; a larger one is dropped as it arrives. */
  readonly maxReplySize: number
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
/** A RESP3 double: what `strtod` takes from Redis, without hex and spaces; `inf`/`nan` apart. */
const DOUBLE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
/** A RESP3 big number. */
const BIG_NUMBER = /^[+-]?\d+$/

/** Aggregate kinds (one type byte each). */
const ARRAY = 0
const MAP = 1
const SET = 2
/** Metadata before a value (`|`): parsed and dropped, the value that follows is the reply. */
const ATTRIBUTE = 3
const PUSH = 4
type AggregateKind = typeof ARRAY | typeof MAP | typeof SET | typeof ATTRIBUTE | typeof PUSH

/** Parser phases: at a type line; inside a bulk payload; dropping the bytes of an oversized one. */
const HEADER = 0
const BULK = 1
const SKIP = 2

/** An aggregate being filled. */
interface OpenAggregate {
  readonly kind: AggregateKind
  /** The elements so far (maps: keys and values alternate); left empty while dropping a reply. */
  readonly items: ReplyItem[]
  /** Elements still to come (a map counts keys and values). */
  remaining: number
}

/** Parses the replies of one connection, in order, across reads. */
export class ReplyParser {
  #phase: typeof HEADER | typeof BULK | typeof SKIP = HEADER
  /** Phase BULK: the payload's length in bytes (CRLF excluded) and its type byte (`$`, `=`, `!`). */
  #bulkLength = 0
  #bulkType = 0
  /** Phase SKIP: bytes still to drop, CRLF included. */
  #skip = 0
  /** The innermost aggregate being filled, or null; nested replies need no recursion or reparsing. */
  #open: OpenAggregate | null = null
  /** The aggregates enclosing `#open`, innermost last. */
  readonly #enclosing: OpenAggregate[] = []
  /** Bytes of the current top-level reply parsed by earlier `parse` calls (0 between replies). */
  #carried = 0
  /** The current top-level reply passed `maxReplySize`: its values are dropped, its bulks skipped. */
  #tooLarge = false
  readonly #returnBuffers: boolean
  readonly #maxReplySize: number
  readonly #onReply: ReplySink

  constructor(options: ParserOptions, onReply: ReplySink) {
    this.#returnBuffers = options.returnBuffers
    this.#maxReplySize = options.maxReplySize
    this.#onReply = onReply
  }

  /**
   * Bytes the parser needs buffered before it can go on: a bulk payload plus its CRLF, or 1 while
   * it drops an oversized payload (it takes whatever arrived); null when it waits for a line.
   */
  get needBytes(): number | null {
    return this.#phase === HEADER ? null : this.#phase === BULK ? this.#bulkLength + 2 : 1
  }

  /**
   * Parses every complete reply in `buf` and returns how many bytes it parsed (the caller
   * consumes them), or the ProtocolError that makes the rest unreadable (the sink refused a
   * reply: 'a reply arrived for no command'). `end` is what the stream reported for the
   * expectation the parser last asked for: the first line's LF when it waited for a line (the
   * stream already searched for it), ignored otherwise. A line over MAX_LINE is left unparsed:
   * the stream's bound on the line expectation reports it. `buf` is read during the call only.
   */
  parse(buf: Buffer, end: number): number | ProtocolError {
    const length = buf.length
    const max = this.#maxReplySize
    let pos = 0
    /** Where the current top-level reply starts in `buf` (0 if it started in an earlier read). */
    let start = 0
    let lf = this.#phase === HEADER ? end : -1
    for (;;) {
      let value: ReplyItem
      if (this.#phase !== HEADER) {
        if (this.#phase === SKIP) {
          const n = Math.min(length - pos, this.#skip)
          pos += n
          this.#skip -= n
          if (this.#skip > 0) return this.#pause(pos, start)
          this.#phase = HEADER
          value = null // dropped; the whole reply becomes a ReplyTooLargeError
        } else {
          const stop = pos + this.#bulkLength
          if (stop + 2 > length) return this.#pause(pos, start)
          if (buf[stop] !== CR || buf[stop + 1] !== LF) return new ProtocolError('bulk reply not ended by CRLF')
          const bulk = this.#bulk(buf, pos, stop)
          if (bulk instanceof ProtocolError) return bulk
          value = bulk
          pos = stop + 2
          this.#phase = HEADER
        }
      } else {
        if (lf < pos) lf = lineEnd(buf, pos, length)
        if (lf < 0 || lf - pos > MAX_LINE) return this.#pause(pos, start)
        if (lf < pos + 2 || buf[lf - 1] !== CR) return new ProtocolError('reply line not ended by CRLF')
        const type = buf[pos] as number // pos < lf < length
        const from = pos + 1
        const to = lf - 1
        pos = lf + 1
        if (this.#carried + pos - start > max) this.#tooLarge = true
        switch (type) {
          case 0x2b: // '+' simple string; `+OK` is most replies, and a constant costs no string
            value = simpleString(buf, from, to)
            break
          case 0x2d: // '-' error
            value = new ReplyError(buf.toString('utf8', from, to))
            break
          case 0x3a: // ':' integer
            value = parseInteger(buf, from, to)
            if (Number.isNaN(value)) return new ProtocolError(`bad integer ${buf.toString('latin1', from, to)}`)
            break
          case 0x24: // '$' bulk string
          case 0x3d: // '=' verbatim string (RESP3)
          case 0x21: {
            // '!' blob error (RESP3)
            const size = parseInteger(buf, from, to)
            if (!(size >= (type === 0x24 ? -1 : 0))) return new ProtocolError(`bad bulk length ${buf.toString('latin1', from, to)}`)
            if (size < 0) {
              value = null
              break
            }
            if (this.#tooLarge || this.#carried + pos - start + size + 2 > max) {
              this.#tooLarge = true
              this.#phase = SKIP // dropped as it arrives: never buffered whole
              this.#skip = size + 2
            } else {
              this.#phase = BULK
              this.#bulkLength = size
              this.#bulkType = type
            }
            continue
          }
          case 0x2a: // '*' array
          case 0x25: // '%' map (RESP3)
          case 0x7e: // '~' set (RESP3)
          case 0x7c: // '|' attribute (RESP3)
          case 0x3e: {
            // '>' push (RESP3)
            const count = parseInteger(buf, from, to)
            if (!(count >= (type === 0x2a ? -1 : 0))) return new ProtocolError(`bad aggregate length ${buf.toString('latin1', from, to)}`)
            if (count < 0) {
              value = null
              break
            }
            const kind = aggregateKind(type)
            if (count > 0) {
              if (this.#open !== null) this.#enclosing.push(this.#open)
              this.#open = { kind, items: [], remaining: kind === MAP || kind === ATTRIBUTE ? 2 * count : count }
              continue
            }
            if (kind === ATTRIBUTE) continue // empty metadata: nothing to drop
            if (kind === PUSH && this.#open === null) {
              if (!this.#onReply([], true)) return new ProtocolError('a reply arrived for no command')
              start = pos
              this.#carried = 0
              continue
            }
            value = kind === MAP ? new Map() : kind === SET ? new Set() : []
            break
          }
          case 0x5f: // '_' null (RESP3)
            if (to !== from) return new ProtocolError('bad null')
            value = null
            break
          case 0x23: // '#' boolean (RESP3)
            if (to - from !== 1 || (buf[from] !== 0x74 && buf[from] !== 0x66)) return new ProtocolError(`bad boolean ${buf.toString('latin1', from, to)}`)
            value = buf[from] === 0x74
            break
          case 0x2c: {
            // ',' double (RESP3)
            const double = parseDouble(buf.toString('latin1', from, to))
            if (double === undefined) return new ProtocolError(`bad double ${buf.toString('latin1', from, to)}`)
            value = double
            break
          }
          case 0x28: {
            // '(' big number (RESP3)
            const text = buf.toString('latin1', from, to)
            if (!BIG_NUMBER.test(text)) return new ProtocolError(`bad big number ${text}`)
            value = BigInt(text)
            break
          }
          default:
            return new ProtocolError(`unexpected reply type ${JSON.stringify(String.fromCharCode(type))}`)
        }
      }
      const done = this.#complete(value)
      if (done < 0) return new ProtocolError('a reply arrived for no command')
      if (done > 0) {
        start = pos
        this.#carried = 0
      }
    }
  }

  /** Stops at `pos` inside or between replies: remembers how much of the current reply was parsed. */
  #pause(pos: number, start: number): number {
    this.#carried += pos - start
    return pos
  }

  /** The value of the bulk payload `buf[from, to)` by its type byte. */
  #bulk(buf: Buffer, from: number, to: number): ReplyItem | ProtocolError {
    switch (this.#bulkType) {
      case 0x21: // blob error
        return new ReplyError(buf.toString('utf8', from, to))
      case 0x3d: // verbatim: `txt:` or `mkd:` then the text; the format is dropped
        if (to - from < 4 || buf[from + 3] !== 0x3a) return new ProtocolError('verbatim string without its format')
        from += 4
        break
    }
    return this.#returnBuffers ? Buffer.from(buf.subarray(from, to)) : buf.toString('utf8', from, to)
  }

  /**
   * A complete value: fills the innermost open aggregate, or goes to the owner. Returns 0 while
   * the top-level reply is incomplete, 1 once it went to the owner, -1 if the owner refused it.
   */
  #complete(value: ReplyItem): number {
    let done = value
    let push = false
    for (let open = this.#open; open !== null; open = this.#open) {
      if (!this.#tooLarge) open.items.push(done)
      if (--open.remaining > 0) return 0
      this.#open = this.#enclosing.pop() ?? null
      if (open.kind === ATTRIBUTE) return 0 // metadata of the next value: dropped
      done = aggregate(open)
      push = open.kind === PUSH && this.#open === null
    }
    if (this.#tooLarge) {
      this.#tooLarge = false
      return this.#onReply(new ReplyTooLargeError(this.#maxReplySize), push) ? 1 : -1
    }
    return this.#onReply(done, push) ? 1 : -1
  }
}

function aggregateKind(type: number): AggregateKind {
  switch (type) {
    case 0x25:
      return MAP
    case 0x7e:
      return SET
    case 0x7c:
      return ATTRIBUTE
    case 0x3e:
      return PUSH
    default:
      return ARRAY
  }
}

/** The value of a closed aggregate (not an attribute). */
function aggregate(open: OpenAggregate): ReplyItem {
  const items = open.items
  switch (open.kind) {
    case MAP: {
      const map = new Map<ReplyItem, ReplyItem>()
      for (let i = 0; i + 1 < items.length; i += 2) map.set(items[i] as ReplyItem, items[i + 1] as ReplyItem)
      return map
    }
    case SET:
      return new Set(items)
    default:
      return items
  }
}

/**
 * The simple string `buf[from, to)`. The common ones (`OK`, `PONG`) are constants: no string is
 * decoded for them.
 */
function simpleString(buf: Buffer, from: number, to: number): string {
  switch (to - from) {
    case 2:
      if (buf[from] === 0x4f && buf[from + 1] === 0x4b) return 'OK'
      break
    case 4:
      if (buf[from] === 0x50 && buf[from + 1] === 0x4f && buf[from + 2] === 0x4e && buf[from + 3] === 0x47) return 'PONG'
      break
  }
  return buf.toString('utf8', from, to)
}

/** Position of the first LF in `buf[from, length)`, or -1: short lines by a JS loop, long ones by `indexOf`. */
function lineEnd(buf: Buffer, from: number, length: number): number {
  const short = Math.min(length, from + SHORT_LINE)
  for (let i = from; i < short; i++) if (buf[i] === LF) return i
  return short < length ? buf.indexOf(LF, short) : -1
}

/** A RESP3 double's text as a number (`inf`, `-inf`, `nan` included), or undefined if malformed. */
export function parseDouble(text: string): number | undefined {
  switch (text) {
    case 'inf':
    case '+inf':
      return Number.POSITIVE_INFINITY
    case '-inf':
      return Number.NEGATIVE_INFINITY
    case 'nan':
    case '-nan':
      return Number.NaN
  }
  return DOUBLE.test(text) ? Number(text) : undefined
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
