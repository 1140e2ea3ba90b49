/**
 * Line-echo benchmark: the state-machine API (examples/line-echo.ts) against hand-written
 * node:net code with the same semantics, pipelined (window 32) and one request at a time
 * (window 1). Servers alternate over ROUNDS rounds; the table shows medians, min–max and the
 * ratio of medians. Knobs: ROUNDS (5), LINES (200000), CONNECTIONS (4).
 */
import { formatRate, isMain, machine, median, NODE_TS, runOnLoadCore, startServer, table } from '../lib.js'

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const LINES = Number(process.env.LINES ?? 200_000)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 4)
const SERVERS = ['rotor', 'hand'] as const
const WINDOWS = [32, 1] as const

interface Result {
  requests: number
  rps: number
  p50: number
  p99: number
  /** Server CPU per request, µs. */
  cpuPerRequest: number
}

async function once(server: string, window: number): Promise<Result> {
  const started = await startServer('bench/line-echo/server.ts', [server])
  let result: Omit<Result, 'cpuPerRequest'>
  try {
    // Window 1 is latency-bound: a tenth of the lines keeps the round short.
    const lines = window === 1 ? Math.ceil(LINES / 10) : LINES
    // Warm up (JIT) with a tenth of the run, unmeasured.
    await runOnLoadCore([process.execPath, ...NODE_TS, 'bench/line-echo/client.ts', String(started.port), String(Math.ceil(lines / 10)), String(window), String(CONNECTIONS)])
    await started.resetCpu()
    const out = await runOnLoadCore([
      process.execPath,
      ...NODE_TS,
      'bench/line-echo/client.ts',
      String(started.port),
      String(lines),
      String(window),
      String(CONNECTIONS),
    ])
    result = JSON.parse(out) as Omit<Result, 'cpuPerRequest'>
  } catch (err) {
    await started.stop()
    throw err
  }
  const cpu = await started.stop()
  return { ...result, cpuPerRequest: cpu / result.requests }
}

export async function lineEcho(): Promise<string> {
  const results = new Map<string, Result[]>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const window of WINDOWS) {
      // Alternate the order each round so neither server always runs on a warmer machine.
      const order = round % 2 ? [...SERVERS].reverse() : SERVERS
      for (const server of order) {
        const key = `${server}/${window}`
        const list = results.get(key) ?? []
        list.push(await once(server, window))
        results.set(key, list)
      }
    }
  }
  const rows: string[][] = []
  for (const window of WINDOWS) {
    const base = median((results.get(`hand/${window}`) ?? []).map((r) => r.rps))
    const baseCpu = median((results.get(`hand/${window}`) ?? []).map((r) => r.cpuPerRequest))
    for (const server of SERVERS) {
      const list = results.get(`${server}/${window}`) ?? []
      const rps = list.map((r) => r.rps)
      const m = median(rps)
      const cpu = median(list.map((r) => r.cpuPerRequest))
      rows.push([
        `window ${window}`,
        server === 'rotor' ? 'rotor-stream (state machine)' : 'hand-written node:net',
        formatRate(m),
        `${formatRate(Math.min(...rps))}–${formatRate(Math.max(...rps))}`,
        `${median(list.map((r) => r.p50)).toFixed(3)} / ${median(list.map((r) => r.p99)).toFixed(3)}`,
        (m / base).toFixed(2),
        cpu.toFixed(2),
        (baseCpu / cpu).toFixed(2),
      ])
    }
  }
  const text = [
    `line-echo: ${LINES} lines of 32 bytes (window 1: ${Math.ceil(LINES / 10)}) after a warm-up of a tenth of that, ${CONNECTIONS} connections, ${ROUNDS} rounds, server on core 0, client on core 1`,
    machine(),
    '',
    table(['scenario', 'server', 'req/s (median)', 'min–max', 'p50 / p99 ms', 'req/s ratio', 'server CPU µs/req', 'CPU efficiency ratio'], rows),
    '',
    'Ratios are ours / hand-written (> 1 is better for us). CPU efficiency = hand-written CPU per request / ours: it holds even when the load generator, not the server, is the bottleneck.',
  ].join('\n')
  return text
}

if (isMain(import.meta.url)) {
  console.log(await lineEcho())
}
