/**
 * The line-echo and RESP server scenarios on every runtime: the same compiled servers
 * (bench/line-echo/server.ts `rotor`, examples/redis-server.ts) on Node 20, 22, 24, Bun and Deno,
 * under the same load generators (bench/line-echo/client.ts on the Node running this script,
 * redis-benchmark). A real redis-server runs beside them as the yardstick of the RESP table.
 *
 *     node --conditions=rotor-stream-source --import tsx bench/runtimes.ts
 *     RUNTIMES=node22,bun ROUNDS=3 node --conditions=rotor-stream-source --import tsx bench/runtimes.ts
 *
 * Servers on core 0, load on core 1 (taskset), loopback only; all servers stay up and the
 * measured runs alternate between them (bench/lib.ts `alternate`, warm-up first). Server CPU per
 * request comes from /proc, so it is the same measure for every runtime (no signals: Deno opens
 * its inspector on SIGUSR1). Knobs: ROUNDS (3), RUNTIMES (all), LINES (100000; window 1 gets a
 * tenth), CONNECTIONS (4), RESP_REQUESTS (200000), BENCH_OUT (docs/runtimes-bench.md),
 * BENCH_SECTION=0 (leave BENCHMARKS.md alone).
 *
 * The package is built (`npm run build`) and the three scripts compiled by tsc into
 * dist/runtimes-bench, not .bench-tmp (the main suite's); `import 'rotor-stream'` resolves through
 * the package's "exports" to dist/src on every runtime.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describeRuntime, ensureRuntimes, pickRuntimes, type Runtime } from '../scripts/runtimes/runtimes.js'
import {
  alternate,
  cpuTimeOf,
  formatRate,
  freePort,
  knob,
  launch,
  launchRedisServer,
  machine,
  median,
  rounds,
  runOnLoadCore,
  type ServerProcess,
  table,
} from './lib.js'
import { environment } from './report.js'
import { redisBenchmark } from './resp/run.js'

const ROOT = path.resolve(new URL('..', import.meta.url).pathname)
const OUT_DIR = path.join(ROOT, 'dist/runtimes-bench')
const JS = path.join(OUT_DIR, 'js')
const ROUNDS = rounds(3)
const LINES = knob('LINES', 100_000)
const CONNECTIONS = knob('CONNECTIONS', 4)
const RESP_REQUESTS = knob('RESP_REQUESTS', 200_000)
const RESP_TESTS = ['ping_mbulk', 'set', 'get'] as const
const WINDOWS = [32, 1] as const
const OUT = process.env.BENCH_OUT ?? path.join(ROOT, 'docs/runtimes-bench.md')
const SECTION_START = '<!-- runtimes:start (bench/runtimes.ts) -->'
const SECTION_END = '<!-- runtimes:end -->'

/** Builds the package and compiles the servers and the client with tsc into dist/runtimes-bench/js. */
function compile(): string {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
  mkdirSync(OUT_DIR, { recursive: true })
  const config = {
    extends: '../../tsconfig.json',
    compilerOptions: { customConditions: [], rootDir: '../..', outDir: 'js', declaration: false, sourceMap: false, noEmit: false, incremental: false },
    include: ['../../bench/line-echo/server.ts', '../../bench/line-echo/client.ts', '../../examples/redis-server.ts'],
  }
  writeFileSync(path.join(OUT_DIR, 'tsconfig.json'), JSON.stringify(config, null, 2))
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', OUT_DIR], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' })
  } catch (err) {
    const errors = String((err as { stdout?: string }).stdout ?? err)
      .split('\n')
      .filter((l) => /error TS/.test(l))
    console.error(`tsc reported ${errors.length} type errors (emitted anyway):\n${errors.slice(0, 5).join('\n')}`)
  }
  for (const file of ['bench/line-echo/server.js', 'bench/line-echo/client.js', 'examples/redis-server.js']) {
    if (!existsSync(path.join(JS, file))) throw new Error(`tsc emitted no ${file}`)
  }
  return 'dist/src built by `npm run build`; the servers and the client compiled by tsc into dist/runtimes-bench/js'
}

/** The command running a compiled script with a runtime. */
function command(runtime: Runtime, script: string, args: string[]): string[] {
  return [runtime.binary, ...runtime.args, path.join(JS, script), ...args]
}

interface Sample {
  rps: number
  p50: number
  p99: number
  /** Server CPU per request, µs. */
  cpu: number
}

