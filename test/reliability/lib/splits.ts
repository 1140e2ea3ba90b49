/**
 * "Any split of a valid input stream gives exactly the same replies and events as the unsplit
 * stream", as fast-check properties, for the core loop, the RESP server, the HTTP server (on the
 * test kit's Harness) and the RESP client (on real sockets, see resp-client.ts).
 *
 * Greedy parsers (RESP and HTTP servers parse everything buffered in one `bytesRead`) get a
 * different number of handler calls per split by design; for them the events compared are the
 * exceptions and how the stream ended, plus every output byte.
 */
import fc from 'fast-check'
import type { Factory } from 'rotor-stream'
import { type Run, runScripted } from 'rotor-stream/testing'
import { demoRouter, HttpConnection } from '../../../examples/http-server.js'
import { RESP_DEFAULTS, RespConnection, type RespLimits } from '../../../examples/redis/resp-server.js'
import { ServerState } from '../../../examples/redis/server-state.js'
import { coreStream, cutAt, encodeCore, encodeHttp, encodeResp, hostileBytes, httpSession, mutate, mutation, respSession } from './inputs.js'
import type { ScenarioResult } from './metrics.js'
import { FramedEcho } from './protocols.js'

/** Options of every property run. */
export interface PropertyOptions {
  /** fast-check cases. */
  numRuns: number
  /** Seed, so that a failure can be replayed. @default a fixed seed */
  seed?: number
}

type Outcome = Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>

/** The RESP server with fresh databases per connection and a frozen clock. */
export function respFactory(limits: Partial<RespLimits> = {}): Factory {
  return (t, seed, scope) =>
    RespConnection.factory({ server: new ServerState({ now: () => 1_000_000 }), limits: { ...RESP_DEFAULTS, ...limits } })(t, seed, scope)
}

/** The demo HTTP server without a Date header (byte-exact output), plus a route that throws. */
export function httpFactory(limits: Parameters<typeof HttpConnection.factory>[0]['limits'] = {}): Factory {
  const router = demoRouter().get('/boom', () => {
    throw new Error('boom')
  })
  return HttpConnection.factory({ handler: router.handle, limits, date: null, onError: null }) // /boom throws on purpose
}

/**
 * What must not depend on the split: the output and how the stream ended, plus every handler
 * call (`all`), only the exceptions and fatal reasons (`exceptions`), or no events (`output`).
 */
export type Compare = 'all' | 'exceptions' | 'output'

function summary(run: Run, compare: Compare): string {
  const told = (_line: string, i: number): boolean => {
    const handler = run.events[i]?.handler
    return handler === 'exception' || handler === 'fatal'
  }
  const events = compare === 'all' ? run.log : compare === 'exceptions' ? run.log.filter(told) : []
  return JSON.stringify({ output: run.output.toString('latin1'), state: run.state, error: errorCode(run.error), events })
}

function errorCode(err: Error | undefined): string | undefined {
  return err === undefined ? undefined : ((err as { code?: string }).code ?? err.name)
}

/** Runs `input` whole and split at `cuts`; returns a description of the difference, or null. */
export function splitDifference(factory: Factory, input: Buffer, cuts: readonly number[], options: { end: boolean; compare: Compare }): string | null {
  const whole = runScripted(factory, [input], { end: options.end })
  const chunks = cutAt(input, cuts)
  const split = runScripted(factory, chunks, { end: options.end })
  const a = summary(whole, options.compare)
  const b = summary(split, options.compare)
  if (a === b) return null
  return `split ${chunks.map((c) => c.length).join('+')} differs:\n  whole: ${a.slice(0, 2000)}\n  split: ${b.slice(0, 2000)}`
}

/** Runs one property; a failure is counted (with fast-check's report, seed and shrunk case) instead of thrown. */
async function check<T>(name: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => string | null, options: PropertyOptions): Promise<Outcome> {
  const details = await fc.check(
    fc.property(arbitrary, (value) => {
      const difference = predicate(value)
      if (difference !== null) throw new Error(difference)
    }),
    { numRuns: options.numRuns, seed: options.seed ?? 20260601, endOnFailure: false },
  )
  const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
  const samples = details.failed ? [`${fc.defaultReportMessage(details) ?? 'failed'}\n${why}`] : []
  return { name, unit: 'inputs', cases: details.numRuns, faults: 0, errors: details.failed ? 1 : 0, bytesLost: 0, samples }
}

/** Core loop: delimiter, exact bytes, limit, flush and end of stream give the same handler calls for any split. */
export function coreSplits(options: PropertyOptions): Promise<Outcome> {
  return check(
    'splits: core loop',
    fc.tuple(coreStream, fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 24 })),
    ([s, cuts]) => splitDifference(FramedEcho.create, encodeCore(s.messages, s.tail), cuts, { end: s.end, compare: 'all' }),
    options,
  )
}

/** RESP server: valid pipelined sessions. */
export function respServerSplits(options: PropertyOptions): Promise<Outcome> {
  const factory = respFactory()
  return check(
    'splits: RESP server',
    fc.tuple(respSession, fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 24 }), fc.boolean()),
    ([s, cuts, end]) => splitDifference(factory, encodeResp(s.requests, s.quit), cuts, { end, compare: 'exceptions' }),
    options,
  )
}

/** HTTP server: valid pipelined keep-alive sessions with Content-Length and chunked bodies. */
export function httpServerSplits(options: PropertyOptions): Promise<Outcome> {
  const factory = httpFactory()
  return check(
    'splits: HTTP server',
    fc.tuple(httpSession, fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 24 }), fc.boolean()),
    ([s, cuts, end]) => splitDifference(factory, encodeHttp(s.requests, s.close, s.strayCrlf), cuts, { end, compare: 'exceptions' }),
    options,
  )
}

/**
 * The stronger form for the servers: also for invalid input (mutated sessions, random bytes),
 * every split gives the same answers, error answers included — a bad request is refused the
 * same way however its bytes arrived. Small limits bring the limit paths into reach. Only the
 * output and the end are compared: whether the parser or the stream's bound noticed a bad
 * request first may differ, the answer may not.
 */
export function hostileSplits(options: PropertyOptions): Promise<Outcome> {
  const resp = respFactory({ maxInlineLength: 64, maxBulkLength: 128, maxArguments: 16, maxCommandBytes: 256 })
  const http = httpFactory({ maxHeadSize: 256, maxBodySize: 256 })
  const input = fc.oneof(
    fc
      .tuple(respSession, fc.array(mutation, { minLength: 1, maxLength: 4 }))
      .map(([s, m]) => ({ server: 'resp' as const, bytes: mutate(encodeResp(s.requests, s.quit), m) })),
    fc
      .tuple(httpSession, fc.array(mutation, { minLength: 1, maxLength: 4 }))
      .map(([s, m]) => ({ server: 'http' as const, bytes: mutate(encodeHttp(s.requests, s.close, s.strayCrlf), m) })),
    fc.tuple(fc.constantFrom('resp' as const, 'http' as const), hostileBytes).map(([server, bytes]) => ({ server, bytes })),
  )
  return check(
    'splits: hostile input (RESP, HTTP)',
    fc.tuple(input, fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 24 }), fc.boolean()),
    ([i, cuts, end]) => splitDifference(i.server === 'resp' ? resp : http, i.bytes, cuts, { end, compare: 'output' }),
    options,
  )
}
