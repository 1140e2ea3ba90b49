/**
 * The in-memory data of the RESP server: strings and lists with expiry, and the commands on them.
 * Keys are latin1 strings (one char per byte), looked up by their bytes in the input (`Dict`):
 * only a key stored for the first time is made into a string. String values are kept as bytes,
 * each in its own Uint8Array, so that a SET over a value of the same length copies the new bytes
 * in place and allocates nothing (making a string of them cost more than the rest of a SET).
 * List elements are latin1 strings. Any byte sequence is a key, a value or an element.
 */
import { type Args, parseInteger } from './args.js'
import type { Command, CommandContext } from './command.js'
import { Deque } from './deque.js'
import { Dict, type DictEntry } from './dict.js'
import { NULL_BULK, OK, PONG, type Reply, writeArrayHeader, writeBulk, writeBulkArray, writeBulkBytes, writeError, writeInteger } from './reply.js'

interface StringEntry extends DictEntry {
  kind: 'string'
  /** The value's bytes, exactly as long as the value; overwritten in place by a value of the same length. */
  value: Uint8Array
  /** Expiry time on the keyspace's clock, ms, or NEVER. */
  expireAt: number
}
interface ListEntry extends DictEntry {
  kind: 'list'
  value: Deque<string>
  expireAt: number
}
type Entry = StringEntry | ListEntry

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'
const NOT_INTEGER = 'ERR value is not an integer or out of range'
const SYNTAX = 'ERR syntax error'
/** Expiry: no expiry set. */
const NEVER = Number.POSITIVE_INFINITY

export class Keyspace {
  readonly #data = new Dict<Entry>()
  /** Clock for expiry, ms (injectable for tests). */
  readonly now: () => number

  constructor(now: () => number = Date.now) {
    this.now = now
  }

  get size(): number {
    return this.#data.size
  }

  /** Runs the command in `args` (argument 0 is its name, in any case) and writes its reply. */
  execute(args: Args, out: Reply, ctx: CommandContext = { db: this, resp: 2 }): void {
    const command = findCommand(args)
    if (command === undefined) {
      const shown = args.string(0).slice(0, 128)
      const rest: string[] = []
      for (let i = 1; i < Math.min(args.count, 4); i++) rest.push(`'${args.string(i).slice(0, 64)}'`)
      writeError(out, `ERR unknown command '${shown}', with args beginning with: ${rest.join(' ')}`)
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
      this.#data.delete(entry)
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

  /** Creates an empty list at the key in argument `i`, replacing whatever was there. */
  createList(a: Args, i: number): Deque<string> {
    const old = this.#data.findBytes(a.data, a.starts[i] as number, a.ends[i] as number)
    const value = new Deque<string>()
    this.#put(old, { key: old?.key ?? a.string(i), hash: 0, next: null, kind: 'list', value, expireAt: NEVER })
    return value
  }

  /** Removes the live key in argument `i`; false if there was none. */
  delete(a: Args, i: number): boolean {
    const entry = this.find(a, i)
    if (entry === undefined) return false
    this.#data.delete(entry)
    return true
  }

  clear(): void {
    this.#data.clear()
  }

  /** Removes expired keys from up to `budget` buckets; called periodically so unread expired keys do not pile up. */
  sweep(budget = 100): number {
    const now = this.now()
    return this.#data.sweep(budget, (entry) => entry.expireAt <= now)
  }

  /** Makes the key in argument `i` a string of `n` bytes, replacing whatever was there; returns the bytes, for the caller to fill. */
  #storeString(a: Args, i: number, n: number, expireAt: number): Uint8Array {
    const old = this.#data.findBytes(a.data, a.starts[i] as number, a.ends[i] as number)
    if (old?.kind === 'string') {
      // Overwriting a string (what SET mostly does) reuses the entry, and the bytes too when the length is the same.
      if (old.value.length !== n) old.value = new Uint8Array(n)
      old.expireAt = expireAt
      return old.value
    }
    const value = new Uint8Array(n)
    this.#put(old, { key: old?.key ?? a.string(i), hash: 0, next: null, kind: 'string', value, expireAt })
    return value
  }

  /** Puts `entry` in place of `old` (same key), or adds it. */
  #put(old: Entry | undefined, entry: Entry): void {
    if (old === undefined) this.#data.insert(entry)
    else this.#data.replace(old, entry)
  }
}

