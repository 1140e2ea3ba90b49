/**
 * Any split of an input stream gives exactly the same replies and events as the unsplit stream:
 * fast-check properties for the core loop, the RESP server, the HTTP server and the RESP client
 * (a few hundred cases here, 10,000 each in `npm run soak`).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { runScripted } from 'rotor-stream/testing'
import { checkLeaksAfterEach } from './lib/leaks.js'
import { respClientSplits } from './lib/resp-client.js'
import { coreSplits, hostileSplits, httpServerSplits, respFactory, respServerSplits, splitDifference } from './lib/splits.js'

const T = { timeout: 30_000 }
/** Cases per property here; the soak run tries 10,000. */
const RUNS = 300

checkLeaksAfterEach()

/** Fails with fast-check's report (seed, shrunk counterexample, the difference). */
function assertHeld(outcome: { errors: number; samples?: readonly string[]; cases: number }, runs: number): void {
  assert.equal(outcome.errors, 0, outcome.samples?.join('\n'))
  assert.equal(outcome.cases, runs)
}

describe('every split gives the same replies and events', () => {
  test('core loop: lines, exact-size frames, the line limit and end of stream, handler call for handler call', T, async () => {
    assertHeld(await coreSplits({ numRuns: RUNS }), RUNS)
  })

  test('RESP server: pipelined sessions of array and inline commands', T, async () => {
    assertHeld(await respServerSplits({ numRuns: RUNS }), RUNS)
  })

  test('HTTP server: pipelined keep-alive sessions with Content-Length, chunked bodies, Expect and HTTP/1.0', T, async () => {
    assertHeld(await httpServerSplits({ numRuns: RUNS }), RUNS)
  })

  test('RESP client: reply streams of every type, nested arrays and binary bulks, cut anywhere on a real socket', T, async () => {
    assertHeld(await respClientSplits({ numRuns: 150 }), 150)
  })

  test('RESP and HTTP servers: mutated and random input is refused the same way for every split', T, async () => {
    assertHeld(await hostileSplits({ numRuns: RUNS }), RUNS)
  })
})

describe('RESP server: a line over its bound gets the same answer however it arrives (bug found by the properties)', () => {
  const resp = respFactory({ maxInlineLength: 64 })

  test('a $ header longer than 32 bytes is "too big bulk header" also when its LF is in the same read', T, () => {
    const input = Buffer.from(`*1\r\n$${'9'.repeat(40)}\r\nPING\r\n`)
    const whole = runScripted(resp, [input])
    assert.equal(whole.output.toString(), '-ERR Protocol error: too big bulk header\r\n')
    assert.equal(whole.state, 'done')
    for (let cut = 1; cut < input.length; cut++) {
      assert.equal(splitDifference(resp, input, [Math.ceil((cut * 10_000) / input.length)], { end: false, compare: 'output' }), null)
    }
  })

  test('an inline command longer than maxInlineLength is refused also after other commands in one read', T, () => {
    const input = Buffer.from(`PING\r\nECHO ${'x'.repeat(100)}\r\nPING\r\n`)
    const whole = runScripted(resp, [input])
    assert.equal(whole.output.toString(), '+PONG\r\n-ERR Protocol error: too big inline request\r\n')
    for (let cut = 1; cut < input.length; cut++) {
      assert.equal(splitDifference(resp, input, [Math.ceil((cut * 10_000) / input.length)], { end: false, compare: 'output' }), null)
    }
  })
})
