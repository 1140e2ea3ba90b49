/**
 * Shared benchmark plumbing: start a server process pinned to one core, run a load generator
 * pinned to the other, collect rounds, print a table of medians and ratios with the machine.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const ROOT = new URL('..', import.meta.url).pathname
/** Node flags that let a benchmark process load the TypeScript sources as the package. */
export const NODE_TS = ['--conditions=rotor-stream-source', '--import', 'tsx']
/**
 * Servers and load generators run the JavaScript tsc emits (what users run), from here; with
 * BENCH_TSX=1 they run the sources through tsx instead (quicker to iterate, but tsx's esbuild
 * transform adds a `__name()` call to every closure it creates, which skews closure-heavy code).
 */
/** Where scripts are compiled, relative to the repository; BENCH_BUILD gives each of several concurrent runs its own. */
const BUILD = `${(process.env.BENCH_BUILD ?? '.bench-tmp').replace(/\/+$/, '')}/`
const USE_TSX = process.env.BENCH_TSX === '1'

/**
 * BENCH_REF: measure this commit (e.g. HEAD) instead of the working tree, which others may be
 * editing; resolved to a hash once, so that a commit landing during the run changes nothing.
 */
export const BENCH_REF =
  process.env.BENCH_REF === undefined || process.env.BENCH_REF === ''
    ? undefined
    : execFileSync('git', ['rev-parse', '--verify', `${process.env.BENCH_REF}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim()

/**
 * Compiles src/, examples/ and bench/ with the project's tsconfig into .bench-tmp/js, with a
 * package.json that makes `import 'rotor-stream'` resolve to the compiled src/. The sources are
 * the working tree's, or those of commit BENCH_REF (extracted with `git archive`). Type errors
 * (a file mid-edit) are reported but do not stop the emit. Returns a line for the report.
 */
export function prepareScripts(): string {
  if (USE_TSX) {
    if (BENCH_REF !== undefined) throw new Error('BENCH_REF needs compiled scripts: unset BENCH_TSX')
    return 'scripts run from TypeScript sources through tsx (BENCH_TSX=1)'
  }
  const build = `${ROOT}${BUILD}`
  rmSync(`${build}js`, { recursive: true, force: true })
  mkdirSync(`${build}js`, { recursive: true })
  let base = '..'
  if (BENCH_REF !== undefined) {
    rmSync(`${build}ref`, { recursive: true, force: true })
    mkdirSync(`${build}ref`, { recursive: true })
    const archive = execFileSync('git', ['archive', BENCH_REF, 'src', 'examples', 'bench', 'tsconfig.json', 'package.json'], { cwd: ROOT, maxBuffer: 1 << 28 })
    execFileSync('tar', ['-x', '-C', `${build}ref`], { input: archive })
    base = './ref'
  }
  const config = {
    extends: `${base}/tsconfig.json`,
    compilerOptions: { outDir: 'js', rootDir: base, noEmit: false, declaration: false, sourceMap: false, incremental: false },
    include: [`${base}/src`, `${base}/examples`, `${base}/bench`],
  }
  writeFileSync(`${build}tsconfig.json`, JSON.stringify(config, null, 2))
  const exports = { '.': './src/index.js', './testing': './src/testing/index.js' }
  writeFileSync(`${build}js/package.json`, JSON.stringify({ name: 'rotor-stream', private: true, type: 'module', exports }, null, 2))
  const started = Date.now()
  try {
    execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${build}tsconfig.json`], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' })
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? err)
    const errors = out.split('\n').filter((l) => /error TS/.test(l))
    console.error(`tsc reported ${errors.length} type errors (emitted anyway):\n${errors.slice(0, 5).join('\n')}`)
  }
  if (!existsSync(`${build}js/src/index.js`)) throw new Error('tsc emitted nothing: see the errors above')
  const tsc = (JSON.parse(readFileSync(`${ROOT}node_modules/typescript/package.json`, 'utf8')) as { version: string }).version
  const what = BENCH_REF === undefined ? 'the working tree' : `commit ${BENCH_REF.slice(0, 7)} (BENCH_REF=${process.env.BENCH_REF})`
  return `${what} compiled by tsc ${tsc} into ${BUILD}js in ${((Date.now() - started) / 1000).toFixed(0)} s, run with plain node`
}

