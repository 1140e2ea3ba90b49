import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Factory, Intent, type Protocol, type Scope, type Transport } from 'rotor-stream'
import { describeSplit, Harness, splitAt, splits } from 'rotor-stream/testing'
import { HttpConnection } from '../../examples/http-server.js'

const T = { timeout: 30_000 }
const REQUEST = 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'

function http(): Factory {
  return HttpConnection.factory({ handler: () => ({ body: 'ok\n' }), date: null, onError: null })
}

/** Reads `n`-byte requests, answers each with what `scope.closing` said, and can say goodbye in `shutdown`. */
class Fixed implements Protocol {
  readonly n: number
  readonly goodbye: string | null
  constructor(n: number, goodbye: string | null) {
    this.n = n
    this.goodbye = goodbye
  }
  bytesRead(t: Transport, end: number, scope: Scope): Intent<Protocol> {
    t.input.consume(end)
    t.output.write(scope.closing ? 'closing\n' : 'open\n')
    return Intent.of(this).expectBytes(this.n)
  }
}
class WithShutdown extends Fixed {
  shutdown(t: Transport): Intent<Protocol> | undefined {
    if (this.goodbye === null) return undefined
    t.output.write(this.goodbye)
    return Intent.of(this).expectFlush()
  }
}

describe('server shutdown as a stream sees it', () => {
  test('ends an idle stream of a protocol without shutdown at once and cleanly', T, () => {
    const h = new Harness(() => Intent.of(new Fixed(3, null)).expectBytes(3))
    assert.equal(h.closing, false)
    h.shutdown()
    assert.equal(h.state, 'done')
    assert.deepEqual(h.log, [])
    assert.equal(h.output.length, 0)
  })

  test('lets a busy stream without shutdown finish, telling it through scope.closing, and ends it once idle', T, () => {
    const h = new Harness(() => Intent.of(new Fixed(3, null)).expectBytes(3))
    h.feed('ab') // a request in progress: input buffered
    h.shutdown()
    assert.equal(h.closing, true)
    assert.equal(h.state, 'running')
    h.feed('c')
    assert.equal(h.takeOutput().toString(), 'closing\n')
    assert.equal(h.state, 'done', 'idle again after the answer: ended')
  })

  test('asks a protocol with shutdown even when idle, and never ends it by itself', T, () => {
    const h = new Harness(() => Intent.of(new WithShutdown(3, null)).expectBytes(3))
    h.shutdown()
    assert.deepEqual(h.log, ['shutdown'])
    assert.equal(h.state, 'running', 'undefined: the current expectation stands')
    h.feed('abc')
    assert.equal(h.takeOutput().toString(), 'closing\n')
    assert.equal(h.state, 'running', 'its own choice: the close timeout is the bound')
  })

  test('runs the Intent shutdown returns (a goodbye, then the end)', T, () => {
    const h = new Harness(() => Intent.of(new WithShutdown(3, 'bye\n')).expectBytes(3))
    h.feed('a')
    h.shutdown()
    assert.equal(h.takeOutput().toString(), 'bye\n')
    assert.equal(h.state, 'done')
  })

  test('keeps a busy stream whose output is unwritten until it is written, then ends it', T, () => {
    const h = new Harness(() => Intent.of(new Fixed(1, null)).expectBytes(1))
    h.stall()
    h.feed('x')
    assert.ok(h.unwritten > 0)
    h.shutdown()
    assert.equal(h.state, 'running', 'unwritten output: busy')
    h.drain()
    assert.equal(h.state, 'done')
    assert.equal(h.output.toString(), 'open\n')
  })

  test("with idle 'wait' leaves idle streams of protocols without shutdown alone", T, () => {
    const plain = new Harness(() => Intent.of(new Fixed(3, null)).expectBytes(3))
    plain.shutdown({ idle: 'wait' })
    assert.equal(plain.state, 'running', 'no handler: the old behaviour, it waits')
    assert.equal(plain.closing, true)
    const polite = new Harness(() => Intent.of(new WithShutdown(3, 'bye\n')).expectBytes(3))
    polite.shutdown({ idle: 'wait' })
    assert.equal(polite.takeOutput().toString(), 'bye\n')
    assert.equal(polite.state, 'done')
  })

  test('refuses a bad idle policy with RS_ERR_INVALID_ARG', T, () => {
    const h = new Harness(() => Intent.of(new Fixed(3, null)).expectBytes(3))
    assert.throws(
      () => h.shutdown({ idle: 'later' as 'wait' }),
      (err: Error & { code?: string }) => err.code === 'RS_ERR_INVALID_ARG' && /options\.idle/.test(err.message),
    )
  })

  test('a handler that throws in shutdown ends only its stream with a HandlerError', T, () => {
    class Throws extends Fixed {
      shutdown(): Intent<Protocol> {
        throw new Error('boom')
      }
    }
    const h = new Harness(() => Intent.of(new Throws(3, null)).expectBytes(3))
    h.feed('a')
    h.shutdown()
    assert.equal(h.state, 'error')
    assert.deepEqual(h.log, ['shutdown', 'fatal RS_ERR_HANDLER'])
  })
})

describe('HTTP example at shutdown', () => {
  test('answers a request in progress with Connection: close, for every split of it', T, () => {
    for (const chunks of splits(REQUEST, { random: 200, randomSeed: 16 })) {
      const where = describeSplit(chunks)
      const [first, ...rest] = chunks.filter((c) => c.length > 0)
      if (rest.length === 0) continue // the whole request in one read: answered before the close began
      const h = new Harness(http())
      h.feed(first as Buffer)
      h.shutdown()
      for (const chunk of rest) h.feed(chunk)
      const out = h.output.toString()
      assert.match(out, /^HTTP\/1\.1 200 OK\r\n/, where)
      assert.match(out, /\r\nConnection: close\r\n/, where)
      assert.ok(out.endsWith('\r\n\r\nok\n'), where)
      assert.equal(h.state, 'done', where)
    }
  })

  test('closes an idle keep-alive connection at once, after any number of answered requests', T, () => {
    for (const n of [0, 1, 3]) {
      const h = new Harness(http())
      for (let i = 0; i < n; i++) h.feed(REQUEST)
      const answered = h.takeOutput().toString()
      assert.equal(answered.split('HTTP/1.1 200 OK').length - 1, n)
      assert.doesNotMatch(answered, /Connection: close/)
      h.shutdown()
      assert.equal(h.state, 'done')
      assert.equal(h.takeOutput().length, 0)
    }
  })

  test("with idle 'wait', its shutdown handler closes an idle connection and leaves a busy one", T, () => {
    const idle = new Harness(http())
    idle.shutdown({ idle: 'wait' })
    assert.equal(idle.state, 'done')
    const busy = new Harness(http())
    busy.feed(splitAt(REQUEST, [10])[0] as Buffer)
    busy.shutdown({ idle: 'wait' })
    assert.equal(busy.state, 'running')
    busy.feed(REQUEST.slice(10))
    assert.match(busy.output.toString(), /Connection: close/)
    assert.equal(busy.state, 'done')
  })
})
