/**
 * The minimum-rate check of a stream: while a frame is open (some input buffered, the protocol
 * waiting for more), count the bytes that arrive per window of `rate.per` ms; a window that
 * closes with fewer than `rate.bytes` is a `TooSlowError`. Made on first use: a stream without a
 * minimum rate (the default) never has one.
 */
import type { MinRate } from './intent.js'

export class RateWindow {
  /** Start of the current window, or NaN while none runs. */
  #start = Number.NaN
  /** Bytes received since `#start`. */
  #bytes = 0

  /** Input arrived. */
  count(bytes: number): void {
    this.#bytes += bytes
  }

  /** A frame is open at `now`: starts a window unless one runs; returns when it closes. */
  open(now: number, rate: MinRate): number {
    if (Number.isNaN(this.#start)) {
      this.#start = now
      this.#bytes = 0
    }
    return this.#start + rate.per
  }

  /** No frame is open (or no rate applies): no window runs. */
  stop(): void {
    this.#start = Number.NaN
  }

  /**
   * At `now`, returns the bytes received in a window that has closed too slow (and stops), or
   * -1: the window has not closed yet, or it closed fast enough and the next one starts now.
   */
  check(now: number, rate: MinRate): number {
    if (Number.isNaN(this.#start) || now < this.#start + rate.per) return -1
    if (this.#bytes < rate.bytes) {
      this.#start = Number.NaN
      return this.#bytes
    }
    this.#start = now
    this.#bytes = 0
    return -1
  }
}
