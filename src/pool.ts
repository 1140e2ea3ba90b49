/**
 * A pool of client connections: N members per endpoint, each a `Persistent` (which reconnects
 * by itself) and the handle the user sends requests through (a Redis client, an async
 * `Connection`...). Requests go to live members only; a member is live while its `Persistent`
 * is connected and, with health checks, its last check passed.
 *
 * Assumptions: the pool never opens sockets itself (each member's `Persistent` does); it learns
 * of connections from the `connect`/`disconnect`/`giveup` events; it never retries a request
 * (only the caller knows whether a request is idempotent); one event loop, so "free" and "live"
 * cannot change between a check and a hand-over within one call.
 */
import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import { ClosedError, PoolUnavailableError } from './errors.js'
import type { PersistentState } from './persistent.js'
import { abortError, checkSignal, onAbort } from './shutdown.js'
import { checkFunction, checkInteger, checkMs, checkObject, checkOneOf, checkOptions, invalid } from './validate.js'

/**
 * What the pool needs of a member's connection keeper: a `Persistent` (or the test kit's
 * `SimPersistent`) fits as it is.
 */
export interface PoolConnection {
  /** `connected` makes the member a candidate; any other state takes it out of rotation. */
  readonly state: PersistentState
  /** `disconnect` passes why (an Error or undefined); `waiting` passes the last error third. */
  on(event: 'connect' | 'disconnect' | 'waiting' | 'giveup', listener: (...args: unknown[]) => void): unknown
  /** Removes a listener `on` added: the pool detaches its own when it closes. */
  off(event: 'connect' | 'disconnect' | 'waiting' | 'giveup', listener: (...args: unknown[]) => void): unknown
  /** Stops for good; `pool.close()` calls it when the member has no `close` of its own. */
  stop(): Promise<void>
}

/** One member of a {@link Pool}, as `PoolOptions.create` makes it. */
export interface PoolMember<H> {
  /** The member's `Persistent`: its state and events say whether the member is live. */
  readonly connection: PoolConnection
  /** What requests go through: handed to `run()` and `acquire()` callers. */
  readonly handle: H
  /**
   * Closes the member for good (the Redis client's `close()`, which also fails its queued
   * commands). Called once by `pool.close()`. @default () => connection.stop()
   */
  readonly close?: () => Promise<void>
}

/** Health checks through the protocol's own ping. */
export interface PoolHealthCheck<H> {
  /**
   * Pings through `handle` (e.g. `(client) => client.command('PING')`); a fulfilled promise is a
   * pass, a rejected one (or one not settled within `timeout`) a failure. `signal` aborts when the
   * check timed out or the pool closes.
   */
  readonly check: (handle: H, signal: AbortSignal) => Promise<unknown>
  /** ms from the end of one check to the start of the next, per member. A whole number within 1..2^31-1. @default 5000 */
  readonly interval?: number
  /** ms a check may take before it counts as failed. A whole number within 1..2^31-1. @default 1000 */
  readonly timeout?: number
}

/** The clock and timers the pool runs on; tests pass a virtual one. */
export interface PoolClock {
  /** ms, monotonic. */
  now(): number
  /** Runs `fn` after `ms` ms; the result is given to `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown
  /** Cancels a timer `setTimeout` returned (one that already ran, too). */
  clearTimeout(timer: unknown): void
}

/** How a request picks a member. */
export type PoolChoice = 'round-robin' | 'least-loaded'

