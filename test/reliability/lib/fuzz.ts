/**
 * Fuzzing the RESP and HTTP example servers with random and mutated byte streams. For every
 * input, cut into random reads, with or without FIN:
 * - no handler throws (the engine would turn it into a `HandlerError`: a bug);
 * - nothing hangs: once the input is over and the deadlines have passed, the stream has ended;
 * - it ends cleanly (`Intent.done()`, answers flushed), and a refusal is a protocol error
 *   reply that is the last thing sent;
 * - the input buffered never exceeds the protocol's limits plus one read.
 *
 * `fuzzHarness` runs on the test kit (virtual clock, thousands of cases a second);
 * `fuzzSockets` sends the same kind of input to real servers and checks they keep serving.
 */
import net from 'node:net'
import fc from 'fast-check'
import { type Factory, serve } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'
import { cutAt, encodeHttp, encodeResp, hostileBytes, httpSession, mutate, mutation, respSession } from './inputs.js'
import { Problems, type ScenarioResult } from './metrics.js'
import { httpFactory, respFactory } from './splits.js'

type Outcome = Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>

/** Limits of the fuzzed servers: small, so that every limit is within reach of short inputs. */
export const RESP_FUZZ_LIMITS = { maxInlineLength: 1024, maxBulkLength: 4096, maxArguments: 64, maxCommandBytes: 16 * 1024, idleTimeout: 1000 }
export const HTTP_FUZZ_LIMITS = { maxHeadSize: 1024, maxBodySize: 4096, keepAliveTimeout: 1000, headersTimeout: 2000, requestTimeout: 3000 }
/** Past every deadline of both servers (ms of virtual time), the flush timeout of a closing HTTP connection included. */
const PAST_DEADLINES = 60_000
/** Most input either server may buffer, besides the last read: its largest expectation. */
const RESP_BOUND = Math.max(RESP_FUZZ_LIMITS.maxInlineLength + 1, RESP_FUZZ_LIMITS.maxBulkLength + 2)
const HTTP_BOUND = Math.max(HTTP_FUZZ_LIMITS.maxHeadSize + 4, HTTP_FUZZ_LIMITS.maxBodySize + 2, 4096 + 2, 16 * 1024 + 2)

/** A fuzz input: which server, the bytes, how they are cut into reads, whether FIN follows. */
export interface FuzzCase {
  server: 'resp' | 'http'
  bytes: Buffer
  cuts: number[]
  end: boolean
}

/** Random bytes, or a valid session with a few mutations, for either server. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    fc.oneof(
      fc
        .tuple(respSession, fc.array(mutation, { minLength: 1, maxLength: 6 }))
        .map(([s, m]) => ({ server: 'resp' as const, bytes: mutate(encodeResp(s.requests, s.quit), m) })),
      fc
        .tuple(httpSession, fc.array(mutation, { minLength: 1, maxLength: 6 }))
        .map(([s, m]) => ({ server: 'http' as const, bytes: mutate(encodeHttp(s.requests, s.close, s.strayCrlf), m) })),
      fc.tuple(fc.constantFrom('resp' as const, 'http' as const), hostileBytes).map(([server, bytes]) => ({ server, bytes })),
    ),
    fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 16 }),
    fc.boolean(),
  )
  .map(([input, cuts, end]) => ({ ...input, cuts, end }))

/** Checks one input on the harness; returns what went wrong, or null. */
export function fuzzOne(input: FuzzCase, factories: { resp: Factory; http: Factory }): string | null {
  const h = new Harness(input.server === 'resp' ? factories.resp : factories.http)
  const bound = input.server === 'resp' ? RESP_BOUND : HTTP_BOUND
  for (const chunk of cutAt(input.bytes, input.cuts)) {
    if (h.state !== 'running') break
    h.feed(chunk)
    if (h.buffered > bound + chunk.length) return `buffered ${h.buffered} bytes, over the bound ${bound} + one read of ${chunk.length}`
  }
  if (input.end && h.state === 'running') h.end()
  if (h.state === 'running') h.advance(PAST_DEADLINES)
  if (h.state === 'running') return `still open ${PAST_DEADLINES} ms after the input (events ${h.log.slice(-4).join(', ')})`
  if (h.state === 'error') return `ended with an error instead of a clean close: ${h.error?.name}: ${h.error?.message}`
  const output = h.output
  return input.server === 'resp' ? checkRespOutput(output) : checkHttpOutput(output)
}

