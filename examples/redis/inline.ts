/**
 * Inline commands (`SET k "a b"` typed into telnet or sent by `redis-cli`): words separated by
 * whitespace, split as Redis' sdssplitargs does. Words without quotes stay spans of the input
 * (no copy); a line with a quote is decoded into a buffer of its own:
 *
 * - `"..."`: the escapes `\n \r \t \b \a \\ \"` and `\xHH` (two hex digits); any other `\c` is `c`.
 * - `'...'`: only `\'` is an escape.
 * - A closing quote must be followed by whitespace or the end of the line, and every quote must
 *   close: otherwise the line is refused (Redis: "unbalanced quotes in request", and it closes).
 * - A quote in the middle of a word (`a"b"`) opens a quoted part of that word.
 */
import type { Args } from './args.js'

const SPACE = 0x20
const DQUOTE = 0x22
const SQUOTE = 0x27
const BACKSLASH = 0x5c

/** C's isspace: space, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === SPACE || (c >= 0x09 && c <= 0x0d)
}

/**
 * Splits `data[start, end)` into `args` (spans of `data`). Returns false if the line holds a
 * quote: then nothing is pushed and `splitQuoted` must be used instead.
 */
export function splitPlain(data: Buffer, start: number, end: number, args: Args): boolean {
  args.count = 0
  let word = -1 // start of the word being read, or -1 between words
  for (let i = start; i < end; i++) {
    const c = data[i] as number
    if (c === DQUOTE || c === SQUOTE) {
      args.count = 0
      return false
    }
    if (isSpace(c)) {
      if (word >= 0) args.push(word, i)
      word = -1
    } else if (word < 0) {
      word = i
    }
  }
  if (word >= 0) args.push(word, end)
  return true
}

/**
 * Splits a line with quotes into `args`, whose `data` becomes a new buffer holding the decoded
 * words (the caller restores it after the command ran). Returns false on unbalanced quotes.
 */
export function splitQuoted(data: Buffer, start: number, end: number, args: Args): boolean {
  const out = Buffer.allocUnsafe(end - start) // decoding never makes a word longer
  let n = 0
  args.count = 0
  let i = start
  for (;;) {
    while (i < end && isSpace(data[i] as number)) i++
    if (i >= end) break
    const wordStart = n
    let quote = 0 // the open quote, or 0
    for (;;) {
      if (quote === DQUOTE) {
        if (i >= end) return false
        const c = data[i] as number
        if (c === BACKSLASH && i + 3 < end && data[i + 1] === 0x78 && isHex(data[i + 2] as number) && isHex(data[i + 3] as number)) {
          out[n++] = (hex(data[i + 2] as number) << 4) | hex(data[i + 3] as number)
          i += 4
        } else if (c === BACKSLASH && i + 1 < end) {
          out[n++] = escaped(data[i + 1] as number)
          i += 2
        } else if (c === DQUOTE) {
          i++
          if (i < end && !isSpace(data[i] as number)) return false // closing quote must end the word
          break
        } else {
          out[n++] = c
          i++
        }
      } else if (quote === SQUOTE) {
        if (i >= end) return false
        const c = data[i] as number
        if (c === BACKSLASH && i + 1 < end && data[i + 1] === SQUOTE) {
          out[n++] = SQUOTE
          i += 2
        } else if (c === SQUOTE) {
          i++
          if (i < end && !isSpace(data[i] as number)) return false
          break
        } else {
          out[n++] = c
          i++
        }
      } else {
        if (i >= end) break
        const c = data[i] as number
        if (isSpace(c)) break
        if (c === DQUOTE || c === SQUOTE) quote = c
        else out[n++] = c
        i++
      }
    }
    args.push(wordStart, n)
  }
  args.data = out
  return true
}

function escaped(c: number): number {
  switch (c) {
    case 0x6e: // n
      return 0x0a
    case 0x72: // r
      return 0x0d
    case 0x74: // t
      return 0x09
    case 0x62: // b
      return 0x08
    case 0x61: // a
      return 0x07
    default:
      return c
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

function hex(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10
}
