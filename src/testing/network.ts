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
import { type Address, checkAddress, describeAddress } from '../address.js'
import { type ClientSettings, clientSettings } from '../connect.js'
import { withResolvers } from '../deferred.js'
import { ConnectError, TimeoutError } from '../errors.js'
import { Intent } from '../intent.js'
import { StreamSettings } from '../limits.js'
import type { PersistentOptions } from '../persistent.js'
import type { Factory } from '../protocol.js'
import { DEFAULT_MAX_CONNECTIONS } from '../server.js'
import { checkFunction, checkInteger, checkMs, checkNumber, checkOptions, invalid } from '../validate.js'
import { VirtualLoop, type VirtualTimer } from './loop.js'
import { DEFAULT_WINDOW, Pair, type PairWiring, SHARED_LOOP, type SideOptions } from './pair.js'
import { SimPersistent } from './sim-persistent.js'
import { SimServer } from './sim-server.js'

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

/** A connection attempt under way. @internal */
export interface Attempt {
  cancel(): void
}

/** What a client side needs to connect: its factory, seed, settings and delivery. @internal */
export interface ClientSpec {
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
