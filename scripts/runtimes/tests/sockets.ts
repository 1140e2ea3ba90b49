/**
 * Stream and connect() on real sockets, TCP on 127.0.0.1 and Unix paths: pipelining, half-close,
 * limits, deadlines, pushback, connect errors, resets, closing from outside, tracing channels.
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import net from 'node:net'
import { ClosedError, ConnectError, connect, Intent, type Protocol, ReadError, Stream, type Transport } from 'rotor-stream'
import { LineEcho } from '../../../examples/line-echo.js'
import { Collect, closed, countIo, freePort, listen, rawConnect, readAll, unixPath } from '../../../test/helpers/net.js'
import { Lines, numbered } from '../../../test/helpers/protocols.js'
import { sleep, until } from '../../../test/helpers/wait.js'
import { describe, test } from '../kit.js'
import { Flood } from './helpers.js'

for (const kind of ['tcp', 'unix'] as const) {
  describe(`sockets over ${kind}`, () => {
    test('LineEcho answers pipelined lines and closes after QUIT', async (t) => {
      const srv = await listen(kind, LineEcho.create)
      t.after(() => srv.close())
      const { client, factory } = Collect.factory({ request: `${numbered(20)}QUIT\n` })
      const stream = await connect(srv.address, factory)
      assert.equal(await stream.closed, undefined)
      assert.deepEqual(client.lines, [...numbered(20).split('\n').slice(0, 20), 'BYE'])
      assert.equal(client.exceptions[0]?.code, 'RS_ERR_END_OF_STREAM')
      assert.equal(await (await srv.next()).stream.closed, undefined)
    })

    test('answers all the requests of one read with one write', async (t) => {
      let io: ReturnType<typeof countIo> | undefined
      const srv = await listen(kind, LineEcho.create, {
        prepare: (socket) => {
          io = countIo(socket)
        },
      })
      t.after(() => srv.close())
      const { client, factory } = Collect.factory({ request: `${numbered(100, 'request')}QUIT\n` })
      await (await connect(srv.address, factory)).closed
      assert.equal(client.lines.length, 101)
      assert.ok(io !== undefined && io.reads > 0)
      assert.ok(io.writes <= io.reads, `${io.writes} writes for ${io.reads} reads`)
    })

    test('half-close: the server answers after the client sent FIN mid-line', async (t) => {
      const p = new Lines()
      const srv = await listen(kind, p.factory)
      t.after(() => srv.close())
      const { client, factory } = Collect.factory({ request: 'whole\npartial', halfClose: true })
      const stream = await connect(srv.address, factory)
      assert.equal(await stream.closed, undefined)
      assert.deepEqual(client.lines, ['whole', 'eof partial'])
      assert.equal(p.exceptions[0]?.code, 'RS_ERR_END_OF_STREAM')
      assert.equal(await (await srv.next()).stream.closed, undefined)
    })

    test('limits: a line over max gets its answer, then the connection closes', async (t) => {
      const srv = await listen(kind, () => new Lines({ max: 16, tooLong: 'ERR too long\n' }).read())
      t.after(() => srv.close())
      const socket = await rawConnect(srv.address)
      socket.write(`ok\n${'x'.repeat(100)}\n`)
      assert.equal((await readAll(socket)).toString(), 'ok\nERR too long\n')
    })

    test('deadlines: an idle connection is closed at its deadline', async (t) => {
      const srv = await listen(kind, () => new Lines({ timeout: 200, idle: 'idle\n' }).read())
      t.after(() => srv.close())
      const socket = await rawConnect(srv.address)
      const started = performance.now()
      socket.write('hi\n')
      const got = await readAll(socket)
      const elapsed = performance.now() - started
      assert.equal(got.toString(), 'hi\nidle\n')
      assert.ok(elapsed >= 180 && elapsed < 3000, `closed after ${elapsed} ms`)
    })

    test('pushback: expectFlush keeps the unwritten output bounded for a peer that does not read', async (t) => {
      const flood = new Flood(16 << 20, 64 << 10)
      const srv = await listen(kind, () => Intent.of(flood).expectDelimiter('\n', { max: 10 }))
      t.after(() => srv.close())
      const peer = await rawConnect(srv.address)
      peer.pause()
      peer.write('go\n')
      await sleep(300)
      assert.ok(flood.produced < 16 << 20, `produced ${flood.produced} bytes while the peer read nothing`)
      assert.ok(flood.maxUnwritten <= 2 * (64 << 10), `writableLength reached ${flood.maxUnwritten}`)
      assert.equal((await readAll(peer, 10_000)).length, 16 << 20)
    })

    test('pushback: over outputHighWaterMark the server stops reading pipelined requests', async (t) => {
      const p = new Lines({ reply: (line) => `${line.repeat(1000)}\n` }) // 1 KB answer per 2-byte request
      const srv = await listen(kind, p.factory, { outputHighWaterMark: 64 << 10 })
      t.after(() => srv.close())
      const peer = await rawConnect(srv.address)
      peer.pause()
      const requests = 20_000 // 20 MB of answers: more than the kernel buffers
      peer.write('x\n'.repeat(requests))
      await sleep(400)
      assert.ok(p.lines.length < requests, `answered all ${requests} while the peer read nothing`)
      const server = srv.accepted[0]?.socket as net.Socket
      assert.ok(server.writableLength < 1 << 20, `writableLength ${server.writableLength}`)
      peer.end()
      assert.equal((await readAll(peer, 20_000)).length, requests * 1001 + 'eof \n'.length)
    })

    test('connect() to nothing fails with a ConnectError carrying the cause', async () => {
      const address = kind === 'tcp' ? { host: '127.0.0.1', port: await freePort() } : { path: unixPath() }
      const err = await connect(address, () => new Lines().read()).then(
        () => assert.fail('connected'),
        (e: unknown) => e,
      )
      assert.ok(err instanceof ConnectError, String(err))
      const code = (err.cause as { code?: string } | undefined)?.code
      assert.ok(code === 'ECONNREFUSED' || code === 'ENOENT', `cause code ${code}`)
    })

    test('Stream.close() from outside: fatal gets a ClosedError, the peer sees the close', async (t) => {
      const p = new Lines()
      const srv = await listen(kind, p.factory)
      t.after(() => srv.close())
      const peer = await rawConnect(srv.address)
      peer.on('error', () => {})
      const { stream } = await srv.next()
      stream.close()
      const reason = await stream.closed
      assert.ok(reason instanceof ClosedError)
      assert.ok(p.fatals[0] instanceof ClosedError)
      await closed(peer)
    })
  })
}

describe('sockets over tcp', () => {
  test('Stream.attach switches a socket accepted without allowHalfOpen to half-open: it still answers after FIN', async (t) => {
    const p = new Lines()
    const server = net.createServer((socket) => Stream.attach(socket, p.factory))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const { port } = server.address() as net.AddressInfo
    const { client, factory } = Collect.factory({ request: 'whole\npartial', halfClose: true })
    assert.equal(await (await connect({ host: '127.0.0.1', port }, factory)).closed, undefined)
    assert.deepEqual(client.lines, ['whole', 'eof partial'])
  })

  test('halfClose(): the server sends FIN and keeps reading what the client still sends', async (t) => {
    const seen: string[] = []
    const reader: Protocol = {
      bytesRead(tr: Transport, end: number) {
        seen.push(tr.input.toString('latin1', 0, end))
        tr.input.consume(end + 1)
        return Intent.of(reader).expectDelimiter('\n', { max: 100 })
      },
    }
    const srv = await listen('tcp', (tr) => {
      tr.output.write('goodbye\n')
      tr.halfClose()
      return Intent.of(reader).expectDelimiter('\n', { max: 100 })
    })
    t.after(() => srv.close())
    const peer = net.connect({ ...(srv.address as { host: string; port: number }), allowHalfOpen: true })
    let got = ''
    peer.on('data', (chunk: Buffer) => {
      got += chunk.toString()
    })
    await new Promise<void>((resolve) => peer.once('end', () => resolve()))
    assert.equal(got, 'goodbye\n')
    peer.end('after your FIN\n')
    const { stream } = await srv.next()
    assert.equal(await stream.closed, undefined)
    assert.deepEqual(seen, ['after your FIN'])
  })

  test('lingering close: a peer that never closes is cut off lingerTimeout after the last answer', async (t) => {
    const srv = await listen('tcp', LineEcho.create, { lingerTimeout: 200 })
    t.after(() => srv.close())
    const peer = net.connect({ ...(srv.address as { host: string; port: number }), allowHalfOpen: true })
    t.after(() => peer.destroy())
    peer.on('error', () => {})
    peer.write('QUIT\n')
    const got = await new Promise<string>((resolve) => peer.once('data', (chunk: Buffer) => resolve(chunk.toString())))
    const started = performance.now()
    assert.equal(got, 'BYE\n')
    assert.equal(await (await srv.next()).stream.closed, undefined)
    const elapsed = performance.now() - started
    assert.ok(elapsed >= 150 && elapsed < 3000, `the server closed ${elapsed} ms after its last answer`)
  })

  test('connect() resolves host names with the lookup option', async (t) => {
    const srv = await listen('tcp', LineEcho.create)
    t.after(() => srv.close())
    const names: string[] = []
    const lookup: net.LookupFunction = (host, options, callback) => {
      names.push(host)
      if (options.all === true) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }])
      else callback(null, '127.0.0.1', 4)
    }
    const { client, factory } = Collect.factory({ request: 'QUIT\n' })
    const stream = await connect({ host: 'rotor-stream.invalid', port: (srv.address as { port: number }).port }, factory, { lookup })
    assert.equal(await stream.closed, undefined)
    assert.deepEqual(client.lines, ['BYE'])
    assert.deepEqual(names, ['rotor-stream.invalid'])
  })

  test('a reset by the peer is a ReadError (ECONNRESET) in exception()', async (t) => {
    const p = new Lines()
    const srv = await listen('tcp', p.factory)
    t.after(() => srv.close())
    const peer = await rawConnect(srv.address)
    if (typeof peer.resetAndDestroy !== 'function') throw new Error('socket.resetAndDestroy() is missing')
    peer.write('partial')
    const { stream } = await srv.next()
    await until(() => stream.input.length > 0, 'the partial line')
    peer.resetAndDestroy()
    const reason = await stream.closed
    assert.ok(reason instanceof ReadError, String(reason))
    assert.equal((reason.cause as { code?: string }).code, 'ECONNRESET')
  })

  test('Transport reports the addresses and ports of both ends', async (t) => {
    const seen: (string | number | undefined)[][] = []
    const facts = (tr: Transport): Intent<never> => {
      seen.push([tr.remoteAddress, tr.remotePort, tr.localAddress, tr.localPort])
      return Intent.done()
    }
    const srv = await listen('tcp', facts)
    t.after(() => srv.close())
    await (await connect(srv.address, facts)).closed
    await (await srv.next()).stream.closed
    const port = (srv.address as { port: number }).port
    const client = seen.find((s) => s[1] === port)
    const server = seen.find((s) => s[3] === port)
    assert.ok(client !== undefined && server !== undefined, JSON.stringify(seen))
    assert.deepEqual(client, ['127.0.0.1', port, '127.0.0.1', server[1]])
    assert.deepEqual(server, ['127.0.0.1', client[3], '127.0.0.1', port])
  })

  test('tracing channels publish stream open, exception and close', async (t) => {
    const seen: string[] = []
    const names = ['open', 'exception', 'close'] as const
    const listeners = names.map((name) => {
      const fn = (): void => {
        seen.push(name)
      }
      diagnostics.subscribe(`rotor-stream:stream:${name}`, fn)
      return () => diagnostics.unsubscribe(`rotor-stream:stream:${name}`, fn)
    })
    t.after(() => {
      for (const off of listeners) off()
    })
    const srv = await listen('tcp', () => new Lines().read())
    t.after(() => srv.close())
    const { factory } = Collect.factory({ request: 'a\n', halfClose: true })
    await (await connect(srv.address, factory)).closed
    await (await srv.next()).stream.closed
    for (const name of names) assert.ok(seen.includes(name), `${name} in ${seen.join(',')}`)
  })
})
