/**
 * Pure HTTP/1.1 parsing (RFC 9112) shared by the server and the client examples: request and
 * response heads, how a message body is framed, whether a connection stays open.
 *
 * No sockets and no Bufs: a head comes in as a latin1 string (one char per byte, so checking
 * characters checks bytes) and a value or the status to answer with comes out. Each function is
 * unit-tested alone in test/unit/http-parse.test.ts.
 */

/** A header section: lower-case field names; a repeated field's values joined by ", " (RFC 9110 §5.3). */
export type Headers = Map<string, string>

/** A parsed request line and header section. */
export interface RequestHead {
  /** Case-sensitive method token, e.g. `GET`. */
  readonly method: string
  /** The request-target as sent, e.g. `/search?q=1`. */
  readonly target: string
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1 (and any later 1.x, answered as 1.1). */
  readonly minor: 0 | 1
  readonly headers: Headers
}

/** A parsed status line and header section. */
export interface ResponseHead {
  readonly status: number
  readonly reason: string
  readonly minor: 0 | 1
  readonly headers: Headers
}

/** How a message body is delimited (RFC 9112 §6.3). */
export type Framing =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'untilClose' }

/** A result, or the status a server answers a bad message with (a client just reports `message`). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly status: number; readonly message: string }

// RFC 9110 §5.6.2: token = 1*tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// RFC 9112 §3: method SP request-target SP HTTP-version; the target has no spaces or controls.
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/
// RFC 9112 §4: HTTP-version SP 3DIGIT SP [ reason-phrase ]; a missing last SP is tolerated.
const STATUS_LINE = /^HTTP\/1\.(\d) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/
// RFC 9110 §5.5: field-value is VCHAR, obs-text, SP and HTAB: never CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
/** A Content-Length: at most 15 digits, which stay below 2^53 (longer is refused, not rounded). */
const DIGITS = /^\d{1,15}$/
const FRAMING_NONE: Framing = Object.freeze({ kind: 'none' })
const FRAMING_CHUNKED: Framing = Object.freeze({ kind: 'chunked' })
const FRAMING_UNTIL_CLOSE: Framing = Object.freeze({ kind: 'untilClose' })

/** Parses a request head: everything before the blank line, CRLF-separated. */
export function parseRequestHead(head: string): Parsed<RequestHead> {
  const lines = head.split('\r\n')
  const match = REQUEST_LINE.exec(lines[0] ?? '')
  if (match === null) return fail(400, 'malformed request line')
  if (match[3] !== '1') return fail(505, `HTTP/${match[3]}.${match[4]} is not supported`)
  const headers = parseFields(lines)
  if (!headers.ok) return headers
  const minor = match[4] === '0' ? 0 : 1
  // RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host.
  const host = headers.value.get('host')
  if (minor === 1 && (host === undefined || host.includes(','))) return fail(400, 'an HTTP/1.1 request needs exactly one Host header')
  return ok({ method: match[1] as string, target: match[2] as string, minor, headers: headers.value })
}

/** Parses a response head: everything before the blank line, CRLF-separated. */
export function parseResponseHead(head: string): Parsed<ResponseHead> {
  const lines = head.split('\r\n')
  const match = STATUS_LINE.exec(lines[0] ?? '')
  if (match === null) return fail(502, `malformed status line ${JSON.stringify(lines[0]?.slice(0, 64))}`)
  const headers = parseFields(lines)
  if (!headers.ok) return fail(502, headers.message)
  return ok({ status: Number(match[2]), reason: match[3] ?? '', minor: match[1] === '0' ? 0 : 1, headers: headers.value })
}

/** Parses the field lines `lines[1..]` (line 0 is the start line). */
function parseFields(lines: readonly string[]): Parsed<Headers> {
  const headers: Headers = new Map()
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string
    const colon = line.indexOf(':')
    // No space before the colon (RFC 9112 §5.1) and no obs-fold continuation lines (§5.2):
    // both have been used to smuggle requests past proxies that read them differently.
    const name = line.slice(0, colon)
    if (colon <= 0 || !TOKEN.test(name)) return fail(400, `malformed header line ${i}`)
    const value = trimOws(line.slice(colon + 1))
    if (!FIELD_VALUE.test(value)) return fail(400, `invalid characters in header ${name}`)
    const key = name.toLowerCase()
    const previous = headers.get(key)
    headers.set(key, previous === undefined ? value : `${previous}, ${value}`)
  }
  return ok(headers)
}

