import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Intent, MemoryBudget, type Protocol, type Transport } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'

const T = { timeout: 10_000 }
const FRAME = 4000

/** Reads frames of FRAME bytes and counts them; answers each with `answer` bytes. */
class Frames implements Protocol {
  frames = 0
  readonly answer: number
  constructor(answer = 0) {
    this.answer = answer
  }
  next(): Intent<Frames> {
    return Intent.of(this).expectBytes(FRAME)
  }
  bytesRead(t: Transport): Intent<Frames> {
    t.input.consume(FRAME)
    this.frames++
    if (this.answer > 0) t.output.write(Buffer.alloc(this.answer))
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

/** Answers `b` with ANSWER bytes, any other byte with `k`; then waits for the next request. */
const ANSWER = 5000
const answers = (): Intent<Protocol> => {
  const p: Protocol = {
    bytesRead(t: Transport): Intent<Protocol> {
      const big = t.input.byte(0) === 0x62
      t.input.consume(1)
      t.output.write(big ? Buffer.alloc(ANSWER, 0x61) : 'k')
      return Intent.of(p).expectBytes(1)
    },
  }
  return Intent.of(p).expectBytes(1)
}

/**
 * Opens `count` streams on `budget` that each send one small request, only while their stream
 * reads (as TCP would), and returns how many were answered.
 */
function serveOthers(budget: MemoryBudget, count: number): number {
  const others = Array.from({ length: count }, () => ({ h: new Harness(answers, { budget }), sent: false }))
  for (let round = 0; round < 100; round++) {
    for (const o of others) {
      if (o.sent || !o.h.isReading) continue
      o.h.feed('s')
      o.sent = true
    }
  }
  return others.filter((o) => o.h.output.toString() === 'k').length
}

describe('MemoryBudget and a peer that does not read', () => {
  test('a pushed-back stream holding more than the budget in unwritten output does not stop the others', T, () => {
    const budget = new MemoryBudget(1000)
    const stuck = new Harness(answers, { budget, outputHighWaterMark: 100 })
    stuck.stall() // its peer never reads
    stuck.feed('b')
    assert.equal(stuck.unwritten, ANSWER) // over the budget, and pushed back
    assert.equal(stuck.isReading, false)
    // Before the fix the stuck stream was "the largest holder", the only one allowed to read.
    assert.equal(serveOthers(budget, 20), 20)
    assert.equal(budget.isExhausted, false)
    stuck.drain() // the peer reads at last: its output is gone, and it reads again
    assert.equal(stuck.isReading, true)
  })

  test('nor does a stream whose unwritten output is over the budget but under its own high-water mark', T, () => {
    const budget = new MemoryBudget(1000)
    const stuck = new Harness(answers, { budget }) // 1 MiB high-water mark: not pushed back
    stuck.stall()
    stuck.feed('b')
    assert.equal(stuck.unwritten, ANSWER)
    assert.equal(stuck.isReading, true)
    assert.equal(serveOthers(budget, 20), 20)
  })

  test('the output is charged to its stream: used counts input, held counts both', T, () => {
    const budget = new MemoryBudget(1000)
    const stuck = new Harness(answers, { budget })
    stuck.stall()
    stuck.feed('b')
    assert.equal(budget.used, 0)
    assert.equal(budget.held, ANSWER)
    stuck.drain()
    assert.equal(budget.held, 0)
  })

  test('while input held by a sleeping stream keeps the budget exhausted, the others still take turns', T, () => {
    const budget = new MemoryBudget(1000)
    // Reads 2000 bytes, then sleeps on them until woken (waiting for some other work).
    const sleeper: Protocol = {
      bytesRead: () => Intent.of(sleeper).sleep(),
      wakeup: (t) => {
        t.input.consume(2000)
        return Intent.of(sleeper).expectBytes(2000)
      },
    }
    const hs = new Harness(() => Intent.of(sleeper).expectBytes(2000), { budget })
    hs.feed(Buffer.alloc(2000))
    assert.equal(budget.isExhausted, true)
    // Before the fix the sleeper held the grant: nobody read until it woke.
    assert.equal(serveOthers(budget, 20), 20)
    hs.wakeup()
    assert.equal(budget.isExhausted, false)
  })

  test('the grant passes on when the granted stream stops reading: its peer stopped reading its answers', T, () => {
    const budget = new MemoryBudget(1000)
    const a = new Frames(5000)
    const ha = new Harness(() => a.next(), { budget, outputHighWaterMark: 100 })
    const b = new Frames()
    const hb = new Harness(() => b.next(), { budget })
    const c = new Frames()
    const hc = new Harness(() => c.next(), { budget })
    ha.feed(Buffer.alloc(100))
    hb.feed(Buffer.alloc(450))
    hc.feed(Buffer.alloc(450))
    ha.feed(Buffer.alloc(500)) // a grows to 1 KiB of storage: over the budget, a holds the most
    assert.equal(budget.isExhausted, true)
    assert.deepEqual([ha.isReading, hb.isReading, hc.isReading], [true, false, false])
    ha.stall() // a's peer stops reading; a completes its frame, is answered and pushed back
    ha.feed(Buffer.alloc(FRAME - 600 + 1500))
    assert.equal(a.frames, 1)
    assert.equal(ha.isReading, false)
    // b and c alone still hold the budget's 90 %: still exhausted, and one of them reads now.
    assert.equal(budget.isExhausted, true)
    const [first, second] = hb.isReading ? [hb, hc] : [hc, hb]
    assert.equal(first.isReading, true, 'a reader has the grant')
    assert.equal(second.isReading, false)
    first.feed(Buffer.alloc(FRAME - 450))
    assert.equal(second.isReading, true) // budget freed: everyone reads again
    second.feed(Buffer.alloc(FRAME - 450))
    assert.equal(b.frames + c.frames, 2)
  })
  test('a reader holding a partial frame takes the grant from one whose peer has sent nothing', T, () => {
    const budget = new MemoryBudget(1000)
    const p = new Frames(5000)
    const hp = new Harness(() => p.next(), { budget, outputHighWaterMark: 100 })
    hp.stall()
    hp.feed(Buffer.alloc(FRAME + 300)) // answered, pushed back with 300 bytes of the next frame
    const sleeper: Protocol = { bytesRead: () => Intent.of(sleeper).sleep() }
    new Harness(() => Intent.of(sleeper).expectBytes(2000), { budget }).feed(Buffer.alloc(2000)) // keeps the budget exhausted
    const idle = new Harness(answers, { budget }) // the only reader: it gets the grant, and its peer sends nothing
    assert.equal(idle.isReading, true)
    hp.drain() // p's peer reads again: p wants the rest of its frame
    assert.deepEqual([hp.isReading, idle.isReading], [true, false])
    hp.feed(Buffer.alloc(FRAME - 300))
    assert.equal(p.frames, 2)
    assert.deepEqual([hp.isReading, idle.isReading], [false, true]) // its turn used, the grant moves on
  })
})
