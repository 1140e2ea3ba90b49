import { InvalidArgumentError } from './errors.js'

/**
 * What the budget needs of a stream: a way to make it re-check its reading. Implemented by the
 * engine; not part of the package's API (not exported from the index).
 * @internal
 */
export interface BudgetMember {
  /** Re-evaluates whether to read, after the budget's state changed. @internal */
  budgetChanged(): void
}

/**
 * What a member waits for, as it tells the budget: `input` (it wants to read), `output` (its
 * peer must read what it wrote first: pushed back, or waiting for a flush), `other` (it sleeps,
 * or its input has ended).
 * @internal
 */
export type BudgetWait = 'input' | 'output' | 'other'

/** What a member reported last. */
interface Holding {
  readonly member: BudgetMember
  input: number
  output: number
  wait: BudgetWait
  /** When it was last granted (a count of grants), 0 if never: the order among equals. */
  granted: number
}

/**
 * A memory budget shared by many streams (all connections of a server). While the input their
 * buffers hold, added up, is over `limit`, streams stop reading — except one, so that frames
 * still complete and free memory (if every stream waited for the others, none would). Reading
 * resumes for all once the sum falls below `resumeAt` (90 % of the limit).
 *
 * The rule is that one stuck connection never stalls the others:
 *
 * - The one stream allowed to read (the grant) is always one that wants to read: the reader
 *   holding the most input (the nearest to freeing a frame), the least recently granted among
 *   equals. The grant is a turn: it passes on once the stream used it (it read, or anything
 *   else happened to it) or stopped wanting to read (it sleeps, its input ended, it ended, its
 *   peer stopped reading). So while anyone waits to read, someone may.
 * - Output waiting for a peer is charged to that peer, not to the budget: pausing other streams
 *   cannot free it, only that peer reading can. A peer that does not read its answers would
 *   otherwise keep the budget exhausted, and the server paused, until it disconnects. Output is
 *   bounded per stream instead, by `outputHighWaterMark` (the stream stops processing
 *   requests), and in time by the stream's deadlines.
 * - For the same reason the input of a stream whose peer must read first (pushed back, or
 *   waiting for a flush) is not counted while it waits: it cannot grow then (the stream does not
 *   read), and it is only what the stream had read when its peer stopped reading.
 *
 * The streams then hold about `limit` plus one frame of input, plus what the kernel and Node
 * buffer per socket, instead of growing with the number of slow senders until the process is
 * killed. `used` is what the limit applies to; `held` adds the output and the input not counted.
 */
export class MemoryBudget {
  /** Most bytes of input held across members before reading pauses. */
  readonly limit: number
  /** Reading resumes below this many bytes. */
  readonly resumeAt: number
  #used = 0
  #held = 0
  #exhausted = false
  /** Every member and what it reported last. */
  readonly #members = new Map<BudgetMember, Holding>()
  /** Members told not to read: called back when reading resumes. */
  readonly #waiting = new Set<BudgetMember>()
  /** The member allowed to read while exhausted, or null when no member wants to. */
  #grant: BudgetMember | null = null
  /** Grants given so far. */
  #grants = 0
  /** Members being called back: what they report then is the budget's doing, not a turn of theirs. */
  readonly #telling = new Set<BudgetMember>()

  constructor(limit: number) {
    if (!(Number.isSafeInteger(limit) && limit > 0)) throw new InvalidArgumentError(`maxBufferedBytes must be a positive integer, got ${limit}`)
    this.limit = limit
    this.resumeAt = Math.floor(limit * 0.9)
  }

  /** Bytes counted against the limit now: the input of members not waiting for their peer. */
  get used(): number {
    return this.#used
  }

  /** Bytes all members hold now, input and output, counted or not. */
  get held(): number {
    return this.#held
  }

  /** Whether reading is paused (but for one member). */
  get isExhausted(): boolean {
    return this.#exhausted
  }

