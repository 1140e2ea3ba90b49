/**
 * TLS facts (`t.tls`) and settings: mutual TLS, a certificate per host name (SNI), ALPN,
 * certificate reload while connections stay up (`server.setTls`), and session resumption across
 * `Persistent` reconnects. Real certificates made for the test with openssl.
 */
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { after, describe, test } from 'node:test'
import {
  type Address,
  type ConnectTlsOptions,
  connectTls,
  type Factory,
  Intent,
  InvalidArgumentError,
  Persistent,
  type Protocol,
  type Stream,
  serve,
  type TlsInfo,
  type TlsServerOptions,
  type Transport,
} from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { Exchange } from '../helpers/protocols.js'
import { activeBeyond } from '../helpers/resources.js'
import { connectErrorWith, serverTls } from '../helpers/tls.js'
import { type KeyPair, testCerts, tlsUnavailable } from '../helpers/tls-certs.js'
import { hostCert } from '../helpers/tls-hosts.js'
import { until } from '../helpers/wait.js'

const TIMEOUT = { timeout: 15_000 }
const LOCALHOST = '127.0.0.1'
const baseline = process.getActiveResourcesInfo()
const unavailable = tlsUnavailable()
if (unavailable !== null && process.env.CI) throw new Error(`TLS tests cannot run: ${unavailable}`)
const skip = unavailable ?? false

/** What the server saw of each connection's TLS, taken in the factory (after the handshake). */
interface Seen {
  authorized: boolean
  authorizationError: string | null
  peerCN: string | undefined
  servername: string | null
  alpn: string | null
}

function seen(info: TlsInfo | null): Seen {
  assert.ok(info !== null, 't.tls is null on a TLS connection')
  const cn = info.peerCertificate?.subject.CN
  return {
    authorized: info.authorized,
    authorizationError: info.authorizationError,
    peerCN: Array.isArray(cn) ? cn[0] : cn,
    servername: info.servername,
    alpn: info.alpnProtocol,
  }
}

/** A LineEcho server that records `t.tls` of every connection. */
async function recordingServer(tls: TlsServerOptions): Promise<{ address: Address; log: Seen[]; server: Awaited<ReturnType<typeof serve>> }> {
  const log: Seen[] = []
  const factory: Factory = (t, seed, scope) => {
    log.push(seen(t.tls))
    return LineEcho.create(t, seed, scope)
  }
  const server = await serve({ host: LOCALHOST, port: 0, tls }, factory)
  return { address: server.address, log, server }
}

/** What the client saw of the server, taken while the connection is up (a closed socket has nothing left to tell). */
interface ClientSeen {
  fingerprint: string | undefined
  servername: string | null
  alpn: string | null
  info: TlsInfo | null
  stream: Stream
}

/** One line over TLS; returns what the client's `t.tls` told in the factory. */
async function roundTrip(address: Address, options: Omit<ConnectTlsOptions, 'seed'>): Promise<ClientSeen> {
  const ex = new Exchange(['hello'])
  let fingerprint: string | undefined
  let alpn: string | null = null
  let servername: string | null = null
  let info: TlsInfo | null = null
  const stream = await connectTls(
    address,
    (t) => {
      info = t.tls
      fingerprint = info?.peerCertificate?.fingerprint256
      alpn = info?.alpnProtocol ?? null
      servername = info?.servername ?? null
      return ex.start(t)
    },
    options,
  )
  const reason = await stream.closed
  if (reason !== undefined) throw reason
  assert.deepEqual(ex.replies, ['hello'])
  return { fingerprint, servername, alpn, info, stream }
}

function fingerprint(pair: KeyPair): string {
  return new X509Certificate(pair.cert).fingerprint256
}

after(async () => {
  assert.deepEqual(await activeBeyond(baseline), [], 'no socket or timer left behind')
})

