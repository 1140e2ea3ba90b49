/**
 * An HTTP/1.1 server on rotor-stream: keep-alive, pipelining, request bodies with Content-Length
 * or the chunked transfer coding, and the answers a server owes a bad or slow client.
 *
 *     npx tsx --conditions=rotor-stream-source examples/http-server.ts --port 8080
 *     curl http://127.0.0.1:8080/ http://127.0.0.1:8080/        # two requests, one connection
 *     curl --data 'hi there' http://127.0.0.1:8080/echo
 *     curl -H 'Transfer-Encoding: chunked' --data-binary @README.md http://127.0.0.1:8080/echo
 *
 * Flags (examples/cli.ts): --host (127.0.0.1), --port (8080; 0 picks a free one), --unix PATH (a Unix
 * socket instead of TCP); unknown flags are refused. Prints `listening on host:port` (or the path).
 *
 * How the protocol reads: like the RESP server, one `bytesRead` call parses everything that is
 * buffered — ten pipelined requests in one read are ten answers in one write — and returns an
 * Intent for exactly what is missing: more of a head (any new byte, within a bound), the rest of a
 * body (an exact byte count), the next chunk line. Every size the client declares is checked
 * against a limit before a byte of it is buffered.
 *
 * Request targets (RFC 9112 §3.2): origin-form `/path?q`; absolute-form `http://host/path?q`,
 * routed by its path, the Host header replaced by the target's authority; `OPTIONS *`, answered
 * by the router with 204 and Allow; CONNECT's `host:port`. Anything else is a 400.
 *
 * | problem                                        | answer                                   |
 * |------------------------------------------------|------------------------------------------|
 * | malformed request line, header, framing, chunk | 400, close                               |
 * | a bare LF or CR in the head, a trailer line    | 400 as soon as it arrives, close         |
 * |   that is not a field, a bare LF in a chunk    |                                          |
 * | `*` with a method other than OPTIONS           | 400, close                               |
 * | head over `maxHeadSize`, trailers too large    | 431, close                               |
 * | body over `maxBodySize`                        | 413 before reading it, close             |
 * | head slower than `headersTimeout`, request     | 408, close                               |
 * |   slower than `requestTimeout` (from 1st byte) |                                          |
 * | idle longer than `keepAliveTimeout`            | close quietly                            |
 * | `Connection: close`, HTTP/1.0 w/o keep-alive   | answer, then close                       |
 * | the server closes (`server.close()`)           | idle: close at once; in a request: answer |
 * |                                                |   with `Connection: close`, then close   |
 * | the handler throws or answers a bad header     | 500, close, `onError` (stderr by default) |
 */
import { pathToFileURL } from 'node:url'
import { type Buf, type Exception, type Factory, Intent, type Protocol, type Scope, type Server, serve, TimeoutError, type Transport } from 'rotor-stream'
import { formatAddress, parseFlags } from './cli.js'
import { ChunkedDecoder } from './http/chunked.js'
import { framingOf, HeadScan, scanRequestHead } from './http/parse.js'
import { ServerRequest } from './http/request.js'
import { type ConnectionField, httpDate, ResponseWriter } from './http/response.js'
import { type Handler, type HttpRequest, type HttpResponse, Router } from './http/router.js'

const HEAD_END = Buffer.from('\r\n\r\n')
const LF_DELIMITER = Buffer.from('\n')
const CR = 0x0d
const LF = 0x0a
const EMPTY = Buffer.alloc(0)
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n')
/** A client that does not read its last answer within this many ms is cut off. */
const FLUSH_TIMEOUT = 10_000
/**
 * One `bytesRead` call stops answering pipelined requests once its answers pass this many bytes
 * and returns; the stream's pushback then decides when the rest is parsed. Without it, a client
 * that pipelines a thousand requests for a large resource in one read and never reads makes one
 * call produce the thousand answers, whatever the stream's outputHighWaterMark.
 */