/** Options of a {@link Pool}. */
export interface PoolOptions<E, H> {
  /** Where to connect: at least one; each is passed to `create` as it is (an `Address`, or a richer object of yours). */
  readonly endpoints: readonly E[]
  /**
   * Makes member `index` (0-based within its endpoint) for `endpoint`: usually a client whose
   * `Persistent` starts connecting at once. Called `connectionsPerEndpoint` times per endpoint,
   * in the constructor; a throw there stops the members made so far and is rethrown.
   */
  readonly create: (endpoint: E, index: number) => PoolMember<H>
  /** Members per endpoint. An integer within 1..1024. @default 1 */
  readonly connectionsPerEndpoint?: number
  /**
   * `'round-robin'`: live members in turn, endpoints interleaved. `'least-loaded'`: the live
   * member with the fewest requests in progress through the pool (ties in turn).
   * @default 'round-robin'
   */
  readonly choose?: PoolChoice
  /** Health checks; without them a member is live exactly while its `Persistent` is connected. */
  readonly healthCheck?: PoolHealthCheck<H>
  /**
   * Most ms a request waits for a member (a live one for `run()`, a free live one for
   * `acquire()`) before it fails with a `PoolUnavailableError`: the bound on a request when every
   * endpoint is down. 0 fails at once. A whole number within 0..2^31-1; a call may pass its own.
   * @default 5000
   */
  readonly waitTimeout?: number
  /** Requests allowed to wait at once; one more fails at once (`reason` `'queue-full'`). An integer within 0..2^31-1. @default 1000 */
  readonly maxWaiting?: number
  /** The clock and timers for waits and health checks. @default performance.now and the global timers */
  readonly clock?: PoolClock
}

/** Per-call options of `run()`, `acquire()` and `with()`. */
export interface PoolWaitOptions {
  /** Most ms this call waits for a member. @default the pool's `waitTimeout` */
  readonly timeout?: number
  /** Aborting gives up the wait: the call rejects with the signal's reason (an `AbortError`). */
  readonly signal?: AbortSignal
}

/** One member leased exclusively by `acquire()`: give it back with `release()`. */
export interface PoolLease<H, E> {
  readonly handle: H
  readonly endpoint: E
  /** Gives the member back to the pool (to the oldest waiter first). Calling it again does nothing. */
  release(): void
}

/** A member as `pool.members` shows it (a copy, for monitoring and tests). */
export interface PoolMemberInfo<E> {
  readonly endpoint: E
  /** 0-based within its endpoint. */
  readonly index: number
  /** Connected and (with health checks) its last check passed. */
  readonly isLive: boolean
  /** Its `Persistent` is connected. */
  readonly isConnected: boolean
  /** Its last health check passed (always true without health checks). */
  readonly isHealthy: boolean
  /** Leased by `acquire()`. */
  readonly isLeased: boolean
  /** `run()` calls in progress on it. */
  readonly load: number
}

/** Events of a {@link Pool}: for monitoring. */
export type PoolEvents<E> = {
  /** A member joined the rotation (connected, and its check passed when there are checks). */
  up: [endpoint: E, index: number]
  /** A member left the rotation: its connection closed (`reason` `'disconnect'`, with why) or a health check failed (`'check'`, with the error). */
  down: [endpoint: E, index: number, reason: 'disconnect' | 'check', error: unknown]
}

/** Default of `PoolOptions.waitTimeout`, in ms. */
export const DEFAULT_POOL_WAIT_TIMEOUT = 5000
/** Default of `PoolOptions.maxWaiting`. */
export const DEFAULT_POOL_MAX_WAITING = 1000
/** Default of `PoolHealthCheck.interval`, in ms. */
export const DEFAULT_HEALTH_CHECK_INTERVAL = 5000
/** Default of `PoolHealthCheck.timeout`, in ms. */
export const DEFAULT_HEALTH_CHECK_TIMEOUT = 1000
/** Most members per endpoint: a pool is no place for thousands of connections to one server. */
const MAX_PER_ENDPOINT = 1024

const REAL_CLOCK: PoolClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
}

/** One member and what the pool knows of it. */
class Slot<E, H> {
  readonly endpoint: E
  readonly index: number
  readonly member: PoolMember<H>
  /** Mirrors `member.connection.state === 'connected'`, updated from its events. */
  isConnected = false
  /** The last check on the current connection passed; false from each connect until the first check passes (when checking). */
  isHealthy: boolean
  isLeased = false
  /** `run()` calls in progress. */
  load = 0
  /** The next check's timer, or the running check's timeout; null when neither. */
  timer: unknown = null
  /** Aborts the running check; null when none runs. */
  check: AbortController | null = null
  /** Removes the event listeners: set by the pool once attached. */
  detach: () => void = noop
  constructor(endpoint: E, index: number, member: PoolMember<H>, isHealthy: boolean) {
    this.endpoint = endpoint
    this.index = index
    this.member = member
    this.isHealthy = isHealthy
  }
  get isLive(): boolean {
    return this.isConnected && this.isHealthy
  }
}

