/**
 * STARTTLS protocols for the tests of `Intent.startTls` (unit, integration, interop, runtimes):
 * a small SMTP-like server and client, and PostgreSQL's SSLRequest. Public API only.
 */
import { type Exception, Intent, type Protocol, type Scope, type TlsUpgrade, type Transport } from 'rotor-stream'

const LINE = { max: 1024 }

/**
 * An SMTP-like server: greets with `220 ready`, answers `EHLO`/any line with `250 plain|tls <line>`,
 * `STARTTLS` with `220 go ahead` and upgrades, `QUIT` with `221 bye` and ends. Records what it saw.
 */
export class SmtpLikeServer implements Protocol {
  readonly lines: string[] = []
  readonly exceptions: Exception[] = []
  readonly fatals: Error[] = []
  secure = false
  readonly #upgrade: TlsUpgrade
  readonly #handshakeTimeout: number | undefined

  constructor(upgrade: TlsUpgrade, handshakeTimeout?: number) {
    this.#upgrade = upgrade
    this.#handshakeTimeout = handshakeTimeout
  }

  /** A factory: the seed is the upgrade; `onStart` sees each server state. */
  static factory(upgrade: TlsUpgrade, onStart?: (s: SmtpLikeServer) => void, handshakeTimeout?: number) {
    return (t: Transport): Intent<Protocol> => {
      const s = new SmtpLikeServer(upgrade, handshakeTimeout)
      onStart?.(s)
      t.output.write('220 ready\r\n')
      return Intent.of(s).expectDelimiter('\r\n', LINE)
    }
  }

  bytesRead(t: Transport, end: number): Intent<SmtpLikeServer> {
    const line = t.input.toString('latin1', 0, end)
    t.input.consume(end + 2)
    this.lines.push(line)
    if (line === 'STARTTLS' && !this.secure) {
      t.output.write('220 go ahead\r\n')
      const intent = Intent.of(this).startTls(this.#upgrade)
      return this.#handshakeTimeout === undefined ? intent : intent.timeout(this.#handshakeTimeout)
    }
    if (line === 'QUIT') {
      t.output.write('221 bye\r\n')
      return Intent.done()
    }
    t.output.write(`250 ${this.secure ? 'tls' : 'plain'} ${line}\r\n`)
    return Intent.of(this).expectDelimiter('\r\n', LINE)
  }

  tlsReady(): Intent<SmtpLikeServer> {
    this.secure = true
    return Intent.of(this).expectDelimiter('\r\n', LINE)
  }

  exception(_t: Transport, reason: Exception): Intent<SmtpLikeServer> {
    this.exceptions.push(reason)
    return reason.code === 'RS_ERR_END_OF_STREAM' ? Intent.done() : Intent.error(reason)
  }

  fatal(reason: Error): void {
    this.fatals.push(reason)
  }
}

/**
 * The client of {@link SmtpLikeServer} (or of `openssl s_server -starttls smtp`, which answers
 * `250` lines to EHLO): reads the greeting, sends `EHLO`, `STARTTLS`, upgrades, sends `EHLO` and
 * `lines` over TLS, then `QUIT`. Multi-line replies (`250-`) are read to their last line.
 */
export class SmtpLikeClient implements Protocol {
  /** Every reply line, in order. */
  readonly replies: string[] = []
  readonly exceptions: Exception[] = []
  secure = false
  #step: 'greeting' | 'ehlo' | 'starttls' | 'ehlo2' | 'lines' | 'quit' = 'greeting'
  readonly #upgrade: TlsUpgrade
  readonly #lines: string[]

  constructor(upgrade: TlsUpgrade, lines: readonly string[] = []) {
    this.#upgrade = upgrade
    this.#lines = [...lines]
  }

  static factory(upgrade: TlsUpgrade, lines: readonly string[], onStart?: (c: SmtpLikeClient) => void) {
    return (): Intent<Protocol> => {
      const c = new SmtpLikeClient(upgrade, lines)
      onStart?.(c)
      return Intent.of(c).expectDelimiter('\r\n', LINE)
    }
  }

