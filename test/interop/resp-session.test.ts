/**
 * The demo server's connection layer against the real redis-server (7.0), byte for byte: the
 * same command sequences, on as many connections as each scenario needs, go to both servers and
 * every reply must be identical. Only the connection ids differ (they count connections since
 * the server started): `id` in HELLO and CLIENT ID replies is masked.
 */
import assert from 'node:assert/strict'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { prng } from 'rotor-stream/testing'
import { type RunningServer, startRedisServer } from '../../examples/redis-server.js'
import { freePort } from '../helpers/net.js'
import { needs, run } from '../helpers/peers.js'
import { type RealRedis, startRealRedis } from '../helpers/redis.js'
import { encode, RawConnection } from './resp-session-client.js'

const peer = needs('redis-server')

/** One step: on connection `on`, send a command (words, or raw bytes), then wait for `replies` replies. */
interface Step {
  on?: number
  send?: readonly string[] | { raw: string }
  replies?: number
  /** Wait this long (ms) before the step: only to let a key's TTL pass. */
  wait?: number
}

/** Commands on connection 0, one reply each. */
const seq = (...commands: string[][]): Step[] => commands.map((send) => ({ send }))

/** Runs `steps` against the server on `port`; returns, per connection, its bytes and whether it was closed. */
async function play(port: number, steps: readonly Step[]): Promise<string[]> {
  const connections: RawConnection[] = []
  const transcript: string[] = []
  try {
    for (const step of steps) {
      const on = step.on ?? 0
      while (connections.length <= on) connections.push(await RawConnection.open(port))
      const c = connections[on] as RawConnection
      if (step.wait !== undefined) await new Promise((resolve) => setTimeout(resolve, step.wait))
      if (step.send !== undefined) c.send('raw' in step.send ? step.send.raw : encode(step.send))
      transcript.push(`${on}> ${(await c.replies(step.replies ?? (step.send === undefined ? 0 : 1))).replace(/(\$2\r\nid\r\n:)\d+/g, '$1<id>')}`)
    }
    // Nothing more arrives unasked: a PING round trip on every connection still open proves it.
    for (const [i, c] of connections.entries()) {
      if (c.isClosed) transcript.push(`${i} closed`)
      else {
        c.send(encode(['PING']))
        transcript.push(`${i} end> ${await c.replies(1)}`)
      }
    }
  } finally {
    for (const c of connections) c.close()
  }
  return transcript
}

