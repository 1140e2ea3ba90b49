/**
 * A simulated network on the virtual clock: servers (`serve`), one-shot clients (`connect`) and
 * reconnecting clients (`Persistent`) that connect to each other through {@link Pair}s, with
 * connection attempts that can be refused, delayed or dropped. Reconnect policies (backoff,
 * jitter, limits, `stableAfter`) run through the same decision code as the real `Persistent`
 * (`ReconnectState`), so a test of minutes of reconnecting takes milliseconds and is exact.
 *
 * Assumptions: one loop and one clock for everything on the network; an attempt's outcome is
 * decided when it starts (scripted, or: accepted if a server listens there, refused otherwise).
 */
import { EventEmitter } from 'node:events'
import { type Address, checkAddress, describeAddress } from '../address.js'
import { type ClientSettings, clientSettings } from '../connect.js'
import { withResolvers } from '../deferred.js'
import { ClosedError, ConnectError, TimeoutError } from '../errors.js'
import { Intent } from '../intent.js'
import { StreamSettings } from '../limits.js'
import type { PersistentOptions, PersistentState } from '../persistent.js'
import type { Factory } from '../protocol.js'
import { ReconnectState } from '../reconnect.js'
import { type CloseOptions, DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_CONNECTIONS } from '../server.js'
import { checkFunction, checkInteger, checkMs, checkNumber, checkOptions, invalid } from '../validate.js'
import { VirtualLoop, type VirtualTimer } from './loop.js'
import { DEFAULT_WINDOW, Pair, type PairWiring, SHARED_LOOP, type Side, type SideOptions } from './pair.js'

/**
 * What happens to one connection attempt:
 * - `'accept'`: it reaches the server listening at the address (refused if none listens, or it
 *   is closing; closed at once if the server is at `maxConnections`, as Node does);
 * - `'refuse'`: `ECONNREFUSED`; the client gets a `ConnectError` whose `cause.code` says so;
 * - `'drop'`: no answer at all (a dropped SYN): the client's `connectTimeout` ends it;
 * - `'hangup'`: accepted, then closed at once without a byte (the client sees end of stream);
 * - `{ accept: ms }`, `{ refuse: ms }`: the same after `ms` on the virtual clock (an answer
 *   later than `connectTimeout` is a timeout).
 */
export type AttemptOutcome = 'accept' | 'refuse' | 'drop' | 'hangup' | { readonly accept: number } | { readonly refuse: number }

/** One connection attempt, as {@link VirtualNetwork.attempts} records it. */
export interface AttemptRecord {
  /** When it started, ms on the virtual clock. */
  readonly at: number
  /** Where it went: `host:port` or the Unix path. */
  readonly address: string
  /** What happened to it. */
  readonly outcome: 'accept' | 'refuse' | 'drop' | 'hangup' | 'timeout'
}

/** Options of a {@link VirtualNetwork}. */
export interface NetworkOptions {
  /** Start of the virtual clock, in ms. @default 0 */
  now?: number
  /** Bytes in flight toward each side of every connection (see `PairOptions.window`). @default 65536 */
  window?: number
}

/** Options of {@link VirtualNetwork.serve}: those of every accepted side, and the connection limit. */
export interface SimServeOptions<S = unknown> extends SideOptions<S> {
  /** Most connections open at once; one over it is accepted and closed at once. A positive safe integer. @default 10000 */
  maxConnections?: number
}

/** Options of {@link VirtualNetwork.connect}: the client's side options and its connect timeout. */
export interface SimConnectOptions<S = unknown> extends SideOptions<S> {
  /** Give up an attempt after this many ms (virtual): a whole number within 1..2^31-1. @default 1000 */
  connectTimeout?: number
}

/** Options of {@link VirtualNetwork.persistent}: those of `Persistent` that apply without sockets, and the client's delivery. */
export type SimPersistentOptions<S = unknown> = SimConnectOptions<S> & Pick<PersistentOptions, 'reconnect' | 'stableAfter' | 'random'>

/** Events of a {@link SimPersistent}: those of `Persistent`, with the client {@link Side} for `connect`. */
export type SimPersistentEvents = {
  /** A connection is up and the factory created the protocol on it. */
  connect: [side: Side]
  /** The connection closed: why, or `undefined` after a clean end. */
  disconnect: [reason: Error | undefined]
  /** A reconnect is scheduled in `delay` ms (virtual); `attempt` counts failures in a row (1-based). */
  waiting: [delay: number, attempt: number, reason: Error | undefined]
  /** The reconnect policy gave up: the client stopped for good. */
  giveup: [reason: Error | undefined]
}

