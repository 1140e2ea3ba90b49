import { InvalidArgumentError } from './errors.js'

/** What the budget needs of a stream: how much it holds, and a way to re-check its reading. */
export interface BudgetMember {
  /** Re-evaluates whether to read, after the budget's state changed. @internal */
  budgetChanged(): void
}

/**
 * A memory budget shared by many streams (all connections of a server): the bytes their input
 * and output buffers hold, added up. While the sum is over `limit`, streams stop reading —
 * except one, the stream holding the most, so that it can complete its frame and free memory
 * (if every stream waited for the others, no frame would ever complete). Reading resumes for
 * all once the sum falls below `resumeAt` (90 % of the limit).
 *
 * The process then holds about `limit` plus one frame plus what the kernel and Node buffer per
 * socket, instead of growing with the number of slow peers until it is killed.
 */
export class MemoryBudget {
  /** Most bytes held across members before reading pauses. */
  readonly limit: number
  /** Reading resumes below this many bytes. */
  readonly resumeAt: number
  #used = 0
  #exhausted = false
  /** Bytes each member holds, as last reported. */
  readonly #held = new Map<BudgetMember, number>()
  /** The member allowed to read while exhausted, or null. */
  #grant: BudgetMember | null = null

  constructor(limit: number) {
    if (!(Number.isSafeInteger(limit) && limit > 0)) throw new InvalidArgumentError(`maxBufferedBytes must be a positive integer, got ${limit}`)
    this.limit = limit
    this.resumeAt = Math.floor(limit * 0.9)
  }

  /** Bytes held by all members now. */
  get used(): number {
    return this.#used
  }

  /** Whether reading is paused (but for one member). */
  get isExhausted(): boolean {
    return this.#exhausted
  }

  /** Records that `member` now holds `bytes`. @internal */
  update(member: BudgetMember, bytes: number): void {
    this.#members.add(member)
    const before = this.#held.get(member) ?? 0
    if (bytes === before) return
    if (bytes === 0) this.#held.delete(member)
    else this.#held.set(member, bytes)
    this.#used += bytes - before
    if (!this.#exhausted && this.#used > this.limit) {
      this.#exhausted = true
      this.#grant = this.#largest()
      // Pause everyone now, not at their next read: with many peers, "one more read each"
      // would be many more bytes.
      for (const m of [...this.#members]) if (m !== member && m !== this.#grant) m.budgetChanged()
    } else if (this.#exhausted && this.#used < this.resumeAt) {
      this.#exhausted = false
      this.#grant = null
      const waiting = [...this.#waiting]
      this.#waiting.clear()
      for (const m of waiting) m.budgetChanged()
    } else if (this.#exhausted && member === this.#grant && bytes < before) {
      // The granted member consumed a frame: let the largest holder go next.
      this.#grant = this.#largest()
      this.#grant?.budgetChanged()
    }
  }

  /** Whether `member` may read now; a member told no is called back when that changes. @internal */
  mayRead(member: BudgetMember): boolean {
    if (!this.#exhausted || member === this.#grant) return true
    if (this.#grant === null) {
      this.#grant = member
      return true
    }
    this.#waiting.add(member)
    return false
  }

  /** A member left (its stream ended): forget what it held. @internal */
  leave(member: BudgetMember): void {
    this.update(member, 0)
    this.#members.delete(member)
    this.#waiting.delete(member)
    if (this.#grant === member) {
      this.#grant = this.#exhausted ? this.#largest() : null
      this.#grant?.budgetChanged()
    }
  }

  /** Every stream using the budget. */
  readonly #members = new Set<BudgetMember>()
  /** Members told to wait: called back when reading resumes. */
  readonly #waiting = new Set<BudgetMember>()

  #largest(): BudgetMember | null {
    let best: BudgetMember | null = null
    let most = 0
    for (const [member, bytes] of this.#held) {
      if (bytes > most) {
        best = member
        most = bytes
      }
    }
    return best
  }
}
