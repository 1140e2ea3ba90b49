/**
 * One lazily re-armed timer per stream.
 *
 * Protocols typically push their deadline a little later on every request ("idle 30 s").
 * Re-creating a timer per request would cost more than the request itself, so a later deadline
 * leaves the armed timer alone: when it fires early, the stream sees that its deadline has not
 * passed and arms again for the rest. Only an earlier deadline replaces the timer.
 */
/** Longest delay `setTimeout` honours, in ms (longer ones fire after 1 ms, with a warning). Every timer option is bounded by it. */
export const MAX_TIMER = 2 ** 31 - 1

export class DeadlineTimer<O> {
  #timer: NodeJS.Timeout | null = null
  /** Absolute time (ms, `performance.now()` clock) the armed timer fires at; NaN when none. */
  #at = Number.NaN
  readonly #fire: (owner: O) => void
  readonly #owner: O

  /**
   * `fire(owner)` runs when an armed deadline is reached (or, see above, an earlier one that was
   * superseded). Passing a shared function and its owner, rather than a closure, keeps an idle
   * connection from holding a closure and its context for its timer.
   */
  constructor(fire: (owner: O) => void, owner: O) {
    this.#fire = fire
    this.#owner = owner
  }

  /** Makes sure `fire` runs no later than `deadline` (ms on `clock`'s scale); NaN cancels. */
  arm(deadline: number, clock: () => number): void {
    if (Number.isNaN(deadline)) {
      this.cancel()
      return
    }
    if (this.#timer !== null && this.#at <= deadline) return // the common case: costs nothing
    this.cancel()
    const now = clock()
    this.#at = deadline
    // +1: setTimeout may fire a fraction of a millisecond early; the stream would just re-arm.
    // A far deadline is reached in steps: setTimeout cannot wait longer than MAX_TIMER.
    this.#timer = setTimeout(DeadlineTimer.#expired, Math.min(MAX_TIMER, Math.max(0, Math.ceil(deadline - now)) + 1), this as DeadlineTimer<unknown>)
    this.#timer.unref()
  }

  cancel(): void {
    if (this.#timer === null) return
    clearTimeout(this.#timer)
    this.#timer = null
    this.#at = Number.NaN
  }

  /** The one timer callback of every DeadlineTimer: `setTimeout` passes the timer as its argument. */
  static #expired(timer: DeadlineTimer<unknown>): void {
    timer.#timer = null
    timer.#at = Number.NaN
    timer.#fire(timer.#owner)
  }
}
