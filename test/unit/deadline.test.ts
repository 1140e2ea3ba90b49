/**
 * The shared deadline timer (src/deadline.ts): every armed stream in one heap under one Node
 * timer. Real timers with short delays; the checks are orderings and lower bounds, never
 * upper bounds on time.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { DeadlineTimer } from '../../src/deadline.js'

/** Every firing, in order: which probe. */
const order: number[] = []

class Probe extends DeadlineTimer {
  readonly fired: number[] = []
  deadline = Number.NaN
  readonly id: number
  constructor(id: number) {
    super()
    this.id = id
  }
  arm(deadline: number): void {
    // As the engine does: the effective deadline is the earliest one asked for.
    if (!(this.deadline <= deadline)) this.deadline = deadline
    this.armDeadline(deadline)
  }
  cancel(): void {
    this.deadline = Number.NaN
    this.cancelDeadline()
  }
  protected deadlineReached(): void {
    order.push(this.id)
    this.fired.push(performance.now())
    this.deadline = Number.NaN
  }
}

/** Resolves once no timer is armed (every deadline reached), polling; bounded by the test's timeout. */
async function drained(): Promise<void> {
  while (DeadlineTimer.armedCount > 0) await new Promise((resolve) => setTimeout(resolve, 5))
}

const T = { timeout: 30_000 }

describe('DeadlineTimer: one Node timer for every stream', () => {
  test('each armed timer fires once, not before its deadline; cancelled ones never fire', T, async () => {
    const now = performance.now()
    const probes = Array.from({ length: 200 }, (_, i) => new Probe(i))
    const deadlines = probes.map((_, i) => now + ((i * 37) % 60))
    for (const p of probes) p.arm(deadlines[p.id] as number)
    for (const p of probes) if (p.id % 5 === 0) p.cancel()
    assert.equal(DeadlineTimer.armedCount, 160)
    await drained()
    for (const p of probes) {
      if (p.id % 5 === 0) assert.deepEqual(p.fired, [], `probe ${p.id} was cancelled`)
      else {
        assert.equal(p.fired.length, 1, `probe ${p.id}`)
        assert.ok((p.fired[0] as number) >= (deadlines[p.id] as number), `probe ${p.id} fired early`)
      }
    }
  })

  test('timers fire in the order of their deadlines, across rounds and within one', T, async () => {
    const now = performance.now() + 50 // arming takes far less: every deadline is still ahead when armed
    const probes = Array.from({ length: 300 }, (_, i) => new Probe(i))
    // Deadlines in a scrambled order, several per millisecond, all in the future.
    const deadlines = probes.map((p) => now + ((p.id * 7919) % 300) / 10)
    for (const p of probes) p.armDeadline(deadlines[p.id] as number)
    order.length = 0
    await drained()
    assert.equal(order.length, probes.length)
    const fired = order.map((id) => Math.ceil(deadlines[id] as number))
    for (let i = 1; i < fired.length; i++) assert.ok((fired[i - 1] as number) <= (fired[i] as number), `firing ${i} is out of deadline order`)
  })

  test('a later deadline leaves the armed one; an earlier one moves it', T, async () => {
    const now = performance.now()
    const late = new Probe(0)
    late.armDeadline(now + 40)
    late.armDeadline(now + 400) // later: ignored, the timer fires at 40 (the engine then re-arms)
    const early = new Probe(1)
    early.armDeadline(now + 400)
    early.armDeadline(now + 10) // earlier: moved
    await drained()
    assert.equal(late.fired.length, 1)
    assert.equal(early.fired.length, 1)
    assert.ok((early.fired[0] as number) < (late.fired[0] as number), 'the moved timer fires first')
  })

  test('a timer re-armed from its own deadlineReached fires again later, not in the same round', T, async () => {
    class Again extends Probe {
      protected override deadlineReached(): void {
        super.deadlineReached()
        if (this.fired.length < 3) this.armDeadline(performance.now() - 5) // already past
      }
    }
    const again = new Again(0)
    again.armDeadline(performance.now())
    await drained()
    assert.equal(again.fired.length, 3)
    assert.ok((again.fired[1] as number) > (again.fired[0] as number))
  })

  test('NaN cancels; cancelling twice or an unarmed timer is harmless; the last cancel clears the Node timer', T, () => {
    const p = new Probe(0)
    p.cancelDeadline()
    p.armDeadline(performance.now() + 1000)
    assert.equal(DeadlineTimer.armedCount, 1)
    p.armDeadline(Number.NaN)
    p.cancelDeadline()
    assert.equal(DeadlineTimer.armedCount, 0)
    assert.ok(!process.getActiveResourcesInfo().includes('Timeout'), 'the Node timer went with the last armed deadline')
  })

  test('property: any sequence of arms and cancels fires exactly the timers left armed, each not before its deadline', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ probe: fc.nat(19), delay: fc.integer({ min: -5, max: 30 }), cancel: fc.boolean() }), { maxLength: 80 }),
        async (steps) => {
          const probes = Array.from({ length: 20 }, (_, i) => new Probe(i))
          const start = performance.now()
          for (const step of steps) {
            const p = probes[step.probe] as Probe
            if (step.cancel) p.cancel()
            else p.arm(start + step.delay)
          }
          const expected = probes.map((p) => p.deadline)
          await drained()
          probes.forEach((p, i) => {
            const deadline = expected[i] as number
            if (Number.isNaN(deadline)) assert.deepEqual(p.fired, [], `probe ${i}`)
            else {
              assert.equal(p.fired.length, 1, `probe ${i}`)
              assert.ok((p.fired[0] as number) >= deadline, `probe ${i} fired early`)
            }
          })
        },
      ),
      { numRuns: 40 },
    )
  })
})
