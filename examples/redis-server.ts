/**
 * The demo: an in-memory Redis-compatible server built on rotor-stream: RESP2 and RESP3 (HELLO 3),
 * 16 databases, transactions (MULTI/EXEC/WATCH), pub/sub, CLIENT, inline commands with quotes.
 *
 *     npm start                                   # 127.0.0.1:6380
 *     npx tsx --conditions=rotor-stream-source examples/redis-server.ts --port 6390 --unix /tmp/rs.sock
 *     redis-cli -p 6380 set hello world
 *     redis-benchmark -p 6380 -t ping,set,get -n 100000 -P 32 -q
 *
 * Flags (examples/cli.ts): --host (or $HOST, 127.0.0.1), --port (or $PORT, 6380; 0 picks a free
 * one), --unix PATH (also listen on that Unix socket), --max-bulk BYTES; unknown flags are refused.
 * Prints `listening on host:port` (and the socket path), stops cleanly on SIGINT and SIGTERM.
 */
import { pathToFileURL } from 'node:url'
import { type Server, serve } from 'rotor-stream'
import { formatAddress, parseFlags } from './cli.js'
import type { PubSubLimits } from './redis/pubsub.js'
import { RESP_DEFAULTS, RespConnection, respMaxBufferSize } from './redis/resp-server.js'
import { ServerState } from './redis/server-state.js'

/** How often expired keys nobody reads are swept, ms. */
const SWEEP_INTERVAL = 100
/** On shutdown, live connections get this long (ms) to finish before they are closed. */
const CLOSE_TIMEOUT = 1000

export interface RedisServerOptions {
  host?: string
  port?: number
  unix?: string
  maxBulkLength?: number
  /** Output limits of a subscriber that does not read (Redis' client-output-buffer-limit pubsub). @default 32 MiB hard, 8 MiB for 60 s soft */
  pubsub?: Partial<PubSubLimits>
}

/** A running server: its listeners and how to stop it. */
export interface RunningServer {
  readonly port: number
  readonly unix: string | undefined
  /** The databases, clients and subscriptions. */
  readonly state: ServerState
  close(): Promise<void>
}

/** Starts the server; resolves once it listens (TCP, and the Unix socket if asked). */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RunningServer> {
  const state = new ServerState({ pubsub: options.pubsub })
  const limits = { ...RESP_DEFAULTS, maxBulkLength: options.maxBulkLength ?? RESP_DEFAULTS.maxBulkLength }
  const factory = RespConnection.factory({ server: state, limits })
  const unixFactory = RespConnection.factory({ server: state, limits, unixPath: options.unix })
  // Both listeners share the databases, as one Redis answers on its port and its unixsocket.
  // A command is parsed in place: the input must be able to hold the largest one the limits allow.
  const maxBufferSize = respMaxBufferSize(limits)
  const servers: Server[] = [await serve({ host: options.host ?? '127.0.0.1', port: options.port ?? 6380, maxBufferSize }, factory)]
  if (options.unix !== undefined) servers.push(await serve({ path: options.unix, maxBufferSize }, unixFactory))
  const sweeper = setInterval(() => {
    for (const db of state.databases) db.sweep()
  }, SWEEP_INTERVAL)
  sweeper.unref()
  const address = servers[0]?.address
  return {
    port: address !== undefined && 'port' in address ? address.port : 0,
    unix: options.unix,
    state,
    async close() {
      clearInterval(sweeper)
      // Clients idle on a kept-alive connection never end by themselves: give them a moment.
      await Promise.all(servers.map((server) => server.close({ timeout: CLOSE_TIMEOUT })))
    },
  }
}

async function main(): Promise<void> {
  const flags = parseFlags({ file: 'examples/redis-server.ts', port: 6380, unix: true, flags: { 'max-bulk': 'BYTES' } })
  const maxBulk = flags.values['max-bulk']
  const server = await startRedisServer({
    host: flags.host,
    port: flags.port,
    unix: flags.unix,
    maxBulkLength: maxBulk === undefined ? undefined : Number(maxBulk),
  })
  const where = formatAddress({ host: flags.host, port: server.port })
  console.log(`listening on ${where}${server.unix === undefined ? '' : ` and ${server.unix}`}`)
  console.log(`rotor-stream RESP server (try: redis-cli -h ${flags.host} -p ${server.port} ping)`)
  const stop = (signal: string): void => {
    console.log(`${signal}: shutting down`)
    void server.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
