/**
 * The keyspace's hash table, looked up by bytes: a command's key is found straight from its span
 * of the input, with no string made for it (making one, and hashing it in a Map, costs more than
 * the rest of a GET). Keys are kept as latin1 strings (one char per byte) in the entries, which
 * carry their own chain link, so an entry is the only object a key costs.
 *
 * Chained buckets, at most one entry per bucket on average. The hash (FNV-1a) is seeded at
 * random per table, as V8 seeds Map's, so that colliding keys cannot be read off the code. It is
 * not a keyed hash like Redis' SipHash: a determined peer could still search for collisions
 * and make chains long (slow, not unbounded). A demo's trade-off, noted here.
 *
 * The table doubles when it holds as many entries as buckets and shrinks when it is less than an
 * eighth full, all at once (no incremental rehash). `scan` walks it with Redis' reverse-binary
 * cursor, which stays valid across both: see `scan`.
 */

/** What the table needs in an entry; the keyspace adds its data. */
export interface DictEntry {
  /** The key, latin1 (one char per byte). */
  readonly key: string
  /** `hashString(key)`, set by `insert`. */
  hash: number
  /** Next entry of the bucket, or null. */
  next: DictEntry | null
}

const INITIAL_BUCKETS = 16
/** The table shrinks when its fill (entries per bucket) drops below 1 / SHRINK_FILL. */
const SHRINK_FILL = 8

export class Dict<E extends DictEntry> {
  /** Bucket heads; the length is a power of two. */
  #buckets: (E | null)[] = new Array<E | null>(INITIAL_BUCKETS).fill(null)
  #size = 0
  /** Bucket where the next `sweep` starts. */
  #cursor = 0
  /** True while `sweep` walks the buckets: deleting must not resize the table under it. */
  #sweeping = false
  readonly #seed = (Math.random() * 0x100000000) >>> 0

  get size(): number {
    return this.#size
  }

  /** Hash of the key `bytes[start, end)`; equals `hashString` of the same key as a latin1 string. */
  hashBytes(bytes: Uint8Array, start: number, end: number): number {
    let h = this.#seed
    for (let i = start; i < end; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193)
    return mix(h)
  }

  hashString(key: string): number {
    let h = this.#seed
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
    return mix(h)
  }

  /** The entry whose key is `bytes[start, end)`, or undefined. */
  findBytes(bytes: Uint8Array, start: number, end: number): E | undefined {
    const hash = this.hashBytes(bytes, start, end)
    const length = end - start
    for (let e = this.#buckets[hash & (this.#buckets.length - 1)] as E | null; e !== null; e = e.next as E | null) {
      if (e.hash !== hash || e.key.length !== length) continue
      const key = e.key
      let i = 0
      while (i < length && key.charCodeAt(i) === bytes[start + i]) i++
      if (i === length) return e
    }
    return undefined
  }

  /** The entry whose key is `key`, or undefined. */
  find(key: string): E | undefined {
    const hash = this.hashString(key)
    for (let e = this.#buckets[hash & (this.#buckets.length - 1)] as E | null; e !== null; e = e.next as E | null) {
      if (e.hash === hash && e.key === key) return e
    }
    return undefined
  }

