import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Buf } from 'rotor-stream'
import { describeSplit, splits } from 'rotor-stream/testing'
import { ChunkedDecoder, type ChunkedNeed, MAX_CHUNK_LINE, MAX_TRAILERS } from '../../examples/http/chunked.js'
import {
  isKeepAlive,
  type Parsed,
  parseChunkSize,
  parseContentLength,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  requestFraming,
  responseFraming,
  targetPath,
} from '../../examples/http/parse.js'

const T = { timeout: 10_000 }

/** The value of a successful parse; fails the test with the message otherwise. */
function value<V>(parsed: Parsed<V>): V {
  if (!parsed.ok) assert.fail(`expected success, got ${parsed.status} ${parsed.message}`)
  return parsed.value
}

/** The status of a failed parse. */
function status<V>(parsed: Parsed<V>): number {
  if (parsed.ok) assert.fail(`expected a failure, got ${JSON.stringify(parsed.value)}`)
  return parsed.status
}

/** parseRequestHead on the latin1 bytes of `text`. */
function parseRequest(text: string): Parsed<RequestHead> {
  return parseRequestHead(Buffer.from(text, 'latin1'))
}

function head(text: string): RequestHead {
  return value(parseRequestHead(Buffer.from(text, 'latin1')))
}

describe('parseRequestHead', () => {
  test('parses the request line and lower-cases header names', T, () => {
    const h = head('POST /echo?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Type:  text/plain \r\nX-A: 1\r\nx-a: 2')
    assert.equal(h.method, 'POST')
    assert.equal(h.target, '/echo?x=1')
    assert.equal(h.minor, 1)
    assert.equal(h.headers.get('host'), 'example.com')
    assert.equal(h.headers.get('content-type'), 'text/plain')
    assert.equal(h.headers.get('x-a'), '1, 2')
  })

  test('parses a head in the middle of a buffer, reading nothing outside it', T, () => {
    const bytes = Buffer.from('xxGET /a HTTP/1.1\r\nHost: h\r\n\r\nyy', 'latin1')
    const h = value(parseRequestHead(bytes, 2, bytes.indexOf('\r\n\r\n')))
    assert.deepEqual([h.method, h.target, h.minor, [...h.headers]], ['GET', '/a', 1, [['host', 'h']]])
    assert.equal(status(parseRequestHead(bytes, 2, 10)), 400) // the request line cut short
  })

  test('accepts HTTP/1.0 without Host and answers HTTP/1.2 as 1.1', T, () => {
    assert.equal(head('GET / HTTP/1.0').minor, 0)
    assert.equal(head('GET / HTTP/1.2\r\nHost: x').minor, 1)
  })

  test('rejects malformed request lines with 400', T, () => {
    for (const line of ['', 'GET', 'GET /', 'GET  / HTTP/1.1', 'GET / HTTP/1.1 ', 'G(T / HTTP/1.1', 'GET /a b HTTP/1.1', 'GET / http/1.1', 'GET / HTTP/1.10']) {
      assert.equal(status(parseRequest(`${line}\r\nHost: x`)), 400, JSON.stringify(line))
    }
  })

  test('answers an unsupported major version with 505', T, () => {
    assert.equal(status(parseRequest('GET / HTTP/2.0\r\nHost: x')), 505)
  })

  test('reads an absolute-form target: the path for the router, the Host from the target (RFC 9112 §3.2.2)', T, () => {
    const h = head('GET http://example.com:8080/a/b?q=1 HTTP/1.1\r\nHost: other.example')
    assert.equal(h.target, 'http://example.com:8080/a/b?q=1')
    assert.equal(targetPath(h), '/a/b')
    assert.equal(h.headers.get('host'), 'example.com:8080') // the Host received is ignored
    const cases: [string, string, string][] = [
      ['HTTP://Example.COM', '/', 'Example.COM'], // the scheme is case-insensitive; no path is /
      ['https://x?y=1', '/', 'x'],
      ['http://[::1]:80/p', '/p', '[::1]:80'],
      ['http://a.b:/', '/', 'a.b:'],
    ]
    for (const [target, path, host] of cases) {
      const parsed = head(`GET ${target} HTTP/1.1\r\nHost: h`)
      assert.deepEqual([targetPath(parsed), parsed.headers.get('host')], [path, host], target)
    }
    assert.equal(head('GET http://x/y HTTP/1.0').headers.get('host'), 'x') // no Host needed in 1.0, one is made
    assert.equal(status(parseRequest('GET http://x/y HTTP/1.1')), 400) // 1.1 still needs a Host (§3.2)
  })

  test('refuses absolute-form targets that are not http(s) URIs with an authority', T, () => {
    for (const target of ['http://', 'http:///p', 'ftp://x/', 'http:/x', 'http://user@x/', 'http://x#f', 'http://x:8a/', 'x/y', 'urn:a', '?q', '**']) {
      assert.equal(status(parseRequest(`GET ${target} HTTP/1.1\r\nHost: h`)), 400, target)
    }
  })

  test('takes * for OPTIONS only, and host:port for CONNECT only (RFC 9112 §3.2.3, §3.2.4)', T, () => {
    const star = head('OPTIONS * HTTP/1.1\r\nHost: h')
    assert.deepEqual([star.target, star.origin, targetPath(star)], ['*', -1, '*'])
    for (const method of ['GET', 'HEAD', 'POST', 'DELETE', 'M-SEARCH']) assert.equal(status(parseRequest(`${method} * HTTP/1.1\r\nHost: h`)), 400, method)
    assert.equal(head('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443').origin, -1)
    assert.equal(status(parseRequest('CONNECT example.com HTTP/1.1\r\nHost: h')), 400)
    assert.equal(status(parseRequest('GET example.com:443 HTTP/1.1\r\nHost: h')), 400)
  })

  test('requires exactly one Host in HTTP/1.1', T, () => {
    assert.equal(status(parseRequest('GET / HTTP/1.1')), 400)
    assert.equal(status(parseRequest('GET / HTTP/1.1\r\nHost: a\r\nHost: b')), 400)
  })

  test('rejects header lines that could be read two ways', T, () => {
    const bad = [
      'Host : x',
      ' Host: x',
      'Host: x\r\n folded',
      'Host: x\r\nNoColon',
      'Host: x\r\n: empty',
      'Host: a\0b',
      'Host: x\r\nX: a\rb',
      'Host: x\r\nX\u00e9: y',
    ]
    for (const lines of bad) assert.equal(status(parseRequest(`GET / HTTP/1.1\r\n${lines}`)), 400, JSON.stringify(lines))
  })
})

