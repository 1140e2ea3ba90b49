/**
 * A minimal router for the HTTP/1.1 server example: exact paths, one handler per method.
 * Handlers are synchronous functions from a request to a response, so that every pipelined
 * request of one read is answered within the same round (and leaves in the same write).
 */
import type { Headers } from './parse.js'

/** A complete request, body included. */
export interface HttpRequest {
  readonly method: string
  /** The request-target as sent: `/search?q=1`, `http://example.com/search?q=1` (absolute-form) or `*` (OPTIONS only). */
  readonly target: string
  /**
   * The target's path, without the query: `/search` for both of the first two above (the Host
   * header then holds the absolute-form target's authority), `*` for the third.
   */
  readonly path: string
  /** `'HTTP/1.0'` or `'HTTP/1.1'`. */
  readonly version: 'HTTP/1.0' | 'HTTP/1.1'
  /** Lower-case names; repeated fields joined by ", ". */
  readonly headers: Headers
  /** The decoded body (empty without one); it belongs to the handler. */
  readonly body: Buffer
}

/** What a handler answers. Content-Length, Connection and Date are added by the server. */
export interface HttpResponse {
  /** @default 200 */
  readonly status?: number
  /** Extra header fields. Names and values must not contain CR or LF. */
  readonly headers?: Readonly<Record<string, string>>
  /** @default empty */
  readonly body?: string | Uint8Array
}

/**
 * Answers one request. Called synchronously by the connection's state machine as soon as the
 * request is complete; the trap: it runs on the event loop, so it must not block. A handler
 * that throws gets its client a 500 and a closed connection, never a crashed server, and the
 * error goes to the server's `onError`.
 */
export type Handler = (request: HttpRequest) => HttpResponse

/** Routes by exact path, then method; HEAD is served by the GET handler (the server drops the body). */
export class Router {
  /** path → method → handler. */
  readonly #routes = new Map<string, Map<string, Handler>>()

  /** Adds a handler for `method` on `path` (exact match, no query). */
  route(method: string, path: string, handler: Handler): this {
    let methods = this.#routes.get(path)
    if (methods === undefined) {
      methods = new Map()
      this.#routes.set(path, methods)
    }
    methods.set(method, handler)
    return this
  }

  get(path: string, handler: Handler): this {
    return this.route('GET', path, handler)
  }

  post(path: string, handler: Handler): this {
    return this.route('POST', path, handler)
  }

  /**
   * The router as one {@link Handler}: 404 for an unknown path, 405 (with Allow) for an unknown
   * method; `OPTIONS *` (about the server as a whole, RFC 9110 §9.3.7) gets 204 with every
   * method some route takes in Allow.
   */
  readonly handle: Handler = (request) => {
    if (request.target === '*') return { status: 204, headers: { Allow: this.#allMethods() } }
    const methods = this.#routes.get(request.path)
    if (methods === undefined) return { status: 404, headers: TEXT, body: 'not found\n' }
    const handler = methods.get(request.method) ?? (request.method === 'HEAD' ? methods.get('GET') : undefined)
    if (handler === undefined) {
      const allow = [...methods.keys(), ...(methods.has('GET') ? ['HEAD'] : [])].join(', ')
      return { status: 405, headers: { ...TEXT, Allow: allow }, body: 'method not allowed\n' }
    }
    return handler(request)
  }

  /** Every method of every route, HEAD where GET is, and OPTIONS (asked rarely: computed each time). */
  #allMethods(): string {
    const all = new Set<string>()
    for (const methods of this.#routes.values()) for (const method of methods.keys()) all.add(method)
    if (all.has('GET')) all.add('HEAD')
    all.add('OPTIONS')
    return [...all].join(', ')
  }
}

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' } as const
