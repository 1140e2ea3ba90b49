/**
 * The request a handler of the HTTP/1.1 server example gets. One object per request, made from
 * the shared {@link HeadScan} once the head is checked: its header map and its path are worked
 * out only when a handler asks for them (most answer without reading a header).
 */
import { fieldMap, type Headers, type HeadScan, keepsAlive, targetPath } from './parse.js'
import type { HttpRequest } from './router.js'

const EMPTY = Buffer.alloc(0)

export class ServerRequest implements HttpRequest {
  readonly method: string
  readonly target: string
  /** As {@link RequestHead.origin}: where the target's path starts, -1 without one. */
  readonly origin: number
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1
  /** Whether the client lets the connection stay open after this request (RFC 9112 §9.3: its version and Connection field). */
  readonly keepAlive: boolean
  /** The body, set once it is read (empty until then, and for a request without one). */
  body: Buffer = EMPTY
  /** The head as latin1 text, and where its field lines start (see {@link HeadScan}). */
  readonly #text: string
  readonly #fieldsAt: number
  /** An absolute-form target's authority, which replaces the Host field; else undefined. */
  readonly #host: string | undefined
  #headers: Headers | null = null
  #path: string | null = null

  constructor(scan: HeadScan) {
    this.method = scan.method
    this.target = scan.target
    this.origin = scan.origin
    this.minor = scan.minor
    this.keepAlive = keepsAlive(scan.minor, scan.connection)
    this.#text = scan.text
    this.#fieldsAt = scan.fieldsAt
    this.#host = scan.host
  }

  get version(): 'HTTP/1.0' | 'HTTP/1.1' {
    return this.minor === 0 ? 'HTTP/1.0' : 'HTTP/1.1'
  }

  get path(): string {
    this.#path ??= targetPath(this)
    return this.#path
  }

  /** Built on first use; the handler may change it, as it is this request's own. */
  get headers(): Headers {
    this.#headers ??= fieldMap(this.#text, this.#fieldsAt, this.#host)
    return this.#headers
  }
}