function getString(ks: Keyspace, a: Args, out: Reply): Uint8Array | null | undefined {
  const entry = ks.find(a, 1)
  if (entry === undefined) return null
  if (entry.kind !== 'string') {
    writeError(out, WRONGTYPE)
    return undefined
  }
  return entry.value
}

function incrBy(ks: Keyspace, a: Args, delta: number, out: Reply): void {
  const entry = ks.find(a, 1)
  if (entry !== undefined && entry.kind !== 'string') return void writeError(out, WRONGTYPE)
  // A stored value is an integer as strictly as an argument is (`Args.integer`).
  const current = entry === undefined ? 0 : parseInteger(entry.value, 0, entry.value.length)
  if (current === null) return void writeError(out, NOT_INTEGER)
  const next = current + delta
  if (!Number.isSafeInteger(next)) return void writeError(out, 'ERR increment or decrement would overflow')
  ks.setText(a, 1, String(next), entry?.expireAt ?? NEVER)
  writeInteger(out, next)
}

function getList(ks: Keyspace, a: Args, out: Reply, create: boolean): Deque<string> | null | undefined {
  const entry = ks.find(a, 1)
  if (entry === undefined) return create ? ks.createList(a, 1) : null
  if (entry.kind !== 'list') {
    writeError(out, WRONGTYPE)
    return undefined
  }
  return entry.value
}

function push(ks: Keyspace, a: Args, out: Reply, left: boolean): void {
  const list = getList(ks, a, out, true)
  if (!list) return
  for (let i = 2; i < a.count; i++) {
    if (left) list.pushFront(a.string(i))
    else list.pushBack(a.string(i))
  }
  writeInteger(out, list.length)
}

function pop(ks: Keyspace, a: Args, out: Reply, left: boolean): void {
  if (a.count > 3) return void writeError(out, SYNTAX)
  const list = getList(ks, a, out, false)
  if (list === undefined) return
  const count = a.count > 2 ? a.integer(2) : null
  if (a.count > 2 && (count === null || count < 0)) return void writeError(out, 'ERR value is out of range, must be positive')
  if (list === null) return void out.write(count === null ? NULL_BULK : '*-1\r\n')
  const taken: string[] = []
  for (let i = 0; i < (count ?? 1) && list.length > 0; i++) taken.push((left ? list.popFront() : list.popBack()) as string)
  if (list.length === 0) ks.delete(a, 1)
  if (count === null) writeBulk(out, taken[0])
  else writeBulkArray(out, taken)
}

function expire(ks: Keyspace, a: Args, out: Reply, unit: number): void {
  const amount = a.integer(2)
  if (amount === null) return void writeError(out, NOT_INTEGER)
  const entry = ks.find(a, 1)
  if (entry === undefined) return void writeInteger(out, 0)
  if (amount <= 0) ks.delete(a, 1)
  else entry.expireAt = ks.now() + amount * unit
  writeInteger(out, 1)
}

function ttl(ks: Keyspace, a: Args, out: Reply, unit: number): void {
  const entry = ks.find(a, 1)
  if (entry === undefined) return void writeInteger(out, -2)
  if (entry.expireAt === NEVER) return void writeInteger(out, -1)
  writeInteger(out, Math.max(0, Math.round((entry.expireAt - ks.now()) / unit)))
}

