/**
 * Per-request timeouts for a pipelined client on the stream's one timer: the requests in flight
 * in the order they were written (replies come back in that order), each with its own deadline.
 * A request whose deadline passes is failed alone; its reply, when it comes late, is recognised
 * and skipped, and the connection goes on.
 *
 * Assumptions: replies come in request order (Redis, HTTP/1.1 pipelining, memcached text,
 * PostgreSQL's extended protocol); the protocol calls {@link RequestDeadlines.shift} once per
 * reply it parses, and gives {@link RequestDeadlines.deadline} to its next Intent.
 */
import { InvalidArgumentError } from './errors.js'
import { checkMs, checkOptions } from './validate.js'

/** Options of {@link RequestDeadlines}. */
export interface RequestDeadlinesOptions {
  /**
   * How long the oldest request may stay timed out with its reply still owed, in ms after its
   * deadline, before {@link RequestDeadlines.expire} says the peer is stuck (returns true).
   * Replies come in order, so while that reply is owed no other can come: a peer that answers
   * late is fine, one that stopped answering holds every request behind it. Then close the
   * connection (the trap of skipping late replies: a dead peer looks like a slow one forever).
   * A whole number of ms within 0..2^31-1, or Infinity to never give up.
   * @default 30000
   */
  giveUpAfter?: number
}

/** Default of {@link RequestDeadlinesOptions.giveUpAfter}, in ms. */
export const DEFAULT_GIVE_UP_AFTER = 30_000

/** One request in flight. */
interface Entry<T> {
  readonly request: T
  /** Absolute ms on `scope.now()`'s clock. */
  readonly deadline: number
  /** Set by `expire`: the request was failed; its reply is to be skipped. */
  late: boolean
  /** Set by `shift`: answered (the heap drops it lazily). */
  answered: boolean
  /** Order of writing: ties of deadline time out oldest first. */
  readonly seq: number
}

/** Whether `a` times out before `b`. */
function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq)
}

/**
 * The deadlines of a pipelined client's requests in flight (see the module comment).
 *
 * Use from a protocol:
 * - when writing a request: `deadlines.add(request, scope.now() + timeout)`;
 * - for every reply parsed: `const request = deadlines.shift()`: the request it answers, or
 *   `undefined` for the late reply of a request that timed out (drop the reply: its request was
 *   already failed). Check `deadlines.size > 0` first: a reply with nothing in flight is the
 *   peer's error;
 * - on every Intent returned while requests are in flight: `.deadline(deadlines.deadline)`
 *   (Infinity when none is pending: then leave the deadline off);
 * - in `timeout()`: `if (deadlines.expire(scope.now(), fail)) return Intent.error(...)`, where
 *   `fail(request)` fails one request; true means the peer is stuck (see `giveUpAfter`);
 * - when the connection is lost: `deadlines.clear()` returns what was not answered.
 *
 * The trap it avoids: a timeout that closes the connection fails every request in flight, the
 * fast ones behind a slow one included, and a reconnect storm follows a slow server. Skipping
 * must stay in order: the late reply is matched by its place in the queue, never by content.
 *
 * Costs: while every deadline is no earlier than the one written before it (one timeout for
 * all, the usual case) `add`, `shift`, `deadline` and `expire` are O(1) and allocate nothing
 * per request (two arrays of slots, reused). The first deadline out of that order moves the
 * requests in flight to a binary heap of one small object per request, O(log n) each, until
 * nothing is in flight again.
 */
export class RequestDeadlines<T> {
  // In write order (#general === null): every deadline added since the queue was last empty is
  // no earlier than the one added before it, so write order is deadline order: the late requests
  // are the oldest ones and the next to time out is the oldest that is not late. No heap needed.
  /** Requests in flight, oldest first: `#requests[#head, #tail)`; other slots are empty (undefined). */
  #requests: (T | undefined)[] = []
  /** Their deadlines, at the same positions: non-decreasing. */
  #deadlines: number[] = []
  #head = 0
  #tail = 0
  /** Requests timed out whose late reply is owed: `#requests[#head, #head + #late)`. */
  #late = 0
  /** Set by the first deadline out of write order: the requests in flight, until none is. */
  #general: HeapDeadlines<T> | null = null
  readonly #giveUpAfter: number

  constructor(options?: RequestDeadlinesOptions) {
    const o = checkOptions<RequestDeadlinesOptions>('RequestDeadlines', 'options', options)
    const g = o.giveUpAfter
    this.#giveUpAfter = g === undefined ? DEFAULT_GIVE_UP_AFTER : g === Number.POSITIVE_INFINITY ? g : checkMs('RequestDeadlines', 'options.giveUpAfter', g)
  }

  /** Requests in flight: awaiting a reply, the timed-out ones included. */
  get size(): number {
    return this.#general === null ? this.#tail - this.#head : this.#general.size
  }

  /** Requests timed out whose late reply is still owed. */
  get late(): number {
    return this.#general === null ? this.#late : this.#general.late
  }