  bytesRead(t: Transport, end: number): Intent<SmtpLikeClient> {
    const line = t.input.toString('latin1', 0, end)
    t.input.consume(end + 2)
    this.replies.push(line)
    if (line[3] === '-') return Intent.of(this).expectDelimiter('\r\n', LINE) // more lines of the same reply
    switch (this.#step) {
      case 'greeting':
        this.#step = 'ehlo'
        t.output.write('EHLO client.test\r\n')
        break
      case 'ehlo':
        this.#step = 'starttls'
        t.output.write('STARTTLS\r\n')
        break
      case 'starttls':
        if (!line.startsWith('220')) return Intent.error(new Error(`STARTTLS refused: ${line}`))
        return Intent.of(this).startTls(this.#upgrade)
      case 'ehlo2':
      case 'lines': {
        const next = this.#lines.shift()
        if (next === undefined) {
          this.#step = 'quit'
          t.output.write('QUIT\r\n')
        } else {
          this.#step = 'lines'
          t.output.write(`${next}\r\n`)
        }
        break
      }
      case 'quit':
        return Intent.done()
    }
    return Intent.of(this).expectDelimiter('\r\n', LINE)
  }

  tlsReady(t: Transport): Intent<SmtpLikeClient> {
    this.secure = true
    this.#step = 'ehlo2'
    t.output.write('EHLO client.test\r\n')
    return Intent.of(this).expectDelimiter('\r\n', LINE)
  }

  exception(_t: Transport, reason: Exception): Intent<SmtpLikeClient> {
    this.exceptions.push(reason)
    // openssl s_server closes after QUIT without a reply line.
    return reason.code === 'RS_ERR_END_OF_STREAM' && this.#step === 'quit' ? Intent.done() : Intent.error(reason)
  }
}

/** PostgreSQL's SSLRequest: length 8, code 80877103. */
export const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])

/** A PostgreSQL StartupMessage (protocol 3.0) with `params` (user, database...). */
export function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), ...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)), Buffer.from([0])])
  const length = Buffer.alloc(4)
  length.writeUInt32BE(body.length + 4)
  return Buffer.concat([length, body])
}

/** One backend message as the client saw it: its type byte and payload. */
export interface PgMessage {
  type: string
  payload: Buffer
}

/**
 * A PostgreSQL client's first steps: SSLRequest, one byte back ('S' or 'N'), the TLS upgrade
 * on 'S', a StartupMessage, then backend messages until ReadyForQuery ('Z') or an
 * ErrorResponse ('E'); it then sends Terminate and ends.
 */
export class PgSslClient implements Protocol {
  answer = ''
  secure = false
  readonly messages: PgMessage[] = []
  readonly #upgrade: TlsUpgrade
  readonly #params: Record<string, string>
  #header = true

  constructor(upgrade: TlsUpgrade, params: Record<string, string>) {
    this.#upgrade = upgrade
    this.#params = params
  }

  static factory(upgrade: TlsUpgrade, params: Record<string, string>, onStart: (c: PgSslClient) => void) {
    return (t: Transport): Intent<Protocol> => {
      const c = new PgSslClient(upgrade, params)
      onStart(c)
      t.output.write(SSL_REQUEST)
      return Intent.of(c).expectBytes(1)
    }
  }

  bytesRead(t: Transport, end: number, _scope: Scope): Intent<PgSslClient> {
    if (this.answer === '') {
      this.answer = t.input.toString('latin1', 0, 1)
      t.input.consume(1)
      if (this.answer !== 'S') return Intent.error(new Error(`server refused SSL: ${this.answer}`))
      return Intent.of(this).startTls(this.#upgrade)
    }
    if (this.#header) {
      this.#header = false
      const length = t.input.view(1, 5).readUInt32BE(0)
      return Intent.of(this).expectBytes(1 + length)
    }
    const type = t.input.toString('latin1', 0, 1)
    const payload = t.input.copy(5, end)
    t.input.consume(end)
    this.messages.push({ type, payload })
    if (type === 'Z' || type === 'E') {
      t.output.write(Buffer.from([0x58, 0, 0, 0, 4])) // Terminate
      return Intent.done()
    }
    this.#header = true
    return Intent.of(this).expectBytes(5)
  }

  tlsReady(t: Transport): Intent<PgSslClient> {
    this.secure = true
    t.output.write(startupMessage(this.#params))
    return Intent.of(this).expectBytes(5)
  }
}
