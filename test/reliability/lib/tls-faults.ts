/**
 * TLS gone wrong: an expired certificate, one from nobody we trust, one for another name, a
 * plain-text client on a TLS port and a TLS client on a plain port. Each must end with a clear
 * error on the side that can know (the client's `ConnectError` with OpenSSL's code as `cause`,
 * the server's `rotor-stream:server:error` channel), no protocol may run on a connection that
 * failed its handshake, and the servers keep serving.
 */
import diagnostics from 'node:diagnostics_channel'
import {
  type Address,
  ConnectError,
  connect,
  connectTls,
  type Exception,
  Intent,
  type Protocol,
  type Server,
  type ServerErrorMessage,
  serve,
  type Transport,
} from 'rotor-stream'
import { LineEcho } from '../../../examples/line-echo.js'
import type { TestCerts } from '../../helpers/tls-certs.js'
import { Problems, type ScenarioResult } from './metrics.js'

type Outcome = Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>

/** The code of an error's cause (Node's or OpenSSL's, or ours). */
function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } }).cause
  return typeof cause?.code === 'string' ? cause.code : undefined
}

/** Sends lines, collects the echo; the client side of LineEcho. */
class Echo implements Protocol {
  readonly replies: string[] = []
  readonly #lines: readonly string[]
  constructor(lines: readonly string[]) {
    this.#lines = lines
  }
  start(t: Transport): Intent<Echo> {
    t.output.write(this.#lines.map((l) => `${l}\n`).join(''))
    return Intent.of(this).expectDelimiter('\n', { max: 1024 }).timeout(5000)
  }
  bytesRead(t: Transport, end: number): Intent<Echo> {
    this.replies.push(t.input.toString('utf8', 0, end))
    t.input.consume(end + 1)
    return this.replies.length === this.#lines.length ? Intent.done() : Intent.of(this).expectDelimiter('\n', { max: 1024 }).timeout(5000)
  }
  /** End of stream or a reset before the answers: the stream ends with that reason (`stream.closed`). */
  exception(_t: Transport, reason: Exception): Intent<Echo> {
    return Intent.error(reason)
  }
}

/** A TLS echo exchange; resolves with the replies, rejects with the connect error. */
async function tlsEcho(address: Address, ca: Buffer, servername?: string, connectTimeout = 2000): Promise<string[]> {
  const echo = new Echo(['ping'])
  const stream = await connectTls(address, (t) => echo.start(t), { tls: { ca, ...(servername !== undefined && { servername }) }, connectTimeout })
  const reason = await stream.closed
  if (reason !== undefined) throw reason
  return echo.replies
}

/** A plain-text server that speaks first, as SMTP or a Redis error would: `hello\n`, then echoes lines. */
function banner(t: Transport): Intent<LineEcho> {
  t.output.write('220 plain text here\r\n')
  return Intent.of(new LineEcho()).expectDelimiter('\n', { max: 1024 }).timeout(5000)
}

/** Reads and never answers: a ClientHello (well under 1 MiB) gets no byte back until the 5 s timeout. */
function silent(): Intent<LineEcho> {
  return Intent.of(new LineEcho())
    .expectBytes(1 << 20)
    .timeout(5000)
}

/** Records the server errors published for `server`; `reach(n)` resolves once there are `n` (or after 5 s). */
function serverErrors(server: () => Server | null): { errors: Error[]; reach: (n: number) => Promise<void>; stop: () => void } {
  const errors: Error[] = []
  let waiter: { n: number; resolve: () => void } | null = null
  const listener = (message: unknown): void => {
    const m = message as ServerErrorMessage
    if (m.server !== server()) return
    errors.push(m.error)
    if (waiter !== null && errors.length >= waiter.n) waiter.resolve()
  }
  diagnostics.subscribe('rotor-stream:server:error', listener)
  const reach = (n: number): Promise<void> => {
    if (errors.length >= n) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 5000) // a safety net: the check below reports the miss
      waiter = {
        n,
        resolve: () => {
          clearTimeout(timer)
          waiter = null
          resolve()
        },
      }
    })
  }
  return { errors, reach, stop: () => diagnostics.unsubscribe('rotor-stream:server:error', listener) }
}

