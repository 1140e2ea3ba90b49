/**
 * One database of the RESP server: keys with expiry, holding strings, lists, hashes or sets.
 * The commands on it live in ./commands/ (one file per data type) and are listed in
 * `DATA_COMMANDS`, re-exported here.
 *
 * Keys are latin1 strings (one char per byte), looked up by their bytes in the input (`Dict`):
 * only a key stored for the first time is made into a string. String values are kept as bytes,
 * each in its own Uint8Array, so that a SET over a value of the same length copies the new bytes
 * in place and allocates nothing (making a string of them cost more than the rest of a SET).
 * List elements, hash fields and values, set members are latin1 strings. Any byte sequence is a
 * key, a value or an element.
 */
import type { Args } from './args.js'
import type { CommandContext } from './command.js'
import { unknownCommand } from './commands/errors.js'
import { findCommand } from './commands/table.js'
import type { Deque } from './deque.js'
import { Dict, type DictEntry, type OrderedDict, type OrderedEntry } from './dict.js'
import { type Reply, writeError } from './reply.js'

export { DATA_COMMANDS, findCommand } from './commands/table.js'

/** Expiry: no expiry set. */
export const NEVER = Number.POSITIVE_INFINITY

interface EntryBase extends DictEntry {
  /** Expiry time on the keyspace's clock, ms, or NEVER. Change it through `Keyspace.setExpiry` (it counts them). */
  expireAt: number
}
export interface StringEntry extends EntryBase {
  kind: 'string'
  /** The value's bytes, exactly as long as the value; overwritten in place by a value of the same length. */
  value: Uint8Array
  /**
   * How Redis would have encoded the value (OBJECT ENCODING): 'value' by the value itself (int,
   * embstr or raw, as SET does), 'string' never int (INCRBYFLOAT's result), 'raw' once changed
   * in place (APPEND, SETRANGE).
   */
  encoding: StringEncoding
}
export interface ListEntry extends EntryBase {
  kind: 'list'
  /** Never empty while stored: the command that empties it deletes the key. */
  value: Deque<string>
}
export type StringEncoding = 'value' | 'string' | 'raw'
/** A field of a hash, its value a latin1 string. */
export interface HashField extends OrderedEntry {
  value: string
}
export interface HashEntry extends EntryBase {
  kind: 'hash'
  /** Fields in insertion order (as Redis' listpack keeps them). Never empty while stored. */
  value: OrderedDict<HashField>
  /** Still small enough for Redis' listpack encoding (128 fields of 64 bytes); once false, stays false, as in Redis. */
  isListpack: boolean
}
/** A member of a set: only its key. */
export type SetMember = DictEntry
export interface SetEntry extends EntryBase {
  kind: 'set'
  /** Never empty while stored. */
  value: Dict<SetMember>
  /** Only integers so far, at most 512 (Redis' intset encoding: members answered in numeric order); once false, stays false. */
  isIntset: boolean
}
/** What a key holds. */
export type StoredEntry = StringEntry | ListEntry | HashEntry | SetEntry
type Entry = StoredEntry

export class Keyspace {
  readonly #data = new Dict<Entry>()
  /** Keys with an expiry (INFO's `expires`). */
  #expires = 0
  /** Clock for expiry, ms (injectable for tests). */
  readonly now: () => number
  /**
   * Called after every change of a key (value, expiry, deletion, either key of a RENAME) with
   * the key as a latin1 string, and with null when the whole database is cleared; the session
   * layer uses it for WATCH. Null costs nothing. Expiry-driven deletion calls it too (also from
   * `sweep`, in the middle of a walk of the table: the callback must not change this keyspace).
   */
  onTouch: ((key: string | null) => void) | null = null
  /** The context `execute` runs commands in when given none: this database, RESP2 (made once, not per command). */
  readonly #context: CommandContext

  constructor(now: () => number = Date.now) {
    this.now = now
    this.#context = { db: this, resp: 2 }
  }

  /** Number of keys, expired ones not yet removed included (as Redis' DBSIZE). */
  get size(): number {
    return this.#data.size
  }

  /** Number of keys with an expiry. */
  get expires(): number {
    return this.#expires
  }