/** A request waiting for a member: `exclusive` ones (from `acquire`) need a free one. */
interface Waiter<E, H> {
  readonly exclusive: boolean
  readonly since: number
  readonly resolve: (slot: Slot<E, H>) => void
  readonly reject: (err: unknown) => void
  timer: unknown
  dispose: () => void
}

/**
 * N connections to one or more endpoints, with failover and health checks; requests share
 * members (`run()`, for protocols that pipeline) or lease one exclusively (`acquire()` /
 * `with()`, for those that cannot).
 *
 * ```ts
 * const pool = new Pool({
 *   endpoints: [{ host: 'a', port: 6379 }, { host: 'b', port: 6379 }],
 *   connectionsPerEndpoint: 2,
 *   create: (address) => {
 *     const client = new RedisClient(address)
 *     return { connection: client.connection, handle: client, close: () => client.close() }
 *   },
 *   healthCheck: { check: (client) => client.command('PING'), interval: 2000, timeout: 500 },
 * })
 * const value = await pool.run((client) => client.command('GET', 'k'))
 * await pool.close()
 * ```
 *
 * Choices, and the traps of other pools they avoid:
 * - A known-dead connection is never handed out: a member leaves the rotation on its
 *   `Persistent`'s `disconnect` (and on a failed check), and a reconnected member with health
 *   checks rejoins only after a check on the new connection passed (a server that accepts and
 *   then fails its handshake or AUTH stays out). Checks run on a timer, not on every checkout as
 *   bb8's `test_on_check_out` and Netty's `ChannelHealthChecker` do, which costs a round trip per
 *   request; a check that hangs counts as failed after its `timeout`, and the next one starts
 *   `interval` after it ended, so checks never pile up on a stuck peer.
 * - Waiting is bounded in time and in count: `waitTimeout` (default 5 s) and `maxWaiting`
 *   (default 1000). Netty's `FixedChannelPool` and deadpool wait forever by default, and Netty's
 *   pending queue is unbounded by default: with every endpoint down, requests pile up and
 *   hang. Here a request fails after at most `waitTimeout` with a `PoolUnavailableError`
 *   (`RS_ERR_POOL_UNAVAILABLE`, `reason` `'down'` when no member was live, `'busy'` when all live
 *   ones were leased).
 * - Waiters are served first come, first served, and a member freed while requests wait goes to
 *   the oldest of them, never to a newcomer: Go's `database/sql` picked waiters in map order
 *   (golang/go#31708) and sqlx let new callers cut in line (launchbadge/sqlx#453), so an unlucky
 *   request could wait until it timed out while later ones went through.
 * - `with()` releases the lease however the function ends, so a throw cannot leak a member.
 *   A lease released twice is released once.
 * - No retries: a request that fails on a member (its connection was lost with the request in
 *   flight) fails to the caller with the member's own error; only the caller knows whether it
 *   may be sent again.
 * - `close()` rejects every waiter with a `ClosedError`, stops the health checks and closes
 *   every member; leases and running requests end with their members.
 */
export class Pool<E, H> extends EventEmitter<PoolEvents<E>> {
  /** Members, endpoints interleaved (e0#0, e1#0, e0#1...), so round-robin alternates endpoints. */
  readonly #slots: Slot<E, H>[] = []
  readonly #choice: PoolChoice
  readonly #health: { readonly check: PoolHealthCheck<H>['check']; readonly interval: number; readonly timeout: number } | null
  readonly #waitTimeout: number
  readonly #maxWaiting: number
  readonly #clock: PoolClock
  /** Waiting requests, oldest first. */
  readonly #waiters: Waiter<E, H>[] = []
  /** Where the next round-robin scan starts. */
  #cursor = 0
  /** The last connection error or failed check: the `cause` of a `PoolUnavailableError`. */
  #lastError: unknown = undefined
  #closing: Promise<void> | null = null

