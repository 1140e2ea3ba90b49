import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Stream } from 'rotor-stream'
import { checkSplits } from 'rotor-stream/testing'
import { fetchUrl } from '../../examples/fetch.js'
import { HelloHttp } from '../../examples/serve.js'

const T = { timeout: 10_000 }

describe('examples/serve.ts and examples/fetch.ts', () => {
  let server: net.Server
  let port = 0
  const streams: Stream[] = []

  before(async () => {
    server = net.createServer({ allowHalfOpen: true }, (socket) => streams.push(Stream.attach(socket, HelloHttp.create)))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as net.AddressInfo).port
  })
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await Promise.all(streams.map((s) => s.closed))
  })

  test('fetch gets the hello-world page from the server', T, async () => {
    const response = await fetchUrl(`http://127.0.0.1:${port}/hello`)
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('content-length'), '14')
    assert.equal(response.body.toString(), 'Hello, world!\n')
  })

  test('fetch reports a refused connection as a ConnectError', T, async () => {
    const closed = net.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const unused = (closed.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    await assert.rejects(fetchUrl(`http://127.0.0.1:${unused}/`), { code: 'RS_ERR_CONNECT' })
  })

  test('the server answers a bad request line with 400 for every split of the request', T, () => {
    const run = checkSplits(HelloHttp.create, 'NONSENSE\r\n\r\n', { random: 50 })
    assert.match(run.output.toString(), /^HTTP\/1\.0 400 Bad Request\r\n/)
    assert.equal(run.state, 'done')
  })

  test('the server answers a well-formed request identically for every split', T, () => {
    const run = checkSplits(HelloHttp.create, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n', { random: 100 })
    assert.match(run.output.toString(), /^HTTP\/1\.0 200 OK\r\n[\s\S]*\r\n\r\nHello, world!\n$/)
  })

  test('the server answers 431 when the request head is too large, 408 when it is too slow', T, () => {
    const big = checkSplits(HelloHttp.create, `GET / HTTP/1.0\r\nX: ${'a'.repeat(17 * 1024)}\r\n\r\n`, { random: 5, exhaustiveUpTo: 0 })
    assert.match(big.output.toString(), /^HTTP\/1\.0 431 /)
    const slow = checkSplits(HelloHttp.create, 'GET / HTTP/1.0\r\n', { advanceClock: 10_000, random: 5 })
    assert.match(slow.output.toString(), /^HTTP\/1\.0 408 /)
  })
})
