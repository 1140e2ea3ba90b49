/**
 * The test kit's Pair: two protocols on the real engine, connected without sockets on one
 * virtual clock. Checks the delivery controls (read sizes, latency, window, stall), FIN,
 * half-close, the lingering close and resets, against what a socket does.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Exception, handleAsync, Intent, InvalidArgumentError, type Protocol, type Scope, type Transport } from 'rotor-stream'
import { describeSplit, Pair, splits } from 'rotor-stream/testing'
import { IDLE_TIMEOUT, LineEcho } from '../../examples/line-echo.js'

const T = { timeout: 30_000 }
const LF = Buffer.from('\n')

/** The `code` of an error's cause (`ECONNRESET`...), if any. */
function causeCode(err: Error | undefined): unknown {
  const cause: unknown = err?.cause
  return typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined
}

/**
 * A client that sends `lines` at once, collects the echoed lines, and ends cleanly at end of
 * stream. With `halfClose`, it sends its FIN right after the lines.
 */
class LineClient implements Protocol {
  readonly got: string[] = []
  readonly #next = Intent.of(this).expectDelimiter(LF, { max: 1 << 20 })

  static factory(lines: readonly string[], options: { halfClose?: boolean; sink?: LineClient[] } = {}) {
    return (t: Transport): Intent<LineClient> => {
      const client = new LineClient()
      options.sink?.push(client)
      for (const line of lines) t.output.write(`${line}\n`)
      if (options.halfClose) t.halfClose()
      return client.#next
    }
  }

  bytesRead(t: Transport, end: number): Intent<LineClient> {
    this.got.push(t.input.toString('latin1', 0, end))
    t.input.consume(end + 1)
    return this.#next
  }

  exception(_t: Transport, reason: Exception): Intent<LineClient> {
    return reason.code === 'RS_ERR_END_OF_STREAM' ? Intent.done() : Intent.error(reason)
  }
}

/** A server that reads until end of stream, then answers with the byte count and ends (HTTP/1.0 style). */
class CountUntilEnd implements Protocol {
  static create(): Intent<CountUntilEnd> {
    return Intent.of(new CountUntilEnd()).expectBytes(1 << 20)
  }
  bytesRead(): Intent<CountUntilEnd> {
    return Intent.error(new Error('too much'))
  }
  exception(t: Transport, reason: Exception): Intent<CountUntilEnd> {
    if (reason.code !== 'RS_ERR_END_OF_STREAM') return Intent.error(reason)
    t.output.write(`${t.input.length} bytes\n`)
    t.input.consume(t.input.length)
    return Intent.done()
  }
}

/** A server that sleeps forever and never reads a byte of what it is sent. */
class Sleeper implements Protocol {
  static create(_t: Transport, _seed: unknown, _scope: Scope): Intent<Sleeper> {
    return Intent.of(new Sleeper()).sleep()
  }
  bytesRead(): Intent<Sleeper> {
    return Intent.of(this).sleep()
  }
  exception(_t: Transport, reason: Exception): Intent<Sleeper> {
    return Intent.error(reason)
  }
}

/** A client that sends `text`, then sleeps, and sleeps on after the end of stream: it never closes. */
class Stubborn implements Protocol {
  static factory(text: string) {
    return (t: Transport): Intent<Stubborn> => {
      t.output.write(text)
      return Intent.of(new Stubborn()).sleep()
    }
  }
  bytesRead(): Intent<Stubborn> {
    return Intent.of(this).sleep()
  }
  exception(): Intent<Stubborn> {
    return Intent.of(this).sleep()
  }
}

