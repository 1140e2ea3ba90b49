/**
 * The RESP server protocol: parses requests (arrays of bulk strings, or inline commands), hands
 * each complete command to the dispatcher with the connection's `Session`, writes the replies
 * (RESP2, or RESP3 after `HELLO 3`), and delivers pub/sub messages published by other
 * connections (`wakeup`), bounded like Redis' `client-output-buffer-limit pubsub`.
 *
 * One `bytesRead` call parses everything that is buffered — 32 pipelined commands arriving in
 * one read are executed in one call and their replies leave in one write — and then returns an
 * Intent naming exactly what is missing: the next header line (a bounded delimiter) or the rest
 * of a bulk string (an exact byte count). Every size the peer declares is checked against a
 * limit before anything is allocated, like Redis' proto-max-bulk-len.
 *
 * Parsing happens in place: arguments are spans (`Args`) of one view of the input, commands run
 * on them, and the input is consumed once per call, up to the first incomplete command. That one
 * stays buffered, with its spans and the parse position kept, so the next call resumes where
 * this one stopped instead of parsing it again.
 */
import { type Exception, Intent, type Protocol, type Scope, type Transport } from 'rotor-stream'
import { Args } from './args.js'
import { execute } from './dispatch.js'
import { splitPlain, splitQuoted } from './inline.js'
import { writeError } from './reply.js'
import type { ServerState } from './server-state.js'
import { Session } from './session.js'

const CR = 0x0d
const LF = 0x0a
const NEWLINE = Buffer.from('\n')
/** Longest `$<length>` line: '$' + up to 20 digits + CRLF, with room to spare. */
const MAX_BULK_HEADER = 32
/** Most characters in a length (`*<n>`, `$<n>`): a sign and 19 digits, or 20 digits. */
const MAX_LENGTH_DIGITS = 20
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

/**
 * Messages for a subscriber are moved into its output only once the previous ones are down to
 * this many unwritten bytes: what it has not read stays counted (and bounded) in its queue.
 */
const DELIVERY_LOW_WATER = 64 * 1024

/** What a connection shares with the others: the databases, clients and subscriptions, and the limits. */
export interface RespContext {
  readonly server: ServerState
  readonly limits: RespLimits
  /** The Unix socket path this listener serves, if it is one: CLIENT LIST shows it as the address (a Unix peer has none). */
  readonly unixPath?: string
}

/** The address as Redis prints it in CLIENT LIST: `ip:port`, `[ipv6]:port`, or `path:0` for a Unix socket. */
function formatEndpoint(address: string | undefined, port: number | undefined, unixPath: string | undefined): string {
  if (address === undefined || address === '') return `${unixPath ?? '?'}:0`
  return `${address.includes(':') ? `[${address}]` : address}:${port ?? 0}`
}

/**
 * The stream `maxBufferSize` a connection with `limits` needs (pass it to `serve`): a command is
 * parsed in place, so the input holds all of it — arguments, their `$<length>` lines and CRLFs,
 * the array header — until it runs.
 */
export function respMaxBufferSize(limits: RespLimits): number {
  return limits.maxCommandBytes + limits.maxArguments * (MAX_BULK_HEADER + 3) + limits.maxInlineLength + 1
}

/** One connection speaking RESP2 or RESP3. */
export class RespConnection implements Protocol {
  /**
   * `command`: at the start of a command (array header or inline line).
   * `bulkHeader`: inside an array, before the `$<length>` line at `at`.
   * `bulkBody`: inside an array, before the `bulkLength` bytes plus CRLF at `at`.
   * `closing`: a last reply (QUIT, protocol error) is being flushed.
   * Between calls the command being parsed starts at input position 0: all before it is consumed.
   */
  phase: 'command' | 'bulkHeader' | 'bulkBody' | 'closing' = 'command'
  /** Arguments of the current command parsed so far, as spans of the input (phases bulkHeader, bulkBody). */
  readonly args = new Args()
  /** Arguments the current array announced (phases bulkHeader, bulkBody). */
  expected = 0
  /** Input position of the next `$<length>` line or bulk string (phases bulkHeader, bulkBody). */
  at = 0
  /** Length of the bulk string at `at` (phase bulkBody). */
  bulkLength = 0
  /** Bytes of arguments in the current command, against maxCommandBytes. */
  commandBytes = 0
  /** Messages were moved into the output: waiting for them to flush before moving more (see DELIVERY_LOW_WATER). */
  isDelivering = false
  /** The connection's state between commands, shared with the dispatcher and the server's registries. */
  readonly session: Session
  readonly #context: RespContext
  /** The Intent of the 'command' phase, returned again after every read (the stream copies it): no allocation per read. */
  readonly #nextCommand: Intent<RespConnection>

