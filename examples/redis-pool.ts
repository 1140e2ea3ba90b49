/**
 * A pool of Redis clients over several servers (replicas behind no proxy, or a set of caches):
 * `connectionsPerEndpoint` clients per server, each a `RedisClient` on its own `Persistent`,
 * health-checked with Redis's own `PING`. Commands go to live clients only; a server that is
 * down or fails its PINGs is out of rotation until its client reconnected and a PING passed.
 *
 *     const pool = createRedisPool([{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6379 }])
 *     await pool.run((redis) => redis.command('SET', 'k', 'v'))
 *     await pool.with(async (redis) => { await redis.command('WATCH', 'k'); ... }) // one client to yourself
 *     await pool.close()
 *
 * What fails, and how: a command written to a server that then dies fails with the client's
 * `ClosedError` (it may or may not have run: it is never sent again by the client or the pool).
 * A command issued while a server is down goes to another one. With every server down, a
 * command fails after `waitTimeout` ms with a `PoolUnavailableError` (`RS_ERR_POOL_UNAVAILABLE`).
 */
import { type Address, Pool, type PoolChoice } from 'rotor-stream'
import { RedisClient, type RedisClientOptions } from './redis-client.js'

/** Options of {@link createRedisPool}. */
export interface RedisPoolOptions {
  /** Options of every `RedisClient` in the pool. @default {} */
  clients?: RedisClientOptions
  /** Clients per server. @default 1 */
  connectionsPerEndpoint?: number
  /** @default 'round-robin' */
  choose?: PoolChoice
  /** ms between PINGs per client. @default 5000 */
  checkInterval?: number
  /** ms a PING may take before the client leaves the rotation. @default 1000 */
  checkTimeout?: number
  /** Most ms a command waits for a live client. @default 5000 */
  waitTimeout?: number
}

/** A pool of `RedisClient`s, one or more per address in `endpoints`. */
export function createRedisPool(endpoints: readonly Address[], options: RedisPoolOptions = {}): Pool<Address, RedisClient> {
  const { clients, connectionsPerEndpoint, choose, checkInterval, checkTimeout, waitTimeout } = options
  return new Pool<Address, RedisClient>({
    endpoints,
    connectionsPerEndpoint,
    choose,
    waitTimeout,
    create: (address) => {
      const client = new RedisClient(address, clients)
      // client.close() also fails the commands still queued in the client.
      return { connection: client.connection, handle: client, close: () => client.close() }
    },
    healthCheck: { check: (client) => client.command('PING'), interval: checkInterval, timeout: checkTimeout },
  })
}
