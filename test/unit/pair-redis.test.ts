/**
 * The Redis client example against the RESP server example, without sockets: the test kit's
 * VirtualNetwork connects the client's protocol (`client.factory`, what its Persistent runs on
 * every connection) to the server's protocol, on a virtual clock, with every chunking of the
 * traffic, a stalled server, a stalled client, a reset in the middle of a reply, a server that
 * goes away and comes back, and a command timeout, each with reconnection through a simulated
 * Persistent.
 *
 * The RedisClient's own Persistent points nowhere and gives up (it cannot be swapped for the
 * simulated one): `command()` queues, and the test wakes the simulated client, as the client's
 * own `wakeup()` would.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TimeoutError } from 'rotor-stream'
import { describeSplit, type SimPersistent, type SimServer, splits, VirtualNetwork } from 'rotor-stream/testing'
import type { Keyspace } from '../../examples/redis/keyspace.js'
import { RESP_DEFAULTS, RespConnection, respMaxBufferSize } from '../../examples/redis/resp-server.js'
import { ServerState } from '../../examples/redis/server-state.js'
import { RedisClient, type RedisClientOptions, type RedisReply } from '../../examples/redis-client.js'

const T = { timeout: 60_000 }
const ADDRESS = { host: 'redis.test', port: 6379 }

/** A RedisClient whose own connection never comes up: only its queue and protocol are used. */
function detached(options: RedisClientOptions = {}): RedisClient {
  return new RedisClient({ path: '/nonexistent/rotor-stream-pair.sock' }, { reconnect: () => null, ...options })
}

/** How a command settled, comparable with deepEqual. */
type Settled = { value: RedisReply } | { error: string }

function settle(p: Promise<RedisReply>): Promise<Settled> {
  return p.then(
    (value) => ({ value }),
    (error: Error) => ({ error: `${error.name}: ${error.message}` }),
  )
}

interface Setup {
  readonly net: VirtualNetwork
  readonly keyspace: Keyspace
  readonly link: SimPersistent
}

/** A RESP server on a virtual network, and a simulated Persistent running `client`'s protocol against it. */
function connect(client: RedisClient, options: { serverReads?: number[]; clientReads?: number[]; latency?: number; serverHighWaterMark?: number } = {}): Setup {
  const net = new VirtualNetwork()
  const limits = RESP_DEFAULTS
  const server = new ServerState({ now: () => net.now })
  const keyspace = server.databases[0] as Keyspace
  net.serve(ADDRESS, RespConnection.factory({ server, limits }), {
    maxBufferSize: respMaxBufferSize(limits),
    outputHighWaterMark: options.serverHighWaterMark,
    reads: options.serverReads,
    latency: options.latency,
  })
  const link = net.persistent(ADDRESS, client.factory, {
    reconnect: { initialDelay: 100, jitter: 0 },
    reads: options.clientReads,
    latency: options.latency,
  })
  net.run()
  return { net, keyspace, link }
}

/** The commands of the chunking test, with binary and multi-line values. */
const SCRIPT: (string | Buffer | number)[][] = [
  ['PING'],
  ['SET', 'greeting', 'héllo wörld'],
  ['GET', 'greeting'],
  ['INCR', 'n'],
  ['INCRBY', 'n', 41],
  ['SET', 'bin', Buffer.from([0, 13, 10, 255, 36, 42, 13, 10])],
  ['GET', 'bin'],
  ['GET', 'missing'],
  ['RPUSH', 'list', 'a', 'b\r\nc', ''],
  ['LRANGE', 'list', 0, -1],
  ['NOSUCHCOMMAND', 'x'],
  ['MGET', 'greeting', 'missing', 'n'],
  ['DEL', 'greeting', 'bin'],
]

const EXPECTED: Settled[] = [
  { value: 'PONG' },
  { value: 'OK' },
  { value: 'héllo wörld' },
  { value: 1 },
  { value: 42 },
  { value: 'OK' },
  { value: Buffer.from([0, 13, 10, 255, 36, 42, 13, 10]).toString() },
  { value: null },
  { value: 3 },
  { value: ['a', 'b\r\nc', ''] },
  { error: "ReplyError: ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' " },
  { value: ['héllo wörld', null, '42'] },
  { value: 2 },
]

