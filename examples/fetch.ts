/**
 * A tiny HTTP/1.0 client (the Rust crate's "fetch" example): one GET, prints the body.
 *
 *     npx tsx --conditions=rotor-stream-source examples/fetch.ts http://127.0.0.1:8000/
 *
 * It shows the client side of the same machinery: write the request in the factory, wait for
 * the response head, then either exactly Content-Length bytes or everything until the server
 * closes (which arrives as an end-of-stream exception with the body still buffered).
 */
import { pathToFileURL } from 'node:url'
import { connect, type Exception, Intent, type Protocol, ProtocolError, type Transport } from 'rotor-stream'

const HEAD_END = Buffer.from('\r\n\r\n')
/** Largest response head we accept, in bytes. */
const MAX_HEAD = 16 * 1024
/** Largest body we accept without a Content-Length, in bytes (with one, the stream's maxBufferSize bounds it). */
const MAX_BODY = 8 * 1024 * 1024
/** Whole exchange deadline, ms. */
const TIMEOUT = 10_000

/** What a fetch produced. */
export interface Response {
  status: number
  headers: Map<string, string>
  body: Buffer
}

/** Sends one GET and collects the response into `result`. */
export class Fetch implements Protocol {
  phase: 'head' | 'body' | 'untilClose' = 'head'
  status = 0
  headers = new Map<string, string>()
  /** Filled when the response is complete. */
  result: Response | undefined

  /** The factory's work: send the request, wait for the response head. */
  start(t: Transport, target: URL): Intent<Fetch> {
    t.output.write(`GET ${target.pathname}${target.search} HTTP/1.0\r\nHost: ${target.host}\r\nUser-Agent: rotor-stream-fetch\r\n\r\n`)
    return Intent.of(this).expectDelimiter(HEAD_END, { max: MAX_HEAD }).timeout(TIMEOUT)
  }

  bytesRead(t: Transport, end: number): Intent<Fetch> {
    switch (this.phase) {
      case 'head': {
        const lines = t.input.toString('latin1', 0, end).split('\r\n')
        t.input.consume(end + HEAD_END.length)
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')
        if (!status) return Intent.error(new ProtocolError(`bad status line: ${JSON.stringify(lines[0])}`))
        this.status = Number(status[1])
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':')
          if (colon > 0) this.headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
        }
        const length = this.headers.get('content-length')
        if (length === undefined) {
          this.phase = 'untilClose' // HTTP/1.0: the body ends when the server closes
          return Intent.of(this)
            .expectBytes(MAX_BODY + 1)
            .timeout(TIMEOUT)
        }
        if (!/^\d+$/.test(length)) return Intent.error(new ProtocolError(`bad Content-Length: ${length}`))
        this.phase = 'body'
        return Intent.of(this).expectBytes(Number(length)).timeout(TIMEOUT)
      }
      case 'body':
        return this.#complete(t, end)
      case 'untilClose':
        return Intent.error(new ProtocolError(`body larger than ${MAX_BODY} bytes`))
    }
  }

  exception(t: Transport, reason: Exception): Intent<Fetch> {
    if (reason.code === 'RS_ERR_END_OF_STREAM' && this.phase === 'untilClose') return this.#complete(t, t.input.length)
    return Intent.error(reason)
  }

  #complete(t: Transport, length: number): Intent<Fetch> {
    this.result = { status: this.status, headers: this.headers, body: t.input.copy(0, length) }
    t.input.consume(length)
    return Intent.done()
  }
}

/** Fetches `url` (http only) and resolves with the response. */
export async function fetchUrl(url: string): Promise<Response> {
  const target = new URL(url)
  if (target.protocol !== 'http:') throw new Error(`only http: URLs, got ${target.protocol}`)
  const fetch = new Fetch()
  const stream = await connect({ host: target.hostname, port: Number(target.port || 80) }, (t) => fetch.start(t, target))
  const reason = await stream.closed
  if (reason !== undefined) throw reason
  const result = fetch.result
  if (result === undefined) throw new Error('connection closed before a response')
  return result
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const url = process.argv[2] ?? 'http://127.0.0.1:8000/'
  try {
    const response = await fetchUrl(url)
    process.stderr.write(`HTTP ${response.status}\n`)
    process.stdout.write(response.body)
  } catch (err) {
    process.stderr.write(`fetch ${url}: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  }
}
