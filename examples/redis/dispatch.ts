/**
 * Finds and runs a connection's commands: the server commands (this connection's state, the
 * databases, transactions, pub/sub) first, then the data commands, in one table built once.
 *
 * The common case costs a table slot, a name compare, an arity check and one flag: no Map
 * lookup and no string per command. Everything a connection's mode changes (a MULTI being
 * queued, RESP2 subscribed mode, suppressed replies) is on the slow path, entered only while
 * `Session.isSlow` is set. Transactions live here too, since EXEC runs commands through the table.
 */
import { Args } from './args.js'
import { type Command, IN_SUBSCRIBED, isWord, NO_QUEUE, type ServerCommand, type Subcommand } from './command.js'
import { unknownCommand } from './commands/errors.js'
import { DATA_COMMANDS } from './keyspace.js'
import { PUBSUB_COMMANDS } from './pubsub-commands.js'
import { EMPTY_ARRAY, OK, type Reply, writeArrayHeader, writeBulk, writeError, writeInteger, writeMapHeader, writeNull } from './reply.js'
import { SERVER_COMMANDS } from './server-commands.js'
import type { Queued, Session } from './session.js'

/** A command as the table holds it: one shape for both tables, so the call site stays monomorphic. */
interface Entry {
  readonly name: string
  /** Lower-case name, for errors and CLIENT LIST. */
  readonly lower: string
  readonly arity: number
  readonly run: (s: Session, a: Args, out: Reply) => void
  readonly subcommands: readonly (Subcommand & { readonly full: string })[] | null
  readonly flags: number
}

const TRANSACTION_COMMANDS: readonly ServerCommand<Session>[] = [
  { name: 'MULTI', arity: 1, flags: NO_QUEUE, run: multi },
  { name: 'EXEC', arity: 1, flags: NO_QUEUE, run: exec },
  { name: 'DISCARD', arity: 1, flags: NO_QUEUE, run: discard },
  { name: 'WATCH', arity: -2, flags: NO_QUEUE, run: watch },
  {
    name: 'UNWATCH',
    arity: 1,
    run: (s, _a, out) => {
      s.unwatchAll()
      out.write(OK)
    },
  },
]

/** Longest command name, bytes. */
const MAX_NAME = 24
/**
 * Commands by name length and first letter (`(length << 5) | (letter & 0x1f)`): the name is
 * matched on its bytes, case-folded, with no string made; most slots hold one command.
 */
const BY_NAME: (Entry[] | null)[] = Array.from({ length: (MAX_NAME + 1) << 5 }, () => null) // filled, not sparse: a fast array

function add(command: ServerCommand<Session> | Command): void {
  const name = command.name
  if (name.length > MAX_NAME) throw new Error(`command name too long: ${name}`)
  const slot = (name.length << 5) | (name.charCodeAt(0) & 0x1f)
  BY_NAME[slot] ??= []
  const list = BY_NAME[slot]
  if (list.some((e) => e.name === name)) return // a server command shadows the data command of the same name
  const server = command as ServerCommand<Session>
  const lower = name.toLowerCase()
  list.push({
    name,
    lower,
    arity: command.arity,
    run: command.run,
    subcommands: server.subcommands?.map((sub) => ({ ...sub, full: `${lower}|${sub.name.toLowerCase()}` })) ?? null,
    flags: server.flags ?? 0,
  })
}
add({
  name: 'COMMAND',
  arity: -1,
  subcommands: [
    { name: 'COUNT', arity: 2 },
    { name: 'DOCS', arity: -2 },
    { name: 'INFO', arity: -2 },
    { name: 'LIST', arity: -2 },
    { name: 'HELP', arity: 2 },
  ],
  run: command,
})
for (const command of TRANSACTION_COMMANDS) add(command)
for (const command of SERVER_COMMANDS) add(command)
for (const command of PUBSUB_COMMANDS) add(command)
for (const command of DATA_COMMANDS) add(command)

/** Number of commands in the table (COMMAND COUNT). */
export const COMMAND_COUNT = BY_NAME.reduce((n, list) => n + (list?.length ?? 0), 0)

