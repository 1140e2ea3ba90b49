/**
 * The RESP client under a real redis-server killed (SIGKILL) and restarted 3 times during a
 * steady stream of commands (100 times in the soak run): no unhandled error, every command gets
 * its own reply or a clear ClosedError, and nothing queued while offline is lost.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { needs } from '../helpers/peers.js'
import { checkLeaksAfterEach } from './lib/leaks.js'
import { serverRestarts } from './lib/restarts.js'

checkLeaksAfterEach()

describe('RESP client vs a crashing server', { ...needs('redis-server') }, () => {
  test('3 kill -9 and restarts under a steady stream of commands: every command settles, nothing queued offline is lost', { timeout: 40_000 }, async () => {
    const outcome = await serverRestarts({ restarts: 3, perTick: 5, tick: 2, ticksUp: 10 })
    assert.equal(outcome.errors, 0, outcome.samples?.join('\n'))
    assert.equal(outcome.bytesLost, 0)
    assert.equal(outcome.faults, 3)
    assert.match(outcome.notes ?? '', /[1-9]\d* queued offline, all answered/)
  })
})
