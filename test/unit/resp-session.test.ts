import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Factory } from 'rotor-stream'
import { checkSplits, Harness } from 'rotor-stream/testing'
import { Args } from '../../examples/redis/args.js'
import { globMatch } from '../../examples/redis/glob.js'
import { splitPlain, splitQuoted } from '../../examples/redis/inline.js'
import type { Keyspace } from '../../examples/redis/keyspace.js'
import type { PubSubLimits } from '../../examples/redis/pubsub.js'
import { RESP_DEFAULTS, RespConnection } from '../../examples/redis/resp-server.js'
import { ServerState } from '../../examples/redis/server-state.js'
import type { Session } from '../../examples/redis/session.js'

const T = { timeout: 30_000 }
const OUTPUT_ONLY = { compareEvents: false } as const

/** Encodes a command as a RESP array of bulk strings. */
function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

/** Every connection on one shared server. */
function shared(server: ServerState): Factory {
  return RespConnection.factory({ server, limits: RESP_DEFAULTS })
}

/** Every connection on a server of its own, so that each split run starts empty. */
function fresh(): Factory {
  return (t, seed, scope) => shared(new ServerState({ now: () => 1_000_000 }))(t, seed, scope)
}

/** The session of the connection most recently made on `server`. */
/** What a data command's change of `key` does to the watchers of `db` (null: FLUSHDB). */
function touch(db: Keyspace, key: string | null): void {
  db.onTouch?.(key)
}

function lastSession(server: ServerState): Session {
  return [...server.clients.values()].at(-1) as Session
}

describe('RESP server sessions: split-invariant answers', () => {
  test('answers a session of databases, transactions and RESP3 identically for every split', T, () => {
    const input = [
      command('SELECT', '3'),
      command('SET', 'k', 'v'),
      command('MOVE', 'k', '4'),
      command('SELECT', '99'),
      command('MULTI'),
      command('SELECT', '4'),
      command('GET', 'k'),
      command('NOSUCH'),
      command('EXEC'),
      command('MULTI'),
      command('GET', 'k'),
      command('EXEC'),
      command('CLIENT', 'SETNAME', 'me'),
      command('HELLO', '3'),
      command('CLIENT', 'GETNAME'),
      command('CONFIG', 'GET', 'databases'),
      command('SELECT', '4'),
      command('WATCH', 'k'),
      command('SWAPDB', '4', '5'),
      command('MULTI'),
      command('PING'),
      command('EXEC'),
      command('QUIT'),
    ].join('')
    const run = checkSplits(fresh(), input, { random: 200, ...OUTPUT_ONLY })
    assert.equal(
      run.output.toString(),
      '+OK\r\n+OK\r\n:1\r\n-ERR DB index is out of range\r\n' +
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH', with args beginning with: \r\n" +
        '-EXECABORT Transaction discarded because of previous errors.\r\n' +
        '+OK\r\n+QUEUED\r\n*1\r\n$-1\r\n' +
        '+OK\r\n%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n' +
        '$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n' +
        '$2\r\nme\r\n%1\r\n$9\r\ndatabases\r\n$2\r\n16\r\n' +
        '+OK\r\n+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n_\r\n+OK\r\n',
    )
    assert.equal(run.state, 'done')
  })

  test('splits inline commands with quotes and escapes the same for every split', T, () => {
    const input = 'SET "a key" "v\\x41\\n"\r\nGET \'a key\'\r\nECHO "\\"q\\"" \r\n  \r\nECHO plain\tword\r\n'
    const run = checkSplits(fresh(), input, { random: 200, ...OUTPUT_ONLY })
    assert.equal(run.output.toString(), '+OK\r\n$3\r\nvA\n\r\n$3\r\n"q"\r\n-ERR wrong number of arguments for \'echo\' command\r\n')
  })

  for (const line of ['ECHO "a"b', "ECHO 'abc", 'ECHO a"b"c', 'ECHO "abc\\"']) {
    test(`refuses unbalanced quotes (${line}) after answering what came before, then closes`, T, () => {
      const run = checkSplits(fresh(), `PING\r\n${line}\r\nPING\r\n`, { random: 50, ...OUTPUT_ONLY })
      assert.equal(run.output.toString(), '+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n')
      assert.equal(run.state, 'done')
    })
  }

  for (const request of ['POST / HTTP/1.1\r\nHost: x\r\n\r\n', 'Host: example.com\r\n', command('POST', '/')]) {
    test(`closes at once without an answer on an HTTP request (${JSON.stringify(request.slice(0, 12))})`, T, () => {
      const run = checkSplits(fresh(), request, { random: 50, ...OUTPUT_ONLY })
      assert.equal(run.output.length, 0)
      assert.equal(run.state, 'error')
    })
  }
})

