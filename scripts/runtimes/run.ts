/**
 * `npm run test:runtimes`: the portable suite against the published package on Node 20, 22, 24,
 * Bun and Deno.
 *
 * 1. Installs the runtimes if needed (scripts/runtimes/package.json: binaries inside npm packages).
 * 2. Packs the package (`npm pack`: dist/src, built by `npm run build`) and installs the tarball
 *    into a temporary directory, with the compiled suite (dist/runtimes) beside it, so that
 *    `import 'rotor-stream'` resolves exactly as for a user: through "exports", default → dist.
 *    No TypeScript loader is involved anywhere.
 * 3. Makes TLS certificates with openssl, then runs scripts/runtimes/main.js with each runtime,
 *    one after the other, each bounded in time.
 * 4. Prints one line per runtime (`node 22.23.3: 52 passed, 0 failed`), the failures, and a total.
 *
 *     node dist/runtimes/scripts/runtimes/run.js [--runtimes=bun,deno] [--filter=tls] [--verbose] [--keep]
 *
 * Environment: RUNTIMES and RS_TEST_FILTER do what the flags do.
 */
import { execFileSync, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { makeCerts } from '../../test/helpers/tls-certs.js'
import type { Summary } from './kit.js'
import { describeRuntime, ensureRuntimes, pickRuntimes, ROOT, type Runtime } from './runtimes.js'

/** Longest a runtime may take for the whole suite, ms (it takes 10–30 s). */
const RUNTIME_TIMEOUT = 240_000

const { values } = parseArgs({
  options: {
    runtimes: { type: 'string', default: process.env.RUNTIMES },
    filter: { type: 'string', default: process.env.RS_TEST_FILTER ?? '' },
    verbose: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})

interface Outcome {
  label: string
  summary: Summary | null
  /** Output of failed tests (and everything when the runtime crashed). */
  details: string[]
  seconds: number
}

/** Packs the package and installs the tarball with the compiled suite into a new directory. */
function prepare(): string {
  if (!existsSync(path.join(ROOT, 'dist/src/index.js'))) throw new Error('dist/src is missing: run `npm run build` first')
  if (!existsSync(path.join(ROOT, 'dist/runtimes/scripts/runtimes/main.js'))) throw new Error('dist/runtimes is missing: run `tsc -p scripts/runtimes` first')
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'rotor-stream-runtimes-'))
  try {
    install(tmp)
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true })
    throw err
  }
  return tmp
}

function install(tmp: string): void {
  // As `npm publish` would: the prepack script builds the JavaScript the tarball ships.
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--loglevel=error', '--pack-destination', tmp], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  ) as { filename: string; files: { path: string }[] }[]
  const tarball = packed[0]?.filename
  if (tarball === undefined) throw new Error('npm pack made no tarball')
  const shipped = new Set(packed[0]?.files.map((file) => file.path))
  const missing = SHIPPED.filter((file) => !shipped.has(file))
  if (missing.length > 0) throw new Error(`npm pack left out ${missing.join(', ')}`)
  const unintended = [...shipped].filter((file) => !intended(file, shipped))
  if (unintended.length > 0) throw new Error(`npm pack ships files it should not: ${unintended.join(', ')}`)
  writeFileSync(path.join(tmp, 'package.json'), `${JSON.stringify({ name: 'rotor-stream-runtime-suite', private: true, type: 'module' }, null, 2)}\n`)
  // The package has no dependencies: the tarball installs offline.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', `./${path.basename(tarball)}`], {
    cwd: tmp,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  checkTypes(tmp)
  runPlainConsumer(tmp)
  cpSync(path.join(ROOT, 'dist/runtimes'), path.join(tmp, 'suite'), { recursive: true })
  mkdirSync(path.join(tmp, 'certs'))
  makeCerts(path.join(tmp, 'certs'))
  const installed = JSON.parse(readFileSync(path.join(tmp, 'node_modules/rotor-stream/package.json'), 'utf8')) as { version: string }
  console.log(
    `rotor-stream ${installed.version} packed (${path.basename(tarball)}, ${shipped.size} files), installed in ${tmp}, run by a plain .mjs consumer, its types checked by a strict consumer`,
  )
}

