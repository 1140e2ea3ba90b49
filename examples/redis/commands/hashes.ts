/**
 * Hash commands. Fields keep their insertion order (what Redis answers for the small hashes it
 * keeps as a listpack); fields are found from the argument bytes, no string made for a lookup.
 */
import { type Args, INT64_MAX, INT64_MIN, parseBigInteger } from '../args.js'
import type { Command, CommandContext } from '../command.js'
import { OrderedDict } from '../dict.js'
import type { HashEntry, HashField, Keyspace } from '../keyspace.js'
import { OK, type Reply, writeArrayHeader, writeBulk, writeError, writeInteger, writeMapHeader, writeNull } from '../reply.js'
import { NAN_OR_INFINITY, NOT_FLOAT, NOT_INTEGER, OVERFLOW, WRONGTYPE, wrongArguments } from './errors.js'
import { addLongDouble, formatLongDouble, parseLongDouble } from './long-double.js'
import { hscan } from './scan.js'

/** Redis' hash-max-listpack-entries and hash-max-listpack-value: past either, a hash is a "hashtable" for good. */
const LISTPACK_ENTRIES = 128
const LISTPACK_VALUE = 64

/** The live hash at the key in argument 1: the entry, undefined if none, null once WRONGTYPE is answered. */
function hashAt(ks: Keyspace, a: Args, out: Reply): HashEntry | undefined | null {
  const entry = ks.find(a, 1)
  if (entry === undefined || entry.kind === 'hash') return entry
  writeError(out, WRONGTYPE)
  return null
}

/** A new empty hash at argument 1 (the caller adds a field before replying); storing it is the change onTouch hears of. */
function newHash(ks: Keyspace, a: Args): HashEntry {
  return ks.setHash(a, 1, new OrderedDict<HashField>(), true)
}

function field(entry: HashEntry, a: Args, i: number): HashField | undefined {
  return entry.value.table.findBytes(a.data, a.starts[i] as number, a.ends[i] as number)
}

/** Sets field argument `i` to `value`; true if the field is new. */
function setField(entry: HashEntry, a: Args, i: number, value: string): boolean {
  const existing = field(entry, a, i)
  if (existing !== undefined) {
    existing.value = value
    return false
  }
  entry.value.insert({ key: a.string(i), hash: 0, next: null, before: null, after: null, value })
  if (entry.value.size > LISTPACK_ENTRIES) entry.isListpack = false
  return true
}

/** HSET and HMSET: field-value pairs from argument 2 on. */
function hset(ks: Keyspace, a: Args, out: Reply, command: string): void {
  if (a.count % 2 !== 0) return void writeError(out, wrongArguments(command))
  const existing = hashAt(ks, a, out)
  if (existing === null) return
  const entry = existing ?? newHash(ks, a)
  // Like Redis, a long field or value turns the hash into a hashtable before anything is added.
  for (let i = 2; i < a.count && entry.isListpack; i++) if (a.length(i) > LISTPACK_VALUE) entry.isListpack = false
  let added = 0
  for (let i = 2; i < a.count; i += 2) if (setField(entry, a, i, a.string(i + 1))) added++
  if (existing !== undefined) ks.touched(entry.key)
  if (command === 'hmset') out.write(OK)
  else writeInteger(out, added)
}

function hdel(ks: Keyspace, a: Args, out: Reply): void {
  const entry = hashAt(ks, a, out)
  if (entry === null) return
  let removed = 0
  for (let i = 2; i < a.count && entry !== undefined; i++) {
    const f = field(entry, a, i)
    if (f === undefined) continue
    entry.value.delete(f)
    removed++
  }
  if (entry !== undefined && removed > 0) {
    if (entry.value.size === 0) ks.deleteEntry(entry)
    else ks.touched(entry.key)
  }
  writeInteger(out, removed)
}

function hincrby(ks: Keyspace, a: Args, out: Reply): void {
  const delta = a.bigint(3)
  if (delta === null) return void writeError(out, NOT_INTEGER)
  const existing = hashAt(ks, a, out)
  if (existing === null) return
  const f = existing === undefined ? undefined : field(existing, a, 2)
  let current = 0n
  if (f !== undefined) {
    const bytes = Buffer.from(f.value, 'latin1')
    const parsed = parseBigInteger(bytes, 0, bytes.length)
    if (parsed === null) return void writeError(out, 'ERR hash value is not an integer')
    current = parsed
  }
  const sum = current + delta
  if (sum < INT64_MIN || sum > INT64_MAX) return void writeError(out, OVERFLOW)
  const entry = existing ?? newHash(ks, a)
  const text = sum.toString()
  setField(entry, a, 2, text)
  if (existing !== undefined) ks.touched(entry.key)
  out.write(`:${text}\r\n`)
}

