/** examples/redis-pool.ts against two real redis-servers: one is killed (SIGKILL) under load and restarted on its port. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Address, PoolUnavailableError } from 'rotor-stream'
import { createRedisPool } from '../../examples/redis-pool.js'
import { freePort } from '../helpers/net.js'
import { needs } from '../helpers/peers.js'
import { startRealRedis } from '../helpers/redis.js'
import { until } from '../helpers/wait.js'

const peer = needs('redis-server')

/** Concurrent loops issuing commands through the pool. */
const WORKERS = 16
/** Each phase runs until this many more commands completed (bounded: a worker stops after MAX_PER_WORKER). */
const PER_PHASE = 600
const MAX_PER_WORKER = 100_000

/** One command as the test saw it. */
interface Sent {
  /** Port of the server the pool routed it to. */
  port: number
  /** The killed server had no live member when the pool routed it. */
  whileDown: boolean
  outcome: 'pending' | 'ok' | string
}

describe('examples/redis-pool.ts with two redis-servers', { ...peer, timeout: 120_000 }, () => {
  test('loses no command while one server is killed under load, and takes it back after its restart', { timeout: 90_000 }, async () => {
    const [portA, portB] = [await freePort(), await freePort()]
    let redisA = await startRealRedis(portA)
    const redisB = await startRealRedis(portB)
    const A: Address = { host: '127.0.0.1', port: portA }
    const B: Address = { host: '127.0.0.1', port: portB }
    const pool = createRedisPool([A, B], {
      connectionsPerEndpoint: 2,
      checkInterval: 100,
      checkTimeout: 1000,
      clients: { reconnect: { initialDelay: 20, maxDelay: 200 } },
    })
    const liveOf = (port: number) => pool.members.filter((m) => (m.endpoint as { port: number }).port === port && m.isLive).length
    const sent: Sent[] = []
    let done = 0
    let stop = false
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < MAX_PER_WORKER && !stop; i++) {
        const record: Sent = { port: 0, whileDown: false, outcome: 'pending' }
        sent.push(record)
        try {
          await pool.run((redis, endpoint) => {
            record.port = (endpoint as { port: number }).port
            record.whileDown = liveOf(portA) === 0
            return redis.command('SET', `w${w}`, String(i))
          })
          record.outcome = 'ok'
        } catch (err) {
          record.outcome = (err as { code?: string }).code ?? String(err)
        }
        done++
      }
    }
    const phase = async (what: string): Promise<void> => {
      const target = done + PER_PHASE
      await until(() => done >= target, what, 30_000)
    }
    let workers: Promise<void>[] = []
    try {
      await until(() => liveOf(portA) === 2 && liveOf(portB) === 2, 'all four members live')
      workers = Array.from({ length: WORKERS }, (_, w) => worker(w))
      await phase('load on both servers')
      await redisA.stop(true) // SIGKILL under load: a crash
      await until(() => liveOf(portA) === 0, 'the killed server out of rotation')
      await phase('load while one server is down')
      redisA = await startRealRedis(portA)
      await until(() => liveOf(portA) === 2, 'the restarted server back in rotation', 15_000)
      const backFrom = sent.length
      await phase('load after the restart')
      stop = true
      await Promise.all(workers)

      const failed = sent.filter((s) => s.outcome !== 'ok')
      const whileDown = sent.filter((s) => s.whileDown)
      const lost = whileDown.filter((s) => s.outcome !== 'ok')
      const inFlight = failed.filter((s) => s.port === portA && !s.whileDown)
      console.log(
        `redis pool: ${sent.length} commands, ${whileDown.length} issued while A was down, lost ${lost.length}, in flight on A at the kill and failed ${inFlight.length} (${[...new Set(failed.map((s) => s.outcome))].join(', ') || 'none'})`,
      )
      assert.ok(whileDown.length >= PER_PHASE, `commands issued while A was down: ${whileDown.length}`)
      assert.deepEqual(lost, [], 'no command issued while A was down failed')
      assert.ok(
        whileDown.every((s) => s.port === portB),
        'commands issued while A was down went to B',
      )
      // Every failure is a command the pool had routed to A before it knew A was down, with a typed error.
      assert.deepEqual(failed, inFlight)
      for (const f of failed) assert.ok(['RS_ERR_CLOSED', 'REDIS_CLIENT_ERR_OFFLINE_TIMEOUT'].includes(f.outcome), f.outcome)
      const afterRestart = sent.slice(backFrom)
      assert.ok(
        afterRestart.some((s) => s.port === portA && s.outcome === 'ok'),
        'the restarted server serves commands again',
      )
      assert.ok(afterRestart.every((s) => s.outcome === 'ok' || s.outcome === 'pending'))

      // Both down: a command fails after the wait timeout with a typed error, not a hang.
      await Promise.all([redisA.stop(true), redisB.stop(true)])
      await until(() => liveOf(portA) + liveOf(portB) === 0, 'both servers out of rotation')
      await assert.rejects(
        pool.run((redis) => redis.command('PING'), { timeout: 200 }),
        (err: unknown) => err instanceof PoolUnavailableError && err.code === 'RS_ERR_POOL_UNAVAILABLE' && err.reason === 'down' && err.waited >= 200,
      )
    } finally {
      stop = true
      await Promise.all(workers)
      await pool.close()
      await Promise.all([redisA.stop(), redisB.stop()])
    }
  })

  test('takes a server that stops answering PING out of rotation (SIGSTOP) and back once it answers (SIGCONT)', { timeout: 60_000 }, async () => {
    const [redisA, redisB] = [await startRealRedis(await freePort()), await startRealRedis(await freePort())]
    const pool = createRedisPool(
      [
        { host: '127.0.0.1', port: redisA.port },
        { host: '127.0.0.1', port: redisB.port },
      ],
      { checkInterval: 50, checkTimeout: 200 },
    )
    const down: string[] = []
    pool.on('down', (endpoint, _index, reason) => down.push(`${(endpoint as { port: number }).port} ${reason}`))
    const live = (port: number) => pool.members.some((m) => (m.endpoint as { port: number }).port === port && m.isLive)
    try {
      await until(() => live(redisA.port) && live(redisB.port), 'both members live')
      redisA.child.kill('SIGSTOP') // the connection stays up; only the PINGs go unanswered
      await until(() => !live(redisA.port), 'the silent server out of rotation')
      assert.deepEqual(down, [`${redisA.port} check`])
      assert.equal(pool.members.find((m) => (m.endpoint as { port: number }).port === redisA.port)?.isConnected, true)
      const ports = new Set<number>()
      for (let i = 0; i < 50; i++) {
        assert.equal(await pool.run((redis, e) => ports.add((e as { port: number }).port) && redis.command('SET', 'k', String(i))), 'OK')
      }
      assert.deepEqual([...ports], [redisB.port])
      redisA.child.kill('SIGCONT')
      await until(() => live(redisA.port), 'the server back in rotation once a PING passed')
      ports.clear()
      for (let i = 0; i < 4; i++) await pool.run((redis, e) => ports.add((e as { port: number }).port) && redis.command('PING'))
      assert.ok(ports.has(redisA.port))
    } finally {
      redisA.child.kill('SIGCONT')
      await pool.close()
      await Promise.all([redisA.stop(), redisB.stop()])
    }
  })
})
