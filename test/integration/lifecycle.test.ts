import assert from 'node:assert/strict'
import { getEventListeners, once } from 'node:events'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { connect, handleAsync, lines, open, Persistent, serve } from 'rotor-stream'
import { HttpConnection } from '../../examples/http-server.js'
import { LineEcho } from '../../examples/line-echo.js'
import { closed, rawConnect, silentServer } from '../helpers/net.js'
import { activeBeyond } from '../helpers/resources.js'

const T = { timeout: 60_000 }
const baseline = process.getActiveResourcesInfo()
const dir = mkdtempSync(join(tmpdir(), 'rs-lifecycle-'))
after(async () => {
  rmSync(dir, { recursive: true, force: true })
  assert.deepEqual(await activeBeyond(baseline), [])
})

const IDLE = 1000
const BUSY = 10

function httpFactory() {
  return HttpConnection.factory({ handler: () => ({ body: 'ok\n' }), date: null, onError: null })
}

/** Collects what a raw socket receives; resolves `until(text)` once the received text ends with it. */
function reader(socket: net.Socket): { text(): string; until(suffix: string): Promise<void> } {
  let text = ''
  const waiters: Array<{ suffix: string; resolve: () => void }> = []
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => {
    text += chunk
    for (const w of waiters.splice(0)) {
      if (text.endsWith(w.suffix)) w.resolve()
      else waiters.push(w)
    }
  })
  socket.on('error', () => {})
  return {
    text: () => text,
    until: (suffix) => (text.endsWith(suffix) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ suffix, resolve }))),
  }
}

describe('Server.close() reaches protocols', () => {
  test(`ends ${IDLE} idle keep-alive connections at once and returns as soon as ${BUSY} busy ones finish`, T, async () => {
    const server = await serve({ host: '127.0.0.1', port: 0, maxConnections: 5000 }, httpFactory())
    const events: string[] = []
    const idle: net.Socket[] = []
    for (let batch = 0; batch < IDLE / 100; batch++) {
      const sockets = await Promise.all(Array.from({ length: 100 }, () => rawConnect(server.address)))
      await Promise.all(
        sockets.map((socket) => {
          const r = reader(socket)
          socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
          return r.until('ok\n') // answered and kept alive: idle from now on
        }),
      )
      idle.push(...sockets)
    }
    const busy = await Promise.all(Array.from({ length: BUSY }, () => rawConnect(server.address)))
    const busyReaders = busy.map((socket) => reader(socket))
    // Expect: 100-continue shows that the server has parsed the head and waits in the body.
    for (const socket of busy) socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhe')
    await Promise.all(busyReaders.map((r) => r.until('100 Continue\r\n\r\n')))
    assert.equal(server.connections, IDLE + BUSY)

    const idleEnded = idle.map((socket) => once(socket, 'end').then(() => events.push('idle FIN')))
    const closing = server.close({ timeout: 60_000 }).then(() => events.push('close() resolved'))
    await Promise.all(idleEnded)
    events.push('all idle ended')
    for (const socket of idle) socket.end()
    assert.equal(events.includes('close() resolved'), false, 'the busy connections hold the close')

    const answered = busy.map((socket, i) => closed(socket, 30_000).then(() => events.push(`busy ${i} answered`)))
    for (const socket of busy) socket.write('llo')
    await Promise.all(answered)
    await closing
    assert.equal(events.filter((e) => e === 'idle FIN').length, IDLE)
    assert.equal(events.indexOf('all idle ended'), IDLE)
    assert.equal(events.at(-1), 'close() resolved')
    for (const r of busyReaders) {
      assert.match(r.text(), /HTTP\/1\.1 200 OK\r\n/)
      assert.match(r.text(), /\r\nConnection: close\r\n/)
    }
    assert.equal(server.connections, 0)
    await Promise.all(idle.map((socket) => closed(socket)))
  })

  test("with idle 'wait' an idle connection holds the close until it ends", T, async () => {
    const server = await serve({ host: '127.0.0.1', port: 0 }, LineEcho.create)
    const socket = await rawConnect(server.address)
    const r = reader(socket)
    socket.write('hi\r\n')
    await r.until('hi\r\n')
    const events: string[] = []
    const closing = server.close({ timeout: 60_000, idle: 'wait' }).then(() => events.push('closed'))
    // A round trip on the idle connection proves it is still served after close() started.
    socket.write('again\r\n')
    await r.until('again\r\n')
    events.push('still served')
    socket.write('QUIT\r\n')
    await closing
    assert.deepEqual(events, ['still served', 'closed'])
    await closed(socket)
  })

  test('tells a busy async handler through conn.closing, and ends frames() of an idle one cleanly', T, async () => {
    const seen: string[] = []
    let ended: () => void = () => {}
    const firstEnded = new Promise<void>((resolve) => (ended = resolve))
    let release: () => void = () => {}
    const working = new Promise<void>((resolve) => (release = resolve))
    const server = await serve(
      { host: '127.0.0.1', port: 0 },
      handleAsync(async (conn) => {
        for await (const line of conn.frames(lines({ max: 100 }))) {
          if (line.toString() === 'slow') {
            conn.write('working\n')
            await working
            conn.write(`done closing=${conn.closing.aborted}\n`)
            if (conn.closing.aborted) break
          } else conn.write(`${line}\n`)
        }
        seen.push('iteration ended')
        ended()
      }),
    )
    const idle = await rawConnect(server.address)
    const idleReader = reader(idle)
    idle.write('x\n')
    await idleReader.until('x\n')
    const slow = await rawConnect(server.address)
    const slowReader = reader(slow)
    slow.write('slow\n')
    await slowReader.until('working\n')
    const closing = server.close({ timeout: 60_000 })
    await closed(idle)
    await firstEnded
    assert.deepEqual(seen, ['iteration ended'], 'the idle handler saw a clean end of its frames')
    release()
    await closing
    await closed(slow)
    assert.equal(slowReader.text(), 'working\ndone closing=true\n')
    assert.deepEqual(seen, ['iteration ended', 'iteration ended'])
  })
})

