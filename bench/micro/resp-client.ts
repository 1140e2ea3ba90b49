/**
 * The RESP client without sockets: ns per command for examples/redis-client.ts on the engine,
 * against the hand-written pipelined client of bench/resp-client/client.ts (its encoding and
 * parsing, one promise per batch), on the e2e workload: 32 SETs issued together, their 32
 * `+OK` replies in one read, then the 32 GETs and their 16-byte bulk replies in one read.
 *
 *     node --conditions=rotor-stream-source --import tsx bench/micro/resp-client.ts
 *
 * Knobs: BATCHES (per run, 2,000), REPEAT (runs, best kept, 15), BATCH (commands per batch, 32),
 * ONLY (`rotor` or `hand`: run one side, e.g. under `--cpu-prof` or `--trace-gc`).
 */
import { RedisClient } from '../../examples/redis-client.js'
import { handPipeline } from '../resp-client/hand-client.js'
import { NullEngine } from './null-engine.js'

const BATCH = Number(process.env.BATCH ?? 32)
const BATCHES = Number(process.env.BATCHES ?? 2000)
const VALUE = 'v'.repeat(16)
const KEYS = Array.from({ length: 10_000 }, (_, i) => `key:${i}`)
const OKS = Buffer.from('+OK\r\n'.repeat(BATCH))
const VALUES = Buffer.from(`$16\r\n${VALUE}\r\n`.repeat(BATCH))

/** A client whose Persistent never connects (it gives up at once): commands only queue. */
function detachedClient(): RedisClient {
  return new RedisClient({ path: '/nonexistent/rotor-micro.sock' }, { reconnect: () => null, maxOfflineQueue: 1e9 })
}

async function rotorRun(client: RedisClient, engine: NullEngine): Promise<number> {
  let key = 0
  const started = process.hrtime.bigint()
  for (let b = 0; b < BATCHES; b++) {
    const first = key
    const sets: Promise<unknown>[] = []
    for (let i = 0; i < BATCH; i++) sets.push(client.command('SET', KEYS[key++ % KEYS.length] as string, VALUE))
    engine.wake()
    engine.feed(OKS)
    await Promise.all(sets)
    const gets: Promise<unknown>[] = []
    for (let i = 0; i < BATCH; i++) gets.push(client.command('GET', KEYS[(first + i) % KEYS.length] as string))
    engine.wake()
    engine.feed(VALUES)
    const values = await Promise.all(gets)
    if (values[0] !== VALUE) throw new Error(`rotor: GET returned ${String(values[0])}`)
  }
  return Number(process.hrtime.bigint() - started) / (BATCHES * BATCH * 2)
}

/** bench/resp-client/client.ts's hand-written client without the socket: the same code (hand-client.ts). */
async function handRun(): Promise<number> {
  let written = 0
  const hand = handPipeline((commands) => {
    written += Buffer.from(commands).length // socket.write(string) encodes it
  })
  let key = 0
  const started = process.hrtime.bigint()
  for (let b = 0; b < BATCHES; b++) {
    const keys: string[] = []
    for (let i = 0; i < BATCH; i++) keys.push(KEYS[key++ % KEYS.length] as string)
    const sets = hand.sets(keys, VALUE)
    hand.onData(OKS)
    await sets
    const gets = hand.gets(keys)
    hand.onData(VALUES)
    const values = await gets
    if (values[0] !== VALUE) throw new Error(`hand: GET returned ${String(values[0])}`)
  }
  if (written === 0) throw new Error('nothing written')
  return Number(process.hrtime.bigint() - started) / (BATCHES * BATCH * 2)
}

const client = detachedClient()
const engine = new NullEngine()
engine.begin(client.factory)
// Alternate and keep the best of each: the minimum is what the code costs when the machine does
// not interfere (this runs on shared, noisy machines).
const only = process.env.ONLY
const best = { rotor: Number.POSITIVE_INFINITY, hand: Number.POSITIVE_INFINITY }
for (let r = 0; r < Number(process.env.REPEAT ?? 15); r++) {
  if (only !== 'hand') best.rotor = Math.min(best.rotor, await rotorRun(client, engine))
  if (only !== 'rotor') best.hand = Math.min(best.hand, await handRun())
}
const ratio = Number.isFinite(best.hand / best.rotor) ? ` · ratio ${(best.hand / best.rotor).toFixed(2)}` : ''
console.log(`per command, best of runs (batches of ${BATCH}): rotor ${best.rotor.toFixed(0)} ns · hand-written ${best.hand.toFixed(0)} ns${ratio}`)
await client.close()