describe('RESP server sessions: connections sharing a server', () => {
  test('ids count up, and CLIENT LIST shows every connection with its address, name and db', T, () => {
    const server = new ServerState({ now: () => 5000 })
    const a = new Harness(shared(server), { remoteAddress: '10.0.0.1' })
    const b = new Harness(shared(server), { remoteAddress: '::1' })
    b.feed(command('CLIENT', 'SETNAME', 'bee') + command('SELECT', '7') + command('CLIENT', 'ID'))
    assert.equal(b.takeOutput().toString(), '+OK\r\n+OK\r\n:2\r\n')
    a.feed(command('CLIENT', 'LIST'))
    const list = a.takeOutput().toString().split('\r\n')[1]?.split('\n') ?? []
    assert.match(list[0] ?? '', /^id=1 addr=10\.0\.0\.1:40000 laddr=127\.0\.0\.1:7 fd=-1 name= age=0 idle=0 flags=N db=0 .* cmd=client\|list .* resp=2 /)
    assert.match(list[1] ?? '', /^id=2 addr=\[::1\]:40000 .* name=bee .* db=7 .* cmd=client\|id /)
    b.end()
    assert.equal(server.clients.size, 1) // a closed connection leaves the registry
  })

  test('WATCH: a key touched through Keyspace.onTouch fails EXEC; onTouch is set only while someone watches', T, () => {
    const server = new ServerState()
    const db0 = server.databases[0] as Keyspace
    const a = new Harness(shared(server))
    assert.equal(db0.onTouch ?? null, null) // nobody watches: the data path calls nothing
    a.feed(command('WATCH', 'k', 'other'))
    assert.equal(typeof db0.onTouch, 'function')
    touch(db0, 'k') // what a data command does after modifying k
    a.feed(command('MULTI') + command('PING') + command('EXEC'))
    assert.equal(a.takeOutput().toString(), '+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n')
    assert.equal(db0.onTouch, null) // EXEC unwatched everything
    a.feed(command('HELLO', '3') + command('WATCH', 'k'))
    touch(db0, null) // FLUSHDB: every watched key of the db
    a.takeOutput()
    a.feed(command('MULTI') + command('PING') + command('EXEC'))
    assert.equal(a.takeOutput().toString(), '+OK\r\n+QUEUED\r\n_\r\n')
  })

  test('WATCH of 65,536 keys costs linear time, and a transaction cannot queue past maxQueuedBytes', T, () => {
    const server = new ServerState({ maxQueuedBytes: 1000 })
    const a = new Harness(shared(server))
    const keys = Array.from({ length: 65_535 }, (_, i) => `key${i}`)
    const started = process.cpuUsage()
    a.feed(command('WATCH', ...keys) + command('WATCH', ...keys))
    const used = process.cpuUsage(started)
    assert.ok(used.user + used.system < 10_000_000, 'under 10 s of CPU') // quadratic: minutes
    a.feed(
      command('UNWATCH') + command('MULTI') + command('SET', 'k', 'x'.repeat(600)) + command('SET', 'k', 'y'.repeat(600)) + command('PING') + command('EXEC'),
    )
    assert.equal(
      a.takeOutput().toString(),
      '+OK\r\n+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n-ERR the transaction would queue more than 1000 bytes\r\n' +
        '-ERR the transaction would queue more than 1000 bytes\r\n-EXECABORT Transaction discarded because of previous errors.\r\n',
    )
  })

  test('WATCH is broken by the watched key expiring, not by a key that never existed', T, () => {
    let now = 1000
    const server = new ServerState({ now: () => now })
    const a = new Harness(shared(server))
    a.feed(command('SET', 'k', 'v', 'PX', '10') + command('WATCH', 'k') + command('WATCH', 'none'))
    now += 10
    a.feed(command('MULTI') + command('PING') + command('EXEC') + command('WATCH', 'none') + command('MULTI') + command('PING') + command('EXEC'))
    assert.equal(a.takeOutput().toString(), '+OK\r\n+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+PONG\r\n')
  })

  test('WATCH in one connection is broken by MOVE in another, and not by a touch of another db', T, () => {
    const server = new ServerState()
    const a = new Harness(shared(server))
    const b = new Harness(shared(server))
    a.feed(command('SET', 'k', '1') + command('WATCH', 'k'))
    touch(server.databases[1] as Keyspace, 'k')
    a.feed(command('MULTI') + command('GET', 'k') + command('EXEC'))
    assert.equal(a.takeOutput().toString(), '+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n$1\r\n1\r\n')
    a.feed(command('WATCH', 'k'))
    b.feed(command('MOVE', 'k', '2'))
    assert.equal(b.takeOutput().toString(), ':1\r\n')
    a.feed(command('MULTI') + command('GET', 'k') + command('EXEC'))
    assert.equal(a.takeOutput().toString(), '+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n')
  })

  test('delivers messages and pattern messages to subscribers in RESP2 and RESP3', T, () => {
    const server = new ServerState()
    const sub2 = new Harness(shared(server))
    const sub3 = new Harness(shared(server))
    const pub = new Harness(shared(server))
    sub2.feed(command('SUBSCRIBE', 'news') + command('GET', 'x'))
    sub3.feed(command('HELLO', '3') + command('PSUBSCRIBE', 'n[a-z]w?') + command('GET', 'x'))
    sub2.takeOutput()
    sub3.takeOutput()
    pub.feed(command('PUBLISH', 'news', 'hello') + command('PUBSUB', 'NUMSUB', 'news') + command('PUBSUB', 'NUMPAT'))
    assert.equal(pub.takeOutput().toString(), ':2\r\n*2\r\n$4\r\nnews\r\n:1\r\n:1\r\n')
    sub2.wakeup()
    sub3.wakeup()
    assert.equal(sub2.takeOutput().toString(), '*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n')
    assert.equal(sub3.takeOutput().toString(), '>4\r\n$8\r\npmessage\r\n$8\r\nn[a-z]w?\r\n$4\r\nnews\r\n$5\r\nhello\r\n')
  })

  test('a message arriving in the middle of a command is delivered, and the command completes after it', T, () => {
    const server = new ServerState()
    const sub = new Harness(shared(server))
    const pub = new Harness(shared(server))
    sub.feed(command('HELLO', '3') + command('SUBSCRIBE', 'c'))
    sub.takeOutput()
    const echo = command('ECHO', 'split here')
    sub.feed(echo.slice(0, 12))
    pub.feed(command('PUBLISH', 'c', 'm'))
    sub.wakeup()
    sub.feed(echo.slice(12))
    assert.equal(sub.takeOutput().toString(), '>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n$10\r\nsplit here\r\n')
  })

  test('a subscriber that does not read is disconnected past the hard limit; what it holds stays bounded', T, () => {
    const limits: PubSubLimits = { hardBytes: 256 * 1024, softBytes: 128 * 1024, softMs: 60_000 }
    const server = new ServerState({ pubsub: limits })
    const sub = new Harness(shared(server))
    const pub = new Harness(shared(server))
    sub.feed(command('SUBSCRIBE', 'c'))
    const session = lastSession(server)
    sub.takeOutput()
    sub.stall() // the peer stops reading
    const publish = command('PUBLISH', 'c', 'x'.repeat(1000))
    let published = 0
    for (; published < 10_000 && sub.state === 'running'; published++) {
      pub.feed(publish)
      sub.wakeup()
      assert.ok(session.pendingBytes + session.inFlight <= limits.hardBytes + 1100, `held ${session.pendingBytes + session.inFlight}`)
      assert.ok(sub.unwritten <= limits.hardBytes + 64 * 1024 + 1100, `unwritten ${sub.unwritten}`)
    }
    assert.equal(sub.state, 'error')
    assert.ok(published > 200 && published < 400, `published ${published}`)
    pub.takeOutput()
    pub.feed(command('PUBLISH', 'c', 'after') + command('PUBSUB', 'NUMSUB', 'c'))
    assert.equal(pub.takeOutput().toString(), ':0\r\n*2\r\n$1\r\nc\r\n:0\r\n')
  })

  test('a subscriber over the soft limit for softMs is disconnected; under it, it is not', T, () => {
    let now = 0
    const limits: PubSubLimits = { hardBytes: 1024 * 1024, softBytes: 8 * 1024, softMs: 60_000 }
    const server = new ServerState({ now: () => now, pubsub: limits })
    const sub = new Harness(shared(server))
    const pub = new Harness(shared(server))
    sub.feed(command('SUBSCRIBE', 'c'))
    sub.stall()
    for (let i = 0; i < 100; i++) pub.feed(command('PUBLISH', 'c', 'y'.repeat(1000))) // ~100 KiB queued, above soft, below hard
    now += 59_000
    pub.feed(command('PUBLISH', 'c', 'y'))
    sub.wakeup()
    assert.equal(sub.state, 'running')
    now += 1_000
    pub.feed(command('PUBLISH', 'c', 'y'))
    sub.wakeup()
    assert.equal(sub.state, 'error')
  })

  test('CLIENT KILL closes another connection; RESET leaves every mode', T, () => {
    const server = new ServerState()
    const a = new Harness(shared(server))
    const b = new Harness(shared(server))
    a.feed(command('CLIENT', 'KILL', 'ID', '2'))
    assert.equal(a.takeOutput().toString(), ':1\r\n')
    b.wakeup()
    assert.equal(b.state, 'error')
    a.feed(command('HELLO', '3') + command('SUBSCRIBE', 'c') + command('SELECT', '2') + command('MULTI') + command('RESET') + command('GET', 'x'))
    assert.match(a.takeOutput().toString(), /\+OK\r\n\+OK\r\n\+RESET\r\n\$-1\r\n$/)
    assert.equal(server.pubsub.channels.size, 0)
  })
})

