/**
 * Metrics in Prometheus text format: the line-echo server, and an HTTP endpoint `/metrics`
 * (node:http) that reads `server.stats` when scraped and adds the counters of closed streams,
 * summed from the `stream:close` tracing channel. Nothing is counted per request beyond the
 * library's own counters; the exposition is built only when scraped.
 *
 *     npx tsx --conditions=rotor-stream-source examples/metrics.ts --port 7003 --metrics-port 9464
 *     printf 'hi\nQUIT\n' | nc 127.0.0.1 7003; curl -s http://127.0.0.1:9464/metrics
 */
import diagnostics from 'node:diagnostics_channel'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { type Server, type ServerRefusedMessage, type StreamCloseMessage, serve } from 'rotor-stream'
import { formatAddress, parseFlags } from './cli.js'
import { LineEcho } from './line-echo.js'

/** Counters of closed streams, summed from `rotor-stream:stream:close` (the live ones are in `server.stats`). */
export class ClosedStreams {
  /** Closed streams by how they ended: `clean`, or the reason's code (`RS_ERR_TIMEOUT`, `ECONNRESET`…). */
  readonly byReason = new Map<string, number>()
  reads = 0
  writes = 0
  pushbackSeconds = 0
  /** Refused connections by remote address, from `rotor-stream:server:refused` (bounded: at most 100 addresses kept). */
  readonly refusedFrom = new Map<string, number>()
  readonly #server: Server
  readonly #onClose = (message: unknown): void => {
    const { reason, stats } = message as StreamCloseMessage
    const code = reason === undefined ? 'clean' : 'code' in reason && typeof reason.code === 'string' ? reason.code : reason.name
    this.byReason.set(code, (this.byReason.get(code) ?? 0) + 1)
    this.reads += stats.reads
    this.writes += stats.writes
    this.pushbackSeconds += stats.pushbackMs / 1000
  }
  readonly #onRefused = (message: unknown): void => {
    const { server, remoteAddress } = message as ServerRefusedMessage
    if (server !== this.#server) return
    const from = remoteAddress ?? 'unknown'
    if (this.refusedFrom.has(from) || this.refusedFrom.size < 100) this.refusedFrom.set(from, (this.refusedFrom.get(from) ?? 0) + 1)
  }

  /** Subscribes; `stop()` unsubscribes. (Streams of other servers in the process are counted too.) */
  constructor(server: Server) {
    this.#server = server
    diagnostics.subscribe('rotor-stream:stream:close', this.#onClose)
    diagnostics.subscribe('rotor-stream:server:refused', this.#onRefused)
  }

  stop(): void {
    diagnostics.unsubscribe('rotor-stream:stream:close', this.#onClose)
    diagnostics.unsubscribe('rotor-stream:server:refused', this.#onRefused)
  }
}

/** The Prometheus text exposition (format 0.0.4) of `server.stats` and the closed streams' counters. */
export function metricsText(server: Server, closed: ClosedStreams): string {
  const stats = server.stats
  const lines: string[] = []
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: ReadonlyArray<[labels: string, value: number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
  }
  const label = (name: string, value: string): string => `{${name}="${value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"}`
  metric('rotor_stream_connections_accepted_total', 'counter', 'Connections accepted.', [['', stats.accepted]])
  metric('rotor_stream_connections_active', 'gauge', 'Connections open now.', [['', stats.active]])
  metric('rotor_stream_connections_refused_total', 'counter', 'Connections closed at once over maxConnections.', [['', stats.refused]])
  metric('rotor_stream_tls_handshake_failures_total', 'counter', 'TLS handshakes that failed or timed out.', [['', stats.tlsHandshakeFailures]])
  metric('rotor_stream_received_bytes_total', 'counter', 'Bytes received by streams, closed and live.', [['', stats.bytesIn]])
  metric('rotor_stream_sent_bytes_total', 'counter', 'Bytes sent by streams, closed and live.', [['', stats.bytesOut]])
  metric(
    'rotor_stream_streams_closed_total',
    'counter',
    'Streams closed, by how they ended.',
    [...closed.byReason].map(([reason, n]) => [label('reason', reason), n]),
  )
  metric('rotor_stream_closed_stream_reads_total', 'counter', 'Socket reads of closed streams.', [['', closed.reads]])
  metric('rotor_stream_closed_stream_writes_total', 'counter', 'Socket writes of closed streams.', [['', closed.writes]])
  metric('rotor_stream_closed_stream_pushback_seconds_total', 'counter', 'Time closed streams spent in pushback.', [['', closed.pushbackSeconds]])
  return `${lines.join('\n')}\n`
}

/** Serves `GET /metrics` on `port` (0: a free one); anything else is a 404. */
export async function metricsEndpoint(host: string, port: number, render: () => string): Promise<http.Server> {
  const endpoint = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(render())
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n')
    }
  })
  endpoint.listen(port, host)
  await new Promise<void>((resolve, reject) => {
    endpoint.once('listening', resolve)
    endpoint.once('error', reject)
  })
  return endpoint
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const command = { file: 'examples/metrics.ts', port: 7003, unix: true, flags: { 'metrics-port': 'P (default 9464; 0: any free port)' } }
  const flags = parseFlags(command)
  const metricsPort = Number(flags.values['metrics-port'] ?? 9464)
  if (!(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort <= 65535)) {
    console.error(`--metrics-port must be an integer within 0..65535, got ${JSON.stringify(flags.values['metrics-port'])}`)
    process.exit(2)
  }
  const server = await serve(flags.unix === undefined ? { host: flags.host, port: flags.port } : { path: flags.unix }, LineEcho.create)
  const closed = new ClosedStreams(server)
  const endpoint = await metricsEndpoint(flags.host, metricsPort, () => metricsText(server, closed))
  const bound = endpoint.address() as AddressInfo
  console.log(`listening on ${formatAddress(server.address)} (line echo)`)
  console.log(`metrics on http://${formatAddress({ host: bound.address, port: bound.port })}/metrics`)
  const stop = (): void => {
    endpoint.close()
    closed.stop()
    void server.close({ timeout: 1000 }).then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
