/**
 * What a stream waits for, as one record: the kind, its size or delimiter, its deadline and its
 * minimum rate. The engine copies it from the Intent the last handler returned, because a
 * protocol may keep one Intent and return it again, changing it in between.
 */
import type { Buf } from './buf.js'
import { type Intent, Kind, type MinRate } from './intent.js'

/** `findDelimiter` found none yet: more input may bring it. */
const NOT_YET = -1
/** `findDelimiter`: the delimiter was not found within the limit; it never will be. */
export const TOO_LONG = -2

/** One per stream, reused for every expectation. */
export class Expectation {
  kind: Kind = Kind.Pending
  /** Bytes wanted (Bytes), most bytes before the delimiter (Delimiter), unwritten bytes allowed (Flush). */
  n = 0
  /** The delimiter: a byte value when it is one byte long (searched as a plain memchr). */
  delimiter: Buffer | number = 0
  delimiterLength = 0
  /** Where the delimiter search starts. */
  offset = 0
  /** Past `n` without a delimiter, call `bytesRead(-1)` instead of telling a limit (framers, see Intent). */
  limitToRead = false
  /** Delimiter search: input before this position is known not to start a delimiter. */
  searched = 0
  /** Absolute deadline in ms, or NaN for none. */
  deadline = Number.NaN
  /** The minimum input rate in force, or null. */
  rate: MinRate | null = null

  /** True while the stream waits for input (bytes or a delimiter). */
  get readsInput(): boolean {
    return this.kind === Kind.Bytes || this.kind === Kind.Delimiter
  }

  /** Copies `intent`'s expectation; a relative deadline counts from `now`; `rate` applies unless the intent sets its own. */
  adopt(intent: Intent<unknown>, now: number, rate: MinRate | null): void {
    this.kind = intent.kind
    this.n = intent.n
    if (intent.kind === Kind.Delimiter) {
      this.delimiter = intent.delimiter
      this.delimiterLength = intent.delimiterLength
      this.offset = intent.offset
      this.limitToRead = intent.limitToRead
    }
    this.searched = 0
    this.deadline = intent.relative ? now + intent.time : intent.time
    this.rate = intent.rate === undefined ? rate : intent.rate
  }

  /** Waits for nothing (sleep), with no deadline: after `reject()`, until the exception is told. */
  sleep(): void {
    this.kind = Kind.Sleep
    this.deadline = Number.NaN
  }

  /** Forgets everything (the stream ended): drops the reference to the delimiter too. */
  clear(): void {
    this.kind = Kind.Pending
    this.delimiter = 0
    this.deadline = Number.NaN
    this.rate = null
  }

  /** The most bytes a delimited frame may have before its delimiter, under `maxBufferSize`. */
  delimiterLimit(maxBufferSize: number): number {
    return Math.min(this.n, maxBufferSize - this.delimiterLength)
  }

  /**
   * Where the delimiter is in `input`, or `NOT_YET`, or `TOO_LONG` once it can no longer be
   * found within `delimiterLimit()`. Input searched once is not searched again.
   */
  findDelimiter(input: Buf, maxBufferSize: number): number {
    const length = input.length
    const size = this.delimiterLength
    const max = this.delimiterLimit(maxBufferSize)
    const from = Math.max(this.offset, this.searched)
    if (length - from >= size) {
      const at = input.indexOf(this.delimiter, from)
      if (at >= 0) return at <= max ? at : TOO_LONG
      // Nothing found: the next search only needs to re-check a delimiter's width of overlap.
      this.searched = length - size + 1
    }
    return length >= max + size ? TOO_LONG : NOT_YET
  }
}
