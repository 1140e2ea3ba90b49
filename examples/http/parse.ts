/**
 * Pure HTTP/1.1 parsing (RFC 9112) shared by the server and the client examples: request and
 * response heads, how a message body is framed, whether a connection stays open.
 *
 * No sockets and no Bufs: a head comes in as bytes (a view of the input, valid during the call)
 * and a value or the status to answer with comes out; every string in the value is a copy. Each
 * function is unit-tested alone in test/unit/http-parse.test.ts.
 */

/** A header section: lower-case field names; a repeated field's values joined by ", " (RFC 9110 §5.3). */
export type Headers = Map<string, string>

/** A parsed request line and header section. */
export interface RequestHead {
  /** Case-sensitive method token, e.g. `GET`. */
  readonly method: string
  /** The request-target as sent, e.g. `/search?q=1`, `http://example.com/search?q=1` or `*`. */
  readonly target: string
  /**
   * Where the path of `target` starts (RFC 9112 §3.2): 0 in origin-form (`/search?q=1`), after
   * the authority in absolute-form (`http://example.com/search?q=1`: 18; equal to the length of
   * `http://example.com`, whose path is `/`); -1 in asterisk-form (`*`, OPTIONS only) and in
   * authority-form (`example.com:443`, CONNECT only), which have no path.
   */
  readonly origin: number
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

/**
 * The scheme and authority of an absolute-form target (RFC 9112 §3.2.2): http or https, then
 * `//`, a host and an optional port. No userinfo (RFC 9110 §4.2.4: a recipient treats it as an
 * error) and no fragment; what follows is the path and query, or nothing.
 */
const ABSOLUTE_TARGET = /^https?:\/\/((?:\[[0-9A-Fa-f:.]+\]|[-A-Za-z0-9._~!$&'()*+,;=%]+)(?::\d*)?)(?=[/?]|$)/i
/** An authority-form target (RFC 9112 §3.2.3): host and port, for CONNECT. */
const AUTHORITY_TARGET = /^(?:\[[0-9A-Fa-f:.]+\]|[-A-Za-z0-9._~!$&'()*+,;=%]+):\d+$/
const SP = 0x20
const HTAB = 0x09
const CR = 0x0d
const LF = 0x0a
const COLON = 0x3a
const DOT = 0x2e
const ZERO = 0x30
const SLASH = 0x2f
const HTTP_SLASH = Buffer.from('HTTP/')
/** 1 for the bytes of a token (RFC 9110 §5.6.2: tchar), 0 for the rest. */
const TCHAR = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1
/** Methods returned as constants instead of new strings, by length. */
const METHODS = byLength(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])
/** Field names returned as constants (lower case) instead of new strings, by length. */
const FIELD_NAMES = byLength([
  'host',
  'accept',
  'accept-encoding',
  'accept-language',
  'connection',
  'content-length',
  'content-type',
  'cookie',
  'expect',
  'transfer-encoding',
  'user-agent',
])

/**
 * A request head as the server reads it, checked in the same single pass as
 * {@link parseRequestHead} and with the same answers, but without building its header map:
 * the request line is cut into strings; of the field section only what decides the body's
 * framing and the connection's fate is kept (repeated fields joined by ", "); the rest stays
 * in `text` until {@link fieldMap} is asked for it, which a handler that reads no header never
 * does. One object is reused for every head (`scanRequestHead` sets every field).
 */
export class HeadScan {
  method = ''
  target = ''
  /** As {@link RequestHead.origin}. */
  origin = 0
  minor: 0 | 1 = 1
  /** The head decoded as latin1, request line included, without the blank line. */
  text = ''
  /** Where the field lines start in `text`: at the CRLF ending the request line, or at its end. */
  fieldsAt = 0
  /** An absolute-form target's authority, which replaces the Host field (RFC 9112 §3.2.2); else undefined. */
  host: string | undefined = undefined
  contentLength: string | undefined = undefined
  transferEncoding: string | undefined = undefined
  expect: string | undefined = undefined
  connection: string | undefined = undefined
}

/** A refusal: the status to answer with and why. */
export type Failure = { readonly ok: false; readonly status: number; readonly message: string }

/**
 * Parses a request head: bytes `[start, end)` of `bytes`, the request line and field lines
 * without the blank line, CRLF-separated. The server reads heads with {@link scanRequestHead}
 * instead, which this is built on: the checks are the same code.
 */
export function parseRequestHead(bytes: Buffer, start = 0, end = bytes.length): Parsed<RequestHead> {
  const scan = new HeadScan()
  const failure = scanRequestHead(bytes, start, end, scan)
  if (failure !== null) return failure
  const { method, target, origin, minor } = scan
  return ok({ method, target, origin, minor, headers: fieldMap(scan.text, scan.fieldsAt, scan.host) })
}

/**
 * Checks a request head, bytes `[start, end)` of `bytes` (as {@link parseRequestHead}), into
 * `scan`; returns null, or the refusal. It runs for every request, so it scans the bytes once,
 * validating as it goes, instead of splitting lines and matching regexps; strings are cut from
 * one latin1 decoding of the head, and only for the fields the server itself needs.
 */
export function scanRequestHead(bytes: Buffer, start: number, end: number, scan: HeadScan): Failure | null {
  // RFC 9112 §3: method SP request-target SP HTTP-version; the target has no spaces or controls.
  let i = start
  while (i < end && TCHAR[bytes[i] as number] === 1) i++
  const methodEnd = i
  if (i === start || i === end || bytes[i] !== SP) return fail(400, 'malformed request line')
  const targetStart = ++i
  for (; i < end; i++) {
    const c = bytes[i] as number
    if (c < 0x21 || c > 0x7e) break
  }
  const targetEnd = i
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, then the end of the line.
  const v = i + 1
  const lineEnd = v + 8
  if (i === targetStart || lineEnd > end || bytes[i] !== SP || !startsWith(bytes, HTTP_SLASH, v) || bytes[v + 6] !== DOT) {
    return fail(400, 'malformed request line')
  }
  const major = (bytes[v + 5] as number) - ZERO
  const minorDigit = (bytes[v + 7] as number) - ZERO
  if (!(major >= 0 && major <= 9 && minorDigit >= 0 && minorDigit <= 9) || !(lineEnd === end || (bytes[lineEnd] === CR && bytes[lineEnd + 1] === LF))) {
    return fail(400, 'malformed request line')
  }
  if (major !== 1) return fail(505, `HTTP/${major}.${minorDigit} is not supported`)
  const text = bytes.toString('latin1', start, end)
  scan.text = text
  scan.fieldsAt = lineEnd - start
  const failure = scanFields(bytes, text, start, lineEnd, end, scan)
  if (failure !== null) return failure
  const minor = minorDigit === 0 ? 0 : 1
  // RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host (scanFields counted them).
  if (minor === 1 && hostState !== ONE_HOST) return fail(400, 'an HTTP/1.1 request needs exactly one Host header')
  const method = interned(METHODS, bytes, start, methodEnd, 0) ?? text.slice(0, methodEnd - start)
  const target = text.slice(targetStart - start, targetEnd - start)
  scan.method = method
  scan.target = target
  scan.minor = minor
  scan.host = undefined
  // Origin-form is the common case and costs one comparison; the other forms are checked apart.
  if (bytes[targetStart] === SLASH) {
    scan.origin = 0
    return null
  }
  return otherTargetForm(method, target, scan)
}

/** Host fields seen by {@link scanFields}: none, exactly one without a comma, or anything else. */
const NO_HOST = 0
const ONE_HOST = 1
const BAD_HOST = 2
/** What the last {@link scanFields} found of Host (module state: the scan is synchronous, and its caller reads it at once). */
let hostState = NO_HOST

/**
 * The request-target forms other than origin-form (RFC 9112 §3.2): sets where the path starts,
 * as {@link RequestHead.origin}, or returns a 400. In absolute-form the target's authority
 * replaces the Host header's value (§3.2.2: the server MUST ignore the Host it received).
 */
function otherTargetForm(method: string, target: string, scan: HeadScan): Failure | null {
  if (target === '*') {
    if (method !== 'OPTIONS') return fail(400, `the target * is for OPTIONS only, not ${method}`)
    scan.origin = -1
    return null
  }
  if (method === 'CONNECT') {
    if (!AUTHORITY_TARGET.test(target)) return fail(400, 'CONNECT needs a host:port target')
    scan.origin = -1
    return null
  }
  const absolute = ABSOLUTE_TARGET.exec(target)
  if (absolute === null) return fail(400, 'malformed request target')
  scan.host = absolute[1] as string
  scan.origin = absolute[0].length
  return null
}

/** The path of a request's target: `/` for an absolute-form target without one, the target itself without one (`*`). */
export function targetPath(head: Pick<RequestHead, 'target' | 'origin'>): string {
  const { target, origin } = head
  if (origin < 0) return target
  const query = target.indexOf('?', origin)
  if (origin === 0) return query < 0 ? target : target.slice(0, query)
  const path = target.slice(origin, query < 0 ? target.length : query)
  return path === '' ? '/' : path
}

/** Parses a response head: the bytes before the blank line, CRLF-separated. */
export function parseResponseHead(bytes: Buffer): Parsed<ResponseHead> {
  const text = bytes.toString('latin1')
  const lineEnd = text.indexOf('\r\n')
  const line = lineEnd < 0 ? text : text.slice(0, lineEnd)
  const match = STATUS_LINE.exec(line)
  if (match === null) return fail(502, `malformed status line ${JSON.stringify(line.slice(0, 64))}`)
  const headers = parseFields(bytes, text, 0, lineEnd < 0 ? text.length : lineEnd, bytes.length)
  if (!headers.ok) return fail(502, headers.message)
  return ok({ status: Number(match[2]), reason: match[3] ?? '', minor: match[1] === '0' ? 0 : 1, headers: headers.value })
}

/**
 * Parses the field lines of the head `bytes[base, end)` that follow position `from` (the CRLF
 * ending the start line, or `end`); `text` is the head decoded as latin1 (`text[0]` is
 * `bytes[base]`), to cut names and values from.
 */
function parseFields(bytes: Buffer, text: string, base: number, from: number, end: number): Parsed<Headers> {
  const headers: Headers = new Map()
  let line = 0
  // Invariant: `from` is at a CRLF (found below or checked by the caller) or at `end`.
  while (from < end) {
    const start = from + 2
    line++
    from = fieldLine(bytes, start, end)
    if (from < 0) return fieldFailure(from, line, text, base, start)
    const name = interned(FIELD_NAMES, bytes, start, field.nameEnd, 0x20) ?? lowerCase(text.slice(start - base, field.nameEnd - base), field.hasUpper)
    const value = text.slice(field.valueStart - base, field.valueEnd - base)
    const previous = headers.get(name)
    headers.set(name, previous === undefined ? value : `${previous}, ${value}`)
  }
  return ok(headers)
}

/**
 * {@link parseFields} for the server: the same lines, the same checks, but only the fields the
 * server needs become strings (into `scan`), and Host is only counted (into `hostState`).
 */
function scanFields(bytes: Buffer, text: string, base: number, from: number, end: number, scan: HeadScan): Failure | null {
  let contentLength: string | undefined
  let transferEncoding: string | undefined
  let expect: string | undefined
  let connection: string | undefined
  let host = NO_HOST
  let line = 0
  // Invariant: `from` is at a CRLF (found below or checked by the caller) or at `end`.
  while (from < end) {
    const start = from + 2
    line++
    from = fieldLine(bytes, start, end)
    if (from < 0) return fieldFailure(from, line, text, base, start)
    const nameEnd = field.nameEnd
    // Told apart by length first: most names are none of these, and cost one switch.
    switch (nameEnd - start) {
      case 4:
        if (spells(bytes, start, 'host')) host = host === NO_HOST && !hasComma(bytes, field.valueStart, field.valueEnd) ? ONE_HOST : BAD_HOST
        break
      case 6:
        if (spells(bytes, start, 'expect')) expect = joined(expect, text.slice(field.valueStart - base, field.valueEnd - base))
        break
      case 10:
        if (spells(bytes, start, 'connection')) connection = joined(connection, text.slice(field.valueStart - base, field.valueEnd - base))
        break
      case 14:
        if (spells(bytes, start, 'content-length')) contentLength = joined(contentLength, text.slice(field.valueStart - base, field.valueEnd - base))
        break
      case 17:
        if (spells(bytes, start, 'transfer-encoding')) transferEncoding = joined(transferEncoding, text.slice(field.valueStart - base, field.valueEnd - base))
        break
    }
  }
  scan.contentLength = contentLength
  scan.transferEncoding = transferEncoding
  scan.expect = expect
  scan.connection = connection
  hostState = host
  return null
}

/** Where {@link fieldLine} found the parts of the line it checked (module state, read at once: no object per line). */
const field = { nameEnd: 0, valueStart: 0, valueEnd: 0, hasUpper: false }
/** {@link fieldLine}: the name is not a token followed by a colon. */
const MALFORMED_LINE = -1
/** {@link fieldLine}: the value holds a byte a field value may not. */
const INVALID_VALUE = -2

/**
 * Checks the field line starting at `start` (ending at a CRLF or at `end`) into {@link field}
 * and returns where it ends (its CRLF, or `end`), or MALFORMED_LINE or INVALID_VALUE.
 */
function fieldLine(bytes: Buffer, start: number, end: number): number {
  // field-name = token, then the colon at once: no space before it (RFC 9112 §5.1) and no
  // obs-fold continuation lines (§5.2), both used to smuggle requests past proxies.
  let i = start
  let hasUpper = false
  for (; i < end; i++) {
    const c = bytes[i] as number
    if (TCHAR[c] !== 1) break
    if (c <= 0x5a && c >= 0x41) hasUpper = true
  }
  if (i === start || i === end || bytes[i] !== COLON) return MALFORMED_LINE
  field.nameEnd = i
  field.hasUpper = hasUpper
  // RFC 9110 §5.5: VCHAR, obs-text, SP and HTAB, never CR, LF or NUL; the line ends at CRLF.
  // Optional whitespace around the value is not part of it.
  let valueStart = i + 1
  while (valueStart < end && (bytes[valueStart] === SP || bytes[valueStart] === HTAB)) valueStart++
  let valueEnd = valueStart
  let lineEnd = end
  for (i = valueStart; i < end; i++) {
    const c = bytes[i] as number
    if (c === SP || c === HTAB) continue
    if (c > 0x20 && c !== 0x7f) {
      valueEnd = i + 1
      continue
    }
    if (c === CR && i + 1 < end && bytes[i + 1] === LF) {
      lineEnd = i
      break
    }
    return INVALID_VALUE
  }
  field.valueStart = valueStart
  field.valueEnd = valueEnd
  return lineEnd
}

/** The refusal for what {@link fieldLine} returned for line number `line`, which starts at `start` (`text[0]` is `bytes[base]`). */
function fieldFailure(code: number, line: number, text: string, base: number, start: number): Failure {
  if (code === MALFORMED_LINE) return fail(400, `malformed header line ${line}`)
  return fail(400, `invalid characters in header ${text.slice(start - base, field.nameEnd - base)}`)
}

/** A repeated field's values joined (RFC 9110 §5.3). */
function joined(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`
}

/** Whether the token `bytes[start, start + lower.length)` is `lower`, ignoring case. */
function spells(bytes: Uint8Array, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if (((bytes[start + i] as number) | 0x20) !== lower.charCodeAt(i)) return false
  return true
}

function hasComma(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] === 0x2c) return true
  return false
}

/**
 * The field section of a head scanned by {@link scanRequestHead} (`text` from `fieldsAt`,
 * already checked) as a map; `host`, if set, replaces the Host field.
 */
export function fieldMap(text: string, fieldsAt: number, host: string | undefined): Headers {
  const headers: Headers = new Map()
  for (let from = fieldsAt; from < text.length; ) {
    const start = from + 2
    const lineEnd = text.indexOf('\r\n', start)
    from = lineEnd < 0 ? text.length : lineEnd
    const colon = text.indexOf(':', start)
    const name = text.slice(start, colon).toLowerCase()
    const value = trimOws(text.slice(colon + 1, from))
    const previous = headers.get(name)
    headers.set(name, previous === undefined ? value : `${previous}, ${value}`)
  }
  if (host !== undefined) headers.set('host', host)
  return headers
}

function lowerCase(name: string, hasUpper: boolean): string {
  return hasUpper ? name.toLowerCase() : name
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array, at: number): boolean {
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false
  return true
}

/** Constant strings grouped by length, for {@link interned}. */
function byLength(strings: readonly string[]): string[][] {
  const table: string[][] = []
  for (const s of strings) {
    table[s.length] ??= []
    table[s.length]?.push(s)
  }
  return table
}

/**
 * The string of `table` spelled by `bytes[start, end)`, or undefined. `fold` 0x20 compares
 * case-insensitively (the table is lower case, and the bytes are tchar: only letters fold).
 */
function interned(table: readonly (readonly string[] | undefined)[], bytes: Uint8Array, start: number, end: number, fold: number): string | undefined {
  const candidates = table[end - start]
  if (candidates === undefined) return undefined
  next: for (const s of candidates) {
    for (let i = 0; i < s.length; i++) if (((bytes[start + i] as number) | fold) !== s.charCodeAt(i)) continue next
    return s
  }
  return undefined
}

/**
 * How a request's body is framed (RFC 9112 §6.3): chunked, Content-Length or none. Refuses what
 * could be read two ways: both headers, differing lengths, a coding we cannot undo.
 */
export function requestFraming(head: RequestHead): Parsed<Framing> {
  return framingOf(head.minor, head.headers.get('transfer-encoding'), head.headers.get('content-length'))
}

/** {@link requestFraming} from the request's version and its Transfer-Encoding and Content-Length values. */
export function framingOf(minor: 0 | 1, te: string | undefined, cl: string | undefined): Parsed<Framing> {
  if (te !== undefined) {
    if (cl !== undefined) return fail(400, 'both Transfer-Encoding and Content-Length')
    if (minor === 0) return fail(400, 'Transfer-Encoding in an HTTP/1.0 request')
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
  return keepsAlive(minor, headers.get('connection'))
}

/** {@link isKeepAlive} from the message's version and its Connection value. */
export function keepsAlive(minor: 0 | 1, connection: string | undefined): boolean {
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
