/**
 * Line echo: the smallest useful request-reply protocol, and the subject of `bench/line-echo`.
 * Each LF-terminated line comes back as it was; `QUIT` says goodbye and closes once flushed.
 *
 *     npx tsx --conditions=rotor-stream-source examples/line-echo.ts --port 7000
 *     printf 'hello\nQUIT\n' | nc 127.0.0.1 7000
 *
 * Flags (examples/cli.ts): --host, --port (7000; 0 picks a free one), --unix PATH (instead of TCP).
 */
import { pathToFileURL } from 'node:url'
import { type Exception, Intent, type Protocol, type Scope, type Transport } from 'rotor-stream'
import { runServer } from './cli.js'

const LF = 0x0a
const LINE_END = Buffer.from([LF])
const BYE = Buffer.from('BYE\n')
const QUIT = Buffer.from('QUIT')
/** Longest accepted line in bytes, without the LF; a longer one gets `ERR` and the connection closes. */
export const MAX_LINE = 64 * 1024
/** A client silent for this long (ms) is disconnected. */
export const IDLE_TIMEOUT = 30_000

export class LineEcho implements Protocol {
  /** What we are waiting for: a line, or our last answer to be flushed. */
  phase: 'line' | 'closing' = 'line'
  /** The one Intent of the 'line' phase, given a new deadline per line: no allocation per request. */
  readonly #nextLine = Intent.of(this).expectDelimiter(LINE_END, { max: MAX_LINE })

  static create(_t: Transport, _seed: unknown, scope: Scope): Intent<LineEcho> {
    return new LineEcho().#readLine(scope)
  }

  bytesRead(t: Transport, end: number, scope: Scope): Intent<LineEcho> {
    if (this.phase !== 'line') throw new Error(`bytesRead in phase ${this.phase}`)
    // Compare lengths first: a view costs an allocation, most lines are not QUIT.
    if (end === QUIT.length && t.input.view(0, end).equals(QUIT)) {
      t.input.consume(end + 1)
      return this.#close(t, BYE)
    }
    t.output.writeFrom(t.input, 0, end + 1) // the line and its LF, copied without a view
    t.input.consume(end + 1)
    return this.#readLine(scope)
  }

  exception(t: Transport, reason: Exception): Intent<LineEcho> {
    switch (reason.code) {
      case 'RS_ERR_LIMIT_REACHED':
        return this.#close(t, 'ERR line too long\n') // answer first, then close
      case 'RS_ERR_PROTOCOL': // only from Intent.reject(), which lines never need
        return this.#close(t, `ERR ${reason.message}\n`)
      case 'RS_ERR_END_OF_STREAM':
      case 'RS_ERR_READ':
      case 'RS_ERR_TLS_UPGRADE': // only after Intent.startTls, which this protocol never returns
      case 'RS_ERR_TOO_SLOW':
        return Intent.done()
    }
  }

  bytesFlushed(): Intent<LineEcho> {
    return Intent.done()
  }

  timeout(): Intent<LineEcho> {
    return Intent.done() // an idle client: close quietly
  }

  #readLine(scope: Scope): Intent<LineEcho> {
    this.phase = 'line'
    return this.#nextLine.deadline(scope.now() + IDLE_TIMEOUT)
  }

  #close(t: Transport, reply: string | Buffer): Intent<LineEcho> {
    this.phase = 'closing'
    t.output.write(reply)
    return Intent.of(this).expectFlush()
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runServer({ file: 'examples/line-echo.ts', port: 7000 }, LineEcho.create, 'line echo')
}