function find(a: Args): Entry | undefined {
  const n = a.length(0)
  if (n === 0 || n > MAX_NAME) return undefined
  const candidates = BY_NAME[(n << 5) | ((a.data[a.starts[0] as number] as number) & 0x1f)]
  if (candidates === null || candidates === undefined) return undefined
  for (let i = 0; i < candidates.length; i++) {
    const entry = candidates[i] as Entry
    if (isWord(a, 0, entry.name)) return entry
  }
  return undefined
}

/** Runs the command in `a` (argument 0 is its name, in any case) for `s`; its reply goes to `out`. */
export function execute(s: Session, a: Args, out: Reply): void {
  const entry = find(a)
  if (entry === undefined) return void reject(s, unknownCommand(a), out)
  if (entry.arity > 0 ? a.count !== entry.arity : a.count < -entry.arity) return void rejectArity(s, entry.lower, entry === EXEC_ENTRY, out)
  let full = entry.lower
  if (entry.subcommands !== null && a.count >= 2) {
    const sub = findSubcommand(entry, a)
    if (sub === undefined) return void reject(s, `ERR unknown subcommand '${a.string(1).slice(0, 128)}'. Try ${entry.name} HELP.`, out)
    if (sub.arity > 0 ? a.count !== sub.arity : a.count < -sub.arity) return void rejectArity(s, sub.full, false, out)
    full = sub.full
  }
  s.commands++
  if (s.isSlow) return void executeSlow(s, entry, full, a, out)
  s.lastCommand = full
  entry.run(s, a, out)
}

const EXEC_ENTRY = find(argsOf(['EXEC']))

function findSubcommand(entry: Entry, a: Args): (Subcommand & { readonly full: string }) | undefined {
  for (const sub of entry.subcommands ?? []) if (isWord(a, 1, sub.name)) return sub
  return undefined
}

/** A command while in MULTI, subscribed (RESP2) or with replies off. */
function executeSlow(s: Session, entry: Entry, full: string, a: Args, out: Reply): void {
  if (s.resp === 2 && s.subscriptions > 0 && (entry.flags & IN_SUBSCRIBED) === 0) {
    return void reject(s, `ERR Can't execute '${full}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`, out)
  }
  // CLIENT REPLY OFF or SKIP: this command's reply (+QUEUED included) goes nowhere.
  let sink = out
  if (s.isReplyOff || s.skipReplies > 0) {
    sink = NO_REPLY
    if (s.skipReplies > 0) s.skipReplies--
  }
  if (s.multi !== null && (entry.flags & NO_QUEUE) === 0) {
    const q = queue(a)
    s.multiBytes += q.data.length
    if (s.multiBytes > s.server.maxQueuedBytes) {
      s.multiFailed = true
      writeError(sink, `ERR the transaction would queue more than ${s.server.maxQueuedBytes} bytes`)
    } else {
      s.multi.push(q)
      sink.write('+QUEUED\r\n')
    }
  } else {
    s.lastCommand = full
    entry.run(s, a, sink)
  }
  s.update()
}

/** Where suppressed replies go (CLIENT REPLY OFF / SKIP). */
const NO_REPLY: Reply = { write: () => undefined }

/** An error before the command ran: inside MULTI it also dooms the transaction (EXECABORT). */
function reject(s: Session, message: string, out: Reply): void {
  if (s.multi !== null) s.multiFailed = true
  writeError(s.isReplyOff || s.skipReplies > 0 ? NO_REPLY : out, message)
}

function rejectArity(s: Session, full: string, isExec: boolean, out: Reply): void {
  const message = `wrong number of arguments for '${full}' command`
  if (isExec) {
    // Redis aborts the transaction at once when EXEC itself is malformed, inside MULTI or not.
    s.discard()
    writeError(out, `EXECABORT Transaction discarded because of: ${message}`)
    return
  }
  reject(s, `ERR ${message}`, out)
}

function argsOf(words: readonly string[]): Args {
  const a = new Args()
  a.data = Buffer.from(words.join(''), 'latin1')
  let at = 0
  for (const w of words) {
    a.push(at, at + w.length)
    at += w.length
  }
  return a
}

// --- COMMAND ----------------------------------------------------------------------------------

/** Every entry of the table, in name order. */
function entries(): Entry[] {
  return BY_NAME.flatMap((list) => list ?? []).sort((x, y) => (x.name < y.name ? -1 : 1))
}