  /**
   * Runs the data command in `args` (argument 0 is its name, in any case) on this database and
   * writes its reply: for tests and embedding. Connections go through dispatch.ts, which adds
   * the server commands (sessions, transactions, pub/sub).
   */
  execute(args: Args, out: Reply, ctx: CommandContext = this.#context): void {
    const command = findCommand(args)
    if (command === undefined) {
      writeError(out, unknownCommand(args))
      return
    }
    if (command.arity > 0 ? args.count !== command.arity : args.count < -command.arity) {
      writeError(out, `ERR wrong number of arguments for '${command.name.toLowerCase()}' command`)
      return
    }
    command.run(ctx, args, out)
  }

  /** The live entry whose key is argument `i` of `a`, dropping it if it expired. */
  find(a: Args, i: number): Entry | undefined {
    const entry = this.#data.findBytes(a.data, a.starts[i] as number, a.ends[i] as number)
    // Keys without expiry (most) cost no clock read.
    if (entry !== undefined && entry.expireAt !== NEVER && entry.expireAt <= this.now()) {
      this.#remove(entry)
      return undefined
    }
    return entry
  }

  /** The live entry whose key is `key` (latin1), dropping it if it expired. */
  findKey(key: string): Entry | undefined {
    const entry = this.#data.find(key)
    if (entry !== undefined && entry.expireAt !== NEVER && entry.expireAt <= this.now()) {
      this.#remove(entry)
      return undefined
    }
    return entry
  }

