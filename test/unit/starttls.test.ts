/**
 * `Intent.startTls` on the test kit: the plaintext part under every split, the refusal of
 * unconsumed plaintext, the opt-in feed (peek at the first byte), handshake failure and deadline.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { HandlerError, Intent, InvalidArgumentError, type Protocol, TlsUpgrade, TlsUpgradeError, type Transport } from 'rotor-stream'
import { describeSplit, Harness, splits } from 'rotor-stream/testing'
import { SmtpLikeServer } from '../helpers/starttls.js'
import { type TestCerts, testCerts, tlsUnavailable } from '../helpers/tls-certs.js'

const unavailable = tlsUnavailable()
if (unavailable !== null && process.env.CI) throw new Error(`TLS tests cannot run: ${unavailable}`)
const skip = unavailable ?? false
let certs: TestCerts
let upgrade: TlsUpgrade

before(() => {
  if (unavailable !== null) return
  certs = testCerts()
  upgrade = TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert })
})

const GREETING = '220 ready\r\n'

/** Runs SmtpLikeServer on the harness; returns the harness and the server state. */
function smtp(handshakeTimeout?: number): { h: Harness; server: SmtpLikeServer } {
  let server: SmtpLikeServer | undefined
  const h = new Harness(
    SmtpLikeServer.factory(
      upgrade,
      (s) => {
        server = s
      },
      handshakeTimeout,
    ),
  )
  return { h, server: server as SmtpLikeServer }
}

