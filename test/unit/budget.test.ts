import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Intent, MemoryBudget, type Protocol, type Transport } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'

const T = { timeout: 10_000 }
const FRAME = 4000

/** Reads frames of FRAME bytes and counts them. */
class Frames implements Protocol {
  frames = 0
  next(): Intent<Frames> {
    return Intent.of(this).expectBytes(FRAME)
  }
  bytesRead(t: Transport): Intent<Frames> {
    t.input.consume(FRAME)
    this.frames++
    return this.next()
  }
}

describe('MemoryBudget (maxBufferedBytes)', () => {
  test('holds the memory of 100 slow peers near the budget, and every frame still completes', T, () => {
    const budget = new MemoryBudget(20_000)
    const peers = Array.from({ length: 100 }, () => {
      const p = new Frames()
      return { p, h: new Harness(() => p.next(), { budget }), sent: 0 }
    })
    let peak = 0
    // Each peer sends its frame 100 bytes at a time, but only while its stream reads (as TCP would).
    for (let round = 0; round < 10_000 && peers.some((x) => x.p.frames === 0); round++) {
      for (const peer of peers) {
        if (peer.sent >= FRAME || !peer.h.isReading) continue
        peer.h.feed(Buffer.alloc(100, 1))
        peer.sent += 100
        peak = Math.max(peak, budget.used)
      }
    }
    assert.ok(
      peers.every((x) => x.p.frames === 1),
      'every frame completed',
    )
    // Without the budget the peak would be 100 x 4000 = 400,000 bytes. With it: the limit, plus
    // the frame of the one stream allowed to go on (storage grows in powers of two).
    assert.ok(peak <= 20_000 + 2 * FRAME, `peak ${peak} bytes`)
    assert.equal(budget.used, 0)
    assert.equal(budget.isExhausted, false)
  })

  test('pauses reading while exhausted and resumes once memory is freed', T, () => {
    const budget = new MemoryBudget(1000)
    const a = new Frames()
    const b = new Frames()
    const ha = new Harness(() => a.next(), { budget })
    const hb = new Harness(() => b.next(), { budget })
    ha.feed(Buffer.alloc(900))
    hb.feed(Buffer.alloc(200)) // over the budget: only the largest holder (a) goes on
    assert.equal(budget.isExhausted, true)
    assert.equal(ha.isReading, true)
    assert.equal(hb.isReading, false)
    ha.feed(Buffer.alloc(FRAME - 900)) // a completes its frame and frees its buffer
    assert.equal(a.frames, 1)
    assert.equal(budget.isExhausted, false)
    assert.equal(hb.isReading, true)
  })

  test('forgets a stream that ends, so the others resume', T, () => {
    const budget = new MemoryBudget(1000)
    const quitter: Protocol = { bytesRead: () => Intent.done() }
    const hq = new Harness(() => Intent.of(quitter).expectBytes(FRAME), { budget })
    const other = new Frames()
    const ho = new Harness(() => other.next(), { budget })
    hq.feed(Buffer.alloc(1500))
    ho.feed(Buffer.alloc(10))
    assert.equal(ho.isReading, false)
    hq.end() // end of stream: the default exception handler ends it
    assert.equal(budget.used, 10)
    assert.equal(ho.isReading, true)
  })

  test('rejects a budget that is not a positive integer', T, () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new MemoryBudget(bad), { code: 'RS_ERR_INVALID_ARG' })
  })
})
