import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Exception, Intent, type MinRate, type Protocol, type Transport } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'

const T = { timeout: 10_000 }
const RATE: MinRate = { bytes: 10, per: 1000 }

/** Waits for LF-terminated lines (max 10,000 bytes); answers a too-slow peer with "SLOW". */
class Lines implements Protocol {
  lines = 0
  readonly rate: MinRate | null | undefined
  constructor(rate?: MinRate | null) {
    this.rate = rate
  }
  next(): Intent<Lines> {
    const intent = Intent.of(this).expectDelimiter('\n', { max: 10_000 })
    return this.rate === undefined ? intent : intent.minRate(this.rate)
  }
  bytesRead(t: Transport, end: number): Intent<Lines> {
    t.input.consume(end + 1)
    this.lines++
    return this.next()
  }
  exception(t: Transport, reason: Exception): Intent<Lines> {
    if (reason.code === 'RS_ERR_TOO_SLOW') t.output.write('SLOW\n')
    return Intent.done()
  }
}

describe('minimum data rate (slowloris protection)', () => {
  test('ends a peer that drips a frame slower than the minimum rate', T, () => {
    const h = new Harness(() => new Lines().next(), { minRate: RATE })
    h.feed('G')
    for (let i = 0; i < 10 && h.state === 'running'; i++) h.advance(500).feed('x') // 2 bytes per second
    assert.equal(h.output.toString(), 'SLOW\n')
    assert.deepEqual(h.log.at(-1), 'exception RS_ERR_TOO_SLOW')
    assert.equal(h.state, 'done')
    assert.ok(h.now <= 1500, `ended at ${h.now} ms, within the first window after the frame opened`)
  })

  test('lets a peer that keeps up the rate send a long frame', T, () => {
    const p = new Lines()
    const h = new Harness(() => p.next(), { minRate: RATE })
    for (let i = 0; i < 20; i++) h.feed('0123456789ab').advance(900) // 12 bytes per 0.9 s, for 18 s
    h.feed('\n')
    assert.equal(p.lines, 1)
    assert.equal(h.state, 'running')
  })

  test('does not count idle time between frames: an idle peer is for deadlines, not the rate', T, () => {
    const p = new Lines()
    const h = new Harness(() => p.next(), { minRate: RATE })
    h.feed('hello\n').advance(60_000).feed('world\n')
    assert.equal(p.lines, 2)
    assert.equal(h.state, 'running')
    assert.ok(Number.isNaN(h.deadline), 'no timer while no frame is open')
  })

  test('an expectation can turn the rate on, or off, for itself', T, () => {
    const on = new Harness(() => new Lines(RATE).next()) // no stream default, the Intent sets it
    on.feed('x').advance(1000)
    assert.equal(on.output.toString(), 'SLOW\n')
    const off = new Harness(() => new Lines(null).next(), { minRate: RATE }) // the Intent turns it off
    off.feed('x').advance(60_000)
    assert.equal(off.state, 'running')
  })

  test('does not hold a paused stream to the rate (sleep, pushback)', T, () => {
    const sleeper: Protocol = { bytesRead: () => assert.fail('no read while asleep') }
    const h = new Harness(() => Intent.of(sleeper).sleep(), { minRate: RATE })
    h.feed('partial').advance(10_000)
    assert.equal(h.state, 'running')
  })

  test('rejects a malformed minRate', T, () => {
    for (const minRate of [
      { bytes: 0, per: 1000 },
      { bytes: 10, per: 0 },
      { bytes: 1.5, per: 10 },
    ] as MinRate[]) {
      assert.throws(() => new Harness(() => new Lines().next(), { minRate }), { code: 'RS_ERR_INVALID_ARG' }, JSON.stringify(minRate))
      assert.throws(() => Intent.of({}).expectBytes(1).minRate(minRate), { code: 'RS_ERR_INVALID_ARG' })
    }
  })
})
