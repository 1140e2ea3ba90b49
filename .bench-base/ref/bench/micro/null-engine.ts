/**
 * The engine with no socket under it, for the micro-benchmarks: writes are counted and dropped
 * (and complete at once), reads are fed by hand, timers are never armed. Socket costs are left
 * out on purpose: they are the same for every implementation and hide what the protocol spends.
 */
import { Engine } from '../../src/engine.js'
import type { Factory } from '../../src/protocol.js'

export class NullEngine extends Engine {
  readonly remoteAddress = undefined
  readonly remotePort = undefined
  readonly localAddress = undefined
  readonly localPort = undefined
  /** Bytes written so far. */
  written = 0
  /** Times reading was switched on or off (each is a socket pause()/resume() on a real stream). */
  readingSwitches = 0
  #reading = false
  /** Run wakeups in a microtask, as a Stream does; otherwise only `wake()` runs them. */
  readonly #microtaskWakeups: boolean

  constructor(options: { microtaskWakeups?: boolean } = {}) {
    super()
    this.#microtaskWakeups = options.microtaskWakeups ?? false
  }

  clock(): number {
    return performance.now()
  }
  protected ioWrite(data: Buffer): number {
    this.written += data.length
    return 0
  }
  protected ioUnwritten(): number {
    return 0
  }
  protected ioSetReading(on: boolean): void {
    if (on !== this.#reading) this.readingSwitches++
    this.#reading = on
  }
  protected ioArmTimer(): void {}
  protected ioScheduleWakeup(): void {
    if (this.#microtaskWakeups) queueMicrotask(() => this.onWakeup())
  }
  protected ioHalfClose(): void {}
  protected ioFinish(): void {}
  protected ioDestroy(): void {}
  protected ioReportError(): void {}
  begin(factory: Factory): void {
    this.start(factory, undefined)
  }
  feed(chunk: Buffer): void {
    this.onData(chunk)
  }
  /** What the wakeup microtask does, run now. */
  wake(): void {
    this.notifier()()
    this.onWakeup()
  }
}
