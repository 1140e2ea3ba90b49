/**
 * Deadlines (semantic 7) and sleep/wakeup (semantic 8) on the test kit's virtual clock.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Intent, type Protocol, type Scope, SLEEP_READ_LIMIT, TimeoutError, type Transport } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'
import { Lines } from '../helpers/protocols.js'

const T = { timeout: 10_000 }

/** Reads lines with an absolute deadline `idle` ms after each one. */
class Idle extends Lines {
  readonly idle: number
  constructor(idle: number) {
    super({ reply: () => undefined })
    this.idle = idle
  }
  start(_t: Transport, _seed: unknown, scope: Scope): Intent<Idle> {
    return Intent.of(this)
      .expectDelimiter('\n', { max: 100 })
      .deadline(scope.now() + this.idle)
  }
  override bytesRead(t: Transport, end: number, scope: Scope): Intent<Lines> {
    super.bytesRead(t, end)
    return this.start(t, undefined, scope)
  }
}

describe('deadlines (semantic 7)', () => {
  test('fires timeout once, when the deadline is passed', T, () => {
    const p = new Idle(1000)
    const h = new Harness((t, s, scope) => p.start(t, s, scope))
    assert.equal(h.deadline, 1000)
    h.advance(999)
    assert.deepEqual(p.timeouts, [])
    h.advance(1)
    assert.deepEqual(p.timeouts, [1000])
    assert.ok(Number.isNaN(h.deadline), 'the timeout handler set no new deadline')
    h.advance(100_000)
    assert.deepEqual(p.timeouts, [1000])
    assert.deepEqual(h.log, ['timeout'])
    assert.equal(h.state, 'running')
  })

  test('replaces the deadline with the one of each new Intent', T, () => {
    const p = new Idle(1000)
    const h = new Harness((t, s, scope) => p.start(t, s, scope))
    h.advance(900)
    h.feed('a\n') // the next deadline is 900 + 1000
    assert.equal(h.deadline, 1900)
    h.advance(200)
    assert.deepEqual(p.timeouts, [], 'the old deadline at 1000 is gone')
    h.advance(799)
    assert.deepEqual(p.timeouts, [])
    h.advance(1)
    assert.deepEqual(p.timeouts, [1900])
  })

  test('moves the deadline earlier when a new Intent asks for an earlier one', T, () => {
    let deadline = 5000
    const p = new Lines({ reply: () => undefined })
    const early: Protocol = {
      bytesRead(t: Transport, end: number) {
        t.input.consume(end + 1)
        deadline = 100
        return Intent.of(early).expectDelimiter('\n', { max: 10 }).deadline(deadline)
      },
      timeout: (t, scope) => p.timeout(t, scope),
    }
    const h = new Harness(() => Intent.of(early).expectDelimiter('\n', { max: 10 }).deadline(deadline))
    h.feed('x\n')
    assert.equal(h.deadline, 100)
    h.advance(100)
    assert.deepEqual(p.timeouts, [100])
  })

  test('cancels the deadline when a new Intent has none', T, () => {
    const p = new Lines({ reply: () => undefined })
    const h = new Harness(() => p.read().deadline(1000))
    assert.equal(h.deadline, 1000)
    h.feed('a\n')
    assert.ok(Number.isNaN(h.deadline))
    h.advance(5000)
    assert.deepEqual(p.timeouts, [])
  })

  test('counts a relative timeout from the moment the stream takes the Intent', T, () => {
    const p = new Lines({ timeout: 250, reply: () => undefined })
    const h = new Harness(p.factory, { now: 5000 })
    assert.equal(h.deadline, 5250)
    h.advance(100)
    h.feed('a\n')
    assert.equal(h.deadline, 5350)
    h.advance(250)
    assert.deepEqual(p.timeouts, [5350])
  })

  test('ends the stream with a TimeoutError through fatal when there is no timeout handler', T, () => {
    const fatals: Error[] = []
    const quiet: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      fatal: (reason) => fatals.push(reason),
    }
    const h = new Harness(() => Intent.of(quiet).expectBytes(1).timeout(30))
    h.advance(30)
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof TimeoutError)
    assert.equal(h.error.code, 'RS_ERR_TIMEOUT')
    assert.deepEqual(fatals, [h.error])
    assert.deepEqual(h.log, ['timeout', 'fatal RS_ERR_TIMEOUT'])
    assert.ok(Number.isNaN(h.deadline))
    assert.equal(h.isReading, false)
  })

  test('leaves no timer armed after the stream ends', T, () => {
    const done = new Harness(() => new Lines().read().deadline(1000))
    done.feed('x').end()
    assert.equal(done.state, 'done')
    assert.ok(Number.isNaN(done.deadline))

    const failed = new Harness(() => new Lines().read().deadline(1000))
    failed.readError()
    assert.equal(failed.state, 'error')
    assert.ok(Number.isNaN(failed.deadline))
  })

  test('gives every handler of one round the same now()', T, () => {
    const seen: number[] = []
    const clock: Protocol = {
      bytesRead(t: Transport, end: number, scope: Scope) {
        seen.push(scope.now())
        t.input.consume(end + 1)
        return Intent.of(clock).expectDelimiter('\n', { max: 10 })
      },
    }
    const h = new Harness(() => Intent.of(clock).expectDelimiter('\n', { max: 10 }), { now: 42 })
    h.feed('a\nb\n')
    h.advance(8)
    h.feed('c\n')
    assert.deepEqual(seen, [42, 42, 50])
  })
})