const SCENARIOS: Record<string, Step[]> = {
  'HELLO and AUTH': seq(
    ['HELLO'],
    ['HELLO', '3'],
    ['HELLO', '4'],
    ['HELLO', 'abc'],
    ['HELLO', '2', 'AUTH', 'default', 'x'],
    ['HELLO', '3', 'AUTH', 'u', 'p'],
    ['HELLO', '2', 'SETNAME', 'foo'],
    ['CLIENT', 'GETNAME'],
    ['HELLO', '2', 'SETNAME', 'a b'],
    ['HELLO', '2', 'FOO'],
    ['HELLO', '2', 'AUTH', 'x'],
    ['AUTH', 'x'],
    ['AUTH', 'default', 'x'],
    ['AUTH', 'u', 'x'],
    ['AUTH', 'a', 'b', 'c'],
    ['AUTH'],
  ),
  'SELECT, MOVE, SWAPDB, FLUSHALL': seq(
    ['SELECT', '16'],
    ['SELECT', '-1'],
    ['SELECT', 'abc'],
    ['SELECT', '01'],
    ['SELECT', '1'],
    ['MOVE', 'k', '1'],
    ['SET', 'k', 'v'],
    ['MOVE', 'k', '1'],
    ['MOVE', 'nokey', '0'],
    ['MOVE', 'k', '0'],
    ['MOVE', 'k', '16'],
    ['MOVE', 'k', 'x'],
    ['SET', 'k', 'again'],
    ['SELECT', '0'],
    ['SET', 'k', 'zero'],
    ['SELECT', '1'],
    ['MOVE', 'k', '0'],
    ['GET', 'k'],
    ['SET', 'e', 'v', 'EX', '100'],
    ['MOVE', 'e', '2'],
    ['SELECT', '2'],
    ['TTL', 'e'],
    ['SWAPDB', '0', '16'],
    ['SWAPDB', 'a', '1'],
    ['SWAPDB', '0', 'x'],
    ['SWAPDB', '1', '1'],
    ['SWAPDB', '2', '3'],
    ['DBSIZE'],
    ['SELECT', '3'],
    ['GET', 'e'],
    ['FLUSHALL', 'x'],
    ['FLUSHALL', 'SYNC', 'x'],
    ['FLUSHALL', 'ASYNC'],
    ['DBSIZE'],
    ['SELECT', '0'],
    ['DBSIZE'],
    ['FLUSHALL'],
  ),
  'MULTI, EXEC, DISCARD, WATCH': seq(
    ['EXEC'],
    ['DISCARD'],
    ['MULTI'],
    ['MULTI'],
    ['SET', 'a', '1'],
    ['NOSUCH', 'x'],
    ['GET'],
    ['EXEC'],
    ['MULTI'],
    ['WATCH', 'a'],
    ['SET', 'a', '1'],
    ['INCR', 'a'],
    ['EXEC'],
    ['UNWATCH'],
    ['MULTI'],
    ['UNWATCH'],
    ['DISCARD'],
    ['WATCH'],
    ['MULTI'],
    ['PING'],
    ['SELECT', '3'],
    ['EXEC'],
    ['SET', 'b', 'in 3'],
    ['MULTI'],
    ['EXEC', 'x'],
    ['EXEC'],
    ['EXEC', 'x'],
    ['MULTI'],
    ['CLIENT', 'NOSUCH'],
    ['EXEC'],
    ['MULTI'],
    ['EXEC'],
    ['MULTI'],
    ['HELLO', '3'],
    ['EXEC'],
    ['MULTI'],
    ['RESET'],
    ['GET', 'a'],
    ['FLUSHALL'],
  ),
  'WATCH broken by MOVE, SWAPDB and FLUSHALL from another connection, RESP2 and RESP3': [
    ...seq(['SET', 'k', 'v'], ['WATCH', 'k']),
    { on: 1, send: ['MOVE', 'k', '5'] },
    ...seq(['MULTI'], ['GET', 'k'], ['EXEC']),
    ...seq(['HELLO', '3'], ['SELECT', '5'], ['WATCH', 'k']),
    { on: 1, send: ['SWAPDB', '5', '6'] },
    ...seq(['MULTI'], ['GET', 'k'], ['EXEC']),
    ...seq(['WATCH', 'nokey']),
    { on: 1, send: ['FLUSHALL'] },
    ...seq(['MULTI'], ['PING'], ['EXEC']),
    ...seq(['SET', 'w', '1'], ['WATCH', 'w']),
    { on: 1, send: ['FLUSHALL'] },
    ...seq(['MULTI'], ['PING'], ['EXEC']),
  ],
  'WATCH broken by the key expiring': [
    ...seq(['SET', 'ttl', 'v', 'PX', '20'], ['WATCH', 'ttl'], ['WATCH', 'never-existed']),
    { send: ['MULTI'], wait: 100 },
    ...seq(['PING'], ['EXEC'], ['WATCH', 'never-existed'], ['MULTI'], ['PING'], ['EXEC']),
  ],
  'pub/sub in RESP2: subscribed mode, messages, pattern messages, PUBSUB': [
    { send: ['SUBSCRIBE', 'a', 'b'], replies: 2 },
    ...seq(['SUBSCRIBE', 'b'], ['GET', 'x'], ['PING'], ['PING', 'hi'], ['PSUBSCRIBE', 'h?llo'], ['PSUBSCRIBE', 'x[a-e]l*']),
    ...[
      ['PUBLISH', 'a', 'm1'],
      ['PUBLISH', 'hello', 'm2'],
      ['PUBLISH', 'nobody', 'm3'],
      ['PUBSUB', 'NUMSUB', 'a', 'zz'],
      ['PUBSUB', 'NUMSUB'],
      ['PUBSUB', 'NUMPAT'],
      ['PUBSUB', 'CHANNELS', 'a*'],
      ['PUBSUB', 'CHANNELS', 'a', 'b'],
      ['PUBSUB', 'FOO'],
      ['PUBSUB'],
      ['PUBSUB', 'NUMPAT', 'x'],
      ['PUBLISH', 'a'],
    ].map((send): Step => ({ on: 1, send })),
    { on: 1, send: ['PUBLISH', 'xbl', 'm4'] },
    { on: 0, replies: 3 }, // message, pmessage, pmessage
    ...seq(
      ['UNSUBSCRIBE', 'a'],
      ['UNSUBSCRIBE', 'b'],
      ['PUNSUBSCRIBE', 'h?llo'],
      ['PUNSUBSCRIBE', 'x[a-e]l*'],
      ['PING'],
      ['UNSUBSCRIBE'],
      ['PUNSUBSCRIBE'],
      ['SUBSCRIBE', 'c'],
      ['RESET'],
      ['PING'],
    ),
    ...seq(['SUBSCRIBE'], ['PSUBSCRIBE'], ['UNSUBSCRIBE', 'never']),
  ],
  'pub/sub in RESP3: pushes, any command while subscribed, messages to self before the reply': [
    ...seq(['HELLO', '3'], ['SUBSCRIBE', 'a'], ['CLIENT', 'GETNAME'], ['ECHO', 'any command'], ['PING'], ['PSUBSCRIBE', 'h*']),
    { send: ['PUBLISH', 'a', 'msg'], replies: 2 },
    { send: ['PUBLISH', 'hello', 'm2'], replies: 2 },
    { on: 1, send: ['PUBLISH', 'a', 'from 1'] },
    { on: 0, replies: 1 },
    ...seq(['UNSUBSCRIBE', 'a'], ['PUNSUBSCRIBE', 'h*'], ['UNSUBSCRIBE'], ['PUNSUBSCRIBE', 'x'], ['PUBSUB', 'NUMSUB', 'a']),
  ],
  'pub/sub and transactions: SUBSCRIBE queued in MULTI, MULTI refused while subscribed, QUIT allowed': seq(
    ['MULTI'],
    ['SUBSCRIBE', 'q'],
    ['PUBLISH', 'q', 'in exec'],
    ['EXEC'],
    ['GET', 'x'],
    ['MULTI'],
    ['PSUBSCRIBE', 'p*'],
    ['PUNSUBSCRIBE', 'p*'],
    ['PING', 'x'],
    ['HELLO', '3'],
    ['QUIT'],
  ),
  'CLIENT subcommands and their errors': seq(
    ['CLIENT', 'GETNAME'],
    ['CLIENT', 'SETNAME', 'foo'],
    ['CLIENT', 'GETNAME'],
    ['CLIENT', 'SETNAME', ''],
    ['CLIENT', 'GETNAME'],
    ['CLIENT', 'SETNAME', 'a', 'b'],
    ['CLIENT', 'SETNAME', 'a b'],
    ['CLIENT', 'SETNAME', 'a\nb'],
    ['CLIENT', 'FOO'],
    ['CLIENT'],
    ['CLIENT', 'NO-EVICT', 'on'],
    ['CLIENT', 'NO-EVICT', 'x'],
    ['CLIENT', 'REPLY', 'ON'],
    ['CLIENT', 'REPLY', 'x'],
    ['CLIENT', 'GETNAME', 'x'],
    ['CLIENT', 'ID', 'x'],
    ['CLIENT', 'LIST', 'TYPE', 'foo'],
    ['CLIENT', 'LIST', 'ID', 'abc'],
    ['CLIENT', 'LIST', 'x'],
    ['CLIENT', 'LIST', 'ID', '999999'],
    ['CLIENT', 'KILL', '1.2.3.4:5'],
    ['CLIENT', 'KILL', 'ID', '999999'],
    ['CLIENT', 'KILL', 'FOO', 'x'],
  ),
  'CLIENT REPLY OFF and SKIP': [
    { send: ['CLIENT', 'REPLY', 'OFF'], replies: 0 },
    { send: ['PING'], replies: 0 },
    { send: ['CLIENT', 'REPLY', 'ON'] },
    { send: ['CLIENT', 'REPLY', 'SKIP'], replies: 0 },
    { send: ['ECHO', 'skipped'], replies: 0 },
    { send: ['ECHO', 'seen'] },
  ],
  'connection and server commands': seq(
    ['PING', 'a', 'b'],
    ['ECHO'],
    ['ECHO', 'a', 'b'],
    ['ECHO', 'a\r\nb'],
    ['NOSUCH'],
    ['NOSUCH', 'a', 'b'],
    ['nosuch', 'x'.repeat(200), 'y'],
    ['CONFIG', 'GET', 'databases'],
    ['CONFIG', 'GET'],
    ['CONFIG'],
    ['CONFIG', 'FOO'],
    ['CONFIG', 'GET', 'nosuch'],
    ['CONFIG', 'SET', 'foo', 'bar'],
    ['CONFIG', 'RESETSTAT'],
    ['COMMAND', 'FOO'],
    ['COMMAND', 'COUNT', 'x'],
    ['COMMAND', 'INFO', 'nosuch'],
    ['RESET', 'x'],
    ['SELECT'],
    ['MOVE', 'k'],
    ['SWAPDB', '0'],
    ['MULTI', 'x'],
    ['DISCARD', 'x'],
    ['UNWATCH', 'x'],
    ['PUBLISH', 'a'],
    ['HELLO', '3'],
    ['CONFIG', 'GET', 'databases'],
    ['COMMAND', 'INFO', 'nosuch'],
    ['COMMAND', 'DOCS', 'nosuch'],
    ['CLIENT', 'GETNAME'],
    ['PING'],
    ['RESET'],
    ['PING'],
  ),
  'QUIT closes after its reply, also inside MULTI': [...seq(['MULTI'], ['QUIT'])],
  'inline commands with quotes and escapes, as redis-cli sends them': [
    { send: { raw: 'ECHO "a\\x41\\n\\tb\\"c\\\\d"\r\n' } },
    { send: { raw: "ECHO 'x\\'y\\n'\r\n" } },
    { send: { raw: 'ECHO "\\xZZ\\q"\r\n' } },
    { send: { raw: 'ECHO ""\r\n' } },
    { send: { raw: 'ECHO "" x\r\n' } },
    { send: { raw: 'SET  "k  y"   "\\x00\\xff"\r\nGET "k  y"\r\n' }, replies: 2 },
    { send: { raw: '  \r\n\r\nPING\r\n' } },
    { send: { raw: 'ECHO a\tb\r\n' } },
    { send: { raw: 'PING\n' } },
    { send: { raw: 'ECHO "\\b\\a\\r"\r\n' } },
    { send: { raw: 'ECHO "\\x4"\r\n' } },
    { send: { raw: 'ECHO a"b" c\r\n' } },
    { send: { raw: 'DEL "k  y"\r\n' } },
  ],
  'unbalanced quotes: the error, then the connection closes': [{ send: { raw: 'PING\r\nECHO "a"b\r\nPING\r\n' }, replies: 3 }],
  'unbalanced quotes at the end of the line': [{ send: { raw: "ECHO 'abc\r\n" }, replies: 2 }],
  'an HTTP POST closes the connection without an answer': [{ send: { raw: 'POST / HTTP/1.1\r\nHost: x\r\n\r\n' }, replies: 1 }],
  'a Host: line closes the connection without an answer': [{ send: { raw: 'Host: example.com\r\n' }, replies: 1 }],
}

