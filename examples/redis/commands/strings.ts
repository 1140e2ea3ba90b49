/** String commands: GET and SET with all their options, counters (64-bit and long double), ranges, MGET/MSET. */
import { type Args, INT64_MAX, INT64_MIN, parseBigInteger, parseInteger } from '../args.js'
import type { Command, CommandContext } from '../command.js'
import { type Keyspace, NEVER, type StoredEntry, type StringEntry } from '../keyspace.js'
import { OK, type Reply, writeArrayHeader, writeBulk, writeBulkBytes, writeError, writeInteger, writeNull } from '../reply.js'
import { invalidExpireTime, NAN_OR_INFINITY, NOT_FLOAT, NOT_INTEGER, OVERFLOW, STRING_TOO_LONG, SYNTAX, WRONGTYPE, wrongArguments } from './errors.js'
import { applyExpiry, EX, type ExpiryUnit, expiryOption, PX, positiveExpiry } from './expiry.js'
import { addLongDouble, formatLongDouble, parseLongDouble } from './long-double.js'

/** Longest string value, bytes: Redis' proto-max-bulk-len default (APPEND and SETRANGE refuse to pass it). */
export const MAX_STRING = 512 * 1024 * 1024
const EMPTY_BULK = '$0\r\n\r\n'

/** The live string at the key in argument `i`: the entry, undefined if none, null once WRONGTYPE is answered. */
function stringAt(ks: Keyspace, a: Args, i: number, out: Reply): StringEntry | undefined | null {
  const entry = ks.find(a, i)
  if (entry === undefined || entry.kind === 'string') return entry
  writeError(out, WRONGTYPE)
  return null
}

/** A stored string value as a bulk string, or the null reply. */
function writeValue(out: Reply, resp: 2 | 3, value: Uint8Array | null | undefined): void {
  if (value === null || value === undefined) writeNull(out, resp)
  else writeBulkBytes(out, value)
}

/**
 * SET's and GETEX's options, as Redis' parseExtendedStringArgumentsOrReply reads them: a word may
 * repeat, but conflicting ones (NX with XX, two different expiry units, KEEPTTL or PERSIST with
 * an expiry) are a syntax error. One object, reused: parsing options allocates nothing.
 */
const options = { nx: false, xx: false, get: false, keepTtl: false, persist: false, unit: null as ExpiryUnit | null, amount: 0 }

/** Reads the options from argument `from` on into `options`; false (after answering a syntax error) on a bad one. */
function parseOptions(a: Args, from: number, isSet: boolean, out: Reply): boolean {
  const o = options
  o.nx = o.xx = o.get = o.keepTtl = o.persist = false
  o.unit = null
  for (let i = from; i < a.count; i++) {
    const unit = expiryOption(a, i)
    if (isSet && a.is(i, 'NX') && !o.xx) o.nx = true
    else if (isSet && a.is(i, 'XX') && !o.nx) o.xx = true
    else if (isSet && a.is(i, 'GET')) o.get = true
    else if (isSet && a.is(i, 'KEEPTTL') && !o.persist && o.unit === null) o.keepTtl = true
    else if (!isSet && a.is(i, 'PERSIST') && !o.keepTtl && o.unit === null) o.persist = true
    else if (unit !== undefined && !o.keepTtl && !o.persist && (o.unit === null || o.unit === unit) && i + 1 < a.count) {
      o.unit = unit
      o.amount = ++i
    } else {
      writeError(out, SYNTAX)
      return false
    }
  }
  return true
}

/** The expiry time `options` asks for (NEVER if none); null once an error is answered. */
function optionExpiry(ks: Keyspace, a: Args, command: string, out: Reply): number | null {
  if (options.unit === null) return NEVER
  const amount = a.integer(options.amount)
  if (amount === null) {
    writeError(out, NOT_INTEGER)
    return null
  }
  const at = positiveExpiry(amount, options.unit, ks.now())
  if (at === null) writeError(out, invalidExpireTime(command))
  return at
}