/** `taskset -c <cpu>` prefix when taskset exists and the machine has more than one core. */
export function pin(cpu: number): string[] {
  if (os.availableParallelism() < 2) return []
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return ['taskset', '-c', String(cpu)]
  } catch {
    return []
  }
}

/** A started server process and the port it printed (`listening <port>`). */
export interface Started {
  readonly child: ChildProcess
  readonly port: number
  /** Stops the server; resolves with the CPU time it reported (µs spent since listening or the last reset), or NaN. */
  stop(): Promise<number>
  /** Asks the server to start counting its CPU time afresh (SIGUSR2) and waits until it has. */
  resetCpu(): Promise<void>
  /** Asks the server for its CPU time since the last reset (SIGUSR1), in µs. */
  cpuSinceReset(): Promise<number>
}

/** Starts `node <script> ...args` on core 0 and waits for its `listening <port>` line. */
export async function startServer(script: string, args: string[] = []): Promise<Started> {
  const command = [...pin(0), ...nodeScript(script, args)]
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  let cpu = Number.NaN
  let onReset: (() => void) | null = null
  let onCpu: ((us: number) => void) | null = null
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 20_000)
    lines.on('line', (line) => {
      const match = /^listening (\d+)/.exec(line)
      if (match) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
      const used = /^cpu (\d+)/.exec(line)
      if (used) {
        cpu = Number(used[1])
        onCpu?.(cpu)
        onCpu = null
      }
      if (line === 'reset') onReset?.()
    })
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)))
  })
  return {
    child,
    port,
    resetCpu: () =>
      new Promise<void>((resolve) => {
        onReset = resolve
        child.kill('SIGUSR2')
      }),
    cpuSinceReset: () =>
      new Promise<number>((resolve) => {
        onCpu = resolve
        child.kill('SIGUSR1')
      }),
    stop: () =>
      new Promise<number>((resolve) => {
        if (child.exitCode !== null) return resolve(cpu)
        lines.once('close', () => resolve(cpu))
        child.kill('SIGTERM')
      }),
  }
}

/** Runs a command on core 1 and returns its stdout. */
export async function runOnLoadCore(command: string[]): Promise<string> {
  const full = [...pin(1), ...command]
  const child = spawn(full[0] as string, full.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT })
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${command.join(' ')} exited with ${code}`)
  return out
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** CPU model, core count, Node version: printed with every table. */
export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  return `${cpu} · ${os.availableParallelism()} cores · ${Math.round(os.totalmem() / 2 ** 30)} GiB · Node ${process.version} · ${os.platform()} ${os.release()}`
}

/** Formats a number of operations per second. */
export function formatRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0)
}

/** Prints a Markdown table. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

/** True when the module with this `import.meta.url` is the script node was started with. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(url) === path.resolve(process.argv[1])
}

// --- Generic server processes (any binary), CPU from /proc, alternating rounds -------------------

/** The command running `script` (a .ts path relative to the repository): compiled, or through tsx with BENCH_TSX=1. */
export function nodeScript(script: string, args: readonly string[] = [], nodeFlags: readonly string[] = []): string[] {
  if (USE_TSX) return [process.execPath, ...nodeFlags, ...NODE_TS, `${ROOT}${script}`, ...args]
  return [process.execPath, ...nodeFlags, `${ROOT}${BUILD}js/${script.replace(/\.ts$/, '.js')}`, ...args]
}

/** Whether a file exists in the repository (an optional scenario subject, such as an example still being written). */
export function exists(file: string): boolean {
  return existsSync(`${ROOT}${file}`)
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on every Linux we run on). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU time (user + system) a process has used so far, in µs (10 ms resolution); NaN without /proc. */
export function cpuTimeOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // Fields after the command name (which may hold spaces) start at field 3: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS
  } catch {
    return Number.NaN
  }
}

/** A server process started by {@link launch}. */
export interface ServerProcess {
  readonly name: string
  readonly pid: number
  readonly port: number
  /** CPU time the process used so far, µs (see {@link cpuTimeOf}). */
  cpuTime(): number
  /** Resolves with the next line of its stdout that matches `pattern`. */
  nextLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
  /** Writes a line to its stdin (the idle-memory server reports when told `memory`). */
  send(line: string): void
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  stop(): Promise<void>
}

export interface LaunchOptions {
  /** A line meaning "ready"; its first capture group, if any, is the port. */
  ready: RegExp
  /** The port when the ready line does not tell it. */
  port?: number
  /** Core to pin to (default 0, the server core). */
  cpu?: number
  /** Raise the open-files limit to this (through a shell's `ulimit -n`) before exec. */
  fileLimit?: number
  /** How long to wait for the ready line, ms. @default 30000 */
  startTimeout?: number
}

/** Quotes a word for `sh -c`. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`
}

