/**
 * Pool on the test kit's virtual network: members are simulated Persistents, the pool's timers
 * run on the same virtual clock, so failover, health checks and waits are checked to the ms.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type Address,
  ClosedError,
  type Exception,
  Intent,
  InvalidArgumentError,
  Pool,
  type PoolClock,
  type PoolOptions,
  PoolUnavailableError,
  type Protocol,
  type Transport,
} from 'rotor-stream'
import { type SimPersistent, type SimServer, VirtualNetwork } from 'rotor-stream/testing'

const T = { timeout: 30_000 }
const A: Address = { host: 'a.internal', port: 6379 }
const B: Address = { host: 'b.internal', port: 6379 }

/** Reads lines forever, never times out; ends cleanly at end of stream. Both sides use it. */
class Idle implements Protocol {
  static create(): Intent<Idle> {
    return Intent.of(new Idle()).expectDelimiter('\n', { max: 100 })
  }
  bytesRead(t: Transport, end: number): Intent<Idle> {
    t.input.consume(end + 1)
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
  exception(_t: Transport, reason: Exception): Intent<Idle> {
    return reason.code === 'RS_ERR_END_OF_STREAM' ? Intent.done() : Intent.error(reason)
  }
}

/** Pool timers on the network's virtual clock. */
class VirtualClock implements PoolClock {
  readonly #net: VirtualNetwork
  #timers: { at: number; fn: () => void }[] = []
  constructor(net: VirtualNetwork) {
    this.#net = net
  }
  get pending(): number {
    return this.#timers.length
  }
  now(): number {
    return this.#net.now
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.#net.now + ms, fn }
    this.#timers.push(timer)
    return timer
  }
  clearTimeout(timer: unknown): void {
    this.#timers = this.#timers.filter((t) => t !== timer)
  }
  /** Advances to virtual time `at`. */
  advanceTo(at: number): Promise<void> {
    return this.advance(at - this.#net.now)
  }
  /** Advances both clocks 1 ms at a time, firing due timers in order and letting promise callbacks run. */
  async advance(ms: number): Promise<void> {
    for (let i = 0; i <= ms; i++) {
      if (i > 0) this.#net.advance(1)
      else this.#net.run() // what is due now first
      for (;;) {
        const due = this.#timers.filter((t) => t.at <= this.#net.now).sort((x, y) => x.at - y.at)[0]
        if (due === undefined) break
        this.clearTimeout(due)
        due.fn()
      }
      await flush()
    }
  }
}

/** 'a' or 'b'. */
function letter(endpoint: Address): string {
  return 'host' in endpoint ? (endpoint.host?.[0] ?? '?') : '?'
}

/** Lets chained promise callbacks run (bounded). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

/** What a test sends requests through: the member's endpoint and its simulated client. */
interface Handle {
  readonly name: string
  readonly client: SimPersistent
}

/** A pool of simulated clients to A and B; `health` decides each endpoint's check. */
function setup(options: Partial<PoolOptions<Address, Handle>> & { health?: Map<string, 'pass' | 'fail' | 'hang'> } = {}) {
  const net = new VirtualNetwork()
  const clock = new VirtualClock(net)
  const servers = new Map<string, SimServer>([
    ['a', net.serve(A, Idle.create)],
    ['b', net.serve(B, Idle.create)],
  ])
  const health = options.health
  const checks: string[] = []
  const events: string[] = []
  const pool = new Pool<Address, Handle>({
    endpoints: [A, B],
    create: (endpoint, index) => {
      const client = net.persistent(endpoint, Idle.create, { reconnect: { initialDelay: 100, factor: 2, jitter: 0 } })
      return { connection: client, handle: { name: `${letter(endpoint)}${index}`, client } }
    },
    clock,
    ...options,
    ...(health === undefined
      ? {}
      : {
          healthCheck: {
            check: (h: Handle) => {
              checks.push(`${net.now} ${h.name}`)
              const verdict = health.get(h.name[0] as string) ?? 'pass'
              if (verdict === 'pass') return Promise.resolve('PONG')
              if (verdict === 'fail') return Promise.reject(new Error('LOADING'))
              return new Promise<never>(() => {})
            },
            interval: 1000,
            timeout: 200,
            ...options.healthCheck,
          },
        }),
  })
  pool.on('up', (e, i) => events.push(`${net.now} up ${letter(e)}${i}`))
  pool.on('down', (e, i, why) => events.push(`${net.now} down ${letter(e)}${i} ${why}`))
  return { net, clock, pool, servers, checks, events }
}

/** Runs `n` requests one after another and returns the member names they went to. */
async function route(pool: Pool<Address, Handle>, n: number): Promise<string[]> {
  const names: string[] = []
  for (let i = 0; i < n; i++) names.push(await pool.run((h) => h.name))
  return names
}

/** Closes every server-side connection to `name` and refuses the next `refusals` attempts. */
function kill(net: VirtualNetwork, servers: Map<string, SimServer>, name: 'a' | 'b', refusals: number): void {
  net.script(name === 'a' ? A : B, ...Array.from({ length: refusals }, () => 'refuse' as const))
  for (const side of [...(servers.get(name)?.sides ?? [])]) side.close() // a copy: closing removes from `sides`
}

describe('Pool', () => {
  test('round-robin alternates endpoints and skips a member that lost its connection until it reconnects', T, async () => {
    const { net, clock, pool, servers, events } = setup({ connectionsPerEndpoint: 2 })
    await clock.advance(1)
    assert.deepEqual(await route(pool, 8), ['a0', 'b0', 'a1', 'b1', 'a0', 'b0', 'a1', 'b1'])
    kill(net, servers, 'a', 4) // both members: refused at 101 and 301, accepted at 701
    await clock.advance(0)
    assert.deepEqual(await route(pool, 4), ['b0', 'b1', 'b0', 'b1'])
    await clock.advanceTo(700)
    assert.deepEqual(await route(pool, 2), ['b0', 'b1'])
    await clock.advanceTo(701)
    assert.deepEqual(await route(pool, 4), ['a0', 'b0', 'a1', 'b1'])
    assert.deepEqual(net.attempts.map((a) => `${a.at} ${a.outcome}`).slice(4), [
      '101 refuse',
      '101 refuse',
      '301 refuse',
      '301 refuse',
      '701 accept',
      '701 accept',
    ])
    assert.deepEqual(events, ['0 up a0', '0 up b0', '0 up a1', '0 up b1', '1 down a0 disconnect', '1 down a1 disconnect', '701 up a0', '701 up a1'])
    await pool.close()
  })

  test('least-loaded picks the member with the fewest requests in progress', T, async () => {
    const { clock, pool } = setup({ connectionsPerEndpoint: 2, choose: 'least-loaded' })
    await clock.advance(1)
    const held: (() => void)[] = []
    const hold = (h: Handle) =>
      new Promise<string>((resolve) => {
        held.push(() => resolve(h.name))
      })
    const first = [pool.run(hold), pool.run(hold), pool.run(hold)] // a0, b0, a1 busy
    await flush()
    assert.deepEqual(
      pool.members.map((m) => m.load),
      [1, 1, 1, 0],
    )
    assert.equal(await pool.run((h) => h.name), 'b1') // the idle one
    held[1]?.() // b0 done
    await first[1]
    assert.equal(await pool.run((h) => h.name), 'b0')
    for (const release of held) release()
    await Promise.all(first)
    await pool.close()
  })

  test('with every endpoint down, a request fails after waitTimeout with PoolUnavailableError (down, cause)', T, async () => {
    const { net, clock, pool, servers } = setup({ waitTimeout: 5000 })
    await clock.advance(1)
    kill(net, servers, 'a', 1000)
    kill(net, servers, 'b', 1000)
    await clock.advance(1)
    const start = net.now
    let failed: unknown
    let failedAt = -1
    const request = pool
      .run((h) => h.name)
      .catch((err: unknown) => {
        failed = err
        failedAt = net.now
      })
    await clock.advance(4999)
    assert.equal(failedAt, -1, 'still waiting at 4999 ms')
    assert.equal(pool.waiting, 1)
    await clock.advance(1)
    await request
    assert.equal(failedAt - start, 5000)
    assert.ok(failed instanceof PoolUnavailableError)
    assert.equal(failed.code, 'RS_ERR_POOL_UNAVAILABLE')
    assert.equal(failed.reason, 'down')
    assert.equal(failed.waited, 5000)
    assert.equal((failed.cause as { code?: string }).code, 'RS_ERR_CONNECT') // the last refusal
    assert.match(failed.message, /no member is live/)
    await pool.close()
  })

  test('a request waiting while every endpoint is down goes to the first member that comes back', T, async () => {
    const { net, clock, pool, servers, events } = setup({ waitTimeout: 5000 })
    await clock.advance(1)
    kill(net, servers, 'a', 1000)
    kill(net, servers, 'b', 2) // b is back at 701
    await clock.advance(0)
    let doneAt = -1
    const request = pool.run((h) => {
      doneAt = net.now
      return h.name
    })
    await clock.advanceTo(1000)
    assert.equal(await request, 'b0')
    assert.deepEqual(events.slice(-1), ['701 up b0'])
    assert.equal(doneAt, 701) // served the moment b0 came back
    await pool.close()
  })

  test('health checks: a member joins after its first check passes, leaves on a failed or hung check, rejoins when one passes', T, async () => {
    const health = new Map<string, 'pass' | 'fail' | 'hang'>()
    const { clock, pool, events, checks } = setup({ health })
    await clock.advance(1)
    assert.deepEqual(events, ['0 up a0', '0 up b0']) // checked on connect, passed
    health.set('a', 'fail')
    await clock.advanceTo(1000) // the next checks run at 1000
    assert.deepEqual(events.slice(2), ['1000 down a0 check'])
    assert.deepEqual(await route(pool, 3), ['b0', 'b0', 'b0'])
    health.set('a', 'hang')
    await clock.advanceTo(2001) // the check at 2000 hangs: failed at 2200, the next at 3200
    health.set('a', 'pass')
    await clock.advanceTo(3199)
    assert.deepEqual(events.slice(3), [])
    await clock.advanceTo(3200)
    assert.deepEqual(events.slice(3), ['3200 up a0'])
    assert.deepEqual(
      checks.filter((c) => c.endsWith('a0')),
      ['0 a0', '1000 a0', '2000 a0', '3200 a0'],
    )
    assert.deepEqual(await route(pool, 2), ['a0', 'b0'])
    await pool.close()
  })

  test('a health check that hangs counts as failed after its timeout, and the hung check is aborted', T, async () => {
    const health = new Map<string, 'pass' | 'fail' | 'hang'>([['a', 'hang']])
    const signals: AbortSignal[] = []
    const { clock, pool, events } = setup({
      health,
      healthCheck: {
        check: (h: Handle, signal: AbortSignal) => {
          signals.push(signal)
          return h.name === 'a0' ? new Promise(() => {}) : Promise.resolve()
        },
      },
    })
    await clock.advance(199)
    assert.deepEqual(events, ['0 up b0'])
    assert.equal(signals[0]?.aborted, false)
    await clock.advance(1)
    assert.equal(signals[0]?.aborted, true)
    assert.equal(pool.members[0]?.isLive, false)
    await pool.close()
  })

  test('acquire leases a member exclusively; waiters are served oldest first, bounded in time and count', T, async () => {
    const { net, clock, pool } = setup({ endpoints: [A], maxWaiting: 2 })
    await clock.advance(1)
    const first = await pool.acquire()
    assert.equal(first.handle.name, 'a0')
    assert.equal(pool.members[0]?.isLeased, true)
    const order: string[] = []
    const second = pool.acquire().then((l) => {
      order.push('second')
      return l
    })
    const start = net.now
    const third = pool.acquire({ timeout: 100 }).catch((err: unknown) => err)
    await assert.rejects(pool.acquire(), (err: unknown) => err instanceof PoolUnavailableError && err.reason === 'queue-full' && err.waited === 0)
    await clock.advance(100)
    const timedOut = await third
    assert.ok(timedOut instanceof PoolUnavailableError)
    assert.equal(timedOut.reason, 'busy')
    assert.equal(timedOut.waited, 100)
    assert.equal(net.now - start, 100)
    first.release()
    first.release() // twice is once
    // A newcomer does not cut in line: the freed member went to `second`.
    const newcomer = pool.acquire({ timeout: 50 }).catch((err: unknown) => err)
    const lease = await second
    assert.deepEqual(order, ['second'])
    await clock.advance(50)
    assert.ok((await newcomer) instanceof PoolUnavailableError)
    lease.release()
    assert.equal(pool.members[0]?.isLeased, false)
    await pool.close()
  })

  test('run() skips leased members and acquire() waits for running requests to end', T, async () => {
    const { clock, pool } = setup()
    await clock.advance(1)
    const lease = await pool.acquire()
    assert.equal(lease.handle.name, 'a0')
    assert.deepEqual(await route(pool, 3), ['b0', 'b0', 'b0'])
    let finish: () => void = () => {}
    const running = pool.run((h) => new Promise<string>((resolve) => (finish = () => resolve(h.name))))
    await flush()
    let second: string | undefined
    const waiting = pool.acquire().then((l) => {
      second = l.handle.name
      return l
    })
    await clock.advance(10)
    assert.equal(second, undefined) // b0 runs a request, a0 is leased
    finish()
    assert.equal(await running, 'b0')
    ;(await waiting).release()
    assert.equal(second, 'b0')
    lease.release()
    await pool.close()
  })

  test('with() releases the lease when the function throws', T, async () => {
    const { clock, pool } = setup({ endpoints: [A] })
    await clock.advance(1)
    await assert.rejects(
      pool.with(() => {
        throw new Error('boom')
      }),
      /boom/,
    )
    assert.equal(pool.members[0]?.isLeased, false)
    assert.equal(await pool.with((h, endpoint) => `${h.name} ${letter(endpoint)}`), 'a0 a')
    await pool.close()
  })

  test('an aborted signal gives up the wait with its reason and frees the place in the queue', T, async () => {
    const { clock, pool } = setup({ endpoints: [A] })
    await clock.advance(1)
    const lease = await pool.acquire()
    const controller = new AbortController()
    const waiting = pool.acquire({ signal: controller.signal })
    assert.equal(pool.waiting, 1)
    controller.abort()
    await assert.rejects(waiting, (err: unknown) => err instanceof DOMException && err.name === 'AbortError')
    assert.equal(pool.waiting, 0)
    await assert.rejects(
      pool.run((h) => h.name, { signal: controller.signal }),
      { name: 'AbortError' },
    )
    lease.release()
    await pool.close()
  })

  test('close() rejects waiters with ClosedError, stops every Persistent and leaves no timer', T, async () => {
    const health = new Map<string, 'pass' | 'fail' | 'hang'>()
    const { net, clock, pool } = setup({ endpoints: [A], health })
    await clock.advance(1)
    const lease = await pool.acquire()
    const waiting = pool.acquire()
    const closing = pool.close()
    await assert.rejects(waiting, (err: unknown) => err instanceof ClosedError && err.code === 'RS_ERR_CLOSED')
    await net.settle()
    await closing
    assert.equal(pool.isClosed, true)
    assert.equal(clock.pending, 0)
    assert.ok(net.pairs.every((p) => p.client.isClosed))
    await assert.rejects(
      pool.run((h) => h.name),
      ClosedError,
    )
    await assert.rejects(pool.acquire(), ClosedError)
    lease.release() // after close: harmless
    assert.equal(pool.close(), closing)
  })

  test('fails waiting requests at once when every member gave up reconnecting', T, async () => {
    const net = new VirtualNetwork()
    const clock = new VirtualClock(net)
    const pool = new Pool({
      endpoints: [A],
      clock,
      create: (endpoint) => {
        const client = net.persistent(endpoint, Idle.create, { reconnect: (attempt) => (attempt < 3 ? 10 : null) })
        return { connection: client, handle: client }
      },
    })
    const start = net.now
    const request = pool.run(() => 'never')
    await clock.advance(30)
    await assert.rejects(request, (err: unknown) => err instanceof PoolUnavailableError && err.reason === 'down' && err.waited === 20)
    assert.equal(net.now - start, 30)
    await assert.rejects(
      pool.run(() => 'never'),
      PoolUnavailableError,
    ) // at once
    await pool.close()
  })

  test('validates every option with an InvalidArgumentError naming it', T, () => {
    const net = new VirtualNetwork()
    const create = (endpoint: Address) => {
      const client = net.persistent(endpoint, Idle.create)
      return { connection: client, handle: client }
    }
    const bad: [string, unknown][] = [
      ['options', null],
      ['options.endpoints', { endpoints: [], create }],
      ['options.endpoints', { endpoints: 'a:1', create }],
      ['options.create', { endpoints: [A] }],
      ['options.connectionsPerEndpoint', { endpoints: [A], create, connectionsPerEndpoint: 0 }],
      ['options.connectionsPerEndpoint', { endpoints: [A], create, connectionsPerEndpoint: 1.5 }],
      ['options.connectionsPerEndpoint', { endpoints: [A], create, connectionsPerEndpoint: 1025 }],
      ['options.choose', { endpoints: [A], create, choose: 'random' }],
      ['options.healthCheck', { endpoints: [A], create, healthCheck: () => true }],
      ['options.healthCheck.check', { endpoints: [A], create, healthCheck: {} }],
      ['options.healthCheck.interval', { endpoints: [A], create, healthCheck: { check: () => Promise.resolve(), interval: 0 } }],
      ['options.healthCheck.timeout', { endpoints: [A], create, healthCheck: { check: () => Promise.resolve(), timeout: -1 } }],
      ['options.waitTimeout', { endpoints: [A], create, waitTimeout: Number.NaN }],
      ['options.maxWaiting', { endpoints: [A], create, maxWaiting: -1 }],
      ['options.clock', { endpoints: [A], create, clock: 5 }],
      ['options.clock.setTimeout', { endpoints: [A], create, clock: { now: () => 0, clearTimeout: () => {} } }],
      ['member.connection', { endpoints: [A], create: () => ({ handle: 1 }) }],
      ['the member options.create returned', { endpoints: [A], create: () => undefined }],
      ['member.close', { endpoints: [A], create: (e: Address) => ({ ...create(e), close: 'now' }) }],
    ]
    for (const [name, options] of bad) {
      assert.throws(
        () => new Pool(options as PoolOptions<Address, unknown>),
        (err: unknown) => err instanceof InvalidArgumentError && err.code === 'RS_ERR_INVALID_ARG' && err.message.startsWith(`Pool: ${name} must be`),
        name,
      )
    }
  })

  test('stops the members made so far when create throws, and rethrows', T, () => {
    const net = new VirtualNetwork()
    const made: SimPersistent[] = []
    const boom = new Error('no more')
    assert.throws(
      () =>
        new Pool({
          endpoints: [A, B],
          create: (endpoint) => {
            if (made.length === 1) throw boom
            const client = net.persistent(endpoint, Idle.create)
            made.push(client)
            return { connection: client, handle: client }
          },
        }),
      (err: unknown) => err === boom,
    )
    assert.deepEqual(
      made.map((c) => c.state),
      ['stopped'],
    )
  })

  test('validates the options of a call', T, async () => {
    const { clock, pool } = setup()
    await clock.advance(1)
    await assert.rejects(
      pool.run((h) => h.name, { timeout: -1 }),
      /Pool.run: options.timeout must be/,
    )
    await assert.rejects(pool.acquire({ signal: 'x' as unknown as AbortSignal }), /Pool.acquire: options.signal must be/)
    await assert.rejects(
      pool.with((h) => h.name, null as unknown as undefined),
      /Pool.with: options must be/,
    )
    await assert.rejects(pool.run(5 as unknown as () => 1), /Pool.run: fn must be a function/)
    await pool.close()
  })
})
