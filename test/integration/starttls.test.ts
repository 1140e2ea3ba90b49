/**
 * STARTTLS on real sockets (TCP and Unix): both sides on the library, state machine and async,
 * the refusal of unconsumed plaintext, handshake failures, the deadline, and direct TLS and
 * plaintext on one port by peeking at the first byte.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { before, describe, test } from 'node:test'
import tls from 'node:tls'
import { type Address, connect, handleAsync, Intent, open, type Protocol, type Server, serve, TlsUpgrade, TlsUpgradeError, type Transport } from 'rotor-stream'
import { rawConnect, readAll, unixPath } from '../helpers/net.js'
import { SmtpLikeClient, SmtpLikeServer } from '../helpers/starttls.js'
import { type TestCerts, testCerts, tlsUnavailable } from '../helpers/tls-certs.js'
import { until } from '../helpers/wait.js'

const TIMEOUT = { timeout: 15_000 }
const unavailable = tlsUnavailable()
if (unavailable !== null && process.env.CI) throw new Error(`TLS tests cannot run: ${unavailable}`)
const skip = unavailable ?? false
let certs: TestCerts
let serverUpgrade: TlsUpgrade
let clientUpgrade: TlsUpgrade

before(() => {
  if (unavailable !== null) return
  certs = testCerts()
  serverUpgrade = TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert })
  clientUpgrade = TlsUpgrade.client({ ca: certs.ca, servername: 'localhost' })
})

async function smtpServer(kind: 'tcp' | 'unix', onStart?: (s: SmtpLikeServer) => void, handshakeTimeout?: number): Promise<Server> {
  const address = kind === 'tcp' ? { host: '127.0.0.1', port: 0 } : { path: unixPath() }
  return serve(address, SmtpLikeServer.factory(serverUpgrade, onStart, handshakeTimeout))
}

/** Waits until `s` ended (a fatal or the server forgot the connection). */
async function noConnections(server: Server): Promise<void> {
  await until(() => server.connections === 0, 'the server to forget its connections')
}

