/**
 * examples/redis-client.ts without sockets: RESP3 replies and pushes, pub/sub frames in RESP2,
 * maxReplySize, and the commands `command()` refuses. The protocol (`client.factory`) runs on the
 * test kit's Harness, on a client whose own connection never comes up.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { describeSplit, Harness, splitAt, splits } from 'rotor-stream/testing'
import {
  RedisClient,
  type RedisClientOptions,
  type RedisReply,
  ReplyError,
  type ReplyItem,
  ReplyTooLargeError,
  SubscriberModeError,
  UnsupportedCommandError,
} from '../../examples/redis-client.js'

/** A client that only queues: its Persistent fails to connect and gives up. */
function detached(options: RedisClientOptions = {}): RedisClient {
  return new RedisClient({ path: '/nonexistent/rotor-stream-unit.sock' }, { reconnect: () => null, ...options })
}

type Settled = { value: RedisReply } | { error: Error }

function settle(p: Promise<RedisReply>): Promise<Settled> {
  return p.then(
    (value) => ({ value }),
    (error: Error) => ({ error }),
  )
}

const HELLO = '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n'
const HELLO_REPLY = '%1\r\n+proto\r\n:3\r\n'

describe('RedisClient with protocol: 3', () => {
  test('says HELLO 3 before the queued commands, in the same write', async () => {
    const client = detached({ protocol: 3 })
    const reply = client.command('PING')
    const h = new Harness(client.factory)
    assert.equal(h.writes, 1)
    assert.equal(h.output.toString(), `${HELLO}*1\r\n$4\r\nPING\r\n`)
    h.feed(`${HELLO_REPLY}+PONG\r\n`)
    assert.equal(await reply, 'PONG')
    await client.close()
  })

  test('decodes every RESP3 type and delivers interleaved pushes identically for every split', async () => {
    const replies = [
      '_\r\n',
      '#t\r\n',
      '#f\r\n',
      ',3.14\r\n',
      ',-1.5e3\r\n',
      ',inf\r\n',
      ',-inf\r\n',
      ',nan\r\n',
      '(3492890328409238509324850943850943825024385\r\n',
      '=15\r\ntxt:Some string\r\n',
      '!21\r\nSYNTAX invalid syntax\r\n',
      '%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n,2.5\r\n',
      '~3\r\n+a\r\n+b\r\n+a\r\n',
      '|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n:9543892\r\n',
      '*3\r\n%1\r\n+k\r\n~1\r\n#t\r\n_\r\n%0\r\n',
      ':7\r\n',
    ]
    const expected: Settled[] = [
      { value: null },
      { value: true },
      { value: false },
      { value: 3.14 },
      { value: -1500 },
      { value: Number.POSITIVE_INFINITY },
      { value: Number.NEGATIVE_INFINITY },
      { value: Number.NaN },
      { value: 3492890328409238509324850943850943825024385n },
      { value: 'Some string' },
      { error: new ReplyError('SYNTAX invalid syntax') },
      {
        value: new Map<ReplyItem, ReplyItem>([
          ['first', 1],
          ['second', 2.5],
        ]),
      },
      { value: new Set(['a', 'b']) },
      { value: [2039123, 9543892] },
      { value: [new Map([['k', new Set([true])]]), null, new Map()] },
      { value: 7 },
    ]
    const confirm = '>3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n'
    const message = '>3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n'
    // The message arrives after the 3rd reply and inside nothing: pushes are top-level frames.
    const input = HELLO_REPLY + confirm + replies.slice(0, 3).join('') + message + replies.slice(3).join('') + message
    for (const chunks of splits(input, { random: 300, randomSeed: 3 })) {
      const client = detached({ protocol: 3 })
      const messages: string[] = []
      const subscribed = client.subscribe('news', (m, channel) => messages.push(`${channel}:${String(m)}`))
      const settled = replies.map((_, i) => settle(client.command('X', i)))
      const h = new Harness(client.factory)
      for (const chunk of chunks) h.feed(chunk)
      const where = `split ${describeSplit(chunks)}`
      assert.equal(h.state, 'running', where)
      await subscribed
      assert.deepEqual(await Promise.all(settled), expected, where)
      assert.deepEqual(messages, ['news:hello', 'news:hello'], where)
      await client.close()
    }
  })

  test('refuses malformed RESP3 with a ProtocolError', async () => {
    for (const bad of ['_x\r\n', '#x\r\n', '#tt\r\n', ',1.2.3\r\n', ',\r\n', '(12a\r\n', '=3\r\nabc\r\n', '%-1\r\n', '~x\r\n', '$?\r\n']) {
      const client = detached({ protocol: 3 })
      const reply = settle(client.command('X'))
      const h = new Harness(client.factory)
      h.feed(HELLO_REPLY + bad)
      assert.equal(h.state, 'error', bad)
      assert.equal((h.error as { code?: string }).code, 'RS_ERR_PROTOCOL', bad)
      assert.ok('error' in (await reply), bad)
      await client.close()
    }
  })

  test('ends the connection with a HelloError when the server refuses HELLO 3', async () => {
    const client = detached({ protocol: 3 })
    const reply = settle(client.command('PING'))
    const h = new Harness(client.factory)
    h.feed('-NOPROTO unsupported protocol version\r\n+PONG\r\n')
    assert.equal(h.state, 'error')
    assert.equal((h.error as { code?: string }).code, 'REDIS_CLIENT_ERR_HELLO')
    assert.ok((h.error as Error).cause instanceof ReplyError)
    assert.deepEqual(await reply, { value: 'PONG' }) // it ran, in RESP2, and its reply was read
    await client.close()
  })

  test('settles every generated reply tree as the model says, for any split (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(resp3Reply, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), async (generated, rawCuts) => {
        const input = Buffer.concat([Buffer.from(HELLO_REPLY), ...generated.map((g) => g.bytes)])
        const cuts = [...new Set(rawCuts.map((c) => c % input.length))].sort((a, b) => a - b).filter((c) => c > 0)
        const client = detached({ protocol: 3 })
        const settled = generated.map((_, i) => settle(client.command('X', i)))
        const h = new Harness(client.factory)
        for (const chunk of splitAt(input, cuts)) h.feed(chunk)
        assert.equal(h.state, 'running')
        assert.deepEqual(
          await Promise.all(settled),
          generated.map((g) => ({ value: g.value })),
        )
        await client.close()
      }),
      { numRuns: 300, seed: 20261205 },
    )
  })
})

