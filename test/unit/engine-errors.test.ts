/**
 * Handler errors (semantic 9), the documented default handlers, `Intent.error`, half-close,
 * and read and write errors, on the test kit.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  EndOfStreamError,
  HandlerError,
  Intent,
  InvalidArgumentError,
  LimitReachedError,
  type Protocol,
  ProtocolError,
  ReadError,
  type Transport,
  WriteError,
} from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'
import { Lines } from '../helpers/protocols.js'

const T = { timeout: 10_000 }

/** Asserts the stream ended with a HandlerError for `handler` whose cause matches `cause`. */
function assertHandlerError(h: Harness, handler: string, cause: (c: unknown) => boolean): HandlerError {
  assert.equal(h.state, 'error')
  const error = h.error
  assert.ok(error instanceof HandlerError, `ended with ${String(error)}`)
  assert.equal(error.code, 'RS_ERR_HANDLER')
  assert.equal(error.handler, handler)
  assert.ok(cause(error.cause), `cause: ${String(error.cause)}`)
  return error
}

/** Lines whose `bytesRead` throws on the line "boom". */
class Fragile extends Lines {
  override bytesRead(t: Transport, end: number): Intent<Lines> {
    if (t.input.toString('utf8', 0, end) === 'boom') throw BOOM
    return super.bytesRead(t, end)
  }
}
const BOOM = new Error('boom')

describe('handler errors (semantic 9)', () => {
  test('ends the stream with a HandlerError reported to fatal when bytesRead throws', T, () => {
    const p = new Fragile()
    const h = new Harness(p.factory)
    h.feed('a\nboom\nb\n')
    const error = assertHandlerError(h, 'bytesRead', (c) => c === BOOM)
    assert.deepEqual(p.fatals, [error])
    assert.match(error.message, /protocol handler bytesRead threw: boom/)
    assert.deepEqual(p.lines, ['a'])
    assert.equal(h.output.length, 0, 'output of the failed round is dropped')
    assert.deepEqual(h.log, ['bytesRead 1', 'bytesRead 4', 'fatal RS_ERR_HANDLER'])
    h.feed('c\n')
    assert.deepEqual(p.lines, ['a'], 'nothing runs after the end')
  })

  test('reports a throwing factory as a HandlerError', T, () => {
    const h = new Harness(() => {
      throw BOOM
    })
    assertHandlerError(h, 'factory', (c) => c === BOOM)
    assert.deepEqual(h.log, ['fatal RS_ERR_HANDLER'])
  })

  test('reports a handler that returns something other than an Intent', T, () => {
    const broken: Protocol = { bytesRead: () => undefined as unknown as Intent<Protocol> }
    const h = new Harness(() => Intent.of(broken).expectBytes(1))
    h.feed('x')
    assertHandlerError(h, 'bytesRead', (c) => c instanceof TypeError && /bytesRead returned undefined, not an Intent/.test(c.message))
  })

  test('reports a handler that returns Intent.of() without an expectation', T, () => {
    const broken: Protocol = { bytesRead: () => Intent.of(broken) as unknown as Intent<Protocol> }
    const h = new Harness(() => Intent.of(broken).expectBytes(1))
    h.feed('x')
    assertHandlerError(h, 'bytesRead', (c) => c instanceof TypeError && /without an expectation/.test(c.message))
  })

  test('reports throwing timeout, wakeup and exception handlers, naming each', T, () => {
    const thrower = (): never => {
      throw BOOM
    }
    const p: Protocol = { bytesRead: thrower, timeout: thrower, wakeup: thrower, exception: thrower }
    const timedOut = new Harness(() => Intent.of(p).sleep().timeout(1))
    timedOut.advance(1)
    assertHandlerError(timedOut, 'timeout', (c) => c === BOOM)
    const woken = new Harness(() => Intent.of(p).sleep())
    woken.wakeup()
    assertHandlerError(woken, 'wakeup', (c) => c === BOOM)
    const ended = new Harness(() => Intent.of(p).expectBytes(1))
    ended.end()
    assertHandlerError(ended, 'exception', (c) => c === BOOM)
    const reset = new Harness(() => Intent.of(p).expectBytes(1))
    reset.readError()
    assertHandlerError(reset, 'exception', (c) => c === BOOM)
  })

  test('survives a fatal handler that throws', T, () => {
    const p: Protocol = {
      bytesRead: () => {
        throw BOOM
      },
      fatal: () => {
        throw new Error('fatal failed too')
      },
    }
    const h = new Harness(() => Intent.of(p).expectBytes(1))
    h.feed('x')
    assertHandlerError(h, 'bytesRead', (c) => c === BOOM)
  })

  test('stops a protocol that never consumes its input instead of looping forever', T, () => {
    const stuck: Protocol = { bytesRead: () => Intent.of(stuck).expectDelimiter('\n', { max: 10 }) }
    const h = new Harness(() => Intent.of(stuck).expectDelimiter('\n', { max: 10 }))
    h.feed('a\n')
    assertHandlerError(h, 'bytesRead', (c) => c instanceof Error && /without consuming input/.test(c.message))
  })

  test('stops a protocol that expects zero bytes forever', T, () => {
    const zero: Protocol = { bytesRead: () => Intent.of(zero).expectBytes(0) }
    const h = new Harness(() => Intent.of(zero).expectBytes(0))
    assertHandlerError(h, 'bytesRead', (c) => c instanceof Error && /without consuming input/.test(c.message))
  })

  test('lets a protocol scan more than 10,000 lines with offset before consuming them', T, () => {
    // A client collecting a multi-line reply (a Redis array, an SMTP DATA block) keeps it contiguous.
    let lines = 0
    const collect: Protocol = {
      bytesRead(t: Transport, end: number) {
        if (t.input.byte(end - 1) === 0x2e) {
          t.input.consume(end + 1) // the "." line ends the reply
          return Intent.done()
        }
        lines++
        return Intent.of(collect).expectDelimiter('\n', { max: 1 << 20, offset: end + 1 })
      },
    }
    const h = new Harness(() => Intent.of(collect).expectDelimiter('\n', { max: 1 << 20 }))
    h.feed(`${'x\n'.repeat(20_000)}.\n`)
    assert.equal(lines, 20_000)
    assert.equal(h.state, 'done')
  })

  test('lets a protocol that consumes outside bytesRead serve more than 10,000 same-size requests', T, () => {
    // bytesRead notes the request and sleeps; the work (and the consume) happens on wakeup, as
    // a bridge to async code does. Each request is a new event: that is progress, not a spin.
    let served = 0
    let pending = 0
    const deferred: Protocol = {
      bytesRead(_t: Transport, end: number) {
        pending = end
        return Intent.of(deferred).sleep()
      },
      wakeup(t: Transport) {
        t.input.consume(pending)
        served++
        return Intent.of(deferred).expectBytes(4)
      },
    }
    const h = new Harness(() => Intent.of(deferred).expectBytes(4))
    for (let i = 0; i < 12_000; i++) h.feed('ping').wakeup()
    assert.equal(served, 12_000)
    assert.equal(h.state, 'running')
  })
})

