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

// RFC 9112 §4: HTTP-version SP 3DIGIT SP [ reason-phrase ]; a missing last SP is tolerated.
const STATUS_LINE = /^HTTP\/1\.(\d) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/
/** A Content-Length: at most 15 digits, which stay below 2^53 (longer is refused, not rounded). */
const DIGITS = /^\d{1,15}$/
const FRAMING_NONE: Framing = Object.freeze({ kind: 'none' })
const FRAMING_CHUNKED: Framing = Object.freeze({ kind: 'chunked' })
const FRAMING_UNTIL_CLOSE: Framing = Object.freeze({ kind: 'untilClose' })
// The common answers, made once: requestFraming runs for every request.
const OK_NONE: Parsed<Framing> = Object.freeze({ ok: true, value: FRAMING_NONE })
const OK_CHUNKED: Parsed<Framing> = Object.freeze({ ok: true, value: FRAMING_CHUNKED })

const SP = 0x20
const HTAB = 0x09
const CR = 0x0d
const LF = 0x0a
const COLON = 0x3a
const DOT = 0x2e
const ZERO = 0x30
/** 1 for the bytes of a token (RFC 9110 §5.6.2: tchar), 0 for the rest; indexed by char code. */
const TCHAR = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1

/**
 * Parses a request head: everything before the blank line, CRLF-separated. It runs for every
 * request, so it scans char codes once instead of splitting lines and matching regexps.
 */
export function parseRequestHead(head: string): Parsed<RequestHead> {
  const n = head.length
  // RFC 9112 §3: method SP request-target SP HTTP-version; the target has no spaces or controls.
  let i = 0
  while (i < n && TCHAR[head.charCodeAt(i)] === 1) i++
  if (i === 0 || head.charCodeAt(i) !== SP) return fail(400, 'malformed request line')
  const method = head.slice(0, i)
  const targetStart = ++i
  for (let c = head.charCodeAt(i); c >= 0x21 && c <= 0x7e; c = head.charCodeAt(++i));
  if (i === targetStart || head.charCodeAt(i) !== SP) return fail(400, 'malformed request line')
  const target = head.slice(targetStart, i)
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, then the end of the line.
  const v = i + 1
  const major = head.charCodeAt(v + 5) - ZERO
  const minorDigit = head.charCodeAt(v + 7) - ZERO
  const lineEnd = v + 8
  if (
    !head.startsWith('HTTP/', v) ||
    !(major >= 0 && major <= 9) ||
    head.charCodeAt(v + 6) !== DOT ||
    !(minorDigit >= 0 && minorDigit <= 9) ||
    !(lineEnd === n || (head.charCodeAt(lineEnd) === CR && head.charCodeAt(lineEnd + 1) === LF))
  ) {
    return fail(400, 'malformed request line')
  }
  if (major !== 1) return fail(505, `HTTP/${major}.${minorDigit} is not supported`)
  const headers = parseFields(head, lineEnd)
  if (!headers.ok) return headers
  const minor = minorDigit === 0 ? 0 : 1
  // RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host.
  const host = headers.value.get('host')
  if (minor === 1 && (host === undefined || host.includes(','))) return fail(400, 'an HTTP/1.1 request needs exactly one Host header')
  return ok({ method, target, minor, headers: headers.value })
}

/** Parses a response head: everything before the blank line, CRLF-separated. */
export function parseResponseHead(head: string): Parsed<ResponseHead> {
  const lineEnd = head.indexOf('\r\n')
  const line = lineEnd < 0 ? head : head.slice(0, lineEnd)
  const match = STATUS_LINE.exec(line)
  if (match === null) return fail(502, `malformed status line ${JSON.stringify(line.slice(0, 64))}`)
  const headers = parseFields(head, lineEnd < 0 ? head.length : lineEnd)
  if (!headers.ok) return fail(502, headers.message)
  return ok({ status: Number(match[2]), reason: match[3] ?? '', minor: match[1] === '0' ? 0 : 1, headers: headers.value })
}

/** Parses the field lines of `head` that follow position `from` (the CRLF ending the start line, or the end). */
function parseFields(head: string, from: number): Parsed<Headers> {
  const headers: Headers = new Map()
  const n = head.length
  let line = 0
  // Invariant: `from` is at a CRLF (found by indexOf or checked by the caller) or at the end.
  while (from < n) {
    const start = from + 2
    line++
    let end = head.indexOf('\r\n', start)
    if (end < 0) end = n
    // field-name = token, then the colon at once: no space before it (RFC 9112 §5.1) and no
    // obs-fold continuation lines (§5.2), both used to smuggle requests past proxies.
    let i = start
    let hasUpper = false
    for (; i < end; i++) {
      const c = head.charCodeAt(i)
      if (TCHAR[c] !== 1) break
      if (c <= 0x5a && c >= 0x41) hasUpper = true
    }
    if (i === start || i === end || head.charCodeAt(i) !== COLON) return fail(400, `malformed header line ${line}`)
    const name = head.slice(start, i)
    // RFC 9110 §5.5: the value without optional whitespace around it; VCHAR, obs-text, SP and
    // HTAB only: never CR, LF or NUL.
    let valueStart = i + 1
    let valueEnd = end
    while (valueStart < valueEnd && isOws(head.charCodeAt(valueStart))) valueStart++
    while (valueEnd > valueStart && isOws(head.charCodeAt(valueEnd - 1))) valueEnd--
    for (let j = valueStart; j < valueEnd; j++) {
      const c = head.charCodeAt(j)
      if (c < SP ? c !== HTAB : c === 0x7f || c > 0xff) return fail(400, `invalid characters in header ${name}`)
    }
    const value = head.slice(valueStart, valueEnd)
    const key = hasUpper ? name.toLowerCase() : name
    const previous = headers.get(key)
    headers.set(key, previous === undefined ? value : `${previous}, ${value}`)
    from = end
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
    return OK_CHUNKED
  }
  if (cl === undefined) return OK_NONE
  const length = parseContentLength(cl)
  if (length === null) return fail(400, 'invalid Content-Length')
  return length === 0 ? OK_NONE : ok({ kind: 'length', length })
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
  if (connection === undefined) return minor === 1
  const options = tokens(connection)
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

/** A comma-separated list of tokens, lower-cased and trimmed, empty elements dropped. */
function tokens(value: string): string[] {
  return value
    .split(',')
    .map((t) => trimOws(t).toLowerCase())
    .filter((t) => t.length > 0)
}

/** Whether `c` is optional whitespace (SP or HTAB, RFC 9110 §5.6.3). */
function isOws(c: number): boolean {
  return c === SP || c === HTAB
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
