/**
 * The arguments of one command, read in place: spans of the connection's input bytes, so that
 * parsing a command allocates nothing. Valid only while the command runs (its input is consumed
 * after it): whatever the keyspace keeps is copied out, as bytes (`copy()`) or a latin1 string (`string()`).
 */

const EMPTY = Buffer.alloc(0)
/** Longest decimal integer Redis accepts (string2ll): a sign and 19 digits. */
const MAX_INTEGER_LENGTH = 20
/** Arguments up to this many bytes are copied by a JS loop (`copy`). */
const SHORT_COPY = 32

export class Args {
  /** The bytes the spans point into: a view of the input, set before each command runs. */
  data: Buffer = EMPTY
  /** Number of arguments, the command name (argument 0) included. */
  count = 0
  /** Argument `i` is `data[starts[i], ends[i])`; entries at `count` and above are stale. */
  readonly starts: number[] = []
  readonly ends: number[] = []

  /** Appends argument `data[start, end)`. */
  push(start: number, end: number): void {
    this.starts[this.count] = start
    this.ends[this.count] = end
    this.count++
  }

  /** Moves every span `by` bytes back: the input before them was consumed. */
  rebase(by: number): void {
    for (let i = 0; i < this.count; i++) {
      this.starts[i] = (this.starts[i] as number) - by
      this.ends[i] = (this.ends[i] as number) - by
    }
  }

  /** Forgets all arguments; drops span arrays grown by a huge command, so an idle connection stays small. */
  clear(): void {
    if (this.starts.length > 1024) this.starts.length = this.ends.length = 0
    this.count = 0
  }

  /** Drops the view of the input (its storage may be released or reused): spans stay, to be resumed on a new view. */
  release(): void {
    this.data = EMPTY
  }

  /** Length of argument `i` in bytes. */
  length(i: number): number {
    return (this.ends[i] as number) - (this.starts[i] as number)
  }

  /** Argument `i` as a latin1 string: one char per byte, so any bytes round-trip (keys and list elements are kept so). */
  string(i: number): string {
    return this.data.toString('latin1', this.starts[i], this.ends[i])
  }

  /** Copies argument `i` into `target`, which is exactly as long. */
  copy(i: number, target: Uint8Array): void {
    const start = this.starts[i] as number
    const n = target.length
    // A JS loop beats subarray() + set() for short arguments, as in Buf.writeFrom.
    if (n <= SHORT_COPY) for (let k = 0; k < n; k++) target[k] = this.data[start + k] as number
    else target.set(this.data.subarray(start, start + n))
  }

  /** Argument `i` without copying (valid while the command runs). */
  view(i: number): Buffer {
    return this.data.subarray(this.starts[i], this.ends[i])
  }

  /** Is argument `i` the upper-case ASCII word `word`, in any case? (`& 0xdf` folds a-z onto A-Z; only letters compare equal.) */
  is(i: number, word: string): boolean {
    if (i >= this.count) return false
    const start = this.starts[i] as number
    if ((this.ends[i] as number) - start !== word.length) return false
    const data = this.data
    for (let k = 0; k < word.length; k++) if (((data[start + k] as number) & 0xdf) !== word.charCodeAt(k)) return false
    return true
  }

  /**
   * Argument `i` parsed as a strict decimal int64 (no spaces, no '+', no leading zeros, no "-0"), as Redis'
   * string2ll; null if not one. Exact up to 2^53 in magnitude, the nearest double beyond (`bigint` is exact).
   */
  integer(i: number): number | null {
    return i < this.count ? parseInteger(this.data, this.starts[i] as number, this.ends[i] as number) : null
  }

  /** Argument `i` as an exact int64 (the slow path of 64-bit arithmetic); null if not one. */
  bigint(i: number): bigint | null {
    return i < this.count ? parseBigInteger(this.data, this.starts[i] as number, this.ends[i] as number) : null
  }
}

/** The int64 range, Redis' long long. */
export const INT64_MIN = -(2n ** 63n)
export const INT64_MAX = 2n ** 63n - 1n

/**
 * Parses `bytes[start, end)` as a strict decimal int64 (see `Args.integer`): null if not one.
 * Safe integers (all up to 16 digits) take the fast path; longer ones are checked exactly.
 */
export function parseInteger(bytes: Uint8Array, start: number, end: number): number | null {
  const negative = bytes[start] === 0x2d
  const first = negative ? start + 1 : start
  if (first >= end || end - start > MAX_INTEGER_LENGTH) return null
  const lead = bytes[first] as number
  if (lead === 0x30 && (end - first > 1 || negative)) return null // leading zero, or "-0"
  let n = 0
  for (let k = first; k < end; k++) {
    const digit = (bytes[k] as number) - 0x30
    if (digit < 0 || digit > 9) return null
    n = n * 10 + digit
  }
  if (Number.isSafeInteger(n)) return negative ? -n : n
  const exact = parseBigInteger(bytes, start, end)
  return exact === null ? null : Number(exact)
}

/** Parses `bytes[start, end)` as a strict decimal int64, exactly; null if not one or out of range. */
export function parseBigInteger(bytes: Uint8Array, start: number, end: number): bigint | null {
  const negative = bytes[start] === 0x2d
  const first = negative ? start + 1 : start
  if (first >= end || end - start > MAX_INTEGER_LENGTH) return null
  if (bytes[first] === 0x30 && (end - first > 1 || negative)) return null
  for (let k = first; k < end; k++) {
    const c = bytes[k] as number
    if (c < 0x30 || c > 0x39) return null
  }
  let text = ''
  for (let k = start; k < end; k++) text += String.fromCharCode(bytes[k] as number)
  const n = BigInt(text)
  return n < INT64_MIN || n > INT64_MAX ? null : n
}
