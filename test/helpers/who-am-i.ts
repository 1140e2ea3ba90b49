/**
 * A protocol that says what it sees of its connection, for the PROXY protocol tests: on start
 * it writes `remoteAddress remotePort localAddress localPort version alpn authority\n`, then
 * echoes one line and closes.
 */
import { Intent, type Protocol, type Scope, type Transport } from 'rotor-stream'

const LF = Buffer.from('\n')

export class WhoAmI implements Protocol {
  static create(t: Transport, _seed: unknown, scope: Scope): Intent<WhoAmI> {
    const p = t.proxy
    t.output.write(`${t.remoteAddress} ${t.remotePort} ${t.localAddress} ${t.localPort} v${p?.version ?? '-'} ${p?.alpn ?? '-'} ${p?.authority ?? '-'}\n`)
    return Intent.of(new WhoAmI())
      .expectDelimiter(LF, { max: 1024 })
      .deadline(scope.now() + 10_000)
  }
  bytesRead(t: Transport, end: number): Intent<WhoAmI> {
    t.output.write(t.input.view(0, end + 1))
    t.input.consume(end + 1)
    return Intent.done()
  }
}

/** Parses the first line WhoAmI writes. */
export function parseWhoAmI(text: string): {
  remote: string
  remotePort: string
  local: string
  localPort: string
  version: string
  alpn: string
  authority: string
  echo: string
} {
  const [first = '', echo = ''] = text.split('\n')
  const [remote = '', remotePort = '', local = '', localPort = '', version = '', alpn = '', authority = ''] = first.split(' ')
  return { remote, remotePort, local, localPort, version, alpn, authority, echo }
}
