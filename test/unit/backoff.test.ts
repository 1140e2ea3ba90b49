import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { backoffDelay, backoffOptions, InvalidArgumentError } from 'rotor-stream'
import { reconnectPolicy } from '../../src/backoff.js'

const NO_JITTER = () => 0
const MAX_JITTER = () => 1 - Number.EPSILON

describe('backoffOptions', () => {
  test('defaults to 200 ms doubling up to 30 s with 20 % jitter', () => {
    const defaults = { initialDelay: 200, maxDelay: 30_000, factor: 2, jitter: 0.2 }
    assert.deepEqual(backoffOptions(), defaults)
    assert.ok(Object.isFrozen(backoffOptions()))
    assert.deepEqual(backoffOptions({ initialDelay: 10, jitter: undefined }), { ...defaults, initialDelay: 10 })
    assert.deepEqual(
      backoffOptions({ initialDelay: 60_000 }),
      { ...defaults, initialDelay: 60_000, maxDelay: 60_000 },
      'the default maxDelay grows with initialDelay',
    )
  })

  test('rejects each invalid option with RS_ERR_INVALID_ARG', () => {
    const bad = [
      { initialDelay: -1 },
      { initialDelay: Number.NaN },
      { initialDelay: Number.POSITIVE_INFINITY },
      { maxDelay: 100 }, // below the default initial delay of 200
      { maxDelay: Number.POSITIVE_INFINITY },
      { factor: 0.5 },
      { factor: Number.NaN },
      { jitter: -0.1 },
      { jitter: 1.5 },
      { jitter: Number.NaN },
    ]
    for (const options of bad) {
      assert.throws(
        () => backoffOptions(options),
        (err) => {
          assert.ok(err instanceof InvalidArgumentError)
          assert.equal(err.code, 'RS_ERR_INVALID_ARG')
          assert.match(err.message, /^backoffOptions: options\.\w+ must be /)
          return true
        },
        JSON.stringify(options),
      )
    }
  })
})

describe('backoffDelay', () => {
  test('grows by factor from initialDelay and stops at maxDelay', () => {
    const o = backoffOptions({ initialDelay: 100, maxDelay: 1000, factor: 3, jitter: 0 })
    const delays = [1, 2, 3, 4, 5, 50].map((attempt) => backoffDelay(attempt, o, MAX_JITTER))
    assert.deepEqual(delays, [100, 300, 900, 1000, 1000, 1000])
  })

  test('follows the default schedule: 200, 400, 800 ... capped at 30 s', () => {
    const o = backoffOptions()
    const delays = Array.from({ length: 10 }, (_, i) => backoffDelay(i + 1, o, NO_JITTER))
    assert.deepEqual(delays, [200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000])
  })

  test('jitter takes up to its share off the delay, never adds', () => {
    const o = backoffOptions({ initialDelay: 1000, maxDelay: 1000, jitter: 0.2 })
    assert.equal(backoffDelay(1, o, NO_JITTER), 1000)
    assert.equal(
      backoffDelay(1, o, () => 0.5),
      900,
    )
    assert.equal(backoffDelay(1, o, MAX_JITTER), 800)
    for (let i = 0; i < 1000; i++) {
      const delay = backoffDelay(1, o)
      assert.ok(delay >= 800 && delay <= 1000, String(delay))
    }
  })

  test('full jitter spans 0 to the base', () => {
    const o = backoffOptions({ initialDelay: 1000, maxDelay: 1000, jitter: 1 })
    assert.equal(backoffDelay(1, o, MAX_JITTER), 0)
    assert.equal(backoffDelay(1, o, NO_JITTER), 1000)
  })

  test('factor 1 keeps the delay constant', () => {
    const o = backoffOptions({ initialDelay: 50, factor: 1, jitter: 0 })
    assert.deepEqual(
      [1, 2, 10, 100].map((a) => backoffDelay(a, o)),
      [50, 50, 50, 50],
    )
  })

  test('stays finite for any attempt count', () => {
    const o = backoffOptions({ factor: 10 })
    for (const attempt of [1e3, 1e6, Number.MAX_SAFE_INTEGER]) assert.equal(backoffDelay(attempt, o, NO_JITTER), 30_000)
  })
})

describe('reconnectPolicy', () => {
  test('turns backoff options into a policy that never gives up', () => {
    const policy = reconnectPolicy({ initialDelay: 10, maxDelay: 40, jitter: 0.2 }, () => 0.5)
    assert.deepEqual(
      [1, 2, 3, 4, 1000].map((a) => policy(a, undefined)),
      [9, 18, 36, 36, 36],
    )
  })

  test('passes a user policy through unchanged', () => {
    const mine = (attempt: number): number | null => (attempt > 3 ? null : attempt)
    assert.equal(reconnectPolicy(mine), mine)
  })

  test('rejects something that is neither options nor a function', () => {
    assert.throws(() => reconnectPolicy(5 as never), InvalidArgumentError)
    assert.throws(() => reconnectPolicy({ jitter: 2 }), InvalidArgumentError)
  })
})
