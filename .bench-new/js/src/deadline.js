/**
 * One lazily re-armed timer per stream.
 *
 * Protocols typically push their deadline a little later on every request ("idle 30 s").
 * Re-creating a timer per request would cost more than the request itself, so a later deadline
 * leaves the armed timer alone: when it fires early, the stream sees that its deadline has not
 * passed and arms again for the rest. Only an earlier deadline replaces the timer.
 */
/** Longest delay `setTimeout` honours, in ms (longer ones fire after 1 ms, with a warning). Every timer option is bounded by it. */
export const MAX_TIMER = 2 ** 31 - 1;
/**
 * The timer, as a base of the object that owns it (a socket's I/O): an idle connection then
 * holds no separate timer object, and no closure for its callback.
 */
export class DeadlineTimer {
    #timer = null;
    /** Absolute time (ms, on the clock given to `arm`) the armed timer fires at; NaN when none. */
    #at = Number.NaN;
    /** Makes sure `deadlineReached` runs no later than `deadline` (ms on `clock`'s scale); NaN cancels. */
    armDeadline(deadline, clock) {
        if (Number.isNaN(deadline)) {
            this.cancelDeadline();
            return;
        }
        if (this.#timer !== null && this.#at <= deadline)
            return; // the common case: costs nothing
        this.cancelDeadline();
        const now = clock();
        this.#at = deadline;
        // +1: setTimeout may fire a fraction of a millisecond early; the stream would just re-arm.
        // A far deadline is reached in steps: setTimeout cannot wait longer than MAX_TIMER.
        this.#timer = setTimeout(DeadlineTimer.#expired, Math.min(MAX_TIMER, Math.max(0, Math.ceil(deadline - now)) + 1), this);
        this.#timer.unref();
    }
    cancelDeadline() {
        if (this.#timer === null)
            return;
        clearTimeout(this.#timer);
        this.#timer = null;
        this.#at = Number.NaN;
    }
    /** The one timer callback of every DeadlineTimer: `setTimeout` passes the timer as its argument. */
    static #expired(timer) {
        timer.#timer = null;
        timer.#at = Number.NaN;
        timer.deadlineReached();
    }
}
