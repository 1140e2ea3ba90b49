/**
 * An HTTP/1.0 "hello world" server, one request per connection, as in the Rust crate's example.
 *
 *     npx tsx --conditions=rotor-stream-source examples/serve.ts --port 8000
 *     curl -0 http://127.0.0.1:8000/
 *
 * Flags (examples/cli.ts): --host, --port (8000), --unix PATH (instead of TCP).
 *
 * It shows the whole shape of a protocol: wait for the request head with a bounded delimiter
 * and a deadline, answer (including the error answers 400, 408 and 431), flush, close.
 */
import net from 'node:net'
import { pathToFileURL } from 'node:url'
import { type Exception, Intent, type Protocol, type Scope, Stream, type Transport } from 'rotor-stream'
import { formatAddress, parseFlags } from './cli.js'

const HEAD_END = Buffer.from('\r\n\r\n')
/** Largest request head (request line and headers) we accept, in bytes; larger gets 431. */
const MAX_HEAD = 16 * 1024
/** A client gets this long (ms) to send its request head; slower gets 408. */
const HEAD_TIMEOUT = 10_000
const BODY = 'Hello, world!\n'

/** Waits for one request head, answers it, closes. */
export class HelloHttp implements Protocol {
  /** `head`: waiting for the request head; `closing`: waiting for the answer to be flushed. */
  phase: 'head' | 'closing' = 'head'

  static create(_t: Transport, _seed: unknown, scope: Scope): Intent<HelloHttp> {
    return Intent.of(new HelloHttp())
      .expectDelimiter(HEAD_END, { max: MAX_HEAD })
      .deadline(scope.now() + HEAD_TIMEOUT)
  }

  bytesRead(t: Transport, end: number): Intent<HelloHttp> {
    const requestLine = t.input.toString('latin1', 0, t.input.indexOf('\r\n'))
    t.input.consume(end + HEAD_END.length)
    const [method, target, version] = requestLine.split(' ')
    if (method === undefined || target === undefined || !version?.startsWith('HTTP/1.')) {
      return this.#answer(t, '400 Bad Request', 'bad request line\n')
    }
    return this.#answer(t, '200 OK', method === 'HEAD' ? '' : BODY, BODY.length)
  }

  exception(t: Transport, reason: Exception): Intent<HelloHttp> {
    switch (reason.code) {
      case 'RS_ERR_LIMIT_REACHED':
        return this.#answer(t, '431 Request Header Fields Too Large', 'request head too large\n')
      case 'RS_ERR_TOO_SLOW':
        return this.#answer(t, '408 Request Timeout', 'request head sent too slowly\n')
      case 'RS_ERR_PROTOCOL': // only from Intent.reject(), which this server does not use
        return this.#answer(t, '400 Bad Request', `${reason.message}\n`)
      case 'RS_ERR_END_OF_STREAM':
      case 'RS_ERR_READ':
      case 'RS_ERR_TLS_UPGRADE': // only after Intent.startTls, which this protocol never returns
        return Intent.done()
    }
  }

  timeout(t: Transport): Intent<HelloHttp> {
    return this.#answer(t, '408 Request Timeout', 'request head took too long\n')
  }

  bytesFlushed(): Intent<HelloHttp> {
    return Intent.done()
  }

  #answer(t: Transport, status: string, body: string, length = body.length): Intent<HelloHttp> {
    this.phase = 'closing'
    t.output.write(`HTTP/1.0 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n${body}`)
    return Intent.of(this).expectFlush()
  }
}

function main(): void {
  const flags = parseFlags({ file: 'examples/serve.ts', port: 8000, unix: true })
  const server = net.createServer({ allowHalfOpen: true }, (socket) => Stream.attach(socket, HelloHttp.create))
  const listening = (): void => {
    const bound = server.address()
    if (typeof bound === 'string' || bound === null) {
      console.log(`listening on ${String(bound)} (try: curl -0 --unix-socket ${String(bound)} http://localhost/)`)
      return
    }
    const where = formatAddress({ host: bound.address, port: bound.port })
    console.log(`listening on ${where} (try: curl -0 http://${where}/)`)
  }
  if (flags.unix !== undefined) server.listen(flags.unix, listening)
  else server.listen(flags.port, flags.host, listening)
  const stop = (): void => {
    server.close()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main()