function set({ db: ks, resp }: CommandContext, a: Args, out: Reply): void {
  if (a.count === 3) {
    ks.setString(a, 1, 2, NEVER) // plain SET, what clients send most
    out.write(OK)
    return
  }
  if (!parseOptions(a, 3, true, out)) return
  const expireAt = optionExpiry(ks, a, 'set', out)
  if (expireAt === null) return
  const { nx, xx, get, keepTtl } = options
  let old: StoredEntry | undefined
  if (get) {
    const current = stringAt(ks, a, 1, out)
    if (current === null) return
    // The old value is answered before the new one is stored: it may be overwritten in place.
    writeValue(out, resp, current?.value)
    old = current
  } else {
    old = ks.find(a, 1)
  }
  if ((nx && old !== undefined) || (xx && old === undefined)) {
    if (!get) writeNull(out, resp)
    return
  }
  if (!get) out.write(OK)
  ks.setString(a, 1, 2, keepTtl && old !== undefined ? old.expireAt : expireAt)
}

function getex({ db: ks, resp }: CommandContext, a: Args, out: Reply): void {
  if (!parseOptions(a, 2, false, out)) return
  const entry = stringAt(ks, a, 1, out)
  if (entry === null) return
  if (entry === undefined) return void writeNull(out, resp)
  const expireAt = optionExpiry(ks, a, 'getex', out)
  if (expireAt === null) return
  writeBulkBytes(out, entry.value)
  if (options.unit !== null) applyExpiry(ks, entry, expireAt)
  else if (options.persist && entry.expireAt !== NEVER) ks.setExpiry(entry, NEVER)
}

/** SETEX and PSETEX: key, amount, value. */
function setWithExpiry(ks: Keyspace, a: Args, out: Reply, unit: ExpiryUnit, command: string): void {
  const amount = a.integer(2)
  if (amount === null) return void writeError(out, NOT_INTEGER)
  const at = positiveExpiry(amount, unit, ks.now())
  if (at === null) return void writeError(out, invalidExpireTime(command))
  ks.setString(a, 1, 3, at)
  out.write(OK)
}

/** INCR, DECR, INCRBY, DECRBY: the stored value plus `delta` (`exact` when it is not a safe integer), as a 64-bit signed integer. */
function incrBy(ks: Keyspace, a: Args, out: Reply, delta: number, exact: bigint | null): void {
  const entry = stringAt(ks, a, 1, out)
  if (entry === null) return
  // A stored value is an integer as strictly as an argument is (`Args.integer`).
  const current = entry === undefined ? 0 : parseInteger(entry.value, 0, entry.value.length)
  if (current === null) return void writeError(out, NOT_INTEGER)
  const expireAt = entry?.expireAt ?? NEVER
  const next = current + delta
  if (exact === null && Number.isSafeInteger(current) && Number.isSafeInteger(next)) {
    ks.setText(a, 1, String(next), expireAt)
    return void writeInteger(out, next)
  }
  // Past 2^53 doubles lose digits: redo it exactly, with Redis' overflow check.
  const base = entry === undefined ? 0n : (parseBigInteger(entry.value, 0, entry.value.length) as bigint)
  const sum = base + (exact ?? BigInt(delta))
  if (sum < INT64_MIN || sum > INT64_MAX) return void writeError(out, OVERFLOW)
  const text = sum.toString()
  ks.setText(a, 1, text, expireAt)
  out.write(`:${text}\r\n`)
}

/** INCRBY / DECRBY: the increment in argument 2, negated for DECRBY. */
function incrByArgument(ks: Keyspace, a: Args, out: Reply, negate: boolean): void {
  const delta = a.integer(2)
  if (delta === null) return void writeError(out, NOT_INTEGER)
  if (Number.isSafeInteger(delta)) return void incrBy(ks, a, out, negate ? -delta : delta, null)
  const exact = a.bigint(2) as bigint
  if (negate && exact === INT64_MIN) return void writeError(out, 'ERR decrement would overflow')
  incrBy(ks, a, out, 0, negate ? -exact : exact)
}

