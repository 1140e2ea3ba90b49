/**
 * fast-check arbitraries for the reliability suite: valid input streams of the core test
 * protocol, of RESP requests, of RESP replies and of HTTP/1.1 requests; the ways to cut them
 * into reads; and mutations that turn a valid stream into a hostile one.
 */
import fc from 'fast-check'

// --- Splits -----------------------------------------------------------------------------------

/** Cut points for an input of any length: each is a fraction of the length, so they shrink well. */
export const cutFractions = fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 24 })

/** Cuts `input` at the positions given as fractions (per 10,000) of its length; empty chunks are dropped. */
export function cutAt(input: Buffer, fractions: readonly number[]): Buffer[] {
  const points = [...new Set(fractions.map((f) => Math.floor((f * input.length) / 10_000)))].filter((p) => p > 0 && p < input.length).sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const p of points) {
    chunks.push(input.subarray(from, p))
    from = p
  }
  chunks.push(input.subarray(from))
  return chunks.filter((c) => c.length > 0)
}

/** Cuts `input` into chunks of `size` bytes (the last may be shorter). */
export function cutEvery(input: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = []
  for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size))
  return chunks
}

// --- The core test protocol (see protocols.ts: FramedEcho) -------------------------------------

/** Longest line FramedEcho accepts (its `expectDelimiter` max). */
export const CORE_MAX_LINE = 64

/** One message of the core protocol: a text line, or a `len:<n>` header and n bytes of payload. */
export type CoreMessage = { kind: 'line'; text: string } | { kind: 'frame'; body: Uint8Array }

const lineText = fc.string({ unit: fc.constantFrom(...'abcxyz 019:\r\t-'.split('')), maxLength: CORE_MAX_LINE + 8 }).filter((s) => !s.startsWith('len:'))
const coreMessage: fc.Arbitrary<CoreMessage> = fc.oneof(
  { weight: 3, arbitrary: lineText.map((text) => ({ kind: 'line' as const, text })) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((body) => ({ kind: 'frame' as const, body })) },
)

/** A stream of core messages, optionally followed by an unfinished tail (what a peer sends before FIN). */
export const coreStream = fc.record({
  messages: fc.array(coreMessage, { maxLength: 30 }),
  tail: fc.oneof(fc.constant(''), fc.constant('len:'), fc.constant('len:9\nabc'), fc.constant('unterminated')),
  end: fc.boolean(),
})

export function encodeCore(messages: readonly CoreMessage[], tail: string): Buffer {
  const parts: Buffer[] = []
  for (const m of messages) {
    if (m.kind === 'line') parts.push(Buffer.from(`${m.text}\n`, 'latin1'))
    else parts.push(Buffer.from(`len:${m.body.length}\n`), Buffer.from(m.body))
  }
  parts.push(Buffer.from(tail))
  return Buffer.concat(parts)
}

// --- RESP requests ------------------------------------------------------------------------------

const key = fc.constantFrom('k', 'n', 'l', 'bin', 'k2')
const value = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.constantFrom('1', '-5', '42', 'v', 'a\r\nb', '').map((s) => Buffer.from(s)),
)
const word = fc.stringMatching(/^[a-z0-9]{1,8}$/)

/** One command as its arguments (bulk strings), or an inline command (a line of words). */
export type RespRequest = { kind: 'array'; args: Buffer[] } | { kind: 'inline'; words: string[] }

const b = (s: string): Buffer => Buffer.from(s)
const arrayCommand: fc.Arbitrary<Buffer[]> = fc.oneof(
  fc.constant(null).map(() => [b('PING')]),
  value.map((v) => [b('ECHO'), v]),
  fc.tuple(key, value).map(([k, v]) => [b('SET'), b(k), v]),
  key.map((k) => [b('GET'), b(k)]),
  key.map((k) => [b('INCR'), b(k)]),
  fc.tuple(key, fc.integer({ min: -1000, max: 1000 })).map(([k, n]) => [b('INCRBY'), b(k), b(String(n))]),
  fc.tuple(key, fc.array(value, { minLength: 1, maxLength: 4 })).map(([k, vs]) => [b('RPUSH'), b(k), ...vs]),
  fc.tuple(key, fc.array(value, { minLength: 1, maxLength: 4 })).map(([k, vs]) => [b('LPUSH'), b(k), ...vs]),
  key.map((k) => [b('LRANGE'), b(k), b('0'), b('-1')]),
  key.map((k) => [b('LPOP'), b(k)]),
  fc.array(key, { minLength: 1, maxLength: 4 }).map((ks) => [b('MGET'), ...ks.map(b)]),
  fc.array(key, { minLength: 1, maxLength: 3 }).map((ks) => [b('DEL'), ...ks.map(b)]),
  fc.array(key, { minLength: 1, maxLength: 3 }).map((ks) => [b('EXISTS'), ...ks.map(b)]),
  key.map((k) => [b('TYPE'), b(k)]),
  fc.tuple(word, fc.array(value, { maxLength: 2 })).map(([w, vs]) => [b(`NOPE${w}`), ...vs]),
  fc.constant(null).map(() => [b('GET')]), // wrong arity: an error reply, the connection stays
)
const inlineCommand: fc.Arbitrary<string[]> = fc.oneof(
  fc.constant(null).map(() => ['PING']),
  fc.tuple(key, word).map(([k, w]) => ['SET', k, w]),
  key.map((k) => ['GET', k]),
  key.map((k) => ['INCR', k]),
  fc.array(word, { minLength: 1, maxLength: 3 }).map((ws) => ['ECHO', ...ws]),
)
const respRequest: fc.Arbitrary<RespRequest> = fc.oneof(
  { weight: 4, arbitrary: arrayCommand.map((args) => ({ kind: 'array' as const, args })) },
  { weight: 1, arbitrary: inlineCommand.map((words) => ({ kind: 'inline' as const, words })) },
)

