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
 */

/** Idle handler calls in a row after which a protocol is taken to be stuck. */
export const MAX_IDLE_CALLS = 10_000

/** @internal */
export class SpinGuard {
  /** Idle calls since the last progress. */
  #idle = 0
  /** Input and output lengths before the current call. */
  #input = 0
  #output = 0
  /** The furthest `end` bytesRead was called at since input was last consumed; -1 for none. */
  #furthest = -1

  /** Forgets the count: something outside the protocol happened (input, a write completed...). */
  reset(): void {
    this.#idle = 0
    this.#furthest = -1
  }

  /** Before a handler call: what it could change. */
  before(input: number, output: number): void {
    this.#input = input
    this.#output = output
  }

  /**
   * After the call: throws (the engine turns it into a `HandlerError` for `handler`) when
   * too many calls in a row changed nothing. `end` is bytesRead's end, or -1 for other handlers.
   */
  after(handler: string, input: number, output: number, end: number): void {
    if (input < this.#input) {
      this.#idle = 0
      this.#furthest = -1
    } else if (output > this.#output || end > this.#furthest) {
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
