/**
 * The reconnect decisions of a `Persistent`, apart from its sockets and timers: which attempt
 * this is, whether the last connection lasted long enough to start again from the first delay,
 * what the policy says, and when to give up. `Persistent` and the test kit's simulated client
 * (`rotor-stream/testing`) both decide through it, so a test of a reconnect policy on the
 * virtual clock tests the real decisions, not a copy.
 *
 * Assumptions: times are ms on one clock of the caller's (`performance.now()` for the real
 * client, the virtual clock in the test kit); the caller owns timers and connections.
 */
import { type BackoffOptions, type ReconnectPolicy, reconnectPolicy } from './backoff.js'
import { MAX_TIMER } from './deadline.js'
import { InvalidArgumentError } from './errors.js'
import { checkFunction, checkMs } from './validate.js'

/** The options of a `Persistent` that decide how it reconnects. @internal */
export interface ReconnectOptions {
  reconnect?: BackoffOptions | ReconnectPolicy
  stableAfter?: number
  random?: () => number
}

/** Default of `PersistentOptions.stableAfter`, in ms. @internal */
export const DEFAULT_STABLE_AFTER = 5000

/** What to do after a failed attempt or a disconnect. @internal */
export type ReconnectStep =
  /** Attempt number `attempt` (1-based) starts after `delay` ms (at most 2^31-1). */
  | { readonly giveUp: false; readonly attempt: number; readonly delay: number }
  /** The policy gave up (returned null, threw, or returned no delay): `reason` says why. */
  | { readonly giveUp: true; readonly attempt: number; readonly reason: Error | undefined }

/**
 * Failed attempts in a row and the policy that turns them into delays. One per client.
 * @internal
 */
export class ReconnectState {
  readonly #policy: ReconnectPolicy
  readonly #stableAfter: number
  /** Failed attempts in a row (connect failures and short-lived connections); 0 after a stable one. */
  #failures = 0
  /** When the live connection came up, ms on the caller's clock. */
  #connectedAt = 0

  /** Validates the options (throwing `InvalidArgumentError` naming `where`). */
  constructor(where: string, options: ReconnectOptions) {
    const random =
      options.random === undefined
        ? Math.random
        : checkFunction<() => number>(where, 'options.random', options.random, 'a function returning a number within [0, 1)')
    this.#stableAfter = options.stableAfter === undefined ? DEFAULT_STABLE_AFTER : checkMs(where, 'options.stableAfter', options.stableAfter)
    this.#policy = reconnectPolicy(options.reconnect, random, where)
  }

  /** A connection came up at `now`. */
  connected(now: number): void {
    this.#connectedAt = now
  }

  /** The live connection closed at `now`: if it stayed up `stableAfter` ms, the next reconnect is attempt 1 again. */
  disconnected(now: number): void {
    if (now - this.#connectedAt >= this.#stableAfter) this.#failures = 0
  }

  /** Counts one more failure (an attempt that failed, or a connection that ended) and asks the policy. */
  next(reason: Error | undefined): ReconnectStep {
    const attempt = ++this.#failures
    let delay: number | null
    try {
      delay = this.#policy(attempt, reason)
    } catch (err) {
      return { giveUp: true, attempt, reason: err instanceof Error ? err : new Error(String(err)) }
    }
    if (delay === null) return { giveUp: true, attempt, reason }
    if (!(typeof delay === 'number' && delay >= 0)) {
      const why = new InvalidArgumentError(`the reconnect policy returned ${String(delay)}, not a delay in ms >= 0 or null`)
      return { giveUp: true, attempt, reason: why }
    }
    return { giveUp: false, attempt, delay: Math.min(delay, MAX_TIMER) }
  }
}