/** Files the tarball must hold: the built entry points and their types, the license, the changelog. */
const SHIPPED = [
  'dist/src/index.js',
  'dist/src/index.d.ts',
  'dist/src/testing/index.js',
  'dist/src/testing/index.d.ts',
  'LICENSE',
  'CHANGELOG.md',
  'README.md',
  'package.json',
]

/**
 * The intended file list (what `npm publish --dry-run` shows): the files above, the compiled
 * library with its declarations and maps, and the TypeScript sources they map to — each source
 * with its compiled module. No tests, benchmarks, examples, scripts or build output of other kinds.
 */
function intended(file: string, shipped: ReadonlySet<string>): boolean {
  if (SHIPPED.includes(file)) return true
  if (/\.test\.|\.tgz$/.test(file)) return false
  if (file.startsWith('dist/src/')) return /\.(js|d\.ts)(\.map)?$/.test(file)
  if (file.startsWith('src/')) return file.endsWith('.ts') && shipped.has(`dist/${file.replace(/\.ts$/, '.js')}`)
  return false
}

/**
 * The package runs for a plain JavaScript consumer: an `.mjs` file imports both entry points,
 * serves a line echo, talks to it over a socket and checks the answer. It runs with
 * `--conditions=source`, a condition name other tools set: the package must not resolve to its
 * TypeScript sources for it (its own condition is `rotor-stream-source`).
 */
function runPlainConsumer(tmp: string): void {
  const consumer = [
    "import net from 'node:net'",
    "import { Intent, serve } from 'rotor-stream'",
    "import { checkSplits } from 'rotor-stream/testing'",
    'const echo = {',
    '  bytesRead(t, end) {',
    '    t.output.write(t.input.view(0, end + 1))',
    '    t.input.consume(end + 1)',
    "    return Intent.of(echo).expectDelimiter('\\n', { max: 100 })",
    '  },',
    '}',
    "const line = () => Intent.of(echo).expectDelimiter('\\n', { max: 100 })",
    "if (checkSplits(line, 'a\\nb\\n').output.toString() !== 'a\\nb\\n') throw new Error('checkSplits: wrong output')",
    "const server = await serve({ host: '127.0.0.1', port: 0 }, line)",
    'const answer = await new Promise((resolve, reject) => {',
    '  const socket = net.connect(server.address.port, server.address.host)',
    "  let got = ''",
    "  socket.on('data', (chunk) => { got += chunk; if (got === 'hello\\n') { socket.end(); resolve(got) } })",
    "  socket.on('error', reject)",
    "  socket.write('hello\\n')",
    '})',
    'await server.close()',
    "if (answer !== 'hello\\n') throw new Error('echo: ' + JSON.stringify(answer))",
    "console.log('plain consumer ok')",
    '',
  ].join('\n')
  writeFileSync(path.join(tmp, 'consumer.mjs'), consumer)
  try {
    execFileSync(process.execPath, ['--conditions=source', 'consumer.mjs'], { cwd: tmp, encoding: 'utf8', stdio: 'pipe', timeout: 30_000 })
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string }
    throw new Error(`a plain .mjs consumer of the installed package failed:\n${stdout}${stderr}`)
  }
}

/**
 * The published types work for a consumer: a strict TypeScript file importing both entry points
 * from the installed package type-checks (through "exports" → "types", no `rotor-stream-source` condition).
 */
function checkTypes(tmp: string): void {
  const consumer = [
    "import { Intent, type Protocol, serve, type Transport } from 'rotor-stream'",
    "import { checkSplits } from 'rotor-stream/testing'",
    'const echo: Protocol = {',
    '  bytesRead(t: Transport, end: number): Intent<Protocol> {',
    '    t.output.write(t.input.view(0, end + 1))',
    '    t.input.consume(end + 1)',
    "    return Intent.of(echo).expectDelimiter('\\n', { max: 100 })",
    '  },',
    '}',
    "const run = checkSplits(() => Intent.of(echo).expectDelimiter('\\n', { max: 100 }), 'a\\nb\\n')",
    'export const output: string = run.output.toString()',
    'export const server: Promise<unknown> = Promise.resolve(serve)',
    '',
  ].join('\n')
  writeFileSync(path.join(tmp, 'consumer.ts'), consumer)
  const config = {
    compilerOptions: {
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noEmit: true,
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules/@types')],
    },
    files: ['consumer.ts'],
  }
  writeFileSync(path.join(tmp, 'tsconfig.json'), JSON.stringify(config))
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tmp], { cwd: tmp, encoding: 'utf8', stdio: 'pipe' })
  } catch (err) {
    throw new Error(`the published types do not type-check for a consumer:\n${String((err as { stdout?: string }).stdout ?? err)}`)
  }
}

