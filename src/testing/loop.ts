/**
 * A deterministic event loop on a virtual clock, for the test kit's pairs and simulated network:
 * microtasks (wakeups), tasks (socket events) and timers, run in a fixed order, with no real
 * timer anywhere. Time moves only when a test calls `advance()`.
 */

/** A timer on the virtual clock; `cancel()` is idempotent. */
export interface VirtualTimer {
  /** When it fires, ms on the virtual clock. */
  readonly at: number
  cancel(): void
}

interface Timer extends VirtualTimer {
  readonly seq: number
  readonly fn: () => void
  cancelled: boolean
}

/** Tasks one `run()` may execute before it decides the system never settles. */
const MAX_TASKS = 1_000_000
/** Turns of the real event loop one `settle()` may take. */
const MAX_SETTLE_ROUNDS = 10_000
/** Timers one `advance()` may fire before it decides the system spins. */
const MAX_FIRINGS = 100_000

/**
 * The loop: `run()` executes what is due now (microtasks before each task, as Node does);
 * `advance(ms)` fires the timers on the way, each at its own time, running what they make due.
 * Entering `run()` from inside a task does nothing: the outer run goes on with the new work.
 * @internal
 */
export class VirtualLoop {
  /** The virtual clock, in ms. */
  now: number
  /** Wakeups (Node runs them as microtasks: before the next I/O event). */
  readonly #micro: (() => void)[] = []
  /** Socket events and deferred wakeups, in the order they were scheduled. */
  readonly #tasks: (() => void)[] = []
  /** Pending timers, ordered by time, then by creation. */
  #timers: Timer[] = []
  #seq = 0
  #running = false

  constructor(now: number) {
    this.now = now
  }

  /** Runs `fn` before the next task. */
  microtask(fn: () => void): void {
    this.#micro.push(fn)
  }

  /** Runs `fn` after what is already due. */
  task(fn: () => void): void {
    this.#tasks.push(fn)
  }

  /** Runs `fn` at `at` (ms on the virtual clock; a past time fires with the next `advance`, even of 0). */
  timer(at: number, fn: () => void): VirtualTimer {
    const timer: Timer = {
      at,
      seq: this.#seq++,
      fn,
      cancelled: false,
      cancel() {
        this.cancelled = true
      },
    }
    // Few timers live at once (one per stream and client): a sorted insert is cheap enough.
    let i = this.#timers.length
    while (i > 0 && (this.#timers[i - 1] as Timer).at > at) i--
    this.#timers.splice(i, 0, timer)
    return timer
  }

  /** The time of the next pending timer, or NaN when none is pending. */
  get nextTimer(): number {
    this.#dropCancelled()
    return this.#timers[0]?.at ?? Number.NaN
  }

  /** Whether nothing is due now (timers may still be pending). */
  get isIdle(): boolean {
    return this.#micro.length === 0 && this.#tasks.length === 0
  }

  /** Executes everything due now, including what that schedules, until nothing is. */
  run(): void {
    if (this.#running) return
    this.#running = true
    try {
      for (let n = 0; ; n++) {
        if (n === MAX_TASKS) throw new Error(`the virtual loop ran ${MAX_TASKS} tasks without settling: does a protocol wake itself forever?`)
        const fn = this.#micro.shift() ?? this.#tasks.shift()
        if (fn === undefined) break
        fn()
      }
    } finally {
      this.#running = false
    }
  }

  /** Moves the clock forward by `ms`, firing every timer on the way at its own time. */
  advance(ms: number): void {
    const target = this.now + ms
    this.run()
    for (let fired = 0; ; fired++) {
      if (fired === MAX_FIRINGS) throw new Error(`advance(${ms}): ${MAX_FIRINGS} timers fired; does a timeout keep setting a past deadline?`)
      this.#dropCancelled()
      const timer = this.#timers[0]
      if (timer === undefined || timer.at > target) break
      this.#timers.shift()
      this.now = Math.max(this.now, timer.at)
      timer.fn()
      this.run()
    }
    this.now = Math.max(this.now, target)
  }

  /**
   * Advances to each pending timer in turn until none is left or `limit` ms have passed.
   * Returns the ms advanced.
   */
  runUntilIdle(limit: number): number {
    const start = this.now
    this.run()
    for (;;) {
      const next = this.nextTimer
      if (Number.isNaN(next) || next - start > limit) break
      this.advance(Math.max(0, next - this.now))
    }
    return this.now - start
  }

  /**
   * Runs what is due, lets the real event loop turn (promise callbacks of async code, such as
   * handlers written with `handleAsync`, run then), and repeats until a turn leaves nothing due.
   * The clock does not move.
   */
  async settle(where: string): Promise<void> {
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      this.run()
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (this.isIdle) return
    }
    throw new Error(`${where}: still busy after ${MAX_SETTLE_ROUNDS} turns of the event loop; does async code keep waking a stream?`)
  }

  #dropCancelled(): void {
    while (this.#timers[0]?.cancelled) this.#timers.shift()
  }
}
