/**
 * The scenario runner shared by the Node client scripts of the differential test
 * (test/interop/redis-differential.test.ts). A script is started as
 *
 *     node --import tsx <script> <port> [scenario...]
 *
 * runs each scenario against 127.0.0.1:<port> with fresh clients, and prints one JSON object on
 * stdout: `{ "<scenario>": { "ops": { "<label>": <result> }, "failure"?: "<why it stopped>" } }`.
 * The test runs the same script against the real redis-server and the demo and compares.
 *
 * Every result is normalised here so that only what the server decides shows: errors become
 * `{ error: message }`, Buffers and bigints strings, orders that Redis does not promise (SCAN,
 * SMEMBERS, HGETALL) are sorted by the scenario. A scenario that throws or outlives its time
 * keeps the results it recorded so far, so the test can still count what matched.
 * The format is shared with clients/redis_py.py.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** One scenario's output. */
export interface ScenarioResult {
  ops: Record<string, Json>
  failure?: string
}

/** What a scenario gets: the port, a key prefix of its own, and the recorder. */
export interface Context {
  readonly port: number
  /** Prefix for every key the scenario writes (the scenarios of one run share the server). */
  readonly prefix: string
  /** Runs `f`, records its normalised result (or its error) under `label`, returns the raw value. */
  op<T>(label: string, f: () => Promise<T> | T): Promise<T | undefined>
  /** Records a value computed by the scenario itself. */
  record(label: string, value: unknown): void
  /** Registers a cleanup (closing a client); all run when the scenario ends, whatever happened. */
  defer(cleanup: () => unknown): void
}

export type Scenario = (c: Context) => Promise<void>

/** A scenario that has not finished in this long (ms) is stopped and reported as 'timeout'. */
const SCENARIO_TIMEOUT = 6000

/** Turns a client's reply into plain JSON; errors keep only the server's message. */
export function normalize(value: unknown): Json {
  if (value === null || value === undefined) return null
  if (value instanceof Error) return { error: value.message }
  if (Buffer.isBuffer(value)) return value.toString('latin1')
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value)
  if (typeof value === 'string' || typeof value === 'boolean') return value
  if (Array.isArray(value)) return value.map(normalize)
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), normalize(v)]))
  if (value instanceof Set) return [...value].map(normalize)
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]))
  return String(value)
}

/** Sorted copy of a list of strings (for replies whose order Redis does not promise). */
export function sorted(values: unknown): Json {
  return Array.isArray(values) ? values.map((v) => String(normalize(v))).sort() : normalize(values)
}

/** Resolves after `ms`, without keeping the process alive. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

/** Messages a subscriber received; `until(n)` waits, bounded, for the n-th. */
export class Inbox<T> {
  readonly items: T[] = []
  #wake: () => void = () => {}

  push(item: T): void {
    this.items.push(item)
    this.#wake()
  }

  /** Resolves once `n` items arrived; rejects after `ms`. */
  until(n: number, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.items.length} of ${n} messages within ${ms} ms`)), ms)
      this.#wake = () => {
        if (this.items.length < n) return
        clearTimeout(timer)
        resolve()
      }
      this.#wake()
    })
  }
}

async function runOne(client: string, name: string, scenario: Scenario, port: number): Promise<ScenarioResult> {
  const result: ScenarioResult = { ops: {} }
  const cleanups: (() => unknown)[] = []
  const context: Context = {
    port,
    prefix: `${client}:${name}:`,
    async op(label, f) {
      try {
        const value = await f()
        result.ops[label] = normalize(value)
        return value
      } catch (err) {
        result.ops[label] = normalize(err instanceof Error ? err : new Error(String(err)))
        return undefined
      }
    },
    record(label, value) {
      result.ops[label] = normalize(value)
    },
    defer(cleanup) {
      cleanups.push(cleanup)
    },
  }
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), SCENARIO_TIMEOUT)
  })
  try {
    await Promise.race([scenario(context), timeout])
  } catch (err) {
    result.failure = err instanceof Error ? err.message : String(err)
  } finally {
    clearTimeout(timer)
    for (const cleanup of cleanups.reverse()) {
      try {
        await Promise.race([cleanup(), delay(1000)])
      } catch {
        // a client that never connected may refuse to close: nothing left to release
      }
    }
  }
  return result
}

/** Parses argv, runs the chosen scenarios one after the other, prints the JSON and exits. */
export async function main(client: string, scenarios: Record<string, Scenario>): Promise<void> {
  const port = Number(process.argv[2])
  if (!Number.isInteger(port) || port <= 0) {
    console.error(`usage: ${process.argv[1]} <port> [${Object.keys(scenarios).join('|')}...]`)
    process.exit(2)
  }
  const names = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(scenarios)
  // A client failing in the background (a reconnect loop against a server that refuses it) must
  // not end the run: the scenario that owns it reports the failure.
  process.on('unhandledRejection', () => {})
  const out: Record<string, ScenarioResult> = {}
  for (const name of names) {
    const scenario = scenarios[name]
    out[name] = scenario === undefined ? { ops: {}, failure: 'no such scenario' } : await runOne(client, name, scenario, port)
  }
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0))
}
