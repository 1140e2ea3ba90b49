import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Factory } from 'rotor-stream'
import { checkSplits } from 'rotor-stream/testing'
import { Args } from '../../examples/redis/args.js'
import { addLongDouble, formatLongDouble, parseLongDouble } from '../../examples/redis/commands/long-double.js'
import { parseCursor } from '../../examples/redis/commands/scan.js'
import { globMatch } from '../../examples/redis/glob.js'
import { DATA_COMMANDS, findCommand, Keyspace } from '../../examples/redis/keyspace.js'
import { RESP_DEFAULTS, RespConnection } from '../../examples/redis/resp-server.js'
import { ServerState } from '../../examples/redis/server-state.js'

const T = { timeout: 30_000 }
const WRONGTYPE = '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'

/** Builds the Args of one command, as the parser would. */
function argsOf(command: readonly string[]): Args {
  const args = new Args()
  const parts: Buffer[] = []
  let at = 0
  for (const arg of command) {
    const bytes = Buffer.from(arg, 'latin1')
    parts.push(bytes)
    args.push(at, at + bytes.length)
    at += bytes.length
  }
  args.data = Buffer.concat(parts)
  return args
}

/** Runs one command on `db` in process; returns the raw reply. */
function run(db: Keyspace, resp: 2 | 3, ...command: string[]): string {
  let reply = ''
  db.execute(
    argsOf(command),
    { write: (data, encoding) => (reply += typeof data === 'string' ? data : Buffer.from(data).toString(encoding ?? 'latin1')) },
    { db, resp },
  )
  return reply
}
const r2 = (db: Keyspace, ...command: string[]): string => run(db, 2, ...command)

function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