/** The output is well-formed RESP replies, and a protocol error is the last of them. */
export function checkRespOutput(output: Buffer): string | null {
  let at = 0
  const line = (): string | null => {
    const lf = output.indexOf('\r\n', at)
    if (lf < 0) return null
    const text = output.toString('latin1', at, lf)
    at = lf + 2
    return text
  }
  const reply = (): string | null => {
    const text = line()
    if (text === null) return 'a reply line without CRLF'
    const rest = text.slice(1)
    switch (text[0]) {
      case '+':
        return null
      case '-':
        if (rest.startsWith('ERR Protocol error') && at !== output.length) return `output after "${text}"`
        return null
      case ':':
        return /^-?\d+$/.test(rest) ? null : `bad integer ${rest}`
      case '$': {
        const n = Number(rest)
        if (n === -1) return null
        if (!(Number.isInteger(n) && n >= 0) || output.toString('latin1', at + n, at + n + 2) !== '\r\n') return `bad bulk $${rest}`
        at += n + 2
        return null
      }
      case '*': {
        const n = Number(rest)
        if (n === -1) return null
        if (!(Number.isInteger(n) && n >= 0)) return `bad array *${rest}`
        for (let i = 0; i < n; i++) {
          const bad = reply()
          if (bad !== null) return bad
        }
        return null
      }
      default:
        return `unknown reply type ${JSON.stringify(text.slice(0, 20))}`
    }
  }
  while (at < output.length) {
    const bad = reply()
    if (bad !== null) return `${bad} in ${JSON.stringify(output.toString('latin1').slice(0, 300))}`
  }
  return null
}

const STATUS = /^HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n/
const CLOSE_HEAD = /\r\nConnection: close\r\n\r\n/

/**
 * The output starts with a status line of a known status, and an answer that closes the
 * connection (every refusal does) is the last thing sent: its head, then its Content-Length
 * of body (or none, after HEAD).
 */
export function checkHttpOutput(output: Buffer): string | null {
  if (output.length === 0) return null
  const text = output.toString('latin1')
  const status = STATUS.exec(text)
  if (status === null) return `output does not start with a status line: ${JSON.stringify(text.slice(0, 80))}`
  const close = CLOSE_HEAD.exec(text)
  if (close === null) return null
  const headEnd = close.index + close[0].length
  const headStart = text.lastIndexOf('HTTP/1.1 ', close.index)
  const length = /\r\nContent-Length: (\d+)\r\n/.exec(text.slice(headStart, headEnd))
  const end = headEnd + Number(length?.[1] ?? 0)
  if (text.length !== end && text.length !== headEnd) return `output after the closing answer: ${JSON.stringify(text.slice(headStart, headStart + 200))}…`
  return null
}

/** Fuzzes both servers on the harness with `cases` inputs. */
export async function fuzzHarness(options: { cases: number; seed?: number }): Promise<Outcome> {
  const factories = { resp: respFactory(RESP_FUZZ_LIMITS), http: httpFactory(HTTP_FUZZ_LIMITS) }
  const problems = new Problems()
  let tried = 0
  let bytes = 0
  const details = await fc.check(
    fc.property(fuzzCase, (input) => {
      tried++
      bytes += input.bytes.length
      const bad = fuzzOne(input, factories)
      if (bad !== null) throw new Error(bad)
    }),
    { numRuns: options.cases, seed: options.seed ?? 20260602, endOnFailure: false },
  )
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
    problems.add(`${fc.defaultReportMessage(details) ?? 'failed'}\n${why}`)
  }
  return {
    name: 'fuzz: RESP + HTTP (harness)',
    unit: 'inputs',
    cases: details.numRuns,
    faults: tried,
    errors: problems.count,
    bytesLost: 0,
    notes: `${(bytes / 2 ** 20).toFixed(1)} MiB of hostile input`,
    samples: problems.samples,
  }
}

