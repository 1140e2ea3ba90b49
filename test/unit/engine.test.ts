/**
 * The stream loop without sockets: semantics 1-6 of issue 2 (pipelining, delimiters, limits,
 * end of stream, flush and pushback). Deadlines and sleep are in engine-time.test.ts, handler
 * errors and defaults in engine-errors.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Buf, DEFAULT_MAX_BUFFER_SIZE, type Exception, Intent, LimitReachedError, type Protocol, type Transport } from 'rotor-stream'
import { checkSplits, Harness, runScripted, splitAt } from 'rotor-stream/testing'
import { Lines } from '../helpers/protocols.js'

const T = { timeout: 20_000 }
const PIPELINED_100 = Array.from({ length: 100 }, (_, i) => `${i}\n`).join('')

describe('pipelining (semantic 1)', () => {
  test('handles 100 requests that arrive in one read in one round, and replies in one write', T, () => {
    const p = new Lines({ reply: (line) => `+${line}\n` })
    const h = new Harness(p.factory)
    const requests = Array.from({ length: 100 }, (_, i) => `req${i}\n`).join('')
    h.feed(requests)
    assert.equal(p.lines.length, 100)
    assert.equal(h.writes, 1)
    assert.equal(h.output.toString(), Array.from({ length: 100 }, (_, i) => `+req${i}\n`).join(''))
    assert.equal(h.events.filter((e) => e.handler === 'bytesRead').length, 100)
    assert.equal(h.buffered, 0)
    assert.equal(h.isReading, true)
  })

  test('writes once per read when requests arrive over several reads', T, () => {
    const p = new Lines()
    const h = new Harness(p.factory)
    h.feed('a\nb\nc')
    assert.equal(h.writes, 1)
    h.feed('\nd\n')
    assert.equal(h.writes, 2)
    assert.equal(h.output.toString(), 'a\nb\nc\nd\n')
  })

  test('writes nothing for a read that produces no reply', T, () => {
    const p = new Lines({ reply: () => undefined })
    const h = new Harness(p.factory)
    h.feed('a\nb\n')
    assert.equal(h.writes, 0)
    assert.deepEqual(p.lines, ['a', 'b'])
  })
})

describe('delimiters (semantic 2)', () => {
  test('finds a CRLF delimiter under every split of the input', T, () => {
    const run = checkSplits(() => new Lines({ delimiter: '\r\n' }).read(), 'ab\r\n\r\nc\r\r\n\n\r\n', { exhaustiveUpTo: 14 })
    assert.equal(run.output.toString(), 'ab\r\n\r\nc\r\r\n\n\r\n')
    assert.deepEqual(run.log, ['bytesRead 2', 'bytesRead 0', 'bytesRead 2', 'bytesRead 1'])
  })

  test('finds a four-byte delimiter whose first bytes also end the data before it', T, () => {
    const input = 'x\r\n\r\r\n\r\ny\r\n\r\n'
    const run = checkSplits(() => new Lines({ delimiter: '\r\n\r\n', reply: (l) => `[${JSON.stringify(l)}]` }).read(), input, { exhaustiveUpTo: 16 })
    assert.equal(run.output.toString(), '["x\\r\\n\\r"]["y"]')
  })

  test('finds the delimiter when any two reads split it', T, () => {
    const input = Buffer.from('hello\r\n\r\nworld')
    for (let cut = 1; cut < input.length; cut++) {
      const p = new Lines({ delimiter: '\r\n\r\n' })
      runScripted(p.factory, splitAt(input, [cut]))
      assert.deepEqual(p.lines, ['hello'], `cut at ${cut}`)
    }
  })

  test('starts the search at offset', T, () => {
    const seen: number[] = []
    const skipFirst: Protocol = {
      bytesRead(t: Transport, end: number) {
        seen.push(end)
        t.input.consume(end + 1)
        return Intent.of(skipFirst).expectDelimiter(';', { max: 100, offset: 2 })
      },
    }
    const h = new Harness(() => Intent.of(skipFirst).expectDelimiter(';', { max: 100, offset: 2 }))
    h.feed(';;;a;')
    h.feed('b;')
    // ";;;a;": from 2 finds 2; then "a;" from 2 finds nothing until "a;b;" gives 3
    assert.deepEqual(seen, [2, 3])
  })

  test('resumes a multi-byte delimiter search where it stopped, so a slow peer costs linear work', T, (t) => {
    const original = Buf.prototype.indexOf
    let scanned = 0
    let searches = 0
    t.mock.method(Buf.prototype, 'indexOf', function (this: Buf, needle: Uint8Array | string | number, from = 0) {
      searches++
      scanned += Math.max(0, this.length - from)
      return original.call(this, needle, from)
    })
    const n = 4000
    const p = new Lines({ delimiter: '\r\n\r\n', max: 1 << 20 })
    const h = new Harness(p.factory)
    for (let i = 0; i < n; i++) h.feed(i % 7 === 0 ? '\r' : 'a')
    h.feed('\r\n\r\n')
    assert.deepEqual(
      p.lines.map((l) => l.length),
      [n],
    )
    assert.ok(searches >= n / 4, `searched ${searches} times`)
    // From 0 every time would scan n²/2 = 8,000,000 bytes; resuming scans a few bytes per read.
    assert.ok(scanned <= 4 * (n + 4), `scanned ${scanned} bytes for ${n} bytes of input`)
  })
})

describe('limits (semantics 3 and 4)', () => {
  test('reports LimitReached when no delimiter comes within max, buffering at most max plus one read', T, () => {
    const p = new Lines({ max: 100 })
    const h = new Harness(p.factory)
    const read = 30
    let reads = 0
    while (h.state === 'running' && reads < 100) {
      h.feed(Buffer.alloc(read, 'x'))
      reads++
      assert.ok(h.buffered <= 100 + read, `buffered ${h.buffered} after ${reads} reads`)
    }
    assert.equal(reads, 4) // 120 bytes >= max + delimiter
    assert.equal(p.exceptions.length, 1)
    const reason = p.exceptions[0]
    assert.ok(reason instanceof LimitReachedError)
    assert.equal(reason.code, 'RS_ERR_LIMIT_REACHED')
    assert.equal(reason.limit, 100)
    assert.equal(h.state, 'error')
    assert.equal(h.error, reason)
    assert.deepEqual(h.log, ['exception RS_ERR_LIMIT_REACHED', 'fatal RS_ERR_LIMIT_REACHED'])
  })

  test('reports LimitReached for a delimiter found past max in one big read', T, () => {
    const p = new Lines({ max: 100 })
    runScripted(p.factory, [`${'x'.repeat(150)}\n`])
    assert.deepEqual(p.lines, [])
    assert.equal(p.exceptions[0]?.code, 'RS_ERR_LIMIT_REACHED')
  })

  test('accepts a delimiter exactly at max and rejects one a byte later, under every split', T, () => {
    const ok = checkSplits(() => new Lines({ delimiter: '\r\n', max: 3 }).read(), 'abc\r\n', { end: true })
    assert.deepEqual(ok.log, ['bytesRead 3', 'exception RS_ERR_END_OF_STREAM'])
    const tooLong = checkSplits(() => new Lines({ delimiter: '\r\n', max: 3 }).read(), 'abcd\r\n')
    assert.deepEqual(tooLong.log, ['exception RS_ERR_LIMIT_REACHED', 'fatal RS_ERR_LIMIT_REACHED'])
  })

  test('waits for the rest of a delimiter that may still start at max', T, () => {
    const p = new Lines({ delimiter: '\r\n', max: 3 })
    const h = new Harness(p.factory)
    h.feed('abc\r')
    assert.equal(h.state, 'running')
    assert.equal(p.exceptions.length, 0)
    h.feed('\n')
    assert.deepEqual(p.lines, ['abc'])
  })

  test('bounds a delimiter search by maxBufferSize when max is larger', T, () => {
    const p = new Lines({ max: 1 << 30 })
    const h = new Harness(p.factory, { maxBufferSize: 1000 })
    while (h.state === 'running') {
      h.feed(Buffer.alloc(64, 'x'))
      assert.ok(h.buffered <= 1000 + 64)
    }
    const reason = p.exceptions[0]
    assert.ok(reason instanceof LimitReachedError)
    assert.ok(reason.limit <= 1000)
  })

  test('a peer announcing the largest frame and sending a little reserves little: storage grows with what arrives', T, () => {
    // A length header announcing DEFAULT_MAX_BUFFER_SIZE (16 MiB), then the body trickles in.
    let input: Buf | null = null
    const capacities: number[] = []
    const big: Protocol = {
      bytesRead: (t: Transport, end: number) => {
        t.input.consume(end)
        return Intent.done()
      },
    }
    const h = new Harness((t: Transport) => {
      input = t.input
      return Intent.of(big).expectBytes(DEFAULT_MAX_BUFFER_SIZE)
    })
    for (let i = 0; i < 40; i++) {
      h.feed(Buffer.alloc(65_536, i))
      capacities.push((input as Buf | null)?.capacity ?? 0)
    }
    assert.equal(h.state, 'running')
    assert.equal(h.buffered, 40 * 65_536)
    for (const [i, capacity] of capacities.entries()) {
      const arrived = (i + 1) * 65_536
      assert.ok(capacity < Math.max(4 * arrived, 1024 * 1024) || capacity === 1024 * 1024, `after ${arrived} bytes the input holds ${capacity}`)
    }
  })

  test('bounds the input when the offset lies beyond max', T, () => {
    const p = new Lines()
    const h = new Harness(() => Intent.of(p).expectDelimiter('\n', { max: 100, offset: 1_000_000 }), { maxBufferSize: 4096 })
    for (let i = 0; i < 20 && h.state === 'running'; i++) h.feed(Buffer.alloc(1000, 'x'))
    assert.ok(h.buffered <= 4096 + 1000, `buffered ${h.buffered} bytes with maxBufferSize 4096`)
    assert.equal(p.exceptions[0]?.code, 'RS_ERR_LIMIT_REACHED')
  })

  test('reports expectBytes above maxBufferSize as LimitReached without allocating', T, () => {
    let capacity = -1
    let reason: Exception | undefined
    const big: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      exception(t: Transport, r: Exception) {
        reason = r
        capacity = t.input.capacity
        return Intent.done()
      },
    }
    const h = new Harness(() => Intent.of(big).expectBytes(1025), { maxBufferSize: 1024 })
    assert.ok(reason instanceof LimitReachedError)
    assert.equal(reason.limit, 1024)
    assert.equal(capacity, 0)
    assert.equal(h.isReading, false)
    assert.equal(h.state, 'done')
  })

  test('reports expectBytes above the default maxBufferSize of 16 MiB', T, () => {
    assert.equal(DEFAULT_MAX_BUFFER_SIZE, 16 * 1024 * 1024)
    const p = new Lines()
    const h = new Harness(() => Intent.of(p).expectBytes(16 * 1024 * 1024 + 1))
    const reason = p.exceptions[0]
    assert.ok(reason instanceof LimitReachedError)
    assert.equal(reason.limit, 16 * 1024 * 1024)
    assert.equal(h.state, 'error')
  })

  test('accepts expectBytes of exactly maxBufferSize', T, () => {
    const ends: number[] = []
    const exact: Protocol = {
      bytesRead(t: Transport, end: number) {
        ends.push(end)
        t.input.consume(end)
        return Intent.done()
      },
    }
    const h = new Harness(() => Intent.of(exact).expectBytes(1024), { maxBufferSize: 1024 })
    h.feed(Buffer.alloc(1000)).feed(Buffer.alloc(24))
    assert.deepEqual(ends, [1024])
    assert.equal(h.state, 'done')
  })

  test('stops an exception handler that ignores LimitReached and asks again', T, () => {
    let calls = 0
    const stubborn: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      exception() {
        calls++
        return Intent.of(stubborn).expectDelimiter('\n', { max: 10 })
      },
    }
    const h = new Harness(() => Intent.of(stubborn).expectDelimiter('\n', { max: 10 }))
    h.feed('x'.repeat(50))
    assert.equal(calls, 1)
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof LimitReachedError)
  })
})

describe('end of stream (semantic 5)', () => {
  test('reaches exception with EndOfStream and the data still buffered', T, () => {
    const p = new Lines()
    const h = new Harness(p.factory)
    h.feed('one\npart').end()
    assert.deepEqual(p.lines, ['one'])
    assert.equal(p.exceptions[0]?.code, 'RS_ERR_END_OF_STREAM')
    assert.equal(p.exceptions[0]?.name, 'EndOfStreamError')
    assert.deepEqual(p.bufferedAtException, ['part'])
    assert.equal(h.state, 'done')
  })

  test('outputs the answer written in exception before the stream is done, under every split', T, () => {
    const run = checkSplits(() => new Lines().read(), 'a\nbc\nrest', { end: true })
    assert.equal(run.output.toString(), 'a\nbc\neof rest\n')
    assert.deepEqual(run.log, ['bytesRead 1', 'bytesRead 2', 'exception RS_ERR_END_OF_STREAM'])
    assert.equal(run.state, 'done')
  })

  test('handles every complete request buffered before the end first', T, () => {
    const p = new Lines()
    const h = new Harness(p.factory)
    h.feed('a\nb\nc\n').end()
    assert.deepEqual(p.lines, ['a', 'b', 'c'])
    assert.equal(h.output.toString(), 'a\nb\nc\neof \n')
    assert.equal(h.writes, 2) // the round of the data, then the last answer
  })

  test('delivers an end that comes during sleep at once, with the bytes that came before it', T, () => {
    const p = new Lines()
    const sleeper: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      exception: (t, reason) => p.exception(t, reason),
    }
    const h = new Harness(() => Intent.of(sleeper).sleep())
    h.feed('half')
    assert.deepEqual(h.log, [])
    h.end()
    assert.deepEqual(h.log, ['exception RS_ERR_END_OF_STREAM'])
    assert.deepEqual(p.bufferedAtException, ['half'])
    assert.equal(h.state, 'done')
  })

  test('ends a sleeping stream cleanly at end of stream without an exception handler', T, () => {
    const sleeper: Protocol = { bytesRead: () => assert.fail('bytesRead must not run') }
    const h = new Harness(() => Intent.of(sleeper).sleep())
    h.end()
    assert.equal(h.state, 'done')
  })

  test('lets a protocol sleep on after end of stream, and tells it only once', T, () => {
    // A client whose server half-closed may still write; it sleeps until it has something to say.
    let wakeups = 0
    const writer: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      exception: () => Intent.of(writer).sleep(),
      wakeup(t: Transport) {
        wakeups++
        t.output.write('late answer\n')
        return Intent.done()
      },
    }
    const h = new Harness(() => Intent.of(writer).sleep())
    h.end().end()
    assert.deepEqual(h.log, ['exception RS_ERR_END_OF_STREAM'])
    assert.equal(h.isReading, false)
    h.wakeup()
    assert.equal(wakeups, 1)
    assert.equal(h.output.toString(), 'late answer\n')
    assert.equal(h.state, 'done')
  })

  test('ends with EndOfStream when the protocol keeps waiting for input after it', T, () => {
    const stubborn: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      exception: () => Intent.of(stubborn).expectBytes(10),
    }
    const h = new Harness(() => Intent.of(stubborn).expectBytes(10))
    h.feed('abc').end()
    assert.equal(h.state, 'error')
    assert.equal((h.error as Exception | undefined)?.code, 'RS_ERR_END_OF_STREAM')
    assert.deepEqual(h.log, ['exception RS_ERR_END_OF_STREAM', 'fatal RS_ERR_END_OF_STREAM'])
  })
})

describe('flush and pushback (semantic 6)', () => {
  test('stops reading while output waits to be flushed, and resumes after the drain', T, () => {
    const p = new Lines({ flush: 0, reply: (l) => `${l.repeat(100)}\n` })
    const h = new Harness(p.factory)
    h.stall()
    h.feed('ab\ncd\n')
    assert.deepEqual(p.lines, ['ab'])
    assert.equal(h.isReading, false)
    assert.equal(h.unwritten, 201)
    assert.ok(!h.log.includes('bytesFlushed'))
    h.drain()
    assert.deepEqual(p.lines, ['ab', 'cd'])
    assert.deepEqual(h.log, ['bytesRead 2', 'bytesFlushed', 'bytesRead 2', 'bytesFlushed'])
    assert.equal(h.isReading, true)
    assert.equal(h.output.length, 402)
  })

  test('calls bytesFlushed at once when no more than n bytes stay unwritten', T, () => {
    const p = new Lines({ flush: 100 })
    const h = new Harness(p.factory)
    h.stall()
    h.feed('0123456789\n')
    assert.equal(h.unwritten, 11)
    assert.deepEqual(h.log, ['bytesRead 10', 'bytesFlushed'])
    assert.equal(h.isReading, true)
  })

  test('stops handling pipelined requests while the peer does not read (automatic pushback)', T, () => {
    const p = new Lines({ reply: (l) => `${l.padEnd(299, '.')}\n` })
    const h = new Harness(p.factory, { outputHighWaterMark: 1000 })
    h.stall()
    h.feed(PIPELINED_100)
    const handled = p.lines.length
    assert.ok(handled >= 1 && handled <= 4, `handled ${handled} requests`)
    assert.equal(h.isReading, false)
    assert.ok(h.unwritten <= 1000 + 300, `unwritten ${h.unwritten}`)
    h.feed('') // another event changes nothing while the peer does not read
    assert.equal(p.lines.length, handled)
    h.drain()
    assert.ok(p.lines.length > handled, 'the drain lets the stream go on')
  })

  test('handles every pipelined request once the peer reads again', T, () => {
    const p = new Lines({ reply: (l) => `${l.padEnd(299, '.')}\n` })
    const h = new Harness(p.factory, { outputHighWaterMark: 1000 })
    h.stall()
    h.feed(PIPELINED_100)
    h.drain()
    assert.equal(p.lines.length, 100)
    assert.equal(h.output.length, 100 * 300)
    assert.equal(h.isReading, true)
  })

  test('does not stay pushed back while the peer reads everything at once', T, () => {
    const p = new Lines({ reply: (l) => `${l.padEnd(299, '.')}\n` })
    const h = new Harness(p.factory, { outputHighWaterMark: 1000 })
    h.feed(PIPELINED_100)
    assert.equal(p.lines.length, 100)
    assert.equal(h.output.length, 100 * 300)
  })
})

describe('reused Intents', () => {
  /** Length-prefixed records, `<n>:` then n bytes, answered with one kept Intent changed in place. */
  class Records implements Protocol {
    readonly records: string[] = []
    #length = -1
    readonly #next = Intent.of(this) // kept: a builder sets a new expectation on the same object
    bytesRead(t: Transport, end: number): Intent<Records> {
      if (this.#length < 0) {
        this.#length = Number(t.input.toString('latin1', 0, end))
        t.input.consume(end + 1)
        return this.#next.expectBytes(this.#length)
      }
      this.records.push(t.input.toString('latin1', 0, this.#length))
      t.input.consume(this.#length)
      this.#length = -1
      return this.#next.expectDelimiter(':', { max: 8 })
    }
    /** Changes the kept Intent outside a handler: the stream must not notice. */
    meddle(): void {
      this.#next.expectBytes(1000)
    }
  }

  test('a protocol may return the same Intent again, changed, under every split', T, () => {
    const run = checkSplits(() => {
      const p = new Records()
      return Intent.of(p).expectDelimiter(':', { max: 8 })
    }, '3:abc10:01234567890:1:z')
    assert.deepEqual(run.log, ['bytesRead 1', 'bytesRead 3', 'bytesRead 2', 'bytesRead 10', 'bytesRead 1', 'bytesRead 0', 'bytesRead 1', 'bytesRead 1'])
  })

  test('changing a returned Intent outside a handler does not change what the stream waits for', T, () => {
    const p = new Records()
    const h = new Harness(() => Intent.of(p).expectDelimiter(':', { max: 8 }))
    h.feed('2:')
    p.meddle() // now says expectBytes(1000); the stream took expectBytes(2)
    h.feed('ok')
    assert.deepEqual(p.records, ['ok'])
  })
})
