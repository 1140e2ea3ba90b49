/**
 * `Intent.detach` and `conn.detach()`: an HTTP-like server on the library hands an
 * `Upgrade: websocket` connection, with the bytes that came behind the request, to plain
 * `net` code or to another rotor-stream protocol; the library keeps no listener, timer or count.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { describe, test } from 'node:test'
import tls from 'node:tls'
import { type Detached, handleAsync, Intent, type Protocol, type Server, Stream, serve, type Transport } from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { rawConnect } from '../helpers/net.js'
import { testCerts, tlsUnavailable } from '../helpers/tls-certs.js'
import { until } from '../helpers/wait.js'

const TIMEOUT = { timeout: 15_000 }
const REQUEST = 'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
/** What the peer sends right behind the request: "frames" of the new protocol, one per line. */
const FRAMES = 'frame 1\nframe 2\n'

/** Reads the request head; on `Upgrade: websocket` answers 101 and detaches. */
class HttpUpgrade implements Protocol {
  readonly fatals: Error[] = []
  readonly exceptions: unknown[] = []
  readonly #onDetach: (d: Detached) => void
  constructor(onDetach: (d: Detached) => void) {
    this.#onDetach = onDetach
  }
  bytesRead(t: Transport, end: number): Intent<HttpUpgrade> {
    const head = t.input.toString('latin1', 0, end)
    t.input.consume(end + 4)
    if (!/\r\nUpgrade: websocket/i.test(head)) {
      t.output.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')
      return Intent.done()
    }
    t.output.write(SWITCHING)
    return Intent.detach(this.#onDetach)
  }
  exception(_t: Transport, reason: Error): Intent<HttpUpgrade> {
    this.exceptions.push(reason)
    return Intent.error(reason)
  }
  fatal(reason: Error): void {
    this.fatals.push(reason)
  }
}

/** The new owner, plain `net` code: echoes each line as `ws <line>`, starting with the leftover bytes. */
function lineEchoOnSocket({ socket, input }: Detached): void {
  let pending = ''
  const onBytes = (bytes: Buffer): void => {
    pending += bytes.toString('latin1')
    for (let at = pending.indexOf('\n'); at >= 0; at = pending.indexOf('\n')) {
      socket.write(`ws ${pending.slice(0, at)}\n`)
      pending = pending.slice(at + 1)
    }
  }
  socket.on('error', () => {})
  socket.on('end', () => socket.end())
  onBytes(input)
  socket.on('data', onBytes)
  socket.resume()
}

/** The listener counts of a socket accepted by a plain `net` server: what a socket has before the library touches it. */
async function baselineListeners(): Promise<Record<string, number>> {
  const server = net.createServer({ allowHalfOpen: true })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const accepted = once(server, 'connection')
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  const [socket] = (await accepted) as [net.Socket]
  const counts = listenerCounts(socket)
  client.destroy()
  socket.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return counts
}

function listenerCounts(socket: net.Socket): Record<string, number> {
  return Object.fromEntries(['data', 'end', 'error', 'close', 'readable', 'timeout', 'drain'].map((e) => [e, socket.listenerCount(e)]))
}

/** Reads from `socket` until `want` bytes came. */
async function readUntilLength(socket: net.Socket, want: number): Promise<string> {
  let got = ''
  for await (const chunk of socket) {
    got += (chunk as Buffer).toString('latin1')
    if (got.length >= want) break
  }
  return got
}

describe('detach: hand a connection off with its leftover bytes', () => {
  test('an Upgrade: websocket request with the first frames in the same packet: net code continues, under splits', TIMEOUT, async (t) => {
    const protocols: HttpUpgrade[] = []
    let handoffs: Detached[] = []
    const server: Server = await serve({ host: '127.0.0.1', port: 0 }, () => {
      const p = new HttpUpgrade((d) => {
        handoffs.push(d)
        lineEchoOnSocket(d)
      })
      protocols.push(p)
      return Intent.of(p).expectDelimiter('\r\n\r\n', { max: 8192 })
    })
    t.after(() => server.close({ timeout: 0 }))
    const whole = REQUEST + FRAMES
    const expected = `${SWITCHING}ws frame 1\nws frame 2\n`
    // Whole, and cut at every point around the end of the head and inside the frames.
    const cuts = [whole.length, ...Array.from({ length: FRAMES.length + 5 }, (_, i) => REQUEST.length - 4 + i)]
    for (const cut of cuts) {
      handoffs = []
      const client = await rawConnect(server.address)
      client.setNoDelay(true)
      const reply = readUntilLength(client, expected.length)
      client.write(whole.slice(0, cut))
      if (cut < whole.length) {
        await until(() => handoffs.length === 1 || cut < REQUEST.length, 'the detach')
        client.write(whole.slice(cut))
      }
      assert.equal(await reply, expected, `cut at ${cut}`)
      const handoff = handoffs[0] as Detached
      // Bytes behind the head that came with it are in `input`, never lost, never duplicated.
      assert.ok(FRAMES.startsWith(handoff.input.toString('latin1')), `cut at ${cut}: ${JSON.stringify(handoff.input.toString())}`)
      if (cut === whole.length) assert.equal(handoff.input.toString(), FRAMES)
      client.destroy()
    }
    assert.ok(protocols.every((p) => p.fatals.length === 0 && p.exceptions.length === 0))
  })

  test(
    'the library forgets the connection: no listener, no timer, not counted, close() does not wait; later errors stay with the new owner',
    TIMEOUT,
    async (t) => {
      const baseline = await baselineListeners()
      let handoff: Detached | undefined
      const protocol = new HttpUpgrade((d) => {
        handoff = d
      })
      const server = await serve({ host: '127.0.0.1', port: 0 }, () => Intent.of(protocol).expectDelimiter('\r\n\r\n', { max: 8192 }).timeout(60_000))
      const client = await rawConnect(server.address)
      client.write(REQUEST)
      await until(() => handoff !== undefined, 'the detach')
      const socket = (handoff as Detached).socket
      assert.deepEqual(listenerCounts(socket), baseline)
      assert.equal(socket.isPaused(), true)
      assert.equal(server.connections, 0)
      // The library's deadline (60 s) is gone with it: close() returns at once, the socket stays up.
      await server.close({ timeout: 60_000 })
      assert.equal(socket.destroyed, false)
      // An error on the socket now is the new owner's alone.
      const errors: Error[] = []
      socket.on('error', (err) => errors.push(err))
      const closedNow = new Promise((resolve) => socket.once('close', resolve))
      socket.destroy(new Error('boom'))
      await closedNow
      assert.deepEqual(
        errors.map((e) => e.message),
        ['boom'],
      )
      assert.deepEqual(protocol.fatals, [])
      assert.deepEqual(protocol.exceptions, [])
      client.destroy()
      t.after(() => client.destroy())
    },
  )

  test('the stream’s closed resolves cleanly; switching to another rotor-stream protocol on the same socket', TIMEOUT, async (t) => {
    let next: Stream | undefined
    let first: Stream | undefined
    const server = await serve({ host: '127.0.0.1', port: 0 }, () =>
      Intent.of(
        new HttpUpgrade(({ socket, input }) => {
          // Adopting: the leftover bytes go back in front of the socket's input, then a new stream runs on it.
          if (input.length > 0) socket.unshift(input)
          next = Stream.attach(socket, LineEcho.create)
        }),
      ).expectDelimiter('\r\n\r\n', { max: 8192 }),
    )
    t.after(() => server.close({ timeout: 0 }))
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel')
    const onOpen = (message: unknown): void => {
      first ??= (message as { stream: Stream }).stream
    }
    subscribe('rotor-stream:stream:open', onOpen)
    t.after(() => unsubscribe('rotor-stream:stream:open', onOpen))
    const client = await rawConnect(server.address)
    const expected = `${SWITCHING}frame 1\nframe 2\n`
    const reply = readUntilLength(client, expected.length)
    client.write(REQUEST + FRAMES)
    assert.equal(await reply, expected)
    assert.equal(await (first as Stream).closed, undefined)
    assert.ok(next !== undefined && !next.isEnded)
    client.end()
    assert.equal(await next.closed, undefined)
  })

  test('async API: await conn.detach() gives the socket and the bytes read ahead', TIMEOUT, async (t) => {
    let handoff: Detached | undefined
    const server = await serve(
      { host: '127.0.0.1', port: 0 },
      handleAsync(async (conn) => {
        await conn.readUntil('\r\n\r\n', { max: 8192 })
        conn.write(SWITCHING)
        handoff = await conn.detach()
        lineEchoOnSocket(handoff)
      }),
    )
    t.after(() => server.close({ timeout: 0 }))
    const client = await rawConnect(server.address)
    const expected = `${SWITCHING}ws frame 1\nws frame 2\n`
    const reply = readUntilLength(client, expected.length)
    client.write(REQUEST + FRAMES)
    assert.equal(await reply, expected)
    assert.equal(server.connections, 0)
    client.destroy()
  })

  const unavailable = tlsUnavailable()
  test('over serve({ tls }): the TLS socket is handed off and the server forgets it', { ...TIMEOUT, skip: unavailable ?? false }, async (t) => {
    const certs = testCerts()
    let handoff: Detached | undefined
    const server = await serve({ host: '127.0.0.1', port: 0, tls: { key: certs.server.key, cert: certs.server.cert } }, () =>
      Intent.of(
        new HttpUpgrade((d) => {
          handoff = d
          lineEchoOnSocket(d)
        }),
      ).expectDelimiter('\r\n\r\n', { max: 8192 }),
    )
    t.after(() => server.close({ timeout: 0 }))
    const { port } = server.address as { port: number }
    const client = tls.connect({ host: '127.0.0.1', port, ca: certs.ca, servername: 'localhost' })
    await once(client, 'secureConnect')
    const expected = `${SWITCHING}ws frame 1\nws frame 2\n`
    const reply = readUntilLength(client, expected.length)
    client.write(REQUEST + FRAMES)
    assert.equal(await reply, expected)
    assert.ok(((handoff as Detached).socket as tls.TLSSocket).encrypted)
    await until(() => server.connections === 0, 'the server to forget the connection')
    client.destroy()
  })
})
