/**
 * An HTTP/1.1 client on rotor-stream: GET and POST, responses framed by Content-Length, by the
 * chunked coding or by the server closing, and keep-alive: requests run one after another on
 * one connection, and a new connection is opened only when the server closed the last one.
 *
 *     npx tsx --conditions=rotor-stream-source examples/http-client.ts http://127.0.0.1:8080/ http://127.0.0.1:8080/
 *     npx tsx --conditions=rotor-stream-source examples/http-client.ts --data 'hi there' http://127.0.0.1:8080/echo
 *
 * How requests reach the state machine: `request()` appends to a {@link RequestQueue} and calls
 * the live connection's notifier (`scope.notifier()`). That runs the protocol's `wakeup` handler,
 * which sends the next request if the connection is idle; a connection busy with a response takes
 * the next request itself once the response is complete. One request is in flight at a time,
 * and nothing needs a lock: `request()` pushes and the protocol shifts, on the one JS thread.
 */
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import {
  type Address,
  connect,
  DEFAULT_CONNECT_TIMEOUT,
  type Exception,
  type Factory,
  Intent,
  type Protocol,
  ProtocolError,
  type Scope,
  type Stream,
  TimeoutError,
  type Transport,
} from 'rotor-stream'
import { ChunkedDecoder } from './http/chunked.js'
import { type Headers, isKeepAlive, parseResponseHead, type ResponseHead, responseFraming } from './http/parse.js'

const HEAD_END = Buffer.from('\r\n\r\n')
const CRLF = Buffer.from('\r\n')
const EMPTY = Buffer.alloc(0)
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const TARGET = /^[\x21-\x7e]+$/

/** Options of an {@link HttpClient}. Sizes in bytes, durations in ms. */
export interface HttpClientOptions {
  /** Give up connecting after this long. @default 1000 */
  connectTimeout?: number
  /** From sending a request until its response is complete. @default 10000 */
  responseTimeout?: number
  /** How long a kept-alive connection may idle before we close it; keep it below the server's own. @default 4000 */
  idleTimeout?: number
  /** Longest response head. @default 16384 */
  maxHeadSize?: number
  /** Largest response body; keep it below the stream's `maxBufferSize` (16 MiB). @default 8388608 */
  maxBodySize?: number
}

const CLIENT_DEFAULTS: Readonly<Required<HttpClientOptions>> = Object.freeze({
  connectTimeout: DEFAULT_CONNECT_TIMEOUT,
  responseTimeout: 10_000,
  idleTimeout: 4000,
  maxHeadSize: 16 * 1024,
  maxBodySize: 8 * 1024 * 1024,
})

/** What to send. */
export interface ClientRequest {
  /** @default 'GET' without a body, 'POST' with one */
  method?: string
  /** The request-target. @default '/' */
  path?: string
  /** Extra header fields; Host and Content-Length are added. */
  headers?: Readonly<Record<string, string>>
  body?: string | Uint8Array
}

/** A complete response. */
export interface ClientResponse {
  status: number
  reason: string
  /** Lower-case names; repeated fields joined by ", ". */
  headers: Headers
  body: Buffer
}

/** A request waiting to be sent or in flight. */
interface Pending {
  readonly method: string
  /** The whole request, head and body, ready to write. */
  readonly bytes: Buffer
  readonly resolve: (response: ClientResponse) => void
  readonly reject: (error: Error) => void
}

/** Requests waiting to be sent, shared by an {@link HttpClient} and the protocol of its live connection. */
export class RequestQueue {
  /** Not yet sent, oldest first. */
  readonly pending: Pending[] = []
  /** Wakes the live connection's protocol; null while no connection is open. */
  notify: (() => void) | null = null
  /** Set by `HttpClient.close()`: send what is queued, then end the connection. */
  closing = false
  /** Called when a connection ended while requests still wait, to open another. */
  reconnect: (() => void) | null = null

  /** Queues a request for `host`; the promise settles with its response. Throws on a malformed request. */
  add(host: string, request: ClientRequest): Promise<ClientResponse> {
    const method = request.method ?? (request.body === undefined ? 'GET' : 'POST')
    const bytes = serializeRequest(method, host, request)
    return new Promise((resolve, reject) => {
      this.pending.push({ method, bytes, resolve, reject })
      this.notify?.()
    })
  }
}

/** A request in flight: from its write until its response is complete. */
interface InFlight {
  readonly request: Pending
  /** When its response must be complete, ms on `scope.now()`'s clock. */
  readonly deadline: number
}

/** A request in flight whose final response head has arrived. */
interface Responding extends InFlight {
  readonly head: ResponseHead
}