/** COMMAND INFO's shape for one command: name, arity, and empty flags, key positions and the rest (we do not track them). */
function writeInfo(out: Reply, e: Entry): void {
  writeArrayHeader(out, 10)
  writeBulk(out, e.lower)
  writeInteger(out, e.arity)
  out.write('*0\r\n:0\r\n:0\r\n:0\r\n*0\r\n*0\r\n*0\r\n')
  writeArrayHeader(out, e.subcommands?.length ?? 0)
  for (const sub of e.subcommands ?? []) {
    writeArrayHeader(out, 10)
    writeBulk(out, sub.full)
    writeInteger(out, sub.arity)
    out.write('*0\r\n:0\r\n:0\r\n:0\r\n*0\r\n*0\r\n*0\r\n*0\r\n')
  }
}

/**
 * COMMAND [COUNT | DOCS | INFO | LIST]. redis-cli asks COMMAND DOCS at start-up for its hints:
 * an empty answer makes it use its own.
 */
function command(s: Session, a: Args, out: Reply): void {
  if (a.count === 1) {
    const all = entries()
    writeArrayHeader(out, all.length)
    for (const e of all) writeInfo(out, e)
  } else if (isWord(a, 1, 'COUNT')) {
    writeInteger(out, COMMAND_COUNT)
  } else if (isWord(a, 1, 'DOCS')) {
    writeMapHeader(out, s.resp, 0)
  } else if (isWord(a, 1, 'INFO')) {
    writeArrayHeader(out, a.count - 2)
    for (let i = 2; i < a.count; i++) {
      const one = argsOf([a.string(i)])
      const e = find(one)
      if (e === undefined) writeNull(out, s.resp)
      else writeInfo(out, e)
    }
  } else if (isWord(a, 1, 'LIST')) {
    const all = entries()
    writeArrayHeader(out, all.length)
    for (const e of all) writeBulk(out, e.lower)
  } else {
    writeArrayHeader(out, 1)
    out.write('+COMMAND [COUNT | DOCS [<name> ...] | INFO [<name> ...] | LIST | HELP]\r\n')
  }
}

// --- Transactions ------------------------------------------------------------------------------

/** Copies the arguments of `a` out of the input, to run at EXEC. */
function queue(a: Args): Queued {
  let size = 0
  for (let i = 0; i < a.count; i++) size += a.length(i)
  const data = Buffer.allocUnsafe(size)
  const starts: number[] = []
  const ends: number[] = []
  let at = 0
  for (let i = 0; i < a.count; i++) {
    starts.push(at)
    at += a.data.copy(data, at, a.starts[i], a.ends[i])
    ends.push(at)
  }
  return { data, starts, ends }
}

function multi(s: Session, _a: Args, out: Reply): void {
  if (s.multi !== null) return void writeError(out, 'ERR MULTI calls can not be nested')
  s.multi = []
  s.multiFailed = false
  s.multiBytes = 0
  s.update()
  out.write(OK)
}

function discard(s: Session, _a: Args, out: Reply): void {
  if (s.multi === null) return void writeError(out, 'ERR DISCARD without MULTI')
  s.discard()
  out.write(OK)
}

function watch(s: Session, a: Args, out: Reply): void {
  if (s.multi !== null) return void writeError(out, 'ERR WATCH inside MULTI is not allowed')
  for (let i = 1; i < a.count; i++) s.watch(a.string(i))
  out.write(OK)
}

function exec(s: Session, _a: Args, out: Reply): void {
  const queued = s.multi
  if (queued === null) return void writeError(out, 'ERR EXEC without MULTI')
  const failed = s.multiFailed
  s.checkWatchedExpiry()
  const dirty = s.isDirty
  s.discard()
  if (failed) return void writeError(out, 'EXECABORT Transaction discarded because of previous errors.')
  if (dirty) return void writeNull(out, s.resp, true)
  if (queued.length === 0) return void out.write(EMPTY_ARRAY)
  writeArrayHeader(out, queued.length)
  const args = new Args()
  for (const q of queued) {
    args.data = q.data
    args.count = 0
    for (let i = 0; i < q.starts.length; i++) args.push(q.starts[i] as number, q.ends[i] as number)
    // Checked when queued: the command exists and its arity is right.
    const entry = find(args) as Entry
    s.lastCommand = entry.lower
    entry.run(s, args, out)
  }
}
