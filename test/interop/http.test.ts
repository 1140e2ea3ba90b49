/**
 * The HTTP/1.1 examples against software nobody here wrote: real `curl` and `wrk` against the
 * server, node:http's server against the client; and the two examples against each other.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { HttpClient } from '../../examples/http-client.js'
import { demoRouter, type RunningHttpServer, startHttpServer } from '../../examples/http-server.js'
import { needs, run } from '../helpers/peers.js'
import { activeResources, ResourceTracker } from '../helpers/resources.js'

const T = { timeout: 30_000 }
const tracker = new ResourceTracker()
let baseline: Record<string, number> = {}
let dir = ''

before(() => {
  baseline = activeResources()
  tracker.enable()
  dir = mkdtempSync(join(tmpdir(), 'rotor-stream-http-'))
})
after(() => {
  tracker.disable()
  rmSync(dir, { recursive: true, force: true })
})

/** The demo routes, plus one that reports how the request body was framed. */
function testRouter() {
  return demoRouter().post('/inspect', (request) => ({
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      te: request.headers.get('transfer-encoding') ?? null,
      cl: request.headers.get('content-length') ?? null,
      length: request.body.length,
    }),
  }))
}

/** Sends `bytes` on a fresh connection and resolves with everything the server sends until it closes. */
async function exchange(port: number, bytes: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port })
  await once(socket, 'connect')
  socket.write(bytes)
  const received: Buffer[] = []
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  await once(socket, 'close')
  return Buffer.concat(received).toString()
}

/** A body of `n` bytes that is not one repeated byte. */
function payload(n: number): string {
  let s = ''
  for (let i = 0; s.length < n; i++) s += `${i},`
  return s.slice(0, n)
}