  constructor(context: RespContext, t: Transport, scope: Scope) {
    this.#context = context
    this.#nextCommand = Intent.of(this).expectDelimiter(NEWLINE, { max: context.limits.maxInlineLength })
    const unix = context.unixPath
    const endpoint = {
      addr: formatEndpoint(t.remoteAddress, t.remotePort, unix),
      laddr: formatEndpoint(t.localAddress, t.localPort, unix),
      isUnix: unix !== undefined,
    }
    const notify = scope.notifier()
    this.session = context.server.register((id) => new Session(id, context.server, t.output, endpoint, notify))
  }

  static factory(context: RespContext) {
    return (t: Transport, _seed: unknown, scope: Scope): Intent<RespConnection> => new RespConnection(context, t, scope).#waitCommand(t, 0, scope)
  }

  bytesRead(t: Transport, _end: number, scope: Scope): Intent<RespConnection> {
    if (this.phase === 'closing') throw new Error('bytesRead while closing')
    // One view of everything buffered; argument spans index into it until the input is consumed.
    const data = t.input.view()
    this.args.data = data
    const session = this.session
    session.isRunning = true
    session.lastActive = session.server.now() // one clock read per read, not per command
    const intent = this.#parse(t, data, scope)
    session.isRunning = false
    this.args.release() // the view may outlive the input's storage: do not keep it
    return intent
  }

  /** A message for this subscriber was queued, or the connection must close (output limit, CLIENT KILL). */
  wakeup(t: Transport, scope: Scope): Intent<RespConnection> {
    if (this.session.isKilled) return this.#drop('client output limit reached or killed')
    if (this.phase === 'closing') return Intent.of(this).expectFlush()
    if (this.isDelivering || this.session.pending.length === 0) return this.#resume(scope)
    return this.#deliver(t)
  }

  bytesFlushed(t: Transport, scope: Scope): Intent<RespConnection> {
    if (this.phase === 'closing') return this.#done()
    // The messages moved into the output are (nearly) written: move the next ones, or read on.
    this.isDelivering = false
    this.session.inFlight = 0
    if (this.session.isKilled) return this.#drop('client output limit reached or killed')
    if (this.session.pending.length > 0) return this.#deliver(t)
    return this.#resume(scope)
  }

  fatal(): void {
    this.session.close()
  }