  /** Adds `entry`, whose key must not be in the table (find it first). */
  insert(entry: E): void {
    if (this.#size >= this.#buckets.length) this.#grow()
    entry.hash = this.hashString(entry.key)
    const at = entry.hash & (this.#buckets.length - 1)
    entry.next = this.#buckets[at] as E | null
    this.#buckets[at] = entry
    this.#size++
  }

  /** Puts `entry` where `old` (same key) was. */
  replace(old: E, entry: E): void {
    entry.hash = old.hash
    entry.next = old.next
    const at = old.hash & (this.#buckets.length - 1)
    if (this.#buckets[at] === old) {
      this.#buckets[at] = entry
    } else {
      let e = this.#buckets[at] as E
      while (e.next !== old) e = e.next as E
      e.next = entry
    }
    old.next = null
  }

  /** Removes `entry` (found in this table). */
  delete(entry: E): void {
    const at = entry.hash & (this.#buckets.length - 1)
    if (this.#buckets[at] === entry) {
      this.#buckets[at] = entry.next as E | null
    } else {
      let e = this.#buckets[at] as E
      while (e.next !== entry) e = e.next as E
      e.next = entry.next
    }
    entry.next = null
    this.#size--
    if (!this.#sweeping) this.#maybeShrink()
  }

  clear(): void {
    this.#buckets = new Array<E | null>(INITIAL_BUCKETS).fill(null)
    this.#size = 0
    this.#cursor = 0
  }

  /**
   * Looks at the entries of up to `budget` buckets, resuming where the last call stopped, and
   * removes those for which `isDead` holds. Returns how many it removed.
   */
  sweep(budget: number, isDead: (entry: E) => boolean): number {
    let removed = 0
    const buckets = this.#buckets
    this.#sweeping = true
    try {
      for (let n = 0; n < Math.min(budget, buckets.length); n++) {
        const at = this.#cursor
        this.#cursor = (at + 1) & (buckets.length - 1)
        for (let e = buckets[at] as E | null; e !== null; ) {
          const next = e.next as E | null
          if (isDead(e)) {
            this.delete(e)
            removed++
          }
          e = next
        }
      }
    } finally {
      this.#sweeping = false
    }
    this.#maybeShrink()
    return removed
  }

  /**
   * Calls `visit` for the entries of the bucket `cursor` names and returns the next cursor, 0
   * when the walk is over; a walk starts at 0. `visit` must not change the table.
   *
   * The cursor is Redis' (dictScan): a bucket index whose bits are incremented from the top
   * down, so that the buckets are visited in bit-reversed order. Doubling the table splits
   * bucket b into b and b + size, shrinking merges them back; in reversed order the buckets a
   * walk has visited are exactly those before the cursor in the resized table too, so whatever
   * the table does between calls, an entry present all along is visited at least once (after a
   * shrink, possibly twice).
   */
  scan(cursor: number, visit: (entry: E) => void): number {
    const buckets = this.#buckets
    const mask = buckets.length - 1
    for (let e = buckets[cursor & mask] as E | null; e !== null; e = e.next as E | null) visit(e)
    // Set the bits above the mask so that the increment carries past them, then reverse back.
    return reverseBits((reverseBits((cursor | ~mask) >>> 0) + 1) >>> 0)
  }

  /** Calls `visit` for every entry, in bucket order. `visit` must not change the table. */
  forEach(visit: (entry: E) => void): void {
    for (const head of this.#buckets) for (let e = head; e !== null; e = e.next as E | null) visit(e)
  }

  /** An entry picked at random (a random non-empty bucket, then a random entry of its chain), or undefined if empty. */
  random(): E | undefined {
    if (this.#size === 0) return undefined
    const buckets = this.#buckets
    // The table is at least an eighth full (or has 16 buckets): a few draws find an entry.
    let e: E | null | undefined = null
    while (e === null || e === undefined) e = buckets[Math.floor(Math.random() * buckets.length)]
    let chain = 0
    for (let x: E | null = e; x !== null; x = x.next as E | null) chain++
    for (let k = Math.floor(Math.random() * chain); k > 0; k--) e = e.next as E
    return e
  }

  /** Doubles the buckets; entries keep their hash. */
  #grow(): void {
    this.#resize(this.#buckets.length * 2)
  }

  /** Halves the buckets while they are more than twice the entries, once less than 1 / SHRINK_FILL full. */
  #maybeShrink(): void {
    let n = this.#buckets.length
    if (n <= INITIAL_BUCKETS || this.#size * SHRINK_FILL >= n) return
    while (n > INITIAL_BUCKETS && this.#size * 2 < n) n /= 2
    this.#resize(n)
  }

  #resize(n: number): void {
    const old = this.#buckets
    const buckets = new Array<E | null>(n).fill(null)
    const mask = n - 1
    for (let e of old) {
      while (e !== null) {
        const next = e.next as E | null
        e.next = buckets[e.hash & mask] as E | null
        buckets[e.hash & mask] = e
        e = next
      }
    }
    this.#buckets = buckets
    this.#cursor &= mask
  }
}

/** `x` (32 bits) with its bit order reversed. */
function reverseBits(x: number): number {
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1)
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2)
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4)
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8)
  return ((x >>> 16) | (x << 16)) >>> 0
}

/** Spreads every input bit over the low bits the bucket index uses (murmur3's finalizer). */
function mix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** An entry of an `OrderedDict`: also linked in the order entries were added. */
export interface OrderedEntry extends DictEntry {
  /** The entry added just before this one, or null. */
  before: OrderedEntry | null
  /** The entry added just after this one, or null. */
  after: OrderedEntry | null
}

/**
 * A Dict that also remembers the order its entries were added in: a hash's fields, answered in
 * insertion order as Redis does for the small hashes it keeps as a listpack.
 */
export class OrderedDict<E extends OrderedEntry> {
  /** The entries by key (find, findBytes, scan, random); insert and delete through this class. */
  readonly table = new Dict<E>()
  #first: E | null = null
  #last: E | null = null

  get size(): number {
    return this.table.size
  }

  /** Adds `entry` last; its key must not be in the table. */
  insert(entry: E): void {
    entry.before = this.#last
    entry.after = null
    if (this.#last === null) this.#first = entry
    else this.#last.after = entry
    this.#last = entry
    this.table.insert(entry)
  }

  delete(entry: E): void {
    if (entry.before === null) this.#first = entry.after as E | null
    else entry.before.after = entry.after
    if (entry.after === null) this.#last = entry.before as E | null
    else entry.after.before = entry.before
    entry.before = entry.after = null
    this.table.delete(entry)
  }

  /** Calls `visit` for every entry, oldest first. `visit` must not change the table. */
  forEach(visit: (entry: E) => void): void {
    for (let e = this.#first; e !== null; e = e.after as E | null) visit(e)
  }
}