describe('Keyspace: the contract with the connection layer', () => {
  test('calls onTouch after every change of a key, with the key, and with null on clear', T, () => {
    const db = new Keyspace(() => 1000)
    const touched: (string | null)[] = []
    db.onTouch = (key) => touched.push(key)
    const changes: [string[], (string | null)[]][] = [
      [['SET', 'k', 'v'], ['k']],
      [['SET', 'k', 'w'], ['k']], // in place
      [['GET', 'k'], []],
      [['APPEND', 'k', 'x'], ['k']],
      [['SETRANGE', 'k', '0', 'y'], ['k']],
      [['INCR', 'n'], ['n']],
      [['INCRBYFLOAT', 'n', '1.5'], ['n']],
      [['EXPIRE', 'k', '100'], ['k']],
      [['PERSIST', 'k'], ['k']],
      [['RPUSH', 'l', 'a', 'b'], ['l']],
      [['LPOP', 'l'], ['l']],
      [['LSET', 'l', '0', 'z'], ['l']],
      [['HSET', 'h', 'f', 'v'], ['h']],
      [['HINCRBY', 'h', 'i', '1'], ['h']],
      [['HDEL', 'h', 'nope'], []],
      [['SADD', 's', 'a', 'b'], ['s']],
      [['SREM', 's', 'a'], ['s']],
      [
        ['SMOVE', 's', 's2', 'b'],
        ['s', 's2'],
      ],
      [
        ['RENAME', 'k', 'k2'],
        ['k', 'k2'],
      ],
      [['DEL', 'k2', 'nope'], ['k2']],
      [['GETDEL', 'n'], ['n']],
      [['SUNIONSTORE', 'u', 's2'], ['u']],
      [['FLUSHDB'], [null]],
    ]
    for (const [cmd, expected] of changes) {
      touched.length = 0
      r2(db, ...cmd)
      assert.deepEqual(touched, expected, cmd.join(' '))
    }
  })

  test('take removes a live entry and adopt inserts it elsewhere unless the key exists, keeping value and expiry', T, () => {
    let now = 1000
    const from = new Keyspace(() => now)
    const to = new Keyspace(() => now)
    r2(from, 'SET', 'k', 'v', 'PX', '500')
    r2(from, 'SET', 'gone', 'v', 'PX', '10')
    r2(to, 'SET', 'busy', 'x')
    r2(from, 'SET', 'busy', 'y')
    now += 20
    assert.equal(from.take(argsOf(['X', 'gone']), 1), undefined) // expired: not live
    const entry = from.take(argsOf(['X', 'k']), 1)
    assert.ok(entry !== undefined)
    assert.equal(from.expires, 0)
    assert.equal(r2(from, 'EXISTS', 'k'), ':0\r\n')
    assert.equal(to.adopt(entry), true)
    assert.equal(r2(to, 'GET', 'k'), '$1\r\nv\r\n')
    assert.equal(r2(to, 'PTTL', 'k'), ':480\r\n')
    assert.equal(to.expires, 1)
    const busy = from.take(argsOf(['X', 'busy']), 1)
    assert.ok(busy !== undefined)
    assert.equal(to.adopt(busy), false)
    assert.equal(r2(to, 'GET', 'busy'), '$1\r\nx\r\n')
    assert.equal(from.adopt(busy), true) // MOVE puts it back
  })

  test('counts keys with an expiry (INFO expires) through every way an expiry comes and goes', T, () => {
    let now = 1000
    const db = new Keyspace(() => now)
    r2(db, 'SET', 'a', '1', 'EX', '10')
    r2(db, 'SETEX', 'b', '10', '1')
    r2(db, 'SET', 'c', '1')
    r2(db, 'EXPIRE', 'c', '5')
    assert.equal(db.expires, 3)
    r2(db, 'SET', 'a', '2', 'KEEPTTL')
    assert.equal(db.expires, 3)
    r2(db, 'SET', 'a', '3') // SET clears the TTL
    assert.equal(db.expires, 2)
    r2(db, 'RENAME', 'b', 'b2')
    assert.equal(db.expires, 2)
    r2(db, 'PERSIST', 'b2')
    assert.equal(db.expires, 1)
    r2(db, 'RPUSH', 'c', 'x') // WRONGTYPE: nothing changes
    now += 6000
    assert.equal(db.sweep(1000), 1)
    assert.equal(db.expires, 0)
    r2(db, 'SET', 'd', '1', 'PX', '1')
    r2(db, 'FLUSHDB')
    assert.equal(db.expires, 0)
    assert.equal(db.size, 0)
  })

  test('DATA_COMMANDS holds no server command, and findCommand finds each data command in any case', T, () => {
    const names = DATA_COMMANDS.map((c) => c.name)
    for (const server of ['PING', 'ECHO', 'HELLO', 'CLIENT', 'SELECT', 'COMMAND', 'CONFIG', 'INFO', 'FLUSHALL']) assert.ok(!names.includes(server), server)
    for (const name of names) {
      assert.equal(findCommand(argsOf([name.toLowerCase()]))?.name, name)
      assert.equal(findCommand(argsOf([name]))?.name, name)
    }
    assert.equal(findCommand(argsOf(['NOSUCH'])), undefined)
    assert.equal(new Set(names).size, names.length)
  })
})

