/**
 * What only the portable suite needs: the TLS material run.ts wrote (RS_CERTS), a LineEcho client
 * through connect(), a way to start a child with this runtime, and a flooding protocol. The
 * fixtures it shares with `test/` (servers, raw sockets, small protocols, waiting) come from
 * test/helpers, compiled into the suite by scripts/runtimes/tsconfig.json.
 */
import { type Address, connect, Intent, type Protocol, Stream, type TlsClientOptions, type Transport } from 'rotor-stream'
import { Collect } from '../../../test/helpers/net.js'
import { readCerts, type TestCerts } from '../../../test/helpers/tls-certs.js'

let certs: TestCerts | undefined

/** The certificates run.ts made (test/helpers/tls-certs.ts `makeCerts`) into RS_CERTS; read once. */
export function loadCerts(): TestCerts {
  if (certs !== undefined) return certs
  const dir = process.env.RS_CERTS
  if (dir === undefined) throw new Error('RS_CERTS is not set: run through scripts/runtimes/run.ts')
  certs = readCerts(dir)
  return certs
}

/**
 * Sends `lines` and QUIT to a LineEcho server with connect() (TLS with `options.tls`); resolves
 * with the echoed lines once the server closed, rejects with the stream's error.
 */
export async function exchange(address: Address, lines: string[], options: { tls?: TlsClientOptions; connectTimeout?: number } = {}): Promise<string[]> {
  const { client, factory } = Collect.factory({ request: `${lines.map((l) => `${l}\n`).join('')}QUIT\n` })
  const stream = await connect(address, factory, options)
  const reason = await stream.closed
  if (reason !== undefined) throw reason
  if (client.lines.at(-1) !== 'BYE') throw new Error(`no BYE: ${JSON.stringify(client.lines)}`)
  return client.lines.slice(0, -1)
}

/** The command that runs a JavaScript file with the runtime running this code (Deno needs `run -A`). */
export function selfCommand(script: string, args: string[] = []): [string, string[]] {
  const deno = (globalThis as { Deno?: unknown }).Deno !== undefined
  return [process.execPath, [...(deno ? ['run', '-A', '--quiet'] : []), script, ...args]]
}

/** On request, writes `total` bytes in chunks, each once the output is flushed down to `chunk` bytes; records the most bytes the socket held unwritten. */
export class Flood implements Protocol {
  produced = 0
  maxUnwritten = 0
  readonly total: number
  readonly chunk: number
  constructor(total: number, chunk: number) {
    this.total = total
    this.chunk = chunk
  }
  bytesRead(t: Transport, end: number): Intent<Flood> {
    t.input.consume(end + 1)
    return this.more(t)
  }
  bytesFlushed(t: Transport): Intent<Flood> {
    return this.more(t)
  }
  more(t: Transport): Intent<Flood> | Intent<never> {
    if (t instanceof Stream) this.maxUnwritten = Math.max(this.maxUnwritten, t.socket.writableLength)
    if (this.produced >= this.total) return Intent.done()
    t.output.write(Buffer.alloc(this.chunk, 'f'))
    this.produced += this.chunk
    return Intent.of(this).expectFlush(this.chunk)
  }
}