describe('RESP server sessions: server commands', () => {
  test('refuses scripting by name, and answers INFO keyspace per database, COMMAND COUNT and CONFIG GET', T, () => {
    const run = checkSplits(
      fresh(),
      command('EVAL', 'return 1', '0') +
        command('FUNCTION', 'LIST') +
        command('SET', 'a', '1') +
        command('SELECT', '9') +
        command('SET', 'b', '1') +
        command('SET', 'c', '1') +
        command('INFO', 'keyspace') +
        command('COMMAND', 'COUNT') +
        command('CONFIG', 'GET', 'data*'),
      { random: 50, ...OUTPUT_ONLY },
    )
    const lines = run.output.toString().split('\r\n')
    assert.match(lines[0] ?? '', /^-ERR EVAL is not supported: this server has no scripting engine/)
    assert.match(lines[1] ?? '', /^-ERR FUNCTION is not supported/)
    assert.equal(
      run.output.toString().split('+OK\r\n').at(-1)?.split('\r\n:')[0],
      '$76\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\ndb9:keys=2,expires=0,avg_ttl=0\r\n',
    )
    assert.ok(Number(/\r\n:(\d+)\r\n\*2\r\n\$9\r\ndatabases\r\n\$2\r\n16\r\n$/.exec(run.output.toString())?.[1]) > 40)
  })

  test('CLIENT REPLY OFF drops every reply, +QUEUED included, until CLIENT REPLY ON', T, () => {
    const run = checkSplits(
      fresh(),
      command('CLIENT', 'REPLY', 'OFF') +
        command('PING') +
        command('MULTI') +
        command('PING') +
        command('EXEC') +
        command('NOSUCH') +
        command('CLIENT', 'REPLY', 'ON') +
        command('PING'),
      { random: 50, ...OUTPUT_ONLY },
    )
    assert.equal(run.output.toString(), '+OK\r\n+PONG\r\n')
  })
})