/** A connection attempt under way. */
interface Attempt {
  cancel(): void
}

/** What a client side needs to connect: its factory, seed, settings and delivery. */
interface ClientSpec {
  readonly factory: Factory<unknown>
  readonly options: SideOptions<unknown>
  readonly settings: ClientSettings
}

/**
 * The network: one virtual loop for every server and client on it. Every action runs what it
 * makes due; time moves with `advance()`.
 *
 * ```ts
 * const net = new VirtualNetwork()
 * const server = net.serve({ host: 'db', port: 6379 }, RespConnection.factory(context))
 * net.script({ host: 'db', port: 6379 }, 'refuse', 'drop', 'accept')
 * const client = net.persistent({ host: 'db', port: 6379 }, factory, { reconnect: { initialDelay: 100, jitter: 0 } })
 * net.advance(10_000) // refused, backoff 100 ms, timed out after 1000 ms, backoff 200 ms, connected
 * ```
 */
export class VirtualNetwork {
  readonly #loop: VirtualLoop
  readonly #window: number
  readonly #servers = new Map<string, SimServer>()
  readonly #scripts = new Map<string, AttemptOutcome[]>()
  readonly #attempts: AttemptRecord[] = []
  readonly #pairs: Pair[] = []
  #nextPort = 40000

  constructor(options?: NetworkOptions) {
    const o = checkOptions<NetworkOptions>('VirtualNetwork', 'options', options)
    this.#loop = new VirtualLoop(o.now === undefined ? 0 : checkNumber('VirtualNetwork', 'options.now', o.now))
    this.#window = o.window === undefined ? DEFAULT_WINDOW : checkInteger('VirtualNetwork', 'options.window', o.window, { min: 1 })
  }

  /** The virtual clock, in ms. */
  get now(): number {
    return this.#loop.now
  }

  /** Every connection attempt so far, in order. */
  get attempts(): readonly AttemptRecord[] {
    return this.#attempts
  }

  /** Every connection made so far (accepted attempts), in order. */
  get pairs(): readonly Pair[] {
    return this.#pairs
  }

  /** Runs what is due now. */
  run(): this {
    this.#loop.run()
    return this
  }

  /** Runs what is due and lets promise callbacks run, until neither has anything left (see `Pair.settle()`). */
  settle(): Promise<void> {
    return this.#loop.settle('VirtualNetwork.settle')
  }

  /** Moves the virtual clock forward by `ms`, firing every timer on the way at its own time. */
  advance(ms: number): this {
    this.#loop.advance(checkMs('VirtualNetwork.advance', 'ms', ms))
    return this
  }

  /** Advances from timer to timer until none is left or `limit` ms passed; returns the ms advanced. */
  runUntilIdle(limit = 3_600_000): number {
    return this.#loop.runUntilIdle(checkNumber('VirtualNetwork.runUntilIdle', 'limit', limit, { min: 0 }))
  }

  /**
   * Queues what happens to the next attempts to `address`, in order; once they are used up,
   * attempts go to the server listening there (or are refused).
   */
  script(address: Address, ...outcomes: AttemptOutcome[]): this {
    const key = describeAddress(checkAddress('VirtualNetwork.script', address))
    for (const [i, outcome] of outcomes.entries()) checkOutcome(`outcomes[${i}]`, outcome)
    const queue = this.#scripts.get(key) ?? []
    queue.push(...outcomes)
    this.#scripts.set(key, queue)
    return this
  }

