/**
 * The one guard against a protocol that spins: handlers called again and again without
 * changing anything. Every handler call is measured the same way, so `bytesRead`, `wakeup`,
 * `bytesFlushed`, `timeout` and `exception` are all covered (and so is any protocol built on
 * them, the async bridge included).
 *
 * A call made progress when it consumed input, wrote output, or (`bytesRead`) was called at an
 * `end` further than any call since the last progress: scanning ahead with `offset` without
 * consuming is bounded by the input's length, so it is allowed however long the input is.
 * Anything else is an idle call; `MAX_IDLE_CALLS` in a row end the stream.
 *
 * Two exceptions would spin at once, so they are told once: the end of the stream (a protocol
 * that waits for input after it was told none will come), and a limit the protocol ignored
 * (its `exception` consumed nothing and asked for the same again).
 */

/** Idle handler calls in a row after which a protocol is taken to be stuck. */
export const MAX_IDLE_CALLS = 10_000

/** @internal */
export class SpinGuard {
  /** Idle calls since the last progress. */
  #idle = 0
  /** The furthest `end` bytesRead was called at since input was last consumed; -1 for none. */
  #furthest = -1
  /** The protocol was told of the end of the stream. */
  #endTold = false
  /** Input length when a limit was last told; -1 once more input arrived. */
  #limitTold = -1

  /** Whether the protocol was told of the end of the stream. */
  get endTold(): boolean {
    return this.#endTold
  }

  /** Returns whether the end of the stream may be told: only once. */
  tellEnd(): boolean {
    if (this.#endTold) return false
    this.#endTold = true
    return true
  }

  /** Returns whether a limit may be told at this input length: not twice with nothing new in between. */
  tellLimit(inputLength: number): boolean {
    if (this.#limitTold === inputLength) return false
    this.#limitTold = inputLength
    return true
  }

  /** More input arrived: a limit may be told again. */
  inputArrived(): void {
    this.#limitTold = -1
  }

  /** Forgets the count: something outside the protocol happened (input, a write completed...). */
  reset(): void {
    this.#idle = 0
    this.#furthest = -1
  }

  /**
   * After a handler call: throws (the engine turns it into a `HandlerError` for `handler`) when
   * too many calls in a row changed nothing. `consumed` and `wrote` say whether the call
   * consumed input and wrote output; `end` is bytesRead's end, or -1 for other handlers.
   */
  after(handler: string, consumed: boolean, wrote: boolean, end: number): void {
    if (consumed) {
      this.#idle = 0
      this.#furthest = -1
    } else if (wrote || end > this.#furthest) {
      this.#idle = 0
      if (end > this.#furthest) this.#furthest = end
    } else if (++this.#idle >= MAX_IDLE_CALLS) {
      throw new Error(
        `${handler} ran ${MAX_IDLE_CALLS} times in a row without consuming input or writing output: ` +
          'the protocol would spin forever (consume what you parse; do not return the same expectation unchanged)',
      )
    }
  }
}
