/**
 * SHIM (issue 15, until the data helper's Keyspace lands): the three Keyspace members the server
 * commands rely on, reached through one typed view so that the rest of the code is written
 * against their final names.
 *
 * - `onTouch: ((key: string | null) => void) | null` — called by the Keyspace after every
 *   modification of a key (the key as a latin1 string), with null from `clear()`. The server sets
 *   it only while some connection WATCHes a key of that database, so that the data path builds no
 *   key string otherwise.
 * - `take(a, i)` — removes the live entry whose key is argument `i` and returns it (undefined if none).
 * - `adopt(entry)` — stores an entry taken from another Keyspace; false if its key exists there.
 *
 * Until `take`/`adopt` exist, `moveKey` falls back to copying strings and lists through the
 * public API (find, setString, createList, delete). Once merged, `KeyspaceHooks` is `Keyspace`
 * and this file shrinks to nothing.
 */
import { Args } from './args.js'
import type { Keyspace } from './keyspace.js'

/** What `take` returns and `adopt` takes: opaque here. */
export type TakenEntry = object

export interface KeyspaceHooks {
  onTouch: ((key: string | null) => void) | null
  take?(a: Args, i: number): TakenEntry | undefined
  adopt?(entry: TakenEntry): boolean
}

/** The hooks of `db` (the same object, typed with the members above). */
export function hooks(db: Keyspace): KeyspaceHooks {
  return db as unknown as KeyspaceHooks
}

/** Args holding one key, for the public Keyspace API that looks keys up by argument. */
export function keyArgs(key: string): Args {
  const args = new Args()
  args.data = Buffer.from(key, 'latin1')
  args.push(0, args.data.length)
  return args
}

/** Is `key` a live key of `db`? */
export function hasKey(db: Keyspace, key: string): boolean {
  return db.find(keyArgs(key), 0) !== undefined
}

/**
 * Moves the key in argument `i` of `a` from `src` to `dst`, as MOVE does: 1 if moved, 0 if `src`
 * has no such key or `dst` has it already.
 */
export function moveKey(src: Keyspace, dst: Keyspace, a: Args, i: number): 0 | 1 {
  const from = hooks(src)
  const to = hooks(dst)
  if (src.find(a, i) === undefined) return 0
  const key = a.string(i)
  if (hasKey(dst, key)) return 0
  if (from.take !== undefined && to.adopt !== undefined) {
    const entry = from.take(a, i)
    return entry !== undefined && to.adopt(entry) ? 1 : 0
  }
  // Fallback: copy through the public API (strings and lists, the kinds today's Keyspace has).
  const entry = src.find(a, i)
  if (entry === undefined) return 0
  const target = keyArgs(key)
  if (entry.kind === 'string') {
    const bytes = Buffer.concat([target.data, entry.value])
    target.data = bytes
    target.push(key.length, bytes.length)
    dst.setString(target, 0, 1, entry.expireAt)
  } else if (entry.kind === 'list') {
    const list = dst.createList(target, 0)
    for (const item of entry.value.slice(0, entry.value.length - 1)) list.pushBack(item)
    const moved = dst.find(target, 0)
    if (moved !== undefined) moved.expireAt = entry.expireAt
  } else {
    return 0
  }
  src.delete(a, i)
  return 1
}
