/**
 * A client that keeps one connection alive: connects (plain or TLS, TCP or Unix), runs a fresh
 * protocol from the factory on every connection, and reconnects after a failure or disconnect
 * with exponential backoff and jitter (or a policy of the user's own).
 *
 * Assumptions: one connection at a time; a connection that stays up `stableAfter` ms proves the
 * server healthy again, so the next reconnect starts from the initial delay; events are for
 * monitoring and control, not per message (EventEmitter is fine off the hot path).
 */

import { EventEmitter, once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { type Address, checkAddress, describeAddress } from './address.js'
import type { BackoffOptions, ReconnectPolicy } from './backoff.js'
import { type ClientSettings, type ConnectOptions, clientSettings, type OptionsArgument } from './connect.js'
import { channels } from './diagnostics.js'
import { type Dial, dial } from './dial.js'
import { ClosedError, ConnectError } from './errors.js'
import type { Factory } from './protocol.js'
import { ReconnectState } from './reconnect.js'
import { onAbort } from './shutdown.js'
import { Stream } from './stream.js'
import { TlsSessionCache } from './tls-info.js'
import { checkFunction, checkOptions } from './validate.js'

/**
 * - `connecting`: a connection attempt (with its TLS handshake) is under way.
 * - `connected`: a stream runs on a live connection.
 * - `waiting`: the backoff delay before the next attempt is running.
 * - `stopped`: after `stop()` or after the reconnect policy gave up; nothing runs.
 */
export type PersistentState = 'connecting' | 'connected' | 'waiting' | 'stopped'

/**
 * Options of a {@link Persistent}: those of {@link connect} (each applies to every connection
 * attempt; `seed` is passed to the factory on every connection), and how to reconnect.
 */
export type PersistentOptions<S = unknown> = ConnectOptions<S> & {
  /**
   * How long to wait before each reconnect: backoff options, or a function
   * `(attempt, lastError) => delay in ms | null` where `null` gives up (state `stopped`, event `giveup`).
   * @default { initialDelay: 200, maxDelay: 30000, factor: 2, jitter: 0.2 } (never gives up)
   */
  reconnect?: BackoffOptions | ReconnectPolicy
  /**
   * A connection that stayed up at least this many ms resets the backoff: the reconnect after
   * it is attempt 1 again. Shorter-lived connections (a server that accepts and drops at once)
   * count as failed attempts, so the delays keep growing. A whole number of ms within 0..2^31-1.
   * @default 5000
   */
  stableAfter?: number
  /** Source of randomness for the jitter, returning [0, 1). @default Math.random */
  random?: () => number
}

/** Events of a {@link Persistent} and their arguments. */
export type PersistentEvents = {
  /** A connection is up and the factory created the protocol on it. */
  connect: [stream: Stream]
  /**
   * The connection closed: `reason` is why (a `ClosedError` after `stop()`), or `undefined`
   * when the protocol ended it cleanly with `Intent.done()` (it is reconnected all the same).
   */
  disconnect: [reason: Error | undefined]
  /** A reconnect is scheduled in `delay` ms (never earlier); `attempt` counts failures in a row (1-based). */
  waiting: [delay: number, attempt: number, reason: Error | undefined]
  /** The reconnect policy returned `null` (or threw): the client stopped for good. */
  giveup: [reason: Error | undefined]
}

/**
 * Keeps one connection to `address` alive and runs `factory` on every new connection.
 *
 * ```ts
 * const client = new Persistent({ host: 'cache.internal', port: 6379 }, Pinger.create, { reconnect: { maxDelay: 5000 } })
 * client.on('disconnect', (reason) => log.warn('cache connection lost', reason))
 * client.wakeup() // reaches the live protocol, or the next one if disconnected
 * await client.stop()
 * ```
 *
 * It starts connecting at once. Like a socket, it keeps the process alive until `stop()`,
 * also while waiting to reconnect. Aborting `options.signal` is `stop()`; with a signal already
 * aborted it starts `stopped` and opens no socket.
 */
export class Persistent<S = unknown> extends EventEmitter<PersistentEvents> {
  readonly #address: Address
  readonly #factory: Factory<S>
  /** `undefined` only if `S` admits it: the constructor's type requires a seed otherwise. */
  readonly #seed: S | undefined
  readonly #settings: ClientSettings
  /** Failed attempts in a row and the reconnect policy (shared with the test kit's simulated client). */
  readonly #reconnect: ReconnectState
  #state: PersistentState = 'connecting'
  /** The attempt under way; non-null exactly in state `connecting`. */
  #dial: Dial | null = null
  /** The live stream; set from `connect` until its `closed` settled. */
  #stream: Stream | null = null
  /** The backoff timer; non-null exactly in state `waiting`. */
  #timer: NodeJS.Timeout | null = null
  /** `wakeup()` was called while no live stream could take it: deliver it on the next connection. */
  #pendingWakeup = false
  /** The `stop()` in progress or done. */
  #stopping: Promise<void> | null = null
  /** TLS session resumption: the last session the server gave, offered on the next connection; null when off. */
  readonly #session: TlsSessionCache | null
  /** Removes the listener on `options.signal`: called by `stop()`. */
  #disposeSignal: (() => void) | null = null

  /**
   * Validates everything (throwing `InvalidArgumentError`) and starts the first attempt. The
   * options, with their `seed`, are required when the factory's seed type does not admit `undefined`.
   */
  constructor(address: Address, factory: Factory<S>, ...[options]: OptionsArgument<PersistentOptions<S>, S>) {
    super()
    const where = 'Persistent'
    this.#address = checkAddress(where, address)
    this.#factory = checkFunction(where, 'factory', factory, 'a function (transport, seed, scope) => Intent')
    const o = checkOptions<PersistentOptions & { seed?: S }>(where, 'options', options)
    this.#seed = o.seed
    this.#reconnect = new ReconnectState(where, o)
    this.#settings = clientSettings(where, o)
    this.#session = o.tls !== undefined && o.tls.reuseSession !== false ? new TlsSessionCache() : null
    const signal = this.#settings.signal
    if (signal?.aborted) {
      // Stopped before it started: no socket is opened.
      this.#state = 'stopped'
      this.#stopping = Promise.resolve()
      return
    }
    if (signal !== undefined) {
      const dispose = onAbort(signal, () => void this.stop())
      this.#disposeSignal = dispose
    }
    this.#connect()
  }

  /** Where the client stands; see {@link PersistentState}. */
  get state(): PersistentState {
    return this.#state
  }

  /** The stream on the live connection, or `null` when there is none. */
  get stream(): Stream | null {
    return this.#stream
  }

  /**
   * Runs the protocol's `wakeup` handler: on the live stream soon (coalesced like
   * `Scope.notifier()`), or, while disconnected, once on the next connection right after the
   * factory created it. After `stop()` it does nothing.
   */
  wakeup(): void {
    if (this.#state === 'stopped') return
    const stream = this.#stream
    if (stream !== null && !stream.isEnded) stream.wakeup()
    else this.#pendingWakeup = true
  }

  /**
   * Stops for good: cancels the attempt or the backoff timer, closes the live stream (its
   * protocol's `fatal` gets a `ClosedError`, listeners get `disconnect`). Resolves once the
   * socket is closed; no timer or socket is left. Calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop(): Promise<void> {
    this.#disposeSignal?.()
    this.#disposeSignal = null
    this.#state = 'stopped'
    this.#pendingWakeup = false
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const attempt = this.#dial
    this.#dial = null
    if (attempt !== null) {
      const { socket } = attempt
      socket.destroy()
      await attempt.ready.then(noop, noop) // rejects once the destroyed socket closed (or had connected just before)
      if (!socket.closed) await once(socket, 'close')
    }
    const stream = this.#stream
    if (stream !== null) {
      stream.close(new ClosedError('persistent client stopped'))
      await stream.closed
    }
  }

  /**
   * Connects at `at` (ms, `performance.now()` clock), never earlier: Node measures a timeout
   * from the start of the current event-loop turn, so under load it can fire a little early.
   */
  #waitUntil(at: number): void {
    this.#timer = setTimeout(this.#onTimer, Math.ceil(at - performance.now()), at)
  }

  readonly #onTimer = (at: number): void => {
    if (performance.now() < at) this.#waitUntil(at)
    else this.#connect()
  }

  #connect(): void {
    this.#timer = null
    this.#state = 'connecting'
    let attempt: Dial
    try {
      attempt = dial(this.#address, this.#settings.dial, this.#session?.last)
      this.#session?.watch(attempt.socket)
    } catch (err) {
      // Options were validated, but a synchronous throw from net/tls must not escape a timer.
      this.#retry(new ConnectError(`connect to ${describeAddress(this.#address)} failed: ${errorMessage(err)}`, { cause: err }))
      return
    }
    this.#dial = attempt
    attempt.ready.then(
      (socket) => this.#onConnected(attempt, socket),
      (err: Error) => {
        if (this.#dial !== attempt) return // cancelled by stop()
        this.#dial = null
        this.#retry(err)
      },
    )
  }

  #onConnected(attempt: Dial, socket: Dial['socket']): void {
    if (this.#dial !== attempt) {
      socket.destroy() // stop() won the race against the handshake
      return
    }
    this.#dial = null
    // Stream options were validated in the constructor, so attach does not throw; a throwing
    // factory ends only this stream (HandlerError), which then counts as a failed attempt.
    const stream = Stream.attach(socket, this.#factory, this.#seed, this.#settings.stream)
    this.#stream = stream
    this.#state = 'connected'
    this.#reconnect.connected(performance.now())
    void stream.closed.then((reason) => this.#onClosed(stream, reason))
    if (this.#pendingWakeup && !stream.isEnded) {
      this.#pendingWakeup = false
      stream.wakeup()
    }
    if (channels.clientConnect.hasSubscribers) channels.clientConnect.publish({ address: describeAddress(this.#address), stream })
    this.emit('connect', stream)
  }

  #onClosed(stream: Stream, reason: Error | undefined): void {
    if (this.#stream !== stream) return
    this.#stream = null
    if (this.#state === 'stopped') {
      this.emit('disconnect', reason)
      return
    }
    this.#reconnect.disconnected(performance.now())
    this.#state = 'waiting'
    this.emit('disconnect', reason)
    if (this.#state === 'waiting' && this.#timer === null) this.#retry(reason) // unless a listener stopped us
  }

  /** Asks the policy for the next delay and waits, or gives up. */
  #retry(reason: Error | undefined): void {
    const step = this.#reconnect.next(reason)
    if (step.giveUp) {
      this.#disposeSignal?.()
      this.#disposeSignal = null
      this.#state = 'stopped'
      this.#pendingWakeup = false
      this.emit('giveup', step.reason)
      return
    }
    const { attempt, delay } = step
    this.#state = 'waiting'
    this.#waitUntil(performance.now() + delay)
    if (channels.clientReconnect.hasSubscribers) channels.clientReconnect.publish({ address: describeAddress(this.#address), attempt, delay, reason })
    this.emit('waiting', delay, attempt, reason)
  }
}

function noop(): void {}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
