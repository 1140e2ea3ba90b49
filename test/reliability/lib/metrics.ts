/**
 * What every reliability scenario reports, so that `npm test` can assert on it and the soak run
 * can print one table.
 */
import { performance } from 'node:perf_hooks'

/** One scenario's outcome. Counts are totals over the scenario. */
export interface ScenarioResult {
  readonly name: string
  /** Inputs, connections, commands or restarts tried (the scenario says which in `unit`). */
  readonly cases: number
  /** What `cases` counts. */
  readonly unit: string
  /** Faults injected: hostile inputs, resets, kills, slow peers... */
  readonly faults: number
  /** Unexpected outcomes (crash, hang, wrong reply, uncaught error): must be 0. */
  readonly errors: number
  /** Bytes sent that neither came back nor were refused with a clear error: must be 0. */
  readonly bytesLost: number
  /** Sockets, servers or timers left behind (filled in by the runner). */
  leaked: number
  /** Latency percentiles in ms, where the scenario measures them. */
  readonly p50?: number
  readonly p99?: number
  /** Peak resident set size of this process during the scenario, MiB. */
  rssMiB: number
  /** Scenario-specific numbers worth a glance (peak buffered bytes, ...). */
  readonly notes?: string
  /** Wall time, ms (filled in by the runner). */
  ms: number
  /** The first unexpected outcomes, for the failure message. */
  readonly samples?: readonly string[]
}

/** The p-th percentile (0..100) of `values` (sorted in place). */
export function percentile(values: Float64Array | number[], p: number): number {
  if (values.length === 0) return Number.NaN
  values.sort((a, b) => a - b)
  const i = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))
  return values[i] as number
}

/** Samples this process's RSS every `every` ms while running; `stop()` returns the peak in MiB. */
export class RssSampler {
  #peak = process.memoryUsage.rss()
  readonly #timer: NodeJS.Timeout

  constructor(every = 50) {
    this.#timer = setInterval(() => this.sample(), every)
    this.#timer.unref()
  }

  sample(): void {
    const rss = process.memoryUsage.rss()
    if (rss > this.#peak) this.#peak = rss
  }

  stop(): number {
    clearInterval(this.#timer)
    this.sample()
    return this.#peak / 2 ** 20
  }
}

/** Runs `fn`, then fills in its wall time and peak RSS. */
export async function measured(fn: () => Promise<Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>>): Promise<ScenarioResult> {
  const rss = new RssSampler()
  const start = performance.now()
  try {
    const result = await fn()
    return { ...result, leaked: 0, ms: performance.now() - start, rssMiB: rss.stop() }
  } finally {
    rss.stop()
  }
}

/** Collects unexpected outcomes: counts them all, keeps the first few for the report. */
export class Problems {
  count = 0
  readonly samples: string[] = []

  add(what: string): void {
    this.count++
    if (this.samples.length < 5) this.samples.push(what)
  }
}
