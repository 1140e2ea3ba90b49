/**
 * Small protocols for the engine's own tests: each shows one behaviour and records what it saw.
 */
import { type Exception, Intent, type Protocol, type Scope, type Transport } from 'rotor-stream'

/** Options of {@link Lines}. */
export interface LinesOptions {
  /** The line delimiter. @default '\n' */
  delimiter?: string
  /** `max` of every `expectDelimiter`. @default 1024 */
  max?: number
  /** What to answer to a line; `undefined` answers nothing. @default echo with the delimiter */
  reply?: (line: string) => string | undefined
  /** Wait for the reply to be flushed (`expectFlush(flush)`) before reading the next line. */
  flush?: number
  /** Relative timeout of every read Intent, in ms. */
  timeout?: number
}

/**
 * Reads delimited lines and answers each one. Records lines, exceptions, timeouts and fatal
 * reasons. On EndOfStream it answers `eof <buffered>` and returns done; other exceptions end
 * the stream with the reason (as the default does).
 */
export class Lines implements Protocol {
  readonly lines: string[] = []
  readonly exceptions: Exception[] = []
  readonly fatals: Error[] = []
  /** `t.input.toString()` when exception() ran, one per exception. */
  readonly bufferedAtException: string[] = []
  /** `scope.now()` at each timeout. */
  readonly timeouts: number[] = []
  readonly #delimiter: string
  readonly #max: number
  readonly #reply: (line: string) => string | undefined
  readonly #flush: number | undefined
  readonly #timeout: number | undefined

  constructor(options: LinesOptions = {}) {
    this.#delimiter = options.delimiter ?? '\n'
    this.#max = options.max ?? 1024
    this.#reply = options.reply ?? ((line) => line + this.#delimiter)
    this.#flush = options.flush
    this.#timeout = options.timeout
  }

  /** A factory for this very instance. */
  get factory(): () => Intent<Protocol> {
    return () => this.read()
  }

  read(): Intent<Lines> {
    const intent = Intent.of(this).expectDelimiter(this.#delimiter, { max: this.#max })
    return this.#timeout === undefined ? intent : intent.timeout(this.#timeout)
  }

  bytesRead(t: Transport, end: number, _scope?: Scope): Intent<Lines> {
    const line = t.input.toString('latin1', 0, end)
    t.input.consume(end + Buffer.byteLength(this.#delimiter))
    this.lines.push(line)
    const reply = this.#reply(line)
    if (reply !== undefined) t.output.write(reply, 'latin1')
    return this.#flush === undefined ? this.read() : Intent.of(this).expectFlush(this.#flush)
  }

  bytesFlushed(): Intent<Lines> {
    return this.read()
  }

  exception(t: Transport, reason: Exception): Intent<Lines> {
    this.exceptions.push(reason)
    this.bufferedAtException.push(t.input.toString('latin1'))
    if (reason.code !== 'RS_ERR_END_OF_STREAM') return Intent.error(reason)
    t.output.write(`eof ${t.input.toString('latin1')}\n`)
    return Intent.done()
  }

  timeout(_t: Transport, scope: Scope): Intent<Lines> {
    this.timeouts.push(scope.now())
    return Intent.of(this).expectDelimiter(this.#delimiter, { max: this.#max }) // no deadline: wait forever
  }

  fatal(reason: Error): void {
    this.fatals.push(reason)
  }
}

/** Client side of line echo: sends its lines at once, collects as many reply lines, ends cleanly. */
export class Exchange implements Protocol {
  readonly lines: readonly string[]
  readonly replies: string[] = []
  constructor(lines: readonly string[]) {
    this.lines = lines
  }
  start(t: Transport): Intent<Exchange> {
    t.output.write(this.lines.map((line) => `${line}\n`).join(''))
    return this.next()
  }
  bytesRead(t: Transport, end: number): Intent<Exchange> {
    this.replies.push(t.input.toString('utf8', 0, end))
    t.input.consume(end + 1)
    return this.replies.length === this.lines.length ? Intent.done() : this.next()
  }
  private next(): Intent<Exchange> {
    return Intent.of(this).expectDelimiter('\n', { max: 1024 }).timeout(5000)
  }
}