/** One line-echo client run against `server`. */
async function lineEchoRun(server: ServerProcess, lines: number, window: number): Promise<Sample> {
  const before = cpuTimeOf(server.pid)
  const out = await runOnLoadCore([
    process.execPath,
    path.join(JS, 'bench/line-echo/client.js'),
    String(server.port),
    String(lines),
    String(window),
    String(CONNECTIONS),
  ])
  const cpu = cpuTimeOf(server.pid) - before
  const result = JSON.parse(out) as { requests: number; rps: number; p50: number; p99: number }
  return { rps: result.rps, p50: result.p50, p99: result.p99, cpu: cpu / result.requests }
}

/** One redis-benchmark run of one test against `server`. */
/** Table rows for one group: each subject's median, range, ratio to the first subject, CPU and latency. */
function rows(subjects: readonly string[], labels: ReadonlyMap<string, string>, results: Map<string, Sample[]>): string[][] {
  const base = median((results.get(subjects[0] as string) ?? []).map((s) => s.rps))
  return subjects.map((subject) => {
    const list = results.get(subject) ?? []
    const rps = list.map((s) => s.rps)
    const m = median(rps)
    return [
      labels.get(subject) ?? subject,
      `${formatRate(m)} req/s`,
      `${formatRate(Math.min(...rps))}–${formatRate(Math.max(...rps))}`,
      subject === subjects[0] ? '1.00' : (m / base).toFixed(2),
      `${median(list.map((s) => s.cpu)).toFixed(2)} µs`,
      `${median(list.map((s) => s.p50)).toFixed(3)} / ${median(list.map((s) => s.p99)).toFixed(3)} ms`,
    ]
  })
}

const HEADER = ['runtime', 'median', 'min–max', 'vs first row', 'server CPU per request', 'p50 / p99']

async function main(): Promise<void> {
  const started = Date.now()
  const loadBefore = os.loadavg()[0] as number
  ensureRuntimes()
  const runtimes = pickRuntimes(process.env.RUNTIMES)
  const build = compile()
  const labels = new Map(runtimes.map((r) => [r.id, describeRuntime(r)]))
  // Deno: no update check, no prompt; its cache stays where it is (nothing is downloaded).
  process.env.DENO_NO_UPDATE_CHECK = '1'
  process.env.DENO_NO_PROMPT = '1'
  const ids = runtimes.map((r) => r.id)
  const echo = new Map<string, ServerProcess>()
  const resp = new Map<string, ServerProcess>()
  const sections: string[] = []
  try {
    for (const runtime of runtimes) {
      echo.set(runtime.id, await launch(`line-echo on ${runtime.id}`, command(runtime, 'bench/line-echo/server.js', ['rotor']), { ready: /^listening (\d+)/ }))
      resp.set(runtime.id, await launch(`RESP on ${runtime.id}`, command(runtime, 'examples/redis-server.js', ['--port', '0']), { ready: /^listening (\d+)/ }))
    }
    for (const window of WINDOWS) {
      const lines = window === 1 ? Math.ceil(LINES / 10) : LINES
      console.error(`line-echo window ${window}: ${ROUNDS} rounds of ${lines} lines on ${ids.join(', ')}`)
      const results = await alternate(ROUNDS, ids, (id, round) => lineEchoRun(echo.get(id) as ServerProcess, round < 0 ? Math.ceil(lines / 4) : lines, window))
      sections.push(`### line-echo · window ${window}\n\n${table(HEADER, rows(ids, labels, results))}`)
      console.error(sections.at(-1))
    }
    for (const [, server] of echo) await server.stop()
    echo.clear()
    const redis = await launchRedisServer(await freePort())
    resp.set('redis', redis)
    const respIds = [...ids, 'redis']
    const respLabels = new Map([
      ...labels,
      ['redis', `redis-server ${firstWord(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }), /v=(\S+)/)}`],
    ])
    for (const test of RESP_TESTS) {
      console.error(`RESP ${test}: ${ROUNDS} rounds of ${RESP_REQUESTS} requests on ${respIds.join(', ')}`)
      const results = await alternate(ROUNDS, respIds, (id, round) =>
        redisBenchmark(resp.get(id) as ServerProcess, test, round < 0 ? Math.ceil(RESP_REQUESTS / 4) : RESP_REQUESTS),
      )
      sections.push(`### RESP server · ${test.toUpperCase()} -P 32 -c 50\n\n${table(HEADER, rows(respIds, respLabels, results))}`)
      console.error(sections.at(-1))
    }
  } finally {
    for (const [, server] of [...echo, ...resp]) await server.stop()
  }
  const seconds = Math.round((Date.now() - started) / 1000)
  const load = `load average ${loadBefore.toFixed(2)} at the start, ${(os.loadavg()[0] as number).toFixed(2)} at the end (1 min; other work on the machine shows here)`
  const report = render(sections, build, labels, seconds, load)
  mkdirSync(path.dirname(OUT), { recursive: true })
  writeFileSync(OUT, report)
  console.error(`wrote ${path.relative(ROOT, OUT)}`)
  if (process.env.BENCH_SECTION !== '0') upsertSection(sections, seconds)
}

