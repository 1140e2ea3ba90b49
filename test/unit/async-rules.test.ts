import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Connection, handleAsync, lines } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'

/**
 * An async connection on the test kit, driven from the test itself: the handler only hands out
 * `conn` and stays alive until `release()`.
 */
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
  await turn()
  h.wakeup()
  assert.ok(conn !== null)
  return { h, conn, release }
}

/** Lets pending promise callbacks run, then runs the wakeup the connection asked for. */
async function turn(h?: Harness): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve))
  h?.wakeup()
}

const INVALID = { code: 'RS_ERR_INVALID_ARG', name: 'InvalidArgumentError' }

describe('async API: one read at a time, whatever is buffered', () => {
  test('readExactly while a readExactly waits, its bytes already buffered: rejects and takes nothing', async () => {
    const { h, conn, release } = await harnessed()
    const first = conn.readExactly(10)
    h.wakeup()
    h.feed('abcd')
    await assert.rejects(conn.readExactly(2), { ...INVALID, message: /readExactly: another read is in progress/ })
    assert.equal(h.buffered, 4)
    h.feed('efghij')
    assert.equal((await first).toString(), 'abcdefghij')
    h.feed('kl')
    assert.equal((await conn.readExactly(2)).toString(), 'kl')
    release()
  })

  test('readUntil while a readExactly waits, its line already buffered: rejects and takes nothing', async () => {
    const { h, conn, release } = await harnessed()
    const first = conn.readExactly(6)
    h.wakeup()
    h.feed('x\ny')
    await assert.rejects(conn.readUntil('\n', { max: 10 }), { ...INVALID, message: /readUntil: another read is in progress/ })
    assert.equal(h.buffered, 3)
    h.feed('\nzz')
    assert.equal((await first).toString(), 'x\ny\nzz')
    release()
  })

  test('readExactly while a readUntil waits: the line keeps its first bytes', async () => {
    const { h, conn, release } = await harnessed()
    const first = conn.readUntil('\n', { max: 100 })
    h.wakeup()
    h.feed('hello ')
    await assert.rejects(conn.readExactly(3), INVALID)
    h.feed('world\nrest')
    assert.equal((await first).toString(), 'hello world')
    assert.equal((await conn.readExactly(4)).toString(), 'rest')
    release()
  })

  test('a read while a flush waits goes on (buffered bytes at once); a second flush rejects', async () => {
    const { h, conn, release } = await harnessed()
    h.feed('in')
    h.stall()
    conn.write('out')
    const flushed = conn.flush()
    h.wakeup()
    assert.equal(h.unwritten, 3)
    assert.equal((await conn.readExactly(2)).toString(), 'in')
    await assert.rejects(conn.flush(), { ...INVALID, message: /flush: another flush is in progress/ })
    // A read that must wait: nothing is read while the flush waits (pushback), then it is met.
    const next = conn.readExactly(3)
    await turn(h)
    assert.equal(h.isReading, false) // the flush holds the stream: nothing is read
    h.feed('abc') // (the test kit delivers it all the same; the engine does not look at it yet)
    h.drain()
    await flushed
    await turn(h)
    assert.equal((await next).toString(), 'abc')
    release()
  })

  test('frames() while a readExactly waits rejects and takes no buffered frame', async () => {
    const { h, conn, release } = await harnessed()
    const first = conn.readExactly(8)
    h.wakeup()
    h.feed('one\ntw')
    const frames = conn.frames(lines({ max: 10 }))
    await assert.rejects(frames.next(), { ...INVALID, message: /frames: another read is in progress/ })
    assert.equal(h.buffered, 6)
    h.feed('o\n')
    assert.equal((await first).toString(), 'one\ntwo\n')
    release()
  })

  test('readExactly while frames() waits for the rest of a frame rejects; the frame stays whole', async () => {
    const { h, conn, release } = await harnessed()
    const frames = conn.frames(lines({ max: 10 }))
    const next = frames.next()
    h.wakeup()
    h.feed('par')
    await assert.rejects(conn.readExactly(2), INVALID)
    await assert.rejects(conn.readUntil('a', { max: 10 }), INVALID)
    h.feed('tial\n')
    assert.equal((await next).value?.toString(), 'partial')
    release()
  })

  test('frames() and reads take turns when each waits for the other to settle', async () => {
    const { h, conn, release } = await harnessed()
    h.feed('len\nabcline\n')
    const got: string[] = []
    for await (const frame of conn.frames(lines({ max: 10 }))) {
      got.push(frame.toString())
      if (frame.toString() === 'len') got.push((await conn.readExactly(3)).toString())
      if (got.length === 3) break
    }
    assert.deepEqual(got, ['len', 'abc', 'line'])
    release()
  })

  test('after a rejected second read the first still times out on its own deadline', async () => {
    const { h, conn, release } = await harnessed()
    const first = conn.readUntil('\n', { max: 10, timeout: 100 })
    h.wakeup()
    h.feed('ab')
    await assert.rejects(conn.readExactly(1), INVALID)
    h.advance(100)
    await assert.rejects(first, { code: 'RS_ERR_TIMEOUT' })
    assert.equal((await conn.readExactly(2)).toString(), 'ab')
    release()
  })
})