describe('signal option', () => {
  test('an already aborted signal rejects connect, open, serve at once, without a socket', T, async () => {
    const controller = new AbortController()
    const reason = new Error('go away')
    controller.abort(reason)
    const connects: unknown[] = []
    const original = net.Socket.prototype.connect
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      connects.push(args)
      return (original as (...a: unknown[]) => net.Socket).apply(this, args)
    } as typeof original
    try {
      await assert.rejects(connect({ host: '127.0.0.1', port: 1 }, LineEcho.create, { signal: controller.signal }), (err) => err === reason)
      await assert.rejects(open({ host: '127.0.0.1', port: 1 }, { signal: AbortSignal.abort() }), { name: 'AbortError' })
      await assert.rejects(serve({ host: '127.0.0.1', port: 0, signal: controller.signal }, LineEcho.create), (err) => err === reason)
      const client = new Persistent({ host: '127.0.0.1', port: 1 }, LineEcho.create, { signal: controller.signal })
      assert.equal(client.state, 'stopped')
      await client.stop()
    } finally {
      net.Socket.prototype.connect = original
    }
    assert.equal(connects.length, 0)
  })

  test('aborting a connect in progress rejects with AbortError and frees the socket', T, async () => {
    const silent = await silentServer()
    const controller = new AbortController()
    // TLS to a server that never answers: the connect waits for the handshake until aborted.
    const pending = connect({ host: '127.0.0.1', port: silent.port }, LineEcho.create, { signal: controller.signal, tls: {}, connectTimeout: 60_000 })
    while (silent.accepted.length === 0) await new Promise((resolve) => setImmediate(resolve))
    controller.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    await closed(silent.accepted[0] as net.Socket)
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
    await silent.close()
  })

  test('aborting stops a Persistent and closes a server; no listener is left on the signal', T, async () => {
    const controller = new AbortController()
    const server = await serve({ host: '127.0.0.1', port: 0, signal: controller.signal }, LineEcho.create)
    const client = new Persistent(server.address, LineEcho.create, { signal: controller.signal })
    await once(client, 'connect')
    assert.equal(getEventListeners(controller.signal, 'abort').length, 2)
    controller.abort()
    assert.equal(client.state, 'stopped')
    assert.equal(server.isClosing, true)
    await client.stop()
    await server.close()
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
  })

  test('many operations with one long-lived signal leave no listener on it', T, async () => {
    const controller = new AbortController()
    const signal = controller.signal
    const server = await serve({ host: '127.0.0.1', port: 0 }, LineEcho.create)
    for (let i = 0; i < 50; i++) {
      const stream = await connect(server.address, LineEcho.create, { signal })
      stream.close()
      const conn = await open(server.address, { signal })
      conn.write('ping\r\n')
      await conn.readUntil('\r\n', { max: 100, signal })
      await conn.end()
      const client = new Persistent(server.address, LineEcho.create, { signal })
      await client.stop()
      const other = await serve({ host: '127.0.0.1', port: 0, signal }, LineEcho.create)
      await other.close()
    }
    await assert.rejects(connect({ host: '127.0.0.1', port: 1 }, LineEcho.create, { signal }), { code: 'RS_ERR_CONNECT' })
    assert.equal(getEventListeners(signal, 'abort').length, 0)
    await server.close()
  })
})

