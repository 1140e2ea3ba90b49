/**
 * The async API's framing parts: `conn.writeFrame(framer, payload)`, `frames()` options, and a
 * `flush()` that waits while a read waits (a full-duplex writer's backpressure).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Connection, handleAsync, lengthPrefixed, lines } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'
import { settle } from '../helpers/framing.js'

const T = { timeout: 30_000 }

/** A connection on the test kit, driven from the test; the handler lives until `release()`. */
async function harnessed(): Promise<{ h: Harness; conn: Connection; release: () => void }> {
  let conn: Connection | null = null
  let release = (): void => {}
  const alive = new Promise<void>((resolve) => {
    release = resolve
  })
  const h = new Harness(
    handleAsync(async (c: Connection) => {
      conn = c
      await alive
    }),
  )
  await settle(h)
  assert.ok(conn !== null)
  return { h, conn, release }
}

describe('async framing', () => {
  test('writeFrame encodes with the framer and sends with the writes of the same turn', T, async () => {
    const { h, conn, release } = await harnessed()
    conn.write('>')
    conn.writeFrame(lengthPrefixed({ lengthSize: 2 }), 'hi')
    conn.writeFrame(lines({ max: 10, ending: 'crlf' }), 'ok')
    await settle(h)
    assert.deepEqual([...h.output], [0x3e, 0, 2, 0x68, 0x69, 0x6f, 0x6b, 0x0d, 0x0a])
    assert.equal(h.writes, 1)
    release()
  })

  test('writeFrame refuses a bad framer or payload and queues nothing', T, async () => {
    const { h, conn, release } = await harnessed()
    assert.throws(() => conn.writeFrame({} as never, 'x'), { code: 'RS_ERR_INVALID_ARG', message: /^writeFrame: framer must be a Framer/ })
    assert.throws(() => conn.writeFrame(lines({ max: 10 }), 5 as never), { code: 'RS_ERR_INVALID_ARG', message: /^writeFrame: payload must be/ })
    assert.throws(() => conn.writeFrame(lines({ max: 2 }), 'long'), { code: 'RS_ERR_INVALID_ARG' })
    await settle(h)
    assert.equal(h.output.length, 0)
    conn.destroy()
    assert.throws(() => conn.writeFrame(lines({ max: 10 }), 'x'), { code: 'RS_ERR_CLOSED' })
    release()
  })

  test('frames() checks onDiscard', T, async () => {
    const { conn, release } = await harnessed()
    await assert.rejects(conn.frames(lines({ max: 1 }), { onDiscard: 5 as never }).next(), { code: 'RS_ERR_INVALID_ARG', message: /options\.onDiscard/ })
    release()
  })

  test('a full-duplex handler: frames() reads while a writer flushes; reading pauses until the flush is met', T, async () => {
    const got: string[] = []
    let flushes = 0
    const h = new Harness(
      handleAsync(async (conn: Connection) => {
        const writer = (async () => {
          for (let i = 0; i < 3; i++) {
            conn.writeFrame(lines({ max: 100 }), `tick ${i}`)
            await conn.flush()
            flushes++
          }
        })()
        for await (const line of conn.frames(lines({ max: 100 }))) got.push(line.toString())
        await writer
      }),
    )
    h.stall() // the peer reads nothing yet
    await settle(h)
    assert.equal(flushes, 0)
    assert.equal(h.isReading, false) // a flush waits: pushback, nothing read
    h.drain()
    await settle(h)
    await settle(h)
    assert.equal(flushes, 3)
    h.feed('a\nb\n')
    await settle(h)
    assert.deepEqual(got, ['a', 'b'])
    h.end()
    await settle(h)
    assert.equal(h.output.toString(), 'tick 0\ntick 1\ntick 2\n')
    assert.equal(h.state, 'done')
  })

  test("a read's timeout counts while a flush holds the stream; the flush times out on its own", T, async () => {
    const { h, conn, release } = await harnessed()
    const read = conn.readExactly(5, { timeout: 100 })
    h.stall()
    conn.write('out')
    const flushed = conn.flush(0, { timeout: 300 })
    await settle(h)
    h.advance(100)
    await assert.rejects(read, { code: 'RS_ERR_TIMEOUT', message: 'read timed out' })
    h.advance(200)
    await assert.rejects(flushed, { code: 'RS_ERR_TIMEOUT', message: 'flush timed out' })
    h.drain()
    h.feed('12345')
    assert.equal((await conn.readExactly(5)).toString(), '12345')
    release()
  })

  test('a flush beside a read is aborted alone; the read goes on', T, async () => {
    const { h, conn, release } = await harnessed()
    const read = conn.readUntil('\n', { max: 10 })
    h.stall()
    conn.write('out')
    const controller = new AbortController()
    const flushed = conn.flush(0, { signal: controller.signal })
    await settle(h)
    controller.abort()
    await assert.rejects(flushed, { name: 'AbortError' })
    await settle(h)
    h.feed('line\n')
    assert.equal((await read).toString(), 'line')
    release()
  })

  test('the stream closing rejects a flush waiting beside a read, and the read', T, async () => {
    const { h, conn, release } = await harnessed()
    const read = conn.readExactly(3)
    h.stall()
    conn.write('out')
    const flushed = conn.flush()
    await settle(h)
    h.readError()
    await assert.rejects(read, { code: 'RS_ERR_READ' })
    await assert.rejects(flushed, { code: 'RS_ERR_READ' })
    release()
  })
})
