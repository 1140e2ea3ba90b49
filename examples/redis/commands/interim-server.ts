/**
 * INTERIM, to be deleted when the connection layer (session, dispatch: issue 15, the other half)
 * is merged: the server commands as main had them before the data commands were split out, so
 * that `Keyspace.execute` keeps answering PING, ECHO, FLUSHALL, SELECT 0, CONFIG, HELLO 2, CLIENT,
 * COMMAND and INFO meanwhile. Not part of DATA_COMMANDS; unchanged behaviour, no new features.
 */
import type { Args } from '../args.js'
import type { Command } from '../command.js'
import { OK, PONG, type Reply, writeArrayHeader, writeBulk, writeBulkArray, writeBulkBytes, writeError, writeInteger } from '../reply.js'
import { commandTable } from './table.js'

/** CONFIG GET answers for what clients and redis-benchmark ask at start-up. */
const CONFIG: Record<string, string> = { save: '', appendonly: 'no', databases: '1', maxmemory: '0', timeout: '0' }

function config(a: Args, out: Reply): void {
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

function hello(a: Args, out: Reply): void {
  if (a.count > 1 && a.string(1) !== '2') return void writeError(out, 'NOPROTO unsupported protocol version')
  const fields: (string | number)[] = ['server', 'redis', 'version', '7.0.0', 'proto', 2, 'id', 1, 'mode', 'standalone', 'role', 'master']
  writeArrayHeader(out, fields.length + 2)
  for (const f of fields) typeof f === 'number' ? writeInteger(out, f) : writeBulk(out, f)
  writeBulk(out, 'modules')
  writeArrayHeader(out, 0)
}

function client(a: Args, out: Reply): void {
  if (a.is(1, 'GETNAME')) return void writeBulk(out, null)
  if (a.is(1, 'ID')) return void writeInteger(out, 1)
  if (a.is(1, 'INFO') || a.is(1, 'LIST')) return void writeBulk(out, 'id=1 addr=? name= db=0\n')
  out.write(OK)
}

const INTERIM_SERVER_COMMANDS: readonly Command[] = [
  {
    name: 'PING',
    arity: -1,
    run: (_ctx, a, out) =>
      a.count > 2 ? writeError(out, "ERR wrong number of arguments for 'ping' command") : a.count === 2 ? writeBulkBytes(out, a.view(1)) : out.write(PONG),
  },
  { name: 'ECHO', arity: 2, run: (_ctx, a, out) => writeBulkBytes(out, a.view(1)) },
  {
    name: 'FLUSHALL',
    arity: -1,
    run: ({ db }, _a, out) => {
      db.clear()
      out.write(OK)
    },
  },
  { name: 'SELECT', arity: 2, run: (_ctx, a, out) => (a.string(1) === '0' ? out.write(OK) : writeError(out, 'ERR DB index is out of range')) },
  { name: 'COMMAND', arity: -1, run: (_ctx, a, out) => (a.is(1, 'COUNT') ? writeInteger(out, 0) : writeArrayHeader(out, 0)) },
  { name: 'CONFIG', arity: -2, run: (_ctx, a, out) => config(a, out) },
  { name: 'HELLO', arity: -1, run: (_ctx, a, out) => hello(a, out) },
  { name: 'CLIENT', arity: -2, run: (_ctx, a, out) => client(a, out) },
  {
    name: 'INFO',
    arity: -1,
    run: ({ db }, _a, out) =>
      writeBulk(out, `# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\n# Keyspace\r\ndb0:keys=${db.size},expires=${db.expires}\r\n`),
  },
]

export const INTERIM_SERVER_TABLE = commandTable(INTERIM_SERVER_COMMANDS)