/** A pipelined session of valid commands, maybe ended by QUIT. */
export const respSession = fc.record({ requests: fc.array(respRequest, { maxLength: 25 }), quit: fc.boolean() })

export function encodeResp(requests: readonly RespRequest[], quit: boolean): Buffer {
  const parts: Buffer[] = []
  for (const r of requests) {
    if (r.kind === 'inline') parts.push(b(`${r.words.join(' ')}\r\n`))
    else {
      parts.push(b(`*${r.args.length}\r\n`))
      for (const arg of r.args) parts.push(b(`$${arg.length}\r\n`), arg, b('\r\n'))
    }
  }
  if (quit) parts.push(b('*1\r\n$4\r\nQUIT\r\n'))
  return Buffer.concat(parts)
}

// --- RESP replies (for the client) ---------------------------------------------------------------

/** A reply the server sends, as the model of what the client must produce. */
export type RespReply =
  | { kind: 'simple'; text: string }
  | { kind: 'error'; text: string }
  | { kind: 'integer'; text: string }
  | { kind: 'bulk'; bytes: Buffer | null }
  | { kind: 'array'; items: RespReply[] | null }

const simpleText = fc.string({ unit: fc.constantFrom(...'abcXYZ 019:-+$*.'.split('')), maxLength: 20 })
const leafReply: fc.Arbitrary<RespReply> = fc.oneof(
  simpleText.map((text) => ({ kind: 'simple' as const, text })),
  simpleText.map((text) => ({ kind: 'error' as const, text: `ERR ${text}` })),
  fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n })).map((n) => ({ kind: 'integer' as const, text: String(n) })),
  fc
    .option(
      fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
      { freq: 6 },
    )
    .map((bytes) => ({ kind: 'bulk' as const, bytes })),
)
/** Replies nested up to three arrays deep (errors only at the top: the client rejects on those). */
export const respReply: fc.Arbitrary<RespReply> = fc.letrec<{ reply: RespReply; element: RespReply }>((tie) => ({
  reply: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafReply,
    fc.option(fc.array(tie('element'), { maxLength: 5 }), { freq: 8 }).map((items) => ({ kind: 'array' as const, items })),
  ),
  element: fc.oneof(
    { depthSize: 'small' },
    leafReply.filter((r) => r.kind !== 'error'),
    fc.array(tie('element'), { maxLength: 4 }).map((items) => ({ kind: 'array' as const, items })),
  ),
})).reply

export function encodeReply(reply: RespReply): Buffer {
  switch (reply.kind) {
    case 'simple':
      return b(`+${reply.text}\r\n`)
    case 'error':
      return b(`-${reply.text}\r\n`)
    case 'integer':
      return b(`:${reply.text}\r\n`)
    case 'bulk':
      return reply.bytes === null ? b('$-1\r\n') : Buffer.concat([b(`$${reply.bytes.length}\r\n`), reply.bytes, b('\r\n')])
    case 'array':
      return reply.items === null ? b('*-1\r\n') : Buffer.concat([b(`*${reply.items.length}\r\n`), ...reply.items.map(encodeReply)])
  }
}

// --- HTTP/1.1 requests --------------------------------------------------------------------------

/** One request of a generated session. */
export interface HttpRequestSpec {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE'
  target: string
  minor: 0 | 1
  headers: [string, string][]
  body: { kind: 'none' } | { kind: 'length'; bytes: Buffer } | { kind: 'chunked'; chunks: Buffer[]; trailers: [string, string][]; extension: string }
  expectContinue: boolean
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/).filter((t) => !/^(host|content-length|transfer-encoding|connection|expect)$/i.test(t))
const fieldValue = fc.string({ unit: fc.constantFrom(...'abc XYZ 0129;=,/\t"'.split('')), maxLength: 24 })
const bodyBytes = fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u))

