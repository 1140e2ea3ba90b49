/**
 * SCAN, HSCAN and SSCAN: the cursor, the options, the walk. The cursor is a bucket position in
 * bit-reversed order (see `Dict.scan`), valid while the table grows or shrinks between calls.
 * Small hashes and sets (Redis' listpack and intset encodings) are answered whole with cursor
 * 0, as Redis does.
 */
import type { Args } from '../args.js'
import type { CommandContext } from '../command.js'
import type { Dict, DictEntry } from '../dict.js'
import { globMatch } from '../glob.js'
import type { HashField, StoredEntry } from '../keyspace.js'
import { type Reply, writeArrayHeader, writeBulk, writeError } from '../reply.js'
import { INVALID_CURSOR, NOT_INTEGER, SYNTAX, WRONGTYPE } from './errors.js'
import { setMembers } from './sets.js'

const UINT64_MAX = 2n ** 64n - 1n
const EMPTY_SCAN = '*2\r\n$1\r\n0\r\n*0\r\n'
/** Buckets visited per element asked for (COUNT), at most: sparse tables still answer quickly (Redis' factor). */
const BUCKETS_PER_ELEMENT = 10

/**
 * Reads a cursor as Redis' strtoul does: optional sign, decimal digits, a negative number
 * wrapping round 2^64, nothing else; the empty string is 0. Returns its low 32 bits (our
 * tables have fewer buckets, so those are the bits that count), or null if it is not a cursor.
 */
export function parseCursor(text: string): number | null {
  if (text === '') return 0
  if (!/^[+-]?\d+$/.test(text)) return null
  let n = BigInt(text.startsWith('+') ? text.slice(1) : text)
  if (n > UINT64_MAX || n < -UINT64_MAX) return null
  if (n < 0n) n += UINT64_MAX + 1n
  return Number(n & 0xffffffffn)
}

/** What a scan asks for. */
interface ScanOptions {
  count: number
  pattern: string | null
  /** SCAN's TYPE filter, or null. */
  type: string | null
}

/** Reads COUNT, MATCH (and TYPE when `withType`) from argument `from` on; null after answering an error. */
function parseScanOptions(a: Args, from: number, withType: boolean, out: Reply): ScanOptions | null {
  const options: ScanOptions = { count: 10, pattern: null, type: null }
  for (let i = from; i < a.count; i += 2) {
    if (i + 1 >= a.count) return refuse(out, SYNTAX)
    if (a.is(i, 'COUNT')) {
      const count = a.integer(i + 1)
      if (count === null) return refuse(out, NOT_INTEGER)
      if (count < 1) return refuse(out, SYNTAX)
      options.count = count
    } else if (a.is(i, 'MATCH')) {
      const pattern = a.string(i + 1)
      options.pattern = pattern === '*' ? null : pattern // '*' alone matches all, the empty key too
    } else if (withType && a.is(i, 'TYPE')) {
      options.type = a.string(i + 1)
    } else {
      return refuse(out, SYNTAX)
    }
  }
  return options
}

function refuse(out: Reply, message: string): null {
  writeError(out, message)
  return null
}

/** Walks a table from `cursor` until `count` entries are found, the walk ends, or the bucket budget is spent. */
function walk<E extends DictEntry>(step: (cursor: number, found: E[]) => number, cursor: number, count: number, found: E[]): number {
  let budget = count * BUCKETS_PER_ELEMENT
  do cursor = step(cursor, found)
  while (cursor !== 0 && budget-- > 0 && found.length < count)
  return cursor
}

function writeScanHeader(out: Reply, cursor: number, elements: number): void {
  writeArrayHeader(out, 2)
  writeBulk(out, String(cursor))
  writeArrayHeader(out, elements)
}

/** SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
export function scan({ db: ks }: CommandContext, a: Args, out: Reply): void {
  const start = parseCursor(a.string(1))
  if (start === null) return void writeError(out, INVALID_CURSOR)
  const options = parseScanOptions(a, 2, true, out)
  if (options === null) return
  const found: StoredEntry[] = []
  const cursor = walk((c, f: StoredEntry[]) => ks.scanStep(c, f), start, options.count, found)
  const keys: string[] = []
  for (const entry of found) {
    if (options.pattern !== null && !globMatch(options.pattern, entry.key)) continue
    if (options.type !== null && entry.kind !== options.type.toLowerCase()) continue
    if (ks.isExpired(entry)) {
      ks.deleteEntry(entry) // the walk is over: changing the table is safe now
      continue
    }
    keys.push(entry.key)
  }
  writeScanHeader(out, cursor, keys.length)
  for (const key of keys) writeBulk(out, key)
}

/** HSCAN key cursor [MATCH pattern] [COUNT count]: fields and values. */
export function hscan({ db: ks }: CommandContext, a: Args, out: Reply): void {
  const start = parseCursor(a.string(2))
  if (start === null) return void writeError(out, INVALID_CURSOR)
  const entry = ks.find(a, 1)
  if (entry === undefined) return void out.write(EMPTY_SCAN)
  if (entry.kind !== 'hash') return void writeError(out, WRONGTYPE)
  const options = parseScanOptions(a, 3, false, out)
  if (options === null) return
  const found: HashField[] = []
  let cursor = 0
  if (entry.isListpack) entry.value.forEach((f) => void found.push(f))
  else cursor = walk((c, f: HashField[]) => entry.value.table.scan(c, (e) => void f.push(e)), start, options.count, found)
  const fields = options.pattern === null ? found : found.filter((f) => globMatch(options.pattern as string, f.key))
  writeScanHeader(out, cursor, fields.length * 2)
  for (const f of fields) {
    writeBulk(out, f.key)
    writeBulk(out, f.value)
  }
}

/** SSCAN key cursor [MATCH pattern] [COUNT count]: members. */
export function sscan({ db: ks }: CommandContext, a: Args, out: Reply): void {
  const start = parseCursor(a.string(2))
  if (start === null) return void writeError(out, INVALID_CURSOR)
  const entry = ks.find(a, 1)
  if (entry === undefined) return void out.write(EMPTY_SCAN)
  if (entry.kind !== 'set') return void writeError(out, WRONGTYPE)
  const options = parseScanOptions(a, 3, false, out)
  if (options === null) return
  let members: string[]
  let cursor = 0
  if (entry.isIntset) {
    members = setMembers(entry.value, true)
  } else {
    const found: DictEntry[] = []
    const table: Dict<DictEntry> = entry.value
    cursor = walk((c, f: DictEntry[]) => table.scan(c, (e) => void f.push(e)), start, options.count, found)
    members = found.map((m) => m.key)
  }
  if (options.pattern !== null) members = members.filter((m) => globMatch(options.pattern as string, m))
  writeScanHeader(out, cursor, members.length)
  for (const m of members) writeBulk(out, m)
}
