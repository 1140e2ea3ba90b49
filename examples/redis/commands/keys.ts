/** Commands on keys whatever they hold: existence, deletion, type, renaming, expiry, listing, encoding. */
import type { Args } from '../args.js'
import type { Command, CommandContext } from '../command.js'
import { globMatch } from '../glob.js'
import { type Keyspace, NEVER, type StoredEntry } from '../keyspace.js'
import { OK, type Reply, writeArrayHeader, writeBulk, writeError, writeInteger, writeNull } from '../reply.js'
import { invalidExpireTime, NO_SUCH_KEY, NOT_INTEGER, SYNTAX } from './errors.js'
import { anyExpiry, applyExpiry, EX, EXAT, type ExpiryUnit, PX, PXAT } from './expiry.js'
import { scan } from './scan.js'

/** Longest string Redis keeps as "embstr" (OBJECT ENCODING); longer ones are "raw". */
const EMBSTR_MAX = 44

/** Counts the keys among arguments 1.. for which `test` holds. */
function countKeys(a: Args, test: (i: number) => boolean): number {
  let n = 0
  for (let i = 1; i < a.count; i++) if (test(i)) n++
  return n
}

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key amount [NX | XX | GT | LT] */
function expire({ db: ks }: CommandContext, a: Args, out: Reply, unit: ExpiryUnit, command: string): void {
  let nx = false
  let xx = false
  let gt = false
  let lt = false
  for (let i = 3; i < a.count; i++) {
    if (a.is(i, 'NX')) nx = true
    else if (a.is(i, 'XX')) xx = true
    else if (a.is(i, 'GT')) gt = true
    else if (a.is(i, 'LT')) lt = true
    else return void writeError(out, `ERR Unsupported option ${a.string(i)}`)
  }
  if (nx && (xx || gt || lt)) return void writeError(out, 'ERR NX and XX, GT or LT options at the same time are not compatible')
  if (gt && lt) return void writeError(out, 'ERR GT and LT options at the same time are not compatible')
  const amount = a.integer(2)
  if (amount === null) return void writeError(out, NOT_INTEGER)
  const at = anyExpiry(amount, unit, ks.now())
  if (at === null) return void writeError(out, invalidExpireTime(command))
  const entry = ks.find(a, 1)
  if (entry === undefined) return void writeInteger(out, 0)
  const current = entry.expireAt // NEVER counts as an infinite TTL: GT never passes it, LT always does
  if ((nx && current !== NEVER) || (xx && current === NEVER) || (gt && (current === NEVER || at <= current)) || (lt && current !== NEVER && at >= current)) {
    return void writeInteger(out, 0)
  }
  applyExpiry(ks, entry, at)
  writeInteger(out, 1)
}

/** TTL, PTTL (remaining time) and EXPIRETIME, PEXPIRETIME (the absolute time), in `unit` ms. */
function ttl(ks: Keyspace, a: Args, out: Reply, unit: number, absolute: boolean): void {
  const entry = ks.find(a, 1)
  if (entry === undefined) return void writeInteger(out, -2)
  if (entry.expireAt === NEVER) return void writeInteger(out, -1)
  if (absolute) return void writeInteger(out, Math.floor(entry.expireAt / unit))
  const left = Math.max(0, entry.expireAt - ks.now())
  writeInteger(out, unit === 1 ? left : Math.floor((left + 500) / 1000))
}

/** RENAME and RENAMENX: the value and its expiry move to the new key. */
function rename(ks: Keyspace, a: Args, out: Reply, onlyNew: boolean): void {
  const source = ks.find(a, 1)
  if (source === undefined) return void writeError(out, NO_SUCH_KEY)
  if (a.view(1).equals(a.view(2))) return void (onlyNew ? writeInteger(out, 0) : out.write(OK))
  if (onlyNew && ks.find(a, 2) !== undefined) return void writeInteger(out, 0)
  ks.take(a, 1)
  ks.adoptAs(a, 2, source)
  if (onlyNew) writeInteger(out, 1)
  else out.write(OK)
}

/** What OBJECT ENCODING answers for `entry`, as Redis 7.0 would encode the same value. */
export function encodingOf(entry: StoredEntry): string {
  switch (entry.kind) {
    case 'string': {
      const n = entry.value.length
      if (entry.encoding === 'raw') return 'raw'
      if (entry.encoding === 'value' && n <= 20 && isInt64(entry.value)) return 'int'
      return n <= EMBSTR_MAX ? 'embstr' : 'raw'
    }
    case 'list':
      return 'quicklist'
    case 'hash':
      return entry.isListpack ? 'listpack' : 'hashtable'
    case 'set':
      return entry.isIntset ? 'intset' : 'hashtable'
  }
}

function isInt64(bytes: Uint8Array): boolean {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')
  return /^(0|-?[1-9]\d*)$/.test(text) && BigInt(text) >= -(2n ** 63n) && BigInt(text) < 2n ** 63n
}

