import assert from 'node:assert/strict'
import net from 'node:net'
import { describe, test } from 'node:test'
import { type Connection, handleAsync, lines, open, Stream, serve } from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'

const T = { timeout: 15_000 }

/** A plain node:net server running `onSocket`; closed after the test. */
async function server(t: { after(fn: () => unknown): void }, onSocket: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>()
  const srv = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    onSocket(socket)
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => srv.close(() => resolve()))
  })
  return (srv.address() as net.AddressInfo).port
}

describe('async/await API', () => {
  test('reads lines, exact byte counts and frames from a state-machine server', T, async (t) => {
    const port = await server(t, (socket) => Stream.attach(socket, LineEcho.create))
    const conn = await open({ host: '127.0.0.1', port })
    conn.write('hello\n')
    conn.write('world\n')
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'hello')
    assert.equal((await conn.readExactly(3)).toString(), 'wor')
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'ld')
    conn.write('a\nb\nc\nQUIT\n')
    const got: string[] = []
    for await (const line of conn.frames(lines({ max: 100 }))) got.push(line.toString())
    assert.deepEqual(got, ['a', 'b', 'c', 'BYE'])
    await conn.end()
    assert.equal(conn.isClosed, true)
  })

  test('rejects with the same error codes as the state-machine API', T, async (t) => {
    const port = await server(t, (socket) => socket.on('data', () => {}).on('end', () => socket.end()))
    const conn = await open({ host: '127.0.0.1', port })
    await assert.rejects(conn.readUntil('\n', { max: 10, timeout: 50 }), { code: 'RS_ERR_TIMEOUT' })
    const controller = new AbortController()
    const pending = conn.readExactly(1, { signal: controller.signal })
    await assert.rejects(Promise.all([conn.readExactly(1), pending.catch(() => {})]), { code: 'RS_ERR_INVALID_ARG' })
    controller.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    await conn.end()
  })

  test('a line over max is a LimitReached; end of stream rejects reads with RS_ERR_END_OF_STREAM', T, async (t) => {
    const port = await server(t, (socket) => socket.end('x'.repeat(100)))
    const conn = await open({ host: '127.0.0.1', port })
    await assert.rejects(conn.readUntil('\n', { max: 10 }), { code: 'RS_ERR_LIMIT_REACHED' })
    assert.equal((await conn.readExactly(100)).length, 100)
    await assert.rejects(conn.readExactly(1), { code: 'RS_ERR_END_OF_STREAM' })
    await conn.end()
  })

  test('serves connections with an async handler, over serve()', T, async (t) => {
    const srv = await serve(
      { host: '127.0.0.1', port: 0 },
      handleAsync(async (conn: Connection) => {
        for await (const line of conn.frames(lines({ max: 1024 }))) {
          conn.write(`${line.toString().toUpperCase()}\n`)
        }
      }),
    )
    t.after(() => srv.close({ timeout: 0 }))
    const address = srv.address as { host: string; port: number }
    const conn = await open(address)
    conn.write('one\ntwo\n')
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'ONE')
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'TWO')
    await conn.end()
  })

  test('a second read while the first waits rejects even with its bytes buffered; the stream stays in order', T, async (t) => {
    const srv = await serve(
      { host: '127.0.0.1', port: 0 },
      handleAsync(async (conn) => {
        conn.write('abcdef') // one write: one chunk on loopback
        await conn.readUntil('\n', { max: 10 })
        conn.write('gh\n')
      }),
    )
    t.after(() => srv.close({ timeout: 0 }))
    const conn = await open(srv.address)
    assert.equal((await conn.readExactly(2)).toString(), 'ab') // 'cdef' came in the same read
    const first = conn.readUntil('\n', { max: 100 })
    await assert.rejects(conn.readExactly(2), { code: 'RS_ERR_INVALID_ARG', message: /readExactly: another read is in progress/ })
    await assert.rejects(conn.readUntil('d', { max: 100 }), { code: 'RS_ERR_INVALID_ARG' })
    conn.write('go\n')
    assert.equal((await first).toString(), 'cdefgh')
    await conn.end()
  })

  test('in a serve() handler, a read started while another waits rejects and takes nothing', T, async (t) => {
    const srv = await serve(
      { host: '127.0.0.1', port: 0 },
      handleAsync(async (conn) => {
        await conn.readExactly(1) // 'yz' arrived in the same read as 'x'
        const first = conn.readUntil('\n', { max: 100 })
        const second = await conn.readExactly(2).then(
          (bytes) => `took ${bytes.toString()}`,
          (err: { code: string }) => err.code,
        )
        conn.write(`${second}\n`)
        conn.write(`${(await first).toString()}\n`)
      }),
    )
    t.after(() => srv.close({ timeout: 0 }))
    const conn = await open(srv.address)
    conn.write('xyz')
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'RS_ERR_INVALID_ARG')
    conn.write('!\n') // only now: the server's first read is still waiting for it
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'yz!')
    await conn.end()
  })

  test('an already-aborted signal rejects with AbortError and consumes nothing', T, async (t) => {
    const srv = await serve(
      { host: '127.0.0.1', port: 0 },
      handleAsync(async (conn) => {
        conn.write('abcdef\n')
        await conn.flush()
      }),
    )
    t.after(() => srv.close({ timeout: 0 }))
    const conn = await open(srv.address)
    assert.equal((await conn.readExactly(2)).toString(), 'ab')
    const signal = AbortSignal.abort()
    await assert.rejects(conn.readExactly(2, { signal }), { name: 'AbortError' })
    await assert.rejects(conn.readUntil('\n', { max: 10, signal }), { name: 'AbortError' })
    await assert.rejects(conn.frames(lines({ max: 10 }), { signal }).next(), { name: 'AbortError' })
    assert.equal((await conn.readUntil('\n', { max: 10 })).toString(), 'cdef')
    await conn.end()
  })

  test('bad arguments reject with RS_ERR_INVALID_ARG naming the argument, and the connection still works', T, async (t) => {
    const port = await server(t, (socket) => Stream.attach(socket, LineEcho.create))
    const conn = await open({ host: '127.0.0.1', port })
    const bad: Array<[() => Promise<unknown>, RegExp]> = [
      [() => conn.readExactly(-1), /readExactly: n must be a non-negative integer, got -1/],
      [() => conn.readExactly(1, { timeout: Number.NaN }), /readExactly: options\.timeout .* got NaN/],
      [() => conn.readUntil('\n', undefined as never), /readUntil: options must be .* got undefined/],
      [() => conn.readUntil('\n', { max: 1.5 }), /readUntil: options\.max .* got 1\.5/],
      [() => conn.readUntil('', { max: 10 }), /readUntil: delimiter .* got ""/],
      [() => conn.frames(null as never).next(), /frames: framer .* got null/],
      [() => conn.flush('3' as never), /flush: n .* got "3"/],
    ]
    for (const [call, message] of bad) await assert.rejects(call(), { code: 'RS_ERR_INVALID_ARG', message }, String(call))
    assert.throws(() => conn.write(42 as never), { code: 'RS_ERR_INVALID_ARG', message: /write: data .* got 42/ })
    await assert.rejects(open({ host: '127.0.0.1', port }, null as never), { code: 'RS_ERR_INVALID_ARG', message: /open: options .* got null/ })
    conn.write('still here\n')
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'still here')
    await conn.end()
  })

  test('rejects open() to a closed port with a ConnectError', T, async () => {
    const probe = net.createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as net.AddressInfo
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    await assert.rejects(open({ host: '127.0.0.1', port }), { code: 'RS_ERR_CONNECT' })
  })
})