describe('async API: an aborted signal', () => {
  const reads: Array<[string, (conn: Connection, signal: AbortSignal) => Promise<unknown>]> = [
    ['readExactly', (conn, signal) => conn.readExactly(2, { signal })],
    ['readUntil', (conn, signal) => conn.readUntil('\n', { max: 10, signal })],
    ['frames', (conn, signal) => conn.frames(lines({ max: 10 }), { signal }).next()],
    ['flush', (conn, signal) => conn.flush(0, { signal })],
  ]
  for (const [name, read] of reads) {
    test(`${name} with an already-aborted signal rejects with AbortError and consumes nothing`, async () => {
      const { h, conn, release } = await harnessed()
      h.feed('ab\ncd\n')
      await assert.rejects(read(conn, AbortSignal.abort()), { name: 'AbortError' })
      assert.equal(h.buffered, 6)
      assert.equal((await conn.readUntil('\n', { max: 10 })).toString(), 'ab')
      release()
    })
  }

  test('rejects with the reason the signal was aborted with', async () => {
    const { h, conn, release } = await harnessed()
    h.feed('abc')
    const reason = new Error('user gave up')
    await assert.rejects(conn.readExactly(1, { signal: AbortSignal.abort(reason) }), (err) => err === reason)
    const controller = new AbortController()
    const pending = conn.readExactly(5, { signal: controller.signal })
    h.wakeup()
    controller.abort('a string reason')
    await assert.rejects(pending, (err) => err === 'a string reason')
    assert.equal(h.buffered, 3)
    release()
  })

  test('a signal aborted while frames() is suspended ends the iteration before the next frame', async () => {
    const { h, conn, release } = await harnessed()
    h.feed('a\nb\n')
    const controller = new AbortController()
    const frames = conn.frames(lines({ max: 10 }), { signal: controller.signal })
    assert.equal((await frames.next()).value?.toString(), 'a')
    controller.abort()
    await assert.rejects(frames.next(), { name: 'AbortError' })
    assert.equal(h.buffered, 2)
    release()
  })

  test('a signal aborted while waiting rejects, and its listener is removed, as after a read that is met', async () => {
    const { h, conn, release } = await harnessed()
    const aborted = listenerCount(new AbortController())
    const read = conn.readExactly(3, { signal: aborted.signal })
    h.wakeup()
    assert.equal(aborted.listeners(), 1)
    aborted.abort()
    await assert.rejects(read, { name: 'AbortError' })
    assert.equal(aborted.listeners(), 0)
    const kept = listenerCount(new AbortController())
    const met = conn.readExactly(2, { signal: kept.signal })
    h.wakeup()
    assert.equal(kept.listeners(), 1)
    h.feed('ok')
    assert.equal((await met).toString(), 'ok')
    assert.equal(kept.listeners(), 0)
    release()
  })
})