describe('the demo server and the real redis-server give identical replies', { ...peer, timeout: 120_000 }, () => {
  let real: RealRedis
  let demo: RunningServer
  const realUnix = path.join(os.tmpdir(), `rotor-session-real-${process.pid}.sock`)
  const demoUnix = path.join(os.tmpdir(), `rotor-session-demo-${process.pid}.sock`)
  before(async () => {
    real = await startRealRedis(await freePort(), realUnix)
    demo = await startRedisServer({ port: 0, unix: demoUnix })
  })
  after(async () => {
    await demo?.close()
    await real?.stop()
  })

  for (const [name, steps] of Object.entries(SCENARIOS)) {
    test(name, { timeout: 20_000 }, async () => {
      const expected = await play(real.port, steps)
      const actual = await play(demo.port, steps)
      assert.deepEqual(actual, expected)
    })
  }

  test('glob patterns select the same channels (PUBSUB CHANNELS, sorted: the order is the table order)', { timeout: 20_000 }, async () => {
    const channels = ['h]', 'h]llo', 'hello', 'hallo', 'hllo', 'heeello', 'h*llo', 'h[llo', 'a-b', 'x\\y', 'news.1', 'news.22', '']
    const patterns = [
      '*',
      'h?llo',
      'h*llo',
      'h[ae]llo',
      'h[^e]llo',
      'h[a-e]*',
      'h[e-a]llo',
      'h\\*llo',
      'h\\[llo',
      'h[\\[]llo',
      'news.??',
      'news.[0-9]',
      '[a-c]-?',
      'x\\\\y',
      '[',
      'h[',
      '*.*',
      'h[a-]llo',
      'h[a-]',
      '*a*l*',
      '*o',
    ]
    const select = async (port: number): Promise<string[][]> => {
      const sub = await RawConnection.open(port)
      const query = await RawConnection.open(port)
      try {
        sub.send(encode(['SUBSCRIBE', ...channels]))
        await sub.replies(channels.length)
        const found: string[][] = []
        for (const pattern of patterns) {
          query.send(encode(['PUBSUB', 'CHANNELS', pattern]))
          found.push(
            (await query.replies(1))
              .split('\r\n')
              .filter((_, i) => i > 0 && i % 2 === 0)
              .sort(),
          )
        }
        return found
      } finally {
        sub.close()
        query.close()
      }
    }
    assert.deepEqual(await select(demo.port), await select(real.port))
  })

  test('400 random inline lines of quotes, escapes and whitespace split the same (or are refused the same)', { timeout: 60_000 }, async () => {
    const random = prng(15)
    const pieces = ['a', 'b', ' ', '  ', '\t', '"', "'", '\\', 'x', '4', 'f', 'n', 't', '\\x4', '\\"', "\\'", '\\n', 'Z']
    const lines = Array.from({ length: 400 }, () =>
      Array.from({ length: 1 + Math.floor(random() * 12) }, () => pieces[Math.floor(random() * pieces.length)]).join(''),
    )
    // PUBSUB NUMSUB answers every word it got, decoded: a mirror of the split.
    const answers = async (port: number): Promise<string[]> => {
      const out: string[] = []
      for (const line of lines) {
        const c = await RawConnection.open(port)
        try {
          c.send(`PUBSUB NUMSUB ${line}\r\nPING\r\n`)
          out.push(`${line} => ${await c.replies(2)}`)
        } finally {
          c.close()
        }
      }
      return out
    }
    assert.deepEqual(await answers(demo.port), await answers(real.port))
  })

  test('300 random glob patterns select the same of 40 random channels', { timeout: 60_000 }, async () => {
    const random = prng(7)
    const pick = (alphabet: string, max: number): string =>
      Array.from({ length: 1 + Math.floor(random() * max) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')
    const channels = [...new Set(Array.from({ length: 40 }, () => pick('ab]-\\^[*?', 5)))]
    const patterns = Array.from({ length: 300 }, () => pick('ab*?[]^-\\', 7))
    const select = async (port: number): Promise<string[]> => {
      const sub = await RawConnection.open(port)
      const query = await RawConnection.open(port)
      try {
        sub.send(encode(['SUBSCRIBE', ...channels]))
        await sub.replies(channels.length)
        const found: string[] = []
        for (const pattern of patterns) {
          query.send(encode(['PUBSUB', 'CHANNELS', pattern]))
          const names = (await query.replies(1)).split('\r\n').filter((_, i) => i > 0 && i % 2 === 0)
          found.push(`${pattern} => ${JSON.stringify(names.sort())}`)
        }
        return found
      } finally {
        sub.close()
        query.close()
      }
    }
    assert.deepEqual(await select(demo.port), await select(real.port))
  })

  test('CLIENT INFO over a Unix socket shows its path as both addresses, and flag U', { timeout: 20_000 }, async () => {
    const info = async (where: string): Promise<string> => {
      const c = await RawConnection.open(where)
      try {
        c.send(encode(['CLIENT', 'INFO']))
        const line = (await c.replies(1)).split('\r\n')[1] ?? ''
        return line
          .replaceAll(where, '<path>')
          .replace(/(^| )(id|fd|qbuf|qbuf-free|argv-mem|rbs|rbp|tot-mem)=-?\d+/g, '$1$2=n')
          .replace(/ lib-name= lib-ver=/, '')
      } finally {
        c.close()
      }
    }
    assert.deepEqual(await info(demoUnix), await info(realUnix))
  })

  test('redis-cli -n 1, -3 and a piped script print the same for both', { ...needs('redis-cli'), timeout: 30_000 }, async () => {
    const cli = async (port: number, args: string[], input?: string): Promise<string> =>
      (await run('redis-cli', ['-p', String(port), ...args], { timeout: 10_000, ...(input === undefined ? {} : { input }) })).replace(
        /^id( |\n)\d+$/m,
        'id<id>',
      )
    const session = async (port: number): Promise<string[]> => [
      await cli(port, ['-n', '1', 'SET', 'in-one', 'v']),
      await cli(port, ['-n', '1', 'GET', 'in-one']),
      await cli(port, ['GET', 'in-one']),
      await cli(port, ['-3', 'HELLO', '3']),
      await cli(port, ['-3', 'CONFIG', 'GET', 'databases']),
      await cli(port, ['-n', '1'], 'MULTI\nINCR n\nINCR n\nEXEC\nCLIENT SETNAME "not allowed"\nECHO "a\\tb"\n'),
      await cli(port, ['FLUSHALL']),
    ]
    assert.deepEqual(await session(demo.port), await session(real.port))
  })

  test('WATCH broken by a SET from another connection', { timeout: 20_000 }, async () => {
    const steps: Step[] = [...seq(['WATCH', 'k']), { on: 1, send: ['SET', 'k', 'v'] }, ...seq(['MULTI'], ['GET', 'k'], ['EXEC'])]
    assert.deepEqual(await play(demo.port, steps), await play(real.port, steps))
  })

  test('CLIENT INFO and CLIENT LIST have the real server fields, with this connection address, name and db', { timeout: 20_000 }, async () => {
    const fields = async (port: number): Promise<{ keys: string[]; info: Record<string, string>; local: string; list: string }> => {
      const a = await RawConnection.open(port)
      const b = await RawConnection.open(port)
      try {
        a.send(encode(['CLIENT', 'SETNAME', 'first']))
        a.send(encode(['SELECT', '4']))
        a.send(encode(['CLIENT', 'INFO']))
        a.send(encode(['CLIENT', 'LIST']))
        const replies = await a.replies(4)
        const [info = '', list = ''] = replies.split(/\$\d+\r\n/).slice(1)
        const pairs = info.trim().split(' ')
        return {
          keys: pairs.map((p) => p.split('=')[0] as string),
          info: Object.fromEntries(pairs.map((p) => p.split('=') as [string, string])),
          local: `${a.socket.localAddress}:${a.socket.localPort}`,
          list,
        }
      } finally {
        a.close()
        b.close()
      }
    }
    const real7 = await fields(real.port)
    const ours = await fields(demo.port)
    // Ours has Redis 7.2's lib-name and lib-ver too (CLIENT SETINFO).
    assert.deepEqual(
      ours.keys.filter((k) => !k.startsWith('lib-')),
      real7.keys,
    )
    for (const [info, local] of [
      [ours.info, ours.local],
      [real7.info, real7.local],
    ] as const) {
      assert.equal(info.addr, local)
      assert.equal(info.name, 'first')
      assert.equal(info.db, '4')
      assert.equal(info.cmd, 'client|info')
    }
    assert.ok(ours.list.includes(`id=${ours.info.id} `) && real7.list.includes(`id=${real7.info.id} `))
  })
})
