/**
 * TLS test helpers shared by `test/` and the portable suite (scripts/runtimes): server options
 * from the test certificates, and the assertion that a TLS connect failed for a given reason.
 */
import assert from 'node:assert/strict'
import { ConnectError, type TlsServerOptions } from 'rotor-stream'
import type { TestCerts } from './tls-certs.js'

/** `serve({ tls })` options with the CA-signed server certificate (for localhost and 127.0.0.1), plus `extra`. */
export function serverTls(certs: TestCerts, extra: Partial<TlsServerOptions> = {}): TlsServerOptions {
  return { key: certs.server.key, cert: certs.server.cert, ...extra }
}

/**
 * For `assert.rejects`: a ConnectError (`RS_ERR_CONNECT`) whose cause carries one of `codes`
 * (Node's `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_TLS_CERT_ALTNAME_INVALID`, …).
 */
export function connectErrorWith(...codes: string[]): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof ConnectError, `not a ConnectError: ${String(err)}`)
    assert.equal(err.code, 'RS_ERR_CONNECT')
    const code = (err.cause as { code?: string } | undefined)?.code
    assert.ok(code !== undefined && codes.includes(code), `cause code ${code}, expected ${codes.join(' or ')}: ${err.message}`)
    return true
  }
}
