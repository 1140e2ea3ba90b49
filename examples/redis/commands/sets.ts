/**
 * Set commands. Members are the keys of a Dict. A set of integers only (at most 512) is what
 * Redis keeps as an intset, which it answers in numeric order: so do we, so that SMEMBERS, SINTER,
 * SUNION, SDIFF of integer sets answer exactly as Redis does; other sets come in table order
 * (Redis' is its own table's: any order is correct).
 */
import { type Args, INT64_MIN, parseInteger } from '../args.js'
import type { Command, CommandContext } from '../command.js'
import { Dict, type DictEntry } from '../dict.js'
import type { Keyspace, SetEntry, SetMember } from '../keyspace.js'
import { type Reply, writeArrayHeader, writeBulk, writeError, writeInteger, writeNull, writeSetHeader } from '../reply.js'
import { MUST_BE_POSITIVE, NOT_INTEGER, SYNTAX, WRONGTYPE } from './errors.js'
import { sscan } from './scan.js'

/** Redis' set-max-intset-entries. */
const INTSET_ENTRIES = 512
/** Most members SRANDMEMBER with a negative count (repetitions allowed) answers. */
const MAX_RANDOM_REPLY = 1 << 24

/** A set under construction or stored: its members and whether Redis would still hold it as an intset. */
interface Members {
  table: Dict<SetMember>
  isIntset: boolean
}

function isIntegerMember(member: string): boolean {
  return member.length <= 20 && parseInteger(Buffer.from(member, 'latin1'), 0, member.length) !== null
}

/** Adds `member`; true if it was not there. */
function addMember(set: Members, member: string): boolean {
  if (set.table.find(member) !== undefined) return false
  set.table.insert({ key: member, hash: 0, next: null })
  if (set.isIntset && (set.table.size > INTSET_ENTRIES || !isIntegerMember(member))) set.isIntset = false
  return true
}

/** The members of `table`, in numeric order when it is an intset. */
export function setMembers(table: Dict<DictEntry>, isIntset: boolean): string[] {
  const members: string[] = []
  table.forEach((m) => void members.push(m.key))
  if (isIntset) members.sort((x, y) => compareIntegers(x, y))
  return members
}

function compareIntegers(x: string, y: string): number {
  const a = BigInt(x)
  const b = BigInt(y)
  return a < b ? -1 : a > b ? 1 : 0
}

/** The live set at the key in argument `i`: the entry, undefined if none, null once WRONGTYPE is answered. */
function setAt(ks: Keyspace, a: Args, i: number, out: Reply): SetEntry | undefined | null {
  const entry = ks.find(a, i)
  if (entry === undefined || entry.kind === 'set') return entry
  writeError(out, WRONGTYPE)
  return null
}

function member(entry: SetEntry, a: Args, i: number): SetMember | undefined {
  return entry.value.findBytes(a.data, a.starts[i] as number, a.ends[i] as number)
}

/** Deletes an emptied set, or says it changed. */
function afterChange(ks: Keyspace, entry: SetEntry): void {
  if (entry.value.size === 0) ks.deleteEntry(entry)
  else ks.touched(entry.key)
}

function sadd(ks: Keyspace, a: Args, out: Reply): void {
  const existing = setAt(ks, a, 1, out)
  if (existing === null) return
  // A new set starts as an intset if its first member is an integer (Redis' setTypeCreate).
  const entry = existing ?? ks.setSet(a, 1, new Dict<SetMember>(), isIntegerMember(a.string(2)))
  const set: Members = { table: entry.value, isIntset: entry.isIntset }
  let added = 0
  for (let i = 2; i < a.count; i++) if (member(entry, a, i) === undefined && addMember(set, a.string(i))) added++
  entry.isIntset = set.isIntset
  if (existing !== undefined && added > 0) ks.touched(entry.key)
  writeInteger(out, added)
}

function srem(ks: Keyspace, a: Args, out: Reply): void {
  const entry = setAt(ks, a, 1, out)
  if (entry === null) return
  let removed = 0
  for (let i = 2; i < a.count && entry !== undefined; i++) {
    const m = member(entry, a, i)
    if (m === undefined) continue
    entry.value.delete(m)
    removed++
  }
  if (entry !== undefined && removed > 0) afterChange(ks, entry)
  writeInteger(out, removed)
}

/** Writes `members` as a set reply (RESP3 `~`) or an array. */
function writeMembers(out: Reply, resp: 2 | 3, members: readonly string[], asSet: boolean): void {
  if (asSet) writeSetHeader(out, resp, members.length)
  else writeArrayHeader(out, members.length)
  for (const m of members) writeBulk(out, m)
}

/** The sets at arguments `from`.. (undefined for a missing key); null once WRONGTYPE is answered. */
function setsAt(ks: Keyspace, a: Args, from: number, out: Reply): (SetEntry | undefined)[] | null {
  const sets: (SetEntry | undefined)[] = []
  for (let i = from; i < a.count; i++) {
    const entry = setAt(ks, a, i, out)
    if (entry === null) return null
    sets.push(entry)
  }
  return sets
}