function hincrbyfloat(ks: Keyspace, a: Args, out: Reply): void {
  const delta = parseLongDouble(a.string(3))
  if (delta === null) return void writeError(out, NOT_FLOAT)
  if (typeof delta === 'string') return void writeError(out, 'ERR value is NaN or Infinity')
  const existing = hashAt(ks, a, out)
  if (existing === null) return
  const f = existing === undefined ? undefined : field(existing, a, 2)
  const current = f === undefined ? parseLongDouble('0') : parseLongDouble(f.value)
  if (current === null) return void writeError(out, 'ERR hash value is not a float')
  const sum = addLongDouble(current, delta)
  if (sum === null) return void writeError(out, NAN_OR_INFINITY)
  const entry = existing ?? newHash(ks, a)
  const text = formatLongDouble(sum)
  setField(entry, a, 2, text)
  if (existing !== undefined) ks.touched(entry.key)
  writeBulk(out, text)
}

/** HGETALL, HKEYS, HVALS. */
function all({ db: ks, resp }: CommandContext, a: Args, out: Reply, keys: boolean, values: boolean): void {
  const entry = hashAt(ks, a, out)
  if (entry === null) return
  const n = entry?.value.size ?? 0
  if (keys && values) writeMapHeader(out, resp, n)
  else writeArrayHeader(out, n)
  entry?.value.forEach((f) => {
    if (keys) writeBulk(out, f.key)
    if (values) writeBulk(out, f.value)
  })
}

export const HASH_COMMANDS: readonly Command[] = [
  { name: 'HSET', arity: -4, run: ({ db }, a, out) => hset(db, a, out, 'hset') },
  { name: 'HMSET', arity: -4, run: ({ db }, a, out) => hset(db, a, out, 'hmset') },
  {
    name: 'HSETNX',
    arity: 4,
    run: ({ db: ks }, a, out) => {
      const existing = hashAt(ks, a, out)
      if (existing === null) return
      if (existing !== undefined && field(existing, a, 2) !== undefined) return void writeInteger(out, 0)
      const entry = existing ?? newHash(ks, a)
      if (a.length(2) > LISTPACK_VALUE || a.length(3) > LISTPACK_VALUE) entry.isListpack = false
      setField(entry, a, 2, a.string(3))
      if (existing !== undefined) ks.touched(entry.key)
      writeInteger(out, 1)
    },
  },
  {
    name: 'HGET',
    arity: 3,
    run: ({ db: ks, resp }, a, out) => {
      const entry = hashAt(ks, a, out)
      if (entry === null) return
      const f = entry === undefined ? undefined : field(entry, a, 2)
      if (f === undefined) writeNull(out, resp)
      else writeBulk(out, f.value)
    },
  },
  {
    name: 'HMGET',
    arity: -3,
    run: ({ db: ks, resp }, a, out) => {
      const entry = hashAt(ks, a, out)
      if (entry === null) return
      writeArrayHeader(out, a.count - 2)
      for (let i = 2; i < a.count; i++) {
        const f = entry === undefined ? undefined : field(entry, a, i)
        if (f === undefined) writeNull(out, resp)
        else writeBulk(out, f.value)
      }
    },
  },
  { name: 'HGETALL', arity: 2, run: (ctx, a, out) => all(ctx, a, out, true, true) },
  { name: 'HKEYS', arity: 2, run: (ctx, a, out) => all(ctx, a, out, true, false) },
  { name: 'HVALS', arity: 2, run: (ctx, a, out) => all(ctx, a, out, false, true) },
  { name: 'HDEL', arity: -3, run: ({ db }, a, out) => hdel(db, a, out) },
  {
    name: 'HEXISTS',
    arity: 3,
    run: ({ db: ks }, a, out) => {
      const entry = hashAt(ks, a, out)
      if (entry !== null) writeInteger(out, entry !== undefined && field(entry, a, 2) !== undefined ? 1 : 0)
    },
  },
  {
    name: 'HLEN',
    arity: 2,
    run: ({ db: ks }, a, out) => {
      const entry = hashAt(ks, a, out)
      if (entry !== null) writeInteger(out, entry?.value.size ?? 0)
    },
  },
  {
    name: 'HSTRLEN',
    arity: 3,
    run: ({ db: ks }, a, out) => {
      const entry = hashAt(ks, a, out)
      if (entry !== null) writeInteger(out, (entry === undefined ? undefined : field(entry, a, 2))?.value.length ?? 0)
    },
  },
  { name: 'HINCRBY', arity: 4, run: ({ db }, a, out) => hincrby(db, a, out) },
  { name: 'HINCRBYFLOAT', arity: 4, run: ({ db }, a, out) => hincrbyfloat(db, a, out) },
  { name: 'HSCAN', arity: -3, run: hscan },
]