describe('RedisClient pub/sub in RESP2', () => {
  const frame = (...items: (string | number)[]): string =>
    `*${items.length}\r\n${items.map((i) => (typeof i === 'number' ? `:${i}\r\n` : `$${Buffer.byteLength(i)}\r\n${i}\r\n`)).join('')}`

  test('subscribes, delivers messages and pattern messages, refuses other commands until unsubscribed', async () => {
    const client = detached()
    const got: string[] = []
    const before = client.command('LRANGE', 'l', 0, -1)
    const sub = client.subscribe(['a', 'b'], (m, channel) => got.push(`${channel}=${String(m)}`))
    const psub = client.psubscribe('n.*', (m, channel, pattern) => got.push(`${pattern}/${channel}=${String(m)}`))
    const refused = client.command('GET', 'k')
    const h = new Harness(client.factory) // before any await: the detached client gives up on its own connection
    await assert.rejects(refused, (err: unknown) => err instanceof SubscriberModeError && err.code === 'REDIS_CLIENT_ERR_SUBSCRIBER_MODE')
    assert.equal(
      h.output.toString(),
      '*4\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n$2\r\n-1\r\n*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n*2\r\n$10\r\nPSUBSCRIBE\r\n$3\r\nn.*\r\n',
    )
    // A reply that looks like a message before the server is subscribed is an ordinary reply.
    h.feed(frame('message', 'x', 'y'))
    assert.deepEqual(await before, ['message', 'x', 'y'])
    h.feed(frame('subscribe', 'a', 1) + frame('message', 'a', 'one') + frame('subscribe', 'b', 2))
    await sub
    h.feed(frame('psubscribe', 'n.*', 3) + frame('pmessage', 'n.*', 'n.1', 'two') + frame('message', 'zzz', 'unwanted'))
    await psub
    assert.deepEqual(got, ['a=one', 'n.*/n.1=two'])
    const unsub = client.unsubscribe()
    const punsub = client.punsubscribe('n.*')
    const after = client.command('LRANGE', 'l', 0, -1) // allowed: it leaves after the UNSUBSCRIBEs
    h.wakeup() // the client wakes its own Persistent's connection; this one is the Harness's
    h.feed(frame('unsubscribe', 'a', 2) + frame('message', 'b', 'late') + frame('unsubscribe', 'b', 1) + frame('punsubscribe', 'n.*', 0))
    await Promise.all([unsub, punsub])
    h.feed(frame('message', 'a', 'b'))
    assert.deepEqual(await after, ['message', 'a', 'b'])
    assert.deepEqual(got, ['a=one', 'n.*/n.1=two']) // 'late' came after unsubscribe() removed the listener
    assert.equal(h.state, 'running')
    await client.close()
  })

  test('subscribes again on a new connection, before the commands queued meanwhile', async () => {
    const client = detached()
    const sub = client.subscribe('a', () => {})
    const first = new Harness(client.factory)
    first.feed(frame('subscribe', 'a', 1))
    await sub
    first.readError()
    const p = client.psubscribe('p*', () => {})
    const second = new Harness(client.factory)
    assert.equal(second.output.toString(), '*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n*2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\np*\r\n')
    second.feed(frame('subscribe', 'a', 1) + frame('psubscribe', 'p*', 2))
    await p
    await client.close()
  })

  test('sends a subscribe lost in flight again on the next connection, once, and resolves it there', async () => {
    const client = detached()
    const sub = client.subscribe('a', () => {})
    const other = client.duplicate() // same options: RESP2 commands beside the subscriber
    const get = settle(other.command('PING'))
    const first = new Harness(client.factory)
    assert.equal(first.output.toString(), '*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n')
    first.readError() // before the confirmation
    const second = new Harness(client.factory)
    assert.equal(second.output.toString(), '*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n')
    second.feed(frame('subscribe', 'a', 1))
    await sub
    assert.ok('error' in (await get)) // the duplicate's own connection never came up and gave up
    await other.close()
    await client.close()
  })

  test('refuses commands that change how replies flow, with a stable code', async () => {
    const client = detached()
    for (const name of ['subscribe', 'PSUBSCRIBE', 'Unsubscribe', 'punsubscribe', 'SSUBSCRIBE', 'MONITOR', 'reset', 'HELLO']) {
      await assert.rejects(
        client.command(name, 'x'),
        (err: unknown) => err instanceof UnsupportedCommandError && err.code === 'REDIS_CLIENT_ERR_UNSUPPORTED_COMMAND',
      )
    }
    await client.close()
  })
})