  /**
   * When the stream must wake up (ms on `scope.now()`'s clock): the earliest deadline of a
   * request not answered nor timed out, or the oldest late one's give-up time; Infinity if none.
   */
  get deadline(): number {
    if (this.#general !== null) return this.#general.deadline
    const next = this.#head + this.#late
    const pending = next < this.#tail ? (this.#deadlines[next] as number) : Number.POSITIVE_INFINITY
    if (this.#late === 0) return pending
    return Math.min(pending, (this.#deadlines[this.#head] as number) + this.#giveUpAfter)
  }

  /** A request was written; its reply is due by `deadline` (ms on `scope.now()`'s clock). */
  add(request: T, deadline: number): void {
    if (Number.isNaN(deadline)) throw new InvalidArgumentError('RequestDeadlines.add: deadline is NaN')
    if (this.#general === null) {
      const tail = this.#tail
      if (tail === this.#head || deadline >= (this.#deadlines[tail - 1] as number)) {
        this.#requests[tail] = request
        this.#deadlines[tail] = deadline
        this.#tail = tail + 1
        return
      }
      this.#toGeneral()
    }
    ;(this.#general as HeapDeadlines<T>).add(request, deadline)
  }

  /**
   * A reply arrived: removes the oldest request in flight and returns it, or returns `undefined`
   * if it had timed out (skip the reply). Throws if nothing is in flight (check `size`).
   */
  shift(): T | undefined {
    const general = this.#general
    if (general !== null) {
      const request = general.shift()
      if (general.size === 0) this.#general = null // back to write order
      return request
    }
    const head = this.#head
    if (head === this.#tail) throw new InvalidArgumentError('RequestDeadlines.shift: no request in flight (check size first)')
    const isLate = this.#late > 0 // the late ones are the oldest
    const request = isLate ? undefined : this.#requests[head]
    if (isLate) this.#late--
    this.#requests[head] = undefined // not kept alive by its slot
    this.#head = head + 1
    if (this.#head === this.#tail) this.#empty()
    else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#tail) this.#compact()
    return request
  }

  /**
   * Call from `timeout()`: every request whose deadline is `now` or earlier and not yet answered
   * is marked late and given to `onTimeout` (earliest deadline first, then in write order). Returns true if the oldest
   * late request's reply has been owed for `giveUpAfter` ms: the peer is stuck, close the connection.
   */
  expire(now: number, onTimeout: (request: T) => void): boolean {
    for (;;) {
      if (this.#general !== null) return this.#general.expire(now, onTimeout) // also if onTimeout added out of order
      const next = this.#head + this.#late
      if (next >= this.#tail || (this.#deadlines[next] as number) > now) break
      this.#late++
      onTimeout(this.#requests[next] as T)
    }
    return this.#late > 0 && (this.#deadlines[this.#head] as number) + this.#giveUpAfter <= now
  }

  /** The connection is lost: empties the queue, returning the requests neither answered nor timed out, oldest first. */
  clear(): T[] {
    if (this.#general !== null) {
      const pending = this.#general.clear()
      this.#general = null
      return pending
    }
    const pending = this.#requests.slice(this.#head + this.#late, this.#tail) as T[]
    this.#requests.fill(undefined, this.#head, this.#tail)
    this.#empty()
    return pending
  }

  /** Nothing in flight: the slots are used again from the start (and dropped if a burst made them many). */
  #empty(): void {
    this.#head = 0
    this.#tail = 0
    this.#late = 0
    if (this.#requests.length > COMPACT_AFTER) {
      this.#requests = []
      this.#deadlines = []
    }
  }

  /** Moves the requests in flight to the front: most slots are answered ones (one copy, not one per reply). */
  #compact(): void {
    const [head, tail] = [this.#head, this.#tail]
    this.#requests.copyWithin(0, head, tail)
    this.#requests.fill(undefined, tail - head, tail)
    this.#deadlines.copyWithin(0, head, tail)
    this.#head = 0
    this.#tail = tail - head
  }

  /** A deadline came out of write order: the requests in flight move to a heap (see HeapDeadlines). */
  #toGeneral(): void {
    const general = new HeapDeadlines<T>(this.#giveUpAfter)
    for (let i = this.#head; i < this.#tail; i++) general.add(this.#requests[i] as T, this.#deadlines[i] as number, i < this.#head + this.#late)
    this.#requests.fill(undefined, this.#head, this.#tail)
    this.#empty()
    this.#general = general
  }
}

/** Answered slots at the head are dropped in one copy once there are this many and they are half the queue. */
const COMPACT_AFTER = 1024

/**
 * The general case of {@link RequestDeadlines}, for deadlines out of write order: entries in a
 * queue (write order) and in a binary min-heap (deadline order). One object per request.
 */
class HeapDeadlines<T> {
  /** Requests in flight, oldest first: `#queue[#head..]`. */
  #queue: Entry<T>[] = []
  #head = 0
  /** Requests not answered nor timed out, by deadline (a binary min-heap; answered ones dropped lazily). */
  readonly #heap: Entry<T>[] = []
  /** How many entries of the queue are late (timed out, reply owed). */
  #late = 0
  /** `seq` of the next request added. */
  #seq = 0
  readonly #giveUpAfter: number

  constructor(giveUpAfter: number) {
    this.#giveUpAfter = giveUpAfter
  }

  /** Requests in flight: awaiting a reply, the timed-out ones included. */
  get size(): number {
    return this.#queue.length - this.#head
  }

  /** Requests timed out whose late reply is still owed. */
  get late(): number {
    return this.#late
  }

  /**
   * When the stream must wake up (ms on `scope.now()`'s clock): the earliest deadline of a
   * request not answered nor timed out, or the oldest late one's give-up time; Infinity if none.
   */
  get deadline(): number {
    this.#dropAnswered()
    const pending = this.#heap[0]?.deadline ?? Number.POSITIVE_INFINITY
    const oldest = this.#queue[this.#head]
    return oldest?.late === true ? Math.min(pending, oldest.deadline + this.#giveUpAfter) : pending
  }

  /** A request was written (see RequestDeadlines.add); `late`: it timed out already (taken over from the in-order queue). */
  add(request: T, deadline: number, late = false): void {
    const entry: Entry<T> = { request, deadline, late, answered: false, seq: this.#seq++ }
    this.#queue.push(entry)
    if (late) {
      this.#late++
      return
    }
    const heap = this.#heap
    // Deadlines in write order (one timeout for all) keep the heap sorted: no sift needed.
    heap.push(entry)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] as Entry<T>
      if (!before(entry, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = entry
  }

  /**
   * A reply arrived: removes the oldest request in flight and returns it, or returns `undefined`
   * if it had timed out (skip the reply). Throws if nothing is in flight (check `size`).
   */
  shift(): T | undefined {
    const entry = this.#queue[this.#head]
    if (entry === undefined) throw new InvalidArgumentError('RequestDeadlines.shift: no request in flight (check size first)')
    this.#head++
    if (this.#head === this.#queue.length) {
      this.#queue = []
      this.#head = 0
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#queue.length) {
      // Drop the answered prefix in one slice, not one shift per reply (O(n) each).
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    if (entry.late) {
      this.#late--
      return undefined
    }
    entry.answered = true
    // Answered entries leave the heap when they reach its top; with deadlines out of write order
    // they can pile up below a short one: rebuild once they are most of it.
    if (this.#heap.length > COMPACT_AFTER && this.#heap.length > 2 * this.size) this.#rebuildHeap()
    return entry.request
  }

  /**
   * Call from `timeout()`: every request whose deadline is `now` or earlier and not yet answered
   * is marked late and given to `onTimeout` (earliest deadline first, then in write order). Returns true if the oldest
   * late request's reply has been owed for `giveUpAfter` ms: the peer is stuck, close the connection.
   */
  expire(now: number, onTimeout: (request: T) => void): boolean {
    const heap = this.#heap
    for (;;) {
      this.#dropAnswered()
      const top = heap[0]
      if (top === undefined || top.deadline > now) break
      this.#pop()
      top.late = true
      this.#late++
      onTimeout(top.request)
    }
    const oldest = this.#queue[this.#head]
    return oldest?.late === true && oldest.deadline + this.#giveUpAfter <= now
  }

  /** The connection is lost: empties the queue, returning the requests neither answered nor timed out, oldest first. */
  clear(): T[] {
    const pending: T[] = []
    for (let i = this.#head; i < this.#queue.length; i++) {
      const entry = this.#queue[i] as Entry<T>
      if (!entry.late) pending.push(entry.request)
    }
    this.#queue = []
    this.#head = 0
    this.#heap.length = 0
    this.#late = 0
    return pending
  }

  #rebuildHeap(): void {
    const live: Entry<T>[] = []
    for (let i = this.#head; i < this.#queue.length; i++) {
      const entry = this.#queue[i] as Entry<T>
      if (!entry.late) live.push(entry)
    }
    live.sort((a, b) => a.deadline - b.deadline || a.seq - b.seq) // a sorted array is a heap
    this.#heap.length = 0
    for (const entry of live) this.#heap.push(entry)
  }

  #dropAnswered(): void {
    while (this.#heap[0]?.answered === true) this.#pop()
  }

  /** Removes the heap's top. */
  #pop(): void {
    const heap = this.#heap
    const last = heap.pop() as Entry<T>
    if (heap.length === 0) return
    let i = 0
    const n = heap.length
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && before(heap[right] as Entry<T>, heap[left] as Entry<T>) ? right : left
      if (!before(heap[child] as Entry<T>, last)) break
      heap[i] = heap[child] as Entry<T>
      i = child
    }
    heap[i] = last
  }
}