/** Wraps a command so that it runs with the open-files limit raised to `limit` (as far as allowed). */
export function withFileLimit(command: readonly string[], limit: number): string[] {
  return ['sh', '-c', `ulimit -n ${limit} 2>/dev/null || ulimit -n hard 2>/dev/null; exec ${command.map(shellQuote).join(' ')}`]
}

/** The open-files limit a child gets after {@link withFileLimit}. */
export function reachableFileLimit(limit: number): number {
  return Number(execFileSync('sh', ['-c', `ulimit -n ${limit} 2>/dev/null || ulimit -n hard 2>/dev/null; ulimit -n`], { encoding: 'utf8' }).trim())
}

/**
 * Starts a server command pinned to a core (0 by default) and waits for its ready line. `taskset`
 * and `sh -c 'exec …'` both exec, so the child's pid is the server's (CPU from /proc is its own).
 */
export async function launch(name: string, command: readonly string[], options: LaunchOptions): Promise<ServerProcess> {
  let full = [...pin(options.cpu ?? 0), ...command]
  if (options.fileLimit !== undefined) full = withFileLimit(full, options.fileLimit)
  const child = spawn(full[0] as string, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void }[] = []
  lines.on('line', (line) => {
    const index = waiters.findIndex((w) => w.pattern.test(line))
    if (index < 0) return
    const [waiter] = waiters.splice(index, 1)
    waiter?.resolve(waiter.pattern.exec(line) as RegExpExecArray)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const nextLine = (pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms\n${stderr}`)), timeoutMs)
      const done = (m: RegExpExecArray): void => {
        clearTimeout(timer)
        resolve(m)
      }
      waiters.push({ pattern, resolve: done })
      void exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) while waiting for ${pattern}\n${stderr}`))
      })
    })
  const ready = await nextLine(options.ready, options.startTimeout ?? 30_000)
  const port = ready[1] === undefined ? options.port : Number(ready[1])
  if (port === undefined) throw new Error(`${name}: no port`)
  const pid = child.pid as number
  return {
    name,
    pid,
    port,
    cpuTime: () => cpuTimeOf(pid),
    nextLine,
    send: (line) => child.stdin?.write(`${line}\n`),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for servers that must be told their port). */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Starts a real `redis-server` on core 0 without persistence. */
export function launchRedisServer(port: number): Promise<ServerProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no']
  return launch('redis-server', ['redis-server', ...args], { ready: /Ready to accept connections/, port })
}

/**
 * Runs `measure(subject, round)` for every subject in each of `rounds` rounds, after one
 * warm-up run each (round -1, discarded: JIT, connection set-up) unless `warmup` is false. The order rotates every round so that
 * neither machine noise nor "who runs first" falls on one subject only.
 */
export async function alternate<T>(
  rounds: number,
  subjects: readonly string[],
  measure: (subject: string, round: number) => Promise<T>,
  options: { warmup?: boolean } = {},
): Promise<Map<string, T[]>> {
  const results = new Map<string, T[]>(subjects.map((s) => [s, []]))
  if (options.warmup ?? true) for (const subject of subjects) await measure(subject, -1)
  for (let round = 0; round < rounds; round++) {
    const shift = round % subjects.length
    const order = [...subjects.slice(shift), ...subjects.slice(0, shift)]
    if (round % 2 === 1) order.reverse()
    for (const subject of order) results.get(subject)?.push(await measure(subject, round))
  }
  return results
}

/** A knob from the environment: a number, or `fallback` when unset. */
export function knob(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`)
  return value
}

/** Rounds per scenario: ROUNDS (default 5). */
export function rounds(fallback = 5): number {
  return knob('ROUNDS', fallback)
}