/**
 * Real servers on loopback: `connections` clients each send one fuzz input in its reads (and
 * FIN, or not); each connection must be closed by the server within the deadlines, and
 * after all of them a valid request is still answered.
 */
export async function fuzzSockets(options: { connections: number; concurrency?: number; seed?: number }): Promise<Outcome> {
  const problems = new Problems()
  const resp = await serve({ host: '127.0.0.1', port: 0 }, respFactory({ ...RESP_FUZZ_LIMITS, idleTimeout: 300 }))
  const http = await serve(
    { host: '127.0.0.1', port: 0 },
    httpFactory({ ...HTTP_FUZZ_LIMITS, keepAliveTimeout: 300, headersTimeout: 300, requestTimeout: 300 }),
  )
  const inputs = fc.sample(fuzzCase, { numRuns: options.connections, seed: options.seed ?? 20260603 })
  let next = 0
  let faults = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < inputs.length; i = next++) {
      const input = inputs[i] as FuzzCase
      const server = input.server === 'resp' ? resp : http
      const port = (server.address as { port: number }).port
      const bad = await sendAndAwaitClose(port, input, 5000)
      faults++
      if (bad !== null) problems.add(`${input.server} input ${JSON.stringify(input.bytes.toString('latin1').slice(0, 200))}: ${bad}`)
    }
  }
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 50 }, worker))
    // Still serving: a valid request on each.
    const pong = await exchange((resp.address as { port: number }).port, '*1\r\n$4\r\nPING\r\n', (s) => s.includes('\r\n'))
    if (pong !== '+PONG\r\n') problems.add(`RESP server answered ${JSON.stringify(pong)} after the fuzzing`)
    const hello = await exchange((http.address as { port: number }).port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', (s) => s.endsWith('Hello, world!\n'))
    if (!hello.startsWith('HTTP/1.1 200 OK')) problems.add(`HTTP server answered ${JSON.stringify(hello.slice(0, 80))} after the fuzzing`)
  } finally {
    await Promise.all([resp.close({ timeout: 0 }), http.close({ timeout: 0 })])
  }
  return {
    name: 'fuzz: RESP + HTTP (sockets)',
    unit: 'connections',
    cases: inputs.length,
    faults,
    errors: problems.count,
    bytesLost: 0,
    samples: problems.samples,
  }
}

/** Sends `input` in its reads, then waits for the server to close; returns what went wrong, or null. */
function sendAndAwaitClose(port: number, input: FuzzCase, within: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let settled = false
    const done = (bad: string | null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(bad)
    }
    const timer = setTimeout(() => done(`the server did not close the connection within ${within} ms`), within)
    socket.on('error', () => {}) // a reset after a refusal is fine: 'close' follows
    socket.on('close', () => done(null))
    socket.resume()
    socket.once('connect', () => {
      for (const chunk of cutAt(input.bytes, input.cuts)) socket.write(chunk)
      if (input.end) socket.end()
    })
  })
}

/** One request on a fresh connection; resolves with the answer once `complete` says so (or at close). */
function exchange(port: number, request: string, complete: (answer: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let answer = ''
    socket.setEncoding('latin1')
    socket.on('data', (text: string) => {
      answer += text
      if (complete(answer)) socket.destroy()
    })
    socket.on('error', () => {})
    socket.on('close', () => resolve(answer))
    socket.write(request)
  })
}