describe('data commands', () => {
  test('answer WRONGTYPE for every command on a key of another type, and leave the key alone', T, () => {
    const db = new Keyspace()
    r2(db, 'SET', 'str', 'v')
    r2(db, 'RPUSH', 'list', 'a')
    r2(db, 'HSET', 'hash', 'f', 'v')
    r2(db, 'SADD', 'set', 'm')
    const uses: Record<string, string[][]> = {
      str: [
        ['GET'],
        ['GETSET', 'x'],
        ['GETDEL'],
        ['GETEX'],
        ['APPEND', 'x'],
        ['STRLEN'],
        ['GETRANGE', '0', '1'],
        ['SETRANGE', '0', 'x'],
        ['INCR'],
        ['DECRBY', '1'],
        ['INCRBYFLOAT', '1'],
        ['SET', 'x', 'GET'],
      ],
      list: [
        ['LPUSH', 'x'],
        ['RPUSHX', 'x'],
        ['LPOP'],
        ['RPOP', '1'],
        ['LLEN'],
        ['LRANGE', '0', '1'],
        ['LINDEX', '0'],
        ['LSET', '0', 'x'],
        ['LREM', '0', 'x'],
        ['LTRIM', '0', '1'],
      ],
      hash: [
        ['HSET', 'f', 'v'],
        ['HSETNX', 'f', 'v'],
        ['HGET', 'f'],
        ['HMGET', 'f'],
        ['HGETALL'],
        ['HDEL', 'f'],
        ['HEXISTS', 'f'],
        ['HLEN'],
        ['HINCRBY', 'f', '1'],
        ['HINCRBYFLOAT', 'f', '1'],
        ['HKEYS'],
        ['HVALS'],
        ['HSTRLEN', 'f'],
        ['HSCAN', '0'],
      ],
      set: [
        ['SADD', 'm'],
        ['SREM', 'm'],
        ['SMEMBERS'],
        ['SISMEMBER', 'm'],
        ['SMISMEMBER', 'm'],
        ['SCARD'],
        ['SPOP'],
        ['SRANDMEMBER'],
        ['SSCAN', '0'],
        ['SINTER'],
        ['SUNION'],
        ['SDIFF'],
      ],
    }
    for (const [kind, commands] of Object.entries(uses)) {
      for (const [name, ...rest] of commands) {
        for (const other of ['str', 'list', 'hash', 'set'].filter((k) => k !== kind)) {
          assert.equal(r2(db, name as string, other, ...rest), WRONGTYPE, `${name} on a ${other}`)
        }
      }
    }
    assert.equal(r2(db, 'SINTERSTORE', 'dst', 'set', 'list'), WRONGTYPE)
    assert.equal(r2(db, 'SMOVE', 'set', 'list', 'm'), WRONGTYPE)
    assert.equal(r2(db, 'DBSIZE'), ':4\r\n')
    assert.equal(r2(db, 'GET', 'str'), '$1\r\nv\r\n')
  })

  test('answer in RESP3 with maps, sets and nulls where Redis 7 does', T, () => {
    const db = new Keyspace()
    r2(db, 'HSET', 'h', 'f', 'v')
    r2(db, 'SADD', 's', '2', '1')
    assert.equal(run(db, 3, 'HGETALL', 'h'), '%1\r\n$1\r\nf\r\n$1\r\nv\r\n')
    assert.equal(run(db, 2, 'HGETALL', 'h'), '*2\r\n$1\r\nf\r\n$1\r\nv\r\n')
    assert.equal(run(db, 3, 'SMEMBERS', 's'), '~2\r\n$1\r\n1\r\n$1\r\n2\r\n')
    assert.equal(run(db, 3, 'GET', 'nope'), '_\r\n')
    assert.equal(run(db, 3, 'MGET', 'nope'), '*1\r\n_\r\n')
    assert.equal(run(db, 3, 'LPOP', 'nope', '2'), '_\r\n')
    assert.equal(run(db, 2, 'LPOP', 'nope', '2'), '*-1\r\n')
    assert.equal(run(db, 3, 'SPOP', 'nope', '2'), '~0\r\n')
    assert.equal(run(db, 3, 'SRANDMEMBER', 'nope', '2'), '*0\r\n')
    assert.equal(run(db, 3, 'HKEYS', 'h'), '*1\r\n$1\r\nf\r\n')
    assert.equal(run(db, 3, 'INCRBYFLOAT', 'x', '1.5'), '$3\r\n1.5\r\n')
  })

  test('expire keys on the keyspace clock: TTL rounds, GETEX EXAT in the past deletes, SCAN, KEYS and RANDOMKEY skip expired keys', T, () => {
    let now = 1_000_000
    const db = new Keyspace(() => now)
    r2(db, 'SET', 'k', 'v', 'PX', '1499')
    assert.equal(r2(db, 'TTL', 'k'), ':1\r\n')
    now += 1000
    assert.equal(r2(db, 'TTL', 'k'), ':0\r\n')
    assert.equal(r2(db, 'PTTL', 'k'), ':499\r\n')
    assert.equal(r2(db, 'PEXPIRETIME', 'k'), ':1001499\r\n')
    r2(db, 'SET', 'g', 'v')
    assert.equal(r2(db, 'GETEX', 'g', 'EXAT', '1000'), '$1\r\nv\r\n')
    assert.equal(r2(db, 'EXISTS', 'g'), ':0\r\n')
    now += 500
    assert.equal(r2(db, 'KEYS', '*'), '*0\r\n')
    assert.equal(r2(db, 'RANDOMKEY'), '$-1\r\n')
    r2(db, 'SET', 'x', '1', 'PX', '10')
    now += 10
    assert.equal(db.size, 1) // still stored: nothing read it
    assert.equal(r2(db, 'SCAN', '0'), '*2\r\n$1\r\n0\r\n*0\r\n')
    assert.equal(db.size, 0) // SCAN removed it
    assert.equal(r2(db, 'EXPIRE', 'nope', '10'), ':0\r\n')
    r2(db, 'SET', 'y', '1')
    assert.equal(r2(db, 'EXPIREAT', 'y', '1'), ':1\r\n') // in the past: deleted
    assert.equal(r2(db, 'EXISTS', 'y'), ':0\r\n')
  })

  test('APPEND is linear over many appends, SETRANGE pads with zeros, both answer encoding raw', T, () => {
    const db = new Keyspace()
    for (let i = 0; i < 20_000; i++) r2(db, 'APPEND', 'a', 'xy')
    assert.equal(r2(db, 'STRLEN', 'a'), ':40000\r\n')
    assert.equal(r2(db, 'GETRANGE', 'a', '39996', '-1'), '$4\r\nxyxy\r\n')
    assert.equal(r2(db, 'OBJECT', 'ENCODING', 'a'), '$3\r\nraw\r\n')
    assert.equal(r2(db, 'SETRANGE', 'p', '2', 'ab'), ':4\r\n')
    assert.equal(r2(db, 'GET', 'p'), '$4\r\n\0\0ab\r\n')
    r2(db, 'SET', 'a', '12')
    assert.equal(r2(db, 'OBJECT', 'ENCODING', 'a'), '$3\r\nint\r\n')
    // Values made by INCRBYFLOAT own their bytes: appending to one leaves the next one alone.
    r2(db, 'INCRBYFLOAT', 'f1', '1.5')
    r2(db, 'INCRBYFLOAT', 'f2', '2.5')
    r2(db, 'APPEND', 'f1', 'xxxxxxxx')
    assert.equal(r2(db, 'MGET', 'f1', 'f2'), '*2\r\n$11\r\n1.5xxxxxxxx\r\n$3\r\n2.5\r\n')
    const f2 = db.take(argsOf(['X', 'f2']), 1)
    assert.ok(f2?.kind === 'string' && f2.value.buffer.byteLength === 3, 'not a view of Buffer.from’s shared pool')
  })

  test('walks a large hash and a large set with HSCAN and SSCAN cursors, every element once', T, () => {
    const db = new Keyspace()
    const fields = Array.from({ length: 1000 }, (_, i) => [`f${i}`, `v${i}`]).flat()
    r2(db, 'HSET', 'h', ...fields)
    r2(db, 'SADD', 's', ...Array.from({ length: 1000 }, (_, i) => `m${i}`))
    assert.equal(r2(db, 'OBJECT', 'ENCODING', 'h'), '$9\r\nhashtable\r\n')
    for (const [cmd, key, expected] of [
      ['HSCAN', 'h', 2000],
      ['SSCAN', 's', 1000],
    ] as const) {
      let cursor = '0'
      let seen = 0
      let calls = 0
      do {
        const lines = r2(db, cmd, key, cursor, 'COUNT', '50').split('\r\n')
        cursor = lines[2] as string
        seen += Number((lines[3] as string).slice(1))
        calls++
      } while (cursor !== '0')
      assert.equal(seen, expected, cmd)
      assert.ok(calls > 1, `${cmd} took ${calls} calls`)
    }
  })

  test('run through the RESP connection for every split of a pipelined session', T, () => {
    const factory: Factory = (t, seed, scope) =>
      RespConnection.factory({ server: new ServerState({ now: () => 1_000_000 }), limits: RESP_DEFAULTS })(t, seed, scope)
    const input = [
      command('HSET', 'h', 'a', '1', 'b', '2'),
      command('HGETALL', 'h'),
      command('SADD', 's', '3', '1', '2'),
      command('SMEMBERS', 's'),
      command('SCAN', '0', 'MATCH', 'h*'),
      command('INCRBY', 'n', '9223372036854775807'),
      command('INCR', 'n'),
      command('INCRBYFLOAT', 'f', '0.1'),
      command('INCRBYFLOAT', 'f', '0.2'),
      command('QUIT'),
    ].join('')
    const run = checkSplits(factory, input, { random: 200, compareEvents: false })
    assert.equal(
      run.output.toString(),
      ':2\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n:3\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n' +
        '*2\r\n$1\r\n0\r\n*1\r\n$1\r\nh\r\n:9223372036854775807\r\n-ERR increment or decrement would overflow\r\n$3\r\n0.1\r\n$3\r\n0.3\r\n+OK\r\n',
    )
  })
})