const OBJECT_HELP = [
  'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ENCODING <key>',
  '    Return the kind of internal representation used in order to store the value',
  '    associated with a <key>.',
  'FREQ <key>',
  '    Return the access frequency index of the <key>. The returned integer is',
  '    proportional to the logarithm of the recent access frequency of the key.',
  'IDLETIME <key>',
  '    Return the idle time of the <key>, that is the approximated number of',
  '    seconds elapsed since the last access to the key.',
  'REFCOUNT <key>',
  '    Return the number of references of the value associated with the specified',
  '    <key>.',
  'HELP',
  '    Prints this help.',
]

/** OBJECT ENCODING | FREQ | HELP (IDLETIME and REFCOUNT are not tracked: answered as unknown). */
function object({ db: ks, resp }: CommandContext, a: Args, out: Reply): void {
  const sub = a.is(1, 'ENCODING') ? 'encoding' : a.is(1, 'FREQ') ? 'freq' : a.is(1, 'HELP') ? 'help' : null
  if (sub === null) return void writeError(out, `ERR unknown subcommand '${a.string(1).slice(0, 128)}'. Try OBJECT HELP.`)
  if (a.count !== (sub === 'help' ? 2 : 3)) return void writeError(out, `ERR wrong number of arguments for 'object|${sub}' command`)
  if (sub === 'help') {
    writeArrayHeader(out, OBJECT_HELP.length)
    for (const line of OBJECT_HELP) out.write(`+${line}\r\n`)
    return
  }
  const entry = ks.find(a, 2)
  if (entry === undefined) return void writeNull(out, resp)
  if (sub === 'freq') {
    return void writeError(
      out,
      'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
    )
  }
  writeBulk(out, encodingOf(entry))
}

function keys({ db: ks }: CommandContext, a: Args, out: Reply): void {
  const pattern = a.string(1)
  const all = pattern === '*'
  const found: string[] = []
  ks.forEach((entry) => {
    if ((all || globMatch(pattern, entry.key)) && !ks.isExpired(entry)) found.push(entry.key)
  })
  writeArrayHeader(out, found.length)
  for (const key of found) writeBulk(out, key)
}

export const KEY_COMMANDS: readonly Command[] = [
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
  {
    name: 'TOUCH',
    arity: -2,
    run: ({ db: ks }, a, out) =>
      writeInteger(
        out,
        countKeys(a, (i) => ks.find(a, i) !== undefined),
      ),
  },
  { name: 'TYPE', arity: 2, run: ({ db: ks }, a, out) => out.write(`+${ks.find(a, 1)?.kind ?? 'none'}\r\n`) },
  { name: 'RENAME', arity: 3, run: ({ db: ks }, a, out) => rename(ks, a, out, false) },
  { name: 'RENAMENX', arity: 3, run: ({ db: ks }, a, out) => rename(ks, a, out, true) },
  { name: 'EXPIRE', arity: -3, run: (ctx, a, out) => expire(ctx, a, out, EX, 'expire') },
  { name: 'PEXPIRE', arity: -3, run: (ctx, a, out) => expire(ctx, a, out, PX, 'pexpire') },
  { name: 'EXPIREAT', arity: -3, run: (ctx, a, out) => expire(ctx, a, out, EXAT, 'expireat') },
  { name: 'PEXPIREAT', arity: -3, run: (ctx, a, out) => expire(ctx, a, out, PXAT, 'pexpireat') },
  { name: 'TTL', arity: 2, run: ({ db: ks }, a, out) => ttl(ks, a, out, 1000, false) },
  { name: 'PTTL', arity: 2, run: ({ db: ks }, a, out) => ttl(ks, a, out, 1, false) },
  { name: 'EXPIRETIME', arity: 2, run: ({ db: ks }, a, out) => ttl(ks, a, out, 1000, true) },
  { name: 'PEXPIRETIME', arity: 2, run: ({ db: ks }, a, out) => ttl(ks, a, out, 1, true) },
  {
    name: 'PERSIST',
    arity: 2,
    run: ({ db: ks }, a, out) => {
      const e = ks.find(a, 1)
      if (e === undefined || e.expireAt === NEVER) return void writeInteger(out, 0)
      ks.setExpiry(e, NEVER)
      writeInteger(out, 1)
    },
  },
  { name: 'DBSIZE', arity: 1, run: ({ db: ks }, _a, out) => writeInteger(out, ks.size) },
  {
    name: 'FLUSHDB',
    arity: -1,
    run: ({ db: ks }, a, out) => {
      if (a.count > 2 || (a.count === 2 && !a.is(1, 'SYNC') && !a.is(1, 'ASYNC'))) return void writeError(out, SYNTAX)
      ks.clear()
      out.write(OK)
    },
  },
  {
    name: 'RANDOMKEY',
    arity: 1,
    run: ({ db: ks, resp }, _a, out) => {
      const entry = ks.randomKey()
      if (entry === undefined) writeNull(out, resp)
      else writeBulk(out, entry.key)
    },
  },
  { name: 'KEYS', arity: 2, run: keys },
  { name: 'SCAN', arity: -2, run: scan },
  { name: 'OBJECT', arity: -2, run: object },
]