describe('t.tls', { skip }, () => {
  test('is null on a plain connection, on both sides', TIMEOUT, async (t) => {
    let serverTls: TlsInfo | null | undefined
    const server = await serve({ host: LOCALHOST, port: 0 }, (tr, seed, scope) => {
      serverTls = tr.tls
      return LineEcho.create(tr, seed, scope)
    })
    t.after(() => server.close({ timeout: 0 }))
    const { connect } = await import('rotor-stream')
    const ex = new Exchange(['x'])
    const stream = await connect(server.address, (tr) => ex.start(tr))
    assert.equal(await stream.closed, undefined)
    assert.equal(serverTls, null)
    assert.equal(stream.tls, null)
  })

  test('mutual TLS: a client certificate from the CA is authorized, a missing or foreign one is not (with the reason)', TIMEOUT, async (t) => {
    const certs = testCerts()
    const { address, log, server } = await recordingServer(serverTls(certs, { ca: certs.ca, requestCert: true, rejectUnauthorized: false }))
    t.after(() => server.close({ timeout: 0 }))
    let info: TlsInfo | null = null
    const ex = new Exchange(['hello'])
    const client = await connectTls(address, (tr) => ex.start(tr), { tls: { ca: certs.ca, key: certs.client.key, cert: certs.client.cert } })
    info = client.tls
    // The client side, read while the connection is up: the server's certificate, verified, and the negotiated parameters.
    assert.ok(info !== null)
    assert.equal(info.authorized, true)
    assert.equal(info.authorizationError, null)
    assert.equal(info.peerCertificate?.subject.CN, 'localhost')
    assert.ok(Buffer.isBuffer(info.peerCertificate?.raw), 'the DER bytes are there')
    assert.match(info.protocol ?? '', /^TLSv1\.[23]$/)
    assert.ok((info.cipher?.name.length ?? 0) > 0)
    assert.equal(client.tls, info, 'the same object on every read')
    assert.equal(info.servername, null, 'no SNI name for an IP address')
    assert.equal(JSON.parse(JSON.stringify(info)).authorized, true)
    assert.equal(await client.closed, undefined)
    await roundTrip(address, { tls: { ca: certs.ca } })
    await roundTrip(address, { tls: { ca: certs.ca, key: certs.selfSigned.key, cert: certs.selfSigned.cert } })
    assert.equal(log.length, 3)
    assert.deepEqual([log[0]?.authorized, log[0]?.authorizationError, log[0]?.peerCN], [true, null, 'rotor-stream test client'])
    assert.equal(log[1]?.authorized, false)
    assert.equal(typeof log[1]?.authorizationError, 'string', 'no certificate: a reason')
    assert.equal(log[1]?.peerCN, undefined)
    assert.equal(log[2]?.authorized, false)
    assert.equal(log[2]?.authorizationError, 'DEPTH_ZERO_SELF_SIGNED_CERT')
    assert.equal(log[2]?.peerCN, 'localhost', 'the refused certificate is still readable')
  })

  test('with rejectUnauthorized (the default), a client without a certificate never reaches the factory', TIMEOUT, async (t) => {
    const certs = testCerts()
    const { address, log, server } = await recordingServer(serverTls(certs, { ca: certs.ca, requestCert: true }))
    t.after(() => server.close({ timeout: 0 }))
    await roundTrip(address, { tls: { ca: certs.ca, key: certs.client.key, cert: certs.client.cert } })
    await assert.rejects(async () => {
      // TLS 1.3: the client learns of the refusal after its handshake, when it reads.
      await roundTrip(address, { tls: { ca: certs.ca } })
    })
    assert.equal(log.length, 1)
  })
})