describe('async API: the end of the stream', () => {
  test('end() while a read waits: the read rejects with RS_ERR_CLOSED once the stream has closed, and end() resolves', async () => {
    const { h, conn, release } = await harnessed()
    const read = conn.readExactly(5)
    h.wakeup()
    h.feed('ab')
    const readFails = assert.rejects(read, { code: 'RS_ERR_CLOSED' })
    const ended = conn.end()
    assert.equal(conn.isClosed, false)
    const late = assert.rejects(conn.readExactly(1), INVALID)
    await turn(h)
    await ended
    await readFails
    await late
    assert.equal(h.state, 'done')
    assert.equal(conn.isClosed, true)
    assert.equal(h.buffered, 2)
    assert.throws(() => conn.write('x'), { code: 'RS_ERR_CLOSED' })
    await assert.rejects(conn.readExactly(3), { code: 'RS_ERR_CLOSED' })
    release()
  })

  test('after the peer ended: the waiting read rejects, later reads reject on a later turn, flush still works', async () => {
    const { h, conn, release } = await harnessed()
    const pending = conn.readExactly(3)
    h.wakeup()
    h.end()
    await assert.rejects(pending, { code: 'RS_ERR_END_OF_STREAM' })
    let outcome: unknown = 'pending'
    void conn.readUntil('\n', { max: 10 }).then(
      () => {
        outcome = 'resolved'
      },
      (err: unknown) => {
        outcome = err
      },
    )
    await new Promise<void>((resolve) => process.nextTick(resolve))
    assert.equal(outcome, 'pending')
    await new Promise<void>((resolve) => setImmediate(resolve))
    assert.equal((outcome as { code?: unknown }).code, 'RS_ERR_END_OF_STREAM')
    conn.write('bye')
    const flushed = conn.flush()
    h.wakeup()
    await flushed
    assert.equal(h.output.toString(), 'bye')
    release()
  })
})

/** `controller`'s signal, counting the abort listeners added to it and not removed. */
function listenerCount(controller: AbortController): { signal: AbortSignal; abort: () => void; listeners: () => number } {
  const { signal } = controller
  let count = 0
  const add = signal.addEventListener.bind(signal)
  const remove = signal.removeEventListener.bind(signal)
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    count++
    add(...args)
  }) as typeof add
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    count--
    remove(...args)
  }) as typeof remove
  return { signal, abort: () => controller.abort(), listeners: () => count }
}

/** A bad call, and what its message must say: `method: argument must be ..., got value`. */
type BadCall = [call: (conn: Connection) => unknown, message: RegExp]

