/**
 * RESP2 and RESP3 reply encoders. Replies are appended to the connection's output Buf; all replies of one
 * round leave in one socket write. String values are stored as bytes (`writeBulkBytes`); list
 * elements as latin1 strings (one char per byte), written back as latin1, so binary data round-trips.
 */

/** Where replies go (the output Buf). */
export interface Reply {
  write(data: string | Uint8Array, encoding?: BufferEncoding): unknown
}

export const OK = '+OK\r\n'
export const PONG = '+PONG\r\n'
export const NULL_BULK = '$-1\r\n'
export const NULL_ARRAY = '*-1\r\n'
export const EMPTY_ARRAY = '*0\r\n'
const CRLF = '\r\n'
/** Replies and headers for small numbers are common enough to keep ready (no number-to-string per reply). */
const SMALL = 64
const SMALL_INTEGERS = Array.from({ length: SMALL }, (_, i) => `:${i}\r\n`)
const BULK_HEADERS = Array.from({ length: SMALL }, (_, i) => `$${i}\r\n`)

export function writeError(out: Reply, message: string): void {
  out.write(`-${message.startsWith('ERR') || /^[A-Z]+ /.test(message) ? '' : 'ERR '}${message.replace(/[\r\n]/g, ' ')}\r\n`, 'latin1')
}

export function writeInteger(out: Reply, n: number): void {
  out.write(n >= 0 && n < SMALL ? (SMALL_INTEGERS[n] as string) : `:${n}\r\n`)
}

/** A bulk string from a latin1 string (a list element, a fixed answer), or the null bulk. */
export function writeBulk(out: Reply, value: string | null | undefined): void {
  if (value === null || value === undefined) {
    out.write(NULL_BULK)
    return
  }
  const n = value.length
  out.write(n < SMALL ? (BULK_HEADERS[n] as string) : `$${n}\r\n`)
  out.write(value, 'latin1')
  out.write(CRLF)
}

/** A bulk string from bytes (a stored value, an argument echoed back). */
export function writeBulkBytes(out: Reply, value: Uint8Array): void {
  const n = value.length
  out.write(n < SMALL ? (BULK_HEADERS[n] as string) : `$${n}\r\n`)
  out.write(value)
  out.write(CRLF)
}

export function writeArrayHeader(out: Reply, length: number): void {
  out.write(`*${length}\r\n`)
}

export function writeBulkArray(out: Reply, values: readonly (string | null | undefined)[]): void {
  writeArrayHeader(out, values.length)
  for (const value of values) writeBulk(out, value)
}

// RESP3-aware replies: each takes the connection's version and falls back to RESP2's shape
// (what Redis does for a RESP2 client): a map is a flat array of key, value, key, value…, a set
// an array, a double a bulk string, a boolean an integer, a null the null bulk or null array.

/** A map of `pairs` key-value pairs follows (RESP3 `%`; RESP2: an array of 2 × pairs). */
export function writeMapHeader(out: Reply, resp: 2 | 3, pairs: number): void {
  out.write(resp === 3 ? `%${pairs}\r\n` : `*${pairs * 2}\r\n`)
}

/** A set of `size` elements follows (RESP3 `~`; RESP2: an array). */
export function writeSetHeader(out: Reply, resp: 2 | 3, size: number): void {
  out.write(resp === 3 ? `~${size}\r\n` : `*${size}\r\n`)
}

/** An out-of-band push message of `length` elements follows (RESP3 `>`; RESP2: an array). */
export function writePushHeader(out: Reply, resp: 2 | 3, length: number): void {
  out.write(resp === 3 ? `>${length}\r\n` : `*${length}\r\n`)
}

/** The null reply: RESP3 `_`; RESP2 the null bulk string (`array`: the null array, as Redis uses for some commands). */
export function writeNull(out: Reply, resp: 2 | 3, array = false): void {
  out.write(resp === 3 ? '_\r\n' : array ? NULL_ARRAY : NULL_BULK)
}

/** A double: RESP3 `,`; RESP2 a bulk string of the same text. `text` is Redis' formatting of the value. */
export function writeDouble(out: Reply, resp: 2 | 3, text: string): void {
  if (resp === 3) out.write(`,${text}\r\n`)
  else writeBulk(out, text)
}

/** A boolean: RESP3 `#t`/`#f`; RESP2 the integer 1 or 0. */
export function writeBoolean(out: Reply, resp: 2 | 3, value: boolean): void {
  out.write(resp === 3 ? (value ? '#t\r\n' : '#f\r\n') : value ? ':1\r\n' : ':0\r\n')
}

/** Text for a human (INFO, CLIENT LIST): RESP3 the verbatim string `=<n>\r\ntxt:…`; RESP2 a bulk string. `text` is latin1. */
export function writeVerbatim(out: Reply, resp: 2 | 3, text: string): void {
  if (resp === 3) {
    out.write(`=${text.length + 4}\r\ntxt:`)
    out.write(text, 'latin1')
    out.write(CRLF)
  } else {
    writeBulk(out, text)
  }
}
