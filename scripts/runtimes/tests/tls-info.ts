/**
 * TLS facts and settings (`t.tls`, ALPN, a certificate per host name, `server.setTls`, session
 * reuse across `Persistent` reconnects) and the counters (`t.stats`, `server.stats`), on every
 * runtime. Certificates come from run.ts; SNI uses two certificates for `localhost` (the
 * CA-signed one and the self-signed one) told apart by fingerprint.
 */
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { connect, connectTls, type Factory, Persistent, serve, type TlsClientOptions, type TlsInfo } from 'rotor-stream'
import { LineEcho } from '../../../examples/line-echo.js'
import { Collect, rawConnect, readAll } from '../../../test/helpers/net.js'
import { serverTls } from '../../../test/helpers/tls.js'
import type { KeyPair } from '../../../test/helpers/tls-certs.js'
import { until } from '../../../test/helpers/wait.js'
import { describe, runtime, test } from '../kit.js'
import { loadCerts } from './helpers.js'

const HOST = '127.0.0.1'
/** Deno's node:net closes a connection over maxConnections without the 'drop' event. */
const DENO_NO_DROP =
  "Deno's node:net closes a connection over maxConnections without emitting 'drop': server.stats.refused stays 0 and server:refused is not published"
/** Deno's node:tls makes a full handshake on every connection, whatever session is offered. */
const DENO_NO_RESUMPTION =
  "Deno's node:tls does not resume TLS sessions: a client offering the last session still makes a full handshake (isSessionReused() false)"

function fingerprint(pair: KeyPair): string {
  return new X509Certificate(pair.cert).fingerprint256
}

/** What a client's `t.tls` told in the factory (a closed socket has nothing left to tell), after one exchange. */
async function clientSees(
  address: { host: string; port: number },
  tls: TlsClientOptions,
): Promise<{ fingerprint?: string; alpn: string | null; authorized: boolean }> {
  const { client, factory } = Collect.factory({ request: 'x\nQUIT\n' })
  let seen: { fingerprint?: string; alpn: string | null; authorized: boolean } = { alpn: null, authorized: false }
  const wrapped: Factory = (t, seed, scope) => {
    const info = t.tls
    seen = { alpn: info?.alpnProtocol ?? null, authorized: info?.authorized ?? false }
    const f = info?.peerCertificate?.fingerprint256
    if (f !== undefined) seen.fingerprint = f
    return factory(t, seed, scope)
  }
  const stream = await connectTls(address, wrapped, { tls })
  const reason = await stream.closed
  if (reason !== undefined) throw reason
  assert.deepEqual(client.lines, ['x', 'BYE'])
  return seen
}

