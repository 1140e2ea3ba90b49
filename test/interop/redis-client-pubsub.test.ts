/** Pub/sub of examples/redis-client.ts against a real redis-server, in RESP2 and RESP3, across a crash. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { RedisClient, type RedisMessage, SubscriberModeError } from '../../examples/redis-client.js'
import { freePort } from '../helpers/net.js'
import { needs } from '../helpers/peers.js'
import { startRealRedis } from '../helpers/redis.js'

const peer = needs('redis-server')

/** Collects messages as `channel=message` (`pattern/channel=message` for pattern listeners); `next(n)` awaits the n-th. */
function inbox() {
  const got: string[] = []
  let waiter: { n: number; resolve: () => void } | null = null
  const push = (entry: string): void => {
    got.push(entry)
    if (waiter !== null && got.length >= waiter.n) {
      waiter.resolve()
      waiter = null
    }
  }
  return {
    got,
    channel: (message: RedisMessage, channel: string) => push(`${channel}=${String(message)}`),
    pattern: (message: RedisMessage, channel: string, pattern: string) => push(`${pattern}/${channel}=${String(message)}`),
    /** Resolves once `n` messages arrived in all. */
    next: (n: number): Promise<void> =>
      got.length >= n
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiter = { n, resolve }
          }),
  }
}

for (const protocol of [2, 3] as const) {
  describe(`examples/redis-client.ts pub/sub with protocol ${protocol} against a real redis-server`, { ...peer, timeout: 60_000 }, () => {
    test('receives messages and pattern messages, and none after unsubscribing', { timeout: 20_000 }, async (t) => {
      const redis = await startRealRedis(await freePort())
      const address = { host: '127.0.0.1', port: redis.port }
      const subscriber = new RedisClient(address, { protocol })
      const publisher = new RedisClient(address)
      t.after(async () => {
        await subscriber.close()
        await publisher.close()
        await redis.stop()
      })
      const box = inbox()
      await subscriber.subscribe(['news', 'weather'], box.channel)
      await subscriber.psubscribe('sport.*', box.pattern)
      assert.equal(await publisher.command('PUBLISH', 'news', 'hello'), 1)
      assert.equal(await publisher.command('PUBLISH', 'sport.tennis', 'ace'), 1)
      assert.equal(await publisher.command('PUBLISH', 'weather', 'sunny'), 1)
      await box.next(3)
      assert.deepEqual(box.got, ['news=hello', 'sport.*/sport.tennis=ace', 'weather=sunny'])
      if (protocol === 2) {
        await assert.rejects(
          subscriber.command('GET', 'k'),
          (err: unknown) => err instanceof SubscriberModeError && err.code === 'REDIS_CLIENT_ERR_SUBSCRIBER_MODE',
        )
        const other = subscriber.duplicate()
        t.after(() => other.close())
        assert.equal(await other.command('PING'), 'PONG')
      } else {
        // RESP3: commands and messages share the connection; 500 pipelined GETs with messages among their replies.
        await subscriber.command('SET', 'k', 'v')
        const gets = Array.from({ length: 500 }, () => subscriber.command('GET', 'k'))
        const published = Array.from({ length: 5 }, (_, i) => publisher.command('PUBLISH', 'news', `m${i}`))
        assert.ok((await Promise.all(gets)).every((v) => v === 'v'))
        assert.deepEqual(await Promise.all(published), [1, 1, 1, 1, 1])
        await box.next(8)
        assert.deepEqual(box.got.slice(3), ['news=m0', 'news=m1', 'news=m2', 'news=m3', 'news=m4'])
      }
      await subscriber.unsubscribe('news')
      assert.equal(await publisher.command('PUBLISH', 'news', 'unheard'), 0)
      assert.equal(await publisher.command('PUBLISH', 'weather', 'rain'), 1)
      await subscriber.unsubscribe()
      await subscriber.punsubscribe()
      assert.equal(await publisher.command('PUBLISH', 'weather', 'unheard'), 0)
      assert.equal(await publisher.command('PUBLISH', 'sport.golf', 'unheard'), 0)
      // Out of subscribed mode: ordinary commands again, on RESP2 too.
      assert.equal(await subscriber.command('PING'), 'PONG')
      assert.ok(!box.got.some((m) => m.includes('unheard')))
    })

    test('subscribes again by itself after the server is killed (SIGKILL) and restarted on the same port', { timeout: 30_000 }, async (t) => {
      const port = await freePort()
      let redis = await startRealRedis(port)
      const address = { host: '127.0.0.1', port }
      const reconnect = { initialDelay: 20, maxDelay: 200 }
      const subscriber = new RedisClient(address, { protocol, reconnect })
      const publisher = new RedisClient(address, { reconnect })
      t.after(async () => {
        await subscriber.close()
        await publisher.close()
        await redis.stop()
      })
      const box = inbox()
      await subscriber.subscribe('news', box.channel)
      await subscriber.psubscribe('n*', box.pattern)
      assert.equal(await publisher.command('PUBLISH', 'news', 'before'), 2)
      await box.next(2)
      const lost = once(subscriber.connection, 'disconnect')
      await redis.stop(true)
      await lost
      const back = once(subscriber.connection, 'connect')
      redis = await startRealRedis(port)
      await back
      // Written after the resubscribe on the new connection: once this is confirmed, so is the resubscribe.
      await subscriber.subscribe('sync', box.channel)
      assert.equal(await publisher.command('PUBLISH', 'news', 'after'), 2)
      await box.next(4)
      assert.deepEqual(box.got.slice(2).sort(), ['n*/news=after', 'news=after'])
    })
  })
}