describe('default handlers', () => {
  test('ends cleanly after a flush without a bytesFlushed handler', T, () => {
    const p: Protocol = {
      bytesRead(t: Transport, end: number) {
        t.input.consume(end)
        t.output.write('bye\n')
        return Intent.of(p).expectFlush()
      },
    }
    const h = new Harness(() => Intent.of(p).expectBytes(1))
    h.feed('x')
    assert.equal(h.output.toString(), 'bye\n')
    assert.deepEqual(h.log, ['bytesRead 1', 'bytesFlushed'])
    assert.equal(h.state, 'done')
  })

  test('ends cleanly at end of stream without an exception handler', T, () => {
    const p: Protocol = { bytesRead: () => assert.fail('bytesRead must not run') }
    const h = new Harness(() => Intent.of(p).expectBytes(4))
    h.feed('abc').end()
    assert.equal(h.state, 'done')
    assert.equal(h.error, undefined)
  })

  test('ends with the reason on a limit or a read error without an exception handler', T, () => {
    const p: Protocol = { bytesRead: () => assert.fail('bytesRead must not run') }
    const limited = new Harness(() => Intent.of(p).expectDelimiter('\n', { max: 2 }))
    limited.feed('abcd')
    assert.equal(limited.state, 'error')
    assert.ok(limited.error instanceof LimitReachedError)
    const reset = new Harness(() => Intent.of(p).expectBytes(4))
    reset.readError()
    assert.equal(reset.state, 'error')
    assert.ok(reset.error instanceof ReadError)
    assert.equal((reset.error.cause as NodeJS.ErrnoException).code, 'ECONNRESET')
  })
})

