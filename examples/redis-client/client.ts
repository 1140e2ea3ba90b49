/**
 * The Redis client's public face: `command()` queues a command and wakes the protocol of the live
 * connection (see the entry point, examples/redis-client.ts, for how the pieces fit).
 */
import { type Address, ClosedError, type Factory, LimitReachedError, Persistent, type PersistentOptions } from 'rotor-stream'
import { type ConnectionOptions, RedisConnection } from './connection.js'
import type { RedisReply } from './parser.js'
import { CommandQueue } from './queue.js'

/** Options of a {@link RedisClient}. */
export interface RedisClientOptions extends Pick<PersistentOptions, 'connectTimeout' | 'reconnect' | 'tls' | 'stableAfter' | 'random'> {
  /** Commands allowed to wait while disconnected; more are rejected at once. @default 10000 */
  maxOfflineQueue?: number
  /** Commands written and awaiting replies at most; more wait in the queue. @default 4096 */
  maxInFlight?: number
  /** A reply that takes longer than this (ms) fails the connection (and its commands). @default 10000 */
  commandTimeout?: number
  /** Bulk replies as Buffers instead of utf8 strings. @default false */
  returnBuffers?: boolean
}

export class RedisClient {
  readonly #persistent: Persistent
  /** Issued commands, oldest first, in flight and queued (see {@link CommandQueue}). */
  readonly #queue = new CommandQueue()
  #closed = false
  readonly #maxOfflineQueue: number
  readonly options: ConnectionOptions

  constructor(address: Address, options: RedisClientOptions = {}) {
    this.#maxOfflineQueue = options.maxOfflineQueue ?? 10_000
    this.options = { maxInFlight: options.maxInFlight ?? 4096, commandTimeout: options.commandTimeout ?? 10_000, returnBuffers: options.returnBuffers ?? false }
    const { maxOfflineQueue: _q, maxInFlight: _f, commandTimeout: _c, returnBuffers: _b, ...persistent } = options
    this.factory = (t, _seed, scope) => new RedisConnection(this.#queue, this.options).start(t, scope)
    this.#persistent = new Persistent(address, this.factory, persistent)
  }

  /** Creates the protocol of each connection; a test or benchmark may run it on its own stream. @internal */
  readonly factory: Factory<unknown>

  /** The underlying connection manager (state, events `connect`, `disconnect`, `giveup`). */
  get connection(): Persistent {
    return this.#persistent
  }

  /** Sends a command; resolves with its reply, rejects with a `ReplyError` for an error reply. */
  command(...args: (string | Buffer | number)[]): Promise<RedisReply> {
    if (this.#closed) return Promise.reject(new ClosedError('client closed'))
    if (args.length === 0) return Promise.reject(new TypeError('command needs a name'))
    const queue = this.#queue
    const waiting = queue.waiting
    if (waiting >= this.#maxOfflineQueue && this.#persistent.state !== 'connected') {
      return Promise.reject(new LimitReachedError(this.#maxOfflineQueue, `offline queue full (${this.#maxOfflineQueue} commands)`))
    }
    const reply = new Promise<RedisReply>((resolve, reject) => {
      queue.items.push({ args, resolve, reject })
    })
    // Commands already waiting mean a write of the queue is already due: a pending wakeup, the
    // replies that reopen a full window, or the next connection. Only the first one wakes.
    if (waiting === 0) this.#persistent.wakeup() // coalesced: one wakeup, one write, for all commands of this tick
    return reply
  }

  /** Closes the connection; queued commands are rejected with a `ClosedError`. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#persistent.stop() // the connection's fatal rejects the commands in flight
    for (const command of this.#queue.dropWaiting()) command.reject(new ClosedError('client closed'))
  }
}
