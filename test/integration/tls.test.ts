import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { after, before, describe, test } from 'node:test'
import {
  type Address,
  ConnectError,
  type ConnectTlsOptions,
  connectTls,
  type Intent,
  InvalidArgumentError,
  Persistent,
  serve,
  type TlsServerOptions,
  type Transport,
} from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { silentServer } from '../helpers/net.js'
import { Exchange } from '../helpers/protocols.js'
import { activeBeyond } from '../helpers/resources.js'
import { connectErrorWith, serverTls } from '../helpers/tls.js'
import { type TestCerts, testCerts, tlsUnavailable } from '../helpers/tls-certs.js'

const TIMEOUT = { timeout: 10_000 }
const LOCALHOST = '127.0.0.1'
const baseline = process.getActiveResourcesInfo()
const unavailable = tlsUnavailable()
if (unavailable !== null && process.env.CI) throw new Error(`TLS tests cannot run: ${unavailable}`)
const skip = unavailable ?? false
let certs: TestCerts
let dir = ''

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-stream-tls-'))
  if (unavailable === null) certs = testCerts()
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** Runs one Exchange over TLS and returns the replies. */
async function exchange(address: Address, lines: readonly string[], options: Omit<ConnectTlsOptions, 'seed'>): Promise<string[]> {
  const ex = new Exchange(lines)
  const stream = await connectTls(address, (t) => ex.start(t), options)
  const reason = await stream.closed
  if (reason !== undefined) throw reason
  return ex.replies
}

describe('TLS server and client', { skip }, () => {
  test('runs LineEcho over TLS on TCP, verifying the server against the CA', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    assert.deepEqual(await exchange(server.address, ['secret', 'lines'], { tls: { ca: certs.ca } }), ['secret', 'lines'])
    // The certificate names localhost too.
    const { port } = server.address as { port: number }
    assert.deepEqual(await exchange({ host: 'localhost', port }, ['by name'], { tls: { ca: certs.ca } }), ['by name'])
  })

  test('runs LineEcho over TLS on a Unix socket', TIMEOUT, async (t) => {
    const path = join(dir, 'tls.sock')
    const server = await serve({ path, tls: serverTls(certs) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    assert.deepEqual(await exchange({ path }, ['over', 'unix'], { tls: { ca: certs.ca } }), ['over', 'unix'])
  })

  test('takes keys, certificates and CAs as plain Uint8Arrays, not only Buffers', TIMEOUT, async (t) => {
    // A Uint8Array that is not a Buffer (the types say Buffer; JavaScript callers pass any bytes):
    // String() of one is a list of numbers, not PEM, so the CA was once refused as holding no certificate.
    const bytes = (pem: string | Buffer): Uint8Array => new Uint8Array(Buffer.from(pem))
    const tls = { key: bytes(certs.server.key), cert: [bytes(certs.server.cert)], ca: bytes(certs.ca), requestCert: true }
    const server = await serve({ host: LOCALHOST, port: 0, tls: tls as TlsServerOptions }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const client = { ca: [bytes(certs.ca)], cert: bytes(certs.client.cert), key: [{ pem: bytes(certs.client.key) }] }
    assert.deepEqual(await exchange(server.address, ['as', 'bytes'], { tls: client as ConnectTlsOptions['tls'] }), ['as', 'bytes'])
  })

  test('refuses a self-signed certificate unless it is given as the CA', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: { key: certs.selfSigned.key, cert: certs.selfSigned.cert } }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    await assert.rejects(exchange(server.address, ['x'], { tls: {} }), connectErrorWith('DEPTH_ZERO_SELF_SIGNED_CERT'))
    assert.deepEqual(await exchange(server.address, ['trusted'], { tls: { ca: certs.selfSigned.cert } }), ['trusted'])
  })

  test('refuses a certificate from an unknown CA', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    await assert.rejects(exchange(server.address, ['x'], { tls: {} }), connectErrorWith('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))
    await assert.rejects(exchange(server.address, ['x'], { tls: { ca: certs.selfSigned.cert } }), connectErrorWith('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))
  })

  test('refuses a certificate for another name', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const options = { tls: { ca: certs.ca, servername: 'db.example.com' } }
    await assert.rejects(exchange(server.address, ['x'], options), connectErrorWith('ERR_TLS_CERT_ALTNAME_INVALID'))
  })

  test('with requestCert, serves clients with a certificate from the CA and refuses the others', TIMEOUT, async (t) => {
    let created = 0
    const factory = (transport: Transport, seed: unknown, scope: Parameters<typeof LineEcho.create>[2]): Intent<LineEcho> => {
      created++
      return LineEcho.create(transport, seed, scope)
    }
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs, { ca: certs.ca, requestCert: true }) }, factory)
    t.after(() => server.close({ timeout: 0 }))
    const withCert = { tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key } }
    assert.deepEqual(await exchange(server.address, ['client', 'auth'], withCert), ['client', 'auth'])
    assert.equal(created, 1)
    // TLS 1.3 finishes the client's handshake before the server checks its certificate: the
    // refusal arrives either as a failed connect or as the stream ending with an error.
    await assert.rejects(exchange(server.address, ['anonymous'], { tls: { ca: certs.ca } }))
    assert.equal(created, 1, 'no protocol ran for the refused client')
  })

  test('a plain-text client does not disturb the TLS server', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const { port } = server.address as { port: number }
    const plain = net.connect(port, LOCALHOST)
    plain.on('error', () => {})
    plain.end('GET / HTTP/1.0\r\n\r\n')
    await once(plain, 'close')
    assert.deepEqual(await exchange(server.address, ['still', 'fine'], { tls: { ca: certs.ca } }), ['still', 'fine'])
  })

  test('disconnects a client that never starts the handshake after handshakeTimeout', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs, { handshakeTimeout: 100 }) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const { port } = server.address as { port: number }
    const start = performance.now()
    const mute = net.connect(port, LOCALHOST)
    mute.on('error', () => {})
    await once(mute, 'close')
    const elapsed = performance.now() - start
    assert.ok(elapsed >= 90 && elapsed < 3000, `closed after ${elapsed} ms`)
    // The server's side of the socket reports its close in the event loop's close phase.
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve))
    assert.equal(server.connections, 0)
  })
})

