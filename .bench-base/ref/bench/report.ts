/**
 * The suite's one table: every scenario reports rows of samples (one per round); a group's
 * rotor-stream row is the numerator of every ratio in that group. Also what the table is
 * recorded with: machine, Node version and every peer's version.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { formatRate, machine, median, table } from './lib.js'

const ROOT = new URL('..', import.meta.url).pathname

/** What a figure counts. Rates and throughput: higher is better; memory: lower is better. */
export type Unit = 'req/s' | 'ops/s' | 'GB/s' | 'B/conn'

/**
 * A target on the ratio ours / this: `min` for rates (ours must reach `value` times this),
 * `max` for memory (ours may use at most `value` times this), `report` to show without a bar.
 */
export type Target =
  | { readonly kind: 'min'; readonly value: number }
  | { readonly kind: 'max'; readonly value: number }
  | { readonly kind: 'report'; readonly text: string }

/** One implementation in one group, with one sample per round. */
export interface Row {
  /** Scenario and variant, e.g. `line-echo · window 32`. */
  readonly group: string
  /** What ran, e.g. `hand-written node:net`. */
  readonly subject: string
  /** The rotor-stream row of its group. */
  readonly isOurs: boolean
  readonly unit: Unit
  /** One figure per measured round (warm-ups excluded). */
  readonly samples: readonly number[]
  /** Latency and the like (medians). */
  readonly notes?: string
  /**
   * CPU spent per unit of work, one sample per round (lower is better): stable when the load
   * generator, not the server, limits throughput. The table shows its median and ours ÷ this.
   */
  readonly cost?: { readonly label: string; readonly unit: string; readonly samples: readonly number[] }
  /** On comparison rows: the target on ours / this. */
  readonly target?: Target
}

/** What one scenario hands back: its rows, and a line on how it was measured. */
export interface ScenarioResult {
  readonly rows: readonly Row[]
  /** Parameters, peers and caveats, one sentence each. */
  readonly notes: readonly string[]
}

/** A runnable scenario of the suite. */
export interface Scenario {
  /** What `npm run bench -- <name>` takes. */
  readonly name: string
  readonly title: string
  run(): Promise<ScenarioResult>
}

export function formatValue(unit: Unit, value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  switch (unit) {
    case 'req/s':
    case 'ops/s':
      return `${formatRate(value)} ${unit}`
    case 'GB/s':
      return `${value.toFixed(2)} GB/s`
    case 'B/conn':
      return value >= 1000 ? `${(value / 1000).toFixed(2)} KB` : `${value.toFixed(0)} B`
  }
}

function formatRange(unit: Unit, samples: readonly number[]): string {
  if (samples.length === 0) return 'n/a'
  const f = (v: number): string => formatValue(unit, v).replace(/ (req\/s|ops\/s|GB\/s)$/, '')
  return `${f(Math.min(...samples))}–${f(Math.max(...samples))}`
}

/** Whether a ratio meets its target; undefined for report-only targets. */
export function meets(target: Target, ratio: number): boolean | undefined {
  switch (target.kind) {
    case 'min':
      return ratio >= target.value
    case 'max':
      return ratio <= target.value
    case 'report':
      return undefined
  }
}

function describeTarget(target: Target | undefined): string {
  if (target === undefined) return ''
  switch (target.kind) {
    case 'min':
      return `>= ${target.value}`
    case 'max':
      return `<= ${target.value}`
    case 'report':
      return target.text
  }
}

/** The table rows (Markdown) and the tally of targets. */
export function render(rows: readonly Row[]): { text: string; met: number; missed: string[] } {
  const out: string[][] = []
  let met = 0
  const missed: string[] = []
  const ours = new Map<string, Row>()
  for (const row of rows) if (row.isOurs) ours.set(row.group, row)
  const costNote = (row: Row, base: Row | undefined): string => {
    if (row.cost === undefined || row.cost.samples.length === 0) return ''
    const m = median(row.cost.samples)
    const digits = m >= 100 ? 0 : m >= 10 ? 1 : 2
    const text = `${row.cost.label} ${m.toFixed(digits)} ${row.cost.unit}`
    if (row.isOurs || base?.cost === undefined || base.cost.samples.length === 0) return text
    return `${text} (ours ÷ this ${(median(base.cost.samples) / m).toFixed(2)})`
  }
  for (const row of rows) {
    const m = median(row.samples.length > 0 ? row.samples : [Number.NaN])
    const base = ours.get(row.group)
    let ratio = ''
    let verdict = ''
    if (!row.isOurs && base !== undefined) {
      const r = median(base.samples.length > 0 ? base.samples : [Number.NaN]) / m
      ratio = Number.isFinite(r) ? r.toFixed(2) : 'n/a'
      const ok = row.target === undefined ? undefined : meets(row.target, r)
      if (ok === true) {
        verdict = 'yes'
        met++
      } else if (ok === false) {
        verdict = '**no**'
        missed.push(`${row.group}: ours / ${row.subject} = ${ratio}, target ${describeTarget(row.target)}`)
      }
    }
    const notes = [costNote(row, base), row.notes ?? ''].filter((n) => n !== '').join(' · ')
    out.push([
      row.group,
      row.isOurs ? `**${row.subject}**` : row.subject,
      formatValue(row.unit, m),
      formatRange(row.unit, row.samples),
      ratio || (row.isOurs ? '—' : ''),
      describeTarget(row.target),
      verdict,
      notes,
    ])
  }
  const text = table(['scenario', 'implementation', 'median', 'min–max', 'ours / this', 'target', 'met', 'notes (medians)'], out)
  return { text, met, missed }
}

function firstLine(command: string, args: string[]): string {
  try {
    return (
      execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .split('\n')[0]
        ?.trim() ?? 'unknown'
    )
  } catch (err) {
    // wrk -v prints its version, then its usage, and exits 1.
    const out = (err as { stdout?: string }).stdout ?? ''
    return out.split('\n')[0]?.trim() || 'not installed'
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

/** Files of src/ and examples/ that differ from the commit (the suite measures the working tree). */
function uncommitted(): string {
  try {
    const changed = execFileSync('git', ['status', '--porcelain', '--', 'src', 'examples'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.slice(3))
    return changed.length === 0 ? '' : ` plus uncommitted changes to ${changed.join(', ')}`
  } catch {
    return ''
  }
}

/** Machine, Node and every peer the suite runs against, as `name: version` lines. */
export function environment(ref?: string): string[] {
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', ref ?? 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {}
  return [
    `machine: ${machine()}`,
    `rotor-stream: ${commit}${ref === undefined ? uncommitted() : ''}`,
    `redis-server: ${firstLine('redis-server', ['--version'])}`,
    `redis-benchmark: ${firstLine('redis-benchmark', ['--version'])}`,
    `wrk: ${firstLine('wrk', ['-v'])}`,
    `taskset: ${firstLine('taskset', ['-V'])}`,
    `npm packages: ioredis ${packageVersion('ioredis')}, redis (node-redis) ${packageVersion('redis')} with @redis/client ${packageVersion('@redis/client')}, split2 ${packageVersion('split2')}, tsx ${packageVersion('tsx')}`,
  ]
}
