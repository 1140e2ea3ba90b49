import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Factory } from 'rotor-stream'
import { checkSplits, Harness, runScripted } from 'rotor-stream/testing'
import { Dict, type DictEntry } from '../../examples/redis/dict.js'
import { RESP_DEFAULTS, RespConnection, type RespContext, type RespLimits, respMaxBufferSize } from '../../examples/redis/resp-server.js'
import { ServerState } from '../../examples/redis/server-state.js'

const T = { timeout: 30_000 }

/** A factory whose every connection gets fresh databases, so that each split run starts empty. */
function factory(limits: Partial<RespLimits> = {}, now = () => 1_000_000): Factory {
  return (t, seed, scope) => {
    const context: RespContext = { server: new ServerState({ now }), limits: { ...RESP_DEFAULTS, ...limits } }
    return RespConnection.factory(context)(t, seed, scope)
  }
}
/** The protocol parses everything buffered in one call: compare output, not call counts. */
const OUTPUT_ONLY = { compareEvents: false } as const

/** Encodes a command as a RESP array of bulk strings. */
function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

describe('RESP server protocol', () => {
  test('answers a pipelined session identically for every split of the input', T, () => {
    const input = [
      command('PING'),
      'PING\r\n',
      command('SET', 'k', 'v'),
      command('GET', 'k'),
      command('INCR', 'n'),
      command('INCRBY', 'n', '41'),
      command('LPUSH', 'l', 'a', 'b'),
      command('LRANGE', 'l', '0', '-1'),
      command('MGET', 'k', 'nope'),
      command('NOSUCH', 'x'),
      command('QUIT'),
    ].join('')
    const run = checkSplits(factory(), input, { random: 300, ...OUTPUT_ONLY })
    assert.equal(
      run.output.toString(),
      '+PONG\r\n+PONG\r\n+OK\r\n$1\r\nv\r\n:1\r\n:42\r\n:2\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n*2\r\n$1\r\nv\r\n$-1\r\n' +
        "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n+OK\r\n",
    )
    assert.equal(run.state, 'done')
  })

  test('answers all commands of one read in one write', T, () => {
    const h = new Harness(factory())
    h.feed(command('PING').repeat(32))
    assert.equal(h.output.toString(), '+PONG\r\n'.repeat(32))
    assert.equal(h.writes, 1)
  })

  test('keeps binary-safe values, including CRLF inside a bulk string', T, () => {
    const run = runScripted(factory(), [command('SET', 'bin', 'a\r\nb\0c'), command('GET', 'bin')])
    assert.equal(run.output.toString('latin1'), '+OK\r\n$6\r\na\r\nb\0c\r\n')
  })

  test('answers SET options NX, XX, EX, PX and TTL as Redis does', T, () => {
    let now = 1_000_000
    const run = new Harness(factory({}, () => now))
    run.feed(command('SET', 'a', '1', 'NX') + command('SET', 'a', '2', 'NX') + command('SET', 'b', '1', 'XX'))
    run.feed(command('SET', 'a', '3', 'XX', 'EX', '10') + command('TTL', 'a') + command('SET', 'c', '1', 'PX', '500') + command('PTTL', 'c'))
    assert.equal(run.takeOutput().toString(), '+OK\r\n$-1\r\n$-1\r\n+OK\r\n:10\r\n+OK\r\n:500\r\n')
    now += 10_001
    run.feed(command('GET', 'a') + command('EXISTS', 'a', 'c') + command('TTL', 'zz') + command('SET', 'x', '1', 'EX', 'abc'))
    assert.equal(run.takeOutput().toString(), '$-1\r\n:0\r\n:-2\r\n-ERR value is not an integer or out of range\r\n')
  })

  test('reports wrong types, bad integers and bad arity as errors and keeps the connection', T, () => {
    const run = runScripted(factory(), [
      command('LPUSH', 'l', 'x') + command('GET', 'l') + command('SET', 's', 'abc') + command('INCR', 's') + command('GET') + command('PING'),
    ])
    assert.equal(
      run.output.toString(),
      ':1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+OK\r\n' +
        "-ERR value is not an integer or out of range\r\n-ERR wrong number of arguments for 'get' command\r\n+PONG\r\n",
    )
    assert.equal(run.state, 'running')
  })

  for (const [name, input] of [
    ['a bad multibulk length', '*abc\r\n'],
    ['a missing $', '*1\r\n+PING\r\n'],
    ['a negative bulk length', '*1\r\n$-5\r\n'],
    ['a bulk not followed by CRLF', '*1\r\n$4\r\nPINGxx'],
    ['a header without CR', '*1\n'],
  ] as const) {
    test(`answers ${name} with -ERR Protocol error and closes`, T, () => {
      const run = checkSplits(factory(), input, { random: 20, ...OUTPUT_ONLY })
      assert.match(run.output.toString(), /^-ERR Protocol error: [^\r\n]+\r\n$/)
      assert.equal(run.state, 'done')
    })
  }

  test('refuses a bulk longer than maxBulkLength before reading it', T, () => {
    const h = new Harness(factory({ maxBulkLength: 1024 }))
    h.feed('*2\r\n$3\r\nSET\r\n$1025\r\n')
    assert.equal(h.output.toString(), '-ERR Protocol error: invalid bulk length\r\n')
    assert.equal(h.state, 'done')
    assert.ok(h.buffered === 0)
  })

  test('refuses more arguments than maxArguments', T, () => {
    const run = runScripted(factory({ maxArguments: 10 }), ['*11\r\n'])
    assert.equal(run.output.toString(), '-ERR Protocol error: invalid multibulk length\r\n')
  })

  test('refuses an inline request longer than maxInlineLength with bounded memory', T, () => {
    const h = new Harness(factory({ maxInlineLength: 1000 }))
    for (let i = 0; i < 100 && h.state === 'running'; i++) {
      h.feed('x'.repeat(100))
      assert.ok(h.buffered <= 1000 + 100)
    }
    assert.equal(h.output.toString(), '-ERR Protocol error: too big inline request\r\n')
    assert.equal(h.state, 'done')
  })

  test('closes quietly on end of stream in the middle of a command', T, () => {
    const run = runScripted(factory(), ['*2\r\n$3\r\nGET\r\n$5\r\nab'], { end: true })
    assert.equal(run.output.length, 0)
    assert.equal(run.state, 'done')
  })
  test('matches command names and options in any case, inline and in arrays', T, () => {
    const run = checkSplits(factory(), `${command('set', 'k', 'v', 'nX')}${command('gEt', 'k')}ping\r\n  echo   hi \r\n${command('quit')}`, {
      random: 100,
      ...OUTPUT_ONLY,
    })
    assert.equal(run.output.toString(), '+OK\r\n$1\r\nv\r\n+PONG\r\n$2\r\nhi\r\n+OK\r\n')
    assert.equal(run.state, 'done')
  })

  test('overwrites a value in place or anew, and SET GET answers the value from before', T, () => {
    // Same length (copied into the stored bytes), longer, shorter; INCR across a digit; SET over a list.
    const run = runScripted(factory(), [
      command('SET', 'k', 'abc') + command('SET', 'k', 'xyz', 'GET') + command('GET', 'k'),
      command('SET', 'k', 'longer', 'GET') + command('SET', 'k', 'ab', 'GET') + command('MGET', 'k', 'k'),
      command('SET', 'n', '9') + command('INCR', 'n') + command('INCR', 'n') + command('SET', 'n', 'zz', 'GET'),
      command('RPUSH', 'l', 'a') + command('SET', 'l', 'v') + command('GET', 'l') + command('SET', 'k', 'q', 'NX', 'GET') + command('GET', 'k'),
    ])
    assert.equal(
      run.output.toString(),
      '+OK\r\n$3\r\nabc\r\n$3\r\nxyz\r\n' +
        '$3\r\nxyz\r\n$6\r\nlonger\r\n*2\r\n$2\r\nab\r\n$2\r\nab\r\n' +
        '+OK\r\n:10\r\n:11\r\n$2\r\n11\r\n' +
        ':1\r\n+OK\r\n$1\r\nv\r\n$2\r\nab\r\n$2\r\nab\r\n',
    )
  })

  test('keeps every byte value of keys and values', T, () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const set = Buffer.concat([Buffer.from('*3\r\n$3\r\nSET\r\n$256\r\n'), bytes, Buffer.from('\r\n$256\r\n'), bytes, Buffer.from('\r\n')])
    const get = Buffer.concat([Buffer.from('*2\r\n$3\r\nGET\r\n$256\r\n'), bytes, Buffer.from('\r\n')])
    const run = runScripted(factory(), [set, get])
    assert.ok(run.output.equals(Buffer.concat([Buffer.from('+OK\r\n$256\r\n'), bytes, Buffer.from('\r\n')])))
  })

  test('resumes a command that arrives one argument per read, after commands answered in the same read', T, () => {
    const h = new Harness(factory())
    const values = Array.from({ length: 2000 }, (_, i) => `v${i}`)
    const rpush = command('RPUSH', 'l', ...values)
    // The first read ends inside RPUSH's third argument; then 40 bytes per read.
    const first = command('PING').length + rpush.indexOf('v2')
    h.feed(command('PING') + rpush.slice(0, first - command('PING').length))
    for (let at = first - command('PING').length; at < rpush.length; at += 40) h.feed(rpush.slice(at, at + 40))
    h.feed(command('LLEN', 'l') + command('LRANGE', 'l', '1999', '1999'))
    assert.equal(h.output.toString(), '+PONG\r\n:2000\r\n:2000\r\n*1\r\n$5\r\nv1999\r\n')
    assert.equal(h.buffered, 0)
  })

  test('refuses a command whose arguments pass maxCommandBytes', T, () => {
    const run = checkSplits(factory({ maxCommandBytes: 10 }), command('MSET', 'a', '123', 'b', '45'), { random: 20, ...OUTPUT_ONLY })
    assert.equal(run.output.toString(), '-ERR Protocol error: command too large\r\n')
    assert.equal(run.state, 'done')
  })

  test('answers "command too large" when the stream cannot hold the command (maxBufferSize below respMaxBufferSize)', T, () => {
    const h = new Harness(factory(), { maxBufferSize: 1024 })
    h.feed(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n${'x'.repeat(100)}`)
    assert.equal(h.output.toString(), '-ERR Protocol error: command too large\r\n')
    assert.equal(h.state, 'done')
    assert.ok(respMaxBufferSize(RESP_DEFAULTS) > RESP_DEFAULTS.maxCommandBytes + RESP_DEFAULTS.maxArguments * 34)
  })
})

describe('Dict (the keyspace table, looked up by bytes)', () => {
  const entry = (key: string): DictEntry & { value: number } => ({ key, hash: 0, next: null, value: key.length })

  test('hashes a key the same from its bytes and from its latin1 string, for every byte value', T, () => {
    const dict = new Dict()
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i))
    for (let end = 3; end <= bytes.length; end += 17) {
      assert.equal(dict.hashBytes(bytes, 3, end), dict.hashString(bytes.toString('latin1', 3, end)))
    }
  })

  test('finds, replaces and deletes 5,000 keys through growth, from bytes and from strings', T, () => {
    const dict = new Dict<DictEntry & { value: number }>()
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}\xff`)
    for (const key of keys) dict.insert(entry(key))
    assert.equal(dict.size, 5000)
    for (let i = 0; i < keys.length; i += 2) dict.delete(dict.find(keys[i] as string) as DictEntry & { value: number })
    for (let i = 1; i < keys.length; i += 4)
      dict.replace(dict.find(keys[i] as string) as DictEntry & { value: number }, { ...entry(keys[i] as string), value: -1 })
    assert.equal(dict.size, 2500)
    keys.forEach((key, i) => {
      const bytes = Buffer.from(`xx${key}yy`, 'latin1')
      const found = dict.findBytes(bytes, 2, bytes.length - 2)
      assert.equal(found, dict.find(key))
      assert.equal(found?.value, i % 2 === 0 ? undefined : i % 4 === 1 ? -1 : key.length)
    })
    assert.equal(dict.findBytes(Buffer.from('k1'), 0, 2), undefined) // a prefix of a key is another key
  })

  test('sweeps expired entries a budget of buckets at a time, round the whole table', T, () => {
    const dict = new Dict<DictEntry & { value: number }>()
    for (let i = 0; i < 1000; i++) dict.insert(entry(i % 3 === 0 ? `dead${i}` : `live${i}`))
    let removed = 0
    for (let round = 0; round < 1024 / 64; round++) removed += dict.sweep(64, (e) => e.key.startsWith('dead'))
    assert.equal(removed, 334)
    assert.equal(dict.size, 666)
  })
})