describe('TLS connect timeout', { skip }, () => {
  test('connectTls fails with a ConnectError when the handshake never completes', TIMEOUT, async (t) => {
    const silent = await silentServer()
    t.after(() => silent.close())
    const { port, accepted } = silent
    const start = performance.now()
    await assert.rejects(connectTls({ host: LOCALHOST, port }, LineEcho.create, { tls: { ca: certs.ca }, connectTimeout: 150 }), (err) => {
      assert.ok(err instanceof ConnectError)
      assert.match(err.message, new RegExp(`^connect to 127\\.0\\.0\\.1:${port} timed out after 150 ms$`))
      assert.equal((err.cause as { code?: string }).code, 'RS_ERR_TIMEOUT')
      return true
    })
    const elapsed = performance.now() - start
    assert.ok(elapsed >= 149 && elapsed < 3000, `gave up after ${elapsed} ms`)
    assert.equal(accepted.length, 1)
    const serverSide = accepted[0] as net.Socket
    if (!serverSide.closed) await once(serverSide, 'close') // the client hung up
  })

  test('Persistent reports the timeout and retries with backoff', TIMEOUT, async (t) => {
    const silent = await silentServer()
    t.after(() => silent.close())
    const { port, accepted } = silent
    const client = new Persistent({ host: LOCALHOST, port }, LineEcho.create, {
      tls: { ca: certs.ca },
      connectTimeout: 100,
      reconnect: { initialDelay: 10, factor: 2, jitter: 0 },
    })
    t.after(() => client.stop())
    const reasons: Error[] = []
    const delays: number[] = []
    await new Promise<void>((resolve) => {
      client.on('waiting', (delay, attempt, reason) => {
        delays.push(delay)
        if (reason !== undefined) reasons.push(reason)
        if (attempt === 3) resolve()
      })
    })
    await client.stop()
    assert.deepEqual(delays, [10, 20, 40])
    for (const reason of reasons) {
      assert.ok(reason instanceof ConnectError)
      assert.match(reason.message, /timed out after 100 ms/)
    }
    assert.equal(accepted.length, 3)
  })

  test('Persistent with an untrusted certificate keeps failing with ConnectError and never runs the protocol', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: { key: certs.selfSigned.key, cert: certs.selfSigned.cert } }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    let created = 0
    const client = new Persistent(
      server.address,
      (transport, seed: unknown, scope) => {
        created++
        return LineEcho.create(transport, seed, scope)
      },
      { tls: {}, reconnect: { initialDelay: 1, jitter: 0 } },
    )
    t.after(() => client.stop())
    const [, , reason] = (await once(client, 'waiting')) as [number, number, Error]
    await client.stop()
    assert.equal(created, 0)
    assert.ok(reason instanceof ConnectError)
    assert.equal((reason.cause as NodeJS.ErrnoException).code, 'DEPTH_ZERO_SELF_SIGNED_CERT')
  })
})