describe('a certificate per host name (SNI)', { skip }, () => {
  test('two host names on one port: each client sees the certificate of the name it asked for', TIMEOUT, async (t) => {
    const certs = testCerts()
    const a = hostCert('a.example')
    const b = hostCert('b.example', 'www.b.example')
    const w = hostCert('*.w.example')
    const { address, log, server } = await recordingServer(serverTls(certs, { hosts: { 'a.example': a, 'B.Example': b, '*.w.example': w } }))
    t.after(() => server.close({ timeout: 0 }))
    const asA = await roundTrip(address, { tls: { ca: a.cert, servername: 'a.example' } })
    const asB = await roundTrip(address, { tls: { ca: b.cert, servername: 'b.example' } })
    const asW = await roundTrip(address, { tls: { ca: w.cert, servername: 'x.w.example' } })
    // A name not listed, and no name at all (an IP address): the default certificate.
    const other = await roundTrip(address, { tls: { ca: certs.ca, servername: 'localhost' } })
    const none = await roundTrip(address, { tls: { ca: certs.ca } })
    assert.equal(asA.fingerprint, fingerprint(a))
    assert.equal(asB.fingerprint, fingerprint(b))
    assert.equal(asW.fingerprint, fingerprint(w))
    assert.equal(other.fingerprint, fingerprint(certs.server))
    assert.equal(none.fingerprint, fingerprint(certs.server))
    assert.deepEqual([asA.servername, other.servername, none.servername], ['a.example', 'localhost', null], 'what the client sent')
    assert.deepEqual(
      log.map((s) => s.servername),
      ['a.example', 'b.example', 'x.w.example', 'localhost', null],
    )
    // A client asking for a listed name but trusting only another name's certificate is refused.
    await assert.rejects(
      roundTrip(address, { tls: { ca: a.cert, servername: 'b.example' } }),
      connectErrorWith('DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID'),
    )
  })

  test('every entry is checked like the top-level material, the error naming it', () => {
    const certs = testCerts()
    const a = hostCert('a.example')
    const factory = LineEcho.create
    const bad = (hosts: unknown): Promise<unknown> =>
      serve({ host: LOCALHOST, port: 0, tls: serverTls(certs, { hosts: hosts as TlsServerOptions['hosts'] }) }, factory)
    assert.throws(() => bad({ 'a.example': { key: a.key } }), { code: 'RS_ERR_INVALID_ARG', message: /options\.tls\.hosts\["a\.example"\]\.cert must be/ })
    assert.throws(() => bad({ 'a.example': { key: 'a.key', cert: a.cert } }), {
      code: 'RS_ERR_INVALID_ARG',
      message: /options\.tls\.hosts\["a\.example"\]\.key must be PEM contents.*a file name\?/,
    })
    assert.throws(() => bad({ 'a.example': { key: certs.client.key, cert: a.cert } }), { code: 'RS_ERR_INVALID_ARG', message: /unusable TLS server key/ })
    assert.throws(() => bad({ 'not a name': a }), { code: 'RS_ERR_INVALID_ARG', message: /options\.tls\.hosts key must be a host name/ })
    assert.throws(() => bad({ 'a.example': a, 'A.EXAMPLE': a }), { code: 'RS_ERR_INVALID_ARG', message: /given twice/ })
    assert.throws(() => bad([a]), { code: 'RS_ERR_INVALID_ARG' })
  })
})

describe('ALPN', { skip }, () => {
  test("the server's first protocol the client offers is chosen; no ALPN from the client is served; no common protocol is refused", TIMEOUT, async (t) => {
    const certs = testCerts()
    const { address, log, server } = await recordingServer(serverTls(certs, { alpnProtocols: ['h2', 'http/1.1'] }))
    t.after(() => server.close({ timeout: 0 }))
    const h1 = await roundTrip(address, { tls: { ca: certs.ca, alpnProtocols: ['http/1.1'] } })
    const h2 = await roundTrip(address, { tls: { ca: certs.ca, alpnProtocols: ['http/1.1', 'h2'] } })
    const none = await roundTrip(address, { tls: { ca: certs.ca } })
    assert.deepEqual([h1.alpn, h2.alpn, none.alpn], ['http/1.1', 'h2', null])
    assert.deepEqual(
      log.map((s) => s.alpn),
      ['http/1.1', 'h2', null],
    )
    await assert.rejects(
      roundTrip(address, { tls: { ca: certs.ca, alpnProtocols: ['imap'] } }),
      connectErrorWith('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL'),
    )
    assert.equal(server.stats.tlsHandshakeFailures, 1)
    // The protocol's bytes (after decryption) of the three TLS streams, counted through their raw sockets.
    await until(() => server.connections === 0, 'every connection to close')
    const { accepted, active, bytesIn, bytesOut } = server.stats
    assert.deepEqual({ accepted, active, bytesIn, bytesOut }, { accepted: 4, active: 0, bytesIn: 18, bytesOut: 18 })
  })

  test('a bad list is an InvalidArgumentError naming the option', () => {
    const certs = testCerts()
    assert.throws(() => serve({ host: LOCALHOST, port: 0, tls: serverTls(certs, { alpnProtocols: [] }) }, LineEcho.create), {
      message: /options\.tls\.alpnProtocols must be a non-empty array/,
    })
    assert.throws(() => connectTls({ host: LOCALHOST, port: 1 }, LineEcho.create, { tls: { alpnProtocols: ['h2', ''] } }), {
      message: /options\.tls\.alpnProtocols\[1\] must be a protocol name/,
    })
  })
})