/**
 * What a connection waits for, with what that phase needs and nothing else:
 * `idle`: nothing in flight; waiting for a `wakeup` (a request was queued) or the idle timeout.
 *   It reads meanwhile, so that a server closing the kept-alive connection is seen at once.
 * `head`: a request is sent; waiting for the response head.
 * `body`: waiting for `length` body bytes. `chunked`: `decoder` decodes the body.
 * `untilClose`: the body ends when the server closes (no length, no chunking).
 */
type ClientState =
  | { readonly phase: 'idle' }
  | ({ readonly phase: 'head' } & InFlight)
  | ({ readonly phase: 'body'; readonly length: number } & Responding)
  | ({ readonly phase: 'chunked'; readonly decoder: ChunkedDecoder } & Responding)
  | ({ readonly phase: 'untilClose' } & Responding)
const IDLE: ClientState = Object.freeze({ phase: 'idle' })

/** One client connection: sends queued requests one at a time and parses their responses. */
export class ClientConnection implements Protocol {
  /** What the connection waits for (see {@link ClientState}). */
  #state: ClientState = IDLE
  /**
   * The Intent last returned: a `wakeup` that finds the connection busy changes nothing and
   * returns it again. The factory's first Intent replaces this one before any handler runs.
   */
  #waiting: Intent<ClientConnection> = Intent.of(this).expectBytes(1)
  /** This connection's notifier, to tell whether `#queue.notify` is still ours. */
  #notify: (() => void) | null = null
  readonly #queue: RequestQueue
  readonly #options: Required<HttpClientOptions>

  // TypeScript's `private`: JavaScript has no private constructor; `factory` merges the options once.
  private constructor(queue: RequestQueue, options: Required<HttpClientOptions>) {
    this.#queue = queue
    this.#options = options
  }

  /** A factory for `connect()`: the new connection registers its notifier and sends the first queued request. */
  static factory(queue: RequestQueue, options: HttpClientOptions = {}): Factory {
    const merged = { ...CLIENT_DEFAULTS, ...options }
    return (t, _seed, scope) => {
      const connection = new ClientConnection(queue, merged)
      connection.#notify = queue.notify = scope.notifier()
      return connection.#next(t, scope)
    }
  }

  /** What the connection waits for: `idle`, `head`, `body`, `chunked` or `untilClose`. */
  get phase(): ClientState['phase'] {
    return this.#state.phase
  }

