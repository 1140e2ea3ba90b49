/**
 * TLS material for the portable suite, made with the `openssl` CLI into a directory of the run
 * (removed with it; no private key is ever committed): a CA, a server certificate it signed for
 * localhost and 127.0.0.1, a client certificate it signed, and a self-signed server certificate.
 * EC P-256 keys: tens of ms.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'

export function makeCerts(dir: string): void {
  const file = (name: string): string => path.join(dir, name)
  const ssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const names = 'subjectAltName=DNS:localhost,IP:127.0.0.1'
  ssl(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '1', '-subj', '/CN=rotor-stream runtimes CA'])
  for (const [name, cn, ext] of [
    ['server', 'localhost', [names, 'extendedKeyUsage=serverAuth']],
    ['client', 'client', ['extendedKeyUsage=clientAuth']],
  ] as const) {
    ssl(['req', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${cn}`])
    writeFileSync(file(`${name}.ext`), `${ext.join('\n')}\n`)
    // biome-ignore format: one option and its value per line would hide the command
    ssl(['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-out', file(`${name}.crt`), '-extfile', file(`${name}.ext`)])
  }
  ssl(['req', '-x509', ...ec, '-keyout', file('self.key'), '-out', file('self.crt'), '-days', '1', '-subj', '/CN=localhost', '-addext', names])
}
