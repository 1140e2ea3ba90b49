/**
 * Shared benchmark plumbing: start a server process pinned to one core, run a load generator
 * pinned to the other, collect rounds, print a table of medians and ratios with the machine.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const ROOT = new URL('..', import.meta.url).pathname
/** Node flags that let a benchmark process load the TypeScript sources as the package. */
export const NODE_TS = ['--conditions=source', '--import', 'tsx']

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
  const command = [...pin(0), process.execPath, ...NODE_TS, `${ROOT}${script}`, ...args]
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