const LINES = lines({ max: 10 })
const BAD_CALLS: BadCall[] = [
  // readExactly(n, options)
  [(c) => c.readExactly(-1), /^readExactly: n must be a non-negative integer, got -1$/],
  [(c) => c.readExactly(1.5), /^readExactly: n must be a non-negative integer, got 1\.5$/],
  [(c) => c.readExactly(Number.NaN), /^readExactly: n must be .*, got NaN$/],
  [(c) => c.readExactly(2 ** 53), /^readExactly: n must be .*, got 9007199254740992$/],
  [(c) => c.readExactly('3' as never), /^readExactly: n must be .*, got "3"$/],
  [(c) => c.readExactly(null as never), /^readExactly: n must be .*, got null$/],
  [(c) => c.readExactly(undefined as never), /^readExactly: n must be .*, got undefined$/],
  [(c) => c.readExactly({} as never), /^readExactly: n must be .*, got an Object$/],
  [(c) => c.readExactly(1, null as never), /^readExactly: options must be an object or undefined, got null$/],
  [(c) => c.readExactly(1, 5 as never), /^readExactly: options must be .*, got 5$/],
  [(c) => c.readExactly(1, { timeout: -1 }), /^readExactly: options\.timeout must be .*, got -1$/],
  [(c) => c.readExactly(1, { timeout: Number.NaN }), /^readExactly: options\.timeout must be .*, got NaN$/],
  [(c) => c.readExactly(1, { timeout: '3' as never }), /^readExactly: options\.timeout must be .*, got "3"$/],
  [(c) => c.readExactly(1, { timeout: null as never }), /^readExactly: options\.timeout must be .*, got null$/],
  [(c) => c.readExactly(1, { signal: {} as never }), /^readExactly: options\.signal must be an AbortSignal or undefined, got an Object$/],
  [(c) => c.readExactly(1, { signal: null as never }), /^readExactly: options\.signal must be .*, got null$/],
  [(c) => c.readExactly(1, { signal: new AbortController() as never }), /^readExactly: options\.signal must be .*, got an AbortController$/],
  // readUntil(delimiter, options)
  [(c) => c.readUntil('', { max: 10 }), /^readUntil: delimiter must be a non-empty string or Uint8Array, got ""$/],
  [(c) => c.readUntil(new Uint8Array(0), { max: 10 }), /^readUntil: delimiter must be .*, got an? Uint8Array$/],
  [(c) => c.readUntil(null as never, { max: 10 }), /^readUntil: delimiter must be .*, got null$/],
  [(c) => c.readUntil(undefined as never, { max: 10 }), /^readUntil: delimiter must be .*, got undefined$/],
  [(c) => c.readUntil(10 as never, { max: 10 }), /^readUntil: delimiter must be .*, got 10$/],
  [(c) => c.readUntil([10] as never, { max: 10 }), /^readUntil: delimiter must be .*, got an Array$/],
  [(c) => c.readUntil('\n', undefined as never), /^readUntil: options must be an object with max, got undefined$/],
  [(c) => (c.readUntil as (d: string) => Promise<Buffer>)('\n'), /^readUntil: options must be .*, got undefined$/],
  [(c) => c.readUntil('\n', null as never), /^readUntil: options must be .*, got null$/],
  [(c) => c.readUntil('\n', {} as never), /^readUntil: options\.max must be a non-negative integer, got undefined$/],
  [(c) => c.readUntil('\n', { max: -1 }), /^readUntil: options\.max must be .*, got -1$/],
  [(c) => c.readUntil('\n', { max: 1.5 }), /^readUntil: options\.max must be .*, got 1\.5$/],
  [(c) => c.readUntil('\n', { max: Number.NaN }), /^readUntil: options\.max must be .*, got NaN$/],
  [(c) => c.readUntil('\n', { max: Number.POSITIVE_INFINITY }), /^readUntil: options\.max must be .*, got Infinity$/],
  [(c) => c.readUntil('\n', { max: '3' as never }), /^readUntil: options\.max must be .*, got "3"$/],
  [(c) => c.readUntil('\n', { max: 10, timeout: -5 }), /^readUntil: options\.timeout must be .*, got -5$/],
  [(c) => c.readUntil('\n', { max: 10, timeout: '1' as never }), /^readUntil: options\.timeout must be .*, got "1"$/],
  [(c) => c.readUntil('\n', { max: 10, signal: 'no' as never }), /^readUntil: options\.signal must be .*, got "no"$/],
  // frames(framer, options)
  [(c) => c.frames(undefined as never).next(), /^frames: framer must be a Framer \(an object with scan and encode functions\), got undefined$/],
  [(c) => c.frames(null as never).next(), /^frames: framer must be .*, got null$/],
  [(c) => c.frames({} as never).next(), /^frames: framer must be .*, got an Object$/],
  [(c) => c.frames({ scan: () => ({ kind: 'bytes', n: 1 }) } as never).next(), /^frames: framer must be .*, got an Object$/],
  [(c) => c.frames(LINES, null as never).next(), /^frames: options must be .*, got null$/],
  [(c) => c.frames(LINES, { timeout: Number.NaN }).next(), /^frames: options\.timeout must be .*, got NaN$/],
  [(c) => c.frames(LINES, { signal: 1 as never }).next(), /^frames: options\.signal must be .*, got 1$/],
  // flush(n, options)
  [(c) => c.flush(-1), /^flush: n must be a non-negative integer, got -1$/],
  [(c) => c.flush(0.5), /^flush: n must be .*, got 0\.5$/],
  [(c) => c.flush('3' as never), /^flush: n must be .*, got "3"$/],
  [(c) => c.flush(null as never), /^flush: n must be .*, got null$/],
  [(c) => c.flush(0, 'x' as never), /^flush: options must be .*, got "x"$/],
  [(c) => c.flush(0, { timeout: -1 }), /^flush: options\.timeout must be .*, got -1$/],
]

