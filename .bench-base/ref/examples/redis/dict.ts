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

export class Dict<E extends DictEntry> {
  /** Bucket heads; the length is a power of two. */
  #buckets: (E | null)[] = new Array<E | null>(INITIAL_BUCKETS).fill(null)
  #size = 0
  /** Bucket where the next `sweep` starts. */
  #cursor = 0
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
    return removed
  }

  /** Doubles the buckets; entries keep their hash. */
  #grow(): void {
    const old = this.#buckets
    const buckets = new Array<E | null>(old.length * 2).fill(null)
    const mask = buckets.length - 1
    for (let e of old) {
      while (e !== null && e !== undefined) {
        const next = e.next as E | null
        e.next = buckets[e.hash & mask] as E | null
        buckets[e.hash & mask] = e
        e = next
      }
    }
    this.#buckets = buckets
    this.#cursor = 0
  }
}

/** Spreads every input bit over the low bits the bucket index uses (murmur3's finalizer). */
function mix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}
