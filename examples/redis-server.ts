/**
 * The demo: an in-memory Redis-compatible (RESP2) server built on rotor-stream.
 *
 *     npm start                                   # 127.0.0.1:6380
 *     npx tsx --conditions=rotor-stream-source examples/redis-server.ts --port 6390 --unix /tmp/rs.sock
 *     redis-cli -p 6380 set hello world
 *     redis-benchmark -p 6380 -t ping,set,get -n 100000 -P 32 -q
 *
 * Flags (or environment): --host (HOST, 127.0.0.1), --port (PORT, 6380; 0 picks a free one),
 * --unix (UNIX_PATH, also listen on that Unix socket), --max-bulk (MAX_BULK, bytes).
 * Prints `listening <port>` and the addresses, stops cleanly on SIGINT and SIGTERM.
 */
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { type Server, serve } from 'rotor-stream'
import { Keyspace } from './redis/keyspace.js'
import { RESP_DEFAULTS, RespConnection, respMaxBufferSize } from './redis/resp-server.js'

/** How often expired keys nobody reads are swept, ms. */
const SWEEP_INTERVAL = 100
/** On shutdown, live connections get this long (ms) to finish before they are closed. */
const CLOSE_TIMEOUT = 1000

export interface RedisServerOptions {
  host?: string
  port?: number
  unix?: string
  maxBulkLength?: number
}

/** A running server: its listeners and how to stop it. */
export interface RunningServer {
  readonly port: number
  readonly unix: string | undefined
  readonly keyspace: Keyspace
  close(): Promise<void>
}

/** Starts the server; resolves once it listens (TCP, and the Unix socket if asked). */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RunningServer> {
  const keyspace = new Keyspace()
  const limits = { ...RESP_DEFAULTS, maxBulkLength: options.maxBulkLength ?? RESP_DEFAULTS.maxBulkLength }
  const factory = RespConnection.factory({ keyspace, limits })
  // Both listeners share one keyspace, as one Redis answers on its port and its unixsocket.
  // A command is parsed in place: the input must be able to hold the largest one the limits allow.
  const maxBufferSize = respMaxBufferSize(limits)
  const servers: Server[] = [await serve({ host: options.host ?? '127.0.0.1', port: options.port ?? 6380, maxBufferSize }, factory)]
  if (options.unix !== undefined) servers.push(await serve({ path: options.unix, maxBufferSize }, factory))
  const sweeper = setInterval(() => keyspace.sweep(), SWEEP_INTERVAL)
  sweeper.unref()
  const address = servers[0]?.address
  return {
    port: address !== undefined && 'port' in address ? address.port : 0,
    unix: options.unix,
    keyspace,
    async close() {
      clearInterval(sweeper)
      // Clients idle on a kept-alive connection never end by themselves: give them a moment.
      await Promise.all(servers.map((server) => server.close({ timeout: CLOSE_TIMEOUT })))
    },
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
      port: { type: 'string', default: process.env.PORT ?? '6380' },
      unix: { type: 'string', default: process.env.UNIX_PATH },
      'max-bulk': { type: 'string', default: process.env.MAX_BULK },
    },
  })
  const server = await startRedisServer({
    host: values.host,
    port: Number(values.port),
    unix: values.unix,
    maxBulkLength: values['max-bulk'] === undefined ? undefined : Number(values['max-bulk']),
  })
  console.log(`listening ${server.port}`)
  console.log(`rotor-stream RESP server on ${values.host}:${server.port}${server.unix ? ` and ${server.unix}` : ''} (try: redis-cli -p ${server.port} ping)`)
  const stop = (signal: string): void => {
    console.log(`${signal}: shutting down`)
    void server.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
