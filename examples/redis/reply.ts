/**
 * RESP2 reply encoders. Replies are appended to the connection's output Buf; all replies of one
 * round leave in one socket write.
 */

/** Where replies go. */
export interface Reply {
  write(data: string | Buffer): void
}

export const OK = '+OK\r\n'
export const PONG = '+PONG\r\n'
export const NULL_BULK = '$-1\r\n'
export const NULL_ARRAY = '*-1\r\n'
export const EMPTY_ARRAY = '*0\r\n'
/** `:0\r\n` … `:9\r\n` and a few more are common enough to keep ready. */
const SMALL_INTEGERS = Array.from({ length: 64 }, (_, i) => `:${i}\r\n`)

export function writeError(out: Reply, message: string): void {
  out.write(`-${message.startsWith('ERR') || /^[A-Z]+ /.test(message) ? '' : 'ERR '}${message.replace(/[\r\n]/g, ' ')}\r\n`)
}

export function writeInteger(out: Reply, n: number): void {
  out.write(n >= 0 && n < SMALL_INTEGERS.length ? (SMALL_INTEGERS[n] as string) : `:${n}\r\n`)
}

export function writeBulk(out: Reply, value: Buffer | string | null | undefined): void {
  if (value === null || value === undefined) {
    out.write(NULL_BULK)
    return
  }
  if (typeof value === 'string') {
    out.write(`$${Buffer.byteLength(value)}\r\n${value}\r\n`)
    return
  }
  out.write(`$${value.length}\r\n`)
  out.write(value)
  out.write('\r\n')
}

export function writeArrayHeader(out: Reply, length: number): void {
  out.write(`*${length}\r\n`)
}

export function writeBulkArray(out: Reply, values: readonly (Buffer | string | null | undefined)[]): void {
  writeArrayHeader(out, values.length)
  for (const value of values) writeBulk(out, value)
}