function incrByFloat(ks: Keyspace, a: Args, out: Reply): void {
  const entry = stringAt(ks, a, 1, out)
  if (entry === null) return
  const current =
    entry === undefined ? parseLongDouble('0') : parseLongDouble(Buffer.from(entry.value.buffer, entry.value.byteOffset, entry.value.length).toString('latin1'))
  const increment = parseLongDouble(a.string(2))
  if (current === null || increment === null) return void writeError(out, NOT_FLOAT)
  const sum = addLongDouble(current, increment)
  if (sum === null) return void writeError(out, NAN_OR_INFINITY)
  const text = formatLongDouble(sum)
  // Its own bytes, not Buffer.from's: a small Buffer is a view of a shared pool, which APPEND would grow into.
  const value = new Uint8Array(text.length)
  for (let k = 0; k < text.length; k++) value[k] = text.charCodeAt(k)
  ks.setBytes(a, 1, value, entry?.expireAt ?? NEVER, 'string')
  writeBulk(out, text)
}

function append(ks: Keyspace, a: Args, out: Reply): void {
  const entry = stringAt(ks, a, 1, out)
  if (entry === null) return
  if (entry === undefined) {
    ks.setString(a, 1, 2, NEVER)
    return void writeInteger(out, a.length(2))
  }
  const length = entry.value.length
  const total = length + a.length(2)
  if (total > MAX_STRING) return void writeError(out, STRING_TOO_LONG)
  const grown = grow(entry.value, total)
  a.copy(2, grown.subarray(length))
  entry.value = grown
  entry.encoding = 'raw'
  ks.touched(entry.key)
  writeInteger(out, total)
}

/**
 * `value` lengthened to `length` bytes (zeros after the old ones). Appending reserves room:
 * while the ArrayBuffer behind the view has space, a longer view of it costs no copy, so a
 * run of APPENDs is linear, not quadratic.
 */
function grow(value: Uint8Array, length: number): Uint8Array {
  if (value.byteOffset + length <= value.buffer.byteLength) return new Uint8Array(value.buffer, value.byteOffset, length)
  const room = length < 64 ? length : Math.min(MAX_STRING, length * 2)
  const grown = new Uint8Array(new ArrayBuffer(room), 0, length)
  grown.set(value)
  return grown
}

function setRange(ks: Keyspace, a: Args, out: Reply): void {
  const offset = a.integer(2)
  if (offset === null) return void writeError(out, NOT_INTEGER)
  if (offset < 0) return void writeError(out, 'ERR offset is out of range')
  const entry = stringAt(ks, a, 1, out)
  if (entry === null) return
  const n = a.length(3)
  if (n === 0) return void writeInteger(out, entry?.value.length ?? 0)
  if (offset + n > MAX_STRING) return void writeError(out, STRING_TOO_LONG)
  if (entry === undefined) {
    const value = new Uint8Array(offset + n)
    a.copy(3, value.subarray(offset))
    ks.setBytes(a, 1, value, NEVER, 'raw')
    return void writeInteger(out, value.length)
  }
  if (offset + n > entry.value.length) entry.value = grow(entry.value, offset + n)
  a.copy(3, entry.value.subarray(offset, offset + n))
  entry.encoding = 'raw'
  ks.touched(entry.key)
  writeInteger(out, entry.value.length)
}

function getRange(ks: Keyspace, a: Args, out: Reply): void {
  let start = a.integer(2)
  let end = a.integer(3)
  if (start === null || end === null) return void writeError(out, NOT_INTEGER)
  const entry = stringAt(ks, a, 1, out)
  if (entry === null) return
  if (entry === undefined) return void out.write(EMPTY_BULK)
  const n = entry.value.length
  if (start < 0 && end < 0 && start > end) return void out.write(EMPTY_BULK)
  if (start < 0) start = Math.max(0, n + start)
  if (end < 0) end = Math.max(0, n + end)
  if (end >= n) end = n - 1
  if (start > end || n === 0) return void out.write(EMPTY_BULK)
  writeBulkBytes(out, entry.value.subarray(start, end + 1))
}