/** Bad calls of the methods that do not return a promise: they throw. */
const BAD_THROWS: BadCall[] = [
  [(c) => c.write(undefined as never), /^write: data must be a string or a Uint8Array, got undefined$/],
  [(c) => c.write(null as never), /^write: data must be .*, got null$/],
  [(c) => c.write(5 as never), /^write: data must be .*, got 5$/],
  [(c) => c.write({} as never), /^write: data must be .*, got an Object$/],
  [(c) => c.write([1, 2] as never), /^write: data must be .*, got an Array$/],
  [(c) => c.destroy('bye' as never), /^destroy: reason must be an Error or undefined, got "bye"$/],
]

describe('async API: every argument is checked at the call', () => {
  test('bad arguments of promise-returning methods reject with RS_ERR_INVALID_ARG naming the argument, and consume nothing', async () => {
    const { h, conn, release } = await harnessed()
    h.feed('0123456789\n')
    for (const [call, message] of BAD_CALLS) {
      let result: unknown
      assert.doesNotThrow(() => {
        result = call(conn)
      }, String(call))
      assert.ok(result instanceof Promise, String(call))
      await assert.rejects(result, { ...INVALID, message }, String(call))
      assert.equal(h.buffered, 11, String(call))
    }
    // Nothing was left waiting: the connection still reads.
    assert.equal((await conn.readUntil('\n', { max: 10 })).toString(), '0123456789')
    release()
  })

  test('bad arguments of write and destroy throw RS_ERR_INVALID_ARG naming the argument', async () => {
    const { h, conn, release } = await harnessed()
    for (const [call, message] of BAD_THROWS) assert.throws(() => call(conn), { ...INVALID, message }, String(call))
    assert.equal(h.state, 'running')
    release()
  })

  test('a framer whose scan returns an unknown kind makes frames() throw instead of looping', async () => {
    const { h, conn, release } = await harnessed()
    h.feed('abc')
    const odd = { scan: () => ({ kind: 'more' }), encode: () => {} }
    await assert.rejects(conn.frames(odd as never).next(), { ...INVALID, message: /^frames: framer\.scan\(input\)\.kind must be .*, got "more"$/ })
    assert.equal(h.buffered, 3)
    release()
  })

  test('accepts the edge values: n = 0, max = 0, timeout 0 and Infinity, a Uint8Array delimiter', async () => {
    const { h, conn, release } = await harnessed()
    h.feed('\nab|c')
    assert.equal((await conn.readExactly(0)).length, 0)
    assert.equal((await conn.readUntil('\n', { max: 0, timeout: 0 })).length, 0)
    assert.equal((await conn.readUntil(new Uint8Array([0x7c]), { max: 2, timeout: Number.POSITIVE_INFINITY })).toString(), 'ab')
    assert.equal((await conn.readExactly(1, {})).toString(), 'c')
    conn.write(new Uint8Array([0x61]))
    const flushed = conn.flush(0, { timeout: Number.POSITIVE_INFINITY })
    h.wakeup()
    await flushed
    assert.equal(h.output.toString(), 'a')
    release()
  })
})
