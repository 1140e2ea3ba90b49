/**
 * Protocols that misbehave, on the test kit: every handler is guarded against spinning, output
 * after a half-close is refused instead of lost, and bad frames reach `exception()` after the
 * answers to the good ones, under every split.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type Exception,
  expectFrame,
  HandlerError,
  Intent,
  LimitReachedError,
  lengthPrefixed,
  lines,
  type Protocol,
  ProtocolError,
  type Scope,
  type Transport,
  WriteError,
} from 'rotor-stream'
import { checkSplits, Harness } from 'rotor-stream/testing'

const T = { timeout: 20_000 }

/** Asserts the stream ended with a HandlerError naming `handler` and saying it spun. */
function assertSpun(h: Harness, handler: string): void {
  assert.equal(h.state, 'error')
  const error = h.error
  assert.ok(error instanceof HandlerError, `ended with ${String(error)}`)
  assert.equal(error.handler, handler)
  assert.match(String((error.cause as Error).message), new RegExp(`^${handler} ran 10000 times in a row without consuming input or writing output`))
}

describe('spin guards on every handler', () => {
  test('ends a wakeup that keeps calling its own notifier, and runs each next wakeup a turn later', T, () => {
    let calls = 0
    const poller: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      wakeup(_t: Transport, scope: Scope) {
        calls++
        scope.notifier()() // "check again soon": never progress
        return Intent.of(poller).sleep()
      },
    }
    let notify: () => void = () => {}
    const h = new Harness((_t, _s, scope) => {
      notify = scope.notifier()
      return Intent.of(poller).sleep()
    })
    notify()
    h.wakeup()
    assertSpun(h, 'wakeup')
    assert.equal(calls, 10_000)
  })

  test('lets a wakeup that writes on every turn go on (a pump is progress)', T, () => {
    let left = 25_000
    const pump: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      wakeup(t: Transport, scope: Scope) {
        t.output.write('x')
        if (--left === 0) return Intent.done()
        scope.notifier()()
        return Intent.of(pump).sleep()
      },
    }
    const h = new Harness(() => Intent.of(pump).sleep())
    h.wakeup()
    assert.equal(h.state, 'done')
    assert.equal(h.output.length, 25_000)
  })

  test('ends a bytesFlushed that asks for the same flush again without writing', T, () => {
    const again: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      bytesFlushed: () => Intent.of(again).expectFlush(),
    }
    const h = new Harness(() => Intent.of(again).expectFlush())
    assertSpun(h, 'bytesFlushed')
  })

  test('holds a bytesFlushed that writes and asks for a huge flush point to outputHighWaterMark', T, () => {
    const greedy: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      wakeup: () => Intent.of(greedy).expectFlush(1e12),
      bytesFlushed(t: Transport) {
        t.output.write(Buffer.alloc(1000))
        return Intent.of(greedy).expectFlush(1e12)
      },
    }
    const h = new Harness(() => Intent.of(greedy).sleep(), { outputHighWaterMark: 64 * 1024 })
    h.stall().wakeup() // the peer reads nothing: the flush point must hold the output
    assert.equal(h.state, 'running')
    assert.ok(h.unwritten > 0 && h.unwritten <= 64 * 1024 + 1000, `unwritten ${h.unwritten}`)
    const held = h.unwritten
    h.wakeup()
    assert.equal(h.unwritten, held, 'no more output while the peer reads nothing')
  })

  test('ends a timeout that keeps setting a deadline in the past', T, () => {
    const late: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      timeout: (_t: Transport, scope: Scope) =>
        Intent.of(late)
          .sleep()
          .deadline(scope.now() - 1),
    }
    const h = new Harness(() => Intent.of(late).sleep().timeout(10))
    h.advance(10)
    assertSpun(h, 'timeout')
  })

  test('lets a periodic timer tick forever without doing anything', T, () => {
    let ticks = 0
    const ticker: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      timeout() {
        ticks++
        return Intent.of(ticker).sleep().timeout(1000)
      },
    }
    const h = new Harness(() => Intent.of(ticker).sleep().timeout(1000))
    h.advance(20_000 * 1000)
    assert.equal(ticks, 20_000)
    assert.equal(h.state, 'running')
  })

  test('ends an exception handler that answers every limit with a zero-byte read', T, () => {
    const stubborn: Protocol = {
      bytesRead: (_t: Transport) => Intent.of(stubborn).expectDelimiter('\n', { max: 2 }),
      exception: () => Intent.of(stubborn).expectBytes(0),
    }
    const h = new Harness(() => Intent.of(stubborn).expectDelimiter('\n', { max: 2 }))
    h.feed('abcdef')
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof HandlerError || h.error instanceof LimitReachedError, String(h.error))
  })

  test('ends a bytesRead that alternates between two expectations without consuming', T, () => {
    let flip = false
    const fickle: Protocol = {
      bytesRead() {
        flip = !flip
        return Intent.of(fickle).expectBytes(flip ? 1 : 2)
      },
    }
    const h = new Harness(() => Intent.of(fickle).expectBytes(1))
    h.feed('ab')
    assertSpun(h, 'bytesRead')
  })

  test('ends a bytesRead that keeps waking itself instead of consuming', T, () => {
    const loop: Protocol = {
      bytesRead: (_t: Transport, _end: number, scope: Scope) => {
        scope.notifier()()
        return Intent.of(loop).sleep()
      },
      wakeup: () => Intent.of(loop).expectBytes(1),
    }
    const h = new Harness(() => Intent.of(loop).expectBytes(1))
    h.feed('a')
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof HandlerError, String(h.error))
  })

  test('says which handler to fix when a factory returns a promise', T, () => {
    const h = new Harness((async () => Intent.done()) as never)
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof HandlerError)
    assert.match(String((h.error.cause as Error).message), /handleAsync/)
  })
})

