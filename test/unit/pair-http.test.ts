/**
 * The HTTP/1.1 client example against the HTTP/1.1 server example, without sockets, on the test
 * kit's VirtualNetwork: keep-alive over one connection for every chunking, the idle timeouts of
 * both ends, `Connection: close`, and a reset in the middle of a response.
 *
 * `HttpClient` opens its connections with the real `connect()`, which the test kit cannot
 * replace; {@link VirtualHttpClient} does what it does (its `#open`) with the example's own
 * `RequestQueue` and `ClientConnection.factory`, on `VirtualNetwork.connect()` instead.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Pair, splits, VirtualNetwork } from 'rotor-stream/testing'
import { ClientConnection, type ClientRequest, type ClientResponse, type HttpClientOptions, RequestQueue } from '../../examples/http-client.js'
import { demoRouter, HttpConnection, type HttpLimits } from '../../examples/http-server.js'

const T = { timeout: 60_000 }
const ADDRESS = { host: 'web.test', port: 8080 }
const BIG = Buffer.alloc(300 * 1024, 'z')

/** HttpClient's connection handling (examples/http-client.ts), on a virtual network. */
class VirtualHttpClient {
  readonly queue = new RequestQueue()
  readonly #net: VirtualNetwork
  readonly #options: HttpClientOptions
  #connecting = false

  constructor(net: VirtualNetwork, options: HttpClientOptions = {}) {
    this.#net = net
    this.#options = options
    this.queue.reconnect = () => this.#open()
  }

  /** Every connection opened, in order. */
  get pairs(): readonly Pair[] {
    return this.#net.pairs
  }

  request(request: ClientRequest): Promise<ClientResponse> {
    const response = this.queue.add('web.test:8080', request)
    if (this.queue.notify === null) this.#open()
    this.#net.run() // the notifier's wakeup runs on the virtual loop
    return response
  }

  #open(): void {
    if (this.#connecting || this.queue.pending.length === 0) return
    this.#connecting = true
    const factory = ClientConnection.factory(this.queue, this.#options)
    // HttpClient clears its `#connecting` right after the factory ran on the new connection
    // (in connect()'s promise callback, before any byte can arrive): the same moment here.
    const connected: typeof factory = (t, seed, scope) => {
      this.#connecting = false
      return factory(t, seed, scope)
    }
    this.#net.connect(ADDRESS, connected, { connectTimeout: 1000 }).catch((err: Error) => {
      this.#connecting = false
      for (const pending of this.queue.pending.splice(0)) pending.reject(err)
    })
  }
}

/** A network with the example server (the demo router, plus GET /big) listening at ADDRESS. */
function network(limits: Partial<HttpLimits> = {}, serverReads?: number[]): VirtualNetwork {
  const net = new VirtualNetwork()
  const handler = demoRouter().get('/big', () => ({ body: BIG })).handle
  net.serve(ADDRESS, HttpConnection.factory({ handler, limits, date: null, onError: null }), { reads: serverReads })
  return net
}

function summary(r: ClientResponse): string {
  return `${r.status} ${r.reason} ${r.body.length < 100 ? JSON.stringify(r.body.toString()) : `${r.body.length} bytes`}`
}

/** Three requests in turn on a fresh network; returns the summaries and the bytes each way. */
async function conversation(serverReads?: number[], clientReads?: number[]) {
  const net = network({}, serverReads)
  const client = new VirtualHttpClient(net)
  const out: string[] = []
  const first = client.request({ path: '/' })
  const pair = client.pairs[0]
  assert.ok(pair !== undefined)
  pair.client.deliver({ reads: clientReads })
  out.push(summary(await first))
  out.push(summary(await client.request({ method: 'POST', path: '/echo', body: 'ping\r\npong', headers: { 'Content-Type': 'text/plain' } })))
  out.push(summary(await client.request({ path: '/nowhere' })))
  return { out, pair, client, net }
}

