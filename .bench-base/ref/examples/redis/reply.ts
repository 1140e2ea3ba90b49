/**
 * RESP2 reply encoders. Replies are appended to the connection's output Buf; all replies of one
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