const MAX_CALL_OUTPUT = 64 * 1024
// Frozen: its head is serialized once (see ResponseWriter).
const TEXT = Object.freeze({ 'Content-Type': 'text/plain; charset=utf-8' })
const HEAD_TOO_LARGE = 'request head too large'
/**
 * Where every connection scans a request head: a head is scanned and turned into a
 * ServerRequest within one synchronous call, before another connection can scan, so one will do.
 */
const SCAN = new HeadScan()

/**
 * What a connection waits for, with what that phase needs and nothing else:
 * `idle`: between requests, nothing of the next one buffered (keepAliveTimeout runs).
 * `head`: the start of a request is buffered, its blank line is not (headersTimeout runs).
 * `body`: the head is parsed; waiting for `length` body bytes (requestTimeout runs).
 * `chunked`: the head is parsed; `decoder` is decoding a chunked body (requestTimeout runs).
 * `closing`: the last answer is being flushed; then the connection closes.
 * The phases without data are shared constants: a request without a body allocates no state.
 */
type ServerState =
  | { readonly phase: 'idle' | 'head' | 'closing' }
  | { readonly phase: 'body'; readonly request: ServerRequest; readonly length: number }
  | { readonly phase: 'chunked'; readonly request: ServerRequest; readonly decoder: ChunkedDecoder }
const IDLE: ServerState = Object.freeze({ phase: 'idle' })
const HEAD: ServerState = Object.freeze({ phase: 'head' })
const CLOSING: ServerState = Object.freeze({ phase: 'closing' })

/** Limits of every connection. Sizes in bytes, durations in ms. */
export interface HttpLimits {
  /** Longest request head (request line and headers, without the blank line); longer gets 431. @default 16384 */
  maxHeadSize: number
  /**
   * Largest request body (Content-Length, or the sum of the chunks); larger gets 413. It must
   * stay below the stream's `maxBufferSize` (16 MiB by default): a body is buffered whole.
   * @default 1048576
   */
  maxBodySize: number
  /** How long a connection may idle between requests; then it is closed quietly. @default 5000 */
  keepAliveTimeout: number
  /** From a request's first byte until its head is complete; slower gets 408. @default 10000 */
  headersTimeout: number
  /** From a request's first byte until its body is complete; slower gets 408. @default 30000 */
  requestTimeout: number
}

export const HTTP_DEFAULTS: Readonly<HttpLimits> = Object.freeze({
  maxHeadSize: 16 * 1024,
  maxBodySize: 1024 * 1024,
  keepAliveTimeout: 5000,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
})

/** What every connection of one server shares. */
export interface HttpOptions {
  /** Answers each request (see {@link Router}). */
  handler: Handler
  limits?: Partial<HttpLimits>
  /** The Date header's value, or null to send none (tests want byte-identical output). @default the wall clock, as an IMF-fixdate */
  date?: (() => string) | null
  /**
   * Called when the handler throws, or answers a header that cannot be sent, after the client got
   * its 500 (the connection then closes); null silences it.
   * @default prints one entry to stderr: the request line and the error's stack
   */
  onError?: ((error: unknown, request: HttpRequest) => void) | null
}

/** The default `onError`. */
function printHandlerError(error: unknown, request: HttpRequest): void {
  console.error(`http-server: ${request.method} ${request.target} answered 500:`, error)
}

/** One HTTP/1.1 connection, server side. */
export class HttpConnection implements Protocol {
  /** What the connection waits for (see {@link ServerState}). */
  #state: ServerState = IDLE
  /** What #waitIdle returns, made on first use. */
  #idle: Intent<HttpConnection> | null = null
  /** When the current request's first byte was seen, ms on `scope.now()`'s clock (phases head, body, chunked). */
  #startedAt = 0
  /** Bytes of the buffered head already scanned for its end and for bare CR or LF (phase head). */
  #scanned = 0
  readonly #handler: Handler
  readonly #onError: ((error: unknown, request: HttpRequest) => void) | null
  readonly #limits: HttpLimits
  /** Shared by every connection of the server. */
  readonly #writer: ResponseWriter