  bytesRead(t: Transport, _end: number, scope: Scope): Intent<ClientConnection> {
    const input = t.input
    for (;;) {
      const state = this.#state
      switch (state.phase) {
        case 'idle':
          return Intent.error(new ProtocolError('the server sent bytes while no request was in flight'))
        case 'head': {
          const end = input.indexOf(HEAD_END)
          if (end < 0) return this.#wait(Intent.of(this).expectDelimiter(HEAD_END, { max: this.#options.maxHeadSize }).deadline(state.deadline))
          if (end > this.#options.maxHeadSize) return Intent.error(new ProtocolError('response head too large'))
          const head = parseResponseHead(input.view(0, end)) // copies what it keeps
          input.consume(end + HEAD_END.length)
          if (!head.ok) return Intent.error(new ProtocolError(head.message))
          if (head.value.status < 200) break // an interim answer (100 Continue): the real one follows
          const stop = this.#startBody(state, head.value, t, scope)
          if (stop !== null) return stop
          break
        }
        case 'body': {
          const n = state.length
          if (input.length < n) return this.#wait(Intent.of(this).expectBytes(n).deadline(state.deadline))
          const body = input.copy(0, n) // a copy: a view would die with consume()
          input.consume(n)
          return this.#complete(t, state.request, state.head, body, scope)
        }
        case 'chunked':
          return this.#readChunked(t, state, scope)
        case 'untilClose':
          return Intent.error(new ProtocolError(`response body larger than ${this.#options.maxBodySize} bytes`))
        default:
          return unreachable(state)
      }
    }
  }

  wakeup(t: Transport, scope: Scope): Intent<ClientConnection> {
    if (this.#state.phase === 'idle') return this.#next(t, scope)
    return this.#waiting // busy: the response's completion takes the next request
  }

  exception(t: Transport, reason: Exception, scope: Scope): Intent<ClientConnection> {
    const state = this.#state
    switch (reason.code) {
      case 'RS_ERR_END_OF_STREAM': {
        if (state.phase === 'idle') return this.#end() // the server closed a kept-alive connection
        if (state.phase !== 'untilClose')
          return Intent.error(new ProtocolError('the server closed the connection before the response was complete', { cause: reason }))
        const body = t.input.copy()
        t.input.consume(body.length)
        return this.#complete(t, state.request, state.head, body, scope)
      }
      case 'RS_ERR_LIMIT_REACHED':
        return Intent.error(new ProtocolError(state.phase === 'head' ? 'response head too large' : 'response too large', { cause: reason }))
      case 'RS_ERR_PROTOCOL':
      case 'RS_ERR_READ':
      case 'RS_ERR_TLS_UPGRADE': // only after Intent.startTls, which this protocol never returns
      case 'RS_ERR_TOO_SLOW':
        return Intent.error(reason)
    }
  }

  timeout(): Intent<ClientConnection> {
    if (this.#state.phase === 'idle') return this.#end() // idle too long: close before the server does
    return Intent.error(new TimeoutError(`no complete response within ${this.#options.responseTimeout} ms`))
  }

  fatal(reason: Error): void {
    const state = this.#state
    if (state.phase !== 'idle') state.request.reject(reason)
    this.#state = IDLE
    this.#detach()
  }

  /** Sends the next queued request, or idles, or (closing, nothing queued) ends. */
  #next(t: Transport, scope: Scope): Intent<ClientConnection> {
    const request = this.#queue.pending.shift()
    if (request === undefined) {
      if (this.#queue.closing) return this.#end()
      this.#state = IDLE
      return this.#wait(
        Intent.of(this)
          .expectBytes(1)
          .deadline(scope.now() + this.#options.idleTimeout),
      )
    }
    t.output.write(request.bytes)
    const deadline = scope.now() + this.#options.responseTimeout
    this.#state = { phase: 'head', request, deadline }
    return this.#wait(Intent.of(this).expectDelimiter(HEAD_END, { max: this.#options.maxHeadSize }).deadline(deadline))
  }

  /** After a final response head: how its body is framed. Returns an Intent to stop the loop, or null. */
  #startBody(sent: InFlight, head: ResponseHead, t: Transport, scope: Scope): Intent<ClientConnection> | null {
    const framing = responseFraming(sent.request.method, head)
    if (!framing.ok) return Intent.error(new ProtocolError(framing.message))
    const { request, deadline } = sent
    const f = framing.value
    switch (f.kind) {
      case 'none':
        return this.#complete(t, request, head, EMPTY, scope)
      case 'length':
        if (f.length > this.#options.maxBodySize) return Intent.error(new ProtocolError(`response body of ${f.length} bytes is over the limit`))
        this.#state = { phase: 'body', request, deadline, head, length: f.length }
        return null
      case 'chunked':
        this.#state = { phase: 'chunked', request, deadline, head, decoder: new ChunkedDecoder(this.#options.maxBodySize) }
        return null
      case 'untilClose':
        this.#state = { phase: 'untilClose', request, deadline, head } // the end of stream delivers it; one byte more than allowed is an error
        return this.#wait(
          Intent.of(this)
            .expectBytes(this.#options.maxBodySize + 1)
            .deadline(deadline),
        )
    }
  }

  /** Decodes what is buffered of a chunked body; completes the response or waits for the rest. */
  #readChunked(t: Transport, state: Extract<ClientState, { phase: 'chunked' }>, scope: Scope): Intent<ClientConnection> {
    const need = state.decoder.decode(t.input)
    switch (need.kind) {
      case 'line':
        return this.#wait(Intent.of(this).expectDelimiter(CRLF, { max: need.max }).deadline(state.deadline))
      case 'bytes':
        return this.#wait(Intent.of(this).expectBytes(need.n).deadline(state.deadline))
      case 'error':
        return Intent.error(new ProtocolError(`bad chunked body: ${need.message}`))
      case 'done':
        return this.#complete(t, state.request, state.head, state.decoder.body(), scope)
    }
  }

  /** The response in flight is complete: settle its promise, then go on or end. */
  #complete(t: Transport, request: Pending, head: ResponseHead, body: Buffer, scope: Scope): Intent<ClientConnection> {
    // A body delimited by the close leaves nothing to reuse.
    const reusable = this.#state.phase !== 'untilClose' && isKeepAlive(head.minor, head.headers)
    this.#state = IDLE
    request.resolve({ status: head.status, reason: head.reason, headers: head.headers, body }) // the caller runs later, in a microtask
    return reusable ? this.#next(t, scope) : this.#end()
  }

  #wait(intent: Intent<ClientConnection>): Intent<ClientConnection> {
    this.#waiting = intent
    return intent
  }

  /** Ends the connection cleanly; requests still queued go to a new one. */
  #end(): Intent<ClientConnection> {
    this.#detach()
    return Intent.done()
  }

  /** From now on, nothing queued can reach this connection. */
  #detach(): void {
    if (this.#queue.notify === this.#notify) this.#queue.notify = null
    if (this.#queue.pending.length > 0) this.#queue.reconnect?.()
  }
}