/** Reads one byte: 0x16 (a TLS record: ClientHello) upgrades with the byte fed to TLS; else plaintext lines. */
class PeekFirstByte implements Protocol {
  readonly lines: string[] = []
  secure = false
  readonly #upgrade: TlsUpgrade
  #peeked = false
  constructor(up: TlsUpgrade) {
    this.#upgrade = up
  }
  bytesRead(t: Transport, end: number): Intent<PeekFirstByte> {
    if (!this.#peeked) {
      this.#peeked = true
      // Nothing consumed: the byte stays in the input, and is handed to TLS on purpose.
      if (t.input.byte(0) === 0x16) return Intent.of(this).startTls(this.#upgrade)
      return Intent.of(this).expectDelimiter('\n', { max: 100 })
    }
    this.lines.push(t.input.toString('latin1', 0, end))
    t.input.consume(end + 1)
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
  tlsReady(): Intent<PeekFirstByte> {
    this.secure = true
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
}

describe('Intent.startTls on the test kit', { skip }, () => {
  test('the plaintext part, under every split: the answer leaves first, nothing is read during the handshake, tlsReady resumes', () => {
    const input = 'EHLO a\r\nSTARTTLS\r\n'
    for (const chunks of splits(input)) {
      const where = describeSplit(chunks)
      const { h, server } = smtp()
      for (const chunk of chunks) h.feed(chunk)
      assert.equal(h.output.toString(), `${GREETING}250 plain EHLO a\r\n220 go ahead\r\n`, where)
      assert.ok(h.isUpgrading, where)
      assert.equal(h.isReading, false, where)
      assert.equal(h.tlsHandshakeInput.length, 0, where)
      h.tlsReady()
      assert.ok(server.secure, where)
      h.feed('EHLO b\r\n')
      assert.match(h.output.toString(), /250 tls EHLO b\r\n$/, where)
      assert.deepEqual(h.log.slice(-3), ['bytesRead 8', 'tlsReady', 'bytesRead 6'], where)
      assert.equal(h.state, 'running', where)
    }
  })

  test('plaintext unconsumed at the upgrade is refused under every split, never read as if it came over TLS', () => {
    const input = 'STARTTLS\r\nMAIL FROM:<evil>\r\n'
    let refused = 0
    let handedToTls = 0
    for (const chunks of splits(input)) {
      const where = describeSplit(chunks)
      const { h, server } = smtp()
      for (const chunk of chunks) h.feed(chunk)
      if (h.isUpgrading) {
        // The injected bytes came after the upgrade started: they are the handshake's (which a real peer's TLS would fail).
        handedToTls++
        assert.equal(h.tlsHandshakeInput.toString(), 'MAIL FROM:<evil>\r\n', where)
        h.tlsReady()
      } else {
        refused++
        assert.equal(h.state, 'error', where)
        assert.ok(h.error instanceof TlsUpgradeError, where)
        assert.equal((h.error as TlsUpgradeError).kind, 'unconsumed-input', where)
        assert.equal(h.error.code, 'RS_ERR_TLS_UPGRADE', where)
        assert.deepEqual(
          server.exceptions.map((e) => e.code),
          ['RS_ERR_TLS_UPGRADE'],
          where,
        )
        // The "go ahead" never left: the peer is not told to start TLS on a poisoned stream.
        assert.doesNotMatch(h.output.toString(), /220 go ahead/, where)
      }
      assert.ok(!server.lines.includes('MAIL FROM:<evil>'), where)
    }
    assert.ok(refused > 0 && handedToTls > 0, `${refused} refused, ${handedToTls} handed to TLS`)
  })

  test("unconsumed: 'feed' hands the peeked bytes to TLS, under every split (direct TLS and plaintext on one port)", () => {
    const feeding = TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert }, { unconsumed: 'feed' })
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
    for (const chunks of splits(hello)) {
      const where = describeSplit(chunks)
      let state: PeekFirstByte | undefined
      const h = new Harness(() => {
        state = new PeekFirstByte(feeding)
        return Intent.of(state).expectBytes(1)
      })
      for (const chunk of chunks) h.feed(chunk)
      assert.ok(h.isUpgrading, where)
      assert.deepEqual(h.tlsHandshakeInput, hello, where)
      h.tlsReady()
      h.feed('over tls\n')
      assert.deepEqual(state?.lines, ['over tls'], where)
    }
    // A plaintext first byte: no upgrade.
    let state: PeekFirstByte | undefined
    const h = new Harness(() => {
      state = new PeekFirstByte(feeding)
      return Intent.of(state).expectBytes(1)
    })
    h.feed('plain\n')
    assert.equal(h.isUpgrading, false)
    assert.deepEqual(state?.lines, ['plain'])
  })

  test('a failed handshake reaches exception() as a TlsUpgradeError, then the stream ends', () => {
    const { h, server } = smtp()
    h.feed('STARTTLS\r\n')
    const cause = Object.assign(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' })
    h.tlsFail(cause)
    assert.equal(h.state, 'error')
    assert.ok(h.error instanceof TlsUpgradeError)
    assert.equal((h.error as TlsUpgradeError).kind, 'handshake')
    assert.equal(h.error.cause, cause)
    assert.deepEqual(h.log.slice(-2), ['exception RS_ERR_TLS_UPGRADE', 'fatal RS_ERR_TLS_UPGRADE'])
    assert.equal(server.fatals[0], h.error)
  })

  test("the handshake is bounded by the Intent's deadline, else by handshakeTimeout", () => {
    const { h } = smtp(500)
    h.feed('STARTTLS\r\n')
    h.advance(499)
    assert.ok(h.isUpgrading)
    h.advance(1)
    assert.equal(h.state, 'error')
    assert.equal((h.error as TlsUpgradeError).kind, 'timeout')

    const short = TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert, handshakeTimeout: 2000 })
    const h2 = new Harness(SmtpLikeServer.factory(short))
    h2.feed('STARTTLS\r\n')
    h2.advance(1999)
    assert.equal(h2.state, 'running')
    h2.advance(1)
    assert.equal((h2.error as TlsUpgradeError).kind, 'timeout')
  })

  test('a state without tlsReady is a HandlerError; arguments are checked', () => {
    const h = new Harness(() => Intent.of({ bytesRead: () => Intent.done() } as Protocol).startTls(upgrade))
    assert.ok(h.error instanceof HandlerError)
    assert.match(h.error.message, /tlsReady/)
    assert.throws(() => Intent.of({}).startTls({} as TlsUpgrade), InvalidArgumentError)
    assert.throws(() => TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert }, { unconsumed: 'drop' as 'feed' }), InvalidArgumentError)
    assert.throws(() => TlsUpgrade.server({ key: 'nope', cert: certs.server.cert }), InvalidArgumentError)
    assert.throws(() => TlsUpgrade.client({ ca: 42 as unknown as string }), InvalidArgumentError)
    assert.throws(() => Intent.detach(42 as unknown as () => void), InvalidArgumentError)
  })

  test('detach on an I/O without a socket (the test kit) ends the stream with a HandlerError', () => {
    const h = new Harness(() => Intent.detach(() => {}))
    assert.ok(h.error instanceof HandlerError)
  })
})