  // TypeScript's `private`: JavaScript has no private constructor; `factory` checks the options once.
  private constructor(options: HttpOptions, limits: HttpLimits, writer: ResponseWriter) {
    this.#handler = options.handler
    this.#onError = options.onError === undefined ? printHandlerError : options.onError
    this.#limits = limits
    this.#writer = writer
  }

  /** What the connection waits for: `idle`, `head`, `body`, `chunked` or `closing`. */
  get phase(): ServerState['phase'] {
    return this.#state.phase
  }

  /** The factory to give `serve()` (or `Stream.attach`); options are checked once, here. */
  static factory(options: HttpOptions): Factory {
    const limits = { ...HTTP_DEFAULTS, ...options.limits }
    for (const [name, value] of Object.entries(limits)) {
      if (!(Number.isSafeInteger(value) && value > 0)) throw new RangeError(`HTTP limit ${name} must be a positive integer, got ${value}`)
    }
    const writer = new ResponseWriter(options.date === undefined ? httpDate : options.date)
    return (t, _seed, scope) => new HttpConnection(options, limits, writer).#waitIdle(t.input, 0, scope)
  }

  bytesRead(t: Transport, _end: number, scope: Scope): Intent<HttpConnection> {
    // The answers of this call are collected by the writer and leave for t.output in one append.
    this.#writer.beginBatch(t.output)
    try {
      return this.#read(t, scope)
    } finally {
      this.#writer.endBatch()
    }
  }

