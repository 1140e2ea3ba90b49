/**
 * Load of the RESP client scenario, one client library per process, connected once:
 *
 *     node client.ts <rotor|rotor-notimeout|hand|ioredis|ioredis-auto|node-redis|node-redis-default> <port>
 *
 * Prints `ready` once connected; then each line `<ops> <batch>` on stdin is one run: `batch`
 * SETs issued together (Promise.all, as users pipeline), then `batch` GETs of the same keys,
 * until `ops` commands ran; with batch 1 every command is awaited before the next. GET replies
 * are checked. Each run prints `result {"ops":…,"seconds":…,"cpu":…}` (cpu: µs of this process, user + system).
 */
import net from 'node:net'
import { createInterface } from 'node:readline'
import { handPipeline } from './hand-client.js'

/** What every client is driven through: one batch of SETs, one batch of GETs. */
interface Driver {
  sets(keys: readonly string[], value: string): Promise<unknown>
  gets(keys: readonly string[]): Promise<readonly unknown[]>
  close(): Promise<void>
}

const [kind, port] = [process.argv[2] ?? 'rotor', Number(process.argv[3])]
const VALUE = 'v'.repeat(16)
/** Distinct keys; batches walk through them. */
const KEYS = Array.from({ length: 10_000 }, (_, i) => `key:${i}`)

/** Applies `one` to each key: awaited alone for one key (no Promise.all), together otherwise. */
function each<T>(keys: readonly string[], one: (key: string) => Promise<T>): Promise<readonly T[]> {
  if (keys.length === 1) return one(keys[0] as string).then((r) => [r])
  return Promise.all(keys.map(one))
}

// Each client library is imported only by the runs that use it: process start-up stays short.
async function rotorDriver(withTimeout: boolean): Promise<Driver> {
  const { RedisClient } = await import('../../examples/redis-client.js')
  // Default options: a 10 s command timeout, kept per command. `rotor-notimeout` turns it off.
  const client = new RedisClient({ host: '127.0.0.1', port }, withTimeout ? {} : { commandTimeout: Number.POSITIVE_INFINITY })
  return {
    sets: (keys, value) => each(keys, (k) => client.command('SET', k, value)),
    gets: (keys) => each(keys, (k) => client.command('GET', k)),
    close: () => client.close(),
  }
}

async function ioredisDriver(autoPipelining: boolean): Promise<Driver> {
  const { Redis } = await import('ioredis')
  const client = new Redis({ host: '127.0.0.1', port, enableAutoPipelining: autoPipelining, lazyConnect: true })
  await client.connect()
  return {
    sets: (keys, value) => each(keys, (k) => client.set(k, value)),
    gets: (keys) => each(keys, (k) => client.get(k)),
    close: async () => {
      await client.quit()
    },
  }
}

/**
 * node-redis. Its default command timeout (5 s) arms an `AbortSignal.timeout()` per command,
 * which costs it most of its throughput; `withTimeout: false` turns it off (the strong baseline).
 */
async function nodeRedisDriver(withTimeout: boolean): Promise<Driver> {
  const { createClient } = await import('redis')
  const client = createClient({ socket: { host: '127.0.0.1', port }, ...(withTimeout ? {} : { commandOptions: { timeout: 0 } }) })
  client.on('error', (err: unknown) => {
    throw err
  })
  await client.connect()
  return {
    sets: (keys, value) => each(keys, (k) => client.set(k, value)),
    gets: (keys) => each(keys, (k) => client.get(k)),
    close: async () => {
      client.destroy()
    },
  }
}

/**
 * The hand-written pipelined client, written for speed: a batch is encoded into one string and
 * sent with one write; replies are parsed from one accumulated buffer with `indexOf`, and one
 * promise per batch settles with all its replies.
 */
function handDriver(): Promise<Driver> {
  const socket = net.connect({ host: '127.0.0.1', port })
  socket.setNoDelay(true)
  const pipeline = handPipeline((commands) => socket.write(commands))
  socket.on('data', pipeline.onData)
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.once('connect', () =>
      resolve({
        sets: pipeline.sets,
        gets: pipeline.gets,
        close: async () => {
          socket.destroy()
        },
      }),
    )
  })
}

async function driver(): Promise<Driver> {
  switch (kind) {
    case 'rotor':
      return rotorDriver(true)
    case 'rotor-notimeout':
      return rotorDriver(false)
    case 'hand':
      return handDriver()
    case 'ioredis':
      return ioredisDriver(false)
    case 'ioredis-auto':
      return ioredisDriver(true)
    case 'node-redis':
      return nodeRedisDriver(false)
    case 'node-redis-default':
      return nodeRedisDriver(true)
    default:
      throw new Error(`unknown client ${kind}`)
  }
}

/** Runs `count` commands: alternately `batch` SETs and the GETs of the same keys. */
async function workload(d: Driver, count: number, batch: number): Promise<void> {
  let key = 0
  for (let done = 0; done < count; ) {
    const n = Math.max(1, Math.min(batch, (count - done) >> 1))
    const keys: string[] = []
    for (let i = 0; i < n; i++) keys.push(KEYS[key++ % KEYS.length] as string)
    await d.sets(keys, VALUE)
    const values = await d.gets(keys)
    if (values.length !== n || values.some((v) => v !== VALUE)) throw new Error(`${kind}: GET returned ${String(values[0])}`)
    done += 2 * n
  }
}

const d = await driver()
process.stdout.write('ready\n')
for await (const line of createInterface({ input: process.stdin })) {
  const [ops, batch] = line.split(' ').map(Number) as [number, number]
  const [started, cpu0] = [performance.now(), process.cpuUsage()]
  await workload(d, ops, batch)
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu0)
  // CPU in µs, user and system: finer than /proc's 10 ms ticks.
  process.stdout.write(`result ${JSON.stringify({ ops, seconds, cpu: used.user + used.system })}\n`)
}
await d.close()
process.exit(0)