describe('RedisClient maxReplySize', () => {
  test('fails only the command whose reply is too large, for every split, and the connection goes on', async () => {
    const big = 'x'.repeat(150)
    const replies = [
      '+OK\r\n',
      `$150\r\n${big}\r\n`,
      `*3\r\n$40\r\n${'a'.repeat(40)}\r\n$40\r\n${'b'.repeat(40)}\r\n*1\r\n$40\r\n${'c'.repeat(40)}\r\n`,
      ':1\r\n',
      `$90\r\n${'y'.repeat(90)}\r\n`,
    ]
    for (const chunks of splits(replies.join(''), { random: 200, randomSeed: 5, exhaustiveUpTo: 0 })) {
      const client = detached({ maxReplySize: 100 })
      const settled = replies.map((_, i) => settle(client.command('X', i)))
      const h = new Harness(client.factory)
      for (const chunk of chunks) h.feed(chunk)
      const where = `split ${describeSplit(chunks)}`
      assert.equal(h.state, 'running', where)
      const [ok, tooBig, tooBigArray, one, fits] = await Promise.all(settled)
      assert.deepEqual(ok, { value: 'OK' }, where)
      for (const s of [tooBig, tooBigArray]) {
        assert.ok(s !== undefined && 'error' in s && s.error instanceof ReplyTooLargeError, where)
        assert.equal((s.error as ReplyTooLargeError).code, 'REDIS_CLIENT_ERR_REPLY_TOO_LARGE')
        assert.equal((s.error as ReplyTooLargeError).limit, 100)
      }
      assert.deepEqual(one, { value: 1 }, where)
      assert.deepEqual(fits, { value: 'y'.repeat(90) }, where)
      await client.close()
    }
  })

  test('never buffers a reply over the limit: its bytes are dropped as they arrive', async () => {
    const client = detached({ maxReplySize: 1024 })
    const reply = settle(client.command('GET', 'big'))
    const h = new Harness(client.factory)
    h.feed('$10000000\r\n')
    for (let i = 0; i < 1000; i++) h.feed(Buffer.alloc(10_000, 0x61))
    h.feed('\r\n')
    const settled = await reply
    assert.ok('error' in settled && settled.error instanceof ReplyTooLargeError)
    await client.close()
  })

  test('refuses a bad maxReplySize, protocol or offlineTimeout with RS_ERR_INVALID_ARG', () => {
    for (const options of [
      { maxReplySize: 0 },
      { maxReplySize: 1.5 },
      { protocol: 4 as 2 },
      { offlineTimeout: 0 },
      { offlineTimeout: -1 },
      { offlineTimeout: 2 ** 31 },
    ]) {
      assert.throws(() => detached(options), { code: 'RS_ERR_INVALID_ARG' })
    }
  })
})