type Operation = 'inter' | 'union' | 'diff'

/** SINTER, SUNION, SDIFF of the sets at arguments `from`..; null once WRONGTYPE is answered. */
function combine(ks: Keyspace, a: Args, from: number, op: Operation, out: Reply): Members | null {
  const sets = setsAt(ks, a, from, out)
  if (sets === null) return null
  const result: Members = { table: new Dict<SetMember>(), isIntset: true }
  if (op === 'inter') {
    if (sets.some((s) => s === undefined)) return result
    const present = sets as SetEntry[]
    // Walk the smallest set (in its own order, as Redis does), keep what all others hold.
    present.sort((x, y) => x.value.size - y.value.size)
    const [smallest, ...others] = present
    if (smallest === undefined) return result
    for (const m of setMembers(smallest.value, smallest.isIntset)) {
      if (others.every((s) => s.value.find(m) !== undefined)) addMember(result, m)
    }
  } else if (op === 'union') {
    for (const s of sets) if (s !== undefined) s.value.forEach((m) => void addMember(result, m.key))
  } else {
    const [first, ...others] = sets
    first?.value.forEach((m) => {
      if (others.every((s) => s === undefined || s.value.find(m.key) === undefined)) addMember(result, m.key)
    })
  }
  return result
}

function combineReply({ db: ks, resp }: CommandContext, a: Args, out: Reply, op: Operation): void {
  const result = combine(ks, a, 1, op, out)
  if (result !== null) writeMembers(out, resp, setMembers(result.table, result.isIntset), true)
}

/** SINTERSTORE, SUNIONSTORE, SDIFFSTORE destination key [key ...] */
function combineStore({ db: ks }: CommandContext, a: Args, out: Reply, op: Operation): void {
  const result = combine(ks, a, 2, op, out)
  if (result === null) return
  if (result.table.size === 0) ks.delete(a, 1)
  else ks.setSet(a, 1, result.table, result.isIntset)
  writeInteger(out, result.table.size)
}

/** SINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the intersection, counting stopped at `limit` (0: none). */
function sintercard({ db: ks }: CommandContext, a: Args, out: Reply): void {
  const keys = a.integer(1)
  if (keys === null || keys < 1) return void writeError(out, 'ERR numkeys should be greater than 0')
  if (keys > a.count - 2) return void writeError(out, "ERR Number of keys can't be greater than number of args")
  let limit = 0
  for (let i = 2 + keys; i < a.count; i++) {
    if (!a.is(i, 'LIMIT') || i + 1 >= a.count) return void writeError(out, SYNTAX)
    const n = a.integer(++i)
    if (n === null || n < 0) return void writeError(out, "ERR LIMIT can't be negative")
    limit = n
  }
  const sets: SetEntry[] = []
  let empty = false
  for (let i = 2; i < 2 + keys; i++) {
    const entry = setAt(ks, a, i, out)
    if (entry === null) return
    if (entry === undefined) empty = true
    else sets.push(entry)
  }
  if (empty) return void writeInteger(out, 0)
  sets.sort((x, y) => x.value.size - y.value.size)
  const [smallest, ...others] = sets
  let n = 0
  smallest?.value.forEach((m) => {
    if ((limit === 0 || n < limit) && others.every((s) => s.value.find(m.key) !== undefined)) n++
  })
  writeInteger(out, n)
}

function spop({ db: ks, resp }: CommandContext, a: Args, out: Reply): void {
  if (a.count > 3) return void writeError(out, SYNTAX)
  const hasCount = a.count === 3
  const count = hasCount ? a.integer(2) : 1
  if (count === null || count < 0) return void writeError(out, MUST_BE_POSITIVE)
  const entry = setAt(ks, a, 1, out)
  if (entry === null) return
  if (entry === undefined) return void (hasCount ? writeSetHeader(out, resp, 0) : writeNull(out, resp))
  if (!hasCount) {
    const m = entry.value.random() as SetMember
    entry.value.delete(m)
    writeBulk(out, m.key)
    afterChange(ks, entry)
    return
  }
  const all = count >= entry.value.size
  let taken: string[]
  if (all) {
    taken = setMembers(entry.value, entry.isIntset) // all of it, in the set's order
    ks.deleteEntry(entry)
  } else {
    taken = []
    for (let i = 0; i < count; i++) {
      const m = entry.value.random() as SetMember
      entry.value.delete(m)
      taken.push(m.key)
    }
    if (count > 0) ks.touched(entry.key)
  }
  writeMembers(out, resp, taken, true)
}