function set(ks: Keyspace, a: Args, out: Reply): void {
  if (a.count === 3) {
    ks.setString(a, 1, 2, NEVER) // plain SET, what clients send most
    out.write(OK)
    return
  }
  let expireAt = NEVER
  let keepTtl = false
  let condition: 'NX' | 'XX' | null = null
  let returnOld = false
  for (let i = 3; i < a.count; i++) {
    if (a.is(i, 'NX') || a.is(i, 'XX')) {
      const option = a.is(i, 'NX') ? 'NX' : 'XX'
      if (condition !== null && condition !== option) return void writeError(out, SYNTAX)
      condition = option
    } else if (a.is(i, 'EX') || a.is(i, 'PX') || a.is(i, 'EXAT') || a.is(i, 'PXAT')) {
      const option = a.string(i).toUpperCase()
      const amount = a.integer(++i)
      if (amount === null) return void writeError(out, i >= a.count ? SYNTAX : NOT_INTEGER)
      if (amount <= 0) return void writeError(out, "ERR invalid expire time in 'set' command")
      if (expireAt !== NEVER || keepTtl) return void writeError(out, SYNTAX)
      expireAt = option === 'EX' ? ks.now() + amount * 1000 : option === 'PX' ? ks.now() + amount : option === 'EXAT' ? amount * 1000 : amount
    } else if (a.is(i, 'KEEPTTL')) {
      if (expireAt !== NEVER) return void writeError(out, SYNTAX)
      keepTtl = true
    } else if (a.is(i, 'GET')) {
      returnOld = true
    } else {
      return void writeError(out, SYNTAX)
    }
  }
  const old = ks.find(a, 1)
  if (returnOld && old !== undefined && old.kind !== 'string') return void writeError(out, WRONGTYPE)
  const oldValue = old?.kind === 'string' ? old.value : null
  if ((condition === 'NX' && old !== undefined) || (condition === 'XX' && old === undefined)) {
    if (returnOld) writeValue(out, oldValue)
    else out.write(NULL_BULK)
    return
  }
  // The old value is answered before the new one is stored: it may be overwritten in place.
  if (returnOld) writeValue(out, oldValue)
  else out.write(OK)
  ks.setString(a, 1, 2, keepTtl && old !== undefined ? old.expireAt : expireAt)
}

/** A stored string value as a bulk string, or the null bulk. */
function writeValue(out: Reply, value: Uint8Array | null): void {
  if (value === null) out.write(NULL_BULK)
  else writeBulkBytes(out, value)
}

function range(ks: Keyspace, a: Args, out: Reply): void {
  const start = a.integer(2)
  const stop = a.integer(3)
  if (start === null || stop === null) return void writeError(out, NOT_INTEGER)
  const list = getList(ks, a, out, false)
  if (list === undefined) return
  if (list === null) return void writeArrayHeader(out, 0)
  const n = list.length
  const from = Math.max(0, start < 0 ? n + start : start)
  const to = Math.min(n - 1, stop < 0 ? n + stop : stop)
  writeBulkArray(out, list.slice(from, to))
}

/** Counts the keys among arguments 1.. for which `test` holds. */
function countKeys(a: Args, test: (i: number) => boolean): number {
  let n = 0
  for (let i = 1; i < a.count; i++) if (test(i)) n++
  return n
}

/** CONFIG GET answers for what clients and redis-benchmark ask at start-up. */
const CONFIG: Record<string, string> = { save: '', appendonly: 'no', databases: '1', maxmemory: '0', timeout: '0' }

function config(_ks: Keyspace, a: Args, out: Reply): void {
  if (a.is(1, 'GET')) {
    const pairs: string[] = []
    for (let i = 2; i < a.count; i++) {
      const pattern = a.string(i).toLowerCase()
      for (const [name, value] of Object.entries(CONFIG)) {
        if (pattern === '*' || pattern === name) pairs.push(name, value)
      }
    }
    return void writeBulkArray(out, pairs)
  }
  if (a.is(1, 'SET') || a.is(1, 'RESETSTAT')) return void out.write(OK)
  writeError(out, `ERR unknown subcommand '${a.string(1)}'`)
}

