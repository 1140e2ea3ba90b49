import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { Intent, InvalidArgumentError, type Protocol, RequestDeadlines, type Scope, TimeoutError, type Transport } from 'rotor-stream'
import { describeSplit, Harness, splits } from 'rotor-stream/testing'

const LF = Buffer.from('\n')

/** A request of the test client: written as `<id>\n`; the peer answers `<id>\n`. */
interface Req {
  readonly id: string
  readonly timeout: number
}

/** What happened to each request, in order: `ok:<id>` (with the reply it got) or `timeout:<id>`. */
type Outcomes = string[]

/** A pipelined client on RequestDeadlines: writes requests (the seed, then `pending` on wakeup), settles replies in order. */
class PipelinedClient implements Protocol {
  readonly #deadlines = new RequestDeadlines<Req>({ giveUpAfter: 5000 })
  readonly #outcomes: Outcomes
  readonly #pending: Req[]

  constructor(outcomes: Outcomes, pending: Req[]) {
    this.#outcomes = outcomes
    this.#pending = pending
  }

  static factory(outcomes: Outcomes, pending: Req[]) {
    return (t: Transport, _seed: unknown, scope: Scope): Intent<PipelinedClient> => new PipelinedClient(outcomes, pending).wakeup(t, scope)
  }

  wakeup(t: Transport, scope: Scope): Intent<PipelinedClient> {
    for (const req of this.#pending.splice(0)) {
      t.output.write(`${req.id}\n`)
      this.#deadlines.add(req, scope.now() + req.timeout)
    }
    return this.#next()
  }

  bytesRead(t: Transport, end: number): Intent<PipelinedClient> {
    const reply = t.input.view(0, end).toString()
    t.input.consume(end + 1)
    if (this.#deadlines.size === 0) return Intent.error(new Error(`unsolicited reply ${reply}`))
    const req = this.#deadlines.shift()
    if (req !== undefined) this.#outcomes.push(req.id === reply ? `ok:${req.id}` : `WRONG:${req.id}<-${reply}`)
    return this.#next()
  }

  timeout(_t: Transport, scope: Scope): Intent<PipelinedClient> {
    const stuck = this.#deadlines.expire(scope.now(), (req) => this.#outcomes.push(`timeout:${req.id}`))
    if (stuck) return Intent.error(new TimeoutError('the peer stopped answering'))
    return this.#next()
  }

  #next(): Intent<PipelinedClient> {
    const intent = Intent.of(this).expectDelimiter(LF, { max: 64 })
    const deadline = this.#deadlines.deadline
    return deadline === Number.POSITIVE_INFINITY ? intent : intent.deadline(deadline)
  }
}

function start(reqs: Req[]): { h: Harness; outcomes: Outcomes; pending: Req[] } {
  const outcomes: Outcomes = []
  const pending = [...reqs]
  const h = new Harness(PipelinedClient.factory(outcomes, pending))
  return { h, outcomes, pending }
}

describe('RequestDeadlines in a pipelined client', () => {
  test('fails only the timed-out request, skips its late reply, and the next reply goes to the right request, under every split', { timeout: 30_000 }, () => {
    const replies = Buffer.from('a\nb\nc\n')
    for (const chunks of splits(replies, { random: 200 })) {
      const { h, outcomes } = start([
        { id: 'a', timeout: 100 },
        { id: 'b', timeout: 1000 },
        { id: 'c', timeout: 1000 },
      ])
      assert.equal(h.takeOutput().toString(), 'a\nb\nc\n')
      h.advance(150)
      assert.deepEqual(outcomes, ['timeout:a'], describeSplit(chunks))
      for (const chunk of chunks) h.feed(chunk)
      assert.deepEqual(outcomes, ['timeout:a', 'ok:b', 'ok:c'], describeSplit(chunks))
      assert.equal(h.state, 'running', 'the connection lives on')
      assert.ok(Number.isNaN(h.deadline) || h.deadline === Number.POSITIVE_INFINITY, 'no deadline left armed')
    }
  })

  test('deadlines out of write order: the shorter one times out first, replies still match by position', { timeout: 5000 }, () => {
    const { h, outcomes } = start([
      { id: 'slow', timeout: 500 },
      { id: 'fast', timeout: 100 },
      { id: 'mid', timeout: 300 },
    ])
    h.advance(100)
    assert.deepEqual(outcomes, ['timeout:fast'])
    h.feed('slow\n')
    h.advance(200)
    assert.deepEqual(outcomes, ['timeout:fast', 'ok:slow', 'timeout:mid'])
    h.feed('fast\nmid\n')
    assert.deepEqual(outcomes, ['timeout:fast', 'ok:slow', 'timeout:mid'])
    assert.equal(h.state, 'running')
  })

  test('many timeouts: a thousand requests fail at once, their thousand late replies are skipped, then a new request works', { timeout: 10_000 }, () => {
    const reqs = Array.from({ length: 1000 }, (_, i) => ({ id: `r${i}`, timeout: 10 }))
    const { h, outcomes, pending } = start(reqs)
    h.advance(10)
    assert.equal(outcomes.length, 1000)
    assert.ok(outcomes.every((o, i) => o === `timeout:r${i}`))
    h.feed(reqs.map((r) => `${r.id}\n`).join(''))
    assert.equal(outcomes.length, 1000)
    pending.push({ id: 'next', timeout: 10 })
    h.wakeup()
    h.feed('next\n')
    assert.equal(outcomes.at(-1), 'ok:next')
    assert.equal(h.state, 'running')
  })

  test('a peer that stops answering ends the connection giveUpAfter ms after the oldest deadline', { timeout: 5000 }, () => {
    const { h, outcomes } = start([{ id: 'x', timeout: 100 }])
    h.advance(100)
    assert.deepEqual(outcomes, ['timeout:x'])
    assert.equal(h.state, 'running')
    h.advance(5000)
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof TimeoutError)
  })

  test('a late reply that comes just before giving up keeps the connection', { timeout: 5000 }, () => {
    const { h, outcomes } = start([{ id: 'x', timeout: 100 }])
    h.advance(5099)
    h.feed('x\n')
    h.advance(10_000)
    assert.deepEqual(outcomes, ['timeout:x'])
    assert.equal(h.state, 'running')
  })
})

