/**
 * The in-memory data of the RESP server: strings and lists with expiry, and the commands on them.
 * Keys are Buffers decoded as latin1 strings, so any byte sequence is a key.
 */
import { Deque } from './deque.js'
import { NULL_BULK, OK, PONG, type Reply, writeArrayHeader, writeBulk, writeBulkArray, writeError, writeInteger } from './reply.js'

type Entry = { kind: 'string'; value: Buffer; expireAt: number } | { kind: 'list'; value: Deque<Buffer>; expireAt: number }

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'
const NOT_INTEGER = 'ERR value is not an integer or out of range'
const SYNTAX = 'ERR syntax error'
/** Expiry: no expiry set. */
const NEVER = Number.POSITIVE_INFINITY

type Handler = (ks: Keyspace, args: Buffer[], out: Reply) => void
interface Command {
  /** Argument count including the name; negative means "at least -arity" (Redis' convention). */
  arity: number
  run: Handler
}

export class Keyspace {
  readonly #data = new Map<string, Entry>()
  /** Clock for expiry, ms (injectable for tests). */
  readonly now: () => number

  constructor(now: () => number = Date.now) {
    this.now = now
  }

  get size(): number {
    return this.#data.size
  }

  /** Runs command `name` (upper case) with `args` (args[0] is the name) and writes its reply. */
  execute(name: string, args: Buffer[], out: Reply): void {
    const command = COMMANDS.get(name)
    if (command === undefined) {
      const shown = (args[0] as Buffer).toString('latin1').slice(0, 128)
      writeError(
        out,
        `ERR unknown command '${shown}', with args beginning with: ${args
          .slice(1, 4)
          .map((a) => `'${a.toString('latin1').slice(0, 64)}'`)
          .join(' ')}`,
      )
      return
    }
    if (command.arity > 0 ? args.length !== command.arity : args.length < -command.arity) {
      writeError(out, `ERR wrong number of arguments for '${name.toLowerCase()}' command`)
      return
    }
    command.run(this, args, out)
  }

  /** The live entry at `key`, dropping it if it expired. */
  get(key: string): Entry | undefined {
    const entry = this.#data.get(key)
    if (entry !== undefined && entry.expireAt <= this.now()) {
      this.#data.delete(key)
      return undefined
    }
    return entry
  }

  set(key: string, entry: Entry): void {
    this.#data.set(key, entry)
  }

  delete(key: string): boolean {
    return this.get(key) !== undefined && this.#data.delete(key)
  }

  clear(): void {
    this.#data.clear()
  }

  /** Removes up to `budget` expired keys; called periodically so unread expired keys do not pile up. */
  sweep(budget = 100): number {
    const now = this.now()
    let removed = 0
    let looked = 0
    for (const [key, entry] of this.#data) {
      if (++looked > budget) break
      if (entry.expireAt <= now) {
        this.#data.delete(key)
        removed++
      }
    }
    return removed
  }
}

const key = (b: Buffer | undefined): string => (b as Buffer).toString('latin1')
const upper = (b: Buffer | undefined): string => (b as Buffer).toString('latin1').toUpperCase()

/** Parses a strict decimal integer (no spaces, no '+'), as Redis' string2ll; null if not one. */
export function parseInteger(b: Buffer | undefined): number | null {
  if (b === undefined || b.length === 0 || b.length > 20) return null
  const text = b.toString('latin1')
  if (!/^-?(0|[1-9]\d*)$/.test(text)) return null
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : null
}

function getString(ks: Keyspace, k: string, out: Reply): Buffer | null | undefined {
  const entry = ks.get(k)
  if (entry === undefined) return null
  if (entry.kind !== 'string') {
    writeError(out, WRONGTYPE)
    return undefined
  }
  return entry.value
}

function incrBy(ks: Keyspace, k: string, delta: number, out: Reply): void {
  const entry = ks.get(k)
  if (entry !== undefined && entry.kind !== 'string') return void writeError(out, WRONGTYPE)
  const current = entry === undefined ? 0 : parseInteger(entry.value)
  if (current === null) return void writeError(out, NOT_INTEGER)
  const next = current + delta
  if (!Number.isSafeInteger(next)) return void writeError(out, 'ERR increment or decrement would overflow')
  ks.set(k, { kind: 'string', value: Buffer.from(String(next)), expireAt: entry?.expireAt ?? NEVER })
  writeInteger(out, next)
}

