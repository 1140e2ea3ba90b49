/**
 * TLS facts and settings against a real peer, `openssl s_client`: the certificate chosen by the
 * SNI name it sends, ALPN selection, and its client certificate as `t.tls` reports it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type Factory, serve, type TlsInfo } from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { needs, run } from '../helpers/peers.js'
import { testCerts } from '../helpers/tls-certs.js'
import { hostCert } from '../helpers/tls-hosts.js'

const requirement = needs('openssl')
let dir = ''
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-stream-sclient-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** Writes `text` to a file of the temporary directory and returns its path. */
function file(name: string, text: Buffer): string {
  const where = join(dir, name)
  writeFileSync(where, text)
  return where
}

describe('TLS facts against openssl s_client', requirement, () => {
  test('s_client gets the certificate of the name it sends and the ALPN protocol it offers; the server sees its client certificate', {
    timeout: 30_000,
  }, async (t) => {
    const certs = testCerts()
    const a = hostCert('a.example')
    const seen: Array<{ servername: string | null; alpn: string | null; authorized: boolean; cn: unknown }> = []
    const factory: Factory = (tr, seed, scope) => {
      const info = tr.tls as TlsInfo
      seen.push({ servername: info.servername, alpn: info.alpnProtocol, authorized: info.authorized, cn: info.peerCertificate?.subject.CN })
      return LineEcho.create(tr, seed, scope)
    }
    const tls = {
      key: certs.server.key,
      cert: certs.server.cert,
      ca: certs.ca,
      requestCert: true,
      rejectUnauthorized: false,
      alpnProtocols: ['h2', 'http/1.1'],
      hosts: { 'a.example': a },
    }
    const server = await serve({ host: '127.0.0.1', port: 0, tls }, factory)
    t.after(() => server.close({ timeout: 0 }))
    const { port } = server.address as { port: number }
    const sClient = (args: string[]): Promise<string> =>
      run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-ign_eof', '-verify_return_error', ...args], { input: 'hello\nQUIT\n', timeout: 20_000 })
    const clientCert = ['-cert', file('client.crt', certs.client.cert), '-key', file('client.key', certs.client.key)]
    const asA = await sClient(['-servername', 'a.example', '-alpn', 'http/1.1', '-CAfile', file('a.crt', a.cert), ...clientCert])
    assert.match(asA, /subject=CN ?= ?a\.example/)
    assert.match(asA, /ALPN protocol: http\/1\.1/)
    assert.match(asA, /Verify return code: 0 \(ok\)/)
    assert.match(asA, /hello\nBYE\n/)
    const byDefault = await sClient(['-noservername', '-alpn', 'h2,http/1.1', '-CAfile', file('ca.crt', certs.ca)])
    assert.match(byDefault, /subject=CN ?= ?localhost/)
    assert.match(byDefault, /ALPN protocol: h2/)
    assert.deepEqual(seen, [
      { servername: 'a.example', alpn: 'http/1.1', authorized: true, cn: 'rotor-stream test client' },
      { servername: null, alpn: 'h2', authorized: false, cn: undefined },
    ])
  })
})