describe('examples/http-server.ts with real curl and wrk', () => {
  let server: RunningHttpServer
  let url = ''
  before(async () => {
    server = await startHttpServer({ port: 0, handler: testRouter().handle })
    url = `http://127.0.0.1:${server.port}`
  })
  after(() => server.close())

  const curl = (...args: string[]) => run('curl', ['-sS', '--max-time', '10', ...args], { timeout: 15_000 })
  const curlWithInput = (input: string, ...args: string[]) => run('curl', ['-sS', '--max-time', '10', ...args], { timeout: 15_000, input })

  test('curl GETs the hello page', { ...needs('curl'), ...T }, async () => {
    assert.equal(await curl(`${url}/`), 'Hello, world!\n')
    assert.equal(await curl('-o', '/dev/null', '-w', '%{http_code}', `${url}/missing`), '404')
    assert.match(await curl('-I', `${url}/`), /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 14\r\n/)
  })

  test('curl POSTs a body with Content-Length and gets it echoed', { ...needs('curl'), ...T }, async () => {
    assert.equal(await curl('--data-binary', 'hi there', `${url}/echo`), 'hi there')
    const big = payload(300_000) // over 1 KiB: curl sends Expect: 100-continue and waits for it
    assert.equal(await curlWithInput(big, '--data-binary', '@-', `${url}/echo`), big)
    assert.deepEqual(JSON.parse(await curlWithInput(big, '--data-binary', '@-', `${url}/inspect`)), { te: null, cl: '300000', length: 300_000 })
  })

  test('curl uploads a chunked body', { ...needs('curl'), ...T }, async () => {
    const body = payload(200_000)
    const args = ['-H', 'Transfer-Encoding: chunked', '--data-binary', '@-']
    assert.equal(await curlWithInput(body, ...args, `${url}/echo`), body)
    assert.deepEqual(JSON.parse(await curlWithInput(body, ...args, `${url}/inspect`)), { te: 'chunked', cl: null, length: 200_000 })
  })

  test('curl reuses one kept-alive connection for several requests', { ...needs('curl'), ...T }, async () => {
    // -w runs after each transfer: the first one connected, the next ones reused the connection.
    const each = ['-w', '[%{num_connects}]\n']
    const out = await curl(...each, `${url}/`, `${url}/`, `${url}/`, '--next', '-sS', ...each, '--data-binary', 'x', `${url}/echo`)
    assert.equal(out, 'Hello, world!\n[1]\nHello, world!\n[0]\nHello, world!\n[0]\nx[0]\n')
  })

  test('curl gets a new connection per request after Connection: close, and with HTTP/1.0', { ...needs('curl'), ...T }, async () => {
    assert.equal(await curl('-H', 'Connection: close', '-w', '[%{num_connects}]', `${url}/`, `${url}/`), 'Hello, world!\n[1]Hello, world!\n[1]')
    assert.equal(await curl('-0', '-w', '[%{num_connects}]', `${url}/`, `${url}/`), 'Hello, world!\n[1]Hello, world!\n[1]')
  })

  test('curl sees 400, 413 and 431 for bad, too large and over-long requests', { ...needs('curl'), ...T }, async () => {
    const status = (...args: string[]) => curl('-o', '/dev/null', '-w', '%{http_code}', ...args)
    assert.equal(await status('-H', 'Bad Header: x', `${url}/`), '400')
    assert.equal(await status('-H', `X-Big: ${'a'.repeat(20_000)}`, `${url}/`), '431')
    assert.equal(
      await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--data-binary', '@-', `${url}/echo`], { input: 'x'.repeat(2 << 20) }),
      '413',
    )
  })

  test('answers pipelined requests sent in one write, in order, on one connection', T, async () => {
    const requests = Array.from({ length: 20 }, (_, i) => `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${String(i).length}\r\n\r\n${i}`)
    const out = await exchange(server.port, `${requests.join('')}GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    const bodies = out
      .split('HTTP/1.1 200 OK\r\n')
      .slice(1)
      .map((r) => r.slice(r.indexOf('\r\n\r\n') + 4))
    assert.deepEqual(bodies, [...Array.from({ length: 20 }, (_, i) => String(i)), 'Hello, world!\n'])
  })

  test('wrk runs 2 s on 10 connections with no socket errors and only 2xx answers', { ...needs('wrk'), ...T }, async (t) => {
    const out = await run('wrk', ['-t1', '-c10', '-d2s', `${url}/`], { timeout: 20_000 })
    const summary = checkWrk(out)
    t.diagnostic(`wrk keep-alive: ${summary}`)
  })

  test('wrk pipelining 10 requests per write gets every answer', { ...needs('wrk'), ...T }, async (t) => {
    const script = join(dir, 'pipeline.lua')
    writeFileSync(
      script,
      'init = function(args)\n  local r = {}\n  for i = 1, 10 do r[i] = wrk.format(nil, "/") end\n  req = table.concat(r)\nend\nrequest = function() return req end\n',
    )
    const out = await run('wrk', ['-t1', '-c10', '-d2s', '-s', script, `${url}/`], { timeout: 20_000 })
    t.diagnostic(`wrk pipelined x10: ${checkWrk(out)}`)
  })
})

/** Asserts a wrk report shows requests, no socket errors and no non-2xx answers; returns its throughput line. */
function checkWrk(out: string): string {
  assert.doesNotMatch(out, /Socket errors/, out)
  assert.doesNotMatch(out, /Non-2xx/, out)
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
  assert.ok(requests > 0, out)
  return `${requests} requests, ${/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]} req/s`
}

describe('examples/http-server.ts deadlines on real sockets', () => {
  test('answers 408 to a client that does not finish its head in time, and closes', T, async () => {
    const server = await startHttpServer({ port: 0, limits: { headersTimeout: 200 } })
    try {
      const started = performance.now()
      const out = await exchange(server.port, 'GET / HTTP/1.1\r\nHost: x\r\n')
      assert.match(out, /^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*Connection: close\r\n/)
      assert.ok(performance.now() - started >= 190)
    } finally {
      await server.close()
    }
  })
})

describe('examples/http-client.ts', () => {
  test('against the example server: sequential and queued requests share one connection', T, async () => {
    const server = await startHttpServer({ port: 0 })
    const client = new HttpClient({ host: '127.0.0.1', port: server.port })
    try {
      for (let i = 0; i < 20; i++) assert.equal((await client.get('/')).body.toString(), 'Hello, world!\n')
      // Issued in the same tick: queued, then sent one after another, answered in order.
      const bodies = await Promise.all(Array.from({ length: 20 }, (_, i) => client.post('/echo', `body ${i}`)))
      assert.deepEqual(
        bodies.map((r) => r.body.toString()),
        Array.from({ length: 20 }, (_, i) => `body ${i}`),
      )
      const big = payload(500_000)
      assert.equal((await client.post('/echo', big)).body.toString(), big)
      assert.equal((await client.get('/missing')).status, 404)
      assert.equal(client.connections, 1)
    } finally {
      await client.close()
      await server.close()
    }
  })

  test('against node:http: chunked and Content-Length responses, Connection: close, idle close by the server', T, async () => {
    const serverSockets: net.Socket[] = []
    const server = http.createServer((req, res) => {
      const body: Buffer[] = []
      req.on('data', (chunk: Buffer) => body.push(chunk))
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.write('part one, ') // written before end: Node sends Transfer-Encoding: chunked
          res.write('part two, ')
          res.end('done')
        } else if (req.url === '/close') {
          res.setHeader('Connection', 'close')
          res.end('bye')
        } else if (req.url === '/empty') {
          res.statusCode = 204
          res.end()
        } else {
          res.setHeader('Content-Length', Buffer.concat(body).length)
          res.end(Buffer.concat(body))
        }
      })
    })
    server.keepAliveTimeout = 300
    server.on('connection', (socket: net.Socket) => serverSockets.push(socket))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as net.AddressInfo).port
    const client = new HttpClient({ host: '127.0.0.1', port })
    try {
      const chunked = await client.get('/chunked')
      assert.equal(chunked.headers.get('transfer-encoding'), 'chunked')
      assert.equal(chunked.body.toString(), 'part one, part two, done')
      const echo = await client.post('/echo', payload(100_000))
      assert.equal(echo.headers.get('content-length'), '100000')
      assert.equal(echo.body.toString(), payload(100_000))
      assert.equal((await client.get('/empty')).status, 204)
      assert.equal(serverSockets.length, 1)
      assert.equal(client.connections, 1)
      // The server closes after this answer: the next request needs, and gets, a new connection.
      assert.equal((await client.get('/close')).body.toString(), 'bye')
      assert.equal((await client.get('/chunked')).body.toString(), 'part one, part two, done')
      assert.equal(client.connections, 2)
      // Node closes the idle connection after keepAliveTimeout; the client notices and reconnects.
      const idle = [...client.streams].at(-1) // the newest: the first one may still be closing
      assert.ok(idle !== undefined)
      assert.equal(await idle.closed, undefined) // a clean end, seen while idle
      assert.equal((await client.post('/echo', 'again')).body.toString(), 'again')
      assert.equal(client.connections, 3)
    } finally {
      await client.close()
      server.close()
      await once(server, 'close')
    }
  })

  test('rejects requests with a ConnectError when nothing listens', T, async () => {
    const probe = net.createServer()
    probe.listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const port = (probe.address() as net.AddressInfo).port
    probe.close()
    await once(probe, 'close')
    const client = new HttpClient({ host: '127.0.0.1', port })
    await assert.rejects(client.get('/'), { code: 'RS_ERR_CONNECT' })
    await client.close()
    await assert.rejects(client.get('/'), /closed/)
  })
})

describe('examples/http-server.ts: request-target forms, line endings and trailers (issue 15)', () => {
  let server: RunningHttpServer
  let url = ''
  before(async () => {
    // headersTimeout and requestTimeout far beyond the test's: only an answer given at once passes.
    const router = demoRouter().get('/host', (request) => ({ body: `${request.headers.get('host')} ${request.path}\n` }))
    server = await startHttpServer({ port: 0, handler: router.handle, limits: { headersTimeout: 600_000, requestTimeout: 600_000 } })
    url = `http://127.0.0.1:${server.port}`
  })
  after(() => server.close())

  const curl = (...args: string[]) => run('curl', ['-sS', '--max-time', '10', ...args], { timeout: 15_000 })
  /** Status line and one header of a `curl -i` output. */
  const statusAndField = (out: string, name: string) => [out.split('\r\n')[0], new RegExp(`^${name}: (.*)$`, 'mi').exec(out)?.[1]?.trim()]

  test('curl sends an absolute-form target: routed by its path, the Host taken from it', { ...needs('curl'), ...T }, async () => {
    assert.equal(await curl('--request-target', 'http://example.com/host?x=1', `${url}/`), 'example.com /host\n')
    assert.equal(await curl('--request-target', 'http://example.com', `${url}/`), 'Hello, world!\n')
  })

  test('curl OPTIONS * gets 204 with Allow; curl GET * gets 400', { ...needs('curl'), ...T }, async () => {
    assert.deepEqual(statusAndField(await curl('-i', '-X', 'OPTIONS', '--request-target', '*', `${url}/`), 'Allow'), [
      'HTTP/1.1 204 No Content',
      'GET, POST, HEAD, OPTIONS',
    ])
    assert.equal(await curl('-o', '/dev/null', '-w', '%{http_code}', '--request-target', '*', `${url}/`), '400')
  })

  test('a head with bare LF line endings gets 400 at once, not a 408 later (raw socket)', T, async () => {
    for (const bytes of ['GET / HTTP/1.1\nHost: x\n\n', 'GET / HTTP/1.1\r\nHost: x\n']) {
      const out = await exchange(server.port, bytes)
      assert.match(out, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Connection: close\r\n[\s\S]*bare LF in the request head/, JSON.stringify(bytes))
    }
  })

  test('a chunked body whose trailers are not fields, or have a bare LF, gets 400 at once (raw socket)', T, async () => {
    const chunked = 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n'
    const smuggled = await exchange(server.port, `${chunked}GET /admin HTTP/1.1\r\nHost: x\r\n\r\n`)
    assert.match(smuggled, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*malformed trailer field\n$/)
    assert.equal(smuggled.split('HTTP/1.1').length, 2) // one answer: the hidden request is never served
    assert.match(await exchange(server.port, `${chunked}X: 1\n`), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*bare LF in a chunked body/)
    assert.match(await exchange(server.port, `${chunked}X: 1\r\n\r\n`), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nabc$/) // valid trailers pass
  })
})

test('leaves no socket, server or timer behind', T, async () => {
  assert.deepEqual(await tracker.leftovers(), [])
  const now = activeResources()
  for (const name of ['TCPSocketWrap', 'TCPServerWrap']) assert.equal(now[name], baseline[name], `${name} left open`)
})
