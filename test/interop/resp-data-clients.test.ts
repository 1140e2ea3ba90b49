/**
 * The data commands through ioredis at its default settings (RESP2), differentially: the same
 * calls against the real redis-server and against examples/redis-server.ts give the same results.
 * Scans (scanStream, hscanStream, sscanStream) are compared as sets: their order is the table's.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { type RunningServer, startRedisServer } from '../../examples/redis-server.js'
import { freePort } from '../helpers/net.js'
import { needs } from '../helpers/peers.js'
import { type RealRedis, startRealRedis } from '../helpers/redis.js'

/** Every element a scan stream yields, sorted. */
async function drain(stream: AsyncIterable<unknown>): Promise<string[]> {
  const all: string[] = []
  for await (const batch of stream) all.push(...(batch as string[]))
  return all.sort()
}

/** Settles a call into a comparable value: its result, or its error message. */
async function settle(call: Promise<unknown>): Promise<unknown> {
  try {
    return await call
  } catch (err) {
    return { error: (err as Error).message }
  }
}

async function scenario(port: number): Promise<Record<string, unknown>> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true })
  try {
    await redis.connect()
    await redis.flushall()
    const r: Record<string, unknown> = {}
    r.set = await redis.set('s', 'v', 'EX', 100, 'NX')
    r.ttl = await redis.ttl('s')
    r.getex = await redis.getex('s', 'PERSIST')
    r.big = await redis.incrby('n', '9223372036854775806')
    r.bigger = await redis.incr('n')
    r.overflow = await settle(redis.incr('n'))
    r.float = await redis.incrbyfloat('f', 10.5)
    r.float2 = await redis.incrbyfloat('f', 0.1)
    r.mset = await redis.msetnx('m1', '1', 'm2', '2')
    r.mget = await redis.mget('m1', 'm2', 'nope')
    r.append = await redis.append('m1', 'x')
    r.range = await redis.getrange('m1', 0, -1)
    r.hset = await redis.hset('h', { a: '1', b: '2', c: '3' })
    r.hgetall = await redis.hgetall('h')
    r.hincr = await redis.hincrbyfloat('h', 'a', '1.5')
    r.hmget = await redis.hmget('h', 'a', 'zz')
    r.hkeys = await redis.hkeys('h')
    r.sadd = await redis.sadd('ints', 5, -1, 3)
    r.smembers = await redis.smembers('ints')
    r.sinter = await redis.sinter('ints', 'nope')
    r.sunionstore = await redis.sunionstore('u', 'ints', 'ints')
    r.wrongtype = await settle(redis.get('h'))
    r.rename = await redis.rename('u', 'u2')
    r.type = await redis.type('u2')
    r.encoding = await redis.object('ENCODING', 'u2')
    r.expire = await redis.expire('u2', 100, 'GT')
    r.expireNx = await redis.expire('u2', 100, 'NX')
    r.lists = await redis.pipeline().rpush('l', 'a', 'b', 'c').lpop('l', 2).lrange('l', 0, -1).exec()
    // Enough keys, fields and members that the scans take many calls.
    const pipeline = redis.pipeline()
    for (let i = 0; i < 1500; i++) pipeline.set(`key:${i}`, i)
    pipeline.hset('bighash', Object.fromEntries(Array.from({ length: 700 }, (_, i) => [`f${i}`, String(i)])))
    pipeline.sadd('bigset', ...Array.from({ length: 700 }, (_, i) => `m${i}`))
    await pipeline.exec()
    r.scan = await drain(redis.scanStream({ match: 'key:1*', count: 100 }))
    r.scanType = await drain(redis.scanStream({ type: 'hash' }))
    r.hscan = await drain(redis.hscanStream('bighash', { count: 50 }))
    r.sscan = await drain(redis.sscanStream('bigset', { match: 'm1*' }))
    r.dbsize = await redis.dbsize()
    r.keys = (await redis.keys('m?')).sort()
    return r
  } finally {
    redis.disconnect()
  }
}

describe('data commands through ioredis (defaults): demo and redis-server agree', { ...needs('redis-server') }, () => {
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

  test('gives the same results for strings, 64-bit counters, floats, hashes, sets, lists, expiry and scan streams', { timeout: 60_000 }, async () => {
    const [want, got] = await Promise.all([scenario(real.port), scenario(demo.port)])
    assert.deepEqual(got, want)
    assert.equal((want.scan as string[]).length, 611) // key:1, key:10..19, key:100..199, key:1000..1499
  })
})