  /**
   * Records what `member` holds and waits for, after each of its rounds; returns whether it may
   * read (never when it does not wait for input). A member told no is called back when that
   * may have changed. @internal
   */
  update(member: BudgetMember, input: number, output: number, wait: BudgetWait): boolean {
    let holding = this.#members.get(member)
    if (holding === undefined) {
      holding = { member, input: 0, output: 0, wait: 'other', granted: 0 }
      this.#members.set(member, holding)
    }
    this.#used += counted(input, wait) - counted(holding.input, holding.wait)
    this.#held += input + output - holding.input - holding.output
    holding.input = input
    holding.output = output
    holding.wait = wait
    if (!this.#exhausted) {
      if (this.#used > this.limit) {
        this.#exhausted = true
        // The grant goes to a reader, which reads already: only the others are called back.
        this.#grant = this.#granted(this.#pick())
        // Pause every reader now, not at its next read: with many peers, "one more read each"
        // would be many more bytes.
        for (const [m, h] of [...this.#members]) if (h.wait === 'input' && m !== member && m !== this.#grant) this.#tell(m)
      }
    } else if (this.#used < this.resumeAt) {
      this.#resume(member)
    } else if (member === this.#grant) {
      // A report of its own (not an answer to a call-back) means the turn was used.
      if (wait !== 'input' || !this.#telling.has(member)) this.#pass(member)
    } else if (wait === 'input') {
      const grant = this.#grant === null ? undefined : this.#members.get(this.#grant)
      // A reader holding a partial frame goes before a granted reader whose peer sent nothing yet.
      if (grant === undefined || (input > grant.input && grant.input === 0)) this.#pass(member)
    }
    const may = wait === 'input' && (!this.#exhausted || this.#grant === member)
    if (may || wait !== 'input') this.#waiting.delete(member)
    else this.#waiting.add(member)
    return may
  }

  /** A member left (its stream ended): forget what it held, pass the grant on. @internal */
  leave(member: BudgetMember): void {
    if (!this.#members.has(member)) return
    this.update(member, 0, 0, 'other')
    this.#members.delete(member)
    this.#waiting.delete(member)
  }

  /** Moves the grant to the best reader now; `caller` learns its answer from `update`. */
  #pass(caller: BudgetMember): void {
    const previous = this.#grant
    const next = this.#granted(this.#pick())
    this.#grant = next
    if (next !== null && next !== previous && next !== caller) this.#tell(next)
    // Taken from a reader that did not ask: it must stop reading.
    if (previous !== null && previous !== next && previous !== caller && this.#members.get(previous)?.wait === 'input') this.#tell(previous)
  }

  /** Stamps the picked member as granted now, for the order among equals, and returns it. */
  #granted(picked: Holding | null): BudgetMember | null {
    if (picked === null) return null
    picked.granted = ++this.#grants
    return picked.member
  }

  /** The reader holding the most input, the least recently granted among equals; null if none waits for input. */
  #pick(): Holding | null {
    let best: Holding | null = null
    for (const holding of this.#members.values()) {
      if (holding.wait !== 'input') continue
      if (best === null || holding.input > best.input || (holding.input === best.input && holding.granted < best.granted)) best = holding
    }
    return best
  }

  /** Everyone reads again; `caller` learns it from `update`. */
  #resume(caller: BudgetMember): void {
    this.#exhausted = false
    this.#grant = null
    const waiting = [...this.#waiting]
    this.#waiting.clear()
    for (const m of waiting) if (m !== caller) this.#tell(m)
  }

  #tell(member: BudgetMember): void {
    this.#telling.add(member)
    try {
      member.budgetChanged()
    } finally {
      this.#telling.delete(member)
    }
  }
}

/** Input counts against the limit unless the member waits for its peer to read. */
function counted(input: number, wait: BudgetWait): number {
  return wait === 'output' ? 0 : input
}
