/**
 * Self-signed certificates for given host names, made at test time with the `openssl` CLI in a
 * temporary directory removed right after (no private key is committed): for SNI tests, where
 * each name needs a certificate of its own. A client trusts one by passing its `cert` as `ca`.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { KeyPair } from './tls-certs.js'

/** A self-signed EC P-256 certificate for `names` (DNS entries; the first is the CN), valid one day. */
export function hostCert(...names: string[]): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-stream-host-'))
  try {
    const key = join(dir, 'host.key')
    const cert = join(dir, 'host.crt')
    // biome-ignore format: one option and its value per line would hide the command
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`], { stdio: ['ignore', 'ignore', 'pipe'] })
    return { key: readFileSync(key), cert: readFileSync(cert) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