  /** Stores argument `j` as the string value of the key in argument `i`, replacing whatever was there. */
  setString(a: Args, i: number, j: number, expireAt: number): void {
    a.copy(j, this.#storeString(a, i, a.length(j), expireAt))
  }

  /** Stores `text` (ASCII, such as a number) as the string value of the key in argument `i`. */
  setText(a: Args, i: number, text: string, expireAt: number): void {
    const value = this.#storeString(a, i, text.length, expireAt)
    for (let k = 0; k < text.length; k++) value[k] = text.charCodeAt(k)
  }

  /**
   * Stores `value` (kept, not copied) as the string at the key in argument `i`, replacing whatever
   * was there. `value` must be the only view of its ArrayBuffer (not a pooled Buffer): APPEND grows
   * a value into the room after it.
   */
  setBytes(a: Args, i: number, value: Uint8Array, expireAt: number, encoding: StringEncoding): void {
    const old = this.#lookup(a, i)
    this.#put(old, { key: old?.key ?? a.string(i), hash: 0, next: null, kind: 'string', value, expireAt, encoding })
  }

  /** Stores `value` (kept, not copied) as the list at the key in argument `i`, replacing whatever was there, no expiry. */
  setList(a: Args, i: number, value: Deque<string>): void {
    const old = this.#lookup(a, i)
    this.#put(old, { key: old?.key ?? a.string(i), hash: 0, next: null, kind: 'list', value, expireAt: NEVER })
  }

  /** Stores `value` as the hash at the key in argument `i`, replacing whatever was there, no expiry. */
  setHash(a: Args, i: number, value: OrderedDict<HashField>, isListpack: boolean): HashEntry {
    const old = this.#lookup(a, i)
    const entry: HashEntry = { key: old?.key ?? a.string(i), hash: 0, next: null, kind: 'hash', value, expireAt: NEVER, isListpack }
    this.#put(old, entry)
    return entry
  }

  /** Stores `value` as the set at the key in argument `i`, replacing whatever was there, no expiry. */
  setSet(a: Args, i: number, value: Dict<SetMember>, isIntset: boolean): SetEntry {
    const old = this.#lookup(a, i)
    const entry: SetEntry = { key: old?.key ?? a.string(i), hash: 0, next: null, kind: 'set', value, expireAt: NEVER, isIntset }
    this.#put(old, entry)
    return entry
  }

  /** Sets the expiry of `entry` (a stored entry), ms on `now()`'s clock or NEVER. */
  setExpiry(entry: Entry, expireAt: number): void {
    this.#countExpiry(entry.expireAt, expireAt)
    entry.expireAt = expireAt
    this.touched(entry.key)
  }

  /** Says that the value of the key `key` changed in place (a list pushed, a hash field set…). */
  touched(key: string): void {
    if (this.onTouch !== null) this.onTouch(key)
  }

  /** Removes the live key in argument `i`; false if there was none. */
  delete(a: Args, i: number): boolean {
    const entry = this.find(a, i)
    if (entry === undefined) return false
    this.#remove(entry)
    return true
  }

  /** Removes `entry`, a stored entry (found by `find`). */
  deleteEntry(entry: Entry): void {
    this.#remove(entry)
  }

  /** Removes and returns the live entry of the key in argument `i` (MOVE, RENAME); the entry keeps its expiry. */
  take(a: Args, i: number): StoredEntry | undefined {
    const entry = this.find(a, i)
    if (entry !== undefined) this.#remove(entry)
    return entry
  }

  /** Inserts `entry` (taken from another keyspace) unless its key exists here; false then. */
  adopt(entry: StoredEntry): boolean {
    if (this.findKey(entry.key) !== undefined) return false
    entry.next = null
    this.#data.insert(entry)
    if (entry.expireAt !== NEVER) this.#expires++
    this.touched(entry.key)
    return true
  }

  /** Stores `entry` under the key in argument `i` (RENAME's destination), replacing whatever was there. */
  adoptAs(a: Args, i: number, entry: StoredEntry): void {
    const old = this.#lookup(a, i)
    this.#put(old, { ...entry, key: old?.key ?? a.string(i), hash: 0, next: null })
  }

  /** A live key picked at random, or undefined when none is found (RANDOMKEY). */
  randomKey(): Entry | undefined {
    // Like Redis, give up after a bounded number of draws that only find expired keys.
    for (let tries = 0; tries < 100 && this.#data.size > 0; tries++) {
      const entry = this.#data.random() as Entry
      if (entry.expireAt === NEVER || entry.expireAt > this.now()) return entry
      this.#remove(entry)
    }
    return undefined
  }

  /** One step of SCAN over the table (see `Dict.scan`): adds the entries of one bucket to `found`. */
  scanStep(cursor: number, found: Entry[]): number {
    return this.#data.scan(cursor, (e) => found.push(e))
  }

  /** Calls `visit` for every key, expired ones included; `visit` must not change the keyspace. */
  forEach(visit: (entry: Entry) => void): void {
    this.#data.forEach(visit)
  }

  /** Is `entry` past its expiry (not yet removed)? */
  isExpired(entry: Entry): boolean {
    return entry.expireAt !== NEVER && entry.expireAt <= this.now()
  }

  clear(): void {
    this.#data.clear()
    this.#expires = 0
    if (this.onTouch !== null) this.onTouch(null)
  }

  /** Removes expired keys from up to `budget` buckets; called periodically so unread expired keys do not pile up. */
  sweep(budget = 100): number {
    const now = this.now()
    return this.#data.sweep(budget, (entry) => {
      if (entry.expireAt > now) return false
      this.#expires--
      this.touched(entry.key)
      return true
    })
  }

  /** Makes the key in argument `i` a string of `n` bytes, replacing whatever was there; returns the bytes, for the caller to fill. */
  #storeString(a: Args, i: number, n: number, expireAt: number): Uint8Array {
    const old = this.#lookup(a, i)
    if (old?.kind === 'string') {
      // Overwriting a string (what SET mostly does) reuses the entry, and the bytes too when the length is the same.
      if (old.value.length !== n) old.value = new Uint8Array(n)
      if (old.expireAt !== expireAt) this.#countExpiry(old.expireAt, expireAt)
      old.expireAt = expireAt
      old.encoding = 'value'
      if (this.onTouch !== null) this.onTouch(old.key)
      return old.value
    }
    const value = new Uint8Array(n)
    this.#put(old, { key: old?.key ?? a.string(i), hash: 0, next: null, kind: 'string', value, expireAt, encoding: 'value' })
    return value
  }

  /** The entry of the key in argument `i`, expired or not (it is about to be replaced). */
  #lookup(a: Args, i: number): Entry | undefined {
    return this.#data.findBytes(a.data, a.starts[i] as number, a.ends[i] as number)
  }

  /** Puts `entry` in place of `old` (same key), or adds it. */
  #put(old: Entry | undefined, entry: Entry): void {
    if (old === undefined) {
      this.#data.insert(entry)
      this.#countExpiry(NEVER, entry.expireAt)
    } else {
      this.#data.replace(old, entry)
      this.#countExpiry(old.expireAt, entry.expireAt)
    }
    if (this.onTouch !== null) this.onTouch(entry.key)
  }

  #remove(entry: Entry): void {
    this.#data.delete(entry)
    if (entry.expireAt !== NEVER) this.#expires--
    if (this.onTouch !== null) this.onTouch(entry.key)
  }

  /** Keeps `#expires` right when an expiry changes from `before` to `after`. */
  #countExpiry(before: number, after: number): void {
    if (before === NEVER) {
      if (after !== NEVER) this.#expires++
    } else if (after === NEVER) {
      this.#expires--
    }
  }
}
