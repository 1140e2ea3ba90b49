/**
 * Line echo on every core: a `serve()` server run unchanged under Node's own `node:cluster`.
 * The primary forks the workers; each worker calls `serve()` with the same address and the
 * workers share the listening socket (on Linux the primary accepts and hands connections out
 * round-robin). Nothing in the server knows it is clustered.
 *
 *     npx tsx --conditions=rotor-stream-source examples/cluster.ts --workers 2 --port 7000
 *     printf 'hello\nQUIT\n' | nc 127.0.0.1 7000
 *
 * Flags (examples/cli.ts): `--workers N` (default: one per CPU), `--port P` (0 picks a free port,
 * shared by all workers), `--host H` (default 127.0.0.1), `--max-connections N` (per worker).
 *
 * Ctrl-C or SIGTERM shuts down gracefully: every worker stops accepting, gives its live
 * connections up to 5 s to finish, then exits; the primary exits when all workers have.
 * A worker that dies otherwise is replaced.
 */
import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import { serve } from 'rotor-stream'
import { formatAddress, parseFlags, usage } from './cli.js'
import { LineEcho } from './line-echo.js'

/** How long live connections may finish after a shutdown signal, in ms. */
const SHUTDOWN_TIMEOUT = 5000
/** The message the primary sends a worker to make it shut down. */
const SHUTDOWN = 'shutdown'

const flags = parseFlags({
  file: 'examples/cluster.ts',
  port: 7000,
  flags: { workers: `N (default ${availableParallelism()}, one per CPU)`, 'max-connections': 'N (per worker, default 10000)' },
})
const workers = Number(flags.values.workers ?? availableParallelism())
const maxConnections = Number(flags.values['max-connections'] ?? 10_000)
if (!(Number.isInteger(workers) && workers > 0)) {
  console.error(`--workers must be a positive integer, got ${flags.values.workers}\n${usage({ file: 'examples/cluster.ts', port: 7000 })}`)
  process.exit(2)
}

if (cluster.isPrimary) primary()
else await worker()

function primary(): void {
  let stopping = false
  let listening = 0
  const fork = (): Worker => {
    const w = cluster.fork()
    // Workers share one port; with --port 0 they all get the same free one.
    w.once('listening', (address) => {
      if (++listening === workers) console.log(`listening on ${formatAddress({ host: flags.host, port: address.port })} with ${workers} workers (line echo)`)
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
    // Ctrl-C reaches the workers too, and one may have left the IPC channel already: send only to
    // connected workers, and take a send that fails meanwhile as done (the worker is going anyway).
    for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(SHUTDOWN, ignoreSendError)
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
}

async function worker(): Promise<void> {
  const server = await serve({ host: flags.host, port: flags.port, maxConnections }, LineEcho.create)
  let stopping = false
  const shutdown = (): void => {
    if (stopping) return
    stopping = true
    // Once the server is closed, leaving the IPC channel lets the worker exit by itself.
    void server.close({ timeout: SHUTDOWN_TIMEOUT }).then(() => {
      if (process.connected) process.disconnect()
    })
  }
  process.on('message', (message) => {
    if (message === SHUTDOWN) shutdown()
  })
  // Ctrl-C reaches the whole process group: workers shut down by themselves too.
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
}

/** The callback of a shutdown message: a worker that left between the check and the send needs none. */
function ignoreSendError(_error: Error | null): void {}
