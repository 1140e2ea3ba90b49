/**
 * Many concurrent connections on one server process with a steady request load: 1,000
 * connections × 20 requests here, 10,000 connections and 1,000,000 requests in the soak run.
 * Every request is echoed byte for byte; the server keeps all connections open at once.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { checkLeaksAfterEach } from './lib/leaks.js'
import { load } from './lib/load.js'

checkLeaksAfterEach()

describe('load', () => {
  test('1,000 concurrent connections, 20,000 requests: no error, no byte lost', { timeout: 50_000 }, async () => {
    const outcome = await load({ connections: 1000, requests: 20, timeout: 40_000 })
    assert.equal(outcome.errors, 0, outcome.samples?.join('\n'))
    assert.equal(outcome.bytesLost, 0)
    assert.equal(outcome.cases, 20_000)
  })
})