describe('glob patterns (KEYS, MATCH)', () => {
  const cases: [string, string, boolean][] = [
    ['*', 'anything', true],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h*llo', 'heeeello', true],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hbllo', true], // a reversed range is swapped
    ['h\\*llo', 'h*llo', true],
    ['h\\*llo', 'hello', false],
    ['[\\]]', ']', true],
    ['a[bc', 'ab', true], // an unclosed class runs to the end
    ['a*', 'a', true],
    ['a**', 'a', true],
    ['', '', true],
    ['**', '', false], // Redis' corner: only '*' alone matches the empty key
    ['?', '', false],
    ['a*a*a*a*a*a*a*a*b', 'a'.repeat(60), false],
    ['*[0-9]', 'key7', true],
  ]
  for (const [pattern, text, expected] of cases) {
    test(`'${pattern}' ${expected ? 'matches' : 'does not match'} '${text.slice(0, 12)}'`, T, () => {
      assert.equal(globMatch(pattern, text), expected)
    })
  }
})

describe('cursors and long doubles', () => {
  test('reads a SCAN cursor as strtoul does', T, () => {
    assert.equal(parseCursor('0'), 0)
    assert.equal(parseCursor(''), 0)
    assert.equal(parseCursor('+7'), 7)
    assert.equal(parseCursor('-1'), 0xffffffff)
    assert.equal(parseCursor('18446744073709551615'), 0xffffffff)
    assert.equal(parseCursor('4294967296'), 0)
    assert.equal(parseCursor('18446744073709551616'), null)
    assert.equal(parseCursor('abc'), null)
    assert.equal(parseCursor(' 1'), null)
  })

  test('adds and prints as x87 long double with %.17Lf (values checked against redis-server 7.0.15)', T, () => {
    const add = (a: string, b: string): string | null => {
      const sum = addLongDouble(parseLongDouble(a), parseLongDouble(b))
      return sum === null ? null : formatLongDouble(sum)
    }
    assert.equal(add('10.50', '0.1'), '10.6')
    assert.equal(add('10.6', '1e20'), '100000000000000000008')
    assert.equal(add('0.1', '0.2'), '0.3')
    assert.equal(add('0', '0.30000000000000004'), '0.30000000000000004')
    assert.equal(add('0', '123456789.123456789123'), '123456789.12345678912242875')
    assert.equal(add('0', '1e-20'), '0')
    assert.equal(add('0', '-1e-20'), '0')
    assert.equal(add('0', '0x10'), '16')
    assert.equal(add('3', '1.7976931348623157e308')?.length, 309)
    assert.equal(add('1', 'inf'), null)
    assert.equal(parseLongDouble('1e5000'), null)
    assert.equal(parseLongDouble('1e-5000'), null)
    assert.equal(parseLongDouble(' 1'), null)
    assert.equal(parseLongDouble('nan'), null)
    assert.equal(parseLongDouble('-Infinity'), '-inf')
  })
})
