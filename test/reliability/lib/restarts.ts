/**
 * The RESP client (examples/redis-client.ts) under a server that is killed (SIGKILL, a crash)
 * and restarted again and again while commands keep coming at a steady pace. Every command
 * must settle: with its own reply (ECHO of a unique id, so a reply matched to the wrong command
 * shows), or with a clear rejection (`ClosedError` for commands already written when the
 * connection dropped). Commands issued while the server is down wait in the offline queue and
 * must all get their reply after the reconnect: nothing queued offline is lost. No unhandled
 * rejection or uncaught exception may happen meanwhile.
 */
import { performance } from 'node:perf_hooks'
import { RedisClient } from '../../../examples/redis-client.js'
import { freePort } from '../../helpers/net.js'
import { type RealRedis, startRealRedis } from '../../helpers/redis.js'
import { Problems, percentile, type ScenarioResult } from './metrics.js'

type Outcome = Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>

/** Options of {@link serverRestarts}. */
export interface RestartOptions {
  /** Kill-and-restart cycles. */
  restarts: number
  /** Commands issued every tick, from the first to the last cycle. */
  perTick: number
  /** ms between ticks. */
  tick: number
  /** Ticks of steady traffic between a reconnect and the next kill. */
  ticksUp: number
}

/** One command's fate. */
interface Tracked {
  readonly id: number
  /** Issued while the client was not connected: it must not be lost. */
  readonly offline: boolean
  settled: 'pending' | 'reply' | 'closed' | 'wrong'
  latency: number
}

export async function serverRestarts(options: RestartOptions): Promise<Outcome> {
  const problems = new Problems()
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason)
  }
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtException', onUnhandled)
  const port = await freePort()
  let redis: RealRedis = await startRealRedis(port)
  const client = new RedisClient({ host: '127.0.0.1', port }, { reconnect: { initialDelay: 5, maxDelay: 50, jitter: 0 }, maxOfflineQueue: 1_000_000 })
  const tracked: Tracked[] = []
  const inFlight = new Set<Promise<void>>()
  let nextId = 0
  const issue = (): void => {
    const command: Tracked = { id: nextId++, offline: client.connection.state !== 'connected', settled: 'pending', latency: 0 }
    tracked.push(command)
    const start = performance.now()
    const done = client.command('ECHO', String(command.id)).then(
      (reply) => {
        command.settled = reply === String(command.id) ? 'reply' : 'wrong'
        command.latency = performance.now() - start
        if (command.settled === 'wrong') problems.add(`ECHO ${command.id} got ${JSON.stringify(reply)}`)
      },
      (err: unknown) => {
        const code = (err as { code?: string }).code
        if (code === 'RS_ERR_CLOSED' && !command.offline) command.settled = 'closed'
        else {
          command.settled = 'wrong'
          problems.add(`ECHO ${command.id}${command.offline ? ' (queued offline)' : ''} rejected: ${String(err)}`)
        }
      },
    )
    const settled = done.finally(() => inFlight.delete(settled))
    inFlight.add(settled)
  }
  // The steady load: every tick, a few commands, whatever the connection is doing.
  const ticker = setInterval(() => {
    for (let i = 0; i < options.perTick; i++) issue()
  }, options.tick)
  /** Resolves after `n` ticks of the steady load (the load's own clock). */
  const ticks = (n: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, n * options.tick))
  let kills = 0
  try {
    for (let cycle = 0; cycle < options.restarts; cycle++) {
      await waitConnected(client)
      await ticks(options.ticksUp)
      await redis.stop(true) // SIGKILL: replies in flight are lost with it
      kills++
      await ticks(2) // commands keep coming while the server is down: they wait offline
      const offlineBefore = tracked.filter((c) => c.offline).length
      redis = await startRealRedis(port)
      await waitConnected(client)
      // Everything queued offline so far must now be answered, before the next kill.
      await settle(
        tracked.filter((c) => c.offline),
        inFlight,
      )
      const lostOffline = tracked.filter((c) => c.offline && c.settled !== 'reply').length
      if (lostOffline > 0) problems.add(`cycle ${cycle}: ${lostOffline} commands queued offline did not get their reply (${offlineBefore} queued so far)`)
    }
  } finally {
    clearInterval(ticker)
    await Promise.allSettled([...inFlight])
    await client.close()
    await redis.stop()
    process.removeListener('unhandledRejection', onUnhandled)
    process.removeListener('uncaughtException', onUnhandled)
  }
  for (const u of unhandled) problems.add(`unhandled: ${String(u)}`)
  const pending = tracked.filter((c) => c.settled === 'pending').length
  if (pending > 0) problems.add(`${pending} commands never settled`)
  const replied = tracked.filter((c) => c.settled === 'reply')
  const closed = tracked.filter((c) => c.settled === 'closed').length
  const offline = tracked.filter((c) => c.offline).length
  const latencies = replied.map((c) => c.latency)
  return {
    name: 'RESP client vs server kill -9 and restart',
    unit: 'restarts',
    cases: options.restarts,
    faults: kills,
    errors: problems.count,
    bytesLost: tracked.filter((c) => c.settled === 'pending' || c.settled === 'wrong').length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    notes: `${tracked.length} commands: ${replied.length} answered, ${closed} rejected in flight (ClosedError), ${offline} queued offline, all answered`,
    samples: problems.samples,
  }
}

/** Resolves once the client is connected (at once if it is). */
function waitConnected(client: RedisClient): Promise<void> {
  if (client.connection.state === 'connected') return Promise.resolve()
  return new Promise((resolve) => client.connection.once('connect', () => resolve()))
}

/** Resolves once none of `commands` is pending, awaiting the settling of in-flight commands. */
async function settle(commands: readonly Tracked[], inFlight: Set<Promise<void>>): Promise<void> {
  while (commands.some((c) => c.settled === 'pending') && inFlight.size > 0) await Promise.race([...inFlight])
}
