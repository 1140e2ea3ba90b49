import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Factory } from 'rotor-stream'
import { checkSplits, Harness, runScripted } from 'rotor-stream/testing'
import { MAX_CHUNK_LINE } from '../../examples/http/chunked.js'
import { demoRouter, HTTP_DEFAULTS, HttpConnection, type HttpLimits } from '../../examples/http-server.js'

const T = { timeout: 30_000 }
/** The protocol parses everything buffered in one call: compare output, not handler calls. */
const OUTPUT_ONLY = { compareEvents: false } as const
const TEXT = 'Content-Type: text/plain; charset=utf-8\r\n'
const TEXT_FIELDS = Object.freeze({ 'Content-Type': 'text/plain; charset=utf-8' })

/** What the server reported to `onError` (kept here, so that nothing is printed). */
const reported: unknown[] = []

/** The demo routes plus a few that misbehave; no Date header, so that output is byte-exact. */
function factory(limits: Partial<HttpLimits> = {}): Factory {
  const router = demoRouter()
    .get('/boom', () => {
      throw new Error('boom')
    })
    .get('/inject', () => ({ headers: { 'X-A': 'a\r\nSet-Cookie: x' } }))
    .route('PUT', '/', () => ({ status: 204 }))
    .get('/host', (request) => ({ headers: TEXT_FIELDS, body: `${request.headers.get('host')} ${request.path} ${request.target}\n` }))
  return HttpConnection.factory({ handler: router.handle, limits, date: null, onError: (error) => reported.push(error) })
}

/** A response as the server writes it. */
function response(status: string, body: string, fields = TEXT, connection = ''): string {
  return `HTTP/1.1 ${status}\r\n${fields}Content-Length: ${Buffer.byteLength(body)}\r\n${connection}\r\n${body}`
}
const HELLO = response('200 OK', 'Hello, world!\n')
/** An error answer: text body, then the connection closes. */
const failure = (status: string, message: string) => response(status, `${message}\n`, TEXT, 'Connection: close\r\n')

