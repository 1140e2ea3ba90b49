/** A double-ended queue on a ring buffer: O(1) push and pop at both ends (Redis lists). */
export class Deque<T> {
  #items: (T | undefined)[] = new Array(8)
  /** Index of the first element. */
  #head = 0
  #length = 0

  get length(): number {
    return this.#length
  }

  pushBack(value: T): void {
    if (this.#length === this.#items.length) this.#grow()
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = value
    this.#length++
  }

  pushFront(value: T): void {
    if (this.#length === this.#items.length) this.#grow()
    this.#head = (this.#head - 1) & (this.#items.length - 1)
    this.#items[this.#head] = value
    this.#length++
  }

  popFront(): T | undefined {
    if (this.#length === 0) return undefined
    const value = this.#items[this.#head]
    this.#items[this.#head] = undefined
    this.#head = (this.#head + 1) & (this.#items.length - 1)
    this.#length--
    return value
  }

  popBack(): T | undefined {
    if (this.#length === 0) return undefined
    const at = (this.#head + this.#length - 1) & (this.#items.length - 1)
    const value = this.#items[at]
    this.#items[at] = undefined
    this.#length--
    return value
  }

  /** The element at `index` from the front (0-based), or undefined. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined
    return this.#items[(this.#head + index) & (this.#items.length - 1)]
  }

  /** Replaces the element at `index` (0 <= index < length). */
  set(index: number, value: T): void {
    this.#items[(this.#head + index) & (this.#items.length - 1)] = value
  }

  /** Elements `from..to` inclusive, clamped. */
  slice(from: number, to: number): T[] {
    const out: T[] = []
    for (let i = Math.max(0, from); i <= Math.min(to, this.#length - 1); i++) out.push(this.at(i) as T)
    return out
  }

  /** Capacity stays a power of two so that `& (size - 1)` wraps indexes. */
  #grow(): void {
    const items = new Array<T | undefined>(this.#items.length * 2)
    for (let i = 0; i < this.#length; i++) items[i] = this.at(i)
    this.#items = items
    this.#head = 0
  }
}
