/**
 * What deployments need, on each runtime: a close that ends idle streams at once and asks
 * protocols with a `shutdown` handler, cancellation by `AbortSignal`, socket and listen options
 * (`keepAlive`, Unix socket `mode`, `reusePort` or its refusal), and the PROXY protocol read
 * before TLS.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { statSync } from 'node:fs'
import type net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { connect, Intent, open, type Protocol, type Scope, serve, type Transport } from 'rotor-stream'
import { LineEcho } from '../../../examples/line-echo.js'
import { rawConnect, readAll } from '../../../test/helpers/net.js'
import { v1Header, v2Header } from '../../../test/helpers/proxy.js'
import { parseWhoAmI, WhoAmI } from '../../../test/helpers/who-am-i.js'
import { describe, runtime, test } from '../kit.js'
import { loadCerts } from './helpers.js'

const HOST = '127.0.0.1'

/** Reads lines; on `shutdown` answers "bye" and ends, whatever it was doing. */
class Polite implements Protocol {
  static shutdowns = 0
  bytesRead(t: Transport, end: number): Intent<Protocol> {
    t.output.writeFrom(t.input, 0, end + 1) // `end` is where the delimiter starts
    t.input.consume(end + 1)
    return Intent.of<Protocol>(this).expectDelimiter('\n', { max: 1024 })
  }
  shutdown(t: Transport, scope: Scope): Intent<Protocol> {
    assert.equal(scope.closing, true)
    Polite.shutdowns++
    t.output.write('bye\n')
    return Intent.done()
  }
  static create(): Intent<Protocol> {
    return Intent.of<Protocol>(new Polite()).expectDelimiter('\n', { max: 1024 })
  }
}

describe('deployment', () => {
  test('close() ends idle streams at once with a FIN; a shutdown handler is asked instead', async () => {
    const server = await serve({ host: HOST, port: 0 }, LineEcho.create)
    const idle = await Promise.all([rawConnect(server.address), rawConnect(server.address)])
    for (const socket of idle) socket.write('hi\n')
    const echoed = idle.map((socket) => once(socket, 'data'))
    await Promise.all(echoed)
    const ended = idle.map((socket) => once(socket, 'end'))
    // A timeout far beyond the test's: only an end at once lets close() resolve in time.
    const closing = server.close({ timeout: 600_000 })
    await Promise.all(ended)
    for (const socket of idle) socket.end()
    await closing

    const polite = await serve({ host: HOST, port: 0 }, Polite.create)
    const socket = await rawConnect(polite.address)
    const got = readAll(socket, 10_000)
    socket.write('x\n')
    await once(socket, 'data')
    const before = Polite.shutdowns
    await polite.close({ timeout: 600_000 })
    assert.equal(Polite.shutdowns, before + 1)
    assert.equal((await got).toString(), 'x\nbye\n')
  })

  test('an AbortSignal cancels connect, open, serve and a running server', async () => {
    const reason = new Error('stop')
    await assert.rejects(connect({ host: HOST, port: 1 }, LineEcho.create, { signal: AbortSignal.abort(reason) }), (err) => err === reason)
    await assert.rejects(open({ host: HOST, port: 1 }, { signal: AbortSignal.abort() }), { name: 'AbortError' })
    await assert.rejects(serve({ host: HOST, port: 0, signal: AbortSignal.abort(reason) }, LineEcho.create), (err) => err === reason)
    const controller = new AbortController()
    const server = await serve({ host: HOST, port: 0, signal: controller.signal }, LineEcho.create)
    const conn = await open(server.address)
    const read = conn.readUntil('\n', { max: 64, signal: controller.signal })
    controller.abort()
    await assert.rejects(read, { name: 'AbortError' })
    assert.equal(server.isClosing, true)
    conn.destroy()
    await server.close()
  })

  test('keepAlive on both ends, and the Unix socket mode', async () => {
    const server = await serve({ host: HOST, port: 0, keepAlive: { initialDelay: 30_000 } }, LineEcho.create)
    const client = await open(server.address, { keepAlive: true })
    client.write('ping\n')
    assert.equal((await client.readUntil('\n', { max: 64 })).toString(), 'ping')
    await client.end()
    await server.close()

    const file = path.join(os.tmpdir(), `rs-rt-mode-${process.pid}.sock`)
    const unix = await serve({ path: file, mode: 0o600 }, LineEcho.create)
    try {
      assert.equal(statSync(file).mode & 0o777, 0o600)
    } finally {
      await unix.close()
    }
  })

  test('reusePort: two servers share a port where the runtime honours it, else RS_ERR_UNSUPPORTED', async () => {
    let first: Awaited<ReturnType<typeof serve>>
    try {
      first = await serve({ host: HOST, port: 0, reusePort: true }, LineEcho.create)
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'RS_ERR_UNSUPPORTED', String(err))
      console.log(`    (${runtime.name} ${runtime.version}: reusePort refused with RS_ERR_UNSUPPORTED)`)
      return
    }
    const second = await serve({ host: HOST, port: (first.address as { port: number }).port, reusePort: true }, LineEcho.create)
    await first.close()
    await second.close()
  })

  test('PROXY protocol v1 on plain TCP', async () => {
    const plain = await serve({ host: HOST, port: 0, proxyProtocol: true }, WhoAmI.create)
    try {
      const socket = await rawConnect(plain.address)
      socket.end(Buffer.concat([v1Header('203.0.113.9', '198.51.100.1', 51234, 443), Buffer.from('hello\n')]))
      const seen = parseWhoAmI((await readAll(socket)).toString())
      assert.equal(seen.remote, '203.0.113.9')
      assert.equal(seen.remotePort, '51234')
      assert.equal(seen.echo, 'hello')
    } finally {
      await plain.close({ timeout: 0 })
    }
  })

  test('PROXY protocol v2 read before TLS (refused with RS_ERR_UNSUPPORTED on Bun)', async () => {
    const certs = loadCerts()
    if (runtime.name === 'bun') {
      // Bun's TLS server handshakes on the raw socket, PROXY header included: serve refuses.
      assert.throws(() => serve({ host: HOST, port: 0, tls: { key: certs.server.key, cert: certs.server.cert }, proxyProtocol: true }, WhoAmI.create), {
        code: 'RS_ERR_UNSUPPORTED',
      })
      return
    }
    const secure = await serve({ host: HOST, port: 0, tls: { key: certs.server.key, cert: certs.server.cert }, proxyProtocol: true }, WhoAmI.create)
    try {
      const raw: net.Socket = await rawConnect(secure.address)
      raw.write(v2Header({ src: '192.0.2.44', dst: '192.0.2.1', sport: 1000, dport: 443 }))
      const client = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' })
      await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject))
      const reply = readAll(client)
      client.end('over tls\n')
      const seen = parseWhoAmI((await reply).toString())
      assert.equal(seen.remote, '192.0.2.44')
      assert.equal(seen.version, 'v2')
      assert.equal(seen.echo, 'over tls')
    } finally {
      await secure.close({ timeout: 0 })
    }
  })
})
