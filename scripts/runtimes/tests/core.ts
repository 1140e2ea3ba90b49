/**
 * The core semantics through the test kit (no sockets, virtual clock): the same engine code a
 * socket Stream runs, so these check the built package's loop on each runtime's JIT and Buffer.
 */
import assert from 'node:assert/strict'
import * as api from 'rotor-stream'
import {
  Buf,
  codes,
  EndOfStreamError,
  type Exception,
  type Factory,
  Intent,
  LimitReachedError,
  lengthPrefixed,
  lines,
  netstring,
  type Protocol,
  RotorStreamError,
  type Scope,
  type Transport,
} from 'rotor-stream'
import * as kit from 'rotor-stream/testing'
import { checkSplits, Harness, runScripted, splits } from 'rotor-stream/testing'
import { frameEcho, Lines, numbered } from '../../../test/helpers/protocols.js'
import { describe, test } from '../kit.js'

/** `<n>\n` then n bytes, answered with the bytes reversed: exact-size reads after a delimited one. */
class Sized implements Protocol {
  size = -1
  static create(): Intent<Sized> {
    return new Sized().header()
  }
  header(): Intent<Sized> {
    this.size = -1
    return Intent.of(this).expectDelimiter('\n', { max: 8 })
  }
  bytesRead(t: Transport, end: number): Intent<Sized> {
    if (this.size < 0) {
      this.size = Number(t.input.toString('latin1', 0, end))
      t.input.consume(end + 1)
      return Intent.of(this).expectBytes(this.size)
    }
    t.output.write(Buffer.from(t.input.view(0, end)).reverse())
    t.output.write('\n')
    t.input.consume(end)
    return this.header()
  }
  exception(t: Transport, reason: Exception): Intent<Sized> {
    t.output.write(`${reason.code}\n`)
    return Intent.done()
  }
}

describe('exports', () => {
  test('rotor-stream and rotor-stream/testing load from the built package with every export', () => {
    for (const name of [
      'serve',
      'connect',
      'connectTls',
      'open',
      'handleAsync',
      'Persistent',
      'Stream',
      'Server',
      'Intent',
      'Buf',
      'MemoryBudget',
      'channels',
    ]) {
      assert.ok(name in api, `rotor-stream exports ${name}`)
    }
    for (const name of ['Harness', 'checkSplits', 'runScripted', 'splits', 'splitAt', 'describeSplit', 'prng'])
      assert.ok(name in kit, `testing exports ${name}`)
    // Resolved through "exports" → default → dist (never the "rotor-stream-source" condition's TypeScript).
    for (const [specifier, file] of [
      ['rotor-stream', '/node_modules/rotor-stream/dist/src/index.js'],
      ['rotor-stream/testing', '/node_modules/rotor-stream/dist/src/testing/index.js'],
    ] as const) {
      assert.ok(import.meta.resolve(specifier).endsWith(file), `${specifier} resolved to ${import.meta.resolve(specifier)}`)
    }
    assert.equal(codes.length, 16)
    for (const code of ['RS_ERR_UNSUPPORTED', 'RS_ERR_TLS_UPGRADE', 'RS_ERR_PROXY_PROTOCOL', 'RS_ERR_POOL_UNAVAILABLE'])
      assert.ok((codes as readonly string[]).includes(code), code)
    const err = new LimitReachedError(5)
    assert.ok(err instanceof RotorStreamError && err instanceof Error)
    assert.equal(err.code, 'RS_ERR_LIMIT_REACHED')
  })
})