describe('Intent.error, half-close, read and write errors', () => {
  test('reports the error of Intent.error to fatal and drops pending output', T, () => {
    const bad = new ProtocolError('unexpected byte')
    const fatals: Error[] = []
    const p: Protocol = {
      bytesRead(t: Transport) {
        t.output.write('partial answer')
        return Intent.error(bad)
      },
      fatal: (reason) => fatals.push(reason),
    }
    const h = new Harness(() => Intent.of(p).expectBytes(1))
    h.feed('x')
    assert.equal(h.state, 'error')
    assert.equal(h.error, bad)
    assert.deepEqual(fatals, [bad])
    assert.equal(h.output.length, 0)
    assert.equal(h.writes, 0)
    assert.deepEqual(h.log, ['bytesRead 1', 'fatal RS_ERR_PROTOCOL'])
  })

  test('half-closes after flushing the output and goes on reading', T, () => {
    const p = new Lines()
    const closer: Protocol = {
      bytesRead(t: Transport, end: number) {
        const intent = p.bytesRead(t, end)
        t.halfClose()
        return intent
      },
      exception: (t, reason) => p.exception(t, reason),
      fatal: (reason) => p.fatal(reason),
    }
    const h = new Harness(() => Intent.of(closer).expectDelimiter('\n', { max: 100 }))
    h.feed('last words\n')
    assert.equal(h.isHalfClosed, true)
    assert.equal(h.output.toString(), 'last words\n')
    assert.equal(h.isReading, true)
    h.feed('more\n')
    assert.deepEqual(p.lines, ['last words', 'more'])
    assert.equal(h.state, 'error', 'writing after the half-close fails')
    assert.ok(h.error instanceof WriteError)
    assert.deepEqual(p.fatals, [h.error])
  })

  test('delivers a read error to exception as a ReadError with the socket error as cause', T, () => {
    const p = new Lines()
    const h = new Harness(p.factory)
    h.feed('buffered')
    h.readError()
    const reason = p.exceptions[0]
    assert.ok(reason instanceof ReadError)
    assert.equal(reason.code, 'RS_ERR_READ')
    assert.equal((reason.cause as NodeJS.ErrnoException).code, 'ECONNRESET')
    assert.deepEqual(p.bufferedAtException, ['buffered'])
    assert.equal(h.state, 'error')
  })

  test('ends cleanly when exception answers a read error with done', T, () => {
    const p: Protocol = { bytesRead: () => assert.fail('bytesRead must not run'), exception: () => Intent.done() }
    const h = new Harness(() => Intent.of(p).expectBytes(1))
    h.readError()
    assert.equal(h.state, 'done')
  })

  test('reports a non-Intent returned by exception after a read error as a HandlerError', T, () => {
    const p: Protocol = { bytesRead: () => assert.fail('bytesRead must not run'), exception: () => undefined as unknown as Intent<Protocol> }
    const h = new Harness(() => Intent.of(p).expectBytes(1))
    assert.doesNotThrow(() => h.readError())
    assertHandlerError(h, 'exception', (c) => c instanceof TypeError)
  })

  test('reports a failed write to fatal as a WriteError with the socket error as cause', T, () => {
    const p = new Lines()
    const h = new Harness(p.factory)
    h.writeError()
    h.feed('hello\n')
    assert.equal(h.state, 'error')
    const error = h.error
    assert.ok(error instanceof WriteError)
    assert.equal(error.code, 'RS_ERR_WRITE')
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'EPIPE')
    assert.deepEqual(p.fatals, [error])
    assert.deepEqual(p.exceptions, [], 'a write error is not an exception')
  })

  test('reports a write error on output the peer has not read yet', T, () => {
    const p = new Lines({ flush: 0 })
    const h = new Harness(p.factory)
    h.stall().feed('hello\n')
    assert.equal(h.unwritten, 6)
    h.writeError()
    assert.ok(h.error instanceof WriteError)
    assert.deepEqual(h.log, ['bytesRead 5', 'fatal RS_ERR_WRITE'])
  })

  test('tells the protocol at most once, whatever happens after the end', T, () => {
    const p = new Lines()
    const h = new Harness(p.factory)
    h.readError()
    h.writeError()
    h.end()
    h.feed('x\n')
    h.advance(1e9)
    assert.equal(p.fatals.length, 1)
    assert.ok(p.fatals[0] instanceof ReadError)
  })

  test('rejects stream limits that would disable the bounds', T, () => {
    const f = new Lines().factory
    for (const limits of [{ maxBufferSize: Number.NaN }, { maxBufferSize: -1 }, { outputHighWaterMark: Number.NaN }]) {
      assert.throws(() => new Harness(f, limits), InvalidArgumentError, JSON.stringify(limits))
    }
  })

  test('never delivers EndOfStream twice', T, () => {
    const p: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      exception: (_t, reason) => (reason instanceof EndOfStreamError ? Intent.of(p).expectBytes(1) : Intent.error(reason)),
    }
    const h = new Harness(() => Intent.of(p).expectBytes(1))
    h.end()
    h.end()
    assert.deepEqual(h.log, ['exception RS_ERR_END_OF_STREAM', 'fatal RS_ERR_END_OF_STREAM'])
  })
})