/** A client protocol that sends a line per wakeup and keeps the connection open. */
class Ping implements Protocol {
  readonly replies: string[] = []
  static start(t: Transport, ping: Ping): Intent<Ping> {
    t.output.write('first\n')
    return Intent.of(ping).expectDelimiter('\n', { max: 100 })
  }
  bytesRead(t: Transport, end: number): Intent<Ping> {
    this.replies.push(t.input.toString('utf8', 0, end))
    t.input.consume(end + 1)
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
  wakeup(t: Transport): Intent<Ping> {
    t.output.write(`again ${this.replies.length}\n`)
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
}

describe('server.setTls (certificate reload)', { skip }, () => {
  test('new connections get the new certificate while a connection already up keeps working', TIMEOUT, async (t) => {
    const certs = testCerts()
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const ping = new Ping()
    const live = await connectTls(server.address, (tr) => Ping.start(tr, ping), { tls: { ca: [certs.ca, certs.selfSigned.cert] } })
    t.after(() => live.close())
    assert.equal(live.tls?.peerCertificate?.fingerprint256, fingerprint(certs.server))
    const renewed = { key: certs.selfSigned.key, cert: certs.selfSigned.cert }
    server.setTls(renewed)
    const fresh = await roundTrip(server.address, { tls: { ca: certs.selfSigned.cert } })
    assert.equal(fresh.fingerprint, fingerprint(certs.selfSigned))
    // The old connection still answers.
    live.wakeup()
    for (let i = 0; i < 200 && ping.replies.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.deepEqual(ping.replies, ['first', 'again 1'])
    // An invalid one throws and keeps the certificate in force.
    assert.throws(() => server.setTls({ key: certs.client.key, cert: certs.selfSigned.cert }), InvalidArgumentError)
    assert.throws(
      () => server.setTls({ ...renewed, hosts: { 'a.example': { key: 'a.pem', cert: 'a.crt' } } }),
      /Server\.setTls: options\.hosts\["a\.example"\]\.key/,
    )
    assert.throws(() => server.setTls({ ...renewed, requestCert: true }), {
      code: 'RS_ERR_INVALID_ARG',
      message: /options\.requestCert cannot change on a running server/,
    })
    const again = await roundTrip(server.address, { tls: { ca: certs.selfSigned.cert } })
    assert.equal(again.fingerprint, fingerprint(certs.selfSigned))
    // Per-host certificates can be added by a reload.
    const a = hostCert('a.example')
    server.setTls({ ...renewed, hosts: { 'a.example': a } })
    const asA = await roundTrip(server.address, { tls: { ca: a.cert, servername: 'a.example' } })
    assert.equal(asA.fingerprint, fingerprint(a))
  })

  test('a plain server refuses setTls', async (t) => {
    const certs = testCerts()
    const server = await serve({ host: LOCALHOST, port: 0 }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    assert.throws(() => server.setTls(serverTls(certs)), { code: 'RS_ERR_INVALID_ARG', message: /without tls/ })
  })
})

describe('TLS session reuse across Persistent reconnects', { skip }, () => {
  for (const reuseSession of [true, false]) {
    test(`reuseSession ${reuseSession}: the second connection ${reuseSession ? 'resumes' : 'does a full handshake'}`, TIMEOUT, async (t) => {
      const certs = testCerts()
      const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs) }, LineEcho.create)
      t.after(() => server.close({ timeout: 0 }))
      const reused: boolean[] = []
      // Each connection does one exchange and ends: the client reconnects.
      const client = new Persistent(server.address, (tr) => new Exchange(['hi']).start(tr), {
        tls: { ca: certs.ca, reuseSession },
        reconnect: { initialDelay: 1, maxDelay: 1 },
      })
      t.after(() => client.stop())
      client.on('connect', (stream) => {
        reused.push(stream.tls?.sessionReused === true)
        if (reused.length === 3) void client.stop()
      })
      await once(client, 'disconnect')
      while (reused.length < 3 && client.state !== 'stopped') await once(client, 'disconnect')
      await client.stop()
      assert.deepEqual(reused, [false, reuseSession, reuseSession])
    })
  }
})
