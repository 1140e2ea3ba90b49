import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Buf } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'
import { ResponseWriter } from '../../examples/http/response.js'
import { type HttpRequest, Router } from '../../examples/http/router.js'
import { HttpConnection } from '../../examples/http-server.js'

const TEXT = Object.freeze({ 'Content-Type': 'text/plain' })
const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
const HELLO = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nhi\n'

describe('HTTP server example: batched answers', () => {
  test('answers 16 pipelined requests of one read with one write, in order', () => {
    const hello = Object.freeze({ headers: TEXT, body: 'hi\n' })
    const h = new Harness(HttpConnection.factory({ handler: new Router().get('/', () => hello).handle, date: null }))
    h.feed(GET.repeat(16))
    assert.equal(h.takeOutput().toString('latin1'), HELLO.repeat(16))
    assert.equal(h.writes, 1)
  })

  test('keeps the order of batched and direct answers (a body of another length, a 404, a 100 Continue)', () => {
    const hello = Object.freeze({ headers: TEXT, body: 'hi\n' })
    const router = new Router()
      .get('/', () => hello)
      .get('/long', () => ({ headers: TEXT, body: 'longer\n' }))
      .post('/echo', (request) => ({ headers: TEXT, body: request.body }))
    const h = new Harness(HttpConnection.factory({ handler: router.handle, date: null }))
    const post = 'POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab'
    h.feed(`${GET}GET /long HTTP/1.1\r\nHost: x\r\n\r\n${GET}GET /nope HTTP/1.1\r\nHost: x\r\n\r\n${GET}${post}${GET}`)
    const long = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nlonger\n'
    const notFound = 'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\n\r\nnot found\n'
    const echo = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nab'
    assert.equal(h.takeOutput().toString('latin1'), HELLO + long + HELLO + notFound + HELLO + echo + HELLO)
    assert.equal(h.writes, 1)
  })

  test('a writer batch moves more than its buffer holds into the Buf, in order', () => {
    const writer = new ResponseWriter(null)
    const out = new Buf()
    const fields = Object.freeze({ 'X-Pad': 'p'.repeat(900) })
    writer.beginBatch(out)
    for (let i = 0; i < 40; i++) writer.write(out, 200, fields, 'x', 'none', true)
    writer.endBatch()
    const one = `HTTP/1.1 200 OK\r\nX-Pad: ${'p'.repeat(900)}\r\nContent-Length: 1\r\n\r\nx`
    assert.equal(out.toString('latin1'), one.repeat(40))
    assert.equal(writer.batched, 0)
  })
})

describe('HTTP server example: requests read lazily', () => {
  test('gives each request its own header map, path and version, built on demand', () => {
    const seen: HttpRequest[] = []
    const router = new Router().get('/p', (request) => {
      seen.push(request)
      return { status: 204 }
    })
    const h = new Harness(HttpConnection.factory({ handler: router.handle, date: null }))
    h.feed('GET /p?x=1 HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nx-one: 2\r\n\r\nGET http://b:8/p HTTP/1.0\r\nHost: c\r\n\r\n')
    assert.equal(seen.length, 2)
    const [first, second] = seen as [HttpRequest, HttpRequest]
    // Asked after the read that carried them is gone: the requests kept what they need.
    assert.deepEqual(
      [...first.headers],
      [
        ['host', 'a'],
        ['x-one', '1, 2'],
      ],
    )
    assert.deepEqual([first.path, first.target, first.version], ['/p', '/p?x=1', 'HTTP/1.1'])
    assert.deepEqual([...second.headers], [['host', 'b:8']])
    assert.deepEqual([second.path, second.version], ['/p', 'HTTP/1.0'])
    first.headers.set('host', 'changed')
    assert.equal(second.headers.get('host'), 'b:8')
    assert.equal(first.headers.get('host'), 'changed') // the same map on every access
  })
})