describe('socket and listen options', () => {
  test('keepAlive calls setKeepAlive on accepted and connected sockets; off by default', T, async () => {
    const calls: unknown[][] = []
    const original = net.Socket.prototype.setKeepAlive
    net.Socket.prototype.setKeepAlive = function (this: net.Socket, ...args: unknown[]) {
      calls.push(args)
      return (original as (...a: unknown[]) => net.Socket).apply(this, args)
    } as typeof original
    try {
      const server = await serve({ host: '127.0.0.1', port: 0, keepAlive: { initialDelay: 30_000 } }, LineEcho.create)
      const stream = await connect(server.address, LineEcho.create, { keepAlive: true })
      const plain = await connect(server.address, LineEcho.create)
      while (server.connections < 2) await new Promise((resolve) => setImmediate(resolve))
      stream.close()
      plain.close()
      await server.close()
      assert.deepEqual(calls.sort(), [
        [true, 0],
        [true, 30_000],
        [true, 30_000],
      ])
    } finally {
      net.Socket.prototype.setKeepAlive = original
    }
  })

  test('sets the Unix socket mode, readableAll and writableAll', T, async () => {
    const path = join(dir, 'mode.sock')
    const server = await serve({ path, mode: 0o600 }, LineEcho.create)
    assert.equal(statSync(path).mode & 0o777, 0o600)
    await server.close()
    const all = await serve({ path, readableAll: true, writableAll: true }, LineEcho.create)
    assert.equal(statSync(path).mode & 0o066, 0o066)
    await all.close()
  })

  test('ipv6Only on :: refuses IPv4 clients', T, async (t) => {
    let server: Awaited<ReturnType<typeof serve>>
    try {
      server = await serve({ host: '::', port: 0, ipv6Only: true }, LineEcho.create)
    } catch (err) {
      t.skip(`no IPv6 here: ${(err as Error).message}`)
      return
    }
    const port = (server.address as { port: number }).port
    await assert.rejects(connect({ host: '127.0.0.1', port }, LineEcho.create), (err: Error) => (err.cause as NodeJS.ErrnoException).code === 'ECONNREFUSED')
    const v6 = await connect({ host: '::1', port }, LineEcho.create).catch(() => null)
    v6?.close()
    await server.close()
  })

  test('reusePort lets two servers share a port where supported, else is refused with RS_ERR_UNSUPPORTED', T, async () => {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
    const supported = process.platform === 'linux' && (major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12))
    if (!supported) {
      assert.throws(() => serve({ host: '127.0.0.1', port: 0, reusePort: true }, LineEcho.create), { code: 'RS_ERR_UNSUPPORTED', name: 'UnsupportedError' })
      return
    }
    const a = await serve({ host: '127.0.0.1', port: 0, reusePort: true }, LineEcho.create)
    const b = await serve({ host: '127.0.0.1', port: (a.address as { port: number }).port, reusePort: true }, LineEcho.create)
    await a.close()
    await b.close()
  })

  test('refuses bad options with RS_ERR_INVALID_ARG', T, async () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ port: 0, mode: 0o600 }, /options\.mode/],
      [{ path: join(dir, 'x.sock'), ipv6Only: true }, /options\.ipv6Only/],
      [{ port: 0, readableAll: true }, /options\.readableAll/],
      [{ path: join(dir, 'x.sock'), mode: 0o1777 }, /options\.mode/],
      [{ port: 0, keepAlive: 'yes' }, /options\.keepAlive/],
      [{ port: 0, keepAlive: { initialDelay: -1 } }, /options\.keepAlive\.initialDelay/],
      [{ port: 0, signal: {} }, /options\.signal/],
      [{ port: 0, backlog: 0 }, /options\.backlog/],
    ]
    for (const [options, message] of bad) {
      assert.throws(
        () => serve(options as never, LineEcho.create),
        (err: Error & { code?: string }) => err.code === 'RS_ERR_INVALID_ARG' && message.test(err.message),
      )
    }
    assert.throws(() => connect({ host: '127.0.0.1', port: 1 }, LineEcho.create, { signal: 'x' as never }), { code: 'RS_ERR_INVALID_ARG' })
    const server = await serve({ host: '127.0.0.1', port: 0 }, LineEcho.create)
    assert.throws(() => server.close({ idle: 'never' as never }), { code: 'RS_ERR_INVALID_ARG' })
    await server.close()
  })
})