  /** bytesRead's work: parses and answers everything buffered, then says what is missing. */
  #read(t: Transport, scope: Scope): Intent<HttpConnection> {
    const input = t.input
    const outputLimit = t.output.length + MAX_CALL_OUTPUT
    // One view of everything buffered and a cursor into it, consumed once before returning (or
    // before the chunked decoder takes the Buf): pipelined requests cost no view or consume each.
    // The view is valid until that consume(); nothing of it is kept.
    let bytes = input.view()
    let pos = 0
    for (;;) {
      const state = this.#state
      switch (state.phase) {
        case 'idle': {
          // RFC 9112 §2.2: ignore empty lines before a request line (some clients send a CRLF after a body).
          while (pos < bytes.length && (bytes[pos] === CR || bytes[pos] === LF)) pos++
          // With output past the limit, the rest waits for the pushback.
          if (pos === bytes.length || t.output.length + this.#writer.batched >= outputLimit) return this.#waitIdle(input, pos, scope)
          this.#state = HEAD
          this.#startedAt = scope.now()
          this.#scanned = 0
          break
        }
        case 'head': {
          const max = this.#limits.maxHeadSize
          const end = headEnd(bytes, pos, max, this.#scanned)
          if (end === BARE_LF) return this.#fail(t, scope, 400, 'bare LF in the request head: lines end with CRLF')
          if (end === BARE_CR) return this.#fail(t, scope, 400, 'bare CR in the request head')
          if (end < 0) {
            // A bound that does not depend on how the head arrived, so that a too-large head gets
            // the same 431 whether it came in one read or a hundred.
            if (bytes.length - pos >= max + HEAD_END.length) return this.#fail(t, scope, 431, HEAD_TOO_LARGE)
            input.consume(pos)
            // Woken by every new byte, not only by a CRLFCRLF, so that a bare LF is answered as
            // it arrives (a delimiter wait would sleep until the 408); the scan resumes where it stopped.
            this.#scanned = bytes.length - pos
            return Intent.of(this)
              .expectBytes(this.#scanned + 1)
              .deadline(this.#startedAt + this.#limits.headersTimeout)
          }
          const failure = scanRequestHead(bytes, pos, end, SCAN) // copies what it keeps
          pos = end + HEAD_END.length
          if (failure !== null) return this.#fail(t, scope, failure.status, failure.message)
          const stop = this.#startBody(t, new ServerRequest(SCAN), scope) // an Intent from #fail or #close, which consume all input
          if (stop !== null) return stop
          break
        }
        case 'body': {
          const n = state.length
          if (bytes.length - pos < n) {
            input.consume(pos)
            return Intent.of(this)
              .expectBytes(n)
              .deadline(this.#startedAt + this.#limits.requestTimeout)
          }
          const body = Buffer.allocUnsafe(n) // a copy: the view dies with consume()
          bytes.copy(body, 0, pos, pos + n)
          pos += n
          state.request.body = body
          if (!this.#respond(t, state.request, scope)) return this.#close(t, scope)
          break
        }
        case 'chunked': {
          input.consume(pos) // the decoder reads from the Buf itself
          const stop = this.#readChunked(t, state.request, state.decoder, scope)
          if (stop !== null) return stop
          bytes = input.view()
          pos = 0
          break
        }
        case 'closing':
          throw new Error('bytesRead while closing') // a bug: 'closing' expects no input
        default:
          return unreachable(state)
      }
    }
  }

  exception(t: Transport, reason: Exception, scope: Scope): Intent<HttpConnection> {
    switch (reason.code) {
      case 'RS_ERR_LIMIT_REACHED': {
        // The same answers as when bytesRead finds the bound passed itself.
        const state = this.#state
        if (state.phase === 'head') return this.#fail(t, scope, 431, HEAD_TOO_LARGE)
        const error = state.phase === 'chunked' ? state.decoder.overLimit() : null
        if (error?.kind === 'error') return this.#fail(t, scope, error.status, error.message)
        return this.#fail(t, scope, 413, 'request too large') // over the stream's maxBufferSize
      }
      case 'RS_ERR_TOO_SLOW': // a request dripped in below the minimum rate (slowloris)
        return this.#fail(t, scope, 408, 'request sent too slowly')
      case 'RS_ERR_PROTOCOL': // only from Intent.reject(), which this server does not use
        return this.#fail(t, scope, 400, reason.message)
      case 'RS_ERR_END_OF_STREAM': // the client is done sending: every complete request was answered
      case 'RS_ERR_READ':
      case 'RS_ERR_TLS_UPGRADE': // only after Intent.startTls, which this protocol never returns
        return Intent.done()
    }
  }

  timeout(t: Transport, scope: Scope): Intent<HttpConnection> {
    const state = this.#state
    switch (state.phase) {
      case 'idle':
        return Intent.done() // keep-alive timeout: nobody is waiting for an answer
      case 'head':
      case 'body':
      case 'chunked':
        return this.#fail(t, scope, 408, 'request took too long')
      case 'closing':
        return Intent.error(new TimeoutError('the client did not read the last answer'))
      default:
        return unreachable(state)
    }
  }

  bytesFlushed(): Intent<HttpConnection> {
    return Intent.done() // only 'closing' waits for a flush
  }

  /**
   * The server starts closing. By default (`close()` with `idle: 'end'`) a connection idle
   * between requests is closed without asking; one in the middle of a request keeps going, and
   * `#respond` answers it with `Connection: close` (it reads `scope.closing`). With
   * `idle: 'wait'` the idle ones are asked too: closed here, as nobody waits for an answer.
   */
  shutdown(t: Transport): Intent<HttpConnection> | undefined {
    if (this.#state.phase === 'idle' && t.input.length === 0) return Intent.done()
    return undefined // busy: the current expectation and deadline stand
  }

  /** Consumes the `parsed` bytes, then waits for the first byte of the next request; keep-alive idling is the point here. */
  #waitIdle(input: Buf, parsed: number, scope: Scope): Intent<HttpConnection> {
    input.consume(parsed)
    this.#state = IDLE
    // One Intent per connection, given a new deadline each time: the stream copies what it
    // needs when it takes an Intent, and a request costs one allocation less.
    this.#idle ??= Intent.of(this).expectBytes(1)
    return this.#idle.deadline(scope.now() + this.#limits.keepAliveTimeout)
  }

  /**
   * After a head (its request made from SCAN, whose framing fields are read here, before any
   * handler runs): answers at once or moves to reading the body. Returns an Intent to stop the
   * loop, or null.
   */
  #startBody(t: Transport, request: ServerRequest, scope: Scope): Intent<HttpConnection> | null {
    const framing = framingOf(request.minor, SCAN.transferEncoding, SCAN.contentLength)
    if (!framing.ok) return this.#fail(t, scope, framing.status, framing.message)
    const expect = SCAN.expect
    if (expect !== undefined && expect.toLowerCase() !== '100-continue') return this.#fail(t, scope, 417, `cannot meet Expect: ${expect}`)
    const f = framing.value
    if (f.kind === 'none') return this.#respond(t, request, scope) ? null : this.#close(t, scope)
    // Refused before a byte of it is read, as RFC 9110 §10.1.1 allows after 100-continue.
    if (f.kind === 'length' && f.length > this.#limits.maxBodySize) return this.#fail(t, scope, 413, `body larger than ${this.#limits.maxBodySize} bytes`)
    // The client may wait for this before sending the body. Sent even if the body is already
    // here (RFC 9110 §10.1.1 allows it), so the output never depends on how the bytes arrived.
    if (expect !== undefined && request.minor === 1) this.#writer.writeBytes(t.output, CONTINUE)
    this.#state =
      f.kind === 'length' ? { phase: 'body', request, length: f.length } : { phase: 'chunked', request, decoder: new ChunkedDecoder(this.#limits.maxBodySize) }
    return null
  }

  /** Decodes what is buffered of a chunked body. Returns an Intent to stop the loop, or null once answered. */
  #readChunked(t: Transport, request: ServerRequest, decoder: ChunkedDecoder, scope: Scope): Intent<HttpConnection> | null {
    const need = decoder.decode(t.input)
    const deadline = this.#startedAt + this.#limits.requestTimeout
    switch (need.kind) {
      case 'line': // woken at any LF, so that a bare one is answered at once
        return Intent.of(this)
          .expectDelimiter(LF_DELIMITER, { max: need.max + 1 })
          .deadline(deadline)
      case 'bytes':
        return Intent.of(this).expectBytes(need.n).deadline(deadline)
      case 'error':
        return this.#fail(t, scope, need.status, need.message)
      case 'done':
        request.body = decoder.body()
        return this.#respond(t, request, scope) ? null : this.#close(t, scope)
    }
  }

  /** Runs the handler and writes its answer. Returns whether the connection stays open (then the phase is idle). */
  #respond(t: Transport, request: ServerRequest, scope: Scope): boolean {
    // A closing server answers the request in progress, with `Connection: close` (RFC 9112 §9.6).
    let keepAlive = !scope.closing && request.keepAlive
    try {
      const response = this.#handler(request)
      this.#writeResponse(t, request, response, keepAlive) // throws before writing if a header is invalid
    } catch (err) {
      // A bug in the application: the client gets a 500 and the connection closes (we cannot
      // know what state the handler left behind), and the error is reported, never dropped.
      keepAlive = false
      this.#writeResponse(t, request, { status: 500, headers: TEXT, body: 'internal server error\n' }, false)
      this.#onError?.(err, request)
    }
    this.#state = IDLE
    return keepAlive
  }

  /** Answers `status` with `message`, then closes: after a bad request we cannot know where the next one starts. */
  #fail(t: Transport, scope: Scope, status: number, message: string): Intent<HttpConnection> {
    const state = this.#state
    // The request once its head is parsed (its version and method shape the answer), else none.
    const request = state.phase === 'body' || state.phase === 'chunked' ? state.request : null
    this.#writeResponse(t, request, { status, headers: TEXT, body: `${message}\n` }, false)
    return this.#close(t, scope)
  }

  #close(t: Transport, scope: Scope): Intent<HttpConnection> {
    this.#state = CLOSING
    t.input.consume(t.input.length) // requests after the last answered one are not read
    return Intent.of(this)
      .expectFlush()
      .deadline(scope.now() + FLUSH_TIMEOUT)
  }

  /** Writes a status line, headers and body into the output; all answers of a round leave in one write. Throws, having written nothing, if a header is invalid. */
  #writeResponse(t: Transport, request: ServerRequest | null, response: HttpResponse, keepAlive: boolean): void {
    const status = response.status ?? 200
    const connection: ConnectionField = !keepAlive ? 'close' : request?.minor === 0 ? 'keep-alive' : 'none'
    this.#writer.write(t.output, status, response.headers, response.body ?? EMPTY, connection, request?.method !== 'HEAD')
  }
}

/** {@link headEnd} found an LF without its CR. */
const BARE_LF = -2
/** {@link headEnd} found a CR not followed by LF. */
const BARE_CR = -3

/**
 * Where the blank line ending the head that starts at `start` is (the position of its CRLFCRLF),
 * or -1 if it is not within `max` bytes of head plus the CRLFCRLF; the first `scanned` bytes of
 * the head were looked at before. BARE_LF or BARE_CR if a line ends otherwise than with CRLF
 * before that: RFC 9112 §2.2 lets a recipient accept a bare LF, but a server that did would read
 * lines where a proxy in front of it may not, the stuff of request smuggling, so it is a 400;
 * a bare CR is invalid outright. Scanned here rather than with `indexOf`: heads are short, and
 * the call costs more than the loop. The head's first byte is never CR or LF (the idle phase
 * skips them), so looking back from `start + 1` stays inside it.
 */
function headEnd(bytes: Buffer, start: number, max: number, scanned: number): number {
  const limit = Math.min(bytes.length, start + max + HEAD_END.length)
  // Resume at the last byte scanned: a CR there could not be judged without the byte after it.
  for (let i = scanned > 1 ? start + scanned - 1 : start + 1; i < limit; i++) {
    const c = bytes[i] as number
    if (c > CR) continue // most bytes: neither CR nor LF, one comparison
    if (c === LF) {
      if (bytes[i - 1] !== CR) return BARE_LF
      if (bytes[i - 2] === LF && bytes[i - 3] === CR) return i - 3 // the LF ending a CRLFCRLF
    } else if (c === CR && i + 1 < bytes.length && bytes[i + 1] !== LF) return BARE_CR
  }
  return -1
}

function unreachable(state: never): never {
  throw new Error(`unreachable: ${JSON.stringify(state)}`)
}

/** The demo application: `GET /` says hello, `POST /echo` answers with the request's body. */
export function demoRouter(): Router {
  const hello = Object.freeze({ headers: TEXT, body: 'Hello, world!\n' })
  return new Router()
    .get('/', () => hello)
    .post('/echo', (request) => ({ headers: { 'Content-Type': request.headers.get('content-type') ?? 'application/octet-stream' }, body: request.body }))
}

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions extends Partial<HttpOptions> {
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 8080 */
  port?: number
  /** Listen on this Unix socket instead of TCP. */
  path?: string
}

/** A running server. */
export interface RunningHttpServer {
  readonly server: Server
  /** The TCP port (0 on a Unix socket). */
  readonly port: number
  /** Stops listening, lets connections finish for up to `timeout` ms, then closes the rest. */
  close(timeout?: number): Promise<void>
}

/** Starts an HTTP/1.1 server (the demo router unless `handler` is given); resolves once it listens. */
export async function startHttpServer(options: HttpServerOptions = {}): Promise<RunningHttpServer> {
  const factory = HttpConnection.factory({
    handler: options.handler ?? demoRouter().handle,
    limits: options.limits,
    date: options.date,
    onError: options.onError,
  })
  const address = options.path !== undefined ? { path: options.path } : { host: options.host ?? '127.0.0.1', port: options.port ?? 8080 }
  const server = await serve(address, factory)
  const bound = server.address
  return {
    server,
    port: 'port' in bound ? bound.port : 0,
    // Idle keep-alive connections end at once; a request in progress gets up to `timeout` ms.
    close: (timeout = 1000) => server.close({ timeout }),
  }
}

async function main(): Promise<void> {
  const flags = parseFlags({ file: 'examples/http-server.ts', port: 8080, unix: true })
  const running = await startHttpServer({ host: flags.host, port: flags.port, path: flags.unix })
  console.log(`listening on ${formatAddress(running.server.address)}`)
  const stop = (): void => {
    void running.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
