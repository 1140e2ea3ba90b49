/**
 * The RESP2 server protocol: parses requests (arrays of bulk strings, or inline commands),
 * hands each complete command to a `Keyspace`, writes the replies.
 *
 * One `bytesRead` call parses everything that is buffered — 32 pipelined commands arriving in
 * one read are executed in one call and their replies leave in one write — and then returns an
 * Intent naming exactly what is missing: the next header line (a bounded delimiter) or the rest
 * of a bulk string (an exact byte count). Every size the peer declares is checked against a
 * limit before anything is allocated, like Redis' proto-max-bulk-len.
 */
import { type Exception, Intent, type Protocol, type Scope, type Transport } from 'rotor-stream'
import type { Keyspace } from './keyspace.js'
import { writeError } from './reply.js'

const CR = 0x0d
const LF = Buffer.from('\n')
/** Longest `$<length>` line: '$' + up to 20 digits + CRLF. */
const MAX_BULK_HEADER = 32
/**
 * One `bytesRead` call stops executing buffered commands once its replies pass this many bytes
 * and returns; the stream's pushback then decides when the rest is parsed. Without it, a client
 * that pipelines thousands of GETs of a large value in one read and never reads the replies
 * makes one call produce gigabytes, whatever the stream's outputHighWaterMark.
 */
const MAX_CALL_OUTPUT = 64 * 1024
const ASTERISK = 0x2a
const DOLLAR = 0x24

/** Limits of one connection's requests. */
export interface RespLimits {
  /** Longest bulk string, bytes (Redis' proto-max-bulk-len). @default 8388608 (8 MiB) */
  maxBulkLength: number
  /** Most arguments in one command. @default 65536 */
  maxArguments: number
  /** Longest inline command or header line, bytes. @default 65536 */
  maxInlineLength: number
  /** Sum of a command's argument sizes, bytes. @default 33554432 (32 MiB) */
  maxCommandBytes: number
  /** A connection silent for this long (ms) is closed; 0 = never. @default 0 */
  idleTimeout: number
}

export const RESP_DEFAULTS: Readonly<RespLimits> = Object.freeze({
  maxBulkLength: 8 * 1024 * 1024,
  maxArguments: 64 * 1024,
  maxInlineLength: 64 * 1024,
  maxCommandBytes: 32 * 1024 * 1024,
  idleTimeout: 0,
})

/** What a connection shares with the others: the data and the limits. */
export interface RespContext {
  readonly keyspace: Keyspace
  readonly limits: RespLimits
}

/** One connection speaking RESP2. */
export class RespConnection implements Protocol {
  /**
   * `command`: at the start of a command (array header or inline line).
   * `bulkHeader`: inside an array, before the `$<length>` line of argument `args.length`.
   * `bulkBody`: inside an array, waiting for `bulkLength` bytes plus CRLF.
   * `closing`: a last reply (QUIT, protocol error) is being flushed.
   */
  phase: 'command' | 'bulkHeader' | 'bulkBody' | 'closing' = 'command'
  /** Arguments parsed so far of the current command (phases bulkHeader, bulkBody). */
  args: Buffer[] = []
  /** Arguments the current array announced (phases bulkHeader, bulkBody). */
  expected = 0
  /** Length of the bulk string being read (phase bulkBody). */
  bulkLength = 0
  /** Bytes of arguments in the current command, against maxCommandBytes. */
  commandBytes = 0
  /** Set by QUIT: close once the replies are flushed. */
  quit = false
  readonly #context: RespContext

  constructor(context: RespContext) {
    this.#context = context
  }

  static factory(context: RespContext) {
    return (_t: Transport, _seed: unknown, scope: Scope): Intent<RespConnection> => new RespConnection(context).waitCommand(scope)
  }