describe('core (test kit)', () => {
  test('random splits: line echo gives the same output and handler calls for every split', () => {
    const input = `${numbered(6)}tail`
    const run = checkSplits(() => new Lines().read(), input, { end: true, random: 300 })
    assert.equal(run.output.toString(), `${numbered(6)}eof tail\n`)
    assert.equal(run.state, 'done')
  })

  test('random splits: exact-size reads after a delimiter (expectBytes)', () => {
    const run = checkSplits(Sized.create, '3\nabc0\n5\nhello', { random: 300 })
    assert.equal(run.output.toString(), 'cba\n\nolleh\n')
    assert.equal(checkSplits(Sized.create, '5\nhel', { end: true }).output.toString(), 'RS_ERR_END_OF_STREAM\n')
  })

  test('random splits: framers (lines, length-prefixed, netstring) echo identically', () => {
    const opts = { compareEvents: false, random: 150 } as const
    assert.equal(checkSplits(frameEcho(lines({ max: 10 })), 'ab\r\ncd\n\nxyz\r\n', opts).output.toString(), 'ab\ncd\n\nxyz\n')
    const lp = lengthPrefixed({ lengthSize: 2 })
    const framed = Buffer.concat([Buffer.from([0, 3]), Buffer.from('abc'), Buffer.from([0, 0]), Buffer.from([0, 2]), Buffer.from('xy')])
    assert.deepEqual(checkSplits(frameEcho(lp), framed, opts).output, framed)
    assert.equal(checkSplits(frameEcho(netstring({ max: 10 })), '3:abc,0:,', opts).output.toString(), '3:abc,0:,')
  })

  test('limits: a line over max is LimitReached for every split, and the answer still goes out', () => {
    const run = checkSplits(() => new Lines({ max: 8, tooLong: 'ERR too long\n' }).read(), 'short\nmuch too long a line\n', { random: 200 })
    assert.equal(run.output.toString(), 'short\nERR too long\n')
    assert.equal(run.state, 'done')
    assert.equal(run.exceptions[0]?.code, 'RS_ERR_LIMIT_REACHED')
  })

  test('limits: maxBufferSize bounds expectBytes and delimiter searches', () => {
    const big = runScripted(() => Intent.of(new Sized()).expectBytes(2048), ['x'], { maxBufferSize: 1024 })
    assert.equal(big.output.toString(), 'RS_ERR_LIMIT_REACHED\n')
    const search = runScripted(() => new Lines({ max: 1 << 20 }).read(), ['a'.repeat(600), 'b'.repeat(600)], { maxBufferSize: 1024 })
    assert.equal(search.exceptions[0]?.code, 'RS_ERR_LIMIT_REACHED')
  })

  test('deadlines: timeout() runs at the deadline, not before; the default ends with RS_ERR_TIMEOUT', () => {
    const p = new Lines({ timeout: 1000, idle: 'idle\n' })
    const h = new Harness(() => p.read())
    h.feed('a\n').advance(999)
    assert.equal(p.timeouts.length, 0)
    h.feed('b\n').advance(999) // every Intent got a fresh relative timeout
    assert.equal(p.timeouts.length, 0)
    h.advance(1)
    assert.equal(p.timeouts.length, 1)
    assert.equal(h.output.toString(), 'a\nb\nidle\n')
    const plain: Protocol = { bytesRead: () => Intent.done() }
    const h2 = new Harness(() => Intent.of(plain).expectBytes(1).deadline(500))
    h2.advance(500)
    assert.equal(h2.state, 'error')
    assert.equal((h2.error as RotorStreamError).code, 'RS_ERR_TIMEOUT')
  })

  test('deadlines: a minimum rate ends a dripping peer with RS_ERR_TOO_SLOW', () => {
    const p = new Lines()
    const h = new Harness(() => p.read().minRate({ bytes: 10, per: 1000 }))
    h.feed('ab').advance(500).feed('c').advance(600)
    assert.equal(p.exceptions[0]?.code, 'RS_ERR_TOO_SLOW')
    assert.equal(h.state, 'error')
  })

  test('pushback: expectFlush stops reading until the peer reads the output', () => {
    const p = new Lines({ flush: 0 })
    const h = new Harness(() => p.read())
    h.stall().feed('one\ntwo\n')
    assert.deepEqual(p.lines, ['one'])
    assert.equal(h.isReading, false)
    assert.equal(h.unwritten, 4)
    h.drain()
    assert.deepEqual(p.lines, ['one', 'two'])
  })

  test('pushback: over outputHighWaterMark, buffered requests wait and nothing is read', () => {
    const p = new Lines({ reply: (line) => `${line.repeat(100)}\n` })
    const h = new Harness(() => p.read(), { outputHighWaterMark: 1000 })
    h.stall().feed(numbered(50, 'r'))
    assert.ok(p.lines.length < 50, `processed ${p.lines.length} of 50 while the peer read nothing`)
    assert.equal(h.isReading, false)
    assert.ok(h.unwritten <= 1000 + 400, `unwritten ${h.unwritten}`)
    h.drain()
    assert.equal(p.lines.length, 50)
    assert.equal(h.isReading, true)
  })

  test('pipelining: 50 requests in one read are answered in one write', () => {
    const h = new Harness(() => new Lines().read())
    h.feed(numbered(50))
    assert.equal(h.writes, 1)
    assert.equal(h.output.toString(), numbered(50))
  })

  test('half-close: end of stream mid-line leaves the bytes for exception(), the answer is flushed', () => {
    const p = new Lines()
    const run = checkSplits(() => p.read(), 'whole\npart', { end: true })
    assert.equal(run.output.toString(), 'whole\neof part\n')
    assert.ok(run.exceptions[0] instanceof EndOfStreamError)
    const halfCloser: Factory = (t) => {
      t.output.write('bye\n')
      t.halfClose()
      return new Lines().read()
    }
    const h = new Harness(halfCloser)
    assert.equal(h.isHalfClosed, true)
    assert.equal(h.takeOutput().toString(), 'bye\n')
    assert.equal(h.isReading, true, 'reading goes on after our FIN')
  })

  test('wakeup: a notifier runs wakeup once for coalesced calls', () => {
    let wakeups = 0
    let notify: () => void = () => {}
    const sleeper: Protocol = {
      bytesRead: () => Intent.done(),
      wakeup: () => {
        wakeups++
        return Intent.of(sleeper).sleep()
      },
    }
    const h = new Harness((_t: Transport, _s: unknown, scope: Scope) => {
      notify = scope.notifier()
      return Intent.of(sleeper).sleep()
    })
    notify()
    notify()
    h.wakeup()
    assert.equal(wakeups, 1)
    assert.equal(h.isReading, true, 'asleep, the stream still reads a little ahead to notice a FIN')
  })

  test('Buf: append, indexOf, view and consume across growth', () => {
    const buf = new Buf()
    for (let i = 0; i < 100; i++) buf.write(`${i},`)
    const at = buf.indexOf('50,')
    assert.equal(buf.toString('latin1', at, at + 3), '50,')
    buf.consume(at)
    assert.ok(buf.view().toString().startsWith('50,51,'))
    assert.equal([...splits('abcd')].length, 1 + 7 + 100)
  })
})