  /** Validates every option (throwing `InvalidArgumentError` naming it) and creates the members. */
  constructor(options: PoolOptions<E, H>) {
    super()
    const where = 'Pool'
    const o = checkObject<PoolOptions<E, H>>(where, 'options', options)
    const endpoints: unknown = o.endpoints
    if (!Array.isArray(endpoints) || endpoints.length === 0) throw invalid(where, 'options.endpoints', 'a non-empty array', endpoints)
    const create = checkFunction<PoolOptions<E, H>['create']>(where, 'options.create', o.create, 'a function (endpoint, index) => { connection, handle }')
    const perEndpoint =
      o.connectionsPerEndpoint === undefined
        ? 1
        : checkInteger(where, 'options.connectionsPerEndpoint', o.connectionsPerEndpoint, { min: 1, max: MAX_PER_ENDPOINT })
    this.#choice = o.choose === undefined ? 'round-robin' : checkOneOf(where, 'options.choose', o.choose, ['round-robin', 'least-loaded'] as const)
    this.#health = o.healthCheck === undefined ? null : healthOptions(where, o.healthCheck)
    this.#waitTimeout = o.waitTimeout === undefined ? DEFAULT_POOL_WAIT_TIMEOUT : checkMs(where, 'options.waitTimeout', o.waitTimeout)
    this.#maxWaiting = o.maxWaiting === undefined ? DEFAULT_POOL_MAX_WAITING : checkInteger(where, 'options.maxWaiting', o.maxWaiting, { max: 2 ** 31 - 1 })
    this.#clock = o.clock === undefined ? REAL_CLOCK : clockOption(where, o.clock)
    try {
      for (let index = 0; index < perEndpoint; index++) {
        for (const endpoint of endpoints as readonly E[]) {
          const member = create(endpoint, index)
          try {
            this.#add(where, endpoint, index, member)
          } catch (err) {
            stopQuietly(member) // its Persistent may be connecting already
            throw err
          }
        }
      }
    } catch (err) {
      for (const slot of this.#slots) void this.#closeMember(slot)
      throw err
    }
  }

  /** Every member's state, endpoints interleaved as the rotation goes. */
  get members(): PoolMemberInfo<E>[] {
    return this.#slots.map((s) => ({
      endpoint: s.endpoint,
      index: s.index,
      isLive: s.isLive,
      isConnected: s.isConnected,
      isHealthy: s.isHealthy,
      isLeased: s.isLeased,
      load: s.load,
    }))
  }

  /** Requests waiting for a member. */
  get waiting(): number {
    return this.#waiters.length
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.#closing !== null
  }

  /**
   * Runs `fn` with the handle of a live member (and the member's endpoint), shared with other
   * `run()` calls (for protocols that pipeline); resolves or rejects as `fn` does. Waits for a live member up to the timeout,
   * then rejects with a `PoolUnavailableError`; after `close()` rejects with a `ClosedError`.
   * The pool never retries `fn` elsewhere.
   */
  async run<T>(fn: (handle: H, endpoint: E) => T | PromiseLike<T>, options?: PoolWaitOptions): Promise<T> {
    checkFunction('Pool.run', 'fn', fn)
    const wait = this.#waitOptions('Pool.run', options)
    let slot = this.#pickShared()
    if (slot !== null) slot.load++
    else slot = await this.#wait(false, wait) // counted by #serve, so that waiters served together spread out
    try {
      return await fn(slot.member.handle, slot.endpoint)
    } finally {
      slot.load--
      // A member whose last shared request ended may be what an `acquire()` waits for.
      if (slot.load === 0 && this.#waiters.length > 0) this.#serve()
    }
  }

  /**
   * Leases one live member exclusively: no other `run()` or `acquire()` gets it until
   * `release()`. Waits up to the timeout for a free one (oldest waiter first), then rejects with
   * a `PoolUnavailableError`; with the signal's reason when aborted; with a `ClosedError` after `close()`.
   * Prefer `with()`, which cannot forget the release.
   */
  async acquire(options?: PoolWaitOptions): Promise<PoolLease<H, E>> {
    const wait = this.#waitOptions('Pool.acquire', options)
    const slot = this.#pickFree() ?? (await this.#wait(true, wait))
    slot.isLeased = true
    let released = false
    return {
      handle: slot.member.handle,
      endpoint: slot.endpoint,
      release: () => {
        if (released) return
        released = true
        slot.isLeased = false
        if (this.#waiters.length > 0) this.#serve()
      },
    }
  }

  /** `acquire()`, then `fn(handle)`, then `release()` however `fn` ends; resolves or rejects as `fn` does. */
  async with<T>(fn: (handle: H, endpoint: E) => T | PromiseLike<T>, options?: PoolWaitOptions): Promise<T> {
    checkFunction('Pool.with', 'fn', fn)
    this.#waitOptions('Pool.with', options)
    const lease = await this.acquire(options)
    try {
      return await fn(lease.handle, lease.endpoint)
    } finally {
      lease.release()
    }
  }

  /**
   * Rejects every waiting request with a `ClosedError`, stops health checks and closes every
   * member (`member.close`, or its `Persistent`'s `stop()`); resolves once all closed. Calling
   * it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    const waiters = this.#waiters.splice(0)
    for (const w of waiters) this.#settle(w, new ClosedError('pool closed'))
    await Promise.all(this.#slots.map((slot) => this.#closeMember(slot)))
  }

  async #closeMember(slot: Slot<E, H>): Promise<void> {
    slot.detach()
    this.#stopChecks(slot)
    slot.isConnected = false
    const { member } = slot
    await (member.close === undefined ? member.connection.stop() : member.close())
  }

  #add(where: string, endpoint: E, index: number, member: PoolMember<H>): void {
    checkObject(where, 'the member options.create returned', member, 'an object { connection, handle }')
    const connection = checkObject<PoolConnection>(where, 'member.connection', member.connection, 'a Persistent')
    checkFunction(where, 'member.connection.on', connection.on, 'a function (a Persistent has one)')
    if (member.close !== undefined) checkFunction(where, 'member.close', member.close, 'a function () => Promise')
    const slot = new Slot(endpoint, index, member, this.#health === null)
    this.#slots.push(slot)
    const onConnect = (): void => this.#onConnect(slot)
    const onDisconnect = (reason?: unknown): void => this.#onDisconnect(slot, reason)
    const onWaiting = (_delay?: unknown, _attempt?: unknown, reason?: unknown): void => {
      if (reason !== undefined) this.#lastError = reason
    }
    const onGiveUp = (): void => this.#onGiveUp()
    connection.on('connect', onConnect)
    connection.on('disconnect', onDisconnect)
    connection.on('waiting', onWaiting)
    connection.on('giveup', onGiveUp)
    slot.detach = () => {
      connection.off('connect', onConnect)
      connection.off('disconnect', onDisconnect)
      connection.off('waiting', onWaiting)
      connection.off('giveup', onGiveUp)
    }
    if (connection.state === 'connected') this.#onConnect(slot) // a client that was connected before the pool
  }

  #onConnect(slot: Slot<E, H>): void {
    if (this.#closing !== null) return
    slot.isConnected = true
    if (this.#health === null) {
      this.emit('up', slot.endpoint, slot.index)
      this.#serve()
    } else {
      slot.isHealthy = false // the new connection earns its place with a check
      this.#stopChecks(slot)
      this.#runCheck(slot)
    }
  }

  #onDisconnect(slot: Slot<E, H>, reason: unknown): void {
    if (!slot.isConnected) return
    const wasLive = slot.isLive
    slot.isConnected = false
    this.#stopChecks(slot)
    if (reason !== undefined) this.#lastError = reason
    if (wasLive) this.emit('down', slot.endpoint, slot.index, 'disconnect', reason)
  }

  /** A member's reconnect policy gave up: when every member has, waiting is pointless. */
  #onGiveUp(): void {
    if (this.#slots.every((s) => s.member.connection.state === 'stopped')) {
      for (const w of this.#waiters.splice(0)) this.#settle(w, this.#unavailable('down', w.since))
    }
  }

  #runCheck(slot: Slot<E, H>): void {
    const health = this.#health
    if (health === null || this.#closing !== null || !slot.isConnected) return
    const controller = new AbortController()
    slot.check = controller
    const done = (error: unknown): void => {
      if (slot.check !== controller) return // superseded: disconnected, reconnected or closed
      slot.check = null
      this.#clock.clearTimeout(slot.timer)
      slot.timer = this.#clock.setTimeout(() => this.#runCheck(slot), health.interval)
      this.#checked(slot, error)
    }
    slot.timer = this.#clock.setTimeout(() => {
      controller.abort()
      done(new PoolCheckTimeout(health.timeout))
    }, health.timeout)
    let pending: Promise<unknown>
    try {
      pending = Promise.resolve(health.check(slot.member.handle, controller.signal))
    } catch (err) {
      pending = Promise.reject(err)
    }
    pending.then(
      () => done(undefined),
      (err: unknown) => done(err ?? new Error('health check failed')),
    )
  }

  /** A check ended: `error` undefined is a pass. */
  #checked(slot: Slot<E, H>, error: unknown): void {
    const wasLive = slot.isLive
    slot.isHealthy = error === undefined
    if (error !== undefined) this.#lastError = error
    if (!wasLive && slot.isLive) {
      this.emit('up', slot.endpoint, slot.index)
      this.#serve()
    } else if (wasLive && !slot.isLive) this.emit('down', slot.endpoint, slot.index, 'check', error)
  }

  #stopChecks(slot: Slot<E, H>): void {
    slot.check?.abort()
    slot.check = null
    if (slot.timer !== null) this.#clock.clearTimeout(slot.timer)
    slot.timer = null
  }

  /** A live member not leased, by the pool's choice; null when none. */
  #pickShared(): Slot<E, H> | null {
    if (this.#closing !== null) return null
    return this.#pick(false)
  }

  /** A live member neither leased nor running requests; null when none, or when older `acquire()` calls wait (no cutting in line). */
  #pickFree(): Slot<E, H> | null {
    if (this.#closing !== null || this.#waiters.some((w) => w.exclusive)) return null
    return this.#pick(true)
  }

  #pick(exclusive: boolean): Slot<E, H> | null {
    const slots = this.#slots
    const n = slots.length
    let best: Slot<E, H> | null = null
    let bestAt = 0
    for (let k = 0; k < n; k++) {
      const at = (this.#cursor + k) % n
      const slot = slots[at] as Slot<E, H>
      if (!slot.isLive || slot.isLeased || (exclusive && slot.load > 0)) continue
      if (best === null || slot.load < best.load) {
        best = slot
        bestAt = at
        if (this.#choice === 'round-robin' || slot.load === 0) break // least-loaded: nothing beats an idle member
      }
    }
    if (best !== null) this.#cursor = (bestAt + 1) % n
    return best
  }

  /** The options of one call, validated (throwing `InvalidArgumentError`); an aborted signal or a closed pool throws their error. */
  #waitOptions(where: string, options: PoolWaitOptions | undefined): { timeout: number; signal: AbortSignal | undefined } {
    const o = checkOptions<PoolWaitOptions>(where, 'options', options)
    const timeout = o.timeout === undefined ? this.#waitTimeout : checkMs(where, 'options.timeout', o.timeout)
    const signal = checkSignal(where, 'options.signal', o.signal)
    if (this.#closing !== null) throw new ClosedError('pool closed')
    if (signal?.aborted) throw abortError(signal)
    return { timeout, signal }
  }

  /** Queues a request for a member, bounded in count and time; rejects as documented on `run()`/`acquire()`. */
  #wait(exclusive: boolean, { timeout, signal }: { timeout: number; signal: AbortSignal | undefined }): Promise<Slot<E, H>> {
    if (this.#closing !== null) return Promise.reject(new ClosedError('pool closed'))
    const since = this.#clock.now()
    if (this.#waiters.length >= this.#maxWaiting) return Promise.reject(this.#unavailable('queue-full', since))
    if (timeout === 0 || this.#slots.every((s) => s.member.connection.state === 'stopped'))
      return Promise.reject(this.#unavailable(this.#hasLive() ? 'busy' : 'down', since))
    return new Promise<Slot<E, H>>((resolve, reject) => {
      const waiter: Waiter<E, H> = { exclusive, since, resolve, reject, timer: null, dispose: noop }
      waiter.timer = this.#clock.setTimeout(() => {
        this.#remove(waiter)
        this.#settle(waiter, this.#unavailable(this.#hasLive() ? 'busy' : 'down', since))
      }, timeout)
      if (signal !== undefined) {
        waiter.dispose = onAbort(signal, () => {
          this.#remove(waiter)
          this.#settle(waiter, abortError(signal))
        })
      }
      this.#waiters.push(waiter)
    })
  }

  /** Hands members to waiters, oldest first; a waiter that cannot be served now keeps its place. */
  #serve(): void {
    const waiters = this.#waiters
    for (let i = 0; i < waiters.length; ) {
      const w = waiters[i] as Waiter<E, H>
      const slot = this.#pick(w.exclusive)
      if (slot === null) {
        if (w.exclusive) {
          i++
          continue
        }
        return // no live member at all: nobody can be served
      }
      waiters.splice(i, 1)
      // Taken now, so that the next waiter does not get the same member too (or, least-loaded, sees its load).
      if (w.exclusive) slot.isLeased = true
      else slot.load++
      this.#settleWith(w, slot)
    }
  }

  #settleWith(w: Waiter<E, H>, slot: Slot<E, H>): void {
    this.#clock.clearTimeout(w.timer)
    w.dispose()
    w.resolve(slot)
  }

  #settle(w: Waiter<E, H>, err: unknown): void {
    this.#clock.clearTimeout(w.timer)
    w.dispose()
    w.reject(err)
  }

  #remove(w: Waiter<E, H>): void {
    const i = this.#waiters.indexOf(w)
    if (i >= 0) this.#waiters.splice(i, 1)
  }

  #hasLive(): boolean {
    return this.#slots.some((s) => s.isLive)
  }

  #unavailable(reason: PoolUnavailableError['reason'], since: number): PoolUnavailableError {
    const waited = Math.max(0, Math.round(this.#clock.now() - since))
    const what = reason === 'queue-full' ? `${this.#maxWaiting} requests already wait` : reason === 'down' ? 'no member is live' : 'every live member is leased'
    return new PoolUnavailableError(reason, waited, `no pool member after ${waited} ms: ${what}`, { cause: this.#lastError })
  }
}

/** A health check that did not settle within its timeout (the `error` of a `down` event). */
class PoolCheckTimeout extends Error {
  override name = 'TimeoutError'
  constructor(ms: number) {
    super(`health check took longer than ${ms} ms`)
  }
}

function healthOptions<H>(where: string, value: unknown): { check: PoolHealthCheck<H>['check']; interval: number; timeout: number } {
  const h = checkObject<PoolHealthCheck<H>>(where, 'options.healthCheck', value, 'an object { check, interval?, timeout? }')
  return {
    check: checkFunction(where, 'options.healthCheck.check', h.check, 'a function (handle, signal) => Promise'),
    interval: h.interval === undefined ? DEFAULT_HEALTH_CHECK_INTERVAL : checkMs(where, 'options.healthCheck.interval', h.interval, { min: 1 }),
    timeout: h.timeout === undefined ? DEFAULT_HEALTH_CHECK_TIMEOUT : checkMs(where, 'options.healthCheck.timeout', h.timeout, { min: 1 }),
  }
}

function clockOption(where: string, value: unknown): PoolClock {
  const c = checkObject<PoolClock>(where, 'options.clock', value, 'an object { now, setTimeout, clearTimeout }')
  checkFunction(where, 'options.clock.now', c.now)
  checkFunction(where, 'options.clock.setTimeout', c.setTimeout)
  checkFunction(where, 'options.clock.clearTimeout', c.clearTimeout)
  return c
}

/** Stops what looks like a member's connection, ignoring anything else: for a member refused by validation. */
function stopQuietly(member: unknown): void {
  const connection = (member as { connection?: { stop?: unknown } } | null | undefined)?.connection
  if (typeof connection?.stop !== 'function') return
  try {
    void Promise.resolve((connection as { stop(): unknown }).stop()).catch(noop)
  } catch {
    // a stop() that throws: nothing more to do for a member that never joined
  }
}

function noop(): void {}
