import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ProtocolError } from 'rotor-stream'
import { describeSplit, Harness, type RunOptions, runScripted, splits } from 'rotor-stream/testing'
import { ClientConnection, type ClientRequest, type ClientResponse, type HttpClientOptions, RequestQueue } from '../../examples/http-client.js'

const T = { timeout: 30_000 }

/** Queues `requests`, then runs the client protocol over `chunks` of server output. */
function runClient(requests: ClientRequest[], chunks: Iterable<Buffer | string>, options: HttpClientOptions & RunOptions = {}) {
  const queue = new RequestQueue()
  let reconnects = 0
  queue.reconnect = () => reconnects++
  const responses = requests.map((r) => queue.add('example.com', r))
  const settled = Promise.allSettled(responses) // also keeps a rejection from going unhandled
  const run = runScripted(ClientConnection.factory(queue, options), chunks, options)
  return { run, responses, settled, queue, reconnects: () => reconnects }
}

/** A settled response as a comparable summary. */
function summary(result: PromiseSettledResult<ClientResponse>): string {
  if (result.status === 'rejected') return `rejected ${(result.reason as { code?: string }).code}: ${(result.reason as Error).message}`
  const r = result.value
  return `${r.status} ${r.reason} ${JSON.stringify([...r.headers])} ${JSON.stringify(r.body.toString())}`
}

describe('HTTP/1.1 client protocol', () => {
  test('sends requests one at a time and reads every kind of response, for every split', T, async () => {
    const requests: ClientRequest[] = [
      { path: '/a' },
      { path: '/b', body: 'xyz', headers: { 'Content-Type': 'text/plain' } },
      { method: 'DELETE', path: '/c' },
      { method: 'HEAD', path: '/d' },
    ]
    const responses = [
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext\r\ndefg\r\n0\r\nX-T: 1\r\n\r\n',
      'HTTP/1.1 204 No Content\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n',
    ].join('')
    const expectedOutput = [
      'GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n',
      'POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nxyz',
      'DELETE /c HTTP/1.1\r\nHost: example.com\r\n\r\n',
      'HEAD /d HTTP/1.1\r\nHost: example.com\r\n\r\n',
    ].join('')
    const expected = [
      '200 OK [["content-length","5"]] "hello"',
      '201 Created [["transfer-encoding","chunked"]] "abcdefg"',
      '204 No Content [] ""',
      '200 OK [["content-length","42"]] ""',
    ]
    for (const chunks of splits(responses, { random: 200 })) {
      const { run, settled } = runClient(requests, chunks)
      const where = describeSplit(chunks)
      assert.equal(run.output.toString(), expectedOutput, where)
      assert.equal(run.state, 'running', where) // kept alive, idle
      assert.deepEqual((await settled).map(summary), expected, where)
    }
  })

  test('waits idle until woken for a new request, then sends it', T, async () => {
    const queue = new RequestQueue()
    const h = new Harness(ClientConnection.factory(queue))
    assert.equal(h.output.length, 0)
    const response = queue.add('example.com', { path: '/late' })
    h.wakeup()
    assert.equal(h.takeOutput().toString(), 'GET /late HTTP/1.1\r\nHost: example.com\r\n\r\n')
    h.feed('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    assert.equal((await response).body.toString(), 'ok')
    h.wakeup() // a spurious wakeup while idle changes nothing
    assert.equal(h.output.length, 0)
    assert.equal(h.state, 'running')
  })

  test('a wakeup while a response is in flight does not send the next request early', T, async () => {
    const queue = new RequestQueue()
    const first = queue.add('h', { path: '/1' })
    const h = new Harness(ClientConnection.factory(queue))
    const second = queue.add('h', { path: '/2' })
    h.wakeup()
    assert.equal(h.takeOutput().toString(), 'GET /1 HTTP/1.1\r\nHost: h\r\n\r\n')
    h.feed('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1')
    assert.equal(h.takeOutput().toString(), 'GET /2 HTTP/1.1\r\nHost: h\r\n\r\n')
    h.feed('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2')
    assert.deepEqual([(await first).body.toString(), (await second).body.toString()], ['1', '2'])
  })

  test('ends the connection after Connection: close and hands what is queued to a new one', T, async () => {
    const { run, responses, queue, reconnects } = runClient(
      [{ path: '/1' }, { path: '/2' }],
      ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n1'],
    )
    assert.equal(run.state, 'done')
    assert.equal(run.output.toString(), 'GET /1 HTTP/1.1\r\nHost: example.com\r\n\r\n')
    assert.equal(queue.pending.length, 1)
    assert.equal(queue.notify, null)
    assert.equal(reconnects(), 1)
    assert.equal((await responses[0])?.body.toString(), '1')
  })

  test('reads a body without length until the server closes', T, async () => {
    const { run, settled } = runClient([{ path: '/' }], ['HTTP/1.0 200 OK\r\n\r\nall ', 'of it'], { end: true })
    assert.equal(run.state, 'done')
    assert.deepEqual((await settled).map(summary), ['200 OK [] "all of it"'])
  })

  test('rejects the request in flight on malformed or truncated responses', T, async () => {
    const cases: [string, string][] = [
      ['HTTP/1.1 OK\r\n\r\n', 'rejected RS_ERR_PROTOCOL: malformed status line "HTTP/1.1 OK"'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 'rejected RS_ERR_PROTOCOL: the server closed the connection before the response was complete'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'rejected RS_ERR_PROTOCOL: bad chunked body: malformed chunk size'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n', 'rejected RS_ERR_PROTOCOL: response body of 99999999999 bytes is over the limit'],
      [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`, 'rejected RS_ERR_PROTOCOL: response head too large'],
    ]
    for (const [input, expected] of cases) {
      for (const chunks of splits(input, { random: 20, exhaustiveUpTo: 0 })) {
        const { run, settled } = runClient([{ path: '/' }], chunks, { end: true })
        assert.equal(run.state, 'error')
        assert.ok(run.error instanceof ProtocolError)
        assert.deepEqual((await settled).map(summary), [expected], `${JSON.stringify(input.slice(0, 40))} split ${describeSplit(chunks)}`)
      }
    }
  })

  test('rejects a request whose response does not come within responseTimeout', T, async () => {
    const { run, settled } = runClient([{ path: '/' }], ['HTTP/1.1 200 OK\r\n'], { responseTimeout: 500, advanceClock: 500 })
    assert.equal(run.state, 'error')
    assert.deepEqual((await settled).map(summary), ['rejected RS_ERR_TIMEOUT: no complete response within 500 ms'])
  })

  test('closes an idle connection after idleTimeout, and on unsolicited bytes', T, () => {
    const idle = runClient([], [], { idleTimeout: 100, advanceClock: 100 })
    assert.equal(idle.run.state, 'done')
    const chatty = runClient([], ['HTTP/1.1 200 OK\r\n'])
    assert.equal(chatty.run.state, 'error')
    assert.equal((chatty.run.error as { code?: string }).code, 'RS_ERR_PROTOCOL')
  })

  test('refuses malformed requests before queueing them', T, () => {
    const queue = new RequestQueue()
    assert.throws(() => queue.add('h', { method: 'GET /x' }), TypeError)
    assert.throws(() => queue.add('h', { path: '/a b' }), TypeError)
    assert.throws(() => queue.add('h', { headers: { 'X-A': 'a\r\nInjected: 1' } }), TypeError)
    assert.equal(queue.pending.length, 0)
  })
})