describe('TLS facts and metrics', () => {
  test('t.tls: null on a plain connection; on TLS, the client certificate, authorized or not, with the reason', async (t) => {
    const certs = loadCerts()
    const infos: Array<{ authorized: boolean; error: string | null; cn: unknown; protocol: string | null }> = []
    const record: Factory = (tr, seed, scope) => {
      const info: TlsInfo | null = tr.tls
      if (info !== null)
        infos.push({ authorized: info.authorized, error: info.authorizationError, cn: info.peerCertificate?.subject.CN, protocol: info.protocol })
      return LineEcho.create(tr, seed, scope)
    }
    const plain = await serve({ host: HOST, port: 0 }, record)
    t.after(() => plain.close({ timeout: 0 }))
    const { factory } = Collect.factory({ request: 'x\nQUIT\n' })
    let plainTls: unknown = 'unset'
    const stream = await connect(plain.address, (tr, seed, scope) => {
      plainTls = tr.tls
      return factory(tr, seed, scope)
    })
    assert.equal(await stream.closed, undefined)
    assert.equal(plainTls, null)
    assert.equal(infos.length, 0)
    const server = await serve({ host: HOST, port: 0, tls: serverTls(certs, { ca: certs.ca, requestCert: true, rejectUnauthorized: false }) }, record)
    t.after(() => server.close({ timeout: 0 }))
    const address = server.address as { host: string; port: number }
    const seen = await clientSees(address, { ca: certs.ca, key: certs.client.key, cert: certs.client.cert })
    assert.equal(seen.authorized, true)
    assert.equal(seen.fingerprint, fingerprint(certs.server))
    await clientSees(address, { ca: certs.ca })
    assert.equal(infos.length, 2)
    assert.deepEqual([infos[0]?.authorized, infos[0]?.error, infos[0]?.cn], [true, null, 'rotor-stream test client'])
    assert.match(infos[0]?.protocol ?? '', /^TLSv1\.[23]$/)
    assert.equal(infos[1]?.authorized, false)
    assert.equal(typeof infos[1]?.error, 'string')
  })

  test('a certificate per host name: the client asking for localhost gets that entry, one asking for no name the default', async (t) => {
    const certs = loadCerts()
    const tls = { key: certs.selfSigned.key, cert: certs.selfSigned.cert, hosts: { localhost: { key: certs.server.key, cert: certs.server.cert } } }
    const server = await serve({ host: HOST, port: 0, tls }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const address = server.address as { host: string; port: number }
    const named = await clientSees(address, { ca: certs.ca, servername: 'localhost' })
    const none = await clientSees(address, { ca: certs.selfSigned.cert })
    assert.equal(named.fingerprint, fingerprint(certs.server))
    assert.equal(none.fingerprint, fingerprint(certs.selfSigned))
  })

  test('ALPN: the server picks its first protocol the client offers', async (t) => {
    const certs = loadCerts()
    const server = await serve({ host: HOST, port: 0, tls: serverTls(certs, { alpnProtocols: ['h2', 'http/1.1'] }) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const address = server.address as { host: string; port: number }
    assert.equal((await clientSees(address, { ca: certs.ca, alpnProtocols: ['http/1.1'] })).alpn, 'http/1.1')
    assert.equal((await clientSees(address, { ca: certs.ca, alpnProtocols: ['http/1.1', 'h2'] })).alpn, 'h2')
    assert.equal((await clientSees(address, { ca: certs.ca })).alpn, null)
  })

  test('server.setTls: new connections get the new certificate; an invalid one throws and keeps it', async (t) => {
    const certs = loadCerts()
    const server = await serve({ host: HOST, port: 0, tls: serverTls(certs) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const address = server.address as { host: string; port: number }
    assert.equal((await clientSees(address, { ca: certs.ca })).fingerprint, fingerprint(certs.server))
    server.setTls({ key: certs.selfSigned.key, cert: certs.selfSigned.cert })
    assert.equal((await clientSees(address, { ca: certs.selfSigned.cert })).fingerprint, fingerprint(certs.selfSigned))
    assert.throws(() => server.setTls({ key: certs.client.key, cert: certs.server.cert }), { code: 'RS_ERR_INVALID_ARG' })
    assert.equal((await clientSees(address, { ca: certs.selfSigned.cert })).fingerprint, fingerprint(certs.selfSigned))
  })

  test('Persistent resumes the TLS session on reconnect', { skip: runtime.name === 'deno' && DENO_NO_RESUMPTION }, async (t) => {
    const certs = loadCerts()
    const server = await serve({ host: HOST, port: 0, tls: serverTls(certs) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const reused: boolean[] = []
    const client = new Persistent(server.address, Collect.factory({ request: 'x\nQUIT\n' }).factory, {
      tls: { ca: certs.ca },
      reconnect: { initialDelay: 1, maxDelay: 1 },
    })
    t.after(() => client.stop())
    client.on('connect', (stream) => {
      reused.push(stream.tls?.sessionReused === true)
      if (reused.length === 3) void client.stop()
    })
    await until(() => reused.length >= 3, 'three connections')
    await client.stop()
    assert.deepEqual(reused, [false, true, true])
  })

  test('server.stats.refused counts connections over maxConnections', { skip: runtime.name === 'deno' && DENO_NO_DROP }, async (t) => {
    const server = await serve({ host: HOST, port: 0, maxConnections: 1 }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const first = await rawConnect(server.address)
    t.after(() => first.destroy())
    first.write('a\n')
    await until(() => server.connections === 1, 'the first connection')
    const second = await rawConnect(server.address)
    await readAll(second)
    await until(() => server.stats.refused === 1, 'the refused connection to be counted')
    assert.equal(server.stats.accepted, 1)
  })

  test('server.stats and stream.stats count connections and bytes', async (t) => {
    const server = await serve({ host: HOST, port: 0 }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    socket.write('hello\nQUIT\n')
    assert.equal((await readAll(socket)).toString(), 'hello\nBYE\n')
    await until(() => server.connections === 0, 'the stream to close')
    const stats = server.stats
    assert.deepEqual([stats.accepted, stats.active, stats.bytesIn, stats.bytesOut], [1, 0, 11, 10])
  })
})
