/**
 * HTTP scenario: keep-alive hello world under `wrk -t1 -c50` on core 1 against servers on core
 * 0, all up side by side: examples/http-server.ts (rotor-stream; included when the file exists),
 * node:http, and a minimal hand-written responder (bench/http/server.ts).
 * Knobs: ROUNDS (5), HTTP_SECONDS (3 per wrk run), HTTP_CONNECTIONS (50).
 */
import { alternate, exists, knob, launch, median, nodeScript, rounds, runOnLoadCore, type ServerProcess } from '../lib.js'
import type { Row, ScenarioResult } from '../report.js'

const SECONDS = knob('HTTP_SECONDS', 3)
const CONNECTIONS = knob('HTTP_CONNECTIONS', 50)

interface Subject {
  readonly label: string
  readonly command: readonly string[]
  readonly isOurs: boolean
}

const SUBJECTS: readonly Subject[] = [
  ...(exists('examples/http-server.ts')
    ? [{ label: 'rotor-stream (examples/http-server.ts)', command: nodeScript('examples/http-server.ts', ['--port', '0']), isOurs: true }]
    : []),
  { label: 'node:http', command: nodeScript('bench/http/server.ts', ['node-http']), isOurs: false },
  { label: 'hand-written node:net responder', command: nodeScript('bench/http/server.ts', ['hand']), isOurs: false },
]

interface Run {
  rps: number
  p50: number
  p99: number
  /** Server CPU per request, µs. */
  cpu: number
  /** wrk's error lines (non-2xx answers, socket errors), if any. */
  errors: string
}

/** wrk prints latencies as `1.23ms`, `456.00us`, `1.01s`. */
function toMs(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? '')
  if (m === null) return Number.NaN
  const scale = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 }[m[2] as 'us' | 'ms' | 's' | 'm']
  return Number(m[1]) * scale
}

async function wrk(server: ServerProcess, seconds: number): Promise<Run> {
  const before = server.cpuTime()
  const out = await runOnLoadCore(['wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${server.port}/`])
  const cpu = server.cpuTime() - before
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const total = Number(/(\d+) requests in/.exec(out)?.[1])
  if (!(rps > 0)) throw new Error(`wrk against ${server.name}: unexpected output\n${out}`)
  const errors = out
    .split('\n')
    .filter((l) => /Non-2xx|Socket errors/.test(l))
    .map((l) => l.trim())
    .join('; ')
  return { rps, p50: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]), p99: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]), cpu: cpu / total, errors }
}

/** Refuses to measure a server that does not answer `GET /` with 200 and a body. */
async function check(server: ServerProcess): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${server.port}/`)
  const body = await response.text()
  if (response.status !== 200 || body.length === 0) throw new Error(`${server.name}: GET / answered ${response.status} ${JSON.stringify(body)}`)
}

export async function http(): Promise<ScenarioResult> {
  const servers = new Map<string, ServerProcess>()
  let results: Map<string, Run[]>
  try {
    for (const s of SUBJECTS) {
      const server = await launch(s.label, s.command, { ready: /^listening (?:on \S+:)?(\d+)/ })
      servers.set(s.label, server)
      await check(server)
    }
    results = await alternate(
      rounds(),
      SUBJECTS.map((s) => s.label),
      (label, round) => wrk(servers.get(label) as ServerProcess, round < 0 ? 1 : SECONDS),
    )
  } finally {
    for (const [, server] of servers) await server.stop()
  }
  const rows = SUBJECTS.map((s): Row => {
    const list = results.get(s.label) ?? []
    const errors = [...new Set(list.map((r) => r.errors).filter((e) => e !== ''))].join('; ')
    return {
      group: `HTTP/1.1 keep-alive hello world · wrk -t1 -c${CONNECTIONS}`,
      subject: s.label,
      isOurs: s.isOurs,
      unit: 'req/s',
      samples: list.map((r) => r.rps),
      notes: `p50 ${median(list.map((r) => r.p50)).toFixed(3)} ms · p99 ${median(list.map((r) => r.p99)).toFixed(3)} ms${errors === '' ? '' : ` · wrk: ${errors}`}`,
      cost: { label: 'server CPU', unit: 'µs/req', samples: list.map((r) => r.cpu) },
      target: s.isOurs ? undefined : s.label === 'node:http' ? { kind: 'min', value: 1.5 } : { kind: 'report', text: 'report' },
    }
  })
  const ours = SUBJECTS.some((s) => s.isOurs)
  return {
    rows,
    notes: [
      `http: \`wrk -t1 -c${CONNECTIONS} -d${SECONDS}s --latency\` on core 1, GET / on keep-alive connections, servers on core 0; ${rounds()} rounds after a 1 s warm-up each. The hand-written responder answers every request head with a fixed 200 (no Date header, no request bodies); node:http and ours also send Date and Connection headers.${ours ? '' : ' examples/http-server.ts was not there: rotor-stream has no row yet.'}`,
    ],
  }
}