describe('output after halfClose()', () => {
  test('refuses output written after halfClose() with a WriteError, never a clean end', T, () => {
    const fatals: Error[] = []
    const p: Protocol = {
      bytesRead(t: Transport, end: number) {
        t.input.consume(end)
        t.output.write('first')
        t.halfClose()
        t.output.write('lost?')
        return Intent.done()
      },
      fatal: (reason) => fatals.push(reason),
    }
    const h = new Harness(() => Intent.of(p).expectBytes(1))
    h.feed('x')
    assert.equal(h.output.toString(), 'first')
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof WriteError)
    assert.equal((h.error.cause as NodeJS.ErrnoException).code, 'ERR_STREAM_WRITE_AFTER_END')
    assert.deepEqual(fatals, [h.error])
  })

  test('counts the output flushed by halfClose() until the peer has read it', T, () => {
    const p: Protocol = {
      bytesRead(t: Transport, end: number) {
        t.input.consume(end)
        t.output.write('goodbye')
        t.halfClose()
        return Intent.of(p).expectFlush()
      },
    }
    const h = new Harness(() => Intent.of(p).expectBytes(1))
    h.stall().feed('x')
    assert.equal(h.unwritten, 7)
    assert.deepEqual(h.log, ['bytesRead 1'], 'not flushed while the peer has not read it')
    h.drain()
    assert.deepEqual(h.log, ['bytesRead 1', 'bytesFlushed'])
    assert.equal(h.state, 'done')
    assert.equal(h.output.toString(), 'goodbye')
  })

  test('half-closes once, however often it is called', T, () => {
    const p: Protocol = {
      bytesRead(t: Transport, end: number) {
        t.input.consume(end)
        t.halfClose()
        t.halfClose()
        return Intent.done()
      },
    }
    const h = new Harness(() => Intent.of(p).expectBytes(1))
    h.feed('x')
    assert.equal(h.isHalfClosed, true)
    assert.equal(h.state, 'done')
  })
})

describe('bad frames through expectFrame', () => {
  const input = 'ab\ncd\ntoolong\nef\n'

  test('answers the good frames, then ends with the error, the same under every split (default exception)', T, () => {
    const framer = lines({ max: 4 })
    const echo: Protocol = {
      bytesRead(t: Transport) {
        const scan = framer.scan(t.input)
        if (scan.kind === 'frame') {
          t.output.write(t.input.view(scan.start, scan.end))
          t.output.write('\n')
          t.input.consume(scan.size)
        }
        return expectFrame(Intent.of(echo), framer, t.input)
      },
    }
    const run = checkSplits(() => Intent.of(echo).expectBytes(0), input, { compareEvents: false })
    assert.equal(run.output.toString(), 'ab\ncd\n')
    assert.equal(run.state, 'error')
    assert.ok(run.error instanceof LimitReachedError)
  })

  test('lets exception() answer a malformed frame, after the answers to the frames before it', T, () => {
    const framer = lengthPrefixed({ lengthSize: 'varint', maxFrameLength: 100 })
    const echo: Protocol = {
      bytesRead(t: Transport) {
        const scan = framer.scan(t.input)
        if (scan.kind === 'frame') {
          t.output.write(t.input.view(scan.start, scan.end))
          t.input.consume(scan.size)
        }
        return expectFrame(Intent.of(echo), framer, t.input)
      },
      exception(t: Transport, reason: Exception) {
        assert.ok(reason instanceof ProtocolError)
        t.output.write(`|ERR ${reason.code}`)
        return Intent.done()
      },
    }
    // Two good frames ("hi", "yo"), then a varint that never ends (its groups all zero: within the limit, malformed at its 10th byte).
    const bytes = Buffer.concat([Buffer.from([2]), Buffer.from('hi'), Buffer.from([2]), Buffer.from('yo'), Buffer.alloc(11, 0x80)])
    const run = checkSplits(() => Intent.of(echo).expectBytes(0), bytes, { compareEvents: false })
    assert.equal(run.output.toString(), 'hiyo|ERR RS_ERR_PROTOCOL')
    assert.equal(run.state, 'done')
  })

  test('refuses reject() with anything but a ProtocolError or a LimitReachedError', T, () => {
    assert.throws(() => Intent.of({}).reject(new Error('x') as never), { code: 'RS_ERR_INVALID_ARG' })
    assert.throws(() => Intent.error('boom' as never), { code: 'RS_ERR_INVALID_ARG' })
    // Options of Intent.error from plain JavaScript: never silently taken as "no flush".
    assert.throws(() => Intent.error(new Error('x'), { flush: 'yes' } as never), { code: 'RS_ERR_INVALID_ARG', message: /options\.flush/ })
    assert.throws(() => Intent.error(new Error('x'), null as never), { code: 'RS_ERR_INVALID_ARG', message: /options/ })
    assert.equal(Intent.error(new Error('x'), { flush: true }).flush, true)
  })
})
