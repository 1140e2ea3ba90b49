/**
 * Pool over real sockets: the Redis client example pooled over two RESP demo servers, one closed
 * and restarted on its port; exclusive leases; a typed error when every server is down.
 */
import assert from 'node:assert/strict'
import { PoolUnavailableError } from 'rotor-stream'
import { createRedisPool } from '../../../examples/redis-pool.js'
import { type RunningServer, startRedisServer } from '../../../examples/redis-server.js'
import { until } from '../../../test/helpers/wait.js'
import { describe, test } from '../kit.js'

describe('Pool (examples/redis-pool.ts)', () => {
  test('fails over to the live server, takes the restarted one back, leases exclusively, fails typed when all are down', { timeout: 60_000 }, async (t) => {
    let a: RunningServer = await startRedisServer({ port: 0 })
    const b = await startRedisServer({ port: 0 })
    const pool = createRedisPool(
      [
        { host: '127.0.0.1', port: a.port },
        { host: '127.0.0.1', port: b.port },
      ],
      { checkInterval: 50, checkTimeout: 1000, clients: { reconnect: { initialDelay: 20, maxDelay: 100, jitter: 0 } } },
    )
    t.after(async () => {
      await pool.close()
      await Promise.all([a.close(), b.close()])
    })
    const live = (port: number) => pool.members.some((m) => (m.endpoint as { port: number }).port === port && m.isLive)
    const portOf = (endpoint: unknown) => (endpoint as { port: number }).port
    await until(() => live(a.port) && live(b.port), 'both members live')
    const ports = [await pool.run((_r, e) => portOf(e)), await pool.run((_r, e) => portOf(e))]
    assert.deepEqual(ports.sort(), [a.port, b.port].sort())

    const portA = a.port
    await a.close()
    await until(() => !live(portA), 'the closed server out of rotation')
    for (let i = 0; i < 20; i++) {
      assert.equal(await pool.run((redis, e) => (portOf(e) === b.port ? redis.command('SET', 'k', String(i)) : 'wrong server')), 'OK')
    }
    a = await startRedisServer({ port: portA })
    await until(() => live(portA), 'the restarted server back in rotation', 10_000)
    const after = new Set<number>()
    for (let i = 0; i < 4; i++) after.add(await pool.run((_r, e) => portOf(e)))
    assert.ok(after.has(portA))

    assert.equal(await pool.with((redis) => redis.command('PING')), 'PONG')
    const lease = await pool.acquire()
    assert.equal(await lease.handle.command('PING'), 'PONG')
    lease.release()

    await Promise.all([a.close(), b.close()])
    await until(() => !live(portA) && !live(b.port), 'both out of rotation')
    await assert.rejects(
      pool.run((redis) => redis.command('PING'), { timeout: 100 }),
      (err: unknown) => err instanceof PoolUnavailableError && err.code === 'RS_ERR_POOL_UNAVAILABLE' && err.reason === 'down',
    )
  })
})
