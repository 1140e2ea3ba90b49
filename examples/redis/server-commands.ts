/**
 * The server commands of one connection, with Redis 7's replies and error texts: the connection
 * (PING, ECHO, QUIT, RESET, HELLO, AUTH, CLIENT), the databases (SELECT, MOVE, SWAPDB, FLUSHALL),
 * the server (CONFIG, INFO), the guard against HTTP requests, and the scripting commands this
 * server has no engine for. Transactions and COMMAND are in dispatch.ts, pub/sub in pubsub-commands.ts.
 */
import os from 'node:os'
import type { Args } from './args.js'
import { IN_SUBSCRIBED, isWord, NO_QUEUE, type ServerCommand } from './command.js'
import { globMatch } from './glob.js'
import type { Keyspace } from './keyspace.js'
import { unsubscribeAll } from './pubsub-commands.js'
import {
  OK,
  PONG,
  type Reply,
  writeArrayHeader,
  writeBulk,
  writeBulkBytes,
  writeError,
  writeInteger,
  writeMapHeader,
  writeNull,
  writeVerbatim,
} from './reply.js'
import { DATABASES } from './server-state.js'
import type { Session } from './session.js'

/** The Redis version this server answers as (the one its replies were checked against). */
export const REDIS_VERSION = '7.0.15'
const NOT_INTEGER = 'ERR value is not an integer or out of range'
const SYNTAX = 'ERR syntax error'
const OUT_OF_RANGE = 'ERR DB index is out of range'
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.'
const BAD_NAME = 'ERR Client names cannot contain spaces, newlines or special characters.'
const SCRIPTING = 'is not supported: this server has no scripting engine (EVAL, EVALSHA, SCRIPT, FUNCTION and FCALL need one)'
const STARTED = Date.now()

/** A database index argument: the index, or null after answering Redis' error. */
function dbIndex(a: Args, i: number, out: Reply, outOfRange = OUT_OF_RANGE): number | null {
  const n = a.integer(i)
  const error = n === null ? NOT_INTEGER : n < 0 || n >= DATABASES ? outOfRange : null
  if (error === null) return n
  writeError(out, error)
  return null
}

function ping(s: Session, a: Args, out: Reply): void {
  if (a.count > 2) return void writeError(out, "ERR wrong number of arguments for 'ping' command")
  if (s.resp === 2 && s.subscriptions > 0) {
    // Subscribed mode answers with a message-shaped array, as Redis does.
    writeArrayHeader(out, 2)
    writeBulk(out, 'pong')
    if (a.count === 2) writeBulkBytes(out, a.view(1))
    else writeBulk(out, '')
    return
  }
  if (a.count === 2) writeBulkBytes(out, a.view(1))
  else out.write(PONG)
}

/** Client names and library names are printable ASCII without spaces. */
function isPrintableWord(a: Args, i: number): boolean {
  const v = a.view(i)
  for (const c of v) if (c < 0x21 || c > 0x7e) return false
  return true
}

function hello(s: Session, a: Args, out: Reply): void {
  let version: number = s.resp
  let next = 1
  if (a.count >= 2) {
    const v = a.integer(1)
    if (v === null) return void writeError(out, 'ERR Protocol version is not an integer or out of range')
    if (v !== 2 && v !== 3) return void writeError(out, 'NOPROTO unsupported protocol version')
    version = v
    next = 2
  }
  let user: string | null = null
  let name: number | null = null
  for (let j = next; j < a.count; j++) {
    const more = a.count - 1 - j
    if (isWord(a, j, 'AUTH') && more >= 2) {
      user = a.string(j + 1)
      j += 2
    } else if (isWord(a, j, 'SETNAME') && more >= 1) {
      name = ++j
    } else {
      return void writeError(out, `ERR Syntax error in HELLO option '${a.string(j)}'`)
    }
  }
  // No password is configured: the default user takes any password, and no other user exists.
  if (user !== null && user !== 'default') return void writeError(out, WRONGPASS)
  if (name !== null) {
    if (!isPrintableWord(a, name)) return void writeError(out, BAD_NAME)
    s.name = a.string(name)
  }
  s.resp = version === 3 ? 3 : 2
  s.update()
  writeMapHeader(out, s.resp, 7)
  writeBulk(out, 'server')
  writeBulk(out, 'redis')
  writeBulk(out, 'version')
  writeBulk(out, REDIS_VERSION)
  writeBulk(out, 'proto')
  writeInteger(out, s.resp)
  writeBulk(out, 'id')
  writeInteger(out, s.id)
  writeBulk(out, 'mode')
  writeBulk(out, 'standalone')
  writeBulk(out, 'role')
  writeBulk(out, 'master')
  writeBulk(out, 'modules')
  writeArrayHeader(out, 0)
}