function getList(ks: Keyspace, k: string, out: Reply, create: boolean): Deque<Buffer> | null | undefined {
  const entry = ks.get(k)
  if (entry === undefined) {
    if (!create) return null
    const list = new Deque<Buffer>()
    ks.set(k, { kind: 'list', value: list, expireAt: NEVER })
    return list
  }
  if (entry.kind !== 'list') {
    writeError(out, WRONGTYPE)
    return undefined
  }
  return entry.value
}

function push(ks: Keyspace, args: Buffer[], out: Reply, left: boolean): void {
  const list = getList(ks, key(args[1]), out, true)
  if (!list) return
  for (let i = 2; i < args.length; i++) {
    if (left) list.pushFront(args[i] as Buffer)
    else list.pushBack(args[i] as Buffer)
  }
  writeInteger(out, list.length)
}

function pop(ks: Keyspace, args: Buffer[], out: Reply, left: boolean): void {
  if (args.length > 3) return void writeError(out, SYNTAX)
  const k = key(args[1])
  const list = getList(ks, k, out, false)
  if (list === undefined) return
  const count = args[2] === undefined ? null : parseInteger(args[2])
  if (args[2] !== undefined && (count === null || count < 0)) return void writeError(out, 'ERR value is out of range, must be positive')
  if (list === null) return void out.write(count === null ? NULL_BULK : '*-1\r\n')
  const taken: Buffer[] = []
  for (let i = 0; i < (count ?? 1) && list.length > 0; i++) taken.push((left ? list.popFront() : list.popBack()) as Buffer)
  if (list.length === 0) ks.delete(k)
  if (count === null) writeBulk(out, taken[0])
  else writeBulkArray(out, taken)
}

function expire(ks: Keyspace, args: Buffer[], out: Reply, unit: number): void {
  const amount = parseInteger(args[2])
  if (amount === null) return void writeError(out, NOT_INTEGER)
  const entry = ks.get(key(args[1]))
  if (entry === undefined) return void writeInteger(out, 0)
  if (amount <= 0) ks.delete(key(args[1]))
  else entry.expireAt = ks.now() + amount * unit
  writeInteger(out, 1)
}

function ttl(ks: Keyspace, args: Buffer[], out: Reply, unit: number): void {
  const entry = ks.get(key(args[1]))
  if (entry === undefined) return void writeInteger(out, -2)
  if (entry.expireAt === NEVER) return void writeInteger(out, -1)
  writeInteger(out, Math.max(0, Math.round((entry.expireAt - ks.now()) / unit)))
}

function set(ks: Keyspace, args: Buffer[], out: Reply): void {
  const k = key(args[1])
  let expireAt = NEVER
  let keepTtl = false
  let condition: 'NX' | 'XX' | null = null
  let returnOld = false
  for (let i = 3; i < args.length; i++) {
    const option = upper(args[i])
    if (option === 'NX' || option === 'XX') {
      if (condition !== null && condition !== option) return void writeError(out, SYNTAX)
      condition = option
    } else if (option === 'EX' || option === 'PX' || option === 'EXAT' || option === 'PXAT') {
      const amount = parseInteger(args[++i])
      if (amount === null) return void writeError(out, args[i] === undefined ? SYNTAX : NOT_INTEGER)
      if (amount <= 0) return void writeError(out, "ERR invalid expire time in 'set' command")
      if (expireAt !== NEVER || keepTtl) return void writeError(out, SYNTAX)
      expireAt = option === 'EX' ? ks.now() + amount * 1000 : option === 'PX' ? ks.now() + amount : option === 'EXAT' ? amount * 1000 : amount
    } else if (option === 'KEEPTTL') {
      if (expireAt !== NEVER) return void writeError(out, SYNTAX)
      keepTtl = true
    } else if (option === 'GET') {
      returnOld = true
    } else {
      return void writeError(out, SYNTAX)
    }
  }
  const old = ks.get(k)
  if (returnOld && old !== undefined && old.kind !== 'string') return void writeError(out, WRONGTYPE)
  const reply = (): void => (returnOld ? writeBulk(out, old?.kind === 'string' ? old.value : null) : void out.write(OK))
  if ((condition === 'NX' && old !== undefined) || (condition === 'XX' && old === undefined)) {
    if (returnOld) writeBulk(out, old?.kind === 'string' ? old.value : null)
    else out.write(NULL_BULK)
    return
  }
  ks.set(k, { kind: 'string', value: args[2] as Buffer, expireAt: keepTtl && old !== undefined ? old.expireAt : expireAt })
  reply()
}

