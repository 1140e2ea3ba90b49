/**
 * TLS faults: an expired certificate, an untrusted one, one for another name, a plain-text
 * client on a TLS port and a TLS client on a plain port all end with clear errors, no protocol
 * runs on a failed handshake, and nothing is left behind.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type TestCerts, testCerts, tlsUnavailable } from '../helpers/tls-certs.js'
import { checkLeaksAfterEach } from './lib/leaks.js'
import { tlsFaults } from './lib/tls-faults.js'

const unavailable = tlsUnavailable()
if (unavailable !== null && process.env.CI) throw new Error(`TLS tests cannot run: ${unavailable}`)

checkLeaksAfterEach()

describe('TLS faults', { skip: unavailable ?? false }, () => {
  let certs: TestCerts

  test('the test certificates include one that expired on 2020-01-02', { timeout: 30_000 }, async () => {
    certs = testCerts()
    const { X509Certificate } = await import('node:crypto')
    const expired = new X509Certificate(certs.expired.cert)
    assert.equal(new Date(expired.validTo).toISOString(), '2020-01-02T00:00:00.000Z')
    assert.ok(expired.checkIssued(new X509Certificate(certs.ca)))
  })

  test('expired, untrusted and misnamed certificates, plain text on TLS and TLS on plain text end with clear errors', { timeout: 30_000 }, async () => {
    const outcome = await tlsFaults(certs, { rounds: 1 })
    assert.equal(outcome.errors, 0, outcome.samples?.join('\n'))
    assert.equal(outcome.faults, 7)
  })
})