/** Sleeps until woken, then reads one line; counts wakeups and keeps its notifier. */
class Sleeper implements Protocol {
  wakeups = 0
  notify: () => void = () => {}
  readonly lines: string[] = []
  start(_t: Transport, _seed: unknown, scope: Scope): Intent<Sleeper> {
    this.notify = scope.notifier()
    return Intent.of(this).sleep()
  }
  wakeup(): Intent<Sleeper> {
    this.wakeups++
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
  bytesRead(t: Transport, end: number): Intent<Sleeper> {
    this.lines.push(t.input.toString('utf8', 0, end))
    t.input.consume(end + 1)
    return Intent.of(this).sleep()
  }
}

describe('sleep and wakeup (semantic 8)', () => {
  test('hands no input to a sleeping protocol and wakes up through the notifier', T, () => {
    const p = new Sleeper()
    const h = new Harness((t, s, scope) => p.start(t, s, scope))
    h.feed('early\n') // arrived before the sleep ended: kept, not handled
    assert.deepEqual(p.lines, [])
    assert.equal(h.buffered, 6)
    p.notify()
    h.wakeup() // runs the pending wakeup (a microtask in a real stream)
    assert.equal(p.wakeups, 1)
    assert.deepEqual(p.lines, ['early'], 'the wakeup found the buffered line in the same round')
    assert.deepEqual(h.log, ['wakeup', 'bytesRead 5'])
  })

  test('reads at most SLEEP_READ_LIMIT bytes ahead while asleep, so that a FIN is still seen', T, () => {
    const p = new Sleeper()
    const h = new Harness((t, s, scope) => p.start(t, s, scope))
    assert.equal(h.isReading, true, 'asleep, the socket is read: a FIN or a reset shows only to a reader')
    h.feed(Buffer.alloc(SLEEP_READ_LIMIT - 1, 0x61))
    assert.equal(h.isReading, true)
    h.feed('b')
    assert.equal(h.isReading, false, 'the bound is reached: the rest waits in the kernel')
    assert.deepEqual(h.log, [])
  })

  test('reads no further ahead while asleep than maxBufferSize', T, () => {
    const p = new Sleeper()
    const h = new Harness((t, s, scope) => p.start(t, s, scope), { maxBufferSize: 10 })
    h.feed('0123456789')
    assert.equal(h.isReading, false)
  })

  test('coalesces several notifier calls into one wakeup', T, () => {
    const p = new Sleeper()
    const h = new Harness((t, s, scope) => p.start(t, s, scope))
    p.notify()
    p.notify()
    p.notify()
    h.wakeup()
    assert.equal(p.wakeups, 1)
    assert.deepEqual(h.log, ['wakeup'])
    h.wakeup()
    assert.equal(p.wakeups, 2)
  })

  test('coalesces notifier calls made inside a handler into one wakeup', T, () => {
    let wakeups = 0
    const self: Protocol = {
      bytesRead(t: Transport, end: number, scope: Scope) {
        t.input.consume(end + 1)
        const notify = scope.notifier()
        notify()
        notify()
        return Intent.of(self).sleep()
      },
      wakeup() {
        wakeups++
        return Intent.of(self).sleep()
      },
    }
    const h = new Harness(() => Intent.of(self).expectDelimiter('\n', { max: 10 }))
    h.feed('go\n')
    assert.equal(wakeups, 1)
    assert.deepEqual(h.log, ['bytesRead 2', 'wakeup'])
  })

  test('ends a sleep at its deadline', T, () => {
    const timeouts: number[] = []
    const nap: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      timeout(_t, scope) {
        timeouts.push(scope.now())
        return Intent.done()
      },
    }
    const h = new Harness(() => Intent.of(nap).sleep().timeout(500))
    h.advance(499)
    assert.deepEqual(timeouts, [])
    h.advance(1)
    assert.deepEqual(timeouts, [500])
    assert.equal(h.state, 'done')
  })

  test('keeps the same expectation and deadline after a wakeup without a wakeup handler', T, () => {
    const p = new Lines()
    const h = new Harness(() => p.read().deadline(700))
    h.wakeup()
    assert.deepEqual(h.log, ['wakeup'])
    assert.equal(h.deadline, 700)
    assert.equal(h.isReading, true)
    h.feed('still reading\n')
    assert.deepEqual(p.lines, ['still reading'])
  })

  test('ignores the notifier after the stream ended', T, () => {
    const p = new Sleeper()
    const h = new Harness((t, s, scope) => p.start(t, s, scope))
    h.readError()
    assert.equal(h.state, 'error')
    p.notify()
    h.wakeup()
    assert.equal(p.wakeups, 0)
    assert.ok(!h.log.includes('wakeup'))
  })
})