/** The straightforward parser (split, regexps) that parseRequestHead must agree with, byte for byte. */
function referenceRequestHead(text: string): Parsed<RequestHead> {
  const fail = (status: number, message: string) => ({ ok: false, status, message }) as const
  const lines = text.split('\r\n')
  const match = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/.exec(lines[0] ?? '')
  if (match === null) return fail(400, 'malformed request line')
  if (match[3] !== '1') return fail(505, `HTTP/${match[3]}.${match[4]} is not supported`)
  const headers = new Map<string, string>()
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string
    const colon = line.indexOf(':')
    const name = line.slice(0, colon)
    if (colon <= 0 || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return fail(400, `malformed header line ${i}`)
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) return fail(400, `invalid characters in header ${name}`)
    const key = name.toLowerCase()
    const previous = headers.get(key)
    headers.set(key, previous === undefined ? value : `${previous}, ${value}`)
  }
  const minor = match[4] === '0' ? 0 : 1
  const host = headers.get('host')
  if (minor === 1 && (host === undefined || host.includes(','))) return fail(400, 'an HTTP/1.1 request needs exactly one Host header')
  const method = match[1] as string
  const target = match[2] as string
  let origin = 0
  if (target === '*') {
    if (method !== 'OPTIONS') return fail(400, `the target * is for OPTIONS only, not ${method}`)
    origin = -1
  } else if (!target.startsWith('/')) {
    const hostName = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[-A-Za-z0-9._~!$&'()*+,;=%]+)`
    if (method === 'CONNECT') {
      if (!new RegExp(`^${hostName}:[0-9]+$`).test(target)) return fail(400, 'CONNECT needs a host:port target')
      origin = -1
    } else {
      const absolute = new RegExp(`^https?://(${hostName}(?::[0-9]*)?)([/?].*)?$`, 'i').exec(target)
      if (absolute === null) return fail(400, 'malformed request target')
      headers.set('host', absolute[1] as string)
      origin = target.length - (absolute[2] ?? '').length
    }
  }
  return { ok: true, value: { method, target, origin, minor, headers } }
}