function hello(_ks: Keyspace, a: Args, out: Reply): void {
  if (a.count > 1 && a.string(1) !== '2') return void writeError(out, 'NOPROTO unsupported protocol version')
  const fields: (string | number)[] = ['server', 'redis', 'version', '7.0.0', 'proto', 2, 'id', 1, 'mode', 'standalone', 'role', 'master']
  writeArrayHeader(out, fields.length + 2)
  for (const f of fields) typeof f === 'number' ? writeInteger(out, f) : writeBulk(out, f)
  writeBulk(out, 'modules')
  writeArrayHeader(out, 0)
}

function client(_ks: Keyspace, a: Args, out: Reply): void {
  if (a.is(1, 'GETNAME')) return void writeBulk(out, null)
  if (a.is(1, 'ID')) return void writeInteger(out, 1)
  if (a.is(1, 'INFO') || a.is(1, 'LIST')) return void writeBulk(out, 'id=1 addr=? name= db=0\n')
  out.write(OK) // SETNAME, SETINFO, NO-EVICT, REPLY ON, ...: accepted and ignored
}

export const DATA_COMMANDS: readonly Command[] = [
  {
    name: 'PING',
    arity: -1,
    run: (_ks, a, out) =>
      a.count > 2 ? writeError(out, "ERR wrong number of arguments for 'ping' command") : a.count === 2 ? writeBulkBytes(out, a.view(1)) : out.write(PONG),
  },
  { name: 'ECHO', arity: 2, run: (_ks, a, out) => writeBulkBytes(out, a.view(1)) },
  {
    name: 'GET',
    arity: 2,
    run: ({ db: ks }, a, out) => {
      const v = getString(ks, a, out)
      if (v !== undefined) writeValue(out, v)
    },
  },
  { name: 'SET', arity: -3, run: (ctx, a, out) => set(ctx.db, a, out) },
  {
    name: 'DEL',
    arity: -2,
    run: ({ db: ks }, a, out) =>
      writeInteger(
        out,
        countKeys(a, (i) => ks.delete(a, i)),
      ),
  },
  {
    name: 'UNLINK',
    arity: -2,
    run: ({ db: ks }, a, out) =>
      writeInteger(
        out,
        countKeys(a, (i) => ks.delete(a, i)),
      ),
  },
  {
    name: 'EXISTS',
    arity: -2,
    run: ({ db: ks }, a, out) =>
      writeInteger(
        out,
        countKeys(a, (i) => ks.find(a, i) !== undefined),
      ),
  },
  { name: 'INCR', arity: 2, run: ({ db: ks }, a, out) => incrBy(ks, a, 1, out) },
  { name: 'DECR', arity: 2, run: ({ db: ks }, a, out) => incrBy(ks, a, -1, out) },
  {
    name: 'INCRBY',
    arity: 3,
    run: ({ db: ks }, a, out) => {
      const d = a.integer(2)
      d === null ? writeError(out, NOT_INTEGER) : incrBy(ks, a, d, out)
    },
  },
  {
    name: 'DECRBY',
    arity: 3,
    run: ({ db: ks }, a, out) => {
      const d = a.integer(2)
      d === null ? writeError(out, NOT_INTEGER) : incrBy(ks, a, -d, out)
    },
  },
  {
    name: 'MGET',
    arity: -2,
    run: ({ db: ks }, a, out) => {
      writeArrayHeader(out, a.count - 1)
      for (let i = 1; i < a.count; i++) {
        const e = ks.find(a, i)
        writeValue(out, e?.kind === 'string' ? e.value : null)
      }
    },
  },
  {
    name: 'MSET',
    arity: -3,
    run: ({ db: ks }, a, out) => {
      if (a.count % 2 === 0) return void writeError(out, "ERR wrong number of arguments for 'mset' command")
      for (let i = 1; i < a.count; i += 2) ks.setString(a, i, i + 1, NEVER)
      out.write(OK)
    },
  },
  { name: 'EXPIRE', arity: 3, run: ({ db: ks }, a, out) => expire(ks, a, out, 1000) },
  { name: 'PEXPIRE', arity: 3, run: ({ db: ks }, a, out) => expire(ks, a, out, 1) },
  { name: 'TTL', arity: 2, run: ({ db: ks }, a, out) => ttl(ks, a, out, 1000) },
  { name: 'PTTL', arity: 2, run: ({ db: ks }, a, out) => ttl(ks, a, out, 1) },
  {
    name: 'PERSIST',
    arity: 2,
    run: ({ db: ks }, a, out) => {
      const e = ks.find(a, 1)
      if (e === undefined || e.expireAt === NEVER) return void writeInteger(out, 0)
      e.expireAt = NEVER
      writeInteger(out, 1)
    },
  },
  { name: 'TYPE', arity: 2, run: ({ db: ks }, a, out) => out.write(`+${ks.find(a, 1)?.kind ?? 'none'}\r\n`) },
  { name: 'DBSIZE', arity: 1, run: ({ db: ks }, _a, out) => writeInteger(out, ks.size) },
  {
    name: 'FLUSHALL',
    arity: -1,
    run: ({ db: ks }, _a, out) => {
      ks.clear()
      out.write(OK)
    },
  },
  {
    name: 'FLUSHDB',
    arity: -1,
    run: ({ db: ks }, _a, out) => {
      ks.clear()
      out.write(OK)
    },
  },
  { name: 'LPUSH', arity: -3, run: ({ db: ks }, a, out) => push(ks, a, out, true) },
  { name: 'RPUSH', arity: -3, run: ({ db: ks }, a, out) => push(ks, a, out, false) },
  { name: 'LPOP', arity: -2, run: ({ db: ks }, a, out) => pop(ks, a, out, true) },
  { name: 'RPOP', arity: -2, run: ({ db: ks }, a, out) => pop(ks, a, out, false) },
  {
    name: 'LLEN',
    arity: 2,
    run: ({ db: ks }, a, out) => {
      const l = getList(ks, a, out, false)
      if (l !== undefined) writeInteger(out, l?.length ?? 0)
    },
  },
  { name: 'LRANGE', arity: 4, run: (ctx, a, out) => range(ctx.db, a, out) },
  { name: 'SELECT', arity: 2, run: (_ks, a, out) => (a.string(1) === '0' ? out.write(OK) : writeError(out, 'ERR DB index is out of range')) },
  { name: 'COMMAND', arity: -1, run: (_ks, a, out) => (a.is(1, 'COUNT') ? writeInteger(out, DATA_COMMANDS.length) : writeArrayHeader(out, 0)) },
  { name: 'CONFIG', arity: -2, run: (ctx, a, out) => config(ctx.db, a, out) },
  { name: 'HELLO', arity: -1, run: (ctx, a, out) => hello(ctx.db, a, out) },
  { name: 'CLIENT', arity: -2, run: (ctx, a, out) => client(ctx.db, a, out) },
  {
    name: 'INFO',
    arity: -1,
    run: ({ db: ks }, _a, out) => writeBulk(out, `# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\n# Keyspace\r\ndb0:keys=${ks.size},expires=0\r\n`),
  },
]

/** Longest command name, bytes. */
const MAX_NAME = 15
/**
 * Commands by name length and first letter (`(length << 5) | (letter & 0x1f)`): the name is
 * matched on its bytes, case-folded, with no string made; most slots hold one command.
 */
const BY_NAME: (Command[] | null)[] = Array.from({ length: (MAX_NAME + 1) << 5 }, () => null) // filled, not sparse: a fast array
for (const command of DATA_COMMANDS) {
  const slot = (command.name.length << 5) | (command.name.charCodeAt(0) & 0x1f)
  BY_NAME[slot] ??= []
  BY_NAME[slot].push(command)
}

function findCommand(a: Args): Command | undefined {
  const n = a.length(0)
  if (n === 0 || n > MAX_NAME) return undefined
  const candidates = BY_NAME[(n << 5) | ((a.data[a.starts[0] as number] as number) & 0x1f)]
  if (candidates === null || candidates === undefined) return undefined
  for (let i = 0; i < candidates.length; i++) {
    const command = candidates[i] as Command
    if (a.is(0, command.name)) return command
  }
  return undefined
}
