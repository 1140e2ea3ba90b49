/**
 * TLS: serve({ tls }) and connectTls/Persistent with verification, client certificates,
 * handshake timeouts, Unix sockets, half-close, bad material. Certificates come from run.ts.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { ConnectError, connectTls, Intent, InvalidArgumentError, Persistent, type Protocol, serve, type Transport } from 'rotor-stream'
import { LineEcho } from '../../../examples/line-echo.js'
import { Collect, closed } from '../../../test/helpers/net.js'
import { Lines } from '../../../test/helpers/protocols.js'
import { connectErrorWith, serverTls } from '../../../test/helpers/tls.js'
import { sleep, until } from '../../../test/helpers/wait.js'
import { describe, test } from '../kit.js'
import { exchange, Flood, loadCerts } from './helpers.js'

const HOST = '127.0.0.1'
/** Deno's node:tls keeps reading the network while a TLSSocket is paused (readStop only stops delivery, data piles up inside). */
const DENO_TLS_PAUSE =
  "Deno's node:tls ignores pause() on a TLSSocket: it keeps reading the network and buffers the data internally, so pushback does not reach a TLS peer"

/** A raw TLS client, connected and verified. */
function tlsConnect(address: { host: string; port: number }): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...address, ca: loadCerts().ca })
    socket.once('secureConnect', () => resolve(socket))
    socket.once('error', reject)
  })
}

