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
  /** The entry of `#cache` used last, and its key (a frozen header object). */
  #lastKey: Fields | null = null
  #last: CachedHead | undefined = undefined

  /**
   * Answers collected for `#batchOut` between `beginBatch` and `endBatch`: `#batch[0, #batched)`,
   * or `#single` alone while it is the only one (written as it is, without a copy).
   */
  #batchOut: Buf | null = null
  #batch: Buffer | null = null
  #single: Buffer | null = null
  #batched = 0

  constructor(date: (() => string) | null) {
    this.#date = date
  }

  /**
   * Until `endBatch()`, answers to `out` are collected in one buffer of the writer's and
   * appended to `out` in one go: sixteen pipelined answers cost one copy into `out`, not
   * sixteen appends that grow it three times. The caller must end the batch before it returns
   * control (its handler returns), and must not write to `out` itself meanwhile but through
   * `writeBytes`.
   */
  beginBatch(out: Buf): void {
    this.#flush()
    this.#batchOut = out
  }

  /** Appends what the batch holds to its Buf and ends it. */
  endBatch(): void {
    this.#flush()
    this.#batchOut = null
  }

  /** Bytes collected in the batch, not yet in its Buf. */
  get batched(): number {
    return this.#batched
  }

  /** Appends `bytes` to `out` after the answers before them. */
  writeBytes(out: Buf, bytes: Uint8Array): void {
    this.#flush()
    out.write(bytes)
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
    // The last header object answered with is checked first: a server answers the same few again and again.
    let cached = key === this.#lastKey ? this.#last : undefined
    if (cached === undefined && Object.isFrozen(key)) {
      cached = this.#cache.get(key)
      if (cached !== undefined) this.#remember(key, cached)
    }
    if (cached !== undefined && cached.status === status && cached.date === date && cached.connection === connection) {
      if (body === cached.text) {
        // The hot path: the same answer as last time, body included.
        this.#append(out, sendBody && hasBody ? (cached.withText as Buffer) : cached.head)
        return
      }
      if ((hasBody ? byteLength(body) : -1) === cached.length) {
        this.#flush()
        writeAnswer(out, cached.head, body, sendBody && cached.length > 0)
        return
      }
    }
    this.#flush() // the answers below go to `out` directly, after the batched ones
    const length = hasBody ? byteLength(body) : -1
    const head = build(status, date, key, length, connection)
    if (!Object.isFrozen(key)) {
      writeAnswer(out, head, body, sendBody && length > 0)
      return
    }
    const bytes = Buffer.from(head)
    const text = typeof body === 'string' && body.length <= MAX_CACHED_TEXT ? body : null
    const withText = text === null ? null : Buffer.concat([bytes, Buffer.from(text)])
    const entry: CachedHead = { status, date, connection, length, head: bytes, text, withText }
    this.#cache.set(key, entry)
    this.#remember(key, entry)
    writeAnswer(out, bytes, body, sendBody && length > 0)
  }

  /** Appends `bytes`, which never change (a cached answer), to `out`: to the batch if one is open for `out`. */
  #append(out: Buf, bytes: Buffer): void {
    if (out !== this.#batchOut) {
      this.#flush()
      out.write(bytes)
      return
    }
    const n = bytes.length
    if (this.#batched === 0) {
      this.#single = bytes
      this.#batched = n
      return
    }
    this.#batch ??= Buffer.allocUnsafe(BATCH_SIZE)
    const batch = this.#batch
    if (this.#batched + n > batch.length) {
      this.#flush()
      this.#single = bytes
      this.#batched = n
      return
    }
    if (this.#single !== null) {
      batch.set(this.#single, 0)
      this.#single = null
    }
    batch.set(bytes, this.#batched)
    this.#batched += n
  }

  #remember(key: Fields, entry: CachedHead): void {
    this.#lastKey = key
    this.#last = entry
  }

  /** Moves the batch into its Buf. */
  #flush(): void {
    const out = this.#batchOut
    if (this.#batched === 0 || out === null) return
    out.write(this.#single ?? (this.#batch as Buffer).subarray(0, this.#batched))
    this.#single = null
    this.#batched = 0
  }
}

/** Room for this many bytes of batched answers (sixteen small ones take 2 KiB). */
const BATCH_SIZE = 16 * 1024

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
