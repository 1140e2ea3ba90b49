/** List commands, on a Deque of latin1 strings; a list emptied by a command is deleted, as in Redis. */
import type { Args } from '../args.js'
import type { Command } from '../command.js'
import { Deque } from '../deque.js'
import type { Keyspace, ListEntry } from '../keyspace.js'
import { OK, type Reply, writeArrayHeader, writeBulk, writeError, writeInteger, writeNull } from '../reply.js'
import { MUST_BE_POSITIVE, NO_SUCH_KEY, NOT_INTEGER, SYNTAX, WRONGTYPE } from './errors.js'

/** The live list at the key in argument 1: the entry, undefined if none, null once WRONGTYPE is answered. */
function listAt(ks: Keyspace, a: Args, out: Reply): ListEntry | undefined | null {
  const entry = ks.find(a, 1)
  if (entry === undefined || entry.kind === 'list') return entry
  writeError(out, WRONGTYPE)
  return null
}

/** LPUSH, RPUSH, and with `onlyExisting` LPUSHX, RPUSHX. */
function push(ks: Keyspace, a: Args, out: Reply, left: boolean, onlyExisting: boolean): void {
  const entry = listAt(ks, a, out)
  if (entry === null) return
  if (entry === undefined && onlyExisting) return void writeInteger(out, 0)
  const list = entry?.value ?? new Deque<string>()
  for (let i = 2; i < a.count; i++) {
    if (left) list.pushFront(a.string(i))
    else list.pushBack(a.string(i))
  }
  if (entry === undefined) ks.setList(a, 1, list)
  else ks.touched(entry.key)
  writeInteger(out, list.length)
}

function pop(ks: Keyspace, a: Args, out: Reply, resp: 2 | 3, left: boolean): void {
  const hasCount = a.count === 3
  const count = hasCount ? a.integer(2) : 1
  if (count === null || count < 0) return void writeError(out, MUST_BE_POSITIVE)
  const entry = listAt(ks, a, out)
  if (entry === null) return
  if (entry === undefined) return void writeNull(out, resp, hasCount)
  const list = entry.value
  const n = Math.min(count, list.length)
  if (hasCount) writeArrayHeader(out, n)
  for (let i = 0; i < n; i++) writeBulk(out, (left ? list.popFront() : list.popBack()) as string)
  if (n > 0) afterChange(ks, entry)
}

/** Deletes an emptied list, or says it changed. */
function afterChange(ks: Keyspace, entry: ListEntry): void {
  if (entry.value.length === 0) ks.deleteEntry(entry)
  else ks.touched(entry.key)
}

function range(ks: Keyspace, a: Args, out: Reply): void {
  const start = a.integer(2)
  const stop = a.integer(3)
  if (start === null || stop === null) return void writeError(out, NOT_INTEGER)
  const entry = listAt(ks, a, out)
  if (entry === null) return
  const n = entry?.value.length ?? 0
  const from = Math.max(0, start < 0 ? n + start : start)
  const to = Math.min(n - 1, stop < 0 ? n + stop : stop)
  if (entry === undefined || from > to) return void writeArrayHeader(out, 0)
  writeArrayHeader(out, to - from + 1)
  for (let i = from; i <= to; i++) writeBulk(out, entry.value.at(i) as string)
}

/** `index` counted from the end when negative; -1 when outside a list of `n`. */
function position(index: number, n: number): number {
  const at = index < 0 ? n + index : index
  return at >= 0 && at < n ? at : -1
}

function lindex(ks: Keyspace, a: Args, out: Reply, resp: 2 | 3): void {
  const entry = listAt(ks, a, out)
  if (entry === null) return
  if (entry === undefined) return void writeNull(out, resp)
  const index = a.integer(2)
  if (index === null) return void writeError(out, NOT_INTEGER)
  const at = position(index, entry.value.length)
  if (at < 0) writeNull(out, resp)
  else writeBulk(out, entry.value.at(at) as string)
}

function lset(ks: Keyspace, a: Args, out: Reply): void {
  const entry = listAt(ks, a, out)
  if (entry === null) return
  if (entry === undefined) return void writeError(out, NO_SUCH_KEY)
  const index = a.integer(2)
  if (index === null) return void writeError(out, NOT_INTEGER)
  const at = position(index, entry.value.length)
  if (at < 0) return void writeError(out, 'ERR index out of range')
  entry.value.set(at, a.string(3))
  ks.touched(entry.key)
  out.write(OK)
}