function range(ks: Keyspace, args: Buffer[], out: Reply): void {
  const start = parseInteger(args[2])
  const stop = parseInteger(args[3])
  if (start === null || stop === null) return void writeError(out, NOT_INTEGER)
  const list = getList(ks, key(args[1]), out, false)
  if (list === undefined) return
  if (list === null) return void writeArrayHeader(out, 0)
  const n = list.length
  const from = Math.max(0, start < 0 ? n + start : start)
  const to = Math.min(n - 1, stop < 0 ? n + stop : stop)
  writeBulkArray(out, list.slice(from, to))
}

/** CONFIG GET answers for what clients and redis-benchmark ask at start-up. */
const CONFIG: Record<string, string> = { save: '', appendonly: 'no', databases: '1', maxmemory: '0', timeout: '0' }

function config(_ks: Keyspace, args: Buffer[], out: Reply): void {
  const sub = upper(args[1])
  if (sub === 'GET') {
    const pairs: string[] = []
    for (const pattern of args.slice(2).map((a) => a.toString('latin1').toLowerCase())) {
      for (const [name, value] of Object.entries(CONFIG)) {
        if (pattern === '*' || pattern === name) pairs.push(name, value)
      }
    }
    return void writeBulkArray(out, pairs)
  }
  if (sub === 'SET' || sub === 'RESETSTAT') return void out.write(OK)
  writeError(out, `ERR unknown subcommand '${args[1]?.toString('latin1')}'`)
}

function hello(_ks: Keyspace, args: Buffer[], out: Reply): void {
  if (args[1] !== undefined && args[1].toString('latin1') !== '2') return void writeError(out, 'NOPROTO unsupported protocol version')
  const fields: (string | number)[] = ['server', 'redis', 'version', '7.0.0', 'proto', 2, 'id', 1, 'mode', 'standalone', 'role', 'master']
  writeArrayHeader(out, fields.length + 2)
  for (const f of fields) typeof f === 'number' ? writeInteger(out, f) : writeBulk(out, f)
  writeBulk(out, 'modules')
  writeArrayHeader(out, 0)
}

function client(_ks: Keyspace, args: Buffer[], out: Reply): void {
  const sub = upper(args[1])
  if (sub === 'GETNAME') return void writeBulk(out, null)
  if (sub === 'ID') return void writeInteger(out, 1)
  if (sub === 'INFO' || sub === 'LIST') return void writeBulk(out, 'id=1 addr=? name= db=0\n')
  out.write(OK) // SETNAME, SETINFO, NO-EVICT, REPLY ON, ...: accepted and ignored
}

