/**
 * Small protocols for the engine's own tests: each shows one behaviour and records what it saw.
 * Shared by `test/` and the portable suite (scripts/runtimes): public API only.
 */
import { type Exception, expectFrame, type Framer, Intent, type Protocol, type Scope, type Transport } from 'rotor-stream'

/** `n` numbered lines, each LF-terminated: `line 0\nline 1\n…`. */
export function numbered(n: number, prefix = 'line'): string {
  return Array.from({ length: n }, (_, i) => `${prefix} ${i}\n`).join('')
}

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
  /** Answered to a line over `max`, then done. @default none: the stream ends with the LimitReachedError */
  tooLong?: string
  /** Answered when a read times out, then done. @default none: the read goes on with no deadline */
  idle?: string
}

/**
 * Reads delimited lines and answers each one. Records lines, exceptions, timeouts and fatal
 * reasons. On EndOfStream it answers `eof <buffered>` and returns done; other exceptions end
 * the stream with the reason (as the default does), unless `tooLong` answers a long line.
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
  readonly #tooLong: string | undefined
  readonly #idle: string | undefined

  constructor(options: LinesOptions = {}) {
    this.#delimiter = options.delimiter ?? '\n'
    this.#max = options.max ?? 1024
    this.#reply = options.reply ?? ((line) => line + this.#delimiter)
    this.#flush = options.flush
    this.#timeout = options.timeout
    this.#tooLong = options.tooLong
    this.#idle = options.idle
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
    if (reason.code === 'RS_ERR_LIMIT_REACHED' && this.#tooLong !== undefined) {
      t.output.write(this.#tooLong, 'latin1')
      return Intent.done()
    }
    if (reason.code !== 'RS_ERR_END_OF_STREAM') return Intent.error(reason)
    t.output.write(`eof ${t.input.toString('latin1')}\n`)
    return Intent.done()
  }

  timeout(t: Transport, scope: Scope): Intent<Lines> {
    this.timeouts.push(scope.now())
    if (this.#idle === undefined) return Intent.of(this).expectDelimiter(this.#delimiter, { max: this.#max }) // no deadline: wait forever
    t.output.write(this.#idle, 'latin1')
    return Intent.done()
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

/**
 * A factory that echoes every frame of `framer`, re-encoded with it. A framing error is answered
 * `ERR <code>` and LimitReached `ERR RS_ERR_LIMIT_REACHED`; both, and any other exception, end it.
 */
export function frameEcho(framer: Framer): (t: Transport) => Intent<Protocol> {
  const echo: Protocol = {
    bytesRead(t: Transport): Intent<Protocol> {
      const scan = framer.scan(t.input)
      if (scan.kind === 'frame') {
        framer.encode(t.output, t.input.view(scan.start, scan.end))
        t.input.consume(scan.size)
      } else if (scan.kind === 'error') {
        t.output.write(`ERR ${(scan.error as { code?: string }).code}\n`)
        return Intent.done()
      }
      return expectFrame(Intent.of(echo), framer, t.input)
    },
    exception(t: Transport, reason: Exception): Intent<Protocol> {
      if (reason.code === 'RS_ERR_LIMIT_REACHED') t.output.write('ERR RS_ERR_LIMIT_REACHED\n')
      return Intent.done()
    },
  }
  return (t) => expectFrame(Intent.of(echo), framer, t.input)
}