  /** Listens at `address` (as `serve()`): every accepted attempt runs `factory` on the server side of a new {@link Pair}. */
  serve<S>(address: Address, factory: Factory<S>, options?: SimServeOptions<S>): SimServer {
    const where = 'VirtualNetwork.serve'
    const target = checkAddress(where, address)
    checkFunction(where, 'factory', factory, 'a function (transport, seed, scope) => Intent')
    const o = checkOptions<SimServeOptions<S>>(where, 'options', options)
    const max = o.maxConnections === undefined ? DEFAULT_MAX_CONNECTIONS : checkInteger(where, 'options.maxConnections', o.maxConnections, { min: 1 })
    const key = describeAddress(target)
    const running = this.#servers.get(key)
    if (running !== undefined && !running.isClosing) throw invalid(where, 'address', 'an address no other simulated server listens on', key)
    const server = new SimServer(this.#loop, target, factory as Factory<unknown>, o as SideOptions<unknown>, new StreamSettings(o, where), max)
    this.#servers.set(key, server)
    return server
  }

  /**
   * One connection, as `connect()`: resolves with the {@link Pair} once connected (its `client`
   * side runs `factory`), rejects with a `ConnectError` as the real one would (refused, timed out).
   */
  connect<S>(address: Address, factory: Factory<S>, options?: SimConnectOptions<S>): Promise<Pair> {
    const where = 'VirtualNetwork.connect'
    const target = checkAddress(where, address)
    checkFunction(where, 'factory', factory, 'a function (transport, seed, scope) => Intent')
    const o = checkOptions<SimConnectOptions<S>>(where, 'options', options)
    const spec: ClientSpec = { factory: factory as Factory<unknown>, options: o as SideOptions<unknown>, settings: clientSettings(where, o) }
    const { promise, resolve } = withResolvers<Pair | Error>()
    this.dial(target, spec, resolve, resolve)
    this.#loop.run()
    return promise.then((result) => (result instanceof Pair ? result : Promise.reject(result)))
  }

  /**
   * A reconnecting client, as `new Persistent(address, factory, options)`, on this network. Its
   * first attempt runs with the next `run()` or `advance()`, so listeners added now hear of it.
   */
  persistent<S>(address: Address, factory: Factory<S>, options?: SimPersistentOptions<S>): SimPersistent {
    // Like the real one, it connects asynchronously: listeners added right after construction
    // hear of the first attempt, which runs with the next run() or advance().
    return new SimPersistent(this, this.#loop, address, factory as Factory<unknown>, options as SimPersistentOptions<unknown> | undefined)
  }

  /**
   * Starts one attempt, as `dial()` does, and settles it on the virtual clock: `connected` with
   * the new pair, or `failed` with a `ConnectError`. Returns a handle to cancel it.
   * @internal
   */
  dial(address: Address, client: ClientSpec, connected: (pair: Pair) => void, failed: (err: ConnectError) => void): Attempt {
    const key = describeAddress(address)
    const outcome = this.#scripts.get(key)?.shift() ?? 'accept'
    const timeout = client.settings.dial.connectTimeout
    const kind = typeof outcome === 'string' ? outcome : 'accept' in outcome ? 'accept' : 'refuse'
    const delay = typeof outcome === 'string' ? 0 : 'accept' in outcome ? outcome.accept : outcome.refuse
    const loop = this.#loop
    const record = (result: AttemptRecord['outcome']): void => {
      this.#attempts.push({ at: start, address: key, outcome: result })
    }
    const start = loop.now
    let timer: VirtualTimer | null = null
    let cancelled = false
    const settle = (): void => {
      timer = null
      if (cancelled) return
      if (kind === 'drop' || delay >= timeout) {
        record('timeout')
        const cause = new TimeoutError(`no connection within ${timeout} ms`)
        failed(new ConnectError(`connect to ${key} timed out after ${timeout} ms`, { cause }))
        return
      }
      const server = this.#servers.get(key)
      if (kind === 'refuse' || server === undefined || server.isClosing) {
        record('refuse')
        const cause = Object.assign(new Error(`connect ECONNREFUSED ${key}`), { code: 'ECONNREFUSED', syscall: 'connect' })
        failed(new ConnectError(`connect to ${key} failed: ${cause.message}`, { cause }))
        return
      }
      const hangup = kind === 'hangup' || server.connections >= server.maxConnections
      record(hangup ? 'hangup' : 'accept')
      const pair = this.#open(address, client, server, hangup)
      connected(pair)
    }
    const at = kind === 'drop' ? start + timeout : start + Math.min(delay, timeout)
    if (at === start) loop.task(settle)
    else timer = loop.timer(at, settle)
    return {
      cancel: () => {
        cancelled = true
        timer?.cancel()
      },
    }
  }

  /** Makes the pair of an accepted attempt; a hang-up's server side closes at once. */
  #open(address: Address, client: ClientSpec, server: SimServer, hangup: boolean): Pair {
    const wiring: PairWiring = {
      loop: this.#loop,
      clientSettings: client.settings.stream,
      serverSettings: server.settings,
      serverAddress: 'path' in address ? address.path : address.host,
      serverPort: 'path' in address ? undefined : address.port,
      clientPort: this.#nextPort++,
    }
    const pair = new Pair(client.factory, hangup ? hangUp : server.factory, {
      client: client.options,
      server: server.options,
      window: this.#window,
      [SHARED_LOOP]: wiring,
    } as ConstructorParameters<typeof Pair>[2])
    this.#pairs.push(pair)
    if (!hangup) server.adopt(pair.server)
    return pair
  }
}

/** The server side of a connection Node closes as soon as it is accepted. */
const hangUp: Factory<unknown> = () => Intent.done()

/** Checks one scripted outcome. */
function checkOutcome(name: string, outcome: unknown): void {
  const where = 'VirtualNetwork.script'
  if (outcome === 'accept' || outcome === 'refuse' || outcome === 'drop' || outcome === 'hangup') return
  if (typeof outcome === 'object' && outcome !== null) {
    const o = outcome as { accept?: unknown; refuse?: unknown }
    if (o.accept !== undefined && o.refuse === undefined) return void checkMs(where, `${name}.accept`, o.accept)
    if (o.refuse !== undefined && o.accept === undefined) return void checkMs(where, `${name}.refuse`, o.refuse)
  }
  throw invalid(where, name, "'accept', 'refuse', 'drop', 'hangup', { accept: ms } or { refuse: ms }", outcome)
}

/**
 * A simulated server (see {@link VirtualNetwork.serve}): counts its connections, refuses new
 * ones once closing, and closes like `Server.close()`: live streams get `timeout` ms
 * (virtual) to end by themselves, then the rest are closed with a `ClosedError`.
 */
export class SimServer {
  /** Where it listens. */
  readonly address: Address
  /** @internal */
  readonly factory: Factory<unknown>
  /** @internal */
  readonly options: SideOptions<unknown>
  /** @internal */
  readonly settings: StreamSettings
  /** @internal */
  readonly maxConnections: number
  readonly #loop: VirtualLoop
  /** Server sides not yet closed, oldest first. */
  readonly #live: Side[] = []
  #accepted = 0
  #closing: Promise<void> | null = null
  #empty: { promise: Promise<void>; resolve: () => void } | null = null

