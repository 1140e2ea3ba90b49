/**
 * The demo server's connection layer on real sockets: a subscriber that never reads is
 * disconnected at its output limit while the process holds a bounded amount for it; and the
 * Redis clients people use (ioredis, node-redis), at their default settings, get the same
 * results from the demo as from the real redis-server for databases, transactions and pub/sub.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import type { Session } from '../../examples/redis/session.js'
import { type RunningServer, startRedisServer } from '../../examples/redis-server.js'
import { freePort } from '../helpers/net.js'
import { needs } from '../helpers/peers.js'
import { type RealRedis, startRealRedis } from '../helpers/redis.js'
import { encode, RawConnection } from './resp-session-client.js'

describe('a subscriber that does not read', { timeout: 120_000 }, () => {
  const limits = { hardBytes: 4 * 1024 * 1024, softBytes: 2 * 1024 * 1024, softMs: 60_000 }
  let server: RunningServer
  before(async () => {
    server = await startRedisServer({ port: 0, pubsub: limits })
  })
  after(async () => {
    await server?.close()
  })

  test('is disconnected past the hard limit, the server holding at most that much for it', { timeout: 60_000 }, async () => {
    const sub = await RawConnection.open(server.port)
    const pub = await RawConnection.open(server.port)
    try {
      sub.send(encode(['SUBSCRIBE', 'firehose']))
      await sub.replies(1)
      sub.socket.pause() // never reads again
      const session = [...server.state.clients.values()].find((c) => c.channels.has('firehose')) as Session
      const message = 'm'.repeat(16 * 1024)
      const batch = Buffer.concat(Array.from({ length: 32 }, () => encode(['PUBLISH', 'firehose', message])))
      const rssBefore = process.memoryUsage().rss
      let maxHeld = 0
      let maxRss = rssBefore
      let published = 0
      // Bounded: 64 MiB of messages, far past the 4 MiB limit plus what the kernel buffers.
      while (published < 64 * 1024 * 1024 && server.state.pubsub.channels.has('firehose')) {
        pub.send(batch)
        await pub.replies(32)
        published += 32 * message.length
        maxHeld = Math.max(maxHeld, session.pendingBytes + session.inFlight)
        maxRss = Math.max(maxRss, process.memoryUsage().rss)
      }
      assert.equal(server.state.pubsub.channels.has('firehose'), false, `still subscribed after ${published} bytes`)
      assert.ok(maxHeld <= limits.hardBytes + message.length + 100, `held ${maxHeld}`)
      assert.ok(maxRss - rssBefore < 64 * 1024 * 1024, `rss grew by ${maxRss - rssBefore}`)
      pub.send(encode(['PUBSUB', 'NUMSUB', 'firehose']))
      assert.equal(await pub.replies(1), '*2\r\n$8\r\nfirehose\r\n:0\r\n')
      sub.socket.resume()
      await sub.closed()
    } finally {
      sub.close()
      pub.close()
    }
  })
})

/** The same script with ioredis at its defaults (RESP2, `db` option, MULTI, pub/sub). */
async function ioredisScript(port: number): Promise<unknown[]> {
  const results: unknown[] = []
  const client = new Redis({ port, host: '127.0.0.1', db: 1, lazyConnect: true })
  const sub = new Redis({ port, host: '127.0.0.1', lazyConnect: true })
  try {
    await client.connect()
    await sub.connect()
    results.push(await client.set('k', 'in db 1'), await client.get('k'), await client.select(0), await client.get('k'), await client.select(1))
    results.push(await client.multi().set('a', '1').incr('a').get('a').exec())
    results.push(await client.client('SETNAME', 'io'), await client.client('GETNAME'))
    results.push(await sub.subscribe('ch'))
    const message = once(sub, 'message')
    results.push(await client.publish('ch', 'hi'), await message)
    await client.watch('a')
    await sub.unsubscribe('ch')
    results.push(await sub.move('a', '0').catch((e: Error) => e.message)) // db 0 of the second connection: nothing to move
    results.push(await client.multi().get('a').exec(), await client.flushall())
  } finally {
    client.disconnect()
    sub.disconnect()
  }
  return results
}

/** The same with node-redis at its defaults. */
async function nodeRedisScript(port: number): Promise<unknown[]> {
  const results: unknown[] = []
  const client = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: false }, database: 2 })
  const sub = client.duplicate()
  try {
    await client.connect()
    await sub.connect()
    results.push(await client.set('k', 'in db 2'), await client.get('k'), await client.sendCommand(['CLIENT', 'GETNAME']))
    results.push(await client.multi().set('a', '1').incr('a').get('a').exec())
    let received: [string, string] | null = null
    const got = new Promise<void>((resolve) => {
      void sub.subscribe('ch', (message, channel) => {
        received = [channel, message]
        resolve()
      })
    })
    // Subscribed once the SUBSCRIBE confirmation is in: the publish must reach it.
    while ((await client.sendCommand(['PUBSUB', 'NUMSUB', 'ch']))?.toString() !== 'ch,1') await new Promise((r) => setTimeout(r, 5))
    results.push(await client.publish('ch', 'hello'))
    await got
    results.push(received)
    results.push(await client.flushAll())
  } finally {
    await client.close().catch(() => {})
    await sub.close().catch(() => {})
  }
  return results
}

describe('Redis clients at their default settings: the demo answers as redis-server', { ...needs('redis-server'), timeout: 120_000 }, () => {
  let real: RealRedis
  let demo: RunningServer
  before(async () => {
    real = await startRealRedis(await freePort())
    demo = await startRedisServer({ port: 0 })
  })
  after(async () => {
    await demo?.close()
    await real?.stop()
  })

  test('ioredis: db option, MULTI, CLIENT, pub/sub', { timeout: 30_000 }, async () => {
    const expected = await ioredisScript(real.port)
    assert.deepEqual(await ioredisScript(demo.port), expected)
  })

  test('node-redis: database option, MULTI, pub/sub', { timeout: 30_000 }, async () => {
    const expected = await nodeRedisScript(real.port)
    assert.deepEqual(await nodeRedisScript(demo.port), expected)
  })
})
