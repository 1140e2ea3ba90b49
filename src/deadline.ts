/**
 * Deadlines of every stream, under one Node timer.
 *
 * Protocols typically push their deadline a little later on every request ("idle 30 s").
 * Re-arming a timer per request would cost more than the request itself, so a later deadline
 * leaves the armed one alone: when it fires early, the stream sees that its deadline has not
 * passed and arms again for the rest. Only an earlier deadline moves it.
 *
 * Why not a Node timer per stream: an idle connection would hold a `Timeout` (120 bytes), its
 * argument list and two boxed numbers, about 180 bytes of heap each, for a timer that almost
 * never fires. Here an armed stream holds two small integers and a place in a binary heap of
 * the fire times; the heap's earliest time arms the one Node timer. Arming an earlier deadline
 * or cancelling costs O(log n) in the number of armed streams; a later one costs a comparison.
 *
 * Fire times are whole milliseconds on `performance.now()`'s clock: V8 keeps such numbers
 * unboxed (small integers) for the first 12 days of a process, so the fields allocate nothing.
 */

/** Longest delay `setTimeout` honours, in ms (longer ones fire after 1 ms, with a warning). Every timer option is bounded by it. */
export const MAX_TIMER = 2 ** 31 - 1

/** `#index` of a timer that is not in the heap. */
const UNARMED = -1

/**
 * The timer, as a base of the object that owns it (a socket's I/O): an idle connection then
 * holds no separate timer object, and no closure for its callback.
 */
export abstract class DeadlineTimer {
  /** Place in the heap, or UNARMED. */
  #index = UNARMED
  /** When to call `deadlineReached`: whole ms on `performance.now()`'s clock (valid while armed). */
  #at = 0

  /** Runs when an armed deadline is reached (or, see above, an earlier one that was superseded). */
  protected abstract deadlineReached(): void

  /** Makes sure `deadlineReached` runs no later than `deadline` (ms on `performance.now()`'s clock); NaN cancels. */
  armDeadline(deadline: number): void {
    if (Number.isNaN(deadline)) {
      this.cancelDeadline()
      return
    }
    // +1: a timer may fire a fraction of a millisecond early; the stream would just re-arm.
    // ceil(deadline) + 1 is at most the fire time computed below: when the armed one is no
    // later, nothing changes, and the clock is not even read (the common case).
    if (this.#index !== UNARMED && this.#at <= Math.ceil(deadline) + 1) return
    const at = Math.ceil(Math.max(deadline, performance.now())) + 1
    if (this.#index === UNARMED) DeadlineTimer.#push(this, at)
    else if (at < this.#at) DeadlineTimer.#moveEarlier(this, at)
    else return // a past deadline while armed for the next millisecond already
    DeadlineTimer.#armNodeTimer()
  }

  cancelDeadline(): void {
    if (this.#index === UNARMED) return
    DeadlineTimer.#remove(this)
    // With timers left, the Node timer stays: firing with nothing due only arms it again. With
    // none, it goes: nothing of a stream may outlive it.
    if (DeadlineTimer.#heap.length === 0 && DeadlineTimer.#nodeTimer !== null) {
      clearTimeout(DeadlineTimer.#nodeTimer)
      DeadlineTimer.#nodeTimer = null
    }
  }

  // --- The heap of armed timers, earliest first, and the Node timer of its earliest ---------------

  static readonly #heap: DeadlineTimer[] = []
  static #nodeTimer: NodeJS.Timeout | null = null
  /** When the Node timer fires (ms on `performance.now()`'s clock); valid while it is set. */
  static #nodeTimerAt = 0

  /** Sets the Node timer for the earliest fire time, unless it is set for that time or earlier already. */
  static #armNodeTimer(): void {
    const first = DeadlineTimer.#heap[0]
    if (first === undefined) return
    if (DeadlineTimer.#nodeTimer !== null) {
      if (DeadlineTimer.#nodeTimerAt <= first.#at) return
      clearTimeout(DeadlineTimer.#nodeTimer)
    }
    const delay = Math.min(MAX_TIMER, Math.max(1, Math.ceil(first.#at - performance.now())))
    DeadlineTimer.#nodeTimerAt = performance.now() + delay
    // Unref'd, as a timer per socket was: deadlines alone never keep a process alive.
    DeadlineTimer.#nodeTimer = setTimeout(DeadlineTimer.#fire, delay).unref()
  }

  /** Calls `deadlineReached` of every timer due, earliest first, then arms the Node timer again. */
  static #fire(): void {
    DeadlineTimer.#nodeTimer = null
    const now = performance.now()
    try {
      // A timer armed again from its own `deadlineReached` fires at now + 1 or later: not in this loop.
      for (let first = DeadlineTimer.#heap[0]; first !== undefined && first.#at <= now; first = DeadlineTimer.#heap[0]) {
        DeadlineTimer.#remove(first)
        first.deadlineReached()
      }
    } finally {
      DeadlineTimer.#armNodeTimer()
    }
  }

  static #push(timer: DeadlineTimer, at: number): void {
    const heap = DeadlineTimer.#heap
    timer.#at = at
    timer.#index = heap.length
    heap.push(timer)
    DeadlineTimer.#up(timer.#index)
  }

  static #moveEarlier(timer: DeadlineTimer, at: number): void {
    timer.#at = at
    DeadlineTimer.#up(timer.#index)
  }

  static #remove(timer: DeadlineTimer): void {
    const heap = DeadlineTimer.#heap
    const index = timer.#index
    timer.#index = UNARMED
    const last = heap.pop() as DeadlineTimer
    if (last === timer) return
    heap[index] = last
    last.#index = index
    DeadlineTimer.#up(index)
    DeadlineTimer.#down(last.#index)
  }

  /** Moves the timer at `index` towards the root while it is earlier than its parent. */
  static #up(index: number): void {
    const heap = DeadlineTimer.#heap
    const timer = heap[index] as DeadlineTimer
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = heap[parentIndex] as DeadlineTimer
      if (parent.#at <= timer.#at) break
      heap[index] = parent
      parent.#index = index
      index = parentIndex
    }
    heap[index] = timer
    timer.#index = index
  }

  /** Moves the timer at `index` towards the leaves while a child is earlier. */
  static #down(index: number): void {
    const heap = DeadlineTimer.#heap
    const timer = heap[index] as DeadlineTimer
    for (;;) {
      const left = 2 * index + 1
      if (left >= heap.length) break
      const right = left + 1
      let child = left
      if (right < heap.length && (heap[right] as DeadlineTimer).#at < (heap[left] as DeadlineTimer).#at) child = right
      const next = heap[child] as DeadlineTimer
      if (timer.#at <= next.#at) break
      heap[index] = next
      next.#index = index
      index = child
    }
    heap[index] = timer
    timer.#index = index
  }

  /** Number of armed timers (tests). @internal */
  static get armedCount(): number {
    return DeadlineTimer.#heap.length
  }
}
