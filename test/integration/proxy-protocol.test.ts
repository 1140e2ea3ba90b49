import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { after, before, describe, test } from 'node:test'
import tls from 'node:tls'
import { InvalidArgumentError, ProxyProtocolError, type Server, type ServerErrorMessage, serve } from 'rotor-stream'
import { closed, rawConnect, readAll } from '../helpers/net.js'
import { v1Header, v2Header } from '../helpers/proxy.js'
import { activeBeyond } from '../helpers/resources.js'
import { serverTls } from '../helpers/tls.js'
import { type TestCerts, testCerts, tlsUnavailable } from '../helpers/tls-certs.js'
import { until } from '../helpers/wait.js'
import { parseWhoAmI, WhoAmI } from '../helpers/who-am-i.js'

const TIMEOUT = { timeout: 15_000 }
const LOCALHOST = '127.0.0.1'
const baseline = process.getActiveResourcesInfo()
const unavailable = tlsUnavailable()
if (unavailable !== null && process.env.CI) throw new Error(`TLS tests cannot run: ${unavailable}`)
let certs: TestCerts

before(() => {
  if (unavailable === null) certs = testCerts()
})

/** Collects what the server reports on rotor-stream:server:error while `fn` runs. */
async function serverErrors(server: Server, fn: () => Promise<void>): Promise<Error[]> {
  const errors: Error[] = []
  const listener = (message: unknown): void => {
    const m = message as ServerErrorMessage
    if (m.server === server) errors.push(m.error)
  }
  subscribe('rotor-stream:server:error', listener)
  try {
    await fn()
  } finally {
    unsubscribe('rotor-stream:server:error', listener)
  }
  return errors
}

