/**
 * Encodes the Redis client's commands as RESP arrays of bulk strings, straight into bytes: no
 * string is built per command.
 */
import type { Transport } from 'rotor-stream'

const CR = 0x0d
const LF = 0x0a
/** Size of the encoder's staging Buffer (one per process), in bytes. */
const SCRATCH_BYTES = 16 * 1024
/** Most bytes of a `$<n>\r\n` or `*<n>\r\n` header (n < 2^53). */
const HEADER_BYTES = 20
/**
 * Arguments up to this many characters are tried as ASCII and copied by a JS loop; longer ones
 * are encoded natively. Most keys and values are short: this loop and the staging Buffer took
 * bench/micro/resp-client.ts from 460 to 360 ns per command (commit 20c5300), against one string
 * built per round and written with `Buffer#write`.
 */
const SHORT_ARG = 64

/**
 * Encodes commands into a scratch Buffer, handed to the output with one `Buf.write` per round (or
 * whenever it fills). Short ASCII arguments are copied by a JS loop; long or non-ASCII strings are
 * encoded natively, Buffers copied as they are (binary-safe). One instance serves every
 * connection: a round's encoding runs to its end synchronously and always ends with `flush`.
 */
export class Encoder {
  /** Staging bytes; `[0, #at)` are encoded and not yet written to the output. */
  readonly #bytes = Buffer.allocUnsafe(SCRATCH_BYTES)
  #at = 0
  /** Bytes written to the output since `begin`, not counting the staged ones. */
  #written = 0

  /** Bytes encoded since `begin`: bounds a round's batch. */
  get size(): number {
    return this.#written + this.#at
  }

  /** Starts a round; the previous one ended with `flush`. */
  begin(): void {
    this.#at = 0
    this.#written = 0
  }

  encode(args: readonly (string | Buffer | number)[], out: Transport['output']): void {
    this.#room(HEADER_BYTES, out)
    this.#at = writeHeader(this.#bytes, this.#at, 0x2a, args.length)
    for (const arg of args) {
      if (typeof arg === 'string') this.#string(arg, out)
      else if (typeof arg === 'number') this.#string(String(arg), out)
      else this.#buffer(arg, out)
    }
  }

  /** Writes the staged bytes to the output. */
  flush(out: Transport['output']): void {
    if (this.#at === 0) return
    this.#written += out.write(this.#bytes.subarray(0, this.#at))
    this.#at = 0
  }

  #string(s: string, out: Transport['output']): void {
    const n = s.length
    if (n <= SHORT_ARG) {
      this.#room(HEADER_BYTES + n + 2, out)
      const bytes = this.#bytes
      const from = writeHeader(bytes, this.#at, 0x24, n)
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c > 0x7f) break // not ASCII: its utf8 length is not n; encoded below instead
        bytes[from + i] = c
      }
      if (i === n) {
        bytes[from + n] = CR
        bytes[from + n + 1] = LF
        this.#at = from + n + 2
        return
      }
    }
    const length = Buffer.byteLength(s)
    if (length + HEADER_BYTES + 2 > SCRATCH_BYTES) {
      this.#header(length, out)
      this.flush(out)
      this.#written += out.write(s)
      this.#crlf(out)
      return
    }
    this.#room(HEADER_BYTES + length + 2, out)
    const from = writeHeader(this.#bytes, this.#at, 0x24, length)
    this.#bytes.write(s, from, length, 'utf8')
    this.#at = from + length
    this.#crlf(out)
  }

  #buffer(arg: Buffer, out: Transport['output']): void {
    this.#header(arg.length, out)
    if (arg.length + 2 <= SCRATCH_BYTES - this.#at) {
      arg.copy(this.#bytes, this.#at)
      this.#at += arg.length
    } else {
      this.flush(out)
      this.#written += out.write(arg)
    }
    this.#crlf(out)
  }

  #header(length: number, out: Transport['output']): void {
    this.#room(HEADER_BYTES, out)
    this.#at = writeHeader(this.#bytes, this.#at, 0x24, length)
  }

  #crlf(out: Transport['output']): void {
    this.#room(2, out)
    this.#bytes[this.#at++] = CR
    this.#bytes[this.#at++] = LF
  }

  /** Makes room for `n` staged bytes (n <= SCRATCH_BYTES), flushing what is staged if needed. */
  #room(n: number, out: Transport['output']): void {
    if (this.#at + n > SCRATCH_BYTES) this.flush(out)
  }
}

/** Writes `<type><n>\r\n` at `at`; returns the position after it. */
function writeHeader(bytes: Buffer, at: number, type: number, n: number): number {
  bytes[at++] = type
  // Most headers are an argument count or a short length: one or two digits, no division loop.
  if (n < 100) {
    if (n >= 10) bytes[at++] = 0x30 + ((n / 10) | 0)
    bytes[at++] = 0x30 + (n % 10)
    bytes[at++] = CR
    bytes[at++] = LF
    return at
  }
  let digits = 1
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++
  for (let i = at + digits - 1, m = n; i >= at; i--, m = Math.floor(m / 10)) bytes[i] = 0x30 + (m % 10)
  at += digits
  bytes[at++] = CR
  bytes[at++] = LF
  return at
}