function auth(_s: Session, a: Args, out: Reply): void {
  if (a.count > 3) return void writeError(out, SYNTAX)
  if (a.count === 2) {
    return void writeError(out, 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?')
  }
  if (a.string(1) !== 'default') return void writeError(out, WRONGPASS)
  out.write(OK)
}

/** RESET: the connection as it was when it connected (Redis 7's clearClientConnectionState). */
function reset(s: Session, _a: Args, out: Reply): void {
  s.discard()
  unsubscribeAll(s)
  s.select(0)
  s.resp = 2
  s.name = ''
  s.isReplyOff = false
  s.skipReplies = 0
  s.update()
  out.write('+RESET\r\n')
}

function select(s: Session, a: Args, out: Reply): void {
  const index = dbIndex(a, 1, out)
  if (index === null) return
  s.select(index)
  out.write(OK)
}

function move(s: Session, a: Args, out: Reply): void {
  const index = dbIndex(a, 2, out)
  if (index === null) return
  if (index === s.dbIndex) return void writeError(out, 'ERR source and destination objects are the same')
  const dst = s.server.databases[index]
  if (dst === undefined) return
  const moved = moveKey(s.db, dst, a, 1)
  if (moved) {
    const key = a.string(1)
    s.server.touch(s.dbIndex, key)
    s.server.touch(index, key)
  }
  writeInteger(out, moved ? 1 : 0)
}

/** Moves the key in argument `i` from `src` to `dst`; false if `src` has no such key or `dst` has it already. */
function moveKey(src: Keyspace, dst: Keyspace, a: Args, i: number): boolean {
  if (src.find(a, i) === undefined || dst.findKey(a.string(i)) !== undefined) return false
  const entry = src.take(a, i)
  return entry !== undefined && dst.adopt(entry)
}

function swapdb(s: Session, a: Args, out: Reply): void {
  const first = a.integer(1)
  if (first === null) return void writeError(out, 'ERR invalid first DB index')
  const second = a.integer(2)
  if (second === null) return void writeError(out, 'ERR invalid second DB index')
  if (first < 0 || first >= DATABASES || second < 0 || second >= DATABASES) return void writeError(out, OUT_OF_RANGE)
  s.server.swap(first, second)
  out.write(OK)
}

function flushall(s: Session, a: Args, out: Reply): void {
  if (a.count > 2 || (a.count === 2 && !isWord(a, 1, 'ASYNC') && !isWord(a, 1, 'SYNC'))) return void writeError(out, SYNTAX)
  s.server.flushAll()
  out.write(OK)
}

// --- CLIENT ---------------------------------------------------------------------------------------

/** One line of CLIENT LIST / CLIENT INFO, with Redis 7's fields (buffer sizes we do not track are 0). */
export function clientLine(c: Session, now: number): string {
  let flags = ''
  if (c.subscriptions > 0) flags += 'P'
  if (c.endpoint.isUnix) flags += 'U'
  if (c.multi !== null) flags += 'x'
  if (c.isDirty) flags += 'd'
  const seconds = (ms: number): number => Math.max(0, Math.floor(ms / 1000))
  return (
    `id=${c.id} addr=${c.endpoint.addr} laddr=${c.endpoint.laddr} fd=-1 name=${c.name} age=${seconds(now - c.createdAt)} ` +
    `idle=${seconds(now - c.lastActive)} flags=${flags || 'N'} db=${c.dbIndex} sub=${c.channels.size} psub=${c.patterns.size} ssub=0 ` +
    `multi=${c.multi === null ? -1 : c.multi.length} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=${c.pending.length / 2} ` +
    `omem=${c.pendingBytes + c.inFlight} tot-mem=0 events=r cmd=${c.lastCommand} user=default redir=-1 resp=${c.resp} ` +
    `lib-name=${c.libName} lib-ver=${c.libVer}\n`
  )
}

const CLIENT_TYPES = ['NORMAL', 'MASTER', 'REPLICA', 'SLAVE', 'PUBSUB']

function clientList(s: Session, a: Args, out: Reply): void {
  let clients = [...s.server.clients.values()]
  if (a.count === 4 && isWord(a, 2, 'TYPE')) {
    const type = a.string(3).toUpperCase()
    if (!CLIENT_TYPES.includes(type)) return void writeError(out, `ERR Unknown client type '${a.string(3)}'`)
    clients = clients.filter((c) => (type === 'PUBSUB' ? c.subscriptions > 0 : type === 'NORMAL' ? c.subscriptions === 0 : false))
  } else if (a.count > 3 && isWord(a, 2, 'ID')) {
    const ids = new Set<number>()
    for (let i = 3; i < a.count; i++) {
      const id = a.integer(i)
      if (id === null || id <= 0) return void writeError(out, 'ERR Invalid client ID')
      ids.add(id)
    }
    clients = clients.filter((c) => ids.has(c.id))
  } else if (a.count !== 2) {
    return void writeError(out, SYNTAX)
  }
  const now = s.server.now()
  writeVerbatim(out, s.resp, clients.map((c) => clientLine(c, now)).join(''))
}

/** CLIENT KILL addr (old form, +OK) or CLIENT KILL <filter> <value> ... (the number killed). */
function clientKill(s: Session, a: Args, out: Reply): void {
  const clients = [...s.server.clients.values()]
  if (a.count === 3) {
    const addr = a.string(2)
    const victim = clients.find((c) => c.endpoint.addr === addr)
    if (victim === undefined) return void writeError(out, 'ERR No such client')
    out.write(OK)
    return void kill(s, victim)
  }
  if (a.count % 2 !== 0) return void writeError(out, SYNTAX)
  let skipMe = true
  const tests: ((c: Session) => boolean)[] = []
  for (let i = 2; i < a.count; i += 2) {
    const value = a.string(i + 1)
    if (isWord(a, i, 'ID')) {
      const id = a.integer(i + 1)
      if (id === null || id <= 0) return void writeError(out, 'ERR client-id should be greater than 0')
      tests.push((c) => c.id === id)
    } else if (isWord(a, i, 'ADDR')) tests.push((c) => c.endpoint.addr === value)
    else if (isWord(a, i, 'LADDR')) tests.push((c) => c.endpoint.laddr === value)
    else if (isWord(a, i, 'USER')) tests.push(() => value === 'default')
    else if (isWord(a, i, 'TYPE')) {
      const type = value.toUpperCase()
      if (!CLIENT_TYPES.includes(type)) return void writeError(out, `ERR Unknown client type '${value}'`)
      tests.push((c) => (type === 'PUBSUB' ? c.subscriptions > 0 : type === 'NORMAL' ? c.subscriptions === 0 : false))
    } else if (isWord(a, i, 'SKIPME')) {
      if (value.toUpperCase() !== 'YES' && value.toUpperCase() !== 'NO') return void writeError(out, SYNTAX)
      skipMe = value.toUpperCase() === 'YES'
    } else return void writeError(out, SYNTAX)
  }
  const victims = clients.filter((c) => !(skipMe && c === s) && tests.every((t) => t(c)))
  writeInteger(out, victims.length)
  for (const v of victims) kill(s, v)
}

/** Closes `victim`: at once if another connection, after this reply if the caller itself. */
function kill(s: Session, victim: Session): void {
  if (victim === s) s.isQuitting = true
  else {
    victim.kill()
    victim.notify()
  }
}

function client(s: Session, a: Args, out: Reply): void {
  if (isWord(a, 1, 'ID')) return void writeInteger(out, s.id)
  if (isWord(a, 1, 'GETNAME')) return void (s.name === '' ? writeNull(out, s.resp) : writeBulk(out, s.name))
  if (isWord(a, 1, 'SETNAME')) {
    if (!isPrintableWord(a, 2)) return void writeError(out, BAD_NAME)
    s.name = a.string(2)
    return void out.write(OK)
  }
  if (isWord(a, 1, 'INFO')) return void writeVerbatim(out, s.resp, clientLine(s, s.server.now()))
  if (isWord(a, 1, 'LIST')) return void clientList(s, a, out)
  if (isWord(a, 1, 'KILL')) return void clientKill(s, a, out)
  if (isWord(a, 1, 'SETINFO')) {
    // Redis 7.2's CLIENT SETINFO (clients send it on connect): LIB-NAME and LIB-VER, shown by CLIENT LIST.
    const isName = isWord(a, 2, 'LIB-NAME')
    if (!isName && !isWord(a, 2, 'LIB-VER')) return void writeError(out, `ERR Unrecognized option '${a.string(2)}'`)
    if (!isPrintableWord(a, 3) && a.length(3) > 0) {
      return void writeError(out, `ERR ${isName ? 'lib-name' : 'lib-ver'} cannot contain spaces, newlines or special characters.`)
    }
    if (isName) s.libName = a.string(3)
    else s.libVer = a.string(3)
    return void out.write(OK)
  }
  if (isWord(a, 1, 'NO-EVICT')) return void (isWord(a, 2, 'ON') || isWord(a, 2, 'OFF') ? out.write(OK) : writeError(out, SYNTAX))
  if (isWord(a, 1, 'REPLY')) {
    if (isWord(a, 2, 'ON')) {
      s.isReplyOff = false
      s.skipReplies = 0
      s.out.write(OK) // past the suppression that was in force when this command started
    } else if (isWord(a, 2, 'OFF')) {
      s.isReplyOff = true
    } else if (isWord(a, 2, 'SKIP')) {
      if (!s.isReplyOff) s.skipReplies = 1 // the next command's reply; this one has none
    } else {
      return void writeError(out, SYNTAX)
    }
    return void s.update()
  }
  writeArrayHeader(out, CLIENT_HELP.length)
  for (const line of CLIENT_HELP) out.write(`+${line}\r\n`)
}

/** Our own help text (CLIENT HELP). */
const CLIENT_HELP = [
  'CLIENT <subcommand> [<arg> ...], where the subcommand is one of:',
  'ID: this connection id.',
  'GETNAME, SETNAME <name>: read or set this connection name.',
  'INFO: this connection as a CLIENT LIST line.',
  'LIST [TYPE NORMAL|PUBSUB|MASTER|REPLICA] [ID <id> ...]: every connection, one line each.',
  'KILL <ip:port> | KILL [ID <id>] [ADDR <ip:port>] [LADDR <ip:port>] [TYPE <type>] [USER <name>] [SKIPME YES|NO]: close connections.',
  'REPLY ON|OFF|SKIP: turn replies on, off, or off for the next command.',
  'SETINFO LIB-NAME|LIB-VER <value>: the client library, shown by LIST.',
  'NO-EVICT ON|OFF: accepted; this server never evicts clients.',
  'HELP: this text.',
]

// --- CONFIG and INFO ------------------------------------------------------------------------------

/** What CONFIG GET answers: what clients and tools ask for at start-up. */
const CONFIG: readonly (readonly [string, string])[] = [
  ['appendonly', 'no'],
  ['databases', String(DATABASES)],
  ['maxmemory', '0'],
  ['maxmemory-policy', 'noeviction'],
  ['save', ''],
  ['timeout', '0'],
]

function config(s: Session, a: Args, out: Reply): void {
  if (isWord(a, 1, 'GET')) {
    const found = new Map<string, string>()
    for (let i = 2; i < a.count; i++) {
      const pattern = a.string(i).toLowerCase()
      for (const [name, value] of CONFIG) if (globMatch(pattern, name)) found.set(name, value)
    }
    writeMapHeader(out, s.resp, found.size)
    for (const [name, value] of found) {
      writeBulk(out, name)
      writeBulk(out, value)
    }
    return
  }
  if (isWord(a, 1, 'SET')) {
    if (a.count % 2 !== 0 || !CONFIG.some(([name]) => isWord(a, 2, name.toUpperCase()))) {
      return void writeError(out, `ERR Unknown option or number of arguments for CONFIG SET - '${a.string(2)}'`)
    }
    return void out.write(OK) // accepted, without effect: a demo
  }
  if (isWord(a, 1, 'RESETSTAT')) return void out.write(OK)
  if (isWord(a, 1, 'REWRITE')) return void writeError(out, 'ERR The server is running without a config file')
  writeArrayHeader(out, 1)
  out.write('+CONFIG GET <pattern> ..., CONFIG SET <name> <value>, CONFIG RESETSTAT, CONFIG REWRITE, CONFIG HELP\r\n')
}

function info(s: Session, a: Args, out: Reply): void {
  const uptime = Math.floor((Date.now() - STARTED) / 1000)
  const sections: Record<string, () => string[]> = {
    server: () => [
      `redis_version:${REDIS_VERSION}`,
      'redis_mode:standalone',
      `os:${os.type()} ${os.release()} ${os.arch()}`,
      'arch_bits:64',
      `process_id:${process.pid}`,
      `uptime_in_seconds:${uptime}`,
      `uptime_in_days:${Math.floor(uptime / 86400)}`,
      'executable:rotor-stream examples/redis-server.ts',
    ],
    clients: () => [
      `connected_clients:${s.server.clients.size}`,
      'blocked_clients:0',
      `pubsub_clients:${[...s.server.clients.values()].filter((c) => c.subscriptions > 0).length}`,
    ],
    memory: () => [
      `used_memory:${process.memoryUsage().heapUsed}`,
      `used_memory_rss:${process.memoryUsage().rss}`,
      'maxmemory:0',
      'maxmemory_policy:noeviction',
    ],
    persistence: () => ['loading:0', 'rdb_changes_since_last_save:0', 'aof_enabled:0'],
    stats: () => [
      `total_connections_received:${s.server.connectionsReceived}`,
      `total_commands_processed:${[...s.server.clients.values()].reduce((n, c) => n + c.commands, s.server.closedCommands)}`,
      `pubsub_channels:${s.server.pubsub.channels.size}`,
      `pubsub_patterns:${s.server.pubsub.patterns.size}`,
    ],
    replication: () => ['role:master', 'connected_slaves:0'],
    keyspace: () => s.server.databases.flatMap((db, i) => (db.size > 0 ? [`db${i}:keys=${db.size},expires=0,avg_ttl=0`] : [])),
  }
  let names = Object.keys(sections)
  if (a.count > 1) {
    const asked = Array.from({ length: a.count - 1 }, (_, i) => a.string(i + 1).toLowerCase())
    if (!asked.some((n) => n === 'all' || n === 'everything' || n === 'default')) names = names.filter((n) => asked.includes(n))
  }
  const text = names.map((n) => `# ${n[0]?.toUpperCase()}${n.slice(1)}\r\n${(sections[n]?.() ?? []).map((l) => `${l}\r\n`).join('')}`).join('\r\n')
  writeVerbatim(out, s.resp, text)
}

// --- The table ---------------------------------------------------------------------------------------

/** A command this server cannot run: answers a clear error naming why. */
function unsupported(name: string, arity: number): ServerCommand<Session> {
  return { name, arity, run: (_s, _a, out) => writeError(out, `ERR ${name} ${SCRIPTING}`) }
}

/** The HTTP guard: a POST or Host: line is a browser or a proxy talking HTTP to us; close without a word, as Redis does. */
function httpRequest(s: Session): void {
  s.isDropped = true
}

export const SERVER_COMMANDS: readonly ServerCommand<Session>[] = [
  { name: 'PING', arity: -1, flags: IN_SUBSCRIBED, run: ping },
  { name: 'ECHO', arity: 2, run: (_s, a, out) => writeBulkBytes(out, a.view(1)) },
  {
    name: 'QUIT',
    arity: -1,
    flags: NO_QUEUE | IN_SUBSCRIBED,
    run: (s, _a, out) => {
      s.isQuitting = true
      out.write(OK)
    },
  },
  { name: 'RESET', arity: 1, flags: NO_QUEUE | IN_SUBSCRIBED, run: reset },
  { name: 'HELLO', arity: -1, run: hello },
  { name: 'AUTH', arity: -2, run: auth },
  { name: 'SELECT', arity: 2, run: select },
  { name: 'MOVE', arity: 3, run: move },
  { name: 'SWAPDB', arity: 3, run: swapdb },
  { name: 'FLUSHALL', arity: -1, run: flushall },
  {
    name: 'CLIENT',
    arity: -2,
    subcommands: [
      { name: 'ID', arity: 2 },
      { name: 'GETNAME', arity: 2 },
      { name: 'SETNAME', arity: 3 },
      { name: 'INFO', arity: 2 },
      { name: 'LIST', arity: -2 },
      { name: 'KILL', arity: -3 },
      { name: 'SETINFO', arity: 4 },
      { name: 'NO-EVICT', arity: 3 },
      { name: 'REPLY', arity: 3 },
      { name: 'HELP', arity: 2 },
    ],
    run: client,
  },
  {
    name: 'CONFIG',
    arity: -2,
    subcommands: [
      { name: 'GET', arity: -3 },
      { name: 'SET', arity: -4 },
      { name: 'RESETSTAT', arity: 2 },
      { name: 'REWRITE', arity: 2 },
      { name: 'HELP', arity: 2 },
    ],
    run: config,
  },
  { name: 'INFO', arity: -1, run: info },
  unsupported('EVAL', -3),
  unsupported('EVALSHA', -3),
  unsupported('EVAL_RO', -3),
  unsupported('EVALSHA_RO', -3),
  unsupported('FCALL', -3),
  unsupported('FCALL_RO', -3),
  unsupported('SCRIPT', -2),
  unsupported('FUNCTION', -2),
  { name: 'POST', arity: -1, flags: NO_QUEUE | IN_SUBSCRIBED, run: httpRequest },
  { name: 'HOST:', arity: -1, flags: NO_QUEUE | IN_SUBSCRIBED, run: httpRequest },
]
