/**
 * Hostile peers on real loopback sockets, with short timings (the soak run uses real ones:
 * one byte per second, 1,000 attackers): slowloris, a slow drip that defeats an idle deadline
 * and the minimum data rate that ends it, oversized input, and peers that never read.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DEFAULT_OUTPUT_HIGH_WATER_MARK } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'
import { demoRouter, HttpConnection } from '../../examples/http-server.js'
import { neverReads, oversized, slowDrip, slowloris } from './lib/hostile.js'
import { checkLeaksAfterEach } from './lib/leaks.js'
import type { ScenarioResult } from './lib/metrics.js'
import { respFactory } from './lib/splits.js'

const T = { timeout: 30_000 }

checkLeaksAfterEach()

function assertClean(outcome: Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>): void {
  assert.equal(outcome.errors, 0, outcome.samples?.join('\n'))
  assert.equal(outcome.bytesLost, 0)
}

describe('hostile peers', () => {
  test('slowloris: 200 connections dripping a request head get 408 at headersTimeout while normal clients are served', T, async () => {
    const outcome = await slowloris({ attackers: 200, drip: 50, headersTimeout: 500, normalClients: 5 })
    assertClean(outcome)
    assert.ok((outcome.p99 ?? Number.POSITIVE_INFINITY) < 1000, `normal requests p99 ${outcome.p99} ms`)
  })

  test('minimum data rate: a drip that defeats the idle deadline is ended with RS_ERR_TOO_SLOW', T, async () => {
    assertClean(await slowDrip({ attackers: 20, idleTimeout: 500, drip: 50, minRate: { bytes: 10, per: 150 }, proof: 3 }))
  })

  test('oversized input: LimitReached and the protocol error answer, with bounded buffers', T, async () => {
    assertClean(await oversized({ maxSend: 1024 * 1024 }))
  })

  test('a peer that never reads: pushback bounds the server, the deadline ends it, nothing is lost when it reads again', T, async () => {
    assertClean(await neverReads({ peers: 5, requests: 400, answerSize: 64 * 1024, timeout: 200, stall: 200 }))
  })
})

describe('output per call of the RESP and HTTP servers (bugs found by the never-reading peer)', () => {
  test('pipelined GETs of a large value stop at the pushback instead of answering everything at once', T, () => {
    const value = 'v'.repeat(100_000)
    const h = new Harness(respFactory())
    h.stall() // the peer does not read
    h.feed(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${value.length}\r\n${value}\r\n${'*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'.repeat(1000)}`)
    // Before the fix one bytesRead answered all 1,000 GETs: 100 MB for a peer that reads nothing.
    assert.ok(h.unwritten <= DEFAULT_OUTPUT_HIGH_WATER_MARK + 64 * 1024 + value.length, `${h.unwritten} bytes unwritten`)
    assert.equal(h.isReading, false)
    h.drain() // the peer reads again: every answer arrives, in order
    const reply = `$${value.length}\r\n${value}\r\n`
    assert.equal(h.output.length, 5 + 1000 * reply.length)
    assert.ok(h.output.subarray(-reply.length).equals(Buffer.from(reply)))
    assert.equal(h.state, 'running')
  })

  test('HTTP: pipelined GETs of a large resource stop at the pushback instead of answering everything at once', T, () => {
    const body = 'x'.repeat(100_000)
    const h = new Harness(HttpConnection.factory({ handler: demoRouter().get('/big', () => ({ body })).handle, date: null }))
    h.stall()
    h.feed('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(1000))
    assert.ok(h.unwritten <= DEFAULT_OUTPUT_HIGH_WATER_MARK + 64 * 1024 + body.length + 100, `${h.unwritten} bytes unwritten`)
    assert.equal(h.isReading, false)
    h.drain()
    const answer = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`
    assert.equal(h.output.length, 1000 * answer.length)
    assert.equal(h.state, 'running')
  })
})