async function writeBytewise(socket: import('node:net').Socket, bytes: Buffer): Promise<void> {
  for (const byte of bytes) {
    socket.write(Buffer.from([byte]))
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

describe('serve({ proxyProtocol })', () => {
  test('a v1 header gives the protocol the client address and port; the bytes after it reach the protocol', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, proxyProtocol: true }, WhoAmI.create)
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    socket.end(Buffer.concat([v1Header('203.0.113.9', '198.51.100.1', 51234, 443), Buffer.from('hello\n')]))
    const seen = parseWhoAmI((await readAll(socket)).toString())
    assert.deepEqual(seen, {
      remote: '203.0.113.9',
      remotePort: '51234',
      local: '198.51.100.1',
      localPort: '443',
      version: 'v1',
      alpn: '-',
      authority: '-',
      echo: 'hello',
    })
  })

  test('a v2 header sent byte by byte, with TLVs, IPv6', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, proxyProtocol: { timeout: 10_000 } }, WhoAmI.create)
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    const header = v2Header({
      src: '2001:db8::5',
      dst: '2001:db8::1',
      sport: 7,
      dport: 8,
      tlvs: [
        { type: 0x01, value: Buffer.from('h2') },
        { type: 0x02, value: Buffer.from('example.org') },
      ],
      crc: true,
    })
    const reply = readAll(socket)
    await writeBytewise(socket, Buffer.concat([header, Buffer.from('hi\n')]))
    socket.end()
    const seen = parseWhoAmI((await reply).toString())
    assert.deepEqual(seen, {
      remote: '2001:db8::5',
      remotePort: '7',
      local: '2001:db8::1',
      localPort: '8',
      version: 'v2',
      alpn: 'h2',
      authority: 'example.org',
      echo: 'hi',
    })
  })

  test('a v2 LOCAL header (a health check) keeps the real addresses', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, proxyProtocol: true }, WhoAmI.create)
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    const { localAddress, localPort } = socket
    socket.end(Buffer.concat([v2Header({ command: 'local' }), Buffer.from('x\n')]))
    const seen = parseWhoAmI((await readAll(socket)).toString())
    assert.equal(seen.remote, localAddress)
    assert.equal(seen.remotePort, String(localPort))
    assert.equal(seen.version, 'v2')
  })

  test('TLS: the header is read from the raw socket before the handshake, then TLS runs on the rest', { ...TIMEOUT, skip: unavailable ?? false }, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs), proxyProtocol: true }, WhoAmI.create)
    t.after(() => server.close({ timeout: 0 }))
    for (const header of [v1Header('192.0.2.44', '192.0.2.1', 1000, 443), v2Header({ src: '192.0.2.44', dst: '192.0.2.1', sport: 1000, dport: 443 })]) {
      const raw = await rawConnect(server.address)
      raw.write(header)
      const secure = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' })
      await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject))
      const reply = readAll(secure)
      secure.end('over tls\n')
      const seen = parseWhoAmI((await reply).toString())
      assert.equal(seen.remote, '192.0.2.44')
      assert.equal(seen.remotePort, '1000')
      assert.equal(seen.echo, 'over tls')
    }
  })

  test('TLS: a client that sends its ClientHello without a header is refused as malformed', { ...TIMEOUT, skip: unavailable ?? false }, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs), proxyProtocol: true }, WhoAmI.create)
    t.after(() => server.close({ timeout: 0 }))
    const errors = await serverErrors(server, async () => {
      const secure = tls.connect({ host: LOCALHOST, port: (server.address as { port: number }).port, ca: certs.ca, servername: 'localhost' })
      const failed = await new Promise<Error | null>((resolve) => secure.once('secureConnect', () => resolve(null)).once('error', resolve))
      assert.ok(failed !== null, 'the handshake must fail')
      secure.destroy()
    })
    assert.equal(errors.length, 1)
    assert.ok(errors[0] instanceof ProxyProtocolError)
    assert.equal((errors[0] as ProxyProtocolError).reason, 'malformed')
  })

  test('refuses garbage, a peer that closes early, a header too large and a silent peer, each with its reason', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, proxyProtocol: { timeout: 200, maxHeaderSize: 300 } }, WhoAmI.create)
    t.after(() => server.close({ timeout: 0 }))
    const errors = await serverErrors(server, async () => {
      const garbage = await rawConnect(server.address)
      garbage.write('GET / HTTP/1.1\r\n\r\n')
      assert.equal((await readAll(garbage)).length, 0, 'nothing is answered')
      const early = await rawConnect(server.address)
      early.end('PROXY TCP4 1.2.3.4')
      await readAll(early)
      const large = await rawConnect(server.address)
      large.write(v2Header({ src: '1.2.3.4', tlvs: [{ type: 0xe0, value: Buffer.alloc(400) }] }).subarray(0, 16))
      await readAll(large)
      const silent = await rawConnect(server.address)
      await closed(silent) // no timed assertion: the server closes it, whenever its deadline passes
    })
    assert.deepEqual(
      errors.map((e) => [e instanceof ProxyProtocolError, (e as ProxyProtocolError).code, (e as ProxyProtocolError).reason]),
      [
        [true, 'RS_ERR_PROXY_PROTOCOL', 'malformed'],
        [true, 'RS_ERR_PROXY_PROTOCOL', 'closed'],
        [true, 'RS_ERR_PROXY_PROTOCOL', 'too-large'],
        [true, 'RS_ERR_PROXY_PROTOCOL', 'timeout'],
      ],
    )
    await until(() => server.connections === 0, 'the server forgets the refused connections')
  })

  test('close() ends connections still sending their header', TIMEOUT, async () => {
    const server = await serve({ host: LOCALHOST, port: 0, proxyProtocol: true }, WhoAmI.create)
    const socket = await rawConnect(server.address)
    socket.on('error', () => {}) // reset by the close
    socket.write('PROXY TCP4 ')
    while (server.connections === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    await server.close({ timeout: 0 })
    await closed(socket)
  })

  test('without the option nothing changes: a header is data', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0 }, WhoAmI.create)
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    const { localAddress } = socket
    socket.end('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')
    const seen = parseWhoAmI((await readAll(socket)).toString())
    assert.equal(seen.remote, localAddress)
    assert.equal(seen.version, 'v-')
    assert.equal(seen.echo, 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r')
  })

  test('refuses bad options with RS_ERR_INVALID_ARG', TIMEOUT, () => {
    for (const proxyProtocol of ['yes', 1, null, { timeout: 0 }, { timeout: 1.5 }, { maxHeaderSize: 100 }, { maxHeaderSize: 70_000 }]) {
      assert.throws(
        () => serve({ host: LOCALHOST, port: 0, proxyProtocol: proxyProtocol as never }, WhoAmI.create),
        (err) => err instanceof InvalidArgumentError && /options\.proxyProtocol/.test(err.message),
        JSON.stringify(proxyProtocol),
      )
    }
  })
})

after(async () => {
  assert.deepEqual(await activeBeyond(baseline), [])
})
