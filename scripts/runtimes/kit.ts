/**
 * A tiny test runner that behaves the same on Node, Bun and Deno (node:test is only partly
 * there on Bun, and reports differently everywhere). Tests run one after the other, each with a
 * timeout and `after` hooks; the last line of output is a JSON summary that
 * scripts/runtimes/run.ts reads:
 *
 *     ok 1 core › echo over every split (3 ms)
 *     not ok 2 tls › … (120 ms)
 *       AssertionError: …
 *     # summary {"runtime":"bun","version":"1.4.5","passed":1,"failed":1,"skipped":0,"known":0}
 *
 * A test can declare a known runtime bug (`known: { bun: 'why' }`): failing there is counted as
 * `known`, not as a failure, and passing there is reported so that the note can be dropped.
 */

/** The runtime running the tests. */
export interface RuntimeInfo {
  readonly name: 'node' | 'bun' | 'deno'
  readonly version: string
}

export const runtime: RuntimeInfo = detect()

/** A runtime family, or one with a major version (`node20`): where a known issue applies. */
export type Where = 'node' | 'bun' | 'deno' | `node${number}`

export interface TestOptions {
  /** ms before the test fails. @default 15000 */
  timeout?: number
  /** Skip with this reason (a string), or run (false/undefined). */
  skip?: string | false | undefined
  /** Runtime bugs this test hits: failing there is `known`, with this explanation. */
  known?: Partial<Record<Where, string>>
}

export interface TestContext {
  /** Runs after the test (also after a failure or timeout), last registered first. */
  after(fn: () => unknown): void
  /** Aborts when the test timed out. */
  readonly signal: AbortSignal
}

type Body = (t: TestContext) => unknown

interface Entry {
  readonly name: string
  readonly fn: Body
  readonly options: TestOptions
}

const entries: Entry[] = []
const prefixes: string[] = []

/** Groups tests: their names get `name ›` in front. */
export function describe(name: string, body: () => void): void {
  prefixes.push(name)
  try {
    body()
  } finally {
    prefixes.pop()
  }
}

/** Registers a test. */
export function test(name: string, fn: Body): void
export function test(name: string, options: TestOptions, fn: Body): void
export function test(name: string, a: TestOptions | Body, b?: Body): void {
  const [options, fn] = typeof a === 'function' ? [{}, a] : [a, b as Body]
  entries.push({ name: [...prefixes, name].join(' › '), fn, options })
}

/** The summary run() prints last. */
export interface Summary {
  runtime: string
  version: string
  passed: number
  failed: number
  skipped: number
  known: number
  /** Names of failed tests. */
  failures: string[]
  /** Known issues seen (test name: why). */
  knownIssues: string[]
  /** Known issues declared for this runtime that did not show. */
  unexpectedPasses: string[]
}

/** An error that escaped a test (an unhandled rejection, an uncaught exception), charged to the running test. */
let escaped: unknown[] = []

/** Runs every registered test whose name contains `filter`; prints one line per test and the summary. */
export async function run(filter = ''): Promise<Summary> {
  const onError = (err: unknown): void => {
    escaped.push(err)
  }
  process.on('unhandledRejection', onError)
  process.on('uncaughtException', onError)
  const summary: Summary = {
    runtime: runtime.name,
    version: runtime.version,
    passed: 0,
    failed: 0,
    skipped: 0,
    known: 0,
    failures: [],
    knownIssues: [],
    unexpectedPasses: [],
  }
  const selected = entries.filter((e) => e.name.includes(filter))
  let n = 0
  for (const entry of selected) {
    n++
    if (entry.options.skip) {
      summary.skipped++
      print(`ok ${n} ${entry.name} # SKIP ${entry.options.skip}`)
      continue
    }
    const started = performance.now()
    const error = await runOne(entry)
    const ms = Math.round(performance.now() - started)
    const known = knownIssue(entry.options)
    if (error === undefined) {
      summary.passed++
      print(`ok ${n} ${entry.name} (${ms} ms)`)
      if (known !== undefined) {
        summary.unexpectedPasses.push(entry.name)
        print(`  # known issue did not show here: ${known}`)
      }
    } else if (known !== undefined) {
      summary.known++
      summary.knownIssues.push(`${entry.name}: ${known}`)
      print(`ok ${n} ${entry.name} # KNOWN ${known} (${ms} ms)\n${indent(describeError(error))}`)
    } else {
      summary.failed++
      summary.failures.push(entry.name)
      print(`not ok ${n} ${entry.name} (${ms} ms)\n${indent(describeError(error))}`)
    }
  }
  process.removeListener('unhandledRejection', onError)
  process.removeListener('uncaughtException', onError)
  print(`# summary ${JSON.stringify(summary)}`)
  return summary
}

/** Runs one test with its timeout and hooks; returns its error, if any. */
async function runOne(entry: Entry): Promise<unknown> {
  const hooks: (() => unknown)[] = []
  const controller = new AbortController()
  const timeout = entry.options.timeout ?? 15_000
  escaped = []
  let error: unknown
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    const context: TestContext = { after: (fn) => hooks.push(fn), signal: controller.signal }
    await Promise.race([
      Promise.resolve().then(() => entry.fn(context)),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          controller.abort()
          reject(new Error(`timed out after ${timeout} ms`))
        }, timeout)
      }),
    ])
  } catch (err) {
    error = err
  } finally {
    clearTimeout(timer)
  }
  for (const hook of hooks.reverse()) {
    try {
      await withTimeout(Promise.resolve().then(hook), 5000, 'an after() hook')
    } catch (err) {
      error ??= err
    }
  }
  // Give stray errors of this test (a socket 'error' nobody listened to) a turn to show up here.
  await new Promise((resolve) => setTimeout(resolve, 0))
  if (error === undefined && escaped.length > 0) error = new Error(`an error escaped the test: ${describeError(escaped[0])}`)
  escaped = []
  return error
}

function knownIssue(options: TestOptions): string | undefined {
  const known = options.known
  if (known === undefined) return undefined
  const major = runtime.version.split('.')[0]
  return known[`${runtime.name}${major}` as Where] ?? known[runtime.name]
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const cause = err.cause === undefined ? '' : `\ncause: ${describeError(err.cause)}`
    return `${err.stack ?? `${err.name}: ${err.message}`}${typeof code === 'string' ? ` [${code}]` : ''}${cause}`
  }
  return String(err)
}

function indent(text: string): string {
  return text
    .split('\n')
    .slice(0, 30)
    .map((l) => `    ${l}`)
    .join('\n')
}

function print(line: string): void {
  console.log(line)
}

function detect(): RuntimeInfo {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } }
  if (g.Bun !== undefined) return { name: 'bun', version: g.Bun.version }
  if (g.Deno !== undefined) return { name: 'deno', version: g.Deno.version.deno }
  return { name: 'node', version: process.versions.node ?? 'unknown' }
}