  /** @internal Made by {@link VirtualNetwork.serve}. */
  constructor(loop: VirtualLoop, address: Address, factory: Factory<unknown>, options: SideOptions<unknown>, settings: StreamSettings, maxConnections: number) {
    this.#loop = loop
    this.address = address
    this.factory = factory
    this.options = options
    this.settings = settings
    this.maxConnections = maxConnections
  }

  /** Connections open now. */
  get connections(): number {
    return this.#live.length
  }

  /** The server sides of the open connections, oldest first. */
  get sides(): readonly Side[] {
    return this.#live
  }

  /** Connections accepted so far (not counting those closed at once over `maxConnections`). */
  get accepted(): number {
    return this.#accepted
  }

  /** Whether {@link close} was called. */
  get isClosing(): boolean {
    return this.#closing !== null
  }

  /** @internal A connection was accepted. */
  adopt(side: Side): void {
    this.#accepted++
    this.#live.push(side)
    side.onClose(() => {
      this.#live.splice(this.#live.indexOf(side), 1)
      if (this.#empty !== null && this.#live.length === 0) {
        this.#empty.resolve()
        this.#empty = null
      }
    })
  }

  /**
   * Stops accepting at once (attempts are refused), lets live streams go on until they end or
   * `timeout` ms pass on the virtual clock, then closes the rest. Resolves once every
   * connection is closed: advance the clock for the timeout to pass.
   */
  close(options?: CloseOptions): Promise<void> {
    const o = checkOptions<CloseOptions>('SimServer.close', 'options', options)
    const timeout = o.timeout === undefined ? DEFAULT_CLOSE_TIMEOUT : checkMs('SimServer.close', 'options.timeout', o.timeout)
    if (this.#closing === null) {
      this.#closing = this.#shutdown(timeout)
      this.#loop.run()
    }
    return this.#closing
  }

  async #shutdown(timeout: number): Promise<void> {
    if (this.#live.length > 0 && timeout > 0) {
      const timer = this.#loop.timer(this.#loop.now + timeout, () => this.#closeAll())
      await this.#whenEmpty()
      timer.cancel()
    }
    this.#closeAll()
    await this.#whenEmpty()
  }

