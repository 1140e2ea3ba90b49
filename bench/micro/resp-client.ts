/**
 * The RESP client without sockets: ns per command for examples/redis-client.ts on the engine,
 * against the hand-written pipelined client of bench/resp-client/client.ts (its encoding and
 * parsing, one promise per batch), on the e2e workload: 32 SETs issued together, their 32
 * `+OK` replies in one read, then the 32 GETs and their 16-byte bulk replies in one read.
 *
 *     node --conditions=source --import tsx bench/micro/resp-client.ts
 *
 * Knobs: BATCHES (per run, 2,000), REPEAT (runs, best kept, 15), BATCH (commands per batch, 32),
 * ONLY (`rotor` or `hand`: run one side, e.g. under `--cpu-prof` or `--trace-gc`).
 */
import { RedisClient } from '../../examples/redis-client.js'
import { Engine } from '../../src/engine.js'
import type { Factory } from '../../src/protocol.js'

class NullEngine extends Engine {
  readonly remoteAddress = undefined
  readonly remotePort = undefined
  readonly localAddress = undefined
  readonly localPort = undefined
  written = 0
  clock(): number {
    return performance.now()
  }
  halfClose(): void {}
  protected ioWrite(data: Buffer): void {
    this.written += data.length
  }
  protected ioUnwritten(): number {
    return 0
  }
  protected ioSetReading(): void {}
  protected ioArmTimer(): void {}
  protected ioScheduleWakeup(): void {}
  protected ioFinish(): void {}
  protected ioDestroy(): void {}
  begin(factory: Factory): void {
    this.start(factory, undefined)
  }
  feed(chunk: Buffer): void {
    this.onData(chunk)
  }
  /** What the wakeup microtask does, run now. */
  wake(): void {
    this.notifier()()
    this.onWakeup()
  }
}

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

/** bench/resp-client/client.ts's handDriver without the socket. */
async function handRun(): Promise<number> {
  const waiting: { count: number; replies: unknown[]; resolve: (replies: unknown[]) => void }[] = []
  let pending: Buffer | null = null
  let written = 0
  const onData = (chunk: Buffer): void => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk])
    let pos = 0
    for (;;) {
      const head = waiting[0]
      if (head === undefined) break
      const lf = buf.indexOf(0x0a, pos)
      if (lf < 0) break
      const type = buf[pos]
      let reply: unknown
      let next = lf + 1
      if (type === 0x24) {
        const length = Number(buf.toString('latin1', pos + 1, lf - 1))
        if (length < 0) reply = null
        else {
          if (next + length + 2 > buf.length) break
          reply = buf.toString('utf8', next, next + length)
          next += length + 2
        }
      } else if (type === 0x2b) reply = buf.toString('latin1', pos + 1, lf - 1)
      else if (type === 0x3a) reply = Number(buf.toString('latin1', pos + 1, lf - 1))
      else reply = new Error(buf.toString('latin1', pos + 1, lf - 1))
      pos = next
      head.replies.push(reply)
      if (head.replies.length === head.count) {
        waiting.shift()
        head.resolve(head.replies)
      }
    }
    pending = pos < buf.length ? buf.subarray(pos) : null
  }
  const send = (commands: string, count: number): Promise<unknown[]> =>
    new Promise((resolve) => {
      waiting.push({ count, replies: [], resolve })
      written += Buffer.from(commands).length // socket.write(string) encodes it
    })
  const encode = (args: readonly string[]): string => {
    let s = `*${args.length}\r\n`
    for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
    return s
  }
  let key = 0
  const started = process.hrtime.bigint()
  for (let b = 0; b < BATCHES; b++) {
    const keys: string[] = []
    for (let i = 0; i < BATCH; i++) keys.push(KEYS[key++ % KEYS.length] as string)
    let s = ''
    for (const k of keys) s += encode(['SET', k, VALUE])
    const sets = send(s, BATCH)
    onData(OKS)
    await sets
    s = ''
    for (const k of keys) s += encode(['GET', k])
    const gets = send(s, BATCH)
    onData(VALUES)
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
