/**
 * The guide's key-value server as a state machine.
 *
 *     npx tsx --conditions=rotor-stream-source examples/kv/state-machine.ts   # listens on 127.0.0.1:7070
 *     printf 'SET a 1\nGET a\nQUIT\n' | nc 127.0.0.1 7070
 */
import { pathToFileURL } from 'node:url'
import { type Exception, Intent, type Protocol, type Scope, type Transport } from 'rotor-stream'
import { runServer } from '../cli.js'
import { apply, MAX_LINE } from './store.js'

const LF = Buffer.from('\n')
/** A client silent this long (ms) is disconnected. */
const IDLE_TIMEOUT = 60_000

export class KvConnection implements Protocol {
  /** `command`: waiting for a line; `closing`: the last reply is being flushed. */
  phase: 'command' | 'closing' = 'command'
  readonly store: Map<string, string>

  constructor(store: Map<string, string>) {
    this.store = store
  }

  /** One store shared by every connection of the server. */
  static factory(store: Map<string, string>) {
    return (_t: Transport, _seed: unknown, scope: Scope): Intent<KvConnection> => new KvConnection(store).#readLine(scope)
  }

  /** A whole line is buffered: it ends at `end`, where the LF is. */
  bytesRead(t: Transport, end: number, scope: Scope): Intent<KvConnection> {
    const line = t.input.toString('utf8', 0, end)
    t.input.consume(end + 1) // the line and its LF
    const answer = apply(this.store, line)
    t.output.write(answer.reply)
    return answer.close ? this.#close() : this.#readLine(scope)
  }

  /** The line was too long, the client went away, or reading failed. */
  exception(t: Transport, reason: Exception): Intent<KvConnection> {
    if (reason.code !== 'RS_ERR_LIMIT_REACHED') return Intent.done()
    t.output.write('ERROR line too long\n')
    return this.#close()
  }

  timeout(): Intent<KvConnection> {
    return Intent.done()
  }

  bytesFlushed(): Intent<KvConnection> {
    return Intent.done() // the goodbye has left: close
  }

  #readLine(scope: Scope): Intent<KvConnection> {
    this.phase = 'command'
    return Intent.of(this)
      .expectDelimiter(LF, { max: MAX_LINE })
      .deadline(scope.now() + IDLE_TIMEOUT)
  }

  #close(): Intent<KvConnection> {
    this.phase = 'closing'
    return Intent.of(this).expectFlush()
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runServer({ file: 'examples/kv/state-machine.ts', port: 7070 }, KvConnection.factory(new Map()), 'key-value server, state machine')
}
