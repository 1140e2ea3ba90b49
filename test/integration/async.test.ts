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

  test('serve() takes an async function as the connection handler directly', T, async (t) => {
    const srv = await serve({ host: '127.0.0.1', port: 0 }, async (conn) => {
      const name = await conn.readUntil('\n', { max: 64 })
      conn.write(`hello ${name.toString()}\n`)
    })
    t.after(() => srv.close({ timeout: 0 }))
    const conn = await open(srv.address)
    conn.write('ada\n')
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'hello ada')
    await assert.rejects(conn.readExactly(1), { code: 'RS_ERR_END_OF_STREAM' }) // the handler returned: ended
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
