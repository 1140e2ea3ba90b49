/**
 * Per-stream counters (`t.stats`) on the test kit: the same totals under every split of the
 * input, one read per chunk, one write per round, and pushback time on the virtual clock.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Factory, StreamStats, Transport } from 'rotor-stream'
import { describeSplit, Harness, splits } from 'rotor-stream/testing'
import { LineEcho } from '../../examples/line-echo.js'

const T = { timeout: 30_000 }

/** LineEcho, keeping the transport so that the test can read its counters. */
function tracked(): { factory: Factory; stats: () => StreamStats } {
  let transport: Transport | null = null
  return {
    factory: (t, seed, scope) => {
      transport = t
      return LineEcho.create(t, seed, scope)
    },
    stats: () => {
      assert.ok(transport !== null)
      return transport.stats
    },
  }
}

describe('t.stats', () => {
  test('counts bytes in and out, reads and writes identically under every split', T, () => {
    const input = 'hello\nworld\nQUIT\n'
    for (const chunks of splits(input)) {
      const { factory, stats } = tracked()
      const h = new Harness(factory)
      for (const chunk of chunks) h.feed(chunk)
      const s = stats()
      const where = describeSplit(chunks)
      assert.equal(s.bytesIn, input.length, where)
      assert.equal(s.reads, chunks.length, where)
      assert.equal(s.bytesOut, h.output.length, where)
      assert.equal(s.writes, h.writes, where)
      assert.equal(s.pushbackMs, 0, where)
    }
  })

  test('is the same object on every read, made before any byte if asked for, and plain in JSON', () => {
    const { factory, stats } = tracked()
    const h = new Harness(factory)
    const before = stats()
    assert.deepEqual(before.toJSON(), { bytesIn: 0, bytesOut: 0, reads: 0, writes: 0, pushbackMs: 0 })
    h.feed('x\n')
    assert.equal(stats(), before)
    assert.deepEqual(JSON.parse(JSON.stringify(stats())), { bytesIn: 2, bytesOut: 2, reads: 1, writes: 1, pushbackMs: 0 })
  })

  test('measures the time processing stood still in pushback, on the stream clock', () => {
    const { factory, stats } = tracked()
    const h = new Harness(factory, { outputHighWaterMark: 4 })
    h.stall()
    h.feed('abcdef\nmore\n') // the first echo passes the mark: the second line waits
    assert.equal(h.output.length, 0)
    h.advance(250)
    h.drain()
    assert.equal(stats().pushbackMs, 250)
    assert.equal(stats().bytesOut, 'abcdef\nmore\n'.length)
    // A pushback still under way when the stream ends is counted up to the end.
    h.stall()
    h.feed('ghijkl\nlast\n')
    h.advance(100)
    h.readError()
    assert.equal(stats().pushbackMs, 350)
  })
})