const httpRequest: fc.Arbitrary<HttpRequestSpec> = fc
  .record({
    method: fc.constantFrom('GET' as const, 'HEAD' as const, 'POST' as const, 'PUT' as const, 'DELETE' as const),
    target: fc.constantFrom('/', '/echo', '/nope', '/?q=1', '/echo?x=y'),
    minor: fc.constantFrom(0 as const, 1 as const, 1 as const),
    headers: fc.array(fc.tuple(token, fieldValue), { maxLength: 5 }),
    bodyKind: fc.constantFrom('none' as const, 'length' as const, 'chunked' as const),
    bytes: bodyBytes,
    chunks: fc.array(bodyBytes, { maxLength: 5 }),
    trailers: fc.array(fc.tuple(token, fieldValue), { maxLength: 2 }),
    extension: fc.constantFrom('', ';a=b', ';x'),
    expectContinue: fc.boolean(),
  })
  .map((r) => {
    // Bodies only where the method makes sense to the router; chunked only in HTTP/1.1 (1.0 refuses it).
    const withBody = r.method === 'POST' || r.method === 'PUT'
    const kind = !withBody ? 'none' : r.bodyKind === 'chunked' && r.minor === 0 ? 'length' : r.bodyKind
    const body: HttpRequestSpec['body'] =
      kind === 'none'
        ? { kind: 'none' }
        : kind === 'length'
          ? { kind: 'length', bytes: r.bytes }
          : { kind: 'chunked', chunks: r.chunks.filter((c) => c.length > 0), trailers: r.trailers, extension: r.extension }
    return { method: r.method, target: r.target, minor: r.minor, headers: r.headers, body, expectContinue: r.expectContinue && withBody }
  })

/** A pipelined keep-alive session; the last request may ask to close. */
export const httpSession = fc.record({ requests: fc.array(httpRequest, { minLength: 1, maxLength: 8 }), close: fc.boolean(), strayCrlf: fc.boolean() })

export function encodeHttp(requests: readonly HttpRequestSpec[], close: boolean, strayCrlf: boolean): Buffer {
  const parts: Buffer[] = []
  requests.forEach((r, i) => {
    let head = `${r.method} ${r.target} HTTP/1.${r.minor}\r\nHost: example\r\n`
    // HTTP/1.0 closes after each answer unless asked to keep the connection.
    if (r.minor === 0) head += 'Connection: keep-alive\r\n'
    if (close && i === requests.length - 1) head += 'Connection: close\r\n'
    for (const [name, v] of r.headers) head += `${name}: ${v}\r\n`
    if (r.expectContinue) head += 'Expect: 100-continue\r\n'
    if (r.body.kind === 'length') head += `Content-Length: ${r.body.bytes.length}\r\n`
    if (r.body.kind === 'chunked') head += 'Transfer-Encoding: chunked\r\n'
    parts.push(Buffer.from(`${head}\r\n`, 'latin1'))
    if (r.body.kind === 'length') parts.push(r.body.bytes)
    if (r.body.kind === 'chunked') {
      for (const c of r.body.chunks) parts.push(b(`${c.length.toString(16)}${r.body.extension}\r\n`), c, b('\r\n'))
      parts.push(b(`0\r\n${r.body.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`))
    }
    if (strayCrlf) parts.push(b('\r\n'))
  })
  return Buffer.concat(parts)
}

// --- Mutations: valid streams made hostile ------------------------------------------------------

/** One edit of a byte stream. */
export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'number'; at: number; text: string }

const HOSTILE_NUMBERS = ['-1', '-2', '99999999999', '18446744073709551616', '9'.repeat(40), '0x10', ' 5', '4294967296', '2147483648', '1e9', '', '+3']

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 16 }),
      fc.constantFrom(...['\r\n', '\n', '\r', '*', '$', ':', '\0', '\r\n\r\n'].map((s) => Buffer.from(s))),
    ),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('number' as const), at: fc.nat(), text: fc.constantFrom(...HOSTILE_NUMBERS) }),
)

/** Applies `mutations` in order; positions wrap around the current length. */
export function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = input
  for (const m of mutations) {
    const n = out.length
    const at = n === 0 ? 0 : m.at % (n + 1)
    switch (m.op) {
      case 'flip': {
        if (n === 0) break
        out = Buffer.from(out)
        const i = at % n
        out[i] = (out[i] as number) ^ (1 << m.bit)
        break
      }
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)])
        break
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)])
        break
      case 'duplicate':
        out = Buffer.concat([out.subarray(0, at + m.length), out.subarray(at)])
        break
      case 'truncate':
        out = out.subarray(0, at)
        break
      case 'number': {
        // Replace the digits after a RESP or HTTP length marker (or at `at`) by a hostile number.
        const text = out.toString('latin1')
        const found = text.slice(at).search(/[*$:]-?\d|Content-Length: ?\d|\r\n[0-9a-f]+\r\n/i)
        const from = found < 0 ? at : at + found + (text[at + found] === '\r' ? 2 : text.slice(at + found).search(/\d/))
        let to = from
        while (to < text.length && /[0-9a-fA-F-]/.test(text[to] as string)) to++
        out = Buffer.concat([out.subarray(0, from), Buffer.from(m.text, 'latin1'), out.subarray(to)])
        break
      }
    }
  }
  return out
}

/** Random bytes weighted towards the characters the parsers care about. */
export const hostileBytes = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }) },
      { weight: 2, arbitrary: fc.constantFrom(...Buffer.from('\r\n*$:+-0123456789 GETPOSTHTTP/1.1: \t;chunked')) },
    ),
    { maxLength: 600 },
  )
  .map((bytes) => Buffer.from(bytes))