/** A seeded generator (mulberry32), so that a failure names a reproducible input. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('parseRequestHead against a reference parser', () => {
  test('agrees on valid heads and on every one-character change of them', T, () => {
    const alphabet = ['\r', '\n', ' ', '\t', ':', '\0', '\x7f', '\u00e9', '\u00ff', 'A', 'a', '1', ',', '/', '.', '(', '*', '@', '?', '#', '[']
    const next = random(5)
    const pick = <V>(list: readonly V[]): V => list[Math.floor(next() * list.length)] as V
    const field = () =>
      `${pick(['Host', 'host', 'X-A', 'x-a', 'Content-Type', 'ETag'])}:${pick(['', ' ', '  ', '\t'])}${pick(['x', '1, 2', 'a b', ''])}${pick(['', ' ', '\t '])}`
    const heads: string[] = []
    for (let i = 0; i < 400; i++) {
      const method = pick(['GET', 'POST', 'M-SEARCH', 'OPTIONS', 'CONNECT'])
      const target = pick(['/', '/a?b=c', '*', 'http://x/y', 'https://x:1?q', 'HTTP://[::1]', 'x:80'])
      const line = `${method} ${target} HTTP/${pick(['1.1', '1.1', '1.0', '2.0'])}`
      heads.push([line, ...Array.from({ length: Math.floor(next() * 4) }, field)].join('\r\n'))
    }
    for (const base of heads.slice(0, 400)) {
      for (let at = 0; at <= base.length; at++) {
        heads.push(base.slice(0, at) + pick(alphabet) + base.slice(at + 1)) // replace
        heads.push(base.slice(0, at) + pick(alphabet) + base.slice(at)) // insert
      }
    }
    let valid = 0
    for (const text of heads) {
      const got = parseRequest(text)
      assert.deepEqual(got, referenceRequestHead(text), JSON.stringify(text))
      if (got.ok) valid++
    }
    assert.ok(valid > 100, `only ${valid} valid heads among ${heads.length}`)
  })
})

describe('requestFraming', () => {
  const framing = (fields: string, version = '1.1') => requestFraming(head(`POST / HTTP/${version}\r\nHost: x${fields}`))

  test('reads Content-Length, chunked, or no body', T, () => {
    assert.deepEqual(value(framing('\r\nContent-Length: 12')), { kind: 'length', length: 12 })
    assert.deepEqual(value(framing('\r\nContent-Length: 0')), { kind: 'none' })
    assert.deepEqual(value(framing('\r\nContent-Length: 7\r\nContent-Length: 7')), { kind: 'length', length: 7 })
    assert.deepEqual(value(framing('\r\nTransfer-Encoding: Chunked')), { kind: 'chunked' })
    assert.deepEqual(value(framing('')), { kind: 'none' })
  })

  test('refuses ambiguous or unsupported framing', T, () => {
    assert.equal(status(framing('\r\nContent-Length: 1\r\nTransfer-Encoding: chunked')), 400)
    assert.equal(status(framing('\r\nContent-Length: 1\r\nContent-Length: 2')), 400)
    assert.equal(status(framing('\r\nContent-Length: -1')), 400)
    assert.equal(status(framing('\r\nContent-Length: 1e3')), 400)
    assert.equal(status(framing('\r\nContent-Length: 1234567890123456')), 400)
    assert.equal(status(framing('\r\nTransfer-Encoding: gzip')), 400)
    assert.equal(status(framing('\r\nTransfer-Encoding: chunked, gzip')), 400)
    assert.equal(status(framing('\r\nTransfer-Encoding: gzip, chunked')), 501)
    assert.equal(status(framing('\r\nTransfer-Encoding: chunked', '1.0')), 400)
  })
})

describe('responseFraming and parseResponseHead', () => {
  const response = (text: string) => value(parseResponseHead(Buffer.from(text, 'latin1')))

  test('parses status lines, with or without a reason', T, () => {
    const r = response('HTTP/1.1 404 Not Found\r\nContent-Length: 3')
    assert.equal(r.status, 404)
    assert.equal(r.reason, 'Not Found')
    assert.equal(response('HTTP/1.0 200').minor, 0)
    assert.equal(status(parseResponseHead(Buffer.from('HTTP/1.1 20 OK'))), 502)
    assert.equal(status(parseResponseHead(Buffer.from('ICY 200 OK'))), 502)
  })

  test('frames by method, status, Transfer-Encoding, Content-Length, else until close', T, () => {
    assert.deepEqual(value(responseFraming('HEAD', response('HTTP/1.1 200 OK\r\nContent-Length: 5'))), { kind: 'none' })
    assert.deepEqual(value(responseFraming('GET', response('HTTP/1.1 204 No Content'))), { kind: 'none' })
    assert.deepEqual(value(responseFraming('GET', response('HTTP/1.1 304 Not Modified\r\nContent-Length: 5'))), { kind: 'none' })
    assert.deepEqual(value(responseFraming('GET', response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'))), { kind: 'chunked' })
    assert.deepEqual(value(responseFraming('GET', response('HTTP/1.1 200 OK\r\nContent-Length: 5'))), { kind: 'length', length: 5 })
    assert.deepEqual(value(responseFraming('GET', response('HTTP/1.1 200 OK'))), { kind: 'untilClose' })
    assert.equal(status(responseFraming('GET', response('HTTP/1.1 200 OK\r\nContent-Length: x'))), 502)
  })
})

describe('small parsers', () => {
  test('parseContentLength takes digits or equal repeats only', T, () => {
    assert.equal(parseContentLength('42'), 42)
    assert.equal(parseContentLength(' 42 , 42'), 42)
    assert.equal(parseContentLength('42, 43'), null)
    assert.equal(parseContentLength('+42'), null)
    assert.equal(parseContentLength(''), null)
  })

  test('isKeepAlive follows the version and the Connection options', T, () => {
    const h = (v: string | undefined) => new Map(v === undefined ? [] : [['connection', v]])
    assert.equal(isKeepAlive(1, h(undefined)), true)
    assert.equal(isKeepAlive(1, h('Close')), false)
    assert.equal(isKeepAlive(1, h('upgrade, close')), false)
    assert.equal(isKeepAlive(0, h(undefined)), false)
    assert.equal(isKeepAlive(0, h('Keep-Alive')), true)
  })

  test('parseChunkSize reads hex and ignores extensions', T, () => {
    assert.equal(parseChunkSize('1a'), 26)
    assert.equal(parseChunkSize('FF;name=value'), 255)
    assert.equal(parseChunkSize('0 ; x'), 0)
    assert.equal(parseChunkSize(''), null)
    assert.equal(parseChunkSize('-1'), null)
    assert.equal(parseChunkSize('0x10'), null)
    assert.ok((parseChunkSize('f'.repeat(40)) as number) > Number.MAX_SAFE_INTEGER)
  })
})

/** Feeds `chunks` one by one to a decoder over one Buf; returns the last need and the input left. */
function decodeChunks(chunks: readonly Buffer[], maxBody = 1 << 20): { need: ChunkedNeed; body: string; rest: string } {
  const decoder = new ChunkedDecoder(maxBody)
  const input = new Buf()
  let need: ChunkedNeed = { kind: 'line', max: 0 }
  for (const chunk of chunks) {
    input.write(chunk) // what follows the body keeps arriving
    if (need.kind !== 'done' && need.kind !== 'error') need = decoder.decode(input)
  }
  return { need, body: need.kind === 'done' ? decoder.body().toString() : '', rest: input.toString() }
}