  #closeAll(): void {
    for (const side of [...this.#live]) side.close(new ClosedError('server closed'))
  }

  #whenEmpty(): Promise<void> {
    if (this.#live.length === 0) return Promise.resolve()
    this.#empty ??= withResolvers<void>()
    return this.#empty.promise
  }
}

/**
 * A reconnecting client on the virtual network (see {@link VirtualNetwork.persistent}): the
 * states, events and `wakeup()` of `Persistent`, and its reconnect decisions (the same
 * `ReconnectState`), with attempts and delays on the virtual clock.
 */
export class SimPersistent extends EventEmitter<SimPersistentEvents> {
  readonly #network: VirtualNetwork
  readonly #loop: VirtualLoop
  readonly #address: Address
  readonly #spec: ClientSpec
  readonly #reconnect: ReconnectState
  #state: PersistentState = 'connecting'
  #attempt: Attempt | null = null
  #pair: Pair | null = null
  #timer: VirtualTimer | null = null
  #pendingWakeup = false
  #stopping: Promise<void> | null = null

  /** @internal Made by {@link VirtualNetwork.persistent}. */
  constructor(network: VirtualNetwork, loop: VirtualLoop, address: Address, factory: Factory<unknown>, options: SimPersistentOptions<unknown> | undefined) {
    super()
    const where = 'VirtualNetwork.persistent'
    this.#network = network
    this.#loop = loop
    this.#address = checkAddress(where, address)
    checkFunction(where, 'factory', factory, 'a function (transport, seed, scope) => Intent')
    const o = checkOptions<SimPersistentOptions<unknown>>(where, 'options', options)
    this.#reconnect = new ReconnectState(where, o)
    this.#spec = { factory, options: o, settings: clientSettings(where, o) }
    this.#connect()
  }

  /** Where the client stands: `connecting`, `connected`, `waiting` or `stopped`. */
  get state(): PersistentState {
    return this.#state
  }

  /** The live connection, or `null`. */
  get pair(): Pair | null {
    return this.#pair
  }

  /** The client side of the live connection, or `null`. */
  get side(): Side | null {
    return this.#pair?.client ?? null
  }

  /** As `Persistent.wakeup()`: the live protocol's `wakeup`, or the next connection's. Runs what is due. */
  wakeup(): void {
    if (this.#state === 'stopped') return
    const side = this.side
    if (side !== null && side.state === 'running') side.wakeup()
    else this.#pendingWakeup = true
  }

  /** As `Persistent.stop()`: cancels the attempt or the backoff, closes the live stream; resolves once closed. */
  stop(): Promise<void> {
    if (this.#stopping === null) {
      this.#state = 'stopped'
      this.#pendingWakeup = false
      this.#timer?.cancel()
      this.#timer = null
      this.#attempt?.cancel()
      this.#attempt = null
      const side = this.side
      if (side === null || side.isClosed) this.#stopping = Promise.resolve()
      else {
        this.#stopping = side.closed.then(noop)
        side.close(new ClosedError('persistent client stopped'))
      }
      this.#loop.run()
    }
    return this.#stopping
  }

  #connect(): void {
    this.#timer = null
    this.#state = 'connecting'
    const attempt = this.#network.dial(
      this.#address,
      this.#spec,
      (pair) => this.#onConnected(attempt, pair),
      (err) => {
        if (this.#attempt !== attempt) return
        this.#attempt = null
        this.#retry(err)
      },
    )
    this.#attempt = attempt
  }

  #onConnected(attempt: Attempt, pair: Pair): void {
    if (this.#attempt !== attempt) {
      pair.client.close()
      return
    }
    this.#attempt = null
    this.#pair = pair
    this.#state = 'connected'
    this.#reconnect.connected(this.#loop.now)
    pair.client.onClose((reason) => this.#onClosed(pair, reason))
    if (this.#pendingWakeup && pair.client.state === 'running') {
      this.#pendingWakeup = false
      pair.client.wakeup()
    }
    this.emit('connect', pair.client)
  }

  #onClosed(pair: Pair, reason: Error | undefined): void {
    if (this.#pair !== pair) return
    this.#pair = null
    if (this.#state === 'stopped') {
      this.emit('disconnect', reason)
      return
    }
    this.#reconnect.disconnected(this.#loop.now)
    this.#state = 'waiting'
    this.emit('disconnect', reason)
    if (this.#state === 'waiting' && this.#timer === null) this.#retry(reason)
  }

  #retry(reason: Error | undefined): void {
    const step = this.#reconnect.next(reason)
    if (step.giveUp) {
      this.#state = 'stopped'
      this.#pendingWakeup = false
      this.emit('giveup', step.reason)
      return
    }
    this.#state = 'waiting'
    this.#timer = this.#loop.timer(this.#loop.now + step.delay, () => this.#connect())
    this.emit('waiting', step.delay, step.attempt, reason)
  }
}

function noop(): void {}
