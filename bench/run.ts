/**
 * The benchmark suite: every scenario side by side with what users would pick instead.
 *
 *     npm run bench                      # all scenarios, then BENCHMARKS.md is rewritten
 *     npm run bench -- resp-server http  # some of them (BENCHMARKS.md is left alone)
 *     ROUNDS=3 LINES=50000 npm run bench # shorter
 *
 * Servers run on core 0, load generators on core 1 (taskset), loopback only. Within a scenario
 * all subjects run in the same session, alternating over ROUNDS rounds after a warm-up; the
 * table shows medians, min–max and ours / this with the issue's target. Knobs (env): ROUNDS
 * and the ones named in each scenario's notes. BENCH_WRITE=1 writes BENCHMARKS.md for a partial
 * run too; BENCH_OUT=<file> writes elsewhere. BENCH_REF=HEAD measures the last commit instead of
 * the working tree (others may be editing it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { bulk } from './bulk/run.js'
import { http } from './http/run.js'
import { idleMemory } from './idle-memory/run.js'
import { BENCH_REF, prepareScripts } from './lib.js'
import { lineEcho, lineEchoAsync, lineEchoStreamApis } from './line-echo/run.js'
import { environment, type Row, render, type Scenario } from './report.js'
import { respServer } from './resp/run.js'
import { respClient } from './resp-client/run.js'

const SCENARIOS: readonly Scenario[] = [
  { name: 'line-echo', title: 'line echo, state machine vs hand-written node:net', run: lineEcho },
  { name: 'line-echo-async', title: 'line echo, async/await API vs state machine and hand-written', run: lineEchoAsync },
  { name: 'line-echo-stream-apis', title: 'line echo vs readline and split2 servers', run: lineEchoStreamApis },
  { name: 'resp-server', title: 'RESP server under redis-benchmark', run: respServer },
  { name: 'resp-client', title: 'RESP client against a real redis-server', run: respClient },
  { name: 'http', title: 'HTTP/1.1 keep-alive hello world under wrk', run: http },
  { name: 'bulk', title: '1 GiB upload through expectBytes chunks', run: bulk },
  { name: 'idle-memory', title: 'memory of idle connections', run: idleMemory },
]

const ROOT = new URL('..', import.meta.url).pathname
/** Every knob of the suite, as printed in BENCHMARKS.md. */
const KNOBS = [
  'ROUNDS (rounds per scenario; defaults 11 for line-echo, 9 for the RESP server and client, 7 for bulk, 5 for the rest, at most 3 for idle-memory)',
  'LINES, CONNECTIONS, SERVERS, WINDOWS (line-echo)',
  'RESP_REQUESTS (resp-server)',
  'RESP_CLIENT_OPS, RESP_SERIAL_OPS (resp-client)',
  'HTTP_SECONDS, HTTP_CONNECTIONS (http)',
  'BULK_BYTES, BULK_WRITE, BULK_CHUNK, BULK_TRIM (bulk; BULK_TRIM=<bytes> runs the servers with MALLOC_TRIM_THRESHOLD_)',
  'IDLE_CONNECTIONS (idle-memory)',
  'BENCH_TSX=1 (run the TypeScript sources through tsx instead of tsc output)',
  'BENCH_REF=<commit> (measure a commit instead of the working tree)',
  'BENCH_WRITE=1, BENCH_OUT (where the table is written)',
  'BENCH_BUILD (where the scripts are compiled; default .bench-tmp)',
].join('; ')
const asked = process.argv.slice(2)
const unknown = asked.filter((name) => !SCENARIOS.some((s) => s.name === name))
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  process.exit(2)
}
const chosen = asked.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => asked.includes(s.name))

const started = Date.now()
const build = prepareScripts()
console.error(build)
const rows: Row[] = []
const notes: string[] = []
const failures: string[] = []
for (const scenario of chosen) {
  const t0 = Date.now()
  console.error(`\n== ${scenario.name}: ${scenario.title}`)
  try {
    const result = await scenario.run()
    rows.push(...result.rows)
    notes.push(...result.notes)
    console.error(render(result.rows).text)
    console.error(`(${((Date.now() - t0) / 1000).toFixed(0)} s)`)
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    failures.push(`${scenario.name}: ${message}`)
    console.error(`${scenario.name} failed: ${message}`)
  }
}

const seconds = (Date.now() - started) / 1000
const { text, met, missed } = render(rows)
const targets = met + missed.length
const summary = [
  `${met} of ${targets} targets met.`,
  ...(missed.length > 0 ? ['', 'Missed:', ...missed.map((m) => `- ${m}`)] : []),
  ...(failures.length > 0 ? ['', 'Failed scenarios:', ...failures.map((f) => `- ${f}`)] : []),
]
const env = [...environment(BENCH_REF), `scripts: ${build}`]
console.log(`\n${env.join('\n')}\n\n${text}\n\n${summary.join('\n')}\n\nsuite took ${seconds.toFixed(0)} s`)

if (asked.length === 0 || process.env.BENCH_WRITE === '1') {
  const file = process.env.BENCH_OUT ?? `${ROOT}BENCHMARKS.md`
  const markdown = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 10)}${asked.length > 0 ? ` for ${asked.join(', ')} only` : ''}; the suite took ${seconds.toFixed(0)} s.`,
    'Every scenario runs rotor-stream and what users would pick instead in the same session, alternating over several rounds after a warm-up;',
    "figures are medians with the min–max over rounds. **ours / this** divides our median by the row's: above 1 is better for us for rates, below 1 for memory.",
    'Notes give the CPU each process spent per unit of work (from /proc) with **ours ÷ this**: above 1 means rotor-stream spent more CPU for the same work.',
    'CPU per unit of work is the steadier figure on a shared machine, and the honest one when the load generator, not the server, limits throughput.',
    'Servers are pinned to core 0 and load generators to core 1 with taskset; all traffic is on loopback.',
    '',
    '## Environment',
    '',
    ...env.map((line) => `- ${line}`),
    '',
    '## Results',
    '',
    text,
    '',
    ...summary,
    '',
    '## How each scenario runs',
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    '## Reproduce',
    '',
    '```sh',
    'npm run bench                          # everything, rewrites this file',
    `npm run bench -- resp-server           # one scenario: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    'ROUNDS=3 LINES=50000 npm run bench     # shorter: fewer rounds, smaller runs',
    '```',
    '',
    `Knobs (environment): ${KNOBS}.`,
    '',
    'Profiles: `node --cpu-prof` on a server under load, then `node --import tsx bench/profile-top.ts <file.cpuprofile>`;',
    'heap per connection: `node --import tsx bench/heap-top.ts <before.heapsnapshot> <after.heapsnapshot> <connections>` (see the files for the steps).',
    '',
  ].join('\n')
  writeFileSync(file, `${markdown}${keptSections(file)}`)
  console.log(`wrote ${file}`)
}
if (failures.length > 0) process.exitCode = 1

/**
 * Sections kept when the rest is rewritten: the one bench/runtimes.ts writes, and the analysis
 * of missed targets written by hand from profiles (between `<!-- analysis:start -->` and
 * `<!-- analysis:end -->`).
 */
function keptSections(file: string): string {
  if (!existsSync(file)) return ''
  const text = readFileSync(file, 'utf8')
  let kept = ''
  for (const name of ['analysis', 'runtimes']) {
    const match = new RegExp(`<!-- ${name}:start[^>]*-->[\\s\\S]*<!-- ${name}:end -->\\n?`).exec(text)
    if (match !== null) kept += `\n${match[0]}`
  }
  return kept
}
