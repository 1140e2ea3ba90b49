/**
 * RESP server scenario: `redis-benchmark -P 32 -c 50` (PING inline and multi-bulk, SET, GET) on
 * core 1 against three servers on core 0, all up side by side: examples/redis-server.ts
 * (rotor-stream), bench/resp/hand-server.ts (hand-written node:net) and a real redis-server.
 * One redis-benchmark process per test and server, so server CPU per request is per test.
 * Knobs: ROUNDS (5), RESP_REQUESTS (500000 per test and run).
 */
import { alternate, freePort, knob, launch, launchRedisServer, median, nodeScript, rounds, runOnLoadCore, type ServerProcess } from '../lib.js'
import type { Row, ScenarioResult } from '../report.js'

const REQUESTS = knob('RESP_REQUESTS', 500_000)
const TESTS = ['ping_inline', 'ping_mbulk', 'set', 'get'] as const
const SUBJECTS = ['rotor', 'hand', 'redis'] as const
type Subject = (typeof SUBJECTS)[number]
const LABELS: Readonly<Record<Subject, string>> = {
  rotor: 'rotor-stream (examples/redis-server.ts)',
  hand: 'hand-written node:net (bench/resp)',
  redis: 'redis-server',
}

/** One redis-benchmark run: requests per second, latency percentiles (ms), server CPU. */
export interface RespRun {
  rps: number
  p50: number
  p99: number
  /** Server CPU per request, µs. */
  cpu: number
}

/** One `redis-benchmark -P 32 -c 50` run of one test on the load core; its CSV line has rps and latency percentiles. */
export async function redisBenchmark(server: ServerProcess, test: string, requests: number): Promise<RespRun> {
  const before = server.cpuTime()
  const out = await runOnLoadCore([
    'redis-benchmark',
    '-h',
    '127.0.0.1',
    '-p',
    String(server.port),
    '-P',
    '32',
    '-c',
    '50',
    '-t',
    test,
    '-n',
    String(requests),
    '--csv',
  ])
  const cpu = server.cpuTime() - before
  const line = out
    .trim()
    .split('\n')
    .find((l) => !l.startsWith('"test"'))
  const fields = line?.split(',').map((f) => f.replaceAll('"', '')) ?? []
  const rps = Number(fields[1])
  if (!(rps > 0)) throw new Error(`redis-benchmark ${test} against ${server.name}: unexpected output\n${out}`)
  return { rps, p50: Number(fields[4]), p99: Number(fields[6]), cpu: cpu / requests }
}

export async function respServer(): Promise<ScenarioResult> {
  const servers = new Map<Subject, ServerProcess>()
  const results = new Map<string, RespRun[]>()
  try {
    servers.set('rotor', await launch('rotor RESP', nodeScript('examples/redis-server.ts', ['--port', '0']), { ready: /^listening on \S+:(\d+)/ }))
    servers.set('hand', await launch('hand RESP', nodeScript('bench/resp/hand-server.ts'), { ready: /^listening (\d+)/ }))
    servers.set('redis', await launchRedisServer(await freePort()))
    for (const test of TESTS) {
      const runs = await alternate(rounds(9), SUBJECTS, async (subject, round) =>
        redisBenchmark(servers.get(subject as Subject) as ServerProcess, test, round < 0 ? Math.ceil(REQUESTS / 4) : REQUESTS),
      )
      for (const [subject, list] of runs) results.set(`${subject}/${test}`, list)
    }
  } finally {
    for (const [, server] of servers) await server.stop()
  }
  const rows: Row[] = []
  for (const test of TESTS) {
    for (const subject of SUBJECTS) {
      const list = results.get(`${subject}/${test}`) ?? []
      rows.push({
        group: `RESP server · ${test.toUpperCase()} -P 32 -c 50`,
        subject: LABELS[subject],
        isOurs: subject === 'rotor',
        unit: 'req/s',
        samples: list.map((r) => r.rps),
        notes: `p50 ${median(list.map((r) => r.p50)).toFixed(3)} ms · p99 ${median(list.map((r) => r.p99)).toFixed(3)} ms`,
        cost: { label: 'server CPU', unit: 'µs/req', samples: list.map((r) => r.cpu) },
        target: subject === 'hand' ? { kind: 'min', value: 0.95 } : subject === 'redis' ? { kind: 'min', value: 0.85 } : undefined,
      })
    }
  }
  return {
    rows,
    notes: [
      `resp-server: \`redis-benchmark -P 32 -c 50 -t <test> -n ${REQUESTS} --csv\` on core 1, one run per test, server on core 0 (redis-server ${'--save "" --appendonly no'}); ${rounds(9)} rounds after a warm-up run. Server CPU from /proc (10 ms ticks).`,
    ],
  }
}
