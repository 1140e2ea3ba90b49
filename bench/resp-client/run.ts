/**
 * RESP client scenario: a real redis-server on core 0; on core 1, one process per run drives
 * one client (bench/resp-client/client.ts): examples/redis-client.ts (rotor-stream), a
 * hand-written pipelined client, ioredis, node-redis (with and without its default per-command
 * timeout). SETs then GETs of the same keys, in batches of 32 and one at a time.
 * Knobs: ROUNDS (5), RESP_CLIENT_OPS (100000 commands per batched run), RESP_SERIAL_OPS (10000
 * commands per one-at-a-time run).
 */
import { alternate, freePort, knob, launchRedisServer, NODE_TS, rounds, runOnLoadCore, type ServerProcess } from '../lib.js'
import type { Row, ScenarioResult, Target } from '../report.js'

const OPS = knob('RESP_CLIENT_OPS', 100_000)
const SERIAL_OPS = knob('RESP_SERIAL_OPS', 10_000)
const SUBJECTS = ['rotor', 'hand', 'ioredis', 'node-redis', 'node-redis-default'] as const
type Subject = (typeof SUBJECTS)[number]
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
  return { kind: 'min', value: subject === 'ioredis' ? 2.0 : subject === 'node-redis' ? 1.4 : 0.9 }
}

async function measure(redis: ServerProcess, subject: string, ops: number, batch: number): Promise<{ rate: number; cpu: number }> {
  const before = redis.cpuTime()
  const out = await runOnLoadCore([process.execPath, ...NODE_TS, 'bench/resp-client/client.ts', subject, String(redis.port), String(ops), String(batch)])
  const cpu = redis.cpuTime() - before
  const result = JSON.parse(out) as { ops: number; seconds: number }
  return { rate: result.ops / result.seconds, cpu }
}

export async function respClient(): Promise<ScenarioResult> {
  const redis = await launchRedisServer(await freePort())
  const rows: Row[] = []
  try {
    for (const batch of [32, 1]) {
      const ops = batch === 1 ? SERIAL_OPS : OPS
      const results = await alternate(rounds(), SUBJECTS, (subject, round) => measure(redis, subject, round < 0 ? Math.ceil(ops / 5) : ops, batch))
      for (const subject of SUBJECTS) {
        rows.push({
          group: batch === 1 ? 'RESP client · SET/GET one at a time' : `RESP client · SET/GET in batches of ${batch}`,
          subject: LABELS[subject],
          isOurs: subject === 'rotor',
          unit: 'ops/s',
          samples: (results.get(subject) ?? []).map((r) => r.rate),
          target: target(subject, batch),
        })
      }
    }
  } finally {
    await redis.stop()
  }
  return {
    rows,
    notes: [
      `resp-client: redis-server on core 0, one client process per run on core 1; a run is ${OPS} commands in batches of 32 (32 SETs issued together with Promise.all, then the 32 GETs of the same keys, values checked) or ${SERIAL_OPS} commands one at a time (each awaited), after an in-process warm-up of a fifth as many; ${rounds()} rounds after a warm-up run each. 16-byte values, 10,000 keys. The hand-written client encodes a batch into one write and settles one promise per batch; the others settle one promise per command. node-redis's default per-command timeout arms an AbortSignal.timeout() for every command, so it is shown both ways.`,
    ],
  }
}
