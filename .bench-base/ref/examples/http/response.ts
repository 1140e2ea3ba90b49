import type { Buf } from 'rotor-stream'

/**
 * Response heads for the HTTP/1.1 server example: the status line, Date, the handler's fields,
 * Content-Length and Connection, serialized once and reused.
 *
 * A server answers the same kind of response again and again (same status, same header object,
 * same body size, the same Date for a whole second). A head whose header object is frozen is
 * built and checked once and then reused as bytes, together with its body when that is a short
 * string, so a repeated answer costs one copy. A header object that is not frozen may change
 * between responses: its head is built (and checked) every time.
 */

/** The Connection field an answer carries: none (HTTP/1.1 keep-alive), `close`, or `keep-alive` (HTTP/1.0). */
export type ConnectionField = 'none' | 'close' | 'keep-alive'

/** Header fields a handler adds; names and values must not contain CR or LF. */
export type Fields = Readonly<Record<string, string>>

/** Reason phrases of the statuses the examples use (RFC 9110 §15). */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: 'Continue',
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  505: 'HTTP Version Not Supported',
}

/** The last answer built for one frozen header object, and what it was built for. */
interface CachedHead {
  readonly status: number
  readonly date: string | null
  readonly connection: ConnectionField
  /** Content-Length, or -1 for a status without a body (1xx, 204, 304). */
  readonly length: number
  /** The head, with its blank line. */
  readonly head: Buffer
  /** The string body it was built with, if short (else null)… */
  readonly text: string | null
  /** …and the head followed by that body. */
  readonly withText: Buffer | null
}

/** Stands for "no fields" in the cache. */
const NO_FIELDS: Fields = Object.freeze({})
const CONNECTION_LINE: Readonly<Record<ConnectionField, string>> = { none: '', close: 'Connection: close\r\n', 'keep-alive': 'Connection: keep-alive\r\n' }
/** String bodies up to this many chars are kept with a cached head (a copy per frozen header object). */
const MAX_CACHED_TEXT = 1024

/** Writes answers for one server; every connection of the server shares one. */
export class ResponseWriter {
  /** The Date value, or null to send none. */
  readonly #date: (() => string) | null
  /** Frozen header object → the answer last built with it. */
  readonly #cache = new WeakMap<Fields, CachedHead>()

  constructor(date: (() => string) | null) {
    this.#date = date
  }

  /**
   * Appends an answer to `out`: `status`, the handler's `fields`, Content-Length, the
   * `connection` line, then `body` unless `sendBody` is false (the answer to HEAD). Throws,
   * having written nothing, if a field would inject CR or LF.
   */
  write(out: Buf, status: number, fields: Fields | undefined, body: string | Uint8Array, connection: ConnectionField, sendBody: boolean): void {
    const date = this.#date === null ? null : this.#date()
    // RFC 9110 §8.6 and §6.4.1: no Content-Length and no body in 1xx, 204 and 304 answers.
    const hasBody = status >= 200 && status !== 204 && status !== 304
    const key = fields ?? NO_FIELDS
    const cached = Object.isFrozen(key) ? this.#cache.get(key) : undefined
    if (cached !== undefined && cached.status === status && cached.date === date && cached.connection === connection) {
      if (body === cached.text) {
        // The hot path: the same answer as last time, body included.
        out.write(sendBody && hasBody ? (cached.withText as Buffer) : cached.head)
        return
      }
      if ((hasBody ? byteLength(body) : -1) === cached.length) {
        writeAnswer(out, cached.head, body, sendBody && cached.length > 0)
        return
      }
    }
    const length = hasBody ? byteLength(body) : -1
    const head = build(status, date, key, length, connection)
    if (!Object.isFrozen(key)) {
      writeAnswer(out, head, body, sendBody && length > 0)
      return
    }
    const bytes = Buffer.from(head)
    const text = typeof body === 'string' && body.length <= MAX_CACHED_TEXT ? body : null
    const withText = text === null ? null : Buffer.concat([bytes, Buffer.from(text)])
    this.#cache.set(key, { status, date, connection, length, head: bytes, text, withText })
    writeAnswer(out, bytes, body, sendBody && length > 0)
  }
}

function writeAnswer(out: Buf, head: Buffer | string, body: string | Uint8Array, sendBody: boolean): void {
  out.write(head)
  if (sendBody) out.write(body)
}

function byteLength(body: string | Uint8Array): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.length
}

/** Serializes a head; throws if a field would inject CR or LF (or a name a colon). */
function build(status: number, date: string | null, fields: Fields, length: number, connection: ConnectionField): string {
  let text = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n`
  if (date !== null) text += `Date: ${date}\r\n`
  for (const name in fields) {
    const value = fields[name] as string
    // A CR or LF in a handler's header would let a request inject headers into its own answer.
    if (/[\r\n:]/.test(name) || /[\r\n]/.test(value)) throw new Error(`invalid response header ${JSON.stringify(name)}`)
    text += `${name}: ${value}\r\n`
  }
  if (length >= 0) text += `Content-Length: ${length}\r\n`
  return `${text}${CONNECTION_LINE[connection]}\r\n`
}

let dateText: string | null = null
/** Now as an IMF-fixdate (RFC 9110 §5.6.7), formatted at most once a second: a timer clears it at the next second. */
export function httpDate(): string {
  if (dateText === null) {
    const now = Date.now()
    dateText = new Date(now).toUTCString()
    setTimeout(clearDate, 1000 - (now % 1000)).unref()
  }
  return dateText
}

function clearDate(): void {
  dateText = null
}
