/**
 * Real certificates for TLS tests, made at test time with the `openssl` CLI in a temporary
 * directory that is removed right after (no private key is ever committed).
 *
 * - `ca`: a test CA; `server` is signed by it for `localhost` and `127.0.0.1`; `client` is
 *   signed by it for client authentication.
 * - `selfSigned`: a self-signed server certificate for `localhost`/`127.0.0.1`, trusted by nobody.
 * - `expired`: a server certificate from `ca` for `localhost`/`127.0.0.1`, valid only on
 *   2020-01-01 (`openssl ca` with explicit dates: `x509 -days` cannot make a past validity).
 *
 * EC P-256 keys keep generation fast (tens of ms). Certificates are valid for one day.
 *
 * `testCerts()` serves `test/`; the portable suite (scripts/runtimes) has run.ts write the same
 * files once with `makeCerts(dir)` and each runtime read them with `readCerts(dir)`.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A key and its certificate, PEM. */
export interface KeyPair {
  key: Buffer
  cert: Buffer
}

/** Everything a TLS test needs. */
export interface TestCerts {
  /** The CA certificate (PEM) that signed `server` and `client`. */
  ca: Buffer
  server: KeyPair
  client: KeyPair
  selfSigned: KeyPair
  expired: KeyPair
}

let cached: TestCerts | null = null

/** Why TLS tests cannot run here, or `null` if they can (`openssl` is on the PATH). */
export function tlsUnavailable(): string | null {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return null
  } catch {
    return 'the openssl CLI is not installed (apt-get install openssl)'
  }
}

/** Creates the certificates once per process, in a temporary directory removed right after. Throws if `openssl` is missing. */
export function testCerts(): TestCerts {
  if (cached !== null) return cached
  const dir = mkdtempSync(join(tmpdir(), 'rotor-stream-certs-'))
  try {
    makeCerts(dir)
    cached = readCerts(dir)
    return cached
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The PEM files {@link makeCerts} wrote into `dir`. */
export function readCerts(dir: string): TestCerts {
  const read = (name: string): Buffer => readFileSync(join(dir, name))
  const pair = (name: string): KeyPair => ({ key: read(`${name}.key`), cert: read(`${name}.crt`) })
  return { ca: read('ca.crt'), server: pair('server'), client: pair('client'), selfSigned: pair('self'), expired: pair('expired') }
}

/**
 * Writes the certificates as PEM files into `dir` (an existing, empty directory): `ca.crt`, and
 * `.key` and `.crt` for `server`, `client`, `self` and `expired`, with the CSRs and the CA's files.
 */
export function makeCerts(dir: string): void {
  const file = (name: string): string => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  // The CA.
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=rotor-stream test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  const sign = (name: string, cn: string, extensions: string): void => {
    openssl(['req', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${cn}`])
    writeFileSync(file(`${name}.ext`), extensions)
    openssl([
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '1',
      '-extfile',
      file(`${name}.ext`),
      '-out',
      file(`${name}.crt`),
    ])
  }
  sign('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  sign('client', 'rotor-stream test client', 'extendedKeyUsage=clientAuth\n')
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('self.key'),
    '-out',
    file('self.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ])
  // The expired one needs `openssl ca`, the only way to set dates in the past, and its config.
  openssl(['req', ...ec, '-keyout', file('expired.key'), '-out', file('expired.csr'), '-subj', '/CN=localhost'])
  writeFileSync(file('index.txt'), '')
  writeFileSync(file('serial'), `${randomBytes(8).toString('hex')}\n`)
  writeFileSync(
    file('ca.cnf'),
    `[ca]\ndefault_ca = test\n[test]\ndatabase = ${file('index.txt')}\nnew_certs_dir = ${dir}\nserial = ${file('serial')}\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n`,
  )
  writeFileSync(file('expired.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  // biome-ignore format: one option and its value per line would hide the dates
  openssl(['ca', '-batch', '-config', file('ca.cnf'), '-cert', file('ca.crt'), '-keyfile', file('ca.key'), '-in', file('expired.csr'), '-out', file('expired.crt'),
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extfile', file('expired.ext'), '-notext'])
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}
