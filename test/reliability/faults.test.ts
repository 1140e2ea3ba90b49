/**
 * Connection faults on real sockets: half-close, a reset in the middle of a read and in the
 * middle of a write, a peer that closes or resets before the answer. No crash, the right
 * exception reaches the protocol, nothing is left behind (checked after every test).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Intent, type Protocol, type ServerAcceptMessage, Stream, serve, type Transport, WriteError } from 'rotor-stream'
import { connectionFaults } from './lib/faults.js'
import { checkLeaksAfterEach } from './lib/leaks.js'
import { RawPeer } from './lib/raw.js'
import { ServerWatch } from './lib/watch.js'

const T = { timeout: 30_000 }

checkLeaksAfterEach()

describe('connection faults', () => {
  test('each fault 20 times, 4 connections at a time: the protocol sees end of stream or the reset, every stream ends', T, async () => {
    const outcome = await connectionFaults({ rounds: 20 })
    assert.equal(outcome.errors, 0, outcome.samples?.join('\n'))
    assert.equal(outcome.faults, 100)
  })
})

/** Answers a line with 16 MiB, then `Intent.done()`: the stream flushes them after the protocol ended. */
class LastAnswer implements Protocol {
  read(): Intent<LastAnswer> {
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
  bytesRead(t: Transport, end: number): Intent<LastAnswer> {
    t.input.consume(end + 1)
    t.output.write(Buffer.alloc(16 * 1024 * 1024, 0x61))
    return Intent.done()
  }
}

describe('the last answer after Intent.done() (bug found by the fault runs)', () => {
  test('a stream whose last output cannot be written after Intent.done() does not report a clean end', T, async () => {
    const watch = new ServerWatch()
    const server = await serve({ host: '127.0.0.1', port: 0 }, () => new LastAnswer().read())
    watch.watch(server)
    let accepted!: (stream: Stream) => void
    const stream = new Promise<Stream>((resolve) => {
      accepted = resolve
    })
    const onAccept = (message: unknown): void => {
      const { stream: s } = message as ServerAcceptMessage
      if (s instanceof Stream) accepted(s)
    }
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel')
    subscribe('rotor-stream:server:accept', onAccept)
    try {
      const peer = new RawPeer((server.address as { port: number }).port)
      peer.socket.write('question\n')
      await peer.until((p) => p.receivedBytes >= 64 * 1024)
      peer.socket.resetAndDestroy() // gone in the middle of the last answer
      await peer.closed
      const reason = await (await stream).closed
      // Before the fix: undefined, as if the whole answer had gone out.
      assert.ok(reason instanceof WriteError, `closed with ${String(reason)}`)
      assert.equal(reason.code, 'RS_ERR_WRITE')
      assert.match((reason.cause as NodeJS.ErrnoException).code ?? '', /^(ECONNRESET|EPIPE|ERR_STREAM_DESTROYED)$/)
    } finally {
      unsubscribe('rotor-stream:server:accept', onAccept)
      watch.stop()
      await server.close({ timeout: 0 })
    }
  })
})