describe('STARTTLS between two rotor-stream peers', { skip }, () => {
  for (const kind of ['tcp', 'unix'] as const) {
    test(`state machines on both sides, over ${kind}`, TIMEOUT, async (t) => {
      const servers: SmtpLikeServer[] = []
      const server = await smtpServer(kind, (s) => servers.push(s))
      t.after(() => server.close({ timeout: 0 }))
      let client: SmtpLikeClient | undefined
      const stream = await connect(
        server.address,
        SmtpLikeClient.factory(clientUpgrade, ['secret 1', 'secret 2'], (c) => {
          client = c
        }),
      )
      assert.equal(await stream.closed, undefined)
      assert.ok((stream.socket as tls.TLSSocket).encrypted, 'the stream socket is the TLS socket now')
      assert.deepEqual(client?.replies, [
        '220 ready',
        '250 plain EHLO client.test',
        '220 go ahead',
        '250 tls EHLO client.test',
        '250 tls secret 1',
        '250 tls secret 2',
        '221 bye',
      ])
      await noConnections(server)
      assert.deepEqual(servers[0]?.lines, ['EHLO client.test', 'STARTTLS', 'EHLO client.test', 'secret 1', 'secret 2', 'QUIT'])
    })
  }

  test('async API on both sides: await conn.startTls()', TIMEOUT, async (t) => {
    const server = await serve(
      { host: '127.0.0.1', port: 0 },
      handleAsync(async (conn) => {
        conn.write('220 ready\r\n')
        const line = (await conn.readUntil('\r\n', { max: 100 })).toString()
        assert.equal(line, 'STARTTLS')
        conn.write('220 go ahead\r\n')
        await conn.startTls(serverUpgrade)
        for (;;) {
          const next = (await conn.readUntil('\r\n', { max: 100 })).toString()
          if (next === 'QUIT') break
          conn.write(`250 tls ${next}\r\n`)
        }
        conn.write('221 bye\r\n')
      }),
    )
    t.after(() => server.close({ timeout: 0 }))
    const conn = await open(server.address)
    assert.equal((await conn.readUntil('\r\n', { max: 100 })).toString(), '220 ready')
    conn.write('STARTTLS\r\n')
    assert.equal((await conn.readUntil('\r\n', { max: 100 })).toString(), '220 go ahead')
    await conn.startTls(clientUpgrade)
    conn.write('hello\r\n')
    assert.equal((await conn.readUntil('\r\n', { max: 100 })).toString(), '250 tls hello')
    conn.write('QUIT\r\n')
    assert.equal((await conn.readUntil('\r\n', { max: 100 })).toString(), '221 bye')
    await conn.end()
    await noConnections(server)
  })

  test('plaintext pipelined behind STARTTLS is refused: TlsUpgradeError, connection closed, no "go ahead"', TIMEOUT, async (t) => {
    const servers: SmtpLikeServer[] = []
    const server = await smtpServer('tcp', (s) => servers.push(s))
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    const all = readAll(socket)
    socket.write('STARTTLS\r\nMAIL FROM:<injected>\r\n')
    const received = (await all).toString()
    assert.equal(received, '220 ready\r\n')
    await noConnections(server)
    const s = servers[0] as SmtpLikeServer
    assert.equal(s.exceptions[0]?.code, 'RS_ERR_TLS_UPGRADE')
    assert.equal((s.exceptions[0] as TlsUpgradeError).kind, 'unconsumed-input')
    assert.ok(!s.lines.includes('MAIL FROM:<injected>'))
  })

  test('the async API refuses read-ahead plaintext too', TIMEOUT, async (t) => {
    let failure: unknown
    const server = await serve(
      { host: '127.0.0.1', port: 0 },
      handleAsync(async (conn) => {
        await conn.readUntil('\r\n', { max: 100 })
        await conn.readExactly(1) // the next command is read ahead behind it
        failure = await conn.startTls(serverUpgrade).catch((err: unknown) => err)
      }),
    )
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    const all = readAll(socket)
    socket.write('STARTTLS\r\nXMAIL FROM:<injected>\r\n')
    await all
    await noConnections(server)
    assert.ok(failure instanceof TlsUpgradeError)
    assert.equal(failure.kind, 'unconsumed-input')
  })

  test('a peer that does not speak TLS after STARTTLS: the handshake fails into exception()', TIMEOUT, async (t) => {
    const servers: SmtpLikeServer[] = []
    const server = await smtpServer('tcp', (s) => servers.push(s))
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    const all = readAll(socket)
    socket.write('STARTTLS\r\n')
    socket.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('go ahead')) socket.write('this is not a ClientHello\r\n')
    })
    await all
    await noConnections(server)
    const reason = servers[0]?.fatals[0]
    assert.ok(reason instanceof TlsUpgradeError)
    assert.equal(reason.kind, 'handshake')
  })

  test('a client that does not trust the certificate fails with a TlsUpgradeError (handshake)', TIMEOUT, async (t) => {
    const server = await smtpServer('tcp')
    t.after(() => server.close({ timeout: 0 }))
    let client: SmtpLikeClient | undefined
    const untrusting = TlsUpgrade.client({ servername: 'localhost' }) // Node's root CAs: not our test CA
    const stream = await connect(
      server.address,
      SmtpLikeClient.factory(untrusting, [], (c) => {
        client = c
      }),
    )
    const reason = await stream.closed
    assert.ok(reason instanceof TlsUpgradeError)
    assert.equal(reason.kind, 'handshake')
    assert.equal((reason.cause as { code?: string }).code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')
    assert.equal(client?.exceptions[0], reason)
    await noConnections(server)
  })

  test("a peer that never starts the handshake is cut at the Intent's deadline", TIMEOUT, async (t) => {
    const servers: SmtpLikeServer[] = []
    const server = await smtpServer('tcp', (s) => servers.push(s), 100)
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    const all = readAll(socket)
    socket.write('STARTTLS\r\n') // and then silence
    assert.equal((await all).toString(), '220 ready\r\n220 go ahead\r\n')
    await noConnections(server)
    const reason = servers[0]?.fatals[0]
    assert.ok(reason instanceof TlsUpgradeError)
    assert.equal(reason.kind, 'timeout')
  })

  test("direct TLS and plaintext on one port: peek at the first byte, unconsumed: 'feed'", TIMEOUT, async (t) => {
    const feeding = TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert }, { unconsumed: 'feed' })
    class Peek implements Protocol {
      #peeked = false
      #secure = false
      bytesRead(tr: Transport, end: number): Intent<Peek> {
        if (!this.#peeked) {
          this.#peeked = true
          if (tr.input.byte(0) === 0x16) return Intent.of(this).startTls(feeding)
          return Intent.of(this).expectDelimiter('\n', { max: 100 })
        }
        tr.output.write(`${this.#secure ? 'tls' : 'plain'} ${tr.input.toString('latin1', 0, end)}\n`)
        tr.input.consume(end + 1)
        return Intent.done()
      }
      tlsReady(): Intent<Peek> {
        this.#secure = true
        return Intent.of(this).expectDelimiter('\n', { max: 100 })
      }
    }
    const server = await serve({ host: '127.0.0.1', port: 0 }, () => Intent.of(new Peek()).expectBytes(1))
    t.after(() => server.close({ timeout: 0 }))
    const { port } = server.address as { port: number }
    // Direct TLS: the ClientHello is the first byte.
    const secure = tls.connect({ host: '127.0.0.1', port, ca: certs.ca, servername: 'localhost' })
    await once(secure, 'secureConnect')
    const secureReply = readAll(secure)
    secure.write('hello\n')
    assert.equal((await secureReply).toString(), 'tls hello\n')
    // Plaintext on the same port.
    const plain = await rawConnect(server.address as Address)
    const plainReply = readAll(plain)
    plain.write('hello\n')
    assert.equal((await plainReply).toString(), 'plain hello\n')
    await noConnections(server)
  })
})