describe('HTTP client example against the HTTP server example, on a virtual network', () => {
  test('keeps one connection alive for requests in turn, however either side reads', T, async () => {
    const reference = await conversation()
    const expected = ['200 OK "Hello, world!\\n"', '200 OK "ping\\r\\npong"', '404 Not Found "not found\\n"']
    assert.deepEqual(reference.out, expected)
    assert.equal(reference.client.pairs.length, 1, 'one connection for all')
    const requests = reference.pair.client.sent
    const responses = reference.pair.server.sent
    let runs = 0
    for (const cut of splits(requests, { exhaustiveUpTo: 0, random: 100, randomSeed: 5 })) {
      const run = await conversation(cut.map((c) => c.length))
      assert.deepEqual(run.out, reference.out)
      assert.equal(run.client.pairs.length, 1)
      runs++
    }
    for (const cut of splits(responses, { exhaustiveUpTo: 0, random: 100, randomSeed: 6 })) {
      const run = await conversation(
        undefined,
        cut.map((c) => c.length),
      )
      assert.deepEqual(run.out, reference.out)
      runs++
    }
    assert.ok(runs > 400, `${runs} runs`)
  })

  test('the client closes an idle connection before the server does, cleanly on both ends', T, async () => {
    const { pair, net } = await conversation()
    // The client idles 4 s (its idleTimeout), the server would wait 5 s (keepAliveTimeout).
    net.advance(3999)
    assert.equal(pair.client.state, 'running')
    net.advance(1)
    assert.equal(pair.client.state, 'done')
    assert.equal(pair.server.state, 'done')
    assert.equal(pair.isClosed, true)
    assert.deepEqual(pair.server.log.slice(-1), ['exception RS_ERR_END_OF_STREAM'])
    assert.equal(net.runUntilIdle(), 0)
  })

  test('a server that closes the idle connection first is seen at once; the next request opens a new one', T, async () => {
    const net = network({ keepAliveTimeout: 1000 })
    const client = new VirtualHttpClient(net, { idleTimeout: 60_000 })
    assert.equal(summary(await client.request({ path: '/' })), '200 OK "Hello, world!\\n"')
    net.advance(1000)
    const first = client.pairs[0]
    assert.ok(first !== undefined)
    assert.equal(first.client.state, 'done', 'the client ended on the FIN while idle')
    assert.equal(first.isClosed, true)
    assert.equal(summary(await client.request({ path: '/' })), '200 OK "Hello, world!\\n"')
    assert.equal(client.pairs.length, 2)
  })

  test('Connection: close ends the connection after the response; what is queued goes to a new one', T, async () => {
    const net = network()
    const client = new VirtualHttpClient(net)
    const a = client.request({ path: '/', headers: { Connection: 'close' } })
    const b = client.request({ path: '/' })
    assert.equal(summary(await a), '200 OK "Hello, world!\\n"')
    assert.equal(summary(await b), '200 OK "Hello, world!\\n"')
    assert.equal(client.pairs.length, 2)
    assert.equal(client.pairs[0]?.isClosed, true)
  })

  test('a reset in the middle of a response rejects that request; the next one goes out on a new connection', T, async () => {
    const net = network()
    const client = new VirtualHttpClient(net)
    assert.equal(summary(await client.request({ path: '/' })), '200 OK "Hello, world!\\n"')
    const pair = client.pairs[0]
    assert.ok(pair !== undefined)
    pair.client.deliver({ latency: 5 })
    const big = client.request({ path: '/big' })
    const result = big.then(summary, (err: Error) => `${err.name} ${(err.cause as { code?: string } | undefined)?.code}`)
    net.advance(7) // one window of the 300 KiB response has arrived
    assert.ok(pair.client.received.length > 64 * 1024 && pair.client.received.length < BIG.length)
    pair.reset()
    assert.equal(await result, 'ReadError ECONNRESET')
    assert.equal(pair.server.wasReset, true)
    // The server was still writing the response: its pending write failed.
    assert.equal(pair.server.error?.name, 'WriteError')
    assert.equal((pair.server.error?.cause as { code?: string } | undefined)?.code, 'ECONNRESET')
    const again = client.request({ path: '/big' })
    net.advance(100)
    assert.equal(summary(await again), `200 OK ${BIG.length} bytes`)
    assert.equal(client.pairs.length, 2)
  })
})