describe('RequestDeadlines', () => {
  test('shift on an empty queue throws; size, late and deadline; clear returns the pending requests', { timeout: 5000 }, () => {
    const d = new RequestDeadlines<string>()
    assert.equal(d.deadline, Number.POSITIVE_INFINITY)
    assert.throws(() => d.shift(), InvalidArgumentError)
    d.add('a', 10)
    d.add('b', 20)
    d.add('c', 5)
    assert.equal(d.deadline, 5)
    const failed: string[] = []
    assert.equal(
      d.expire(5, (r) => failed.push(r)),
      false,
    )
    assert.deepEqual(failed, ['c'])
    assert.equal(d.size, 3)
    assert.equal(d.late, 1)
    assert.equal(d.deadline, 10)
    assert.equal(d.shift(), 'a')
    assert.equal(d.deadline, 20)
    assert.deepEqual(d.clear(), ['b'])
    assert.equal(d.size, 0)
    assert.equal(d.late, 0)
  })

  test('long pipelines keep write order across slot reuse and compaction, out-of-order deadlines and back', { timeout: 10_000 }, () => {
    const d = new RequestDeadlines<number>({ giveUpAfter: 100 })
    let next = 0
    let expected = 0
    // Two in, one out: 5000 in flight at the end, the answered slots compacted on the way.
    for (let t = 0; t < 5000; t++) {
      d.add(next++, t)
      d.add(next++, t)
      assert.equal(d.shift(), expected++)
    }
    assert.equal(d.size, 5000)
    assert.equal(d.deadline, 2500)
    // Out of write order: this one times out first, alone.
    d.add(-1, 10)
    const failed: number[] = []
    assert.equal(
      d.expire(2500, (r) => failed.push(r)),
      false,
    )
    assert.deepEqual(failed, [-1, expected, expected + 1]) // the earliest deadline first, then ties in write order
    assert.equal(d.late, 3)
    assert.equal(d.shift(), undefined) // the two oldest timed out: their late replies are skipped
    assert.equal(d.shift(), undefined)
    expected += 2
    while (d.size > 1) assert.equal(d.shift(), expected++)
    assert.equal(d.shift(), undefined) // -1, written last
    // Empty again: in write order once more, from a clean slate.
    d.add(7, 1)
    d.add(8, 1)
    assert.equal(d.deadline, 1)
    assert.deepEqual(d.clear(), [7, 8])
    assert.equal(d.deadline, Number.POSITIVE_INFINITY)
  })

  test('refuses bad options and a NaN deadline', { timeout: 5000 }, () => {
    for (const giveUpAfter of [-1, 1.5, Number.NaN, '1']) {
      assert.throws(() => new RequestDeadlines({ giveUpAfter: giveUpAfter as number }), InvalidArgumentError)
    }
    assert.doesNotThrow(() => new RequestDeadlines({ giveUpAfter: Number.POSITIVE_INFINITY }))
    assert.throws(() => new RequestDeadlines().add('x', Number.NaN), InvalidArgumentError)
  })

  test('matches a naive model under random adds, replies and clock moves', { timeout: 60_000 }, () => {
    type Op = { kind: 'add'; timeout: number } | { kind: 'reply' } | { kind: 'advance'; ms: number }
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), timeout: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('reply' as const) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops: Op[]) => {
        const d = new RequestDeadlines<number>({ giveUpAfter: 40 })
        const model: { id: number; deadline: number; late: boolean }[] = []
        let now = 0
        let next = 0
        for (const o of ops) {
          if (o.kind === 'add') {
            d.add(next, now + o.timeout)
            model.push({ id: next++, deadline: now + o.timeout, late: false })
          } else if (o.kind === 'reply') {
            if (model.length === 0) continue
            const head = model.shift() as { id: number; late: boolean }
            assert.equal(d.shift(), head.late ? undefined : head.id)
          } else {
            now += o.ms
            const failed: number[] = []
            const stuck = d.expire(now, (id) => failed.push(id))
            const due = model.filter((m) => !m.late && m.deadline <= now)
            due.sort((a, b) => a.deadline - b.deadline || a.id - b.id)
            for (const m of due) m.late = true
            assert.deepEqual(
              failed,
              due.map((m) => m.id),
              'earliest deadline first, then in write order',
            )
            const head = model[0]
            assert.equal(stuck, head?.late === true && head.deadline + 40 <= now)
          }
          assert.equal(d.size, model.length)
          assert.equal(d.late, model.filter((m) => m.late).length)
          const live = model.filter((m) => !m.late).map((m) => m.deadline)
          const head = model[0]
          const expected = Math.min(Math.min(...live), head?.late === true ? head.deadline + 40 : Number.POSITIVE_INFINITY)
          assert.equal(d.deadline, expected)
        }
      }),
      { numRuns: 1000, seed: 11 },
    )
  })
})
