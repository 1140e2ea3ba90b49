/**
 * The Redis client's public face: `command()` queues a command and wakes the protocol of the live
 * connection; `subscribe()` and its siblings keep the wanted subscriptions (see the entry point,
 * examples/redis-client.ts, for how the pieces fit).
 */
import { performance } from 'node:perf_hooks'
import { type Address, ClosedError, type Factory, InvalidArgumentError, LimitReachedError, Persistent, type PersistentOptions } from 'rotor-stream'
import { type ConnectionOptions, RedisConnection } from './connection.js'
import { OfflineTimeoutError, SubscriberModeError, UnsupportedCommandError } from './errors.js'
import { MAX_LINE, type RedisReply } from './parser.js'
import { type MessageListener, type PatternListener, Subscriptions } from './pubsub.js'
import { type CommandKind, CommandQueue } from './queue.js'

/** Options of a {@link RedisClient}. */
export interface RedisClientOptions extends Pick<PersistentOptions, 'connectTimeout' | 'reconnect' | 'tls' | 'stableAfter' | 'random'> {
  /**
   * The RESP version. `3` sends `HELLO 3` first on every connection (Redis >= 6): replies then
   * include maps (`Map`), sets (`Set`), doubles, booleans, big numbers (`bigint`) and verbatim
   * strings, and pub/sub messages interleave with replies on the one connection. A server that
   * refuses HELLO fails each connection with a `HelloError`. @default 2
   */
  protocol?: 2 | 3
  /**
   * Most bytes of one reply, headers included (a whole array counts once). A larger reply is
   * read and dropped as it arrives, never buffered: its command fails with a
   * `ReplyTooLargeError` (`REDIS_CLIENT_ERR_REPLY_TOO_LARGE`) and the connection stays up. A
   * pub/sub message over it is dropped. Up to this much is buffered per connection, and a bulk
   * string becomes a string as large again. A positive safe integer.
   * @default 16777216 (16 MiB)
   */
  maxReplySize?: number
  /**
   * How long a command may wait without a connection to write it on, in ms: issued while
   * disconnected (or still waiting when the connection was lost), it fails after this long with
   * an `OfflineTimeoutError` (`REDIS_CLIENT_ERR_OFFLINE_TIMEOUT`; `cause` is the last connection
   * error) and is never sent. Commands already written when a connection is lost fail at once
   * with a `ClosedError` instead. A whole number within 1..2^31-1, or `Infinity` to wait for
   * the next connection however long it takes.
   * @default 10000
   */
  offlineTimeout?: number
  /** Commands allowed to wait while disconnected; more are rejected at once (`LimitReachedError`). @default 10000 */
  maxOfflineQueue?: number
  /** Commands written and awaiting replies at most; more wait in the queue. @default 4096 */
  maxInFlight?: number
  /**
   * How long a command written may wait for its reply, in ms. What happens then: see
   * `onCommandTimeout`. `Infinity`: no command timeout (a command waits for its reply as long
   * as the connection lasts), and no per-command deadline bookkeeping.
   * @default 10000
   */
  commandTimeout?: number
  /**
   * What a command timeout does. `'fail-command'`: that command alone fails with a
   * `CommandTimeoutError`, its late reply is skipped when it comes (replies come in order, so it
   * is known by its place), and the connection stays up; if the server then sends no reply at all
   * for another `commandTimeout`, the connection is closed (a `TimeoutError`) and reconnected.
   * `'reconnect'` (the behaviour before 0.x): the first timeout closes the connection and fails
   * every command in flight with a `ClosedError`.
   * @default 'fail-command'
   */
  onCommandTimeout?: 'fail-command' | 'reconnect'
  /** Bulk replies and messages as Buffers instead of utf8 strings. @default false */
  returnBuffers?: boolean
}

/** Default of {@link RedisClientOptions.maxReplySize}, in bytes (16 MiB). */
export const DEFAULT_MAX_REPLY_SIZE = 16 * 1024 * 1024
/** Default of {@link RedisClientOptions.offlineTimeout}, in ms. */
export const DEFAULT_OFFLINE_TIMEOUT = 10_000
/** Largest delay a Node timer takes, in ms. */
const MAX_TIMER = 2 ** 31 - 1

/**
 * Commands `command()` refuses, with why: they change how replies flow, so that replies would no
 * longer match commands one to one. Names of 5 to 12 characters starting with one of `hmprsu`.
 */
