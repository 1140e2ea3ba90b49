/**
 * The options of examples/redis-client.ts against a real redis-server: RESP3 replies, the
 * largest reply (`maxReplySize`), and how long a command waits without a server (`offlineTimeout`).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { ClosedError, ConnectError } from 'rotor-stream'
import { OfflineTimeoutError, RedisClient, type RedisReply, ReplyError, ReplyTooLargeError } from '../../examples/redis-client.js'
import { freePort } from '../helpers/net.js'
import { needs } from '../helpers/peers.js'
import { startRealRedis } from '../helpers/redis.js'

const peer = needs('redis-server')

describe('examples/redis-client.ts with protocol: 3 against a real redis-server', { ...peer, timeout: 60_000 }, () => {
  test('decodes maps, sets, doubles, booleans, nulls, big numbers, verbatim strings and blob errors', { timeout: 20_000 }, async (t) => {
    const redis = await startRealRedis(await freePort())
    const address = { host: '127.0.0.1', port: redis.port }
    const client = new RedisClient(address, { protocol: 3 })
    const resp2 = new RedisClient(address)
    t.after(async () => {
      await client.close()
      await resp2.close()
      await redis.stop()
    })
    const lua = (script: string): Promise<RedisReply> => client.command('EVAL', `redis.setresp(3); ${script}`, 0)
    assert.equal(await client.command('HSET', 'h', 'a', '1', 'b', '2'), 2)
    assert.deepEqual(
      await client.command('HGETALL', 'h'),
      new Map([
        ['a', '1'],
        ['b', '2'],
      ]),
    )
    assert.deepEqual(await resp2.command('HGETALL', 'h'), ['a', '1', 'b', '2']) // the same data in RESP2
    await client.command('SADD', 's', 'x', 'y')
    assert.deepEqual(await client.command('SMEMBERS', 's'), new Set(['x', 'y']))
    await client.command('ZADD', 'z', '1.5', 'm')
    assert.equal(await client.command('ZSCORE', 'z', 'm'), 1.5) // a double
    assert.equal(await resp2.command('ZSCORE', 'z', 'm'), '1.5') // a bulk string in RESP2
    assert.equal(await client.command('ZINCRBY', 'z', 'inf', 'm'), Number.POSITIVE_INFINITY)
    assert.equal(await client.command('GET', 'missing'), null)
    assert.equal(await lua('return true'), true)
    assert.equal(await lua('return false'), false)
    assert.equal(await lua('return nil'), null)
    assert.equal(await lua('return {double=3.25}'), 3.25)
    assert.equal(await lua("return {big_number='1234567890123456789012345678901234567890'}"), 1234567890123456789012345678901234567890n)
    assert.equal(await lua("return {verbatim_string={format='txt', string='hi there'}}"), 'hi there')
    const info = await client.command('INFO', 'server')
    assert.ok(typeof info === 'string' && info.startsWith('# Server'), String(info)) // verbatim, without its `txt:`
    assert.deepEqual(await client.command('CONFIG', 'GET', 'maxmemory'), new Map([['maxmemory', '0']]))
    await assert.rejects(client.command('INCR', 'h'), (err: unknown) => err instanceof ReplyError && err.prefix === 'WRONGTYPE')
    await assert.rejects(lua("return redis.error_reply('MYERR custom')"), (err: unknown) => err instanceof ReplyError && err.prefix === 'MYERR')
  })
})

describe('examples/redis-client.ts maxReplySize against a real redis-server', { ...peer, timeout: 120_000 }, () => {
  test('reads a 64 MiB GET with maxReplySize raised, and fails it alone with REDIS_CLIENT_ERR_REPLY_TOO_LARGE at the default', {
    timeout: 90_000,
  }, async (t) => {
    const redis = await startRealRedis(await freePort())
    const address = { host: '127.0.0.1', port: redis.port }
    const big = new RedisClient(address, { maxReplySize: 65 * 1024 * 1024, returnBuffers: true })
    const small = new RedisClient(address)
    t.after(async () => {
      await big.close()
      await small.close()
      await redis.stop()
    })
    const value = Buffer.alloc(64 * 1024 * 1024, 'v')
    value.write('first', 0)
    value.write('last', value.length - 4)
    assert.equal(await big.command('SET', 'big', value), 'OK')
    const got = await big.command('GET', 'big')
    assert.ok(Buffer.isBuffer(got) && got.equals(value))
    const disconnects: unknown[] = []
    small.connection.on('disconnect', (reason) => disconnects.push(reason))
    const [before, tooLarge, after] = await Promise.allSettled([small.command('PING'), small.command('GET', 'big'), small.command('STRLEN', 'big')])
    assert.deepEqual(before, { status: 'fulfilled', value: 'PONG' })
    assert.equal(tooLarge.status, 'rejected')
    const err = (tooLarge as PromiseRejectedResult).reason as unknown
    assert.ok(err instanceof ReplyTooLargeError)
    assert.equal(err.code, 'REDIS_CLIENT_ERR_REPLY_TOO_LARGE')
    assert.equal(err.limit, 16 * 1024 * 1024)
    assert.deepEqual(after, { status: 'fulfilled', value: 64 * 1024 * 1024 }) // same connection: it stayed up
    assert.deepEqual(disconnects, [])
  })
})

/** Asserts `p` rejects with an OfflineTimeoutError whose cause is an Error; returns it. */
async function offlineTimeout(p: Promise<unknown>, timeout: number): Promise<OfflineTimeoutError> {
  const err = await p.then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof OfflineTimeoutError, String(err))
  assert.equal(err.code, 'REDIS_CLIENT_ERR_OFFLINE_TIMEOUT')
  assert.equal(err.timeout, timeout)
  assert.ok(err.cause instanceof Error)
  return err
}

