/**
 * The load generator of the load scenario, run as its own process (so that the server's
 * process holds only the server's file descriptors): opens every connection first, then makes
 * each one send `requests` lines one after the other (closed loop: the next line once the echo
 * of the last one is back), checks every echo byte for byte, and prints one JSON line with the
 * counts and latency percentiles.
 *
 *     node --import tsx load-client.ts '{"port":7000,"connections":1000,"requests":100}'
 */
import net from 'node:net'
import { performance } from 'node:perf_hooks'

/** What the parent asks for. */
export interface LoadRequest {
  port: number
  connections: number
  requests: number
  /** Connections opened at once while connecting. @default 500 */
  batch?: number
  /**
   * Open loop: requests per second over all connections, each connection sending on its own
   * schedule (staggered); latency counts from the scheduled time, so a slow answer that delays
   * the next request is not hidden (no coordinated omission). Without it: closed loop, each
   * connection sends its next request as soon as the last answer is back.
   */
  rate?: number
}

/** What the generator reports. */
export interface LoadReport {
  connected: number
  /** Connections open at the same time once all were connected. */
  concurrent: number
  requests: number
  answered: number
  errors: number
  errorSamples: string[]
  bytesSent: number
  bytesEchoed: number
  p50: number
  p99: number
  max: number
  connectMs: number
  loadMs: number
  rssMiB: number
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as LoadRequest
  const { port, connections, requests } = request
  const batch = request.batch ?? 500
  const latencies = new Float64Array(connections * requests)
  let answered = 0
  let errors = 0
  const errorSamples: string[] = []
  const fail = (what: string): void => {
    errors++
    if (errorSamples.length < 5) errorSamples.push(what)
  }
  let bytesSent = 0
  let bytesEchoed = 0
  const sockets: net.Socket[] = []
  const connectStart = performance.now()
  for (let i = 0; i < connections; i += batch) {
    const some = Array.from({ length: Math.min(batch, connections - i) }, () => {
      const socket = net.connect(port, '127.0.0.1')
      socket.setNoDelay(true)
      sockets.push(socket)
      return new Promise<void>((resolve) => {
        socket.once('connect', () => resolve())
        socket.once('error', (err) => {
          fail(`connect: ${err.message}`)
          resolve()
        })
      })
    })
    await Promise.all(some)
  }
  const connectMs = performance.now() - connectStart
  const live = sockets.filter((s) => !s.destroyed && s.readyState === 'open')
  const loadStart = performance.now()
  let rssPeak = process.memoryUsage.rss()
  /** ms between two requests of one connection in the open loop (0: closed loop). */
  const period = request.rate === undefined ? 0 : (live.length / request.rate) * 1000
  await Promise.all(
    live.map(
      (socket, c) =>
        new Promise<void>((resolve) => {
          let seq = 0
          let expected = ''
          let got = ''
          let sentAt = 0
          let timer: NodeJS.Timeout | null = null
          // Open loop: request `seq` is due at `due(seq)`; connections are spread over one period.
          const due = (n: number): number => loadStart + (c / live.length) * period + n * period
          let finished = false
          const finish = (): void => {
            if (finished) return
            finished = true
            resolve()
          }
          const send = (): void => {
            timer = null
            expected = `c${c}:${seq}\n`
            sentAt = period > 0 ? due(seq) : performance.now()
            bytesSent += expected.length
            socket.write(expected)
          }
          socket.setEncoding('latin1')
          socket.on('data', (text: string) => {
            got += text
            if (got.length < expected.length) return
            if (got !== expected) {
              fail(`connection ${c} request ${seq}: sent ${JSON.stringify(expected)}, got ${JSON.stringify(got.slice(0, 80))}`)
              socket.destroy()
              finish()
              return
            }
            bytesEchoed += got.length
            latencies[answered++] = performance.now() - sentAt
            got = ''
            if (++seq >= requests) finish()
            else if (period === 0) send()
            else timer = setTimeout(send, Math.max(0, due(seq) - performance.now()))
          })
          socket.on('error', (err) => fail(`connection ${c}: ${err.message}`))
          socket.on('close', () => {
            if (timer !== null) clearTimeout(timer)
            if (seq < requests) fail(`connection ${c} closed after ${seq} of ${requests} requests`)
            finish()
          })
          if (c % 1000 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
          if (period === 0) send()
          else timer = setTimeout(send, Math.max(0, due(0) - performance.now()))
        }),
    ),
  )
  const loadMs = performance.now() - loadStart
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
  const measured = latencies.subarray(0, answered).sort()
  const at = (p: number): number =>
    measured.length === 0 ? Number.NaN : (measured[Math.min(measured.length - 1, Math.ceil((p / 100) * measured.length) - 1)] as number)
  const report: LoadReport = {
    connected: live.length,
    concurrent: live.length,
    requests: connections * requests,
    answered,
    errors,
    errorSamples,
    bytesSent,
    bytesEchoed,
    p50: at(50),
    p99: at(99),
    max: at(100),
    connectMs,
    loadMs,
    rssMiB: rssPeak / 2 ** 20,
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
  // Close cleanly and wait for every socket, so the server sees orderly ends.
  await Promise.all(
    sockets.map((s) => {
      if (s.destroyed) return Promise.resolve()
      return new Promise<void>((resolve) => {
        s.once('close', () => resolve())
        s.end()
      })
    }),
  )
}

await main()