/**
 * How a request's body is framed (RFC 9112 §6.3): chunked, Content-Length or none. Refuses what
 * could be read two ways: both headers, differing lengths, a coding we cannot undo.
 */
export function requestFraming(head: RequestHead): Parsed<Framing> {
  const te = head.headers.get('transfer-encoding')
  const cl = head.headers.get('content-length')
  if (te !== undefined) {
    if (cl !== undefined) return fail(400, 'both Transfer-Encoding and Content-Length')
    if (head.minor === 0) return fail(400, 'Transfer-Encoding in an HTTP/1.0 request')
    const codings = tokens(te)
    if (codings[codings.length - 1] !== 'chunked') return fail(400, 'chunked is not the final transfer coding')
    if (codings.length > 1) return fail(501, `transfer coding ${te} is not implemented`)
    return ok(FRAMING_CHUNKED)
  }
  if (cl === undefined) return ok(FRAMING_NONE)
  const length = parseContentLength(cl)
  return length === null ? fail(400, 'invalid Content-Length') : ok(length === 0 ? FRAMING_NONE : { kind: 'length', length })
}

/**
 * How a response's body is framed (RFC 9112 §6.3), given the request's method: none after HEAD
 * and for 1xx, 204, 304; else chunked, Content-Length, or everything until the server closes.
 */
export function responseFraming(method: string, head: ResponseHead): Parsed<Framing> {
  const { status, headers } = head
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) return ok(FRAMING_NONE)
  const te = headers.get('transfer-encoding')
  if (te !== undefined) return ok(tokens(te).at(-1) === 'chunked' ? FRAMING_CHUNKED : FRAMING_UNTIL_CLOSE)
  const cl = headers.get('content-length')
  if (cl === undefined) return ok(FRAMING_UNTIL_CLOSE)
  const length = parseContentLength(cl)
  return length === null ? fail(502, `invalid Content-Length ${JSON.stringify(cl)}`) : ok({ kind: 'length', length })
}

/** A Content-Length value: digits, or a list of equal ones (repeated headers, RFC 9110 §8.6); else null. */
export function parseContentLength(value: string): number | null {
  const parts = value.split(',')
  const first = trimOws(parts[0] as string)
  if (!DIGITS.test(first)) return null
  for (let i = 1; i < parts.length; i++) if (trimOws(parts[i] as string) !== first) return null
  return Number(first)
}

/**
 * Whether the connection stays open after this message (RFC 9112 §9.3): HTTP/1.1 unless
 * `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
 */
export function isKeepAlive(minor: 0 | 1, headers: Headers): boolean {
  const connection = headers.get('connection')
  const options = connection === undefined ? [] : tokens(connection)
  if (options.includes('close')) return false
  return minor === 1 || options.includes('keep-alive')
}

/**
 * The size of a chunk from its chunk-size line (without CRLF): hex digits, then optional
 * `;name=value` extensions, which are ignored (RFC 9112 §7.1.1). Null if malformed; an
 * absurdly long size parses to a number far above any limit, never to a wrong small one.
 */
export function parseChunkSize(line: string): number | null {
  const match = /^([0-9A-Fa-f]+)[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/.exec(line)
  return match === null ? null : Number.parseInt(match[1] as string, 16)
}

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

/** A comma-separated list of tokens, lower-cased and trimmed, empty elements dropped. */
function tokens(value: string): string[] {
  return value
    .split(',')
    .map((t) => trimOws(t).toLowerCase())
    .filter((t) => t.length > 0)
}

/** Strips optional whitespace (SP and HTAB only, RFC 9110 §5.6.3). */
function trimOws(s: string): string {
  let start = 0
  let end = s.length
  while (start < end && (s[start] === ' ' || s[start] === '\t')) start++
  while (end > start && (s[end - 1] === ' ' || s[end - 1] === '\t')) end--
  return start === 0 && end === s.length ? s : s.slice(start, end)
}

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value }
}

function fail(status: number, message: string): { readonly ok: false; readonly status: number; readonly message: string } {
  return { ok: false, status, message }
}