describe('Pair', () => {
  test('delivers the same conversation for every way the server reads the requests and the client reads the replies', T, () => {
    const lines = ['hello', 'wörld', '', 'a longer line of text']
    const request = Buffer.from(lines.map((l) => `${l}\n`).join(''))
    let runs = 0
    for (const cut of splits(request, { random: 50 })) {
      for (const clientReads of [undefined, 1, 3]) {
        const sink: LineClient[] = []
        const reads = cut.map((c) => c.length)
        const pair = new Pair(LineClient.factory(lines, { sink }), LineEcho.create, { server: { reads }, client: { reads: clientReads } })
        const where = `server reads ${describeSplit(cut)}, client reads ${clientReads ?? 'whole'}`
        assert.deepEqual(pair.server.reads, reads, where)
        assert.deepEqual(
          sink[0]?.got,
          lines.map((l) => Buffer.from(l).toString('latin1')),
          where,
        )
        assert.equal(pair.server.state, 'running', where)
        runs++
      }
    }
    assert.ok(runs > 100)
  })

  test('holds bytes for the latency, on the virtual clock', T, () => {
    const sink: LineClient[] = []
    const pair = new Pair(LineClient.factory(['ping'], { sink }), LineEcho.create, { server: { latency: 30 }, client: { latency: 20 } })
    assert.equal(pair.server.received.length, 0)
    assert.equal(pair.client.inFlight, 0)
    assert.equal(pair.server.inFlight, 5)
    pair.advance(29)
    assert.equal(pair.server.received.length, 0)
    pair.advance(1)
    assert.equal(pair.server.received.toString(), 'ping\n')
    pair.advance(19)
    assert.deepEqual(sink[0]?.got, [])
    pair.advance(1)
    assert.deepEqual(sink[0]?.got, ['ping'])
    assert.equal(pair.now, 50)
  })

  test('a stalled reader backs its peer up until the peer stops reading (pushback), and everything arrives once it resumes', T, () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(90)}`)
    const sent = lines.reduce((n, l) => n + l.length + 1, 0)
    const got: LineClient[] = []
    // The client is stalled from its first byte on: the server's echoes fill the client's
    // window, then the server's own output, and the server stops reading; the client's
    // requests back up in turn.
    const p = new Pair(LineClient.factory(lines, { sink: got }), LineEcho.create, {
      window: 8 * 1024,
      server: { outputHighWaterMark: 16 * 1024, latency: 1 },
    })
    p.client.stall()
    p.advance(100)
    assert.equal(p.server.isReading, false, 'the server stopped reading: its output is over the high-water mark')
    assert.ok(p.server.unwritten > 16 * 1024 - 8 * 1024, `server unwritten ${p.server.unwritten}`)
    assert.ok(p.client.inFlight <= 8 * 1024)
    assert.ok(p.client.unwritten > 0, 'the client could not hand all its requests to the network')
    assert.ok(p.server.received.length < sent)
    p.client.resume()
    p.advance(100)
    assert.equal(got[0]?.got.length, 2000)
    assert.equal(p.client.unwritten, 0)
    assert.equal(p.server.unwritten, 0)
  })

  test('half-close: the client sends FIN after its request and still reads the answer', T, () => {
    const sink: LineClient[] = []
    const pair = new Pair(LineClient.factory(['abc', 'de'], { halfClose: true, sink }), CountUntilEnd.create, { server: { reads: 2 } })
    assert.equal(pair.client.isHalfClosed, true)
    assert.equal(pair.server.sawEnd, true)
    assert.deepEqual(sink[0]?.got, ['7 bytes'])
    assert.equal(pair.server.state, 'done')
    assert.equal(pair.client.state, 'done')
    assert.deepEqual(pair.client.log, ['bytesRead 7', 'exception RS_ERR_END_OF_STREAM'])
    assert.equal(pair.isClosed, true)
  })

  test('a clean close lingers until the peer closes too, and an idle deadline drains by stepping the clock', T, () => {
    const pair = new Pair(LineClient.factory(['x']), LineEcho.create)
    assert.equal(pair.server.deadline, IDLE_TIMEOUT)
    assert.equal(pair.runUntilIdle(), IDLE_TIMEOUT)
    assert.deepEqual(pair.server.log, ['bytesRead 1', 'timeout'])
    assert.deepEqual(pair.client.log, ['bytesRead 1', 'exception RS_ERR_END_OF_STREAM'])
    assert.equal(pair.isClosed, true)
    assert.equal(pair.runUntilIdle(), 0, 'no timer is left')
  })

  test('a peer that never closes its side is cut off lingerTimeout after the flush', T, () => {
    const pair = new Pair(Stubborn.factory('QUIT\n'), LineEcho.create, { server: { lingerTimeout: 500 } })
    assert.equal(pair.server.state, 'done')
    assert.equal(pair.server.isHalfClosed, true, 'flushed, FIN sent')
    assert.equal(pair.server.isClosed, false, 'lingering for the client to close')
    pair.advance(499)
    assert.equal(pair.server.isClosed, false)
    pair.advance(1)
    assert.equal(pair.server.isClosed, true)
    assert.equal(pair.client.received.toString(), 'BYE\n')
    assert.equal(pair.client.state, 'running', 'the client sleeps on after the end of stream')
  })

  test('a reset in the middle fails both sides, each on what it was doing', T, () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`)
    // The requests arrive at once, the echoes take 10 ms: the reset catches them on the way.
    const pair = new Pair(LineClient.factory(lines), LineEcho.create, { server: { reads: 64 }, client: { latency: 10 } })
    pair.advance(5)
    assert.equal(pair.server.received.length, pair.client.sent.length)
    assert.equal(pair.client.inFlight, pair.client.sent.length)
    pair.reset()
    assert.equal(pair.client.received.length, 0)
    assert.equal(pair.client.wasReset && pair.server.wasReset, true)
    // The client ends with the error; LineEcho answers a read error with a quiet end.
    assert.equal(pair.client.error?.name, 'ReadError')
    assert.equal(causeCode(pair.client.error), 'ECONNRESET')
    assert.deepEqual(pair.client.log.slice(-2), ['exception RS_ERR_READ', 'fatal RS_ERR_READ'])
    const last = pair.server.events.at(-1)
    assert.equal(last?.handler === 'exception' && causeCode(last.reason), 'ECONNRESET')
    assert.equal(pair.server.state, 'done')
    assert.equal(pair.runUntilIdle(), 0, 'no timer is left')
    assert.equal(pair.isClosed, true)
  })

  test('a pending write fails with a WriteError when the reset arrives', T, () => {
    const pair = new Pair(LineClient.factory(['x'.repeat(100_000)]), Sleeper.create, { window: 1000 })
    assert.ok(pair.client.unwritten > 0)
    pair.reset()
    assert.equal(pair.client.error?.name, 'WriteError')
    assert.equal(causeCode(pair.client.error), 'ECONNRESET')
  })

  test('closing a side with unread input resets the peer; without, the peer sees end of stream', T, () => {
    const unread = new Pair(LineClient.factory(['never read']), Sleeper.create, { server: { latency: 5 } })
    assert.equal(unread.server.inFlight, 11)
    unread.server.close()
    assert.equal(unread.server.error?.name, 'ClosedError')
    assert.equal(unread.client.wasReset, true)
    assert.equal(unread.client.error?.name, 'ReadError')

    const drained = new Pair(LineClient.factory([]), LineEcho.create)
    drained.server.close()
    assert.equal(drained.client.state, 'done')
    assert.deepEqual(drained.client.log, ['exception RS_ERR_END_OF_STREAM'])
  })

  test('settle() runs a server written with the async API until its promises are done', T, async () => {
    const sink: LineClient[] = []
    // Upper-cases each line; ends after two lines.
    const upper = handleAsync(async (conn) => {
      for (let i = 0; i < 2; i++) {
        const line = await conn.readUntil('\n', { max: 100 })
        conn.write(`${line.toString().toUpperCase()}\n`)
      }
    })
    const pair = new Pair(LineClient.factory(['abc', 'xyz'], { sink }), upper, { server: { reads: 1 } })
    await pair.settle()
    assert.deepEqual(sink[0]?.got, ['ABC', 'XYZ'])
    assert.equal(pair.server.state, 'done')
    assert.equal(pair.client.state, 'done')
    assert.equal(pair.isClosed, true)
  })

  test('leaves no real timer or TCP socket behind (stdio pipes belong to the runner)', T, () => {
    const kinds = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout' || kind === 'TCPSocketWrap')
    assert.deepEqual(kinds, [])
  })

  test('refuses bad options with InvalidArgumentError', T, () => {
    const bad: unknown[] = [{ window: 0 }, { client: { reads: 0 } }, { server: { reads: [1, -1] } }, { client: { latency: -1 } }, { now: Number.NaN }]
    for (const options of bad) {
      assert.throws(
        () => new Pair(LineEcho.create, LineEcho.create, options as never),
        (err: unknown) => err instanceof InvalidArgumentError && err.code === 'RS_ERR_INVALID_ARG',
        JSON.stringify(options),
      )
    }
    assert.throws(() => new Pair(LineEcho.create, null as never), InvalidArgumentError)
    const pair = new Pair(LineEcho.create, LineEcho.create)
    assert.throws(() => pair.advance(-1), InvalidArgumentError)
    assert.throws(() => pair.client.deliver({ reads: 'x' as never }), InvalidArgumentError)
  })
})