describe('HTTP/1.1 server protocol: requests and pipelining', () => {
  test('answers a pipelined session identically for every split of the input', T, () => {
    const input = [
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n',
      '\r\n', // a stray CRLF between requests is ignored (RFC 9112 §2.2)
      'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n',
      'DELETE / HTTP/1.1\r\nHost: x\r\n\r\n',
      'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
      'GET /?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n', // after Connection: close: never answered
    ].join('')
    const run = checkSplits(factory(), input, { random: 300, ...OUTPUT_ONLY })
    const expected = [
      HELLO,
      response('200 OK', 'hello', 'Content-Type: text/plain\r\n'),
      response('200 OK', 'abcde', 'Content-Type: application/octet-stream\r\n'),
      HELLO.slice(0, -'Hello, world!\n'.length), // HEAD: the GET head, no body
      response('404 Not Found', 'not found\n'),
      response('405 Method Not Allowed', 'method not allowed\n', `${TEXT}Allow: GET, PUT, HEAD\r\n`),
      'HTTP/1.1 204 No Content\r\n\r\n',
      response('200 OK', 'Hello, world!\n', TEXT, 'Connection: close\r\n'),
    ].join('')
    assert.equal(run.output.toString(), expected)
    assert.equal(run.state, 'done')
  })

  test('answers every complete request of one read in one write and stays open', T, () => {
    const h = new Harness(factory())
    h.feed('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(10))
    assert.equal(h.output.toString(), HELLO.repeat(10))
    assert.equal(h.writes, 1)
    assert.equal(h.state, 'running')
    assert.equal(h.buffered, 0)
  })

  test('decodes a chunked body of many chunks cut anywhere', T, () => {
    const parts = Array.from({ length: 40 }, (_, i) => 'x'.repeat(i % 7) + String(i))
    const chunked = parts.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('')
    const input = `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`
    const run = checkSplits(factory(), input, { random: 300, ...OUTPUT_ONLY })
    assert.equal(run.output.toString(), response('200 OK', parts.join(''), 'Content-Type: application/octet-stream\r\n') + HELLO)
  })

  test('sends 100 Continue before reading a body the client announced with Expect', T, () => {
    const input = 'POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nhi'
    const run = checkSplits(factory(), input, OUTPUT_ONLY)
    assert.equal(run.output.toString(), `HTTP/1.1 100 Continue\r\n\r\n${response('200 OK', 'hi', 'Content-Type: application/octet-stream\r\n')}`)
    const h = new Harness(factory())
    h.feed(input.slice(0, -2))
    assert.equal(h.output.toString(), 'HTTP/1.1 100 Continue\r\n\r\n') // sent while the client waits for it
  })

  test('answers all requests sent before the client half-closes, then closes', T, () => {
    const run = runScripted(factory(), ['GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3)], { end: true })
    assert.equal(run.output.toString(), HELLO.repeat(3))
    assert.equal(run.state, 'done')
  })

  test('adds a Date header by default', T, () => {
    const h = new Harness(HttpConnection.factory({ handler: demoRouter().handle }))
    h.feed('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.match(h.output.toString(), /^HTTP\/1\.1 200 OK\r\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/)
  })

  test('refuses invalid limits when the factory is made', T, () => {
    assert.throws(() => HttpConnection.factory({ handler: demoRouter().handle, limits: { maxBodySize: 0 } }), RangeError)
    assert.throws(() => HttpConnection.factory({ handler: demoRouter().handle, limits: { keepAliveTimeout: Number.NaN } }), RangeError)
  })
})

describe('HTTP/1.1 server protocol: request-target forms (RFC 9112 §3.2)', () => {
  test('routes an absolute-form target by its path, with the Host taken from it, for every split', T, () => {
    const input = [
      'GET http://example.com/host?q=1 HTTP/1.1\r\nHost: ignored.example\r\n\r\n',
      'GET HTTP://example.com:8080 HTTP/1.1\r\nHost: x\r\n\r\n', // no path: /
      'POST http://x/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi',
      'GET http://x/nope HTTP/1.1\r\nHost: x\r\n\r\n',
    ].join('')
    const run = checkSplits(factory(), input, { random: 200, ...OUTPUT_ONLY })
    const expected = [
      response('200 OK', 'example.com /host http://example.com/host?q=1\n'),
      HELLO,
      response('200 OK', 'hi', 'Content-Type: application/octet-stream\r\n'),
      response('404 Not Found', 'not found\n'),
    ].join('')
    assert.equal(run.output.toString(), expected)
    assert.equal(run.state, 'running')
  })

  test('answers OPTIONS * with 204 and every method the server takes, for every split', T, () => {
    const run = checkSplits(factory(), 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', OUTPUT_ONLY)
    assert.equal(run.output.toString(), `HTTP/1.1 204 No Content\r\nAllow: GET, PUT, POST, HEAD, OPTIONS\r\n\r\n${HELLO}`)
    assert.equal(run.state, 'running')
  })

  test('400 for * with any other method and for targets of no form, for every split', T, () => {
    for (const [input, message] of [
      ['GET * HTTP/1.1\r\nHost: x\r\n\r\n', 'the target * is for OPTIONS only, not GET'],
      ['DELETE * HTTP/1.1\r\nHost: x\r\n\r\n', 'the target * is for OPTIONS only, not DELETE'],
      ['GET host HTTP/1.1\r\nHost: x\r\n\r\n', 'malformed request target'],
      ['GET http://user@x/ HTTP/1.1\r\nHost: x\r\n\r\n', 'malformed request target'],
      ['GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n', 'malformed request target'],
    ] as const) {
      const run = checkSplits(factory(), input, { random: 50, ...OUTPUT_ONLY })
      assert.equal(run.output.toString(), failure('400 Bad Request', message), input)
      assert.equal(run.state, 'done')
    }
  })
})

describe('HTTP/1.1 server protocol: line endings (RFC 9112 §2.2)', () => {
  const BARE_LF = failure('400 Bad Request', 'bare LF in the request head: lines end with CRLF')

  test('answers a head with bare LF line endings with 400 at once, for every split, without waiting for a CRLFCRLF', T, () => {
    for (const input of [
      'GET / HTTP/1.1\nHost: x\n\n',
      'GET / HTTP/1.1\nHost: x', // never finished: answered all the same
      'GET / HTTP/1.1\r\nHost: x\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\n\n',
      'G\n',
    ]) {
      const run = checkSplits(factory(), input, { random: 100, ...OUTPUT_ONLY }) // no clock advance: no 408
      assert.equal(run.output.toString(), BARE_LF, JSON.stringify(input))
      assert.equal(run.state, 'done')
    }
  })

  test('answers a bare CR in the head with 400 at once, after the good requests before it', T, () => {
    const run = checkSplits(factory(), 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\rHost: x\r\r', { random: 100, ...OUTPUT_ONLY })
    assert.equal(run.output.toString(), HELLO + failure('400 Bad Request', 'bare CR in the request head'))
    assert.equal(run.state, 'done')
  })

  test('still skips empty lines, CRLF or LF, between requests', T, () => {
    const run = checkSplits(factory(), '\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', OUTPUT_ONLY)
    assert.equal(run.output.toString(), HELLO + HELLO)
  })

  test('answers a long head dripped a byte per read', T, () => {
    const h = new Harness(factory())
    const head = `GET / HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(2000)}\r\n\r\n`
    for (const c of head) h.feed(c)
    assert.equal(h.output.toString(), HELLO)
  })
})

describe('HTTP/1.1 server protocol: connection management', () => {
  test('closes after answering an HTTP/1.0 request without keep-alive', T, () => {
    const run = checkSplits(factory(), 'GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n', OUTPUT_ONLY)
    assert.equal(run.output.toString(), response('200 OK', 'Hello, world!\n', TEXT, 'Connection: close\r\n'))
    assert.equal(run.state, 'done')
  })

  test('keeps an HTTP/1.0 connection that asks for keep-alive', T, () => {
    const run = runScripted(factory(), ['GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'.repeat(2)])
    assert.equal(run.output.toString(), response('200 OK', 'Hello, world!\n', TEXT, 'Connection: keep-alive\r\n').repeat(2))
    assert.equal(run.state, 'running')
  })

  test('closes a kept-alive connection quietly after keepAliveTimeout of idling', T, () => {
    const h = new Harness(factory())
    h.feed('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    h.takeOutput()
    h.advance(HTTP_DEFAULTS.keepAliveTimeout - 1)
    assert.equal(h.state, 'running')
    h.advance(1)
    assert.equal(h.state, 'done')
    assert.equal(h.output.length, 0)
  })

  test('closes a connection that never sends anything, without an answer', T, () => {
    const run = runScripted(factory(), [], { advanceClock: HTTP_DEFAULTS.keepAliveTimeout })
    assert.equal(run.state, 'done')
    assert.equal(run.output.length, 0)
  })

  test('cuts off a client that does not read its last answer', T, () => {
    const h = new Harness(factory())
    h.stall()
    h.feed('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.equal(h.state, 'running')
    h.advance(10_000)
    assert.equal(h.state, 'error')
    assert.equal((h.error as { code?: string }).code, 'RS_ERR_TIMEOUT')
  })
})

describe('HTTP/1.1 server protocol: error answers', () => {
  /** Checks that `input` gets `expected` and a close, for every split. */
  function answers(input: string, expected: string, limits: Partial<HttpLimits> = {}, advanceClock = 0): void {
    const run = checkSplits(factory(limits), input, { random: 50, advanceClock, ...OUTPUT_ONLY })
    assert.equal(run.output.toString(), expected, JSON.stringify(input.slice(0, 80)))
    assert.equal(run.state, 'done')
  }

  test('400 for malformed requests, after answering the good ones before them', T, () => {
    answers('GET / HTTP/1.1\r\nHost: x\r\n\r\nNONSENSE\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', HELLO + failure('400 Bad Request', 'malformed request line'))
    answers('GET / HTTP/1.1\r\n\r\n', failure('400 Bad Request', 'an HTTP/1.1 request needs exactly one Host header'))
    answers('GET / HTTP/1.1\r\nHost : x\r\n\r\n', failure('400 Bad Request', 'malformed header line 1'))
    answers('GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n', failure('400 Bad Request', 'malformed header line 2'))
    answers(
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      failure('400 Bad Request', 'both Transfer-Encoding and Content-Length'),
    )
    answers('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc', failure('400 Bad Request', 'invalid Content-Length'))
  })

  test('400 for malformed chunked bodies', T, () => {
    const chunked = 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
    answers(`${chunked}g\r\n`, failure('400 Bad Request', 'malformed chunk size'))
    answers(`${chunked}3\r\nabcd\r\n`, failure('400 Bad Request', 'chunk data not followed by CRLF'))
    answers(`${chunked}${'0'.repeat(MAX_CHUNK_LINE + 2)}`, failure('400 Bad Request', `chunk size line longer than ${MAX_CHUNK_LINE} bytes`))
  })

  test('400 for a trailer section that is not field lines or has a bare LF: nothing smuggled as a trailer', T, () => {
    const chunked = 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n'
    const malformed = failure('400 Bad Request', 'malformed trailer field')
    const bareLf = failure('400 Bad Request', 'bare LF in a chunked body: lines end with CRLF')
    answers(`${chunked}GET /admin HTTP/1.1\r\nHost: x\r\n\r\n`, malformed) // a request hidden as trailers
    answers(`${chunked}X : 1\r\n\r\n`, malformed)
    answers(`${chunked}X: 1\r\n folded\r\n\r\n`, malformed)
    answers(`${chunked}X: a\rb\r\n\r\n`, malformed)
    answers(`${chunked}X: a\0b\r\n\r\n`, malformed)
    answers(`${chunked}: empty\r\n\r\n`, malformed)
    answers(`${chunked}X: 1\nGET / HTTP/1.1\r\n\r\n`, bareLf)
    answers(`${chunked}X: 1\n`, bareLf) // answered at once, not after the 408
    answers(`${chunked}\n`, bareLf)
    answers('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n', bareLf)
    const run = checkSplits(factory(), `${chunked}X-A: 1\r\nX-Empty:\r\nX-B: b c\t\r\n\r\n`, { random: 100, ...OUTPUT_ONLY })
    assert.equal(run.output.toString(), response('200 OK', 'abc', 'Content-Type: application/octet-stream\r\n'))
  })

  test('413 for a body over maxBodySize, declared or chunked', T, () => {
    answers('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n', failure('413 Content Too Large', 'body larger than 100 bytes'), {
      maxBodySize: 100,
    })
    const chunks = `${'32\r\n'}${'a'.repeat(50)}\r\n`.repeat(3)
    answers(
      `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`,
      failure('413 Content Too Large', 'body larger than 100 bytes'),
      {
        maxBodySize: 100,
      },
    )
  })

  test('431 for a request head over maxHeadSize, and for too many trailers', T, () => {
    const big = `GET / HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(100)}\r\n\r\n`
    answers(big, failure('431 Request Header Fields Too Large', 'request head too large'), { maxHeadSize: 100 })
    answers(big.slice(0, 110), failure('431 Request Header Fields Too Large', 'request head too large'), { maxHeadSize: 100 })
    const trailers = `0\r\nX: ${'a'.repeat(17 * 1024)}\r\n\r\n`
    const run = runScripted(factory(), [`POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${trailers}`])
    assert.equal(run.output.toString(), failure('431 Request Header Fields Too Large', 'trailers larger than 16384 bytes'))
  })

  test('408 when the head or the body comes too slowly, for every split', T, () => {
    const slow = failure('408 Request Timeout', 'request took too long')
    answers('GET / HTTP/1.1\r\nHost: x\r\n', slow, {}, HTTP_DEFAULTS.headersTimeout)
    answers('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc', slow, {}, HTTP_DEFAULTS.requestTimeout)
    answers('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab', slow, {}, HTTP_DEFAULTS.requestTimeout)
    const patient = runScripted(factory(), ['POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc'], {
      advanceClock: HTTP_DEFAULTS.requestTimeout - 1,
    })
    assert.equal(patient.state, 'running')
  })

  test('408 for a client that drips its head a byte a second, counted from its first byte', T, () => {
    const h = new Harness(factory())
    h.advance(1000) // idling before the request is not part of it
    const head = 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n'
    let sent = 0
    while (h.output.length === 0 && sent < head.length) {
      h.feed(head.charAt(sent++))
      h.advance(1000)
    }
    assert.equal(sent, HTTP_DEFAULTS.headersTimeout / 1000)
    assert.equal(h.output.toString(), failure('408 Request Timeout', 'request took too long'))
    assert.equal(h.state, 'done')
  })

  test('417, 501 and 505 for what the server cannot do', T, () => {
    answers('POST /echo HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx', failure('417 Expectation Failed', 'cannot meet Expect: teapot'))
    answers(
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
      failure('501 Not Implemented', 'transfer coding gzip, chunked is not implemented'),
    )
    answers('GET / HTTP/2.0\r\n\r\n', failure('505 HTTP Version Not Supported', 'HTTP/2.0 is not supported'))
  })

  test('500 and a close when the handler throws or answers a header with CRLF in it, the error reported to onError', T, () => {
    reported.length = 0
    answers('GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', failure('500 Internal Server Error', 'internal server error'))
    assert.ok(reported.length > 0 && reported.every((e) => e instanceof Error && e.message === 'boom'))
    reported.length = 0
    answers('GET /inject HTTP/1.1\r\nHost: x\r\n\r\n', failure('500 Internal Server Error', 'internal server error'))
    assert.ok(reported.length > 0 && reported.every((e) => e instanceof Error && e.message !== 'boom'))
  })
})

describe('HTTP/1.1 server protocol: response heads', () => {
  test('reuses the head of a frozen header object only for the same status, body, Date and Connection', T, () => {
    const fields = Object.freeze({ 'X-A': 'a' })
    const plain = { 'X-B': 'b' }
    let date = 'Mon, 01 Jan 2024 00:00:00 GMT'
    let n = 0
    const router = demoRouter()
      .get('/same', () => ({ headers: fields, body: 'same\n' }))
      .get('/count', () => ({ headers: fields, body: `${++n}`.repeat(n) }))
      .get('/bytes', () => ({ headers: fields, body: Buffer.from('bytes') }))
      .get('/gone', () => ({ status: 204, headers: fields, body: 'dropped' }))
      .get('/plain', () => ({ headers: plain, body: 'p' }))
    const h = new Harness(HttpConnection.factory({ handler: router.handle, date: () => date }))
    const get = (path: string, version = '1.1') => {
      const before = h.output.length
      h.feed(`GET ${path} HTTP/${version}\r\nHost: x${version === '1.0' ? '\r\nConnection: keep-alive' : ''}\r\n\r\n`)
      return h.output.toString().slice(before)
    }
    const answer = (body: string, fields: string, d = date, connection = '') =>
      `HTTP/1.1 200 OK\r\nDate: ${d}\r\n${fields}Content-Length: ${body.length}\r\n${connection}\r\n${body}`
    assert.equal(get('/same'), answer('same\n', 'X-A: a\r\n'))
    assert.equal(get('/same'), answer('same\n', 'X-A: a\r\n'))
    assert.equal(get('/same', '1.0'), answer('same\n', 'X-A: a\r\n', date, 'Connection: keep-alive\r\n'))
    assert.equal(get('/count'), answer('1', 'X-A: a\r\n'))
    assert.equal(get('/count'), answer('22', 'X-A: a\r\n'))
    assert.equal(get('/count'), answer('333', 'X-A: a\r\n'))
    assert.equal(get('/bytes'), answer('bytes', 'X-A: a\r\n'))
    assert.equal(get('/gone'), `HTTP/1.1 204 No Content\r\nDate: ${date}\r\nX-A: a\r\n\r\n`)
    date = 'Mon, 01 Jan 2024 00:00:01 GMT'
    assert.equal(get('/same'), answer('same\n', 'X-A: a\r\n'))
    assert.equal(get('/plain'), answer('p', 'X-B: b\r\n'))
    plain['X-B'] = 'changed' // a header object that is not frozen is read anew every time
    assert.equal(get('/plain'), answer('p', 'X-B: changed\r\n'))
  })
})

describe('HTTP/1.1 server protocol: limits keep memory bounded', () => {
  test('a head that never ends is refused once it passes maxHeadSize', T, () => {
    const h = new Harness(factory({ maxHeadSize: 1024 }))
    h.feed('GET / HTTP/1.1\r\nHost: x\r\n')
    let most = 0
    for (let i = 0; i < 1000 && h.state === 'running'; i++) {
      h.feed(`X-Filler-${i}: ${'a'.repeat(80)}\r\n`)
      most = Math.max(most, h.buffered)
    }
    assert.equal(h.output.toString(), failure('431 Request Header Fields Too Large', 'request head too large'))
    assert.equal(h.state, 'done')
    assert.ok(most < 1024 + 4 + 100, `buffered up to ${most} bytes`)
  })

  test('a declared body over the limit is refused before a byte of it is read', T, () => {
    const h = new Harness(factory())
    h.feed('POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 99999999999\r\n\r\n')
    assert.equal(h.output.toString(), failure('413 Content Too Large', `body larger than ${HTTP_DEFAULTS.maxBodySize} bytes`)) // no 100 Continue
    assert.equal(h.state, 'done')
    assert.equal(h.buffered, 0)
  })

  test('a chunked body is refused at the first chunk that would pass the limit', T, () => {
    const h = new Harness(factory({ maxBodySize: 4096 }))
    h.feed('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
    let chunks = 0
    let most = 0
    while (h.state === 'running' && chunks < 100) {
      h.feed(`3e8\r\n${'a'.repeat(1000)}\r\n`)
      chunks++
      most = Math.max(most, h.buffered)
    }
    assert.equal(chunks, 5) // 4 × 1000 bytes fit in 4096, the 5th chunk's size line does not
    assert.equal(h.output.toString(), failure('413 Content Too Large', 'body larger than 4096 bytes'))
    assert.ok(most <= 1007, `buffered up to ${most} bytes`) // never more than one chunk
  })

  test('a chunk-size line that never ends is refused at its bound', T, () => {
    const h = new Harness(factory())
    h.feed('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
    for (let i = 0; i < 1000 && h.state === 'running'; i++) h.feed('0'.repeat(100))
    assert.equal(h.output.toString(), failure('400 Bad Request', `chunk size line longer than ${MAX_CHUNK_LINE} bytes`))
  })

  test('a client that pipelines without reading its answers stops being read (pushback)', T, () => {
    const h = new Harness(factory(), { outputHighWaterMark: 4096 })
    h.stall()
    h.feed('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100))
    assert.equal(h.isReading, false)
    assert.equal(h.unwritten, HELLO.length * 100)
    h.drain()
    assert.equal(h.isReading, true)
    assert.equal(h.output.toString(), HELLO.repeat(100))
  })
})