function mset(ks: Keyspace, a: Args, out: Reply, onlyNew: boolean): void {
  if (a.count % 2 === 0) return void writeError(out, wrongArguments(onlyNew ? 'msetnx' : 'mset'))
  if (onlyNew) {
    for (let i = 1; i < a.count; i += 2) if (ks.find(a, i) !== undefined) return void writeInteger(out, 0)
  }
  for (let i = 1; i < a.count; i += 2) ks.setString(a, i, i + 1, NEVER)
  if (onlyNew) writeInteger(out, 1)
  else out.write(OK)
}

export const STRING_COMMANDS: readonly Command[] = [
  {
    name: 'GET',
    arity: 2,
    run: ({ db: ks, resp }, a, out) => {
      const entry = stringAt(ks, a, 1, out)
      if (entry !== null) writeValue(out, resp, entry?.value)
    },
  },
  { name: 'SET', arity: -3, run: set },
  {
    name: 'SETNX',
    arity: 3,
    run: ({ db: ks }, a, out) => {
      if (ks.find(a, 1) !== undefined) return void writeInteger(out, 0)
      ks.setString(a, 1, 2, NEVER)
      writeInteger(out, 1)
    },
  },
  { name: 'SETEX', arity: 4, run: ({ db: ks }, a, out) => setWithExpiry(ks, a, out, EX, 'setex') },
  { name: 'PSETEX', arity: 4, run: ({ db: ks }, a, out) => setWithExpiry(ks, a, out, PX, 'psetex') },
  {
    name: 'GETSET',
    arity: 3,
    run: ({ db: ks, resp }, a, out) => {
      const entry = stringAt(ks, a, 1, out)
      if (entry === null) return
      writeValue(out, resp, entry?.value) // before the value is overwritten, maybe in place
      ks.setString(a, 1, 2, NEVER)
    },
  },
  {
    name: 'GETDEL',
    arity: 2,
    run: ({ db: ks, resp }, a, out) => {
      const entry = stringAt(ks, a, 1, out)
      if (entry === null) return
      writeValue(out, resp, entry?.value)
      if (entry !== undefined) ks.deleteEntry(entry)
    },
  },
  { name: 'GETEX', arity: -2, run: getex },
  { name: 'APPEND', arity: 3, run: ({ db: ks }, a, out) => append(ks, a, out) },
  {
    name: 'STRLEN',
    arity: 2,
    run: ({ db: ks }, a, out) => {
      const entry = stringAt(ks, a, 1, out)
      if (entry !== null) writeInteger(out, entry?.value.length ?? 0)
    },
  },
  { name: 'GETRANGE', arity: 4, run: ({ db: ks }, a, out) => getRange(ks, a, out) },
  { name: 'SUBSTR', arity: 4, run: ({ db: ks }, a, out) => getRange(ks, a, out) },
  { name: 'SETRANGE', arity: 4, run: ({ db: ks }, a, out) => setRange(ks, a, out) },
  { name: 'INCR', arity: 2, run: ({ db: ks }, a, out) => incrBy(ks, a, out, 1, null) },
  { name: 'DECR', arity: 2, run: ({ db: ks }, a, out) => incrBy(ks, a, out, -1, null) },
  { name: 'INCRBY', arity: 3, run: ({ db: ks }, a, out) => incrByArgument(ks, a, out, false) },
  { name: 'DECRBY', arity: 3, run: ({ db: ks }, a, out) => incrByArgument(ks, a, out, true) },
  { name: 'INCRBYFLOAT', arity: 3, run: ({ db: ks }, a, out) => incrByFloat(ks, a, out) },
  {
    name: 'MGET',
    arity: -2,
    run: ({ db: ks, resp }, a, out) => {
      writeArrayHeader(out, a.count - 1)
      for (let i = 1; i < a.count; i++) {
        const e = ks.find(a, i)
        writeValue(out, resp, e?.kind === 'string' ? e.value : null)
      }
    },
  },
  { name: 'MSET', arity: -3, run: ({ db: ks }, a, out) => mset(ks, a, out, false) },
  { name: 'MSETNX', arity: -3, run: ({ db: ks }, a, out) => mset(ks, a, out, true) },
]
