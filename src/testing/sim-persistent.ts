/**
 * The simulated `Persistent` of the test kit's virtual network: the same states, events and
 * reconnect decisions (`ReconnectState`, shared with the real one), with attempts and backoff
 * delays on the virtual clock.
 */
import { EventEmitter } from 'node:events'
import { type Address, checkAddress } from '../address.js'
import { clientSettings } from '../connect.js'
import { ClosedError } from '../errors.js'
import type { PersistentState } from '../persistent.js'
import type { Factory } from '../protocol.js'
import { ReconnectState } from '../reconnect.js'
import { checkFunction, checkOptions } from '../validate.js'
import type { VirtualLoop, VirtualTimer } from './loop.js'
import type { Attempt, ClientSpec, SimPersistentOptions, VirtualNetwork } from './network.js'
import type { Pair, Side } from './pair.js'

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
