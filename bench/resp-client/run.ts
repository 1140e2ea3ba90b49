/**
 * RESP client scenario: a real redis-server on core 0; on core 1, one process per run drives
 * one client (bench/resp-client/client.ts): examples/redis-client.ts (rotor-stream), a
 * hand-written pipelined client, ioredis, node-redis (with and without its default per-command
 * timeout). SETs then GETs of the same keys, in batches of 32 and one at a time.
 * Knobs: ROUNDS (5), RESP_CLIENT_OPS (100000 commands per batched run), RESP_SERIAL_OPS (10000
 * commands per one-at-a-time run); for A/B work on one comparison, RESP_CLIENT_SUBJECTS (a comma
 * list, e.g. `rotor,hand`; default all) and RESP_CLIENT_BATCHES (e.g. `32`; default `32,1`).
 */
import { alternate, freePort, knob, launch, launchRedisServer, median, nodeScript, rounds, type ServerProcess } from '../lib.js'
import type { Row, ScenarioResult, Target } from '../report.js'

const OPS = knob('RESP_CLIENT_OPS', 100_000)
const SERIAL_OPS = knob('RESP_SERIAL_OPS', 10_000)
const ALL_SUBJECTS = ['rotor', 'hand', 'ioredis', 'node-redis', 'node-redis-default'] as const
type Subject = (typeof ALL_SUBJECTS)[number]
const SUBJECTS = listKnob('RESP_CLIENT_SUBJECTS', ALL_SUBJECTS)
const BATCHES = listKnob('RESP_CLIENT_BATCHES', ['32', '1'] as const).map(Number)

/** A comma list from the environment, each item one of `all`; `all` when unset. */
function listKnob<T extends string>(name: string, all: readonly T[]): readonly T[] {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return all
  const picked = raw.split(',').map((s) => s.trim())
  for (const item of picked) if (!(all as readonly string[]).includes(item)) throw new Error(`${name}: ${item} is not one of ${all.join(', ')}`)
  return picked as T[]
}
const LABELS: Readonly<Record<Subject, string>> = {
  rotor: 'rotor-stream (examples/redis-client.ts)',
  hand: 'hand-written pipelined node:net client',
  ioredis: 'ioredis (defaults)',
  'node-redis': 'node-redis (commandOptions.timeout 0)',
  'node-redis-default': 'node-redis (defaults: 5 s command timeout)',
}

/** The targets on ours / this, per mode. */
function target(subject: Subject, batch: number): Target | undefined {
  if (subject === 'rotor') return undefined
  if (subject === 'node-redis-default') return { kind: 'report', text: 'report' }
  if (batch === 1) return subject === 'hand' ? { kind: 'report', text: 'report' } : { kind: 'min', value: 1.0 }
  return { kind: 'min', value: subject === 'ioredis' ? 2.0 : subject === 'node-redis' ? 1.4 : 0.95 }
}

interface Run {
  rate: number
  /** CPU per command, µs, of the client process and of redis-server. */
  clientCpu: number
  serverCpu: number
}

/** One run in a client process that stays connected between runs. */
async function measure(redis: ServerProcess, client: ServerProcess, ops: number, batch: number): Promise<Run> {
  const server0 = redis.cpuTime()
  const line = client.nextLine(/^result /, 600_000)
  client.send(`${ops} ${batch}`)
  const result = JSON.parse((await line).input.slice('result '.length)) as { ops: number; seconds: number; cpu: number }
  // The client's own measure of its CPU (µs precision); redis-server's from /proc ticks.
  return { rate: result.ops / result.seconds, clientCpu: result.cpu / ops, serverCpu: (redis.cpuTime() - server0) / ops }
}

export async function respClient(): Promise<ScenarioResult> {
  const redis = await launchRedisServer(await freePort())
  const clients = new Map<string, ServerProcess>()
  const rows: Row[] = []
  try {
    for (const subject of SUBJECTS) {
      const command = nodeScript('bench/resp-client/client.ts', [subject, String(redis.port)])
      clients.set(subject, await launch(`${subject} client`, command, { ready: /^ready/, port: redis.port, cpu: 1 }))
    }
    for (const batch of BATCHES) {
      const ops = batch === 1 ? SERIAL_OPS : OPS
      const results = await alternate(rounds(9), SUBJECTS, (subject, round) =>
        measure(redis, clients.get(subject) as ServerProcess, round < 0 ? Math.ceil(ops / 5) : ops, batch),
      )
      for (const subject of SUBJECTS) {
        const list = results.get(subject) ?? []
        rows.push({
          group: batch === 1 ? 'RESP client · SET/GET one at a time' : `RESP client · SET/GET in batches of ${batch}`,
          subject: LABELS[subject],
          isOurs: subject === 'rotor',
          unit: 'ops/s',
          samples: list.map((r) => r.rate),
          notes: `redis-server CPU ${median(list.map((r) => r.serverCpu)).toFixed(2)} µs/op`,
          cost: { label: 'client CPU', unit: 'µs/op', samples: list.map((r) => r.clientCpu) },
          target: target(subject, batch),
        })
      }
    }
  } finally {
    for (const [, client] of clients) await client.stop()
    await redis.stop()
  }
  return {
    rows,
    notes: [
      `resp-client: redis-server on core 0, one process per client library on core 1, connected once and driven run by run over stdin; a run is ${OPS} commands in batches of 32 (32 SETs issued together with Promise.all, then the 32 GETs of the same keys, values checked) or ${SERIAL_OPS} commands one at a time (each awaited); ${rounds(9)} rounds after a warm-up run of a fifth as many each. Client CPU per command from process.cpuUsage() in the client, redis-server's from /proc (10 ms ticks). 16-byte values, 10,000 keys. The hand-written client encodes a batch into one write and settles one promise per batch; the others settle one promise per command. node-redis's default per-command timeout arms an AbortSignal.timeout() for every command, so it is shown both ways.`,
    ],
  }
}
