import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Connection, handleAsync } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'

/** Lets the handler's promise chain run to its next wait, then runs the wakeup it asked for. */
async function settle(h: Harness): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve))
  h.wakeup()
}

const LF = Buffer.from('\n')

describe('async API on the engine (test kit)', () => {
  test('serves more than 10,000 same-length requests one at a time', async () => {
    const h = new Harness(
      handleAsync(async (conn: Connection) => {
        for (;;) {
          const line = await conn.readUntil(LF, { max: 100 })
          conn.write(line)
          conn.write(LF)
        }
      }),
    )
    await settle(h)
    // Each request arrives alone into an empty buffer, so the engine sees bytesRead at the same
    // position every time: the bridge must consume there, or it looks like a spinning protocol.
    for (let i = 0; i < 10_050; i++) {
      h.feed('0123456789\n')
      await settle(h)
    }
    assert.equal(h.state, 'running')
    assert.equal(h.output.length, 10_050 * 11)
  })

  test('answers pipelined lines in one write and reads lines split anywhere', async () => {
    const got: string[] = []
    const h = new Harness(
      handleAsync(async (conn: Connection) => {
        for (;;) {
          const line = await conn.readUntil('\r\n', { max: 100 })
          got.push(line.toString())
          conn.write(line)
          conn.write('\r\n')
        }
      }),
    )
    await settle(h)
    h.feed('a\r\nbb\r\nccc\r')
    await settle(h)
    assert.equal(h.writes, 1)
    h.feed('\n')
    await settle(h)
    assert.deepEqual(got, ['a', 'bb', 'ccc'])
    assert.equal(h.output.toString(), 'a\r\nbb\r\nccc\r\n')
  })

  test('reads ahead while no read waits, and stops past 64 KiB', async () => {
    let release = (): void => {}
    const busy = new Promise<void>((resolve) => {
      release = resolve
    })
    const got: number[] = []
    const h = new Harness(
      handleAsync(async (conn: Connection) => {
        got.push((await conn.readExactly(4)).length)
        await busy // the handler is busy elsewhere: nothing waits on the connection
        for (;;) got.push((await conn.readUntil(LF, { max: 128 * 1024 })).length)
      }),
    )
    await settle(h)
    h.feed('head')
    await settle(h)
    assert.equal(h.isReading, true)
    h.feed(Buffer.alloc(40 * 1024, 'x'))
    assert.equal(h.isReading, true)
    h.feed(Buffer.alloc(30 * 1024, 'x'))
    assert.equal(h.isReading, false) // 70 KiB buffered, nobody reading: backpressure
    release()
    h.feed('\n')
    await settle(h)
    assert.deepEqual(got, [4, 70 * 1024])
    assert.equal(h.isReading, true)
  })

  test('a limit hit while reading ahead (maxBufferSize below 64 KiB) goes to the next read', async () => {
    let release = (): void => {}
    const busy = new Promise<void>((resolve) => {
      release = resolve
    })
    const got: string[] = []
    const h = new Harness(
      handleAsync(async (conn: Connection) => {
        got.push((await conn.readUntil(LF, { max: 10 })).toString())
        await busy
        try {
          await conn.readUntil(LF, { max: 10 })
        } catch (err) {
          got.push((err as { code: string }).code)
        }
      }),
      { maxBufferSize: 16 },
    )
    await settle(h)
    h.feed('a\n')
    await settle(h)
    h.feed('x'.repeat(16))
    h.feed('y')
    assert.equal(h.state, 'running')
    assert.equal(h.isReading, false)
    release()
    await settle(h) // the read waits: the engine takes its expectation and finds the limit
    await settle(h)
    assert.deepEqual(got, ['a', 'RS_ERR_LIMIT_REACHED'])
  })
})