/**
 * A keep-alive HTTP/1.1 client for one server. Requests are sent one at a time, in order, over
 * one connection; a connection the server closed is replaced when the next request needs one.
 * A request in flight when its connection fails is rejected, never re-sent (it may have had
 * effects); requests not yet sent go to the next connection.
 */
export class HttpClient {
  readonly #address: Address
  /** The Host header's value. */
  readonly #host: string
  readonly #options: Required<HttpClientOptions>
  readonly #queue = new RequestQueue()
  /** Streams opened and not yet closed, for `close()` to wait on. */
  readonly #streams = new Set<Stream>()
  /** The connection being opened, if any. */
  #connecting: Promise<void> | null = null
  /** Connections opened so far: with keep-alive, many requests share one. */
  connections = 0

  constructor(address: Address, options: HttpClientOptions = {}) {
    this.#address = address
    this.#host = 'path' in address ? 'localhost' : `${address.host}:${address.port}`
    this.#options = { ...CLIENT_DEFAULTS, ...options }
    this.#queue.reconnect = () => this.#open()
  }

  /** Connections open now (at most one serves requests; one the server closed may still be closing). */
  get streams(): ReadonlySet<Stream> {
    return this.#streams
  }

  /** Sends `request` once the requests before it are answered; resolves with its response. */
  request(request: ClientRequest): Promise<ClientResponse> {
    if (this.#queue.closing) return Promise.reject(new Error('the HttpClient is closed'))
    let response: Promise<ClientResponse>
    try {
      response = this.#queue.add(this.#host, request)
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.#queue.notify === null) this.#open()
    return response
  }

  get(path: string, headers?: Readonly<Record<string, string>>): Promise<ClientResponse> {
    return this.request({ method: 'GET', path, ...(headers && { headers }) })
  }

  post(path: string, body: string | Uint8Array, headers?: Readonly<Record<string, string>>): Promise<ClientResponse> {
    return this.request({ method: 'POST', path, body, ...(headers && { headers }) })
  }

  /** Sends what is queued, then closes the connection; resolves once every socket is closed. */
  async close(): Promise<void> {
    this.#queue.closing = true
    this.#queue.notify?.()
    await this.#connecting
    while (this.#streams.size > 0) await Promise.all([...this.#streams].map((s) => s.closed))
  }

  #open(): void {
    if (this.#connecting !== null || this.#queue.pending.length === 0) return
    const factory = ClientConnection.factory(this.#queue, this.#options)
    this.#connecting = connect(this.#address, factory, { connectTimeout: this.#options.connectTimeout }).then(
      (stream) => {
        this.#connecting = null
        this.connections++
        this.#streams.add(stream)
        void stream.closed.then(() => this.#streams.delete(stream))
      },
      (err: Error) => {
        this.#connecting = null
        for (const pending of this.#queue.pending.splice(0)) pending.reject(err)
      },
    )
  }
}

/** The request's bytes: request line, Host, the caller's headers, Content-Length, body. */
function serializeRequest(method: string, host: string, request: ClientRequest): Buffer {
  const path = request.path ?? '/'
  if (!TOKEN.test(method)) throw new TypeError(`invalid method ${JSON.stringify(method)}`)
  if (!TARGET.test(path)) throw new TypeError(`invalid path ${JSON.stringify(path)}`)
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (!TOKEN.test(name) || /[\r\n]/.test(value)) throw new TypeError(`invalid header ${JSON.stringify(name)}`)
    head += `${name}: ${value}\r\n`
  }
  const body = request.body === undefined ? null : typeof request.body === 'string' ? Buffer.from(request.body) : request.body
  if (body !== null) head += `Content-Length: ${body.length}\r\n`
  head += '\r\n'
  return body === null ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body])
}

function unreachable(state: never): never {
  throw new Error(`unreachable: ${JSON.stringify(state)}`)
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { data: { type: 'string' } } })
  const urls = positionals.map((u) => new URL(u))
  const first = urls[0]
  if (first === undefined || first.protocol !== 'http:') throw new Error('usage: http-client.ts [--data BODY] http://host:port/path ...')
  const client = new HttpClient({ host: first.hostname, port: Number(first.port || 80) })
  try {
    for (const url of urls) {
      const path = `${url.pathname}${url.search}`
      const response = await (values.data === undefined ? client.get(path) : client.post(path, values.data))
      process.stderr.write(`HTTP ${response.status} ${response.reason} (${response.body.length} bytes, connection ${client.connections})\n`)
      process.stdout.write(response.body)
    }
  } finally {
    await client.close()
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
