/**
 * Line-echo benchmark: the state-machine API (examples/line-echo.ts) against hand-written
 * node:net code with the same semantics, pipelined (window 32) and one request at a time
 * (window 1). Both servers stay up; measured runs alternate between them over ROUNDS rounds; the
 * table shows medians, min–max and the ratio of medians. Knobs: ROUNDS (7), LINES (200000),
 * CONNECTIONS (4), SERVERS (rotor,hand), WINDOWS (32,1).
 */
import { formatRate, isMain, machine, median, NODE_TS, runOnLoadCore, type Started, startServer, table } from '../lib.js'

const ROUNDS = Number(process.env.ROUNDS ?? 7)
const LINES = Number(process.env.LINES ?? 200_000)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 4)
const SERVERS = (process.env.SERVERS?.split(',') ?? ['rotor', 'hand']) as readonly string[]
const WINDOWS = (process.env.WINDOWS?.split(',').map(Number) ?? [32, 1]) as readonly number[]

interface Result {
  requests: number
  rps: number
  p50: number
  p99: number
  /** Server CPU per request, µs. */
  cpuPerRequest: number
}

/** One measured client run against a running server: throughput, latency and server CPU. */
async function measure(server: Started, lines: number, window: number): Promise<Result> {
  await server.resetCpu()
  const out = await runOnLoadCore([
    process.execPath,
    ...NODE_TS,
    'bench/line-echo/client.ts',
    String(server.port),
    String(lines),
    String(window),
    String(CONNECTIONS),
  ])
  const cpu = await server.cpuSinceReset()
  const result = JSON.parse(out) as Omit<Result, 'cpuPerRequest'>
  return { ...result, cpuPerRequest: cpu / result.requests }
}

export async function lineEcho(): Promise<string> {
  // Both servers run side by side for the whole benchmark; each is warmed up (JIT) first, then
  // measured runs alternate between them so that machine noise falls on both alike.
  const servers = new Map<string, Started>()
  for (const name of SERVERS) servers.set(name, await startServer('bench/line-echo/server.ts', [name]))
  const linesFor = (window: number): number => (window === 1 ? Math.ceil(LINES / 10) : LINES)
  const results = new Map<string, Result[]>()
  try {
    for (const [, server] of servers) for (const window of WINDOWS) await measure(server, Math.ceil(linesFor(window) / 4), window)
    for (let round = 0; round < ROUNDS; round++) {
      for (const window of WINDOWS) {
        const order = round % 2 ? [...SERVERS].reverse() : SERVERS
        for (const name of order) {
          const key = `${name}/${window}`
          const list = results.get(key) ?? []
          list.push(await measure(servers.get(name) as Started, linesFor(window), window))
          results.set(key, list)
        }
      }
    }
  } finally {
    for (const [, server] of servers) await server.stop()
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
    `line-echo: ${LINES} lines of 32 bytes (window 1: ${Math.ceil(LINES / 10)}) after a warm-up, ${CONNECTIONS} connections, ${ROUNDS} rounds, server on core 0, client on core 1`,
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
