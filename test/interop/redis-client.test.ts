/** The RESP client example against a real redis-server started by the test. */
import assert from 'node:assert/strict'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { RedisClient, ReplyError } from '../../examples/redis-client.js'
import { freePort } from '../helpers/net.js'
import { needs } from '../helpers/peers.js'
import { type RealRedis, startRealRedis } from '../helpers/redis.js'
import { until } from '../helpers/wait.js'

const peer = needs('redis-server')

describe('examples/redis-client.ts against a real redis-server', { ...peer, timeout: 120_000 }, () => {
  let redis: RealRedis
  let client: RedisClient
  const unixPath = path.join(os.tmpdir(), `rotor-real-redis-${process.pid}.sock`)

  before(async () => {
    redis = await startRealRedis(await freePort(), unixPath)
    client = new RedisClient({ host: '127.0.0.1', port: redis.port })
  })
  after(async () => {
    await client?.close()
    await redis?.stop()
  })

  test('decodes every RESP2 reply type', { timeout: 10_000 }, async () => {
    assert.equal(await client.command('SET', 'k', 'v'), 'OK') // simple string
    assert.equal(await client.command('GET', 'k'), 'v') // bulk
    assert.equal(await client.command('GET', 'missing'), null) // null bulk
    assert.equal(await client.command('INCR', 'n'), 1) // integer
    assert.equal(await client.command('RPUSH', 'l', 'a', 'b', ''), 3)
    assert.deepEqual(await client.command('LRANGE', 'l', 0, -1), ['a', 'b', '']) // array, empty bulk
    assert.deepEqual(await client.command('LRANGE', 'nope', 0, -1), []) // empty array
    assert.deepEqual(await client.command('EVAL', "return {1, {'a', {'b'}}, 'c'}", 0), [1, ['a', ['b']], 'c']) // nested arrays
    await assert.rejects(client.command('INCR', 'k'), (err: unknown) => err instanceof ReplyError && err.prefix === 'ERR') // error
    await assert.rejects(client.command('LPUSH', 'k', 'x'), (err: unknown) => err instanceof ReplyError && err.prefix === 'WRONGTYPE')
    const binary = Buffer.from([0, 1, 13, 10, 255])
    const buffers = new RedisClient({ path: unixPath }, { returnBuffers: true })
    try {
      assert.equal(await buffers.command('SET', 'bin', binary), 'OK')
      assert.deepEqual(await buffers.command('GET', 'bin'), binary) // binary-safe, over the Unix socket
    } finally {
      await buffers.close()
    }
  })

  test('pipelines 100,000 commands issued at once and matches every reply', { timeout: 60_000 }, async () => {
    const n = 100_000
    const sets = Array.from({ length: n }, (_, i) => client.command('SET', `key:${i}`, i))
    assert.ok((await Promise.all(sets)).every((r) => r === 'OK'))
    const gets = await Promise.all(Array.from({ length: n }, (_, i) => client.command('GET', `key:${i}`)))
    for (const [i, value] of gets.entries()) assert.equal(value, String(i))
  })

  test('sends the commands of one tick in one write', { timeout: 10_000 }, async () => {
    const stream = client.connection.stream
    assert.ok(stream !== null)
    const socket = stream.socket
    const original = socket.write.bind(socket)
    let writes = 0
    socket.write = ((...args: Parameters<typeof socket.write>) => {
      writes++
      return original(...args)
    }) as typeof socket.write
    try {
      await Promise.all(Array.from({ length: 50 }, () => client.command('PING')))
    } finally {
      socket.write = original
    }
    assert.equal(writes, 1)
  })
})

describe('examples/redis-client.ts when the server dies', { ...peer, timeout: 120_000 }, () => {
  test('rejects in-flight commands, queues new ones offline and sends them after the restart', { timeout: 90_000 }, async () => {
    const port = await freePort()
    let redis = await startRealRedis(port)
    const client = new RedisClient({ host: '127.0.0.1', port }, { reconnect: { initialDelay: 20, maxDelay: 200 } })
    try {
      assert.equal(await client.command('SET', 'before', '1'), 'OK')
      // A steady stream of commands while the server is killed and restarted three times.
      let resolved = 0
      let lost = 0
      const others: unknown[] = []
      const track = (p: Promise<unknown>) =>
        p.then(
          () => void resolved++,
          (err: unknown) => (err instanceof Error && (err as { code?: string }).code === 'RS_ERR_CLOSED' ? void lost++ : void others.push(err)),
        )
      const all: Promise<void>[] = []
      let offlineResolved = 0
      for (let restart = 0; restart < 3; restart++) {
        for (let i = 0; i < 200; i++) all.push(track(client.command('INCR', 'counter')))
        await redis.stop(true) // SIGKILL: a crash
        // Offline once the client has seen the connection go (before that, a command may still be
        // written to the dying socket and fail with RS_ERR_CLOSED, as in-flight ones do).
        await until(() => client.connection.state !== 'connected', 'the client notices the crash')
        const offline = Array.from({ length: 200 }, () => client.command('INCR', 'counter').then(() => void offlineResolved++))
        all.push(...offline.map((p) => p.catch(() => {})))
        redis = await startRealRedis(port)
        // Queued while offline: sent after the reconnect, every one answered before the next crash.
        await Promise.all(offline)
      }
      await Promise.all(all)
      assert.deepEqual(others, [])
      assert.equal(offlineResolved, 600, 'every command queued offline ran after the restart')
      assert.equal(resolved + lost, 600)
      // The server restarts empty: its counter holds the last offline batch, each INCR run once.
      const counter = Number(await client.command('GET', 'counter'))
      assert.equal(counter, 200, 'nothing queued offline was sent twice')
    } finally {
      await client.close()
      await redis.stop()
    }
  })
})