const REFUSED: ReadonlyMap<string, string> = new Map([
  ['SUBSCRIBE', 'use subscribe()'],
  ['PSUBSCRIBE', 'use psubscribe()'],
  ['UNSUBSCRIBE', 'use unsubscribe()'],
  ['PUNSUBSCRIBE', 'use punsubscribe()'],
  ['SSUBSCRIBE', 'sharded pub/sub is not supported'],
  ['SUNSUBSCRIBE', 'sharded pub/sub is not supported'],
  ['MONITOR', 'its stream of replies answers no command; use redis-cli monitor'],
  ['RESET', 'it would drop subscriptions and the protocol behind the client'],
  ['HELLO', 'the client says HELLO itself: use the protocol option'],
])

export class RedisClient {
  readonly #address: Address
  readonly #given: RedisClientOptions
  readonly #persistent: Persistent
  /** Issued commands, oldest first, in flight and queued (see {@link CommandQueue}). */
  readonly #queue = new CommandQueue()
  readonly #subscriptions = new Subscriptions()
  #closed = false
  readonly #maxOfflineQueue: number
  readonly #offlineTimeout: number
  /** Connections whose protocol runs (0 or 1, more only under a test kit): 0 means offline. */
  #live = 0
  /** Fails the oldest offline commands; armed exactly while offline with commands waiting. */
  #timer: NodeJS.Timeout | null = null
  /** Why the last connection ended or attempt failed: the `cause` of an `OfflineTimeoutError`. */
  #lastError: Error | undefined = undefined
  /** Set once the reconnect policy gave up: offline commands then fail at once. */
  #gaveUp: Error | null = null
  /** RESP2 with subscriptions: the connection takes pub/sub commands only. */
  #isSubscriberMode = false
  readonly options: ConnectionOptions