/** Runs SCRIPT pipelined on a fresh server; returns the replies and the bytes each way. */
async function runScript(client: RedisClient, options: Parameters<typeof connect>[1]): Promise<{ replies: Settled[]; requests: Buffer; responses: Buffer }> {
  const { net, link } = connect(client, options)
  const replies = Promise.all(SCRIPT.map((args) => settle(client.command(...args))))
  link.wakeup()
  const pair = link.pair
  assert.ok(pair !== null)
  net.advance(1000) // with latency, replies take virtual time
  const result = { replies: await replies, requests: pair.client.sent, responses: pair.server.sent }
  await link.stop()
  net.runUntilIdle() // the FIN takes the latency to reach the server
  assert.equal(pair.isClosed, true)
  assert.equal(net.runUntilIdle(), 0, 'no timer left')
  return result
}

describe('Redis client example against the RESP server example, on a virtual network', () => {
  test('settles the same replies however the server reads the requests and the client reads the replies', T, async () => {
    const client = detached()
    const reference = await runScript(client, {})
    assert.deepEqual(reference.replies, EXPECTED)
    let runs = 0
    for (const cut of splits(reference.requests, { exhaustiveUpTo: 0, random: 150, randomSeed: 3 })) {
      const run = await runScript(client, { serverReads: cut.map((c) => c.length) })
      assert.deepEqual(run.replies, EXPECTED, `server reads ${describeSplit(cut)}`)
      runs++
    }
    for (const cut of splits(reference.responses, { exhaustiveUpTo: 0, random: 150, randomSeed: 4 })) {
      const run = await runScript(client, { clientReads: cut.map((c) => c.length) })
      assert.deepEqual(run.replies, EXPECTED, `client reads ${describeSplit(cut)}`)
      assert.ok(run.responses.equals(reference.responses))
      runs++
    }
    // Byte by byte both ways at once, with latency.
    const slow = await runScript(client, {
      serverReads: Array(reference.requests.length).fill(1),
      clientReads: Array(reference.responses.length).fill(1),
      latency: 3,
    })
    assert.deepEqual(slow.replies, EXPECTED)
    assert.ok(runs > 600, `${runs} runs`)
    await client.close()
  })

  test('a stalled server backs the client up, and every command completes once it reads again', T, async () => {
    const client = detached()
    const { net, link } = connect(client)
    const value = 'v'.repeat(1000)
    const replies = Promise.all(Array.from({ length: 3000 }, (_, i) => client.command('SET', `key:${i}`, value)))
    const pair = link.pair
    assert.ok(pair !== null)
    pair.server.stall()
    link.wakeup()
    // The client wrote one batch (its MAX_BATCH_BYTES); the network took one window of it.
    assert.equal(pair.server.received.length, 0)
    assert.equal(pair.server.inFlight, 64 * 1024)
    assert.ok(pair.client.sent.length > 256 * 1024 && pair.client.sent.length < 300 * 1024)
    assert.equal(pair.client.unwritten, pair.client.sent.length - 64 * 1024)
    net.advance(5000)
    assert.equal(pair.server.received.length, 0)
    pair.server.resume()
    assert.ok((await replies).every((r) => r === 'OK'))
    const check = client.command('MGET', 'key:0', 'key:2999')
    link.wakeup()
    assert.deepEqual(await check, [value, value])
    await link.stop()
    await client.close()
  })

  test('a stalled client makes the server stop reading once its output passes the high-water mark (pushback)', T, async () => {
    const client = detached()
    const value = 'x'.repeat(16 * 1024)
    const { link } = connect(client, { serverHighWaterMark: 128 * 1024 })
    const set = client.command('SET', 'big', value)
    link.wakeup()
    assert.equal(await set, 'OK')
    const pair = link.pair
    assert.ok(pair !== null)
    pair.client.stall()
    const gets = Promise.all(Array.from({ length: 500 }, () => client.command('GET', 'big')))
    link.wakeup()
    assert.equal(pair.server.isReading, false, 'the server is pushed back')
    // Held to the high-water mark plus what one bytesRead call may answer (64 KiB) and one reply.
    assert.ok(pair.server.unwritten <= 128 * 1024 + 64 * 1024 + value.length + 64, `server unwritten ${pair.server.unwritten}`)
    assert.ok(pair.server.sent.length < 500 * value.length, 'not every reply was produced')
    pair.client.resume()
    const got = await gets
    assert.equal(got.length, 500)
    assert.ok(got.every((r) => r === value))
    await link.stop()
    await client.close()
  })

  test('a reset in the middle of a reply rejects the commands in flight, and the client reconnects for the next ones', T, async () => {
    const client = detached()
    const { net, link } = connect(client, { latency: 10 })
    const big = 'b'.repeat(200 * 1024)
    const set = client.command('SET', 'big', big)
    link.wakeup()
    net.advance(100) // 200 KiB through a 64 KiB window, 10 ms each way: about 50 ms
    assert.equal(await set, 'OK')
    const events: string[] = []
    link.on('disconnect', (reason) => events.push(`${net.now} disconnect ${reason?.name}`))
    link.on('waiting', (delay, attempt) => events.push(`${net.now} waiting ${delay} #${attempt}`))
    link.on('connect', () => events.push(`${net.now} connect`))
    const get = settle(client.command('GET', 'big'))
    const ping = settle(client.command('PING'))
    link.wakeup()
    net.advance(25) // the request arrives after 10 ms, the reply's first window 10 ms later, the next one 10 ms after
    const pair = link.pair
    assert.ok(pair !== null)
    assert.ok(pair.client.received.length > 0 && pair.client.received.length < big.length, `client received ${pair.client.received.length}`)
    const resetAt = net.now
    pair.reset()
    const lost = await get
    assert.ok('error' in lost && lost.error.startsWith('ClosedError: connection lost before the reply: read failed'), JSON.stringify(lost))
    assert.ok('error' in (await ping))
    // Commands issued while disconnected wait in the queue and go out on the next connection.
    const after = client.command('GET', 'big')
    link.wakeup()
    net.advance(200)
    assert.equal(await after, big)
    assert.deepEqual(events, [`${resetAt} disconnect ReadError`, `${resetAt} waiting 100 #1`, `${resetAt + 100} connect`])
    assert.equal(pair.server.wasReset, true)
    await link.stop()
    await client.close()
  })

  test('a server that goes away is retried with backoff, and commands queued meanwhile run when it is back', T, async () => {
    const client = detached()
    const net = new VirtualNetwork()
    const serve = (): SimServer => {
      const limits = RESP_DEFAULTS
      return net.serve(ADDRESS, RespConnection.factory({ server: new ServerState({ now: () => net.now }), limits }), {
        maxBufferSize: respMaxBufferSize(limits),
      })
    }
    const server = serve()
    const link = net.persistent(ADDRESS, client.factory, { reconnect: { initialDelay: 100, maxDelay: 1000, jitter: 0 } })
    const waits: number[] = []
    link.on('waiting', (delay) => waits.push(delay))
    net.run()
    assert.equal(link.state, 'connected')
    // The server shuts down: its connection is closed, and every attempt is refused for 5 s.
    await server.close({ timeout: 0 })
    const queued = client.command('SET', 'k', 'v')
    link.wakeup()
    net.advance(5000)
    assert.equal(link.state, 'waiting')
    // Disconnected at 0; refused at 100, 300, 700, 1500, 2500, 3500 and 4500.
    assert.deepEqual(waits, [100, 200, 400, 800, 1000, 1000, 1000, 1000])
    serve()
    net.advance(1000)
    assert.equal(link.state, 'connected')
    assert.equal(await queued, 'OK')
    await link.stop()
    await client.close()
  })

  test(
    'with onCommandTimeout reconnect: a reply later than commandTimeout fails the connection with a TimeoutError, and the client reconnects',
    T,
    async () => {
      const client = detached({ commandTimeout: 2000, onCommandTimeout: 'reconnect' })
      const { net, link } = connect(client)
      const pair = link.pair
      assert.ok(pair !== null)
      pair.server.stall()
      const late = settle(client.command('PING'))
      link.wakeup()
      net.advance(1999)
      assert.equal(link.state, 'connected')
      net.advance(1)
      const result = await late
      assert.ok('error' in result && result.error.includes('no reply within 2000 ms'), JSON.stringify(result))
      assert.ok(pair.client.error instanceof TimeoutError)
      net.advance(100)
      assert.equal(link.state, 'connected')
      const next = client.command('PING')
      link.wakeup()
      assert.equal(await next, 'PONG')
      await link.stop()
      await client.close()
    },
  )
})