describe('ChunkedDecoder', () => {
  test('decodes chunks, extensions and trailers identically for every split, leaving what follows', T, () => {
    const input = '5\r\nhello\r\n1;ext=1\r\n \r\nB\r\nchunked wor\r\n2\r\nld\r\n0\r\nX-Trailer: 1\r\n\r\nGET / HTTP/1.1'
    for (const chunks of splits(input, { random: 300 })) {
      const { need, body, rest } = decodeChunks(chunks)
      const where = describeSplit(chunks)
      assert.equal(need.kind, 'done', where)
      assert.equal(body, 'hello chunked world', where)
      assert.equal(rest, 'GET / HTTP/1.1', where)
    }
  })

  test('asks for exactly what is missing', T, () => {
    const decoder = new ChunkedDecoder(100)
    const input = new Buf()
    input.write('a\r\n01234')
    assert.deepEqual(decoder.decode(input), { kind: 'bytes', n: 12 })
    input.write('56789\r\n')
    assert.deepEqual(decoder.decode(input), { kind: 'line', max: MAX_CHUNK_LINE })
    input.write('0\r\n')
    assert.deepEqual(decoder.decode(input), { kind: 'line', max: MAX_TRAILERS })
    input.write('\r\n')
    assert.deepEqual(decoder.decode(input), { kind: 'done' })
    assert.equal(decoder.body().toString(), '0123456789')
  })

  test('refuses a chunk that would pass the body limit before its data arrives', T, () => {
    const { need, rest } = decodeChunks([Buffer.from('8\r\n12345678\r\n3\r\n')], 10)
    assert.equal(need.kind === 'error' && need.status, 413)
    assert.equal(rest, '3\r\n') // not consumed, nothing of the chunk buffered
    assert.equal(decodeChunks([Buffer.from(`${'f'.repeat(40)}\r\n`)]).need.kind === 'error', true)
  })

  test('answers malformed input with 400 and too many trailers with 431', T, () => {
    const status = (text: string) => {
      const { need } = decodeChunks([Buffer.from(text)])
      return need.kind === 'error' ? need.status : need.kind
    }
    assert.equal(status('z\r\n'), 400)
    assert.equal(status('\r\n'), 400)
    assert.equal(status('3\r\nabcd\r\n'), 400)
    assert.equal(status(`${'0'.repeat(MAX_CHUNK_LINE + 1)}\r\n`), 400)
    assert.equal(status('0'.repeat(MAX_CHUNK_LINE + 2)), 400) // no CRLF yet, but already too long
    assert.equal(status('0'.repeat(MAX_CHUNK_LINE + 1)), 'line')
    assert.equal(status(`0\r\nX: ${'a'.repeat(MAX_TRAILERS)}\r\n\r\n`), 431)
  })

  test('takes trailer field lines only, as strictly as a head, for every split', T, () => {
    const good = '2\r\nok\r\n0\r\nX-A: 1\r\nX-Empty:\r\nX-B: \tb c\xff\t\r\n\r\nNEXT'
    for (const chunks of splits(good, { random: 200 })) {
      const { need, body, rest } = decodeChunks(chunks)
      assert.deepEqual([need.kind, body, rest], ['done', 'ok', 'NEXT'], describeSplit(chunks))
    }
    const bad: [string, string][] = [
      ['0\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n', 'malformed trailer field'], // a request hidden as trailers
      ['0\r\nX : 1\r\n\r\n', 'malformed trailer field'],
      ['0\r\n X: 1\r\n\r\n', 'malformed trailer field'],
      ['0\r\nX: 1\r\n folded\r\n\r\n', 'malformed trailer field'],
      ['0\r\nNoColon\r\n\r\n', 'malformed trailer field'],
      ['0\r\nX: a\rb\r\n\r\n', 'malformed trailer field'],
      ['0\r\nX: a\0b\r\n\r\n', 'malformed trailer field'],
      ['0\r\nX: a\x7fb\r\n\r\n', 'malformed trailer field'],
      ['0\r\nX\xe9: y\r\n\r\n', 'malformed trailer field'],
      ['0\r\nX: 1\nY: 2\r\n\r\n', 'bare LF in a chunked body: lines end with CRLF'],
      ['0\r\nX: 1\n', 'bare LF in a chunked body: lines end with CRLF'], // no CRLF needed to see it
      ['0\r\n\n', 'bare LF in a chunked body: lines end with CRLF'],
      ['0\n\r\n', 'bare LF in a chunked body: lines end with CRLF'],
      ['3\nabc\r\n', 'bare LF in a chunked body: lines end with CRLF'],
    ]
    for (const [text, message] of bad) {
      for (const chunks of splits(Buffer.from(text, 'latin1'), { random: 50 })) {
        const { need } = decodeChunks(chunks)
        assert.deepEqual(need, { kind: 'error', status: 400, message }, `${JSON.stringify(text)} ${describeSplit(chunks)}`)
      }
    }
  })
})