describe('TLS', () => {
  test('LineEcho over TLS on TCP, the server verified against the CA (by IP and by name)', async (t) => {
    const server = await serve({ host: HOST, port: 0, tls: serverTls(loadCerts()) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const ca = loadCerts().ca
    assert.deepEqual(await exchange(server.address, ['secret', 'lines'], { tls: { ca } }), ['secret', 'lines'])
    const { port } = server.address as { port: number }
    assert.deepEqual(await exchange({ host: 'localhost', port }, ['by name'], { tls: { ca } }), ['by name'])
  })

  test('LineEcho over TLS on a Unix socket', async (t) => {
    const where = path.join(os.tmpdir(), `rs-rt-tls-${process.pid}.sock`)
    const server = await serve({ path: where, tls: serverTls(loadCerts()) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    assert.deepEqual(await exchange({ path: where }, ['over', 'unix'], { tls: { ca: loadCerts().ca } }), ['over', 'unix'])
  })

  test('half-close over TLS: the server answers after the client ended its side', async (t) => {
    const p = new Lines()
    const server = await serve({ host: HOST, port: 0, tls: serverTls(loadCerts()) }, p.factory)
    t.after(() => server.close({ timeout: 0 }))
    const { client, factory } = Collect.factory({ request: 'whole\npartial', halfClose: true })
    const stream = await connectTls(server.address, factory, { tls: { ca: loadCerts().ca } })
    assert.equal(await stream.closed, undefined)
    assert.deepEqual(client.lines, ['whole', 'eof partial'])
  })

  test('refuses a self-signed certificate unless it is given as the CA', async (t) => {
    const { selfSigned } = loadCerts()
    const server = await serve({ host: HOST, port: 0, tls: { key: selfSigned.key, cert: selfSigned.cert } }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    await assert.rejects(exchange(server.address, ['x'], { tls: {} }), connectErrorWith('DEPTH_ZERO_SELF_SIGNED_CERT'))
    assert.deepEqual(await exchange(server.address, ['trusted'], { tls: { ca: selfSigned.cert } }), ['trusted'])
  })

  test('refuses a certificate from an unknown CA, and one for another name', async (t) => {
    const server = await serve({ host: HOST, port: 0, tls: serverTls(loadCerts()) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    await assert.rejects(exchange(server.address, ['x'], { tls: {} }), connectErrorWith('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))
    const options = { tls: { ca: loadCerts().ca, servername: 'db.example.com' } }
    await assert.rejects(exchange(server.address, ['x'], options), connectErrorWith('ERR_TLS_CERT_ALTNAME_INVALID'))
  })

  test('requestCert: serves clients with a certificate from the CA, refuses the others', async (t) => {
    const certs = loadCerts()
    let created = 0
    const factory = (tr: Transport, seed: unknown, scope: Parameters<typeof LineEcho.create>[2]): Intent<LineEcho> => {
      created++
      return LineEcho.create(tr, seed, scope)
    }
    const server = await serve({ host: HOST, port: 0, tls: serverTls(certs, { ca: certs.ca, requestCert: true }) }, factory)
    t.after(() => server.close({ timeout: 0 }))
    const withCert = { tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key } }
    assert.deepEqual(await exchange(server.address, ['client', 'auth'], withCert), ['client', 'auth'])
    assert.equal(created, 1)
    await assert.rejects(exchange(server.address, ['anonymous'], { tls: { ca: certs.ca } }))
    assert.equal(created, 1, 'no protocol ran for the refused client')
  })

  test('a client that never starts the handshake is disconnected after handshakeTimeout', async (t) => {
    const server = await serve({ host: HOST, port: 0, tls: serverTls(loadCerts(), { handshakeTimeout: 150 }) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const { port } = server.address as { port: number }
    const started = performance.now()
    const mute = net.connect(port, HOST)
    mute.on('error', () => {})
    await closed(mute, 5000)
    const elapsed = performance.now() - started
    assert.ok(elapsed >= 140 && elapsed < 3000, `closed after ${elapsed} ms`)
    await until(() => server.connections === 0, 'the server to forget the socket')
  })

  test('a plain-text client does not disturb the TLS server', async (t) => {
    const server = await serve({ host: HOST, port: 0, tls: serverTls(loadCerts()) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const { port } = server.address as { port: number }
    const plain = net.connect(port, HOST)
    plain.on('error', () => {})
    plain.end('GET / HTTP/1.0\r\n\r\n')
    await closed(plain)
    assert.deepEqual(await exchange(server.address, ['still', 'fine'], { tls: { ca: loadCerts().ca } }), ['still', 'fine'])
  })

  test('connectTls gives up with a ConnectError (RS_ERR_TIMEOUT) when the handshake never completes', async (t) => {
    const silent = net.createServer((socket) => socket.on('error', () => {}))
    await new Promise<void>((resolve) => silent.listen(0, HOST, resolve))
    t.after(() => new Promise<void>((resolve) => silent.close(() => resolve())))
    const accepted: net.Socket[] = []
    silent.on('connection', (s) => accepted.push(s))
    t.after(() => {
      for (const s of accepted) s.destroy()
    })
    const { port } = silent.address() as net.AddressInfo
    const started = performance.now()
    await assert.rejects(connectTls({ host: HOST, port }, LineEcho.create, { tls: { ca: loadCerts().ca }, connectTimeout: 150 }), (err: unknown) => {
      assert.ok(err instanceof ConnectError)
      assert.equal((err.cause as { code?: string }).code, 'RS_ERR_TIMEOUT')
      return true
    })
    const elapsed = performance.now() - started
    assert.ok(elapsed >= 145 && elapsed < 3000, `gave up after ${elapsed} ms`)
  })

  test('pushback over TLS, server side: while the protocol reads nothing, a flooding client is held back', { known: { deno: DENO_TLS_PAUSE } }, async (t) => {
    const sleeper: Protocol = { bytesRead: () => Intent.done() }
    const server = await serve({ host: HOST, port: 0, tls: serverTls(loadCerts()) }, () => Intent.of(sleeper).sleep())
    t.after(() => server.close({ timeout: 0 }))
    const peer = await tlsConnect(server.address as { host: string; port: number })
    t.after(() => peer.destroy())
    const total = 64 << 20
    let sent = 0
    const more = (): void => {
      while (sent < total) {
        sent += 64 << 10
        if (!peer.write(Buffer.alloc(64 << 10, 'x'))) return void peer.once('drain', more)
      }
    }
    more()
    await sleep(500)
    const delivered = sent - peer.writableLength
    assert.ok(delivered < 32 << 20, `the client handed ${delivered >> 20} MiB to the network while the server read nothing`)
  })

  test('pushback over TLS, client side: while the protocol reads nothing, a flooding server is held back', { known: { deno: DENO_TLS_PAUSE } }, async (t) => {
    const flood = new Flood(64 << 20, 64 << 10)
    const server = await serve({ host: HOST, port: 0, tls: serverTls(loadCerts()) }, () => Intent.of(flood).expectDelimiter('\n', { max: 10 }))
    t.after(() => server.close({ timeout: 0 }))
    const sleeper: Protocol = { bytesRead: () => Intent.done() }
    const client = await connectTls(
      server.address,
      (tr) => {
        tr.output.write('go\n')
        return Intent.of(sleeper).sleep()
      },
      { tls: { ca: loadCerts().ca } },
    )
    t.after(() => client.close())
    await sleep(500)
    assert.ok(flood.produced < 32 << 20, `the server sent ${flood.produced >> 20} MiB while the client read nothing`)
    assert.ok(flood.maxUnwritten <= 2 * (64 << 10), `writableLength reached ${flood.maxUnwritten}`)
  })

  test('Persistent over TLS reconnects after the server restarts', async (t) => {
    let server = await serve({ host: HOST, port: 0, tls: serverTls(loadCerts()) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const address = server.address as { host: string; port: number }
    const answers: string[] = []
    const pinger = (tr: Transport): Intent<Protocol> => {
      tr.output.write('ping\n')
      const p: Protocol = {
        bytesRead(tr2: Transport, end: number) {
          answers.push(tr2.input.toString('latin1', 0, end))
          tr2.input.consume(end + 1)
          return Intent.of(p).expectDelimiter('\n', { max: 100 })
        },
      }
      return Intent.of(p).expectDelimiter('\n', { max: 100 })
    }
    const client = new Persistent(address, pinger, { tls: { ca: loadCerts().ca }, reconnect: { initialDelay: 20, maxDelay: 100, jitter: 0 } })
    t.after(() => client.stop())
    await until(() => answers.length === 1, 'the first answer')
    await server.close({ timeout: 0 })
    server = await serve({ host: HOST, port: address.port, tls: serverTls(loadCerts()) }, LineEcho.create)
    await until(() => answers.length === 2, 'the answer after the restart')
    assert.deepEqual(answers, ['ping', 'ping'])
  })

  test('unusable key, certificate or CA throws InvalidArgumentError at once', () => {
    const certs = loadCerts()
    assert.throws(() => serve({ host: HOST, port: 0, tls: { key: 'not a key', cert: certs.server.cert } }, LineEcho.create), InvalidArgumentError)
    assert.throws(() => serve({ host: HOST, port: 0, tls: { key: certs.server.key, cert: certs.selfSigned.cert } }, LineEcho.create), InvalidArgumentError)
    assert.throws(() => connectTls({ host: HOST, port: 1 }, LineEcho.create, { tls: { ca: 'garbage' } }), InvalidArgumentError)
    assert.equal(typeof tls.createSecureContext, 'function')
  })
})
