/**
 * Protocols of the reliability suite. `FramedEcho` exercises the core expectations one handler
 * call per message (delimiter, exact bytes, flush), so that every handler call, not only the
 * output, must be the same for every split of its input.
 */
import { type Exception, Intent, type Protocol, type Scope, type Transport } from 'rotor-stream'
import { CORE_MAX_LINE } from './inputs.js'

const LF = Buffer.from('\n')

/**
 * Lines (`expectDelimiter`, at most CORE_MAX_LINE bytes) answered with `line <length> <text>`;
 * a line `len:<n>` announces n bytes of payload (`expectBytes`), answered with `frame <n>` and
 * the payload. A line too long is answered `limit` and the connection closes once that is
 * flushed; end of stream is answered with what was left unparsed.
 */
export class FramedEcho implements Protocol {
  /** `header`: waiting for a line. `body`: waiting for `#length` payload bytes. `closing`: flushing the last answer. */
  phase: 'header' | 'body' | 'closing' = 'header'
  /** Payload length announced by the last `len:` line (phase body). */
  #length = 0

  static create(): Intent<FramedEcho> {
    return new FramedEcho().#header()
  }

  bytesRead(t: Transport, end: number): Intent<FramedEcho> {
    const input = t.input
    switch (this.phase) {
      case 'header': {
        const line = input.toString('latin1', 0, end)
        input.consume(end + 1)
        if (!line.startsWith('len:')) {
          t.output.write(`line ${line.length} ${line}\n`, 'latin1')
          return this.#header()
        }
        const n = Number(line.slice(4))
        if (!(Number.isSafeInteger(n) && n >= 0 && n <= 1_000_000)) return this.#close(t, `bad length ${JSON.stringify(line)}\n`)
        this.#length = n
        this.phase = 'body'
        return Intent.of(this).expectBytes(n)
      }
      case 'body': {
        t.output.write(`frame ${this.#length}\n`)
        t.output.write(input.view(0, this.#length))
        input.consume(this.#length)
        return this.#header()
      }
      case 'closing':
        throw new Error('bytesRead while closing')
    }
  }

  exception(t: Transport, reason: Exception): Intent<FramedEcho> {
    switch (reason.code) {
      case 'RS_ERR_LIMIT_REACHED':
        return this.#close(t, 'limit\n')
      case 'RS_ERR_PROTOCOL':
        return this.#close(t, `bad input ${reason.message}\n`)
      case 'RS_ERR_END_OF_STREAM':
        t.output.write(`eof ${this.phase} ${JSON.stringify(t.input.toString('latin1'))}\n`)
        return Intent.done()
      case 'RS_ERR_READ':
      case 'RS_ERR_TLS_UPGRADE': // only after Intent.startTls, which this protocol never returns
      case 'RS_ERR_TOO_SLOW':
        return Intent.error(reason)
    }
  }

  bytesFlushed(): Intent<FramedEcho> {
    return Intent.done()
  }

  #header(): Intent<FramedEcho> {
    this.phase = 'header'
    return Intent.of(this).expectDelimiter(LF, { max: CORE_MAX_LINE })
  }

  #close(t: Transport, answer: string): Intent<FramedEcho> {
    this.phase = 'closing'
    t.output.write(answer)
    t.input.consume(t.input.length)
    return Intent.of(this).expectFlush()
  }
}

/**
 * A line protocol for socket tests: answers each line with `ok <length>`; its reads carry a
 * relative `timeout` (an idle deadline that any complete line refreshes), and it records every
 * exception and fatal reason it receives.
 */
export class Recorder implements Protocol {
  readonly exceptions: Exception[] = []
  readonly fatals: Error[] = []
  lines = 0
  readonly #max: number
  readonly #timeout: number

  constructor(options: { max?: number; timeout?: number } = {}) {
    this.#max = options.max ?? 64 * 1024
    this.#timeout = options.timeout ?? 30_000
  }

  read(_scope?: Scope): Intent<Recorder> {
    return Intent.of(this).expectDelimiter(LF, { max: this.#max }).timeout(this.#timeout)
  }

  bytesRead(t: Transport, end: number): Intent<Recorder> {
    t.input.consume(end + 1)
    this.lines++
    t.output.write(`ok ${end}\n`)
    return this.read()
  }

  exception(t: Transport, reason: Exception): Intent<Recorder> {
    this.exceptions.push(reason)
    if (reason.code === 'RS_ERR_END_OF_STREAM') return Intent.done()
    if (reason.code === 'RS_ERR_LIMIT_REACHED' || reason.code === 'RS_ERR_TOO_SLOW') {
      t.output.write(`error ${reason.code}\n`)
      t.input.consume(t.input.length)
      return Intent.of(this).expectFlush().timeout(this.#timeout)
    }
    return Intent.error(reason)
  }

  bytesFlushed(): Intent<Recorder> {
    return Intent.done()
  }

  fatal(reason: Error): void {
    this.fatals.push(reason)
  }
}

/**
 * Answers every line with `size` bytes. Its reads carry a relative timeout and it has no
 * `timeout` handler, so a peer that stops sending, or stops reading (the stream is pushed
 * back and reads nothing), is ended by a `TimeoutError` at once.
 */
export class Blobs implements Protocol {
  readonly #blob: Buffer
  readonly #timeout: number

  constructor(size: number, timeout: number) {
    this.#blob = Buffer.alloc(size, 0x78)
    this.#timeout = timeout
  }

  static factory(size: number, timeout: number): () => Intent<Blobs> {
    return () => new Blobs(size, timeout).read()
  }

  read(): Intent<Blobs> {
    return Intent.of(this).expectDelimiter(LF, { max: 1024 }).timeout(this.#timeout)
  }

  bytesRead(t: Transport, end: number): Intent<Blobs> {
    t.input.consume(end + 1)
    t.output.write(this.#blob)
    return this.read()
  }
}