  exception(t: Transport, reason: Exception): Intent<RespConnection> {
    switch (reason.code) {
      case 'RS_ERR_LIMIT_REACHED':
        // A line longer than its bound, or (with a stream maxBufferSize below respMaxBufferSize) a command too large to hold.
        return this.#protocolError(
          t,
          this.phase === 'command' ? 'too big inline request' : this.phase === 'bulkHeader' ? 'too big bulk header' : 'command too large',
        )
      case 'RS_ERR_PROTOCOL': // only from Intent.reject(): answered like any malformed command
        return this.#protocolError(t, reason.message)
      case 'RS_ERR_END_OF_STREAM':
      case 'RS_ERR_READ':
      case 'RS_ERR_TLS_UPGRADE': // only after Intent.startTls, which this protocol never returns
      case 'RS_ERR_TOO_SLOW':
        return this.#done()
    }
  }

  timeout(): Intent<RespConnection> {
    return this.#done() // idle client (only with idleTimeout set), as Redis' `timeout` setting
  }

  /** Moves the queued messages into the output and waits for them to flush before reading on. */
  #deliver(t: Transport): Intent<RespConnection> {
    this.session.flushPending(t.output)
    this.isDelivering = true
    return Intent.of(this).expectFlush(DELIVERY_LOW_WATER)
  }

  /** What the connection waited for before a delivery: the next command, or the rest of the one begun. */
  #resume(scope: Scope): Intent<RespConnection> {
    switch (this.phase) {
      case 'command':
        return this.#idle(this.#nextCommand, scope)
      case 'bulkHeader':
        return this.#idle(Intent.of(this).expectDelimiter(NEWLINE, { offset: this.at, max: this.at + MAX_BULK_HEADER }), scope)
      case 'bulkBody':
        return this.#idle(Intent.of(this).expectBytes(this.at + this.bulkLength + 2), scope)
      case 'closing':
        return Intent.of(this).expectFlush()
    }
  }

  /** The clean end: leave the registries, flush, close. */
  #done(): Intent<RespConnection> {
    this.session.close()
    return Intent.done()
  }

  /** Closes at once, dropping unsent output (an HTTP request, a subscriber over its limit); `fatal` leaves the registries. */
  #drop(why: string): Intent<RespConnection> {
    this.phase = 'closing'
    return Intent.error(new Error(why))
  }

  /** Executes every complete command in `data` (the input), then consumes them and says what is missing. */
  #parse(t: Transport, data: Buffer, scope: Scope): Intent<RespConnection> {
    const limits = this.#context.limits
    const outputLimit = t.output.length + MAX_CALL_OUTPUT
    // Start of the first command not executed yet: everything before it is consumed on return.
    let pos = 0
    for (;;) {
      if (this.phase === 'command') {
        if (pos === data.length || t.output.length >= outputLimit) return this.#waitCommand(t, pos, scope)
        // The common array header, `*<digits>\r\n`, is read in place; anything else takes the general path below.
        const digitsEnd = data[pos] === ASTERISK ? skipDigits(data, pos + 1) : -1
        if (
          digitsEnd > pos + 1 &&
          digitsEnd - pos <= MAX_LENGTH_DIGITS + 1 &&
          data[digitsEnd] === CR &&
          data[digitsEnd + 1] === LF &&
          digitsEnd + 1 - pos <= limits.maxInlineLength
        ) {
          const count = decimal(data, pos + 1, digitsEnd)
          if (count > limits.maxArguments) return this.#protocolError(t, 'invalid multibulk length')
          pos = digitsEnd + 2
          if (count === 0) continue // an empty array is no command; Redis ignores it too
          this.#startArray(count, pos)
        } else {
          const lf = data.indexOf(LF, pos)
          if (lf < 0) return this.#waitCommand(t, pos, scope)
          // The stream's bound on the line we found ourselves too, so that a line too long gets
          // the same answer whether it arrived alone or after other commands in one read.
          if (lf - pos > limits.maxInlineLength) return this.#protocolError(t, 'too big inline request')
          if (data[pos] === ASTERISK) {
            const count = parseLength(data, pos, lf)
            if (count === null || count > limits.maxArguments) return this.#protocolError(t, 'invalid multibulk length')
            pos = lf + 1
            if (count > 0) this.#startArray(count, pos)
            continue
          }
          // An inline command: words separated by whitespace (telnet's form, redis-cli's quotes), CRLF or LF ended.
          const end = lf > pos && data[lf - 1] === CR ? lf - 1 : lf
          if (!splitPlain(data, pos, end, this.args) && !splitQuoted(data, pos, end, this.args)) {
            return this.#protocolError(t, 'unbalanced quotes in request')
          }
          pos = lf + 1
          if (this.args.count > 0) this.#execute(t)
          this.args.data = data // a quoted line ran on its own decoded bytes
          if (this.session.isDropped) return this.#drop('HTTP request on the RESP port')
          if (this.session.isQuitting) return this.#close(t)
          continue
        }
      }
      const missing = this.#parseArguments(t, data, pos, scope)
      if (missing !== null) return missing
      pos = this.at
      this.phase = 'command'
      this.#execute(t)
      if (this.session.isDropped) return this.#drop('HTTP request on the RESP port')
      if (this.session.isQuitting) return this.#close(t)
    }
  }

  /**
   * Parses the current array's arguments from `at` on. Returns null once all are there, else
   * what to wait for (the input consumed up to `pos`, the command's start) or a protocol error.
   */
  #parseArguments(t: Transport, data: Buffer, pos: number, scope: Scope): Intent<RespConnection> | null {
    const args = this.args
    const limits = this.#context.limits
    let at = this.at
    while (args.count < this.expected) {
      if (this.phase === 'bulkHeader') {
        // `$<digits>\r\n` read in place; anything else (or an incomplete line) takes the general path.
        const digitsEnd = data[at] === DOLLAR ? skipDigits(data, at + 1) : -1
        let length: number
        if (digitsEnd > at + 1 && digitsEnd - at <= MAX_LENGTH_DIGITS + 1 && data[digitsEnd] === CR && data[digitsEnd + 1] === LF) {
          length = decimal(data, at + 1, digitsEnd)
          at = digitsEnd + 2
        } else {
          const lf = data.indexOf(LF, at)
          if (lf < 0) {
            this.at = at
            return this.#suspend(t, pos, Intent.of(this).expectDelimiter(NEWLINE, { offset: at - pos, max: at - pos + MAX_BULK_HEADER }), scope)
          }
          if (lf - at > MAX_BULK_HEADER) return this.#protocolError(t, 'too big bulk header') // as the stream's bound says
          if (data[at] !== DOLLAR) return this.#protocolError(t, `expected '$', got '${String.fromCharCode(data[at] ?? 0)}'`)
          const parsed = parseLength(data, at, lf)
          if (parsed === null || parsed < 0) return this.#protocolError(t, 'invalid bulk length')
          length = parsed
          at = lf + 1
        }
        if (length > limits.maxBulkLength) return this.#protocolError(t, 'invalid bulk length')
        if (this.commandBytes + length > limits.maxCommandBytes) return this.#protocolError(t, 'command too large')
        this.bulkLength = length
        this.phase = 'bulkBody'
      }
      const stop = at + this.bulkLength
      if (data.length < stop + 2) {
        this.at = at
        return this.#suspend(t, pos, Intent.of(this).expectBytes(stop + 2 - pos), scope)
      }
      if (data[stop] !== CR || data[stop + 1] !== LF) return this.#protocolError(t, 'bulk string not followed by CRLF')
      args.push(at, stop)
      this.commandBytes += this.bulkLength
      at = stop + 2
      this.phase = 'bulkHeader'
    }
    this.at = at
    return null
  }

  /** Wait for the next command's first line, the input consumed up to `pos`. */
  #waitCommand(t: Transport, pos: number, scope: Scope): Intent<RespConnection> {
    if (pos > 0) t.input.consume(pos)
    this.phase = 'command'
    return this.#idle(this.#nextCommand, scope)
  }

  /** Consumes the input up to `pos`, the start of the incomplete command, whose spans move with it. */
  #suspend(t: Transport, pos: number, intent: Intent<RespConnection>, scope: Scope): Intent<RespConnection> {
    if (pos > 0) {
      t.input.consume(pos)
      this.args.rebase(pos)
      this.at -= pos
    }
    return this.#idle(intent, scope)
  }

  /** With idleTimeout, every wait for input has the deadline: a client silent in the middle of a command is idle too. */
  #idle(intent: Intent<RespConnection>, scope: Scope): Intent<RespConnection> {
    const idle = this.#context.limits.idleTimeout
    return idle > 0 ? intent.deadline(scope.now() + idle) : intent
  }

  /** An array of `count` arguments starts; its first `$<length>` line is at `at`. */
  #startArray(count: number, at: number): void {
    this.expected = count
    this.at = at
    this.commandBytes = 0
    this.args.count = 0
    this.phase = 'bulkHeader'
  }

  /** Runs the command in `args`; its reply goes straight into the output Buf. */
  #execute(t: Transport): void {
    execute(this.session, this.args, t.output)
    this.args.clear()
  }

  /** Answer `-ERR Protocol error: …` and close, as Redis does. */
  #protocolError(t: Transport, message: string): Intent<RespConnection> {
    writeError(t.output, `Protocol error: ${message}`)
    this.args.clear()
    return this.#close(t)
  }

  #close(t: Transport): Intent<RespConnection> {
    this.phase = 'closing'
    t.input.consume(t.input.length) // nothing after QUIT or a protocol error is read
    return Intent.of(this).expectFlush()
  }
}

/** Position of the first non-digit at or after `from` (the end of `data` if none). */
function skipDigits(data: Buffer, from: number): number {
  let i = from
  while (i < data.length) {
    const c = data[i] as number
    if (c < 0x30 || c > 0x39) break
    i++
  }
  return i
}

/** The decimal value of the digits `data[from, to)` (known to be digits). */
function decimal(data: Buffer, from: number, to: number): number {
  let n = 0
  for (let i = from; i < to; i++) n = n * 10 + (data[i] as number) - 0x30
  return n
}

/** Parses the `*<n>\r` or `$<n>\r` line at `start` whose LF is at `lf`; null unless a plain decimal of at most 20 digits. */
function parseLength(data: Buffer, start: number, lf: number): number | null {
  if (data[lf - 1] !== CR) return null
  const end = lf - 1 // end of the digits
  let i = start + 1
  const negative = data[i] === 0x2d
  if (negative) i++
  if (i >= end || end - start - 1 > MAX_LENGTH_DIGITS) return null
  let value = 0
  for (; i < end; i++) {
    const digit = (data[i] as number) - 0x30
    if (digit < 0 || digit > 9) return null
    value = value * 10 + digit
  }
  return negative ? -value : value
}