  constructor(address: Address, options: RedisClientOptions = {}) {
    this.#address = address
    this.#given = options
    this.#maxOfflineQueue = options.maxOfflineQueue ?? 10_000
    this.#offlineTimeout = checkOfflineTimeout(options.offlineTimeout)
    const protocol = options.protocol ?? 2
    if (protocol !== 2 && protocol !== 3) throw new InvalidArgumentError(`RedisClient: options.protocol must be 2 or 3, got ${String(protocol)}`)
    const maxReplySize = options.maxReplySize ?? DEFAULT_MAX_REPLY_SIZE
    if (!(Number.isSafeInteger(maxReplySize) && maxReplySize > 0))
      throw new InvalidArgumentError(`RedisClient: options.maxReplySize must be a positive safe integer, got ${String(maxReplySize)}`)
    this.options = {
      maxInFlight: options.maxInFlight ?? 4096,
      commandTimeout: options.commandTimeout ?? 10_000,
      onCommandTimeout: checkOnCommandTimeout(options.onCommandTimeout),
      returnBuffers: options.returnBuffers ?? false,
      maxReplySize,
      protocol,
    }
    const { connectTimeout, reconnect, tls, stableAfter, random } = options
    const context = { queue: this.#queue, subscriptions: this.#subscriptions, options: this.options, onLive: this.#onLive }
    this.factory = (t, _seed, scope) => new RedisConnection(context).start(t, scope)
    // The stream's bound on one expectation: a whole bulk string, or a reply line.
    const maxBufferSize = Math.max(maxReplySize, MAX_LINE) + 2
    this.#persistent = new Persistent(address, this.factory, { connectTimeout, reconnect, tls, stableAfter, random, maxBufferSize })
    this.#persistent.on('waiting', (_delay, _attempt, reason) => {
      if (reason !== undefined) this.#lastError = reason
    })
    this.#persistent.on('disconnect', (reason) => {
      if (reason !== undefined) this.#lastError = reason
    })
    this.#persistent.on('giveup', this.#onGiveUp)
  }

  /** Creates the protocol of each connection; a test or benchmark may run it on its own stream. @internal */
  readonly factory: Factory<unknown>

  /** The underlying connection manager (state, events `connect`, `disconnect`, `giveup`). */
  get connection(): Persistent {
    return this.#persistent
  }

  /**
   * Sends a command; resolves with its reply, rejects with a `ReplyError` for an error reply.
   * Fails at once with a `ClosedError` after `close()`, and with a `SubscriberModeError` on a
   * RESP2 client that has subscriptions.
   */
  command(...args: (string | Buffer | number)[]): Promise<RedisReply> {
    if (this.#closed) return Promise.reject(new ClosedError('client closed'))
    if (args.length === 0) return Promise.reject(new TypeError('command needs a name'))
    const name = args[0]
    if (typeof name === 'string' && name.length >= 5 && name.length <= 12 && 'hmprsu'.includes(String.fromCharCode(name.charCodeAt(0) | 0x20))) {
      const upper = name.toUpperCase()
      const hint = REFUSED.get(upper)
      if (hint !== undefined) return Promise.reject(new UnsupportedCommandError(upper, hint))
    }
    if (this.#isSubscriberMode) return Promise.reject(new SubscriberModeError(String(name)))
    return this.#enqueue(args, 'command', 1)
  }

  /**
   * Subscribes `listener` to `channels` (a name or a list); resolves once the server confirmed
   * every channel new to the client. The subscriptions outlive reconnects: every new connection
   * subscribes again before any other command. On a RESP2 client, `command()` is refused while
   * any subscription is held (use `duplicate()` for a client that runs commands).
   */
  subscribe(channels: string | readonly string[], listener: MessageListener): Promise<void> {
    return this.#subscribe('SUBSCRIBE', this.#subscriptions.channels, channels, listener)
  }

  /** Like `subscribe()`, for glob-style patterns (`news.*`); the listener also gets the pattern. */
  psubscribe(patterns: string | readonly string[], listener: PatternListener): Promise<void> {
    return this.#subscribe('PSUBSCRIBE', this.#subscriptions.patterns, patterns, listener)
  }

  /**
   * Removes `listener` (every listener if omitted) from `channels` (every channel if omitted);
   * the channels left without listeners are unsubscribed. Resolves once the server confirmed.
   */
  unsubscribe(channels?: string | readonly string[], listener?: MessageListener): Promise<void> {
    return this.#unsubscribe('UNSUBSCRIBE', this.#subscriptions.channels, channels, listener)
  }

  /** Like `unsubscribe()`, for patterns. */
  punsubscribe(patterns?: string | readonly string[], listener?: PatternListener): Promise<void> {
    return this.#unsubscribe('PUNSUBSCRIBE', this.#subscriptions.patterns, patterns, listener)
  }

  /** A new client with the same address and options: for commands beside a RESP2 subscriber. */
  duplicate(): RedisClient {
    return new RedisClient(this.#address, this.#given)
  }

  /** Closes the connection; queued commands are rejected with a `ClosedError`. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#persistent.stop() // the connection's fatal rejects the commands in flight
    for (const command of this.#queue.dropWaiting()) command.reject(new ClosedError('client closed'))
    this.#clearTimer()
  }

  #subscribe<L>(command: string, map: Map<string, Set<L>>, names: string | readonly string[], listener: L): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('client closed'))
    const list = checkNames(command, names)
    if (list instanceof Error) return Promise.reject(list)
    if (typeof listener !== 'function') return Promise.reject(new InvalidArgumentError(`${command}: the listener must be a function`))
    const added = this.#subscriptions.add(map, list, listener)
    this.#isSubscriberMode = this.options.protocol === 2
    if (added.length === 0) return Promise.resolve() // already wanted (maybe not yet confirmed)
    return this.#enqueue([command, ...added], 'pubsub', added.length).then(
      () => undefined,
      (err: unknown) => {
        // Not subscribed (NOPERM, timed out offline, closed): not wanted either.
        this.#subscriptions.remove(map, added, listener)
        this.#isSubscriberMode = this.options.protocol === 2 && !this.#subscriptions.isEmpty
        throw err
      },
    )
  }

  #unsubscribe<L>(command: string, map: Map<string, Set<L>>, names: string | readonly string[] | undefined, listener: L | undefined): Promise<void> {
    if (this.#closed) return Promise.resolve() // the connection and its subscriptions are gone
    const list = names === undefined ? undefined : checkNames(command, names)
    if (list instanceof Error) return Promise.reject(list)
    const removed = this.#subscriptions.remove(map, list, listener)
    // Commands issued from now on leave after the UNSUBSCRIBE: the server is out of subscribed mode by then.
    this.#isSubscriberMode = this.options.protocol === 2 && !this.#subscriptions.isEmpty
    if (removed.length === 0) return Promise.resolve()
    return this.#enqueue([command, ...removed], 'pubsub', removed.length).then(() => undefined)
  }

  #enqueue(args: readonly (string | Buffer | number)[], kind: CommandKind, replies: number): Promise<RedisReply> {
    const queue = this.#queue
    const waiting = queue.waiting
    const offline = this.#live === 0
    if (offline) {
      if (this.#gaveUp !== null) return Promise.reject(new ClosedError('the client gave up reconnecting', { cause: this.#gaveUp }))
      if (waiting >= this.#maxOfflineQueue)
        return Promise.reject(new LimitReachedError(this.#maxOfflineQueue, `offline queue full (${this.#maxOfflineQueue} commands)`))
    }
    const offlineSince = offline ? performance.now() : 0
    const reply = new Promise<RedisReply>(capture) // sets `captured`: no closure per command
    queue.items.push({ args, resolve: captured.resolve, reject: captured.reject, kind, replies, offlineSince })
    if (offline && this.#timer === null) this.#armTimer()
    // Commands already waiting mean a write of the queue is already due: a pending wakeup, the
    // replies that reopen a full window, or the next connection. Only the first one wakes.
    if (waiting === 0) this.#persistent.wakeup() // coalesced: one wakeup, one write, for all commands of this tick
    return reply
  }

  /** A connection started (`live`) or ended: offline commands start or stop their clocks. */
  readonly #onLive = (live: boolean): void => {
    if (live) {
      this.#live++
      this.#queue.markOnline()
      this.#clearTimer()
      return
    }
    this.#live--
    if (this.#live > 0) return
    if (this.#gaveUp !== null) this.#rejectWaiting(this.#gaveUp)
    this.#queue.markOffline(performance.now())
    this.#armTimer()
  }

  readonly #onGiveUp = (reason: Error | undefined): void => {
    this.#gaveUp = reason ?? new Error('the reconnect policy gave up')
    if (this.#live === 0) this.#rejectWaiting(this.#gaveUp)
  }

  #rejectWaiting(reason: Error): void {
    for (const command of this.#queue.dropWaiting()) command.reject(new ClosedError('the client gave up reconnecting', { cause: reason }))
    this.#clearTimer()
  }

  /** Arms the timer for the oldest offline command, if any and if commands can time out. */
  #armTimer(): void {
    const oldest = this.#queue.oldestOffline
    if (oldest === undefined || oldest === 0 || this.#offlineTimeout === Number.POSITIVE_INFINITY || this.#closed) return
    const delay = Math.min(MAX_TIMER, Math.max(1, Math.ceil(oldest + this.#offlineTimeout - performance.now())))
    this.#timer = setTimeout(this.#onTimer, delay)
    this.#timer.unref() // the Persistent keeps the process alive while it reconnects; this adds nothing
  }

  readonly #onTimer = (): void => {
    this.#timer = null
    if (this.#live > 0) return
    const expired = this.#queue.expireOffline(performance.now() - this.#offlineTimeout)
    for (const command of expired) command.reject(new OfflineTimeoutError(this.#offlineTimeout, this.#lastError))
    this.#armTimer() // a timer may fire early: then nothing expired and it waits again
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }
}

/**
 * The settling functions of the promise last made with {@link capture} as its executor. One
 * executor for every command instead of a closure made per command: a promise's executor runs
 * synchronously inside `new Promise`, so they are read right after it.
 */
const captured: { resolve: (reply: RedisReply) => void; reject: (err: Error) => void } = { resolve: () => {}, reject: () => {} }
function capture(resolve: (reply: RedisReply) => void, reject: (err: Error) => void): void {
  captured.resolve = resolve
  captured.reject = reject
}

/** `onCommandTimeout` checked. */
function checkOnCommandTimeout(value: unknown): 'fail-command' | 'reconnect' {
  if (value === undefined) return 'fail-command'
  if (value === 'fail-command' || value === 'reconnect') return value
  throw new InvalidArgumentError(`RedisClient: options.onCommandTimeout must be 'fail-command' or 'reconnect', got ${String(value)}`)
}

/** `offlineTimeout` checked: a whole number of ms within 1..2^31-1, or Infinity. */
function checkOfflineTimeout(value: number | undefined): number {
  if (value === undefined) return DEFAULT_OFFLINE_TIMEOUT
  if (value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= 1 && value <= MAX_TIMER)) return value
  throw new InvalidArgumentError(`RedisClient: options.offlineTimeout must be a whole number of ms within 1..${MAX_TIMER}, or Infinity, got ${String(value)}`)
}

/** Channel or pattern names: a non-empty string or a non-empty list of them. */
function checkNames(command: string, names: string | readonly string[]): readonly string[] | InvalidArgumentError {
  const list = typeof names === 'string' ? [names] : names
  if (!Array.isArray(list) || list.length === 0 || !list.every((n) => typeof n === 'string' && n.length > 0))
    return new InvalidArgumentError(`${command}: channels must be a non-empty string or a non-empty list of them`)
  return list
}