/** Runs the suite with one runtime; never throws. */
async function runOn(runtime: Runtime, tmp: string): Promise<Outcome> {
  const label = describeRuntime(runtime)
  const started = performance.now()
  const script = path.join(tmp, 'suite/scripts/runtimes/main.js')
  const env = { ...process.env, ...runtime.env(tmp), RS_CERTS: path.join(tmp, 'certs'), RS_TEST_FILTER: values.filter ?? '', NO_COLOR: '1', FORCE_COLOR: '0' }
  const child = spawn(runtime.binary, [...runtime.args, script], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  let summary: Summary | null = null
  const lines = createInterface({ input: child.stdout })
  lines.on('line', (line) => {
    if (line.startsWith('# summary ')) summary = JSON.parse(line.slice('# summary '.length)) as Summary
    else output.push(line)
    if (values.verbose) console.log(`  [${runtime.id}] ${line}`)
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000)
  })
  const timer = setTimeout(() => {
    output.push(`# killed after ${RUNTIME_TIMEOUT / 1000} s`)
    child.kill('SIGKILL')
  }, RUNTIME_TIMEOUT)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  clearTimeout(timer)
  const seconds = (performance.now() - started) / 1000
  const details: string[] = []
  // The block of each failed test: its "not ok" line and the indented lines after it.
  let inFailure = false
  for (const line of output) {
    if (/^(not ok|ok) \d+ /.test(line)) inFailure = line.startsWith('not ok')
    if (inFailure) details.push(line)
  }
  const final = summary as Summary | null
  if (final === null || (code !== 0 && final.failed === 0)) {
    details.push(`# ${label} exited with ${code} ${final === null ? 'before the summary' : 'after the summary'}; last output:`)
    details.push(...output.slice(-15), ...stderr.trim().split('\n').slice(-30))
  }
  return { label, summary: final, details, seconds }
}

async function main(): Promise<number> {
  const runtimes = pickRuntimes(values.runtimes)
  ensureRuntimes()
  const tmp = prepare()
  const outcomes: Outcome[] = []
  try {
    for (const runtime of runtimes) {
      const outcome = await runOn(runtime, tmp)
      outcomes.push(outcome)
      const s = outcome.summary
      const counts = s === null ? 'crashed (no summary)' : `${s.passed} passed, ${s.failed} failed${s.skipped > 0 ? `, ${s.skipped} skipped` : ''}`
      const known = s !== null && s.known > 0 ? ` (${s.known} known runtime issue${s.known > 1 ? 's' : ''}, see docs/compatibility.md)` : ''
      console.log(`${outcome.label}: ${counts}${known} in ${outcome.seconds.toFixed(1)} s`)
      for (const line of outcome.details) console.log(`    ${line}`)
      if (s !== null) {
        for (const issue of s.knownIssues) console.log(`    known: ${issue}`)
        for (const name of s.unexpectedPasses) console.log(`    a known issue did not show (update the test and docs/compatibility.md?): ${name}`)
      }
    }
  } finally {
    if (values.keep) console.log(`kept ${tmp}`)
    else rmSync(tmp, { recursive: true, force: true })
  }
  const total = { passed: 0, failed: 0, skipped: 0 }
  let crashed = 0
  for (const { summary, details } of outcomes) {
    if (summary === null) {
      crashed++
      continue
    }
    total.passed += summary.passed
    total.failed += summary.failed
    total.skipped += summary.skipped + summary.known
    if (summary.failed === 0 && details.length > 0) crashed++ // exited non-zero after a clean run
  }
  total.failed += crashed
  console.log(`runtimes: ${total.passed} passed, ${total.failed} failed${total.skipped > 0 ? `, ${total.skipped} skipped` : ''}`)
  return total.failed > 0 ? 1 : 0
}

process.exitCode = await main()