const COMMANDS = new Map<string, Command>([
  [
    'PING',
    {
      arity: -1,
      run: (_ks, a, out) =>
        a.length > 2 ? writeError(out, "ERR wrong number of arguments for 'ping' command") : a[1] ? writeBulk(out, a[1]) : out.write(PONG),
    },
  ],
  ['ECHO', { arity: 2, run: (_ks, a, out) => writeBulk(out, a[1]) }],
  [
    'GET',
    {
      arity: 2,
      run: (ks, a, out) => {
        const v = getString(ks, key(a[1]), out)
        if (v !== undefined) writeBulk(out, v)
      },
    },
  ],
  ['SET', { arity: -3, run: set }],
  ['DEL', { arity: -2, run: (ks, a, out) => writeInteger(out, a.slice(1).filter((k) => ks.delete(key(k))).length) }],
  ['UNLINK', { arity: -2, run: (ks, a, out) => writeInteger(out, a.slice(1).filter((k) => ks.delete(key(k))).length) }],
  ['EXISTS', { arity: -2, run: (ks, a, out) => writeInteger(out, a.slice(1).filter((k) => ks.get(key(k)) !== undefined).length) }],
  ['INCR', { arity: 2, run: (ks, a, out) => incrBy(ks, key(a[1]), 1, out) }],
  ['DECR', { arity: 2, run: (ks, a, out) => incrBy(ks, key(a[1]), -1, out) }],
  [
    'INCRBY',
    {
      arity: 3,
      run: (ks, a, out) => {
        const d = parseInteger(a[2])
        d === null ? writeError(out, NOT_INTEGER) : incrBy(ks, key(a[1]), d, out)
      },
    },
  ],
  [
    'DECRBY',
    {
      arity: 3,
      run: (ks, a, out) => {
        const d = parseInteger(a[2])
        d === null ? writeError(out, NOT_INTEGER) : incrBy(ks, key(a[1]), -d, out)
      },
    },
  ],
  [
    'MGET',
    {
      arity: -2,
      run: (ks, a, out) => {
        writeArrayHeader(out, a.length - 1)
        for (const k of a.slice(1)) {
          const e = ks.get(key(k))
          writeBulk(out, e?.kind === 'string' ? e.value : null)
        }
      },
    },
  ],
  [
    'MSET',
    {
      arity: -3,
      run: (ks, a, out) => {
        if (a.length % 2 === 0) return void writeError(out, "ERR wrong number of arguments for 'mset' command")
        for (let i = 1; i < a.length; i += 2) ks.set(key(a[i]), { kind: 'string', value: a[i + 1] as Buffer, expireAt: NEVER })
        out.write(OK)
      },
    },
  ],
  ['EXPIRE', { arity: 3, run: (ks, a, out) => expire(ks, a, out, 1000) }],
  ['PEXPIRE', { arity: 3, run: (ks, a, out) => expire(ks, a, out, 1) }],
  ['TTL', { arity: 2, run: (ks, a, out) => ttl(ks, a, out, 1000) }],
  ['PTTL', { arity: 2, run: (ks, a, out) => ttl(ks, a, out, 1) }],
  [
    'PERSIST',
    {
      arity: 2,
      run: (ks, a, out) => {
        const e = ks.get(key(a[1]))
        if (e === undefined || e.expireAt === NEVER) return void writeInteger(out, 0)
        e.expireAt = NEVER
        writeInteger(out, 1)
      },
    },
  ],
  ['TYPE', { arity: 2, run: (ks, a, out) => out.write(`+${ks.get(key(a[1]))?.kind ?? 'none'}\r\n`) }],
  ['DBSIZE', { arity: 1, run: (ks, _a, out) => writeInteger(out, ks.size) }],
  [
    'FLUSHALL',
    {
      arity: -1,
      run: (ks, _a, out) => {
        ks.clear()
        out.write(OK)
      },
    },
  ],
  [
    'FLUSHDB',
    {
      arity: -1,
      run: (ks, _a, out) => {
        ks.clear()
        out.write(OK)
      },
    },
  ],
  ['LPUSH', { arity: -3, run: (ks, a, out) => push(ks, a, out, true) }],
  ['RPUSH', { arity: -3, run: (ks, a, out) => push(ks, a, out, false) }],
  ['LPOP', { arity: -2, run: (ks, a, out) => pop(ks, a, out, true) }],
  ['RPOP', { arity: -2, run: (ks, a, out) => pop(ks, a, out, false) }],
  [
    'LLEN',
    {
      arity: 2,
      run: (ks, a, out) => {
        const l = getList(ks, key(a[1]), out, false)
        if (l !== undefined) writeInteger(out, l?.length ?? 0)
      },
    },
  ],
  ['LRANGE', { arity: 4, run: range }],
  ['SELECT', { arity: 2, run: (_ks, a, out) => (a[1]?.toString('latin1') === '0' ? out.write(OK) : writeError(out, 'ERR DB index is out of range')) }],
  [
    'COMMAND',
    { arity: -1, run: (_ks, a, out) => (a[1] !== undefined && upper(a[1]) === 'COUNT' ? writeInteger(out, COMMANDS.size) : writeArrayHeader(out, 0)) },
  ],
  ['CONFIG', { arity: -2, run: config }],
  ['HELLO', { arity: -1, run: hello }],
  ['CLIENT', { arity: -2, run: client }],
  [
    'INFO',
    {
      arity: -1,
      run: (ks, _a, out) => writeBulk(out, `# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\n# Keyspace\r\ndb0:keys=${ks.size},expires=0\r\n`),
    },
  ],
])
