/**
 * examples/redis-client.ts without sockets: its protocol (`client.factory`) runs on the test kit's
 * Harness, on a client whose own connection never comes up (it points nowhere and gives up).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ClosedError, LimitReachedError, ProtocolError, TimeoutError } from 'rotor-stream'
import { describeSplit, Harness, prng, splits } from 'rotor-stream/testing'
import { CommandTimeoutError, RedisClient, type RedisClientOptions, type RedisReply, ReplyError } from '../../examples/redis-client.js'

/** A client that only queues: its Persistent fails to connect and gives up. */
function detached(options: RedisClientOptions = {}): RedisClient {
  return new RedisClient({ path: '/nonexistent/rotor-stream-unit.sock' }, { reconnect: () => null, ...options })
}

/** How a command settled. */
type Settled = { value: RedisReply } | { error: Error }

function settle(p: Promise<RedisReply>): Promise<Settled> {
  return p.then(
    (value) => ({ value }),
    (error: Error) => ({ error }),
  )
}

describe('RedisClient protocol', () => {
  test('encodes strings, numbers, non-ASCII text and binary Buffers as RESP arrays of bulk strings, all in one write', async () => {
    const client = detached()
    const sent = [
      client.command('SET', 'key:1', 'v'.repeat(200)),
      client.command('INCRBY', 'n', -42),
      client.command('SET', 'é', '€uro'),
      client.command('SET', Buffer.from([0, 13, 10, 255]), ''),
      client.command('PING'),
    ].map(settle)
    const h = new Harness(client.factory)
    assert.equal(h.writes, 1)
    const expected = Buffer.concat([
      Buffer.from(`*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$200\r\n${'v'.repeat(200)}\r\n`),
      Buffer.from('*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$3\r\n-42\r\n'),
      Buffer.from('*3\r\n$3\r\nSET\r\n$2\r\né\r\n$6\r\n€uro\r\n'),
      Buffer.from('*3\r\n$3\r\nSET\r\n$4\r\n'),
      Buffer.from([0, 13, 10, 255]),
      Buffer.from('\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n'),
    ])
    assert.deepEqual(h.output, expected)
    h.feed('+OK\r\n:-42\r\n+OK\r\n+OK\r\n+PONG\r\n')
    assert.deepEqual(await Promise.all(sent), [{ value: 'OK' }, { value: -42 }, { value: 'OK' }, { value: 'OK' }, { value: 'PONG' }])
    await client.close()
  })

  test('encodes like the plain RESP definition whatever the sizes: across the staging buffer, long, non-ASCII, binary', async () => {
    const random = prng(11)
    const pick = (): string | Buffer | number => {
      const size = [0, 1, 9, 10, 99, 100, 1000, 16 * 1024, 40_000][Math.floor(random() * 9)] as number
      switch (Math.floor(random() * 4)) {
        case 0:
          return 'k'.repeat(size)
        case 1:
          return `é${'x'.repeat(size)}€` // non-ASCII, short or long
        case 2:
          return Buffer.alloc(size, 0x0d)
        default:
          return Math.floor((random() - 0.5) * 10 ** Math.floor(random() * 15))
      }
    }
    const commands = Array.from({ length: 200 }, () => Array.from({ length: 1 + Math.floor(random() * 4) }, pick))
    const client = detached()
    const sent = commands.map((args) => settle(client.command(...args)))
    const h = new Harness(client.factory)
    const reference = (args: (string | Buffer | number)[]): Buffer[] => {
      const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
      for (const arg of args) {
        const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg))
        parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
      }
      return parts
    }
    // A round stops adding commands past 256 KiB: each reply lets more out.
    for (let i = 0; i < commands.length; i++) h.feed('+OK\r\n')
    assert.ok(h.output.equals(Buffer.concat(commands.flatMap(reference))))
    assert.ok((await Promise.all(sent)).every((s) => 'value' in s && s.value === 'OK'))
    await client.close()
  })

  test('settles every reply type identically for every split of the replies', async () => {
    const replies = [
      '+OK\r\n',
      '+hello world\r\n',
      '-ERR unknown command\r\n',
      ':0\r\n',
      ':-17\r\n',
      ':9223372036854775807\r\n',
      '$-1\r\n',
      '$0\r\n\r\n',
      '$5\r\na\r\nb\0\r\n',
      '$3\r\n€\r\n', // 3 bytes of utf8
      '*-1\r\n',
      '*0\r\n',
      '*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n-WRONGTYPE in array\r\n',
    ]
    const expected: Settled[] = [
      { value: 'OK' },
      { value: 'hello world' },
      { error: new ReplyError('ERR unknown command') },
      { value: 0 },
      { value: -17 },
      { value: Number('9223372036854775807') }, // rounded as Number() rounds it
      { value: null },
      { value: '' },
      { value: 'a\r\nb\0' },
      { value: '€' },
      { value: null },
      { value: [] },
      { value: [1, ['a', ['b']], new ReplyError('WRONGTYPE in array') as unknown as RedisReply] },
    ]
    for (const chunks of splits(replies.join(''), { random: 300, randomSeed: 7 })) {
      const client = detached()
      const settled = replies.map((_, i) => settle(client.command('X', i)))
      const h = new Harness(client.factory)
      for (const chunk of chunks) h.feed(chunk)
      assert.equal(h.state, 'running', `split ${describeSplit(chunks)}`)
      assert.deepEqual(await Promise.all(settled), expected, `split ${describeSplit(chunks)}`)
      await client.close()
    }
  })

  test('returns binary-safe Buffers with returnBuffers', async () => {
    const client = detached({ returnBuffers: true })
    const reply = client.command('GET', 'bin')
    const h = new Harness(client.factory)
    h.feed(Buffer.concat([Buffer.from('$4\r\n'), Buffer.from([0xff, 13, 10, 0]), Buffer.from('\r\n')]))
    assert.deepEqual(await reply, Buffer.from([0xff, 13, 10, 0]))
    await client.close()
  })

  test('keeps at most maxInFlight commands written and tops the window up as replies arrive', async () => {
    const client = detached({ maxInFlight: 2 })
    const sent = Array.from({ length: 5 }, (_, i) => client.command('GET', `k${i}`))
    const h = new Harness(client.factory)
    const commands = (out: Buffer) => out.toString().split('*2\r\n').length - 1
    assert.equal(commands(h.takeOutput()), 2)
    h.feed('$1\r\na\r\n')
    assert.equal(commands(h.takeOutput()), 1)
    h.feed('$1\r\nb\r\n$1\r\nc\r\n')
    assert.equal(commands(h.takeOutput()), 2)
    h.feed('$1\r\nd\r\n$1\r\ne\r\n')
    assert.deepEqual(await Promise.all(sent), ['a', 'b', 'c', 'd', 'e'])
    await client.close()
  })

  test('rejects malformed replies with a ProtocolError and the commands in flight with a ClosedError', async () => {
    const bad = [
      '$abc\r\n',
      '$-2\r\n',
      '$ 0000000000000012\r\n', // Number() would take it
      ':1x\r\n',
      ':1e30000000000000000\r\n',
      '*\r\n',
      '?what\r\n',
      '+OK\n',
      '$3\r\nabcde\r\n',
      '+OK\r\n+OK\r\n+OK\r\n', // a reply for no command
    ]
    for (const input of bad) {
      const client = detached()
      const sent = [settle(client.command('GET', 'a')), settle(client.command('GET', 'b'))]
      const h = new Harness(client.factory)
      h.feed(input)
      assert.equal(h.state, 'error', input)
      assert.ok(h.error instanceof ProtocolError, `${input}: ${String(h.error)}`)
      assert.equal(h.error.code, 'RS_ERR_PROTOCOL')
      for (const s of await Promise.all(sent)) {
        if ('value' in s) continue // replied before the bad part
        assert.ok(s.error instanceof ClosedError, input)
        assert.equal(s.error.cause, h.error)
      }
      await client.close()
    }
  })

  test('refuses a reply line over 64 KiB with a LimitReachedError', async () => {
    const client = detached()
    const sent = settle(client.command('GET', 'a'))
    const h = new Harness(client.factory)
    h.feed(`+${'x'.repeat(64 * 1024 + 8)}`)
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof LimitReachedError)
    assert.ok('error' in (await sent))
    await client.close()
  })

  test('refuses a reply line over 64 KiB also when it follows other replies in the same read', async () => {
    const client = detached()
    const sent = [settle(client.command('GET', 'a')), settle(client.command('GET', 'b'))]
    const h = new Harness(client.factory)
    h.feed(`+OK\r\n+${'x'.repeat(64 * 1024 + 8)}\r\n`)
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof LimitReachedError)
    const [first, second] = await Promise.all(sent)
    assert.deepEqual(first, { value: 'OK' })
    assert.ok(second !== undefined && 'error' in second && second.error instanceof ClosedError)
    await client.close()
  })

  test('with onCommandTimeout reconnect: fails the connection when a reply is later than commandTimeout, but never while idle', async () => {
    const client = detached({ commandTimeout: 1000, onCommandTimeout: 'reconnect' })
    const first = client.command('PING')
    const h = new Harness(client.factory)
    h.advance(900)
    h.feed('+PONG\r\n')
    assert.equal(await first, 'PONG')
    h.advance(60_000) // idle: the deadline kept armed runs out harmlessly
    assert.equal(h.state, 'running')
    const second = settle(client.command('PING'))
    h.wakeup()
    h.advance(999)
    assert.equal(h.state, 'running')
    h.advance(1)
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof TimeoutError)
    const settled = await second
    assert.ok('error' in settled && settled.error instanceof ClosedError)
    await client.close()
  })

  test('by default a late command fails alone, its late reply is skipped, and the next reply goes to the next command, under every split', async () => {
    const replies = '+LATE\r\n+PONG\r\n'
    for (const chunks of splits(replies, { random: 100 })) {
      const client = detached({ commandTimeout: 1000 })
      const first = settle(client.command('GET', 'slow'))
      const h = new Harness(client.factory)
      h.advance(500)
      const second = client.command('PING')
      h.wakeup()
      h.advance(500) // the first command's deadline: it fails alone
      const failed = await first
      assert.ok('error' in failed && failed.error instanceof CommandTimeoutError, describeSplit(chunks))
      assert.equal(h.state, 'running', describeSplit(chunks))
      for (const chunk of chunks) h.feed(chunk)
      assert.equal(await second, 'PONG', describeSplit(chunks))
      h.advance(60_000) // idle afterwards: nothing fires
      assert.equal(h.state, 'running')
      await client.close()
    }
  })

  test('by default a server that sends no reply at all for another commandTimeout fails the connection', async () => {
    const client = detached({ commandTimeout: 1000 })
    const first = settle(client.command('PING'))
    const h = new Harness(client.factory)
    h.advance(1000)
    const failed = await first
    assert.ok('error' in failed && failed.error instanceof CommandTimeoutError)
    assert.equal(h.state, 'running')
    h.advance(1000)
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof TimeoutError)
    await client.close()
  })
})
