/**
 * Line echo on every core: a `serve()` server run unchanged under Node's own `node:cluster`.
 * The primary forks the workers; each worker calls `serve()` with the same address and the
 * workers share the listening socket (on Linux the primary accepts and hands connections out
 * round-robin). Nothing in the server knows it is clustered.
 *
 *     npx tsx --conditions=rotor-stream-source examples/cluster.ts --workers 2 --port 7000
 *     printf 'hello\nQUIT\n' | nc 127.0.0.1 7000
 *
 * Flags: `--workers N` (default: one per CPU), `--port P` (0 picks a free port, shared by all
 * workers), `--host H` (default 127.0.0.1), `--max-connections N` (per worker).
 *
 * Ctrl-C or SIGTERM shuts down gracefully: every worker stops accepting, gives its live
 * connections up to 5 s to finish, then exits; the primary exits when all workers have.
 * A worker that dies otherwise is replaced.
 */
import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { serve } from 'rotor-stream'
import { LineEcho } from './line-echo.js'

/** How long live connections may finish after a shutdown signal, in ms. */
const SHUTDOWN_TIMEOUT = 5000
/** The message the primary sends a worker to make it shut down. */
const SHUTDOWN = 'shutdown'

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: String(availableParallelism()) },
    port: { type: 'string', default: '7000' },
    host: { type: 'string', default: '127.0.0.1' },
    'max-connections': { type: 'string', default: '10000' },
  },
})
const workers = Number(values.workers)
const port = Number(values.port)
if (!(Number.isInteger(workers) && workers > 0)) throw new Error(`--workers must be a positive integer, got ${values.workers}`)

if (cluster.isPrimary) primary()
else await worker()

function primary(): void {
  let stopping = false
  let listening = 0
  const fork = (): Worker => {
    const w = cluster.fork()
    // Workers share one port; with --port 0 they all get the same free one.
    w.once('listening', (address) => {
      if (++listening === workers) console.log(`line echo listening on ${values.host}:${address.port} with ${workers} workers`)
    })
    return w
  }
  for (let i = 0; i < workers; i++) fork()
  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
      return
    }
    console.error(`worker ${w.process.pid} died (${signal ?? code}); starting another`)
    fork()
  })
  const shutdown = (): void => {
    if (stopping) return
    stopping = true
    for (const w of Object.values(cluster.workers ?? {})) w?.send(SHUTDOWN)
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
}

async function worker(): Promise<void> {
  const server = await serve({ host: values.host, port, maxConnections: Number(values['max-connections']) }, LineEcho.create)
  let stopping = false
  const shutdown = (): void => {
    if (stopping) return
    stopping = true
    // Once the server is closed, leaving the IPC channel lets the worker exit by itself.
    void server.close({ timeout: SHUTDOWN_TIMEOUT }).then(() => process.disconnect())
  }
  process.on('message', (message) => {
    if (message === SHUTDOWN) shutdown()
  })
  // Ctrl-C reaches the whole process group: workers shut down by themselves too.
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
}