function render(sections: string[], build: string, labels: ReadonlyMap<string, string>, seconds: number, load: string): string {
  return [
    '# Runtimes benchmark',
    '',
    `Written by \`bench/runtimes.ts\` on ${new Date().toISOString().slice(0, 10)} in ${seconds} s. The same compiled servers on each runtime, side by side,`,
    `alternating over ${ROUNDS} rounds after a warm-up; medians with min–max. "vs first row" divides by the first row (Node 20). Server CPU per`,
    'request is read from /proc for the server process (all its threads), the same way for every runtime; on a shared machine it is the',
    'steadier figure (rates move with whatever else runs, CPU per request much less).',
    '',
    '## Environment',
    '',
    ...environment()
      .slice(0, 4)
      .map((l) => `- ${l}`),
    `- runtimes: ${[...labels.values()].join(', ')} (binaries from npm packages, scripts/runtimes/binaries/package.json)`,
    `- load generators: bench/line-echo/client.ts on Node ${process.version} (core 1), redis-benchmark (core 1); servers on core 0`,
    `- scripts: ${build}`,
    `- ${load}`,
    '',
    '## Results',
    '',
    `line-echo: ${LINES} lines of 32 bytes per run (window 1: ${Math.ceil(LINES / 10)}) over ${CONNECTIONS} connections, each keeping "window" requests in flight;`,
    'the server is bench/line-echo/server.ts `rotor` (examples/line-echo.ts on Stream.attach).',
    `RESP: \`redis-benchmark -P 32 -c 50 -t <test> -n ${RESP_REQUESTS} --csv\` against examples/redis-server.ts, and a real redis-server (\`--save "" --appendonly no\`) for scale.`,
    '',
    ...sections.flatMap((s) => [s, '']),
    '## Reproduce',
    '',
    '```sh',
    'node --conditions=rotor-stream-source --import tsx bench/runtimes.ts                  # all runtimes, ~3 min',
    'RUNTIMES=node20,bun ROUNDS=5 node --conditions=rotor-stream-source --import tsx bench/runtimes.ts',
    '```',
    '',
  ].join('\n')
}

/**
 * Puts the tables into BENCHMARKS.md between markers (replacing an earlier copy), at the end.
 * The main suite (bench/run.ts) rewrites that file; this section is what this script adds.
 */
function upsertSection(sections: string[], seconds: number): void {
  const file = path.join(ROOT, 'BENCHMARKS.md')
  if (!existsSync(file)) return
  const text = readFileSync(file, 'utf8')
  const body = [
    SECTION_START,
    '## Runtimes',
    '',
    `The line-echo and RESP server scenarios on Node 20, 22, 24, Bun and Deno (bench/runtimes.ts, ${ROUNDS} rounds, ${seconds} s; ${machine()}).`,
    'Details and method: [docs/runtimes-bench.md](docs/runtimes-bench.md); what works where: [docs/compatibility.md](docs/compatibility.md).',
    '',
    ...sections.flatMap((s) => [s.replace(/^### /, '#### '), '']),
    SECTION_END,
  ].join('\n')
  const start = text.indexOf(SECTION_START)
  const end = text.indexOf(SECTION_END)
  const next = start >= 0 && end > start ? `${text.slice(0, start)}${body}${text.slice(end + SECTION_END.length)}` : `${text.trimEnd()}\n\n${body}\n`
  writeFileSync(file, next)
  console.error('updated the Runtimes section of BENCHMARKS.md')
}

function firstWord(text: string, pattern: RegExp): string {
  return pattern.exec(text)?.[1] ?? text.trim().split('\n')[0] ?? ''
}

await main()