/** A generated RESP3 reply: its bytes and the value the client must resolve with. */
interface Generated {
  bytes: Buffer
  value: RedisReply
}

const line = (type: string, text: string): Buffer => Buffer.from(`${type}${text}\r\n`)
const bulk = (type: string, payload: string): Buffer => {
  const bytes = Buffer.from(payload)
  return Buffer.concat([Buffer.from(`${type}${bytes.length}\r\n`), bytes, Buffer.from('\r\n')])
}
const text = fc.string({ unit: fc.constantFrom(...'abcXYZ 019:-+$*.é€\r\n'.split('')), maxLength: 12 })
const simpleText = fc.string({ unit: fc.constantFrom(...'abcXYZ 019:-+$*.'.split('')), maxLength: 12 })

const leaf: fc.Arbitrary<Generated> = fc.oneof(
  simpleText.map((t) => ({ bytes: line('+', t), value: t === 'OK' ? 'OK' : t })),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((n) => ({ bytes: line(':', String(n)), value: n })),
  text.map((t) => ({ bytes: bulk('$', t), value: t })),
  text.map((t) => ({ bytes: bulk('=', `txt:${t}`), value: t })),
  fc.constant({ bytes: line('_', ''), value: null }),
  fc.constant({ bytes: line('$', '-1'), value: null }),
  fc.boolean().map((b) => ({ bytes: line('#', b ? 't' : 'f'), value: b })),
  fc.double({ noNaN: true }).map((d) => {
    const value = d === 0 ? 0 : d
    const encoded = Number.isFinite(value) ? String(value) : value > 0 ? 'inf' : '-inf'
    return { bytes: line(',', encoded), value }
  }),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }).map((n) => ({ bytes: line('(', String(n)), value: n })),
)

const resp3Reply: fc.Arbitrary<Generated> = fc.letrec<{ reply: Generated }>((tie) => ({
  reply: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('reply'), { maxLength: 4 }).map((items) => ({
      bytes: Buffer.concat([line('*', String(items.length)), ...items.map((i) => i.bytes)]),
      value: items.map((i) => i.value),
    })),
    fc.array(tie('reply'), { maxLength: 4 }).map((items) => ({
      bytes: Buffer.concat([line('~', String(items.length)), ...items.map((i) => i.bytes)]),
      value: new Set(items.map((i) => i.value)),
    })),
    fc.uniqueArray(fc.tuple(simpleText, tie('reply')), { maxLength: 3, selector: ([k]) => k }).map((entries) => ({
      bytes: Buffer.concat([line('%', String(entries.length)), ...entries.flatMap(([k, v]) => [line('+', k), v.bytes])]),
      value: new Map<ReplyItem, ReplyItem>(entries.map(([k, v]) => [k, v.value])),
    })),
  ),
})).reply