/** LREM key count element: removes up to |count| matches from the head (count > 0), the tail (< 0), or all (0). */
function lrem(ks: Keyspace, a: Args, out: Reply): void {
  const count = a.integer(2)
  if (count === null) return void writeError(out, NOT_INTEGER)
  const entry = listAt(ks, a, out)
  if (entry === null) return
  if (entry === undefined) return void writeInteger(out, 0)
  const element = a.string(3)
  const items = entry.value.slice(0, entry.value.length - 1)
  if (count < 0) items.reverse()
  const limit = count === 0 ? Number.POSITIVE_INFINITY : Math.abs(count)
  let removed = 0
  const kept = items.filter((item) => {
    if (removed < limit && item === element) {
      removed++
      return false
    }
    return true
  })
  if (removed > 0) {
    if (count < 0) kept.reverse()
    entry.value = dequeOf(kept)
    afterChange(ks, entry)
  }
  writeInteger(out, removed)
}

function ltrim(ks: Keyspace, a: Args, out: Reply): void {
  let start = a.integer(2)
  let end = a.integer(3)
  if (start === null || end === null) return void writeError(out, NOT_INTEGER)
  const entry = listAt(ks, a, out)
  if (entry === null) return
  if (entry === undefined) return void out.write(OK)
  const n = entry.value.length
  if (start < 0) start = n + start
  if (end < 0) end = n + end
  if (start < 0) start = 0
  if (start > end || start >= n) entry.value = new Deque<string>()
  else if (start > 0 || end < n - 1) entry.value = dequeOf(entry.value.slice(start, Math.min(end, n - 1)))
  afterChange(ks, entry)
  out.write(OK)
}

/** LMOVE and RPOPLPUSH: pops an element off `source` (argument 1) and pushes it onto `destination` (argument 2), maybe the same list. */
function lmove(ks: Keyspace, a: Args, out: Reply, resp: 2 | 3, fromLeft: boolean, toLeft: boolean): void {
  const source = listAt(ks, a, out)
  if (source === null) return
  if (source === undefined) return void writeNull(out, resp)
  const destination = ks.find(a, 2)
  if (destination !== undefined && destination.kind !== 'list') return void writeError(out, WRONGTYPE)
  const value = (fromLeft ? source.value.popFront() : source.value.popBack()) as string
  const target = destination?.value ?? new Deque<string>()
  if (toLeft) target.pushFront(value)
  else target.pushBack(value)
  if (destination === undefined) ks.setList(a, 2, target)
  else ks.touched(destination.key)
  if (source !== destination) afterChange(ks, source)
  writeBulk(out, value)
}

/** LMOVE's LEFT or RIGHT in argument `i`: true for LEFT, null if neither. */
function side(a: Args, i: number): boolean | null {
  return a.is(i, 'LEFT') ? true : a.is(i, 'RIGHT') ? false : null
}

function linsert(ks: Keyspace, a: Args, out: Reply): void {
  const after = a.is(2, 'AFTER')
  if (!after && !a.is(2, 'BEFORE')) return void writeError(out, SYNTAX)
  const entry = listAt(ks, a, out)
  if (entry === null) return
  if (entry === undefined) return void writeInteger(out, 0)
  const pivot = a.string(3)
  const items = entry.value.slice(0, entry.value.length - 1)
  const at = items.indexOf(pivot)
  if (at < 0) return void writeInteger(out, -1)
  items.splice(after ? at + 1 : at, 0, a.string(4))
  entry.value = dequeOf(items)
  ks.touched(entry.key)
  writeInteger(out, items.length)
}

/** LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
function lpos(ks: Keyspace, a: Args, out: Reply, resp: 2 | 3): void {
  let rank = 1
  let count = -1 // -1: no COUNT, answer one index or null
  let maxlen = 0
  for (let i = 3; i < a.count; i++) {
    const more = i + 1 < a.count
    if (a.is(i, 'RANK') && more) {
      const r = a.integer(++i)
      if (r === null) return void writeError(out, NOT_INTEGER)
      if (r === 0) {
        return void writeError(
          out,
          "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
        )
      }
      rank = r
    } else if ((a.is(i, 'COUNT') || a.is(i, 'MAXLEN')) && more) {
      const isCount = a.is(i, 'COUNT')
      const n = a.integer(++i)
      if (n === null || n < 0) return void writeError(out, `ERR ${isCount ? 'COUNT' : 'MAXLEN'} can't be negative`)
      if (isCount) count = n
      else maxlen = n
    } else {
      return void writeError(out, SYNTAX)
    }
  }
  const entry = ks.find(a, 1)
  if (entry === undefined) return void (count >= 0 ? writeArrayHeader(out, 0) : writeNull(out, resp))
  if (entry.kind !== 'list') return void writeError(out, WRONGTYPE)
  const list = entry.value
  const element = a.string(2)
  const found: number[] = []
  let matches = 0
  // Walk from the head for a positive rank, from the tail for a negative one; indexes stay LINDEX's.
  for (let step = 0; step < list.length && (maxlen === 0 || step < maxlen); step++) {
    const index = rank > 0 ? step : list.length - 1 - step
    if (list.at(index) !== element) continue
    matches++
    if (matches < Math.abs(rank)) continue
    found.push(index)
    if (count < 0 || (count > 0 && found.length >= count)) break
  }
  if (count < 0) {
    if (found.length === 0) writeNull(out, resp)
    else writeInteger(out, found[0] as number)
    return
  }
  writeArrayHeader(out, found.length)
  for (const index of found) writeInteger(out, index)
}

function dequeOf(items: readonly string[]): Deque<string> {
  const d = new Deque<string>()
  for (const item of items) d.pushBack(item)
  return d
}

export const LIST_COMMANDS: readonly Command[] = [
  { name: 'LPUSH', arity: -3, run: ({ db }, a, out) => push(db, a, out, true, false) },
  { name: 'RPUSH', arity: -3, run: ({ db }, a, out) => push(db, a, out, false, false) },
  { name: 'LPUSHX', arity: -3, run: ({ db }, a, out) => push(db, a, out, true, true) },
  { name: 'RPUSHX', arity: -3, run: ({ db }, a, out) => push(db, a, out, false, true) },
  {
    name: 'LPOP',
    arity: -2,
    run: ({ db, resp }, a, out) => (a.count > 3 ? writeError(out, "ERR wrong number of arguments for 'lpop' command") : pop(db, a, out, resp, true)),
  },
  {
    name: 'RPOP',
    arity: -2,
    run: ({ db, resp }, a, out) => (a.count > 3 ? writeError(out, "ERR wrong number of arguments for 'rpop' command") : pop(db, a, out, resp, false)),
  },
  {
    name: 'LLEN',
    arity: 2,
    run: ({ db }, a, out) => {
      const entry = listAt(db, a, out)
      if (entry !== null) writeInteger(out, entry?.value.length ?? 0)
    },
  },
  { name: 'LRANGE', arity: 4, run: ({ db }, a, out) => range(db, a, out) },
  { name: 'LINDEX', arity: 3, run: ({ db, resp }, a, out) => lindex(db, a, out, resp) },
  { name: 'LSET', arity: 4, run: ({ db }, a, out) => lset(db, a, out) },
  { name: 'LREM', arity: 4, run: ({ db }, a, out) => lrem(db, a, out) },
  { name: 'LTRIM', arity: 4, run: ({ db }, a, out) => ltrim(db, a, out) },
  { name: 'RPOPLPUSH', arity: 3, run: ({ db, resp }, a, out) => lmove(db, a, out, resp, false, true) },
  {
    name: 'LMOVE',
    arity: 5,
    run: ({ db, resp }, a, out) => {
      const from = side(a, 3)
      const to = side(a, 4)
      if (from === null || to === null) return void writeError(out, SYNTAX)
      lmove(db, a, out, resp, from, to)
    },
  },
  { name: 'LINSERT', arity: 5, run: ({ db }, a, out) => linsert(db, a, out) },
  { name: 'LPOS', arity: -3, run: ({ db, resp }, a, out) => lpos(db, a, out, resp) },
]
