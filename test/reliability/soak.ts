/**
 * `npm run soak`: the long versions of the reliability suite, one after the other, each bounded,
 * then one summary table. Exit status 1 if any scenario saw an error, lost a byte or leaked.
 *
 *     npm run soak                          # everything (about 5 minutes on 2 cores)
 *     SOAK_ONLY=load,restarts npm run soak  # some scenarios (names: see SCENARIOS)
 *     SOAK_SCALE=0.1 npm run soak           # everything, smaller
 *     SOAK_RATE=8000 npm run soak           # the load's request rate (default 10,000 per second)
 *
 * Loopback and tmpdir only. The npm script raises the soft `ulimit -n` to the hard limit;
 * 10,000 connections need 10,000 descriptors in the server process and as many in the load
 * generator's (a separate process).
 */
import { execFileSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { testCerts, tlsUnavailable } from '../helpers/tls-certs.js'
import { memoryBudget } from './lib/budget.js'
import { connectionFaults } from './lib/faults.js'
import { fuzzHarness, fuzzSockets } from './lib/fuzz.js'
import { neverReads, oversized, slowDrip, slowloris } from './lib/hostile.js'
import { LeakCheck } from './lib/leaks.js'
import { load } from './lib/load.js'
import { measured, type ScenarioResult } from './lib/metrics.js'
import { respClientSplits } from './lib/resp-client.js'
import { serverRestarts } from './lib/restarts.js'
import { coreSplits, hostileSplits, httpServerSplits, respServerSplits } from './lib/splits.js'
import { tlsFaults } from './lib/tls-faults.js'

/** The whole run gives up after this long, whatever hangs. */
const DEADLINE = 15 * 60_000
const scale = Number(process.env.SOAK_SCALE ?? 1)
const only = process.env.SOAK_ONLY?.split(',').map((s) => s.trim())
/** `n` scaled, at least `min`. */
const n = (value: number, min = 1): number => Math.max(min, Math.round(value * scale))

const fdLimit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) || 1024
/** 10,000 connections, or as many as the descriptor limit allows (each process holds one side). */
const loadConnections = Math.min(n(10_000, 100), fdLimit - 500)
const redisMissing = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' })
    return false
  } catch {
    return true
  }
})()

type Run = () => Promise<Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>>

