/**
 * The memory budget across all connections of a server (`serve({ maxBufferedBytes })`): 200
 * connections each send a 128 KiB frame slowly (1,000 connections with larger frames in the
 * soak run). The streams together stay within the limit plus one frame, every frame completes,
 * and the same load without a budget holds several times more. A client that asks for a 4 MiB
 * answer and never reads it does not stop 100 others from being answered.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { memoryBudget, stuckReader } from './lib/budget.js'
import { checkLeaksAfterEach } from './lib/leaks.js'

checkLeaksAfterEach()

describe('memory budget', () => {
  test('200 connections sending 128 KiB frames slowly stay within a 2 MiB budget, and every frame completes', { timeout: 40_000 }, async () => {
    const outcome = await memoryBudget({ connections: 200, frames: 1, frameSize: 128 * 1024, slice: 4 * 1024, tick: 20, limit: 2 * 1024 * 1024, compare: true })
    assert.equal(outcome.errors, 0, `${outcome.samples?.join('\n')}\n${outcome.notes}`)
    assert.equal(outcome.bytesLost, 0)
  })
})

describe('memory budget and a peer that does not read', () => {
  test('a peer that leaves a 4 MiB answer unread does not stop 100 other clients from being answered', { timeout: 30_000 }, async (t) => {
    const outcome = await stuckReader({ limit: 256 * 1024, answerSize: 4 * 1024 * 1024, clients: 100, within: 10_000 })
    assert.equal(outcome.errors, 0, `${outcome.samples?.join('\n')}\n${outcome.notes}`)
    t.diagnostic(outcome.notes ?? '')
  })

  test('nor does one whose unread answer is over the budget but under its outputHighWaterMark (never pushed back)', { timeout: 30_000 }, async (t) => {
    const outcome = await stuckReader({ limit: 256 * 1024, answerSize: 4 * 1024 * 1024, clients: 100, within: 10_000, outputHighWaterMark: 16 * 1024 * 1024 })
    assert.equal(outcome.errors, 0, `${outcome.samples?.join('\n')}\n${outcome.notes}`)
    t.diagnostic(outcome.notes ?? '')
  })
})
