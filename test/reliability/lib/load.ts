/**
 * Load: many concurrent connections on one server process with a steady request load. The
 * server (line echo through `serve()`) runs here; the load generator runs in a child process
 * (load-client.ts), so that each process holds only its own side's file descriptors (10,000
 * connections need 10,000 on each side; `ulimit -n` is per process).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { serve } from 'rotor-stream'
import { LineEcho } from '../../../examples/line-echo.js'
import type { LoadReport, LoadRequest } from './load-client.js'
import { Problems, RssSampler, type ScenarioResult } from './metrics.js'
import { ServerWatch } from './watch.js'

type Outcome = Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>

const CLIENT = fileURLToPath(new URL('./load-client.ts', import.meta.url))

/** Runs the generator with `request`; resolves with its report. */
function generate(request: LoadRequest, timeout: number): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=rotor-stream-source', '--import', 'tsx', CLIENT, JSON.stringify(request)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text
    })
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      err += text
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (code !== 0 || line === undefined) reject(new Error(`load generator exited with ${code ?? signal}: ${err.slice(0, 2000)}`))
      else resolve(JSON.parse(line) as LoadReport)
    })
  })
}

/** Options of {@link load}. */
export interface LoadOptions {
  connections: number
  /** Requests per connection, one after the other. */
  requests: number
  /** Open loop at this many requests per second in all (see LoadRequest.rate); closed loop without. */
  rate?: number
  /** Give up after this many ms. */
  timeout: number
}

export async function load(options: LoadOptions): Promise<Outcome> {
  const problems = new Problems()
  const watch = new ServerWatch()
  const server = await serve({ host: '127.0.0.1', port: 0, backlog: 4096, maxConnections: options.connections + 100 }, LineEcho.create)
  watch.watch(server)
  const rss = new RssSampler(100)
  let report: LoadReport | null = null
  try {
    const port = (server.address as { port: number }).port
    report = await generate(
      { port, connections: options.connections, requests: options.requests, ...(options.rate !== undefined && { rate: options.rate }) },
      options.timeout,
    )
    await watch.drained()
  } catch (err) {
    problems.add(String(err))
  } finally {
    watch.stop()
    await server.close({ timeout: 0 })
  }
  const serverRss = rss.stop()
  if (report === null) {
    return { name: 'load', unit: 'connections', cases: 0, faults: 0, errors: problems.count, bytesLost: 0, samples: problems.samples }
  }
  for (const s of report.errorSamples) problems.add(s)
  problems.count += Math.max(0, report.errors - report.errorSamples.length)
  if (report.connected !== options.connections) problems.add(`${report.connected} of ${options.connections} connected`)
  if (report.answered !== report.requests) problems.add(`${report.answered} of ${report.requests} requests answered`)
  const peakConnections = watch.peakOpen
  if (peakConnections < options.connections) problems.add(`the server saw at most ${peakConnections} connections at once`)
  if (watch.fatals.length > 0) problems.add(`server streams ended abnormally: ${watch.fatals.slice(0, 3).map((e) => e.message)}`)
  const rate = report.answered / (report.loadMs / 1000)
  return {
    name: `load: ${options.connections} connections`,
    unit: 'requests',
    cases: report.answered,
    faults: 0,
    errors: problems.count,
    bytesLost: report.bytesSent - report.bytesEchoed,
    p50: report.p50,
    p99: report.p99,
    notes: `${peakConnections} open at once; ${options.rate === undefined ? 'closed loop' : `open loop at ${options.rate} req/s`}, ${Math.round(rate)} req/s done; connect ${(report.connectMs / 1000).toFixed(1)} s; server RSS ${serverRss.toFixed(0)} MiB, client RSS ${report.rssMiB.toFixed(0)} MiB`,
    samples: problems.samples,
  }
}