/** Every scenario with its soak-size parameters. */
const SCENARIOS: Record<string, Run | null> = {
  'splits-core': () => coreSplits({ numRuns: n(10_000) }),
  'splits-resp': () => respServerSplits({ numRuns: n(10_000) }),
  'splits-http': () => httpServerSplits({ numRuns: n(10_000) }),
  'splits-client': () => respClientSplits({ numRuns: n(10_000) }),
  'splits-hostile': () => hostileSplits({ numRuns: n(10_000) }),
  'fuzz-harness': () => fuzzHarness({ cases: n(50_000) }),
  'fuzz-sockets': () => fuzzSockets({ connections: n(5000) }),
  slowloris: () => slowloris({ attackers: n(1000), drip: 1000, headersTimeout: 5000, normalClients: 20 }),
  // PING\r\n one byte per 200 ms: a command every 1.2 s, within the 2 s idle deadline; a frame stays open 1 s, over the 700 ms window.
  'slow-drip': () => slowDrip({ attackers: n(200), idleTimeout: 2000, drip: 200, minRate: { bytes: 10, per: 700 }, proof: 5 }),
  oversized: () => oversized({ maxSend: 16 * 1024 * 1024, rounds: n(5) }),
  'never-reads': () => neverReads({ peers: n(50), requests: 1000, answerSize: 256 * 1024, timeout: 500, stall: 1000 }),
  faults: () => connectionFaults({ rounds: n(1000), concurrency: 8 }),
  tls: tlsUnavailable() === null ? () => tlsFaults(testCerts(), { rounds: n(20) }) : null,
  budget: () =>
    memoryBudget({
      connections: n(1000),
      frames: 2,
      frameSize: 256 * 1024,
      // 4 KiB per 20 ms: a frame takes 1.3 s, so that without a budget all 1,000 are open at once.
      slice: 4 * 1024,
      tick: 20,
      limit: Math.max(2, n(16)) * 1024 * 1024,
      compare: true,
    }),
  restarts: redisMissing ? null : () => serverRestarts({ restarts: n(100), perTick: 5, tick: 2, ticksUp: 25 }),
  load: () =>
    load({
      connections: loadConnections,
      requests: Math.round(n(1_000_000) / loadConnections),
      rate: Number(process.env.SOAK_RATE ?? 10_000),
      timeout: 8 * 60_000,
    }),
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`soak: still running after ${DEADLINE / 60_000} minutes, giving up`)
    process.exit(2)
  }, DEADLINE)
  watchdog.unref()
  const unhandled: unknown[] = []
  process.on('unhandledRejection', (reason) => unhandled.push(reason))
  process.on('uncaughtException', (err) => unhandled.push(err))
  console.log(`soak: scale ${scale}, ulimit -n ${fdLimit}, load with ${loadConnections} connections${only ? `, only ${only.join(', ')}` : ''}`)
  const results: ScenarioResult[] = []
  const skipped: string[] = []
  const start = performance.now()
  for (const [name, run] of Object.entries(SCENARIOS)) {
    if (only !== undefined && !only.includes(name)) continue
    if (run === null) {
      skipped.push(name)
      continue
    }
    process.stdout.write(`  ${name} … `)
    // The load's latencies are measured without async_hooks; its leak check sees active handles only.
    const leaks = new LeakCheck({ hooks: name !== 'load' })
    leaks.start()
    let result: ScenarioResult
    try {
      result = await measured(run)
    } catch (err) {
      result = {
        name,
        unit: '-',
        cases: 0,
        faults: 0,
        errors: 1,
        bytesLost: 0,
        leaked: 0,
        rssMiB: process.memoryUsage.rss() / 2 ** 20,
        ms: 0,
        samples: [String(err)],
      }
    }
    result.leaked = LeakCheck.count(await leaks.report(200))
    leaks.stop()
    results.push(result)
    console.log(`${(result.ms / 1000).toFixed(1)} s${result.errors + result.leaked + result.bytesLost > 0 ? '  FAILED' : ''}`)
  }
  clearTimeout(watchdog)
  print(results, unhandled, skipped, performance.now() - start)
  const failed = results.some((r) => r.errors > 0 || r.leaked > 0 || r.bytesLost > 0) || unhandled.length > 0
  process.exitCode = failed ? 1 : 0
}

function print(results: readonly ScenarioResult[], unhandled: readonly unknown[], skipped: readonly string[], ms: number): void {
  const ms1 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(0))
  const rows = results.map((r) => [
    r.name,
    `${r.cases.toLocaleString('en-US')} ${r.unit}`,
    r.faults.toLocaleString('en-US'),
    String(r.errors),
    String(r.bytesLost),
    String(r.leaked),
    ms1(r.p50),
    ms1(r.p99),
    r.rssMiB.toFixed(0),
    (r.ms / 1000).toFixed(1),
  ])
  const header = ['scenario', 'cases tried', 'faults', 'errors', 'bytes lost', 'leaked', 'p50 ms', 'p99 ms', 'RSS MiB', 'time s']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)))
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`
  console.log('')
  console.log(line(header))
  console.log(`|${widths.map((w, i) => `${i === 0 ? ':' : ''}${'-'.repeat(w + 1)}${i === 0 ? '' : ':'}`).join('|')}|`)
  for (const row of rows) console.log(line(row))
  console.log('')
  for (const r of results) if (r.notes) console.log(`- ${r.name}: ${r.notes}`)
  for (const name of skipped) console.log(`- ${name}: skipped (missing redis-server or openssl)`)
  console.log(`- unhandled rejections or uncaught exceptions: ${unhandled.length}`)
  console.log(`- total ${(ms / 1000).toFixed(0)} s`)
  for (const r of results) for (const s of r.samples ?? []) console.log(`\n${r.name}: ${s}`)
  for (const u of unhandled.slice(0, 5)) console.log(`\nunhandled: ${String(u)}`)
}

await main()
