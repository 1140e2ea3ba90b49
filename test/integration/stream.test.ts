/**
 * Stream and connect() on real sockets: TCP on 127.0.0.1 and Unix paths in the temp directory.
 * Semantics 1, 5, 6, 7 and 10 of issue 2 with a kernel in between; connect errors; resets.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import {
  ClosedError,
  ConnectError,
  connect,
  type Exception,
  HandlerError,
  Intent,
  LimitReachedError,
  type Protocol,
  ReadError,
  type Scope,
  TimeoutError,
  type Transport,
} from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { Collect, countIo, listen } from '../helpers/net.js'
import { Lines, numbered } from '../helpers/protocols.js'
import { activeResources, ResourceTracker } from '../helpers/resources.js'

const T = { timeout: 20_000 }
const tracker = new ResourceTracker()
let baseline: Record<string, number> = {}

before(() => {
  baseline = activeResources()
  tracker.enable()
})

after(() => tracker.disable())

for (const kind of ['tcp', 'unix'] as const) {
  describe(`LineEcho over ${kind}`, () => {
    test('echoes pipelined lines and closes after QUIT', T, async (t) => {
      const srv = await listen(kind, LineEcho.create)
      t.after(() => srv.close())
      const { client, factory } = Collect.factory({ request: `${numbered(20)}QUIT\n` })
      const stream = await connect(srv.address, factory)
      assert.equal(await stream.closed, undefined)
      assert.deepEqual(client.lines, [...numbered(20).split('\n').slice(0, 20), 'BYE'])
      assert.equal(client.exceptions[0]?.code, 'RS_ERR_END_OF_STREAM')
      const { stream: server } = await srv.next()
      assert.equal(await server.closed, undefined)
    })

    test('answers 100 requests sent in one write with one write', T, async (t) => {
      let io: ReturnType<typeof countIo> | undefined
      const srv = await listen(kind, LineEcho.create, {
        prepare: (socket) => {
          io = countIo(socket)
        },
      })
      t.after(() => srv.close())
      const { client, factory } = Collect.factory({ request: `${numbered(100, 'request')}QUIT\n` })
      const stream = await connect(srv.address, factory)
      await stream.closed
      assert.equal(client.lines.length, 101)
      assert.equal(client.lines[99], 'request 99')
      assert.ok(io !== undefined)
      assert.equal(io.reads, 1, 'the kernel delivered the request in one read')
      assert.equal(io.writes, 1, 'all 101 answers left in one write')
    })
  })
}

describe('Transport', () => {
  test('reports the addresses and ports of both ends of a TCP connection', T, async (t) => {
    const seen: (string | number | undefined)[][] = []
    const facts = (tr: Transport): Intent<Protocol> => {
      seen.push([tr.remoteAddress, tr.remotePort, tr.localAddress, tr.localPort])
      return Intent.done()
    }
    const srv = await listen('tcp', facts)
    t.after(() => srv.close())
    const stream = await connect(srv.address, facts)
    await stream.closed
    await (await srv.next()).stream.closed
    const port = (srv.address as { port: number }).port
    const client = seen.find((s) => s[1] === port)
    const server = seen.find((s) => s[3] === port)
    assert.ok(client !== undefined && server !== undefined, JSON.stringify(seen))
    assert.deepEqual(client, ['127.0.0.1', port, '127.0.0.1', server[1]])
    assert.deepEqual(server, ['127.0.0.1', client[3], '127.0.0.1', port])
  })
})

describe('end of stream over a socket (semantic 5)', () => {
  test('lets the server answer after the client half-closes mid-line', T, async (t) => {
    const p = new Lines()
    const srv = await listen('tcp', p.factory)
    t.after(() => srv.close())
    const { client, factory } = Collect.factory({ request: 'whole\npartial', halfClose: true })
    const stream = await connect(srv.address, factory)
    assert.equal(await stream.closed, undefined)
    assert.deepEqual(client.lines, ['whole', 'eof partial'])
    assert.deepEqual(p.bufferedAtException, ['partial'])
    assert.equal(p.exceptions[0]?.code, 'RS_ERR_END_OF_STREAM')
    const { stream: server } = await srv.next()
    assert.equal(await server.closed, undefined)
  })

  test('flushes a large last answer completely to a slow peer before closing', T, async (t) => {
    const SIZE = 16 * 1024 * 1024
    const big: Protocol = {
      bytesRead(tr: Transport, end: number) {
        tr.input.consume(end + 1)
        tr.output.write(Buffer.alloc(SIZE, 'q'))
        return Intent.done()
      },
    }
    const srv = await listen('tcp', () => Intent.of(big).expectDelimiter('\n', { max: 10 }), { lingerTimeout: 50 })
    t.after(() => srv.close())
    const peer = net.connect(srv.address as { host: string; port: number }).pause()
    t.after(() => peer.destroy())
    peer.write('go\n')
    const { stream } = await srv.next()
    // The peer is slower than the linger timeout: it starts reading only after 300 ms.
    const window = new AbortController()
    await Promise.race([stream.closed, delay(300, undefined, { signal: window.signal }).catch(() => {})])
    window.abort()
    let received = 0
    peer.on('data', (chunk: Buffer) => {
      received += chunk.length
    })
    peer.on('error', () => {})
    const closed = new Promise((resolve) => peer.once('close', resolve))
    peer.resume()
    await closed
    assert.equal(received, SIZE, 'the whole answer arrived')
    assert.equal(await stream.closed, undefined)
  })
})

/** Once asked, writes `total` bytes in chunks of `chunk`, each after the previous one is flushed. */
class Flood implements Protocol {
  produced = 0
  readonly #chunk: Buffer
  readonly #total: number
  constructor(total: number, chunk: number) {
    this.#total = total
    this.#chunk = Buffer.alloc(chunk, 'z')
  }
  bytesRead(t: Transport, end: number): Intent<Flood> {
    t.input.consume(end + 1)
    return this.bytesFlushed(t)
  }
  bytesFlushed(t: Transport): Intent<Flood> {
    if (this.produced >= this.#total) return Intent.done()
    t.output.write(this.#chunk)
    this.produced += this.#chunk.length
    return Intent.of(this).expectFlush()
  }
}

describe('pushback over a socket (semantic 6)', () => {
  test('keeps its unwritten output bounded and stops reading while the peer does not read', { timeout: 30_000 }, async (t) => {
    const MB = 1024 * 1024
    const flood = new Flood(64 * MB, MB)
    let io: ReturnType<typeof countIo> | undefined
    const srv = await listen('tcp', () => Intent.of(flood).expectDelimiter('\n', { max: 100 }), {
      prepare: (socket) => {
        io = countIo(socket)
      },
    })
    t.after(() => srv.close())
    const peer = net.connect({ ...(srv.address as { host: string; port: number }) }).pause()
    t.after(() => peer.destroy())
    peer.write('go\nand more requests that must wait\n')
    const { socket } = await srv.next()
    // The peer reads nothing: the server fills the kernel's buffers, then must stop. Watch it
    // until it makes no progress for 200 ms (bounded), checking the bound all along.
    let last = -1
    for (let i = 0; i < 100 && flood.produced !== last; i++) {
      last = flood.produced
      await delay(200)
      assert.ok(socket.writableLength <= MB, `unwritten ${socket.writableLength}`)
    }
    assert.equal(flood.produced, last, 'the server stopped producing')
    t.diagnostic(`the server stopped after ${flood.produced} bytes`)
    assert.ok(flood.produced < 64 * MB, `produced ${flood.produced} bytes for a peer that reads nothing`)
    assert.ok(socket.writableLength > 0, 'the last chunk waits for the peer')
    assert.ok(socket.isPaused(), 'the server does not read while it waits for the flush')
    assert.ok((io?.maxWritable ?? Number.POSITIVE_INFINITY) <= MB)
    // Now the peer reads: everything arrives, the server finishes and closes.
    let received = 0
    peer.on('data', (chunk: Buffer) => {
      received += chunk.length
    })
    const ended = new Promise((resolve) => peer.once('end', resolve))
    peer.resume()
    await ended
    assert.equal(received, 64 * MB)
    assert.ok((io?.maxWritable ?? Number.POSITIVE_INFINITY) <= MB, `max unwritten ${io?.maxWritable}`)
  })

  test('answers every pipelined request with a small output high-water mark', T, async (t) => {
    const srv = await listen('unix', LineEcho.create, { outputHighWaterMark: 1024 })
    t.after(() => srv.close())
    const { client, factory } = Collect.factory({ request: `${numbered(5000)}QUIT\n` })
    const stream = await connect(srv.address, factory)
    assert.equal(await stream.closed, undefined)
    assert.equal(client.lines.length, 5001)
    assert.equal(client.lines[4999], 'line 4999')
  })
})

describe('deadlines over a socket (semantic 7)', () => {
  test('ends a stream whose deadline passes without a timeout handler, with a TimeoutError', T, async (t) => {
    const fatals: Error[] = []
    const idle: Protocol = { bytesRead: () => assert.fail('no input expected'), fatal: (reason) => fatals.push(reason) }
    const srv = await listen('tcp', () => Intent.of(idle).expectBytes(1).timeout(30))
    t.after(() => srv.close())
    const { client, factory } = Collect.factory({ request: '' })
    const stream = await connect(srv.address, factory)
    const { stream: server } = await srv.next()
    const reason = await server.closed
    assert.ok(reason instanceof TimeoutError)
    assert.deepEqual(fatals, [reason])
    assert.equal(await stream.closed, undefined, 'the client saw the server close')
    assert.equal(client.exceptions[0]?.code, 'RS_ERR_END_OF_STREAM')
  })

  test('fires a deadline that moved later at its new time, not at the old one', T, async (t) => {
    let lineAt = Number.NaN
    let firedAt = Number.NaN
    const mover: Protocol = {
      bytesRead(tr: Transport, end: number, scope: Scope) {
        tr.input.consume(end + 1)
        lineAt = scope.now()
        return Intent.of(mover).expectDelimiter('\n', { max: 10 }).timeout(120)
      },
      timeout(_tr: Transport, scope: Scope) {
        firedAt = scope.now()
        return Intent.done()
      },
    }
    const srv = await listen('tcp', () => Intent.of(mover).expectDelimiter('\n', { max: 10 }).timeout(60))
    t.after(() => srv.close())
    const { factory } = Collect.factory({ request: 'x\n' })
    const stream = await connect(srv.address, factory)
    await stream.closed
    assert.ok(firedAt - lineAt >= 120, `fired ${firedAt - lineAt} ms after the line`)
  })

  test('arms no timer beyond what setTimeout can hold for a far or infinite deadline', T, async (t) => {
    const delays: number[] = []
    const original = globalThis.setTimeout
    t.mock.method(globalThis, 'setTimeout', (fn: () => void, ms?: number) => {
      delays.push(ms ?? 0)
      return original(fn, ms)
    })
    const far: Protocol = { bytesRead: () => assert.fail('no input expected') }
    const srv = await listen('tcp', () => Intent.of(far).sleep().deadline(Number.POSITIVE_INFINITY))
    t.after(() => srv.close())
    const peer = net.connect(srv.address as { host: string; port: number })
    t.after(() => peer.destroy())
    await srv.next()
    t.mock.restoreAll()
    assert.ok(
      delays.every((ms) => ms <= 2 ** 31 - 1),
      `setTimeout delays: ${delays.slice(0, 5).join(', ')}`,
    )
  })
})

describe('endings', () => {
  test('resolves closed with the reason after a failure', T, async (t) => {
    const srv = await listen('tcp', new Lines({ max: 10 }).factory)
    t.after(() => srv.close())
    const { client, factory } = Collect.factory({ request: 'far too long for ten bytes\n' })
    const stream = await connect(srv.address, factory)
    const { stream: server } = await srv.next()
    assert.ok((await server.closed) instanceof LimitReachedError)
    const clientEnd = await stream.closed
    // The server destroyed the socket: the client sees an end, or a reset if it was still sending.
    assert.ok(clientEnd === undefined || clientEnd instanceof ReadError, `client ended with ${String(clientEnd)}`)
    assert.deepEqual(client.lines, [])
  })

  test('resolves closed with a ClosedError when closed from outside, and reports it to fatal', T, async (t) => {
    const srv = await listen('unix', LineEcho.create)
    t.after(() => srv.close())
    const { client, factory } = Collect.factory({ request: '' })
    const stream = await connect(srv.address, factory)
    stream.close()
    const reason = await stream.closed
    assert.ok(reason instanceof ClosedError)
    assert.equal(reason.code, 'RS_ERR_CLOSED')
    assert.deepEqual(client.fatals, [reason])
    const { stream: server } = await srv.next()
    assert.equal(await server.closed, undefined, 'the server sees an end of stream and closes quietly')
  })

  test('gives the same closed result when first asked for after the socket closed', T, async (t) => {
    const srv = await listen('tcp', LineEcho.create)
    t.after(() => srv.close())
    const { factory } = Collect.factory({ request: '' })
    const stream = await connect(srv.address, factory)
    const socketClosed = new Promise((resolve) => stream.socket.once('close', resolve))
    stream.close()
    await socketClosed
    await delay(10) // well after every 'close' listener ran
    const reason = await stream.closed
    assert.ok(reason instanceof ClosedError, `closed resolved with ${String(reason)}`)
    assert.equal(await stream.closed, reason, 'the same answer every time')
  })

  test('ends only the connection whose handler throws, and reports it to fatal', T, async (t) => {
    const fatals: Error[] = []
    /** Lines that throws on "boom". */
    class Fragile extends Lines {
      override bytesRead(tr: Transport, end: number): Intent<Lines> {
        if (tr.input.toString('utf8', 0, end) === 'boom') throw new Error('boom')
        return super.bytesRead(tr, end)
      }
      override fatal(reason: Error): void {
        fatals.push(reason)
      }
    }
    const fragile = (): Intent<Protocol> => new Fragile().read()
    const srv = await listen('tcp', fragile)
    t.after(() => srv.close())
    const a = Collect.factory({ request: 'a1\nboom\n' })
    const streamA = await connect(srv.address, a.factory)
    const { stream: serverA } = await srv.next()
    const reason = await serverA.closed
    assert.ok(reason instanceof HandlerError)
    assert.equal((reason.cause as Error).message, 'boom')
    assert.deepEqual(fatals, [reason])
    await streamA.closed
    const b = Collect.factory({ request: 'b1\nb2\n', halfClose: true })
    const streamB = await connect(srv.address, b.factory)
    assert.equal(await streamB.closed, undefined)
    assert.deepEqual(b.client.lines, ['b1', 'b2', 'eof '], 'the next connection is served as usual')
  })

  test('ends the connection whose factory throws', T, async (t) => {
    const srv = await listen('unix', () => {
      throw new Error('no state for you')
    })
    t.after(() => srv.close())
    const { client, factory } = Collect.factory({ request: '' })
    const stream = await connect(srv.address, factory)
    const { stream: server } = await srv.next()
    const reason = await server.closed
    assert.ok(reason instanceof HandlerError)
    assert.equal(reason.handler, 'factory')
    const clientEnd = await stream.closed
    assert.ok(clientEnd === undefined || clientEnd instanceof ReadError, `client ended with ${String(clientEnd)}`)
    assert.deepEqual(client.lines, [])
  })

  test('reaches exception with a ReadError when the peer resets the connection', T, async (t) => {
    const p = new Lines()
    const srv = await listen('tcp', p.factory, {
      prepare: (socket) => {
        socket.once('data', () => peer.resetAndDestroy())
      },
    })
    t.after(() => srv.close())
    const peer = net.connect(srv.address as { host: string; port: number })
    peer.write('half a line')
    const { stream } = await srv.next()
    const reason = await stream.closed
    assert.ok(reason instanceof ReadError, `ended with ${String(reason)}`)
    assert.equal(reason.code, 'RS_ERR_READ')
    assert.equal((reason.cause as NodeJS.ErrnoException).code, 'ECONNRESET')
    assert.deepEqual(
      p.exceptions.map((e: Exception) => e.code),
      ['RS_ERR_READ'],
    )
    assert.deepEqual(p.bufferedAtException, ['half a line'])
  })
})

describe('connect()', () => {
  test('rejects with a ConnectError when the port is closed', T, async () => {
    const probe = net.createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as net.AddressInfo
    await new Promise((resolve) => probe.close(resolve))
    await assert.rejects(connect({ host: '127.0.0.1', port }, LineEcho.create), (err: unknown) => {
      assert.ok(err instanceof ConnectError)
      assert.equal(err.code, 'RS_ERR_CONNECT')
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED')
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`))
      return true
    })
  })

  test('rejects with a ConnectError when the Unix path does not exist', T, async () => {
    await assert.rejects(connect({ path: '/nonexistent/rotor-stream.sock' }, LineEcho.create), (err: unknown) => {
      assert.ok(err instanceof ConnectError)
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOENT')
      return true
    })
  })

  test('rejects with a ConnectError after connectTimeout when the connection hangs', T, async (t) => {
    // No route can be made to hang here (the sandbox answers every SYN): a socket that never connects stands in.
    let hanging: net.Socket | undefined
    t.mock.method(net, 'connect', () => {
      hanging = new net.Socket()
      return hanging
    })
    const started = performance.now()
    await assert.rejects(connect({ host: '127.0.0.1', port: 9 }, LineEcho.create, { connectTimeout: 50 }), (err: unknown) => {
      assert.ok(err instanceof ConnectError)
      assert.match(err.message, /timed out after 50 ms/)
      return true
    })
    assert.ok(performance.now() - started >= 45)
    assert.equal(hanging?.destroyed, true, 'the hanging socket is destroyed')
  })

  test('rejects invalid arguments synchronously', T, () => {
    assert.throws(() => connect({ host: '127.0.0.1', port: 0 }, LineEcho.create), { code: 'RS_ERR_INVALID_ARG' })
    assert.throws(() => connect({ host: '127.0.0.1', port: 70000 }, LineEcho.create), { code: 'RS_ERR_INVALID_ARG' })
    assert.throws(() => connect({ host: '127.0.0.1', port: 1 }, LineEcho.create, { connectTimeout: 0 }), { code: 'RS_ERR_INVALID_ARG' })
  })

  test('rejects invalid stream options before connecting', T, async (t) => {
    let fake: net.Socket | undefined
    t.mock.method(net, 'connect', () => {
      fake = new net.Socket()
      return fake
    })
    let pending: Promise<unknown> | undefined
    t.after(async () => {
      await pending?.catch(() => {})
      fake?.destroy()
    })
    assert.throws(
      () => {
        pending = connect({ host: '127.0.0.1', port: 9 }, LineEcho.create, { lingerTimeout: -1, connectTimeout: 20 })
      },
      { code: 'RS_ERR_INVALID_ARG' },
    )
  })
})

describe('resources (semantics 7 and 10)', () => {
  test('leaves no socket, server, timer or listener behind once every stream ended', T, async () => {
    const srv = await listen('tcp', LineEcho.create)
    const unix = await listen('unix', new Lines().factory)
    const clients = await Promise.all([
      connect(srv.address, Collect.factory({ request: 'a\nQUIT\n' }).factory),
      connect(srv.address, Collect.factory({ request: 'half', halfClose: true }).factory),
      connect(unix.address, Collect.factory({ request: 'b\n', halfClose: true }).factory),
    ])
    await Promise.all(clients.map((c) => c.closed))
    await srv.close()
    await unix.close()
    assert.deepEqual(await tracker.leftovers(), [])
    assert.deepEqual(activeResources(), baseline)
  })

  test('has left nothing behind after every test of this file', T, async () => {
    assert.deepEqual(await tracker.leftovers(), [])
    assert.deepEqual(activeResources(), baseline)
  })
})