/** Runs every TLS fault `rounds` times. */
export async function tlsFaults(certs: TestCerts, options: { rounds: number }): Promise<Outcome> {
  const problems = new Problems()
  let created = 0
  const counting = (t: Transport, seed: unknown, scope: Parameters<typeof LineEcho.create>[2]): Intent<LineEcho> => {
    created++
    return LineEcho.create(t, seed, scope)
  }
  const serverRef: { current: Server | null } = { current: null }
  const reported = serverErrors(() => serverRef.current)
  const good = await serve({ host: '127.0.0.1', port: 0, tls: { key: certs.server.key, cert: certs.server.cert } }, counting)
  const expired = await serve({ host: '127.0.0.1', port: 0, tls: { key: certs.expired.key, cert: certs.expired.cert } }, counting)
  const untrusted = await serve({ host: '127.0.0.1', port: 0, tls: { key: certs.selfSigned.key, cert: certs.selfSigned.cert } }, counting)
  const plainSpeaking = await serve({ host: '127.0.0.1', port: 0 }, banner)
  const plainSilent = await serve({ host: '127.0.0.1', port: 0 }, silent)
  let faults = 0
  /** Expects a ConnectError whose cause has one of `codes`. */
  const refused = async (what: string, attempt: Promise<unknown>, codes: readonly string[], message: RegExp): Promise<void> => {
    faults++
    try {
      await attempt
      problems.add(`${what}: connected`)
    } catch (err) {
      if (!(err instanceof ConnectError) || err.code !== 'RS_ERR_CONNECT') problems.add(`${what}: ${String(err)} is not a ConnectError`)
      else if (!codes.includes(causeCode(err) ?? '')) problems.add(`${what}: cause ${causeCode(err)}, expected ${codes.join(' or ')} (${err.message})`)
      else if (!message.test(err.message)) problems.add(`${what}: message ${JSON.stringify(err.message)}`)
    }
  }
  try {
    for (let round = 0; round < options.rounds; round++) {
      await refused('expired certificate', tlsEcho(expired.address, certs.ca), ['CERT_HAS_EXPIRED'], /certificate has expired/)
      await refused('self-signed certificate', tlsEcho(untrusted.address, certs.ca), ['DEPTH_ZERO_SELF_SIGNED_CERT'], /self[- ]signed certificate/)
      await refused('certificate for another name', tlsEcho(good.address, certs.ca, 'db.example.com'), ['ERR_TLS_CERT_ALTNAME_INVALID'], /db\.example\.com/)
      await refused('CA we do not trust', tlsEcho(good.address, certs.selfSigned.cert), ['UNABLE_TO_VERIFY_LEAF_SIGNATURE'], /unable to verify/)
      await refused(
        'TLS client on a plain port that speaks first',
        tlsEcho(plainSpeaking.address, certs.ca),
        ['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG'],
        /wrong version number|packet length too long/,
      )
      // Nothing to tell it from a slow server but the time: the connect timeout says it.
      await refused('TLS client on a silent plain port', tlsEcho(plainSilent.address, certs.ca, undefined, 300), ['RS_ERR_TIMEOUT'], /timed out after 300 ms/)
      // A plain-text client on the TLS port: hung up on, and the server says why.
      faults++
      serverRef.current = good
      const before = reported.errors.length
      const echo = new Echo(['GET / HTTP/1.1'])
      const stream = await connect(good.address, (t) => echo.start(t))
      const reason = await stream.closed
      const code = (reason as { code?: string } | undefined)?.code
      if (code !== 'RS_ERR_END_OF_STREAM' && code !== 'RS_ERR_READ') problems.add(`plain client on the TLS port ended with ${String(reason)}`)
      await reported.reach(before + 1)
      const said = reported.errors.slice(before).map((e) => (e as { code?: string }).code)
      if (!said.some((c) => c?.startsWith('ERR_SSL_'))) problems.add(`the TLS server reported ${JSON.stringify(said)} for a plain-text client`)
      serverRef.current = null
      // The servers still serve.
      const replies = await tlsEcho(good.address, certs.ca)
      if (replies.join() !== 'ping') problems.add(`the TLS server answered ${JSON.stringify(replies)}`)
    }
    if (created !== options.rounds) problems.add(`protocols created: ${created}, expected only the ${options.rounds} good ones`)
  } finally {
    reported.stop()
    await Promise.all([good, expired, untrusted, plainSpeaking, plainSilent].map((s) => s.close({ timeout: 0 })))
  }
  return { name: 'TLS faults', unit: 'handshakes', cases: faults + options.rounds, faults, errors: problems.count, bytesLost: 0, samples: problems.samples }
}