  bytesRead(t: Transport, end: number, scope: Scope): Intent<RespConnection> {
    const input = t.input
    // `lf`: position of the LF ending the header line at the start of the input, or -1.
    // The engine found the first one; after that we search ourselves, so that everything
    // buffered is parsed in this one call.
    let lf = end
    const outputLimit = t.output.length + MAX_CALL_OUTPUT
    for (;;) {
      switch (this.phase) {
        case 'command': {
          if (lf < 0 || t.output.length >= outputLimit) return this.waitCommand(scope)
          // The stream's bound on the line we found ourselves too, so that a line too long gets
          // the same answer whether it arrived alone or after other commands in one read.
          if (lf > this.#context.limits.maxInlineLength) return this.protocolError(t, 'too big inline request')
          if (input.byte(0) === ASTERISK) {
            const count = this.parseLength(input, lf)
            if (count === null || count > this.#context.limits.maxArguments) return this.protocolError(t, 'invalid multibulk length')
            input.consume(lf + 1)
            if (count > 0) this.startArray(count) // an empty array is no command; Redis ignores it too
          } else {
            // An inline command: words separated by spaces (telnet's form), CRLF or LF ended.
            const line = input.toString('latin1', 0, lf > 0 && input.byte(lf - 1) === CR ? lf - 1 : lf)
            input.consume(lf + 1)
            const words = line.split(' ').filter((w) => w.length > 0)
            if (words.length > 0)
              this.execute(
                t,
                words.map((w) => Buffer.from(w, 'latin1')),
              )
            if (this.quit) return this.close(t)
          }
          break
        }
        case 'bulkHeader': {
          if (lf < 0) return this.idle(Intent.of(this).expectDelimiter(LF, { max: MAX_BULK_HEADER }), scope)
          if (lf > MAX_BULK_HEADER) return this.protocolError(t, 'too big bulk header') // as the stream's bound says
          if (input.byte(0) !== DOLLAR) return this.protocolError(t, `expected '$', got '${String.fromCharCode(input.byte(0) ?? 0)}'`)
          const length = this.parseLength(input, lf)
          const limits = this.#context.limits
          if (length === null || length < 0 || length > limits.maxBulkLength) return this.protocolError(t, 'invalid bulk length')
          if (this.commandBytes + length > limits.maxCommandBytes) return this.protocolError(t, 'command too large')
          input.consume(lf + 1)
          this.bulkLength = length
          this.phase = 'bulkBody'
          break
        }
        case 'bulkBody': {
          const need = this.bulkLength + 2
          if (input.length < need) return this.idle(Intent.of(this).expectBytes(need), scope)
          if (input.byte(this.bulkLength) !== CR || input.byte(this.bulkLength + 1) !== 0x0a) return this.protocolError(t, 'bulk string not followed by CRLF')
          this.args.push(Buffer.from(input.view(0, this.bulkLength))) // a copy: the view dies with consume()
          input.consume(need)
          this.commandBytes += this.bulkLength
          if (this.args.length < this.expected) {
            this.phase = 'bulkHeader'
            break
          }
          const args = this.args
          this.args = []
          this.phase = 'command'
          this.execute(t, args)
          if (this.quit) return this.close(t)
          break
        }
        case 'closing':
          throw new Error('bytesRead while closing')
      }
      if (this.phase !== 'bulkBody') lf = input.indexOf(0x0a)
    }
  }

  exception(t: Transport, reason: Exception): Intent<RespConnection> {
    switch (reason.code) {
      case 'RS_ERR_LIMIT_REACHED':
        return this.protocolError(t, this.phase === 'command' ? 'too big inline request' : 'too big bulk header')
      case 'RS_ERR_END_OF_STREAM':
      case 'RS_ERR_READ':
      case 'RS_ERR_TOO_SLOW':
        return Intent.done()
    }
  }

  timeout(): Intent<RespConnection> {
    return Intent.done() // idle client (only with idleTimeout set), as Redis' `timeout` setting
  }

  bytesFlushed(): Intent<RespConnection> {
    return Intent.done()
  }

  /** Wait for the next command's first line. */
  private waitCommand(scope: Scope): Intent<RespConnection> {
    this.phase = 'command'
    return this.idle(Intent.of(this).expectDelimiter(LF, { max: this.#context.limits.maxInlineLength }), scope)
  }

  /** With idleTimeout, every wait for input has the deadline: a client silent in the middle of a command is idle too. */
  private idle(intent: Intent<RespConnection>, scope: Scope): Intent<RespConnection> {
    const idle = this.#context.limits.idleTimeout
    return idle > 0 ? intent.deadline(scope.now() + idle) : intent
  }

  private startArray(count: number): void {
    this.expected = count
    this.args = []
    this.commandBytes = 0
    this.phase = 'bulkHeader'
  }

  /** Runs one command; its reply goes straight into the output Buf. */
  private execute(t: Transport, args: Buffer[]): void {
    const name = (args[0] as Buffer).toString('latin1').toUpperCase()
    if (name === 'QUIT') {
      t.output.write('+OK\r\n')
      this.quit = true
      return
    }
    this.#context.keyspace.execute(name, args, t.output)
  }

  /** Parses the `*<n>\r` or `$<n>\r` line before the LF at `lf`; null unless a plain decimal. */
  private parseLength(input: Transport['input'], lf: number): number | null {
    if (input.byte(lf - 1) !== CR) return null
    const at = lf - 1 // end of the digits
    if (at < 2 || at > 21) return null
    let value = 0
    let i = 1
    const negative = input.byte(1) === 0x2d
    if (negative) i = 2
    if (i >= at) return null
    for (; i < at; i++) {
      const digit = (input.byte(i) as number) - 0x30
      if (digit < 0 || digit > 9) return null
      value = value * 10 + digit
    }
    return negative ? -value : value
  }

  /** Answer `-ERR Protocol error: …` and close, as Redis does. */
  private protocolError(t: Transport, message: string): Intent<RespConnection> {
    writeError(t.output, `Protocol error: ${message}`)
    this.args = []
    return this.close(t)
  }

  private close(t: Transport): Intent<RespConnection> {
    this.phase = 'closing'
    t.input.consume(t.input.length) // nothing after QUIT or a protocol error is read
    return Intent.of(this).expectFlush()
  }
}