describe('TLS material', { skip }, () => {
  test('unusable key or certificate throws InvalidArgumentError at serve()', () => {
    const cases: Array<[TlsServerOptions, RegExp, string | undefined]> = [
      [{ key: 'not a key', cert: certs.server.cert }, /options\.tls\.key must be PEM contents, text with a -----BEGIN line/, undefined],
      [{ key: certs.server.key, cert: 'not a certificate' }, /options\.tls\.cert must be PEM contents/, undefined],
      // A file name where its contents belong: the message names the option and says what to do.
      [{ key: './server-key.pem', cert: certs.server.cert }, /options\.tls\.key must be PEM contents.*readFileSync\("\.\/server-key\.pem"\)/, undefined],
      [
        { key: certs.server.key, cert: ['/etc/ssl/server.crt'] },
        /options\.tls\.cert must be PEM contents.*readFileSync\("\/etc\/ssl\/server\.crt"\)/,
        undefined,
      ],
      [
        { key: [{ pem: 'key.pem', passphrase: 'x' }], cert: certs.server.cert },
        /options\.tls\.key must be PEM contents.*readFileSync\("key\.pem"\)/,
        undefined,
      ],
      [{ key: Buffer.from('not pem'), cert: certs.server.cert }, /options\.tls\.key must be PEM contents, text with a -----BEGIN line, got/, undefined],
      // PEM that OpenSSL cannot use still reaches it, and its error is the cause.
      [
        { key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', cert: certs.server.cert },
        /unusable TLS server key, certificate or CA/,
        undefined,
      ],
      [{ key: certs.client.key, cert: certs.server.cert }, /key values mismatch/, undefined],
      [{ key: certs.server.key, cert: certs.server.cert, ca: 'garbage' }, /options\.tls\.ca must be PEM contents/, undefined],
      [{ key: '', cert: certs.server.cert }, /options\.tls\.key must be the server's private key in PEM/, undefined],
      [{ key: certs.server.key, cert: [] }, /options\.tls\.cert must be the server's certificate chain in PEM/, undefined],
      [{ key: certs.server.key, cert: certs.server.cert, handshakeTimeout: 0 }, /tls\.handshakeTimeout must be an integer number of ms/, undefined],
    ]
    for (const [tls, message, causeCode] of cases) {
      assert.throws(
        () => serve({ host: LOCALHOST, port: 0, tls }, LineEcho.create),
        (err) => {
          assert.ok(err instanceof InvalidArgumentError)
          assert.equal(err.code, 'RS_ERR_INVALID_ARG')
          assert.match(err.message, message)
          if (causeCode !== undefined) assert.equal((err.cause as NodeJS.ErrnoException).code, causeCode)
          return true
        },
        String(message),
      )
    }
  })

  test('unusable client material throws InvalidArgumentError at connectTls()', () => {
    assert.throws(() => connectTls({ host: LOCALHOST, port: 1 }, LineEcho.create, { tls: { ca: 'garbage' } }), InvalidArgumentError)
    assert.throws(() => connectTls({ host: LOCALHOST, port: 1 }, LineEcho.create, { tls: { cert: certs.client.cert } }), /cert and options\.tls\.key go/)
  })
})

test('leaves no socket, server or timer behind', async () => {
  assert.deepEqual(await activeBeyond(baseline), [])
})