function srandmember({ db: ks, resp }: CommandContext, a: Args, out: Reply): void {
  if (a.count > 3) return void writeError(out, SYNTAX)
  const hasCount = a.count === 3
  const count = hasCount ? a.integer(2) : 1
  if (count === null) return void writeError(out, NOT_INTEGER)
  if (!Number.isSafeInteger(count) && a.bigint(2) === INT64_MIN) {
    return void writeError(out, 'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807')
  }
  // Redis would try to answer 2^62 random members (and be killed for it); a demo answers a range error past this.
  if (count < -MAX_RANDOM_REPLY) return void writeError(out, 'ERR value is out of range')
  const entry = setAt(ks, a, 1, out)
  if (entry === null) return
  if (entry === undefined) return void (hasCount ? writeArrayHeader(out, 0) : writeNull(out, resp))
  if (!hasCount) return void writeBulk(out, (entry.value.random() as SetMember).key)
  if (count >= entry.value.size) return void writeMembers(out, resp, setMembers(entry.value, entry.isIntset), false)
  const picked: string[] = []
  if (count < 0) {
    // Repetitions allowed: |count| independent draws.
    for (let i = 0; i < -count; i++) picked.push((entry.value.random() as SetMember).key)
  } else {
    const seen = new Set<string>()
    while (seen.size < count) seen.add((entry.value.random() as SetMember).key)
    picked.push(...seen)
  }
  writeMembers(out, resp, picked, false)
}

function smove({ db: ks }: CommandContext, a: Args, out: Reply): void {
  const source = ks.find(a, 1)
  const destination = ks.find(a, 2)
  if (source === undefined) return void writeInteger(out, 0)
  if (source.kind !== 'set' || (destination !== undefined && destination.kind !== 'set')) return void writeError(out, WRONGTYPE)
  const m = member(source, a, 3)
  if (source === destination) return void writeInteger(out, m === undefined ? 0 : 1)
  if (m === undefined) return void writeInteger(out, 0)
  source.value.delete(m)
  afterChange(ks, source)
  const target = destination ?? ks.setSet(a, 2, new Dict<SetMember>(), isIntegerMember(m.key))
  const set: Members = { table: target.value, isIntset: target.isIntset }
  addMember(set, m.key)
  target.isIntset = set.isIntset
  if (destination !== undefined) ks.touched(target.key)
  writeInteger(out, 1)
}

export const SET_COMMANDS: readonly Command[] = [
  { name: 'SADD', arity: -3, run: ({ db }, a, out) => sadd(db, a, out) },
  { name: 'SREM', arity: -3, run: ({ db }, a, out) => srem(db, a, out) },
  {
    name: 'SMEMBERS',
    arity: 2,
    run: ({ db: ks, resp }, a, out) => {
      const entry = setAt(ks, a, 1, out)
      if (entry !== null) writeMembers(out, resp, entry === undefined ? [] : setMembers(entry.value, entry.isIntset), true)
    },
  },
  {
    name: 'SISMEMBER',
    arity: 3,
    run: ({ db: ks }, a, out) => {
      const entry = setAt(ks, a, 1, out)
      if (entry !== null) writeInteger(out, entry !== undefined && member(entry, a, 2) !== undefined ? 1 : 0)
    },
  },
  {
    name: 'SMISMEMBER',
    arity: -3,
    run: ({ db: ks }, a, out) => {
      const entry = setAt(ks, a, 1, out)
      if (entry === null) return
      writeArrayHeader(out, a.count - 2)
      for (let i = 2; i < a.count; i++) writeInteger(out, entry !== undefined && member(entry, a, i) !== undefined ? 1 : 0)
    },
  },
  {
    name: 'SCARD',
    arity: 2,
    run: ({ db: ks }, a, out) => {
      const entry = setAt(ks, a, 1, out)
      if (entry !== null) writeInteger(out, entry?.value.size ?? 0)
    },
  },
  { name: 'SPOP', arity: -2, run: spop },
  { name: 'SRANDMEMBER', arity: -2, run: srandmember },
  { name: 'SINTER', arity: -2, run: (ctx, a, out) => combineReply(ctx, a, out, 'inter') },
  { name: 'SUNION', arity: -2, run: (ctx, a, out) => combineReply(ctx, a, out, 'union') },
  { name: 'SDIFF', arity: -2, run: (ctx, a, out) => combineReply(ctx, a, out, 'diff') },
  { name: 'SINTERSTORE', arity: -3, run: (ctx, a, out) => combineStore(ctx, a, out, 'inter') },
  { name: 'SUNIONSTORE', arity: -3, run: (ctx, a, out) => combineStore(ctx, a, out, 'union') },
  { name: 'SDIFFSTORE', arity: -3, run: (ctx, a, out) => combineStore(ctx, a, out, 'diff') },
  { name: 'SMOVE', arity: 4, run: smove },
  { name: 'SINTERCARD', arity: -3, run: sintercard },
  { name: 'SSCAN', arity: -3, run: sscan },
]