describe('examples/redis-client.ts without a server', { timeout: 30_000 }, () => {
  test('fails a command after offlineTimeout when nobody listens on the port, naming the connect error', { timeout: 10_000 }, async (t) => {
    const client = new RedisClient({ host: '127.0.0.1', port: await freePort() }, { offlineTimeout: 200, reconnect: { initialDelay: 20, maxDelay: 50 } })
    t.after(() => client.close())
    const err = await offlineTimeout(client.command('GET', 'k'), 200)
    assert.ok(err.cause instanceof ConnectError, String(err.cause))
    assert.match(err.message, /ECONNREFUSED/)
    await offlineTimeout(
      client.subscribe('c', () => {}),
      200,
    )
  })

  test('fails at once after close(), and fails the commands waiting when it is called', { timeout: 10_000 }, async () => {
    const client = new RedisClient({ host: '127.0.0.1', port: await freePort() }, { offlineTimeout: 60_000 })
    const waiting = client.command('GET', 'k')
    await client.close()
    await assert.rejects(waiting, (err: unknown) => err instanceof ClosedError && err.code === 'RS_ERR_CLOSED')
    await assert.rejects(client.command('GET', 'k'), (err: unknown) => err instanceof ClosedError)
    await assert.rejects(
      client.subscribe('c', () => {}),
      (err: unknown) => err instanceof ClosedError,
    )
  })

  test('fails waiting commands at once when the reconnect policy gives up', { timeout: 10_000 }, async () => {
    const client = new RedisClient({ host: '127.0.0.1', port: await freePort() }, { offlineTimeout: 60_000, reconnect: (attempt) => (attempt < 3 ? 10 : null) })
    try {
      await assert.rejects(client.command('GET', 'k'), (err: unknown) => err instanceof ClosedError && err.cause instanceof ConnectError)
      await assert.rejects(client.command('GET', 'k'), (err: unknown) => err instanceof ClosedError)
    } finally {
      await client.close()
    }
  })
})

describe('examples/redis-client.ts when the server is killed mid-session', { ...peer, timeout: 30_000 }, () => {
  test('fails commands issued afterwards after offlineTimeout instead of waiting forever', { timeout: 20_000 }, async (t) => {
    const redis = await startRealRedis(await freePort())
    const client = new RedisClient({ host: '127.0.0.1', port: redis.port }, { offlineTimeout: 300, reconnect: { initialDelay: 20, maxDelay: 100 } })
    t.after(async () => {
      await client.close()
      await redis.stop()
    })
    assert.equal(await client.command('SET', 'k', 'v'), 'OK')
    const lost = once(client.connection, 'disconnect')
    await redis.stop(true)
    await lost
    const err = await offlineTimeout(client.command('GET', 'k'), 300)
    assert.ok(err.cause instanceof Error)
    // Many at once: each fails, none is sent later.
    const many = await Promise.allSettled(Array.from({ length: 100 }, () => client.command('INCR', 'n')))
    assert.ok(many.every((s) => s.status === 'rejected' && s.reason instanceof OfflineTimeoutError))
  })
})
