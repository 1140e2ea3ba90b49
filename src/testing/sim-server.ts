/**
 * The simulated server of the test kit's virtual network: what `Server` does that a test can
 * observe (connections counted, new ones refused once closing, the graceful then forced close),
 * on the virtual clock.
 */
import type { Address } from '../address.js'
import { withResolvers } from '../deferred.js'
import { ClosedError } from '../errors.js'
import type { StreamSettings } from '../limits.js'
import type { Factory } from '../protocol.js'
import { type CloseOptions, DEFAULT_CLOSE_TIMEOUT } from '../server.js'
import { checkMs, checkOptions } from '../validate.js'
import type { VirtualLoop } from './loop.js'
import type { Side, SideOptions } from './pair.js'

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