describe('inline splitting and glob patterns', () => {
  const words = (line: string): string[] | null => {
    const a = new Args()
    const data = Buffer.from(line, 'latin1')
    a.data = data
    if (!splitPlain(data, 0, data.length, a) && !splitQuoted(data, 0, data.length, a)) return null
    return Array.from({ length: a.count }, (_, i) => a.string(i))
  }

  test('splits as sdssplitargs does', T, () => {
    assert.deepEqual(words('  set\tk  v '), ['set', 'k', 'v'])
    assert.deepEqual(words('"a\\x41\\x4g" \'b\\\'c\\n\' ""'), ['aAx4g', "b'c\\n", ''])
    assert.deepEqual(words('a"b c"d'.replace('d', '')), ['ab c'])
    assert.deepEqual(words('"\\xff\\x00"'), ['\xff\x00'])
    assert.equal(words('"unterminated'), null)
    assert.equal(words('"closed"glued'), null)
    assert.equal(words("'a' 'b"), null)
  })

  test('keeps the plain path free of copies: words are spans of the input', T, () => {
    const a = new Args()
    const data = Buffer.from('GET key')
    assert.equal(splitPlain(data, 0, data.length, a), true)
    assert.deepEqual(
      [a.starts.slice(0, 2), a.ends.slice(0, 2)],
      [
        [0, 4],
        [3, 7],
      ],
    )
  })

  test('matches glob patterns as Redis', T, () => {
    const cases: [string, string, boolean][] = [
      ['*', '', false], // as Redis: an empty subject matches only an empty pattern
      ['', '', true],
      ['h?llo', 'hello', true],
      ['h?llo', 'hllo', false],
      ['h*llo', 'heeeello', true],
      ['h[ae]llo', 'hallo', true],
      ['h[ae]llo', 'hillo', false],
      ['h[^e]llo', 'hallo', true],
      ['h[^e]llo', 'hello', false],
      ['h[a-b]llo', 'hbllo', true],
      ['h[b-a]llo', 'hallo', true],
      ['h\\*llo', 'h*llo', true],
      ['h\\*llo', 'hello', false],
      ['a*b*c', 'aXXbYYc', true],
      ['a*b*c', 'aXXbYY', false],
      ['[abc', 'b', true],
      [`${'*'.repeat(50)}x`, 'y'.repeat(60), false],
      ['h[a-]llo', 'h]', true], // as Redis: a-] is a range, and the class, unterminated, takes the rest
      ['h[a-]llo', 'h]llo', false],
      ['h*llo*', 'hllo', true],
      ['*a', 'a', true],
    ]
    for (const [pattern, subject, expected] of cases) assert.equal(globMatch(pattern, subject), expected, `${pattern} ~ ${subject}`)
  })

  test('stays fast on patterns of many stars against long subjects (no exponential retries)', T, () => {
    const started = process.cpuUsage()
    assert.equal(globMatch(`${'*a'.repeat(40)}b`, 'a'.repeat(5000)), false)
    assert.equal(globMatch('*'.repeat(5000) + 'b'.repeat(3), 'b'.repeat(3)), true)
    const used = process.cpuUsage(started)
    assert.ok(used.user + used.system < 5_000_000, 'under 5 s of CPU') // exponential would take years
  })
})
