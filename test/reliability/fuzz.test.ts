/**
 * Fuzzing the RESP and HTTP example servers with random and mutated byte streams: never an
 * uncaught exception, never a hang past the deadline, always a protocol error reply or a clean
 * close, buffered input within the limits. (Bigger runs in `npm run soak`.)
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Harness } from 'rotor-stream/testing'
import { fuzzHarness, fuzzSockets, RESP_FUZZ_LIMITS } from './lib/fuzz.js'
import { checkLeaksAfterEach } from './lib/leaks.js'
import { respFactory } from './lib/splits.js'

const T = { timeout: 30_000 }

checkLeaksAfterEach()

describe('fuzzing the RESP and HTTP servers', () => {
  test('2,000 random and mutated inputs on the harness: no throw, no hang, a clean close, bounded buffers', T, async () => {
    const outcome = await fuzzHarness({ cases: 2000 })
    assert.equal(outcome.errors, 0, outcome.samples?.join('\n'))
    assert.equal(outcome.cases, 2000)
  })

  test('200 hostile connections to real servers are all closed by the servers, which keep serving', T, async () => {
    const outcome = await fuzzSockets({ connections: 200 })
    assert.equal(outcome.errors, 0, outcome.samples?.join('\n'))
    assert.equal(outcome.faults, 200)
  })
})

describe('RESP server idleTimeout (bug found by the fuzzer)', () => {
  for (const [where, input] of [
    ['before a bulk header', '*2\r\n$3\r\nGET\r\n'],
    ['inside a bulk string', '*2\r\n$3\r\nGET\r\n$5\r\nab'],
    ['after an array header', '*3\r\n'],
  ] as const) {
    test(`closes a client that goes silent ${where}`, T, () => {
      const h = new Harness(respFactory(RESP_FUZZ_LIMITS))
      h.feed(input)
      h.advance(RESP_FUZZ_LIMITS.idleTimeout - 1)
      assert.equal(h.state, 'running')
      h.advance(1)
      assert.equal(h.state, 'done')
      assert.deepEqual(h.log.at(-1), 'timeout')
    })
  }
})
