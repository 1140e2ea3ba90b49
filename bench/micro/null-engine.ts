/**
 * The engine with no socket under it, for the micro-benchmarks: writes are counted and dropped
 * (and complete at once), reads are fed by hand, timers are never armed. Socket costs are left
 * out on purpose: they are the same for every implementation and hide what the protocol spends.
 */
import { Engine } from '../../src/engine.js'
import type { StreamIO } from '../../src/io.js'
import { Limits } from '../../src/limits.js'
import type { Factory } from '../../src/protocol.js'

/** The I/O that does nothing but count. */
class NullIO implements StreamIO {
  readonly endpoints = {}
  /** Bytes written so far. */
  written = 0
  /** Times reading was switched on or off (each is a socket pause()/resume() on a real stream). */
  readingSwitches = 0
  #reading = false
  /** Set to run wakeups in a microtask, as a Stream does. */
  engine: Engine | null = null

  clock(): number {
    return performance.now()
  }
  write(data: Buffer): number {
    this.written += data.length
    return 0
  }
  unwritten(): number {
    return 0
  }
  setReading(on: boolean): void {
    if (on !== this.#reading) this.readingSwitches++
    this.#reading = on
  }
  armTimer(): void {}
  scheduleWakeup(): void {
    const engine = this.engine
    if (engine !== null) queueMicrotask(() => engine.onWakeup())
  }
  halfClose(): void {}
  finish(): void {}
  destroy(): void {}
  reportError(): void {}
}

export class NullEngine {
  readonly #io = new NullIO()
  readonly #engine = new Engine(this.#io, new Limits(undefined))

  /** With `microtaskWakeups`, wakeups run in a microtask, as on a Stream; otherwise only `wake()` runs them. */
  constructor(options: { microtaskWakeups?: boolean } = {}) {
    if (options.microtaskWakeups) this.#io.engine = this.#engine
  }

  /** Bytes written so far. */
  get written(): number {
    return this.#io.written
  }
  /** Times reading was switched on or off. */
  get readingSwitches(): number {
    return this.#io.readingSwitches
  }
  get isEnded(): boolean {
    return this.#engine.isEnded
  }
  begin(factory: Factory): void {
    this.#engine.start(factory, undefined)
  }
  feed(chunk: Buffer): void {
    this.#engine.onData(chunk)
  }
  /** What the wakeup microtask does, run now. */
  wake(): void {
    this.#engine.wakeup()
    this.#engine.onWakeup()
  }
}
