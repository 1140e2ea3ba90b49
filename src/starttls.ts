/**
 * TLS in the middle of a connection (STARTTLS, PostgreSQL's SSLRequest): the settings of an
 * upgrade, validated once, and the socket work of one upgrade.
 *
 * Assumptions: an upgrade happens at most once per connection, on a plaintext TCP or Unix
 * socket; the protocol decides when (it returns `Intent.of(s).startTls(upgrade)`), the engine
 * flushes its output, stops reading, and the socket glue (`SocketIO`) calls {@link upgradeSocket}.
 */
import net from 'node:net'
import tls from 'node:tls'
import { DEFAULT_HANDSHAKE_TIMEOUT, type TlsClientOptions, type TlsServerOptions, tlsClientOptions, tlsServerOptions } from './tls.js'
import { checkObject, checkString, invalid } from './validate.js'

/**
 * What to do with plaintext bytes already received but not consumed when the upgrade is asked for.
 * `'refuse'` (the default): the upgrade fails with a `TlsUpgradeError` (`kind` `'unconsumed-input'`)
 * and the connection closes. `'feed'`: the bytes are handed to TLS as the first bytes of the
 * handshake (for a server that peeked at them, e.g. a first byte 0x16 = a TLS ClientHello).
 */
export type UnconsumedInput = 'refuse' | 'feed'

/** Options of {@link TlsUpgrade.server} and {@link TlsUpgrade.client} besides the TLS material. */
export interface TlsUpgradeOptions {
  /** See {@link UnconsumedInput}. @default 'refuse' */
  unconsumed?: UnconsumedInput
}

/**
 * The settings of a TLS upgrade in the middle of a connection, validated once (the key,
 * certificate and CA are checked and the secure context built when it is made, as for
 * `serve({ tls })`), then given to every `Intent.of(s).startTls(upgrade)` or
 * `conn.startTls(upgrade)`.
 *
 * Plaintext still unconsumed at the upgrade is refused by default: the bytes the protocol has
 * not consumed from `t.input`, and those the socket received but had not handed over yet. Stacks
 * that went on with such bytes had holes. Treated as if they came over TLS, they let a man in
 * the middle inject commands or replies: PostgreSQL's server (CVE-2021-23214) and libpq
 * (CVE-2021-23222) read bytes sent with the SSLRequest as encrypted; aiosmtpd ran SMTP commands
 * pipelined after STARTTLS as encrypted ones (aio-libs/aiosmtpd#380); Postfix (CVE-2011-0411)
 * and, in the same wave, Twisted's STARTTLS had the same flaw. Dropped instead, they hang the
 * connection: asyncio's `start_tls()` lost a ClientHello read ahead by its StreamReader and
 * waited forever (python/cpython#142352). Here they end the connection with a typed error
 * unless the protocol says `unconsumed: 'feed'`, meant for a server that peeked at the first
 * bytes to tell a TLS ClientHello (first byte 0x16) from a plaintext request on the same port,
 * or read a header (PROXY) sent in front of the handshake, and hands the rest to TLS on purpose.
 * Bytes that arrive after the upgrade was asked for (while the plaintext output is flushed)
 * are the peer's handshake and go to TLS.
 *
 * The handshake is bounded by the deadline of the Intent that asked for it (`.timeout(ms)`,
 * `.deadline(at)`), else by `handshakeTimeout` (server options) or 10 s.
 */
export class TlsUpgrade {
  /** @internal 'server' or 'client'. */
  readonly side: 'server' | 'client'
  /** @internal See {@link UnconsumedInput}. */
  readonly unconsumed: UnconsumedInput
  /** @internal Handshake bound when the Intent has no deadline, in ms. */
  readonly handshakeTimeout: number
  /** @internal The options of `tls.TLSSocket` (server) or `tls.connect` (client), without the socket. */
  readonly options: tls.TLSSocketOptions & tls.ConnectionOptions
  /** @internal With `requestCert`: refuse a client whose certificate does not verify. */
  readonly rejectUnauthorized: boolean

  private constructor(side: 'server' | 'client', unconsumed: UnconsumedInput, handshakeTimeout: number, options: tls.TLSSocketOptions & tls.ConnectionOptions) {
    this.side = side
    this.unconsumed = unconsumed
    this.handshakeTimeout = handshakeTimeout
    this.options = options
    this.rejectUnauthorized = options.rejectUnauthorized !== false
  }

  /**
   * The accepting side's upgrade: the server's key and certificate (as `serve({ tls })` takes
   * them). Throws `InvalidArgumentError` for bad options or unusable material.
   */
  static server(tlsOptions: TlsServerOptions, options?: TlsUpgradeOptions): TlsUpgrade {
    const o = tlsServerOptions('TlsUpgrade.server', 'tlsOptions', tlsOptions)
    const unconsumed = checkUnconsumed('TlsUpgrade.server', options)
    const { key, cert, ca, requestCert, rejectUnauthorized, handshakeTimeout } = o
    const secureContext = tls.createSecureContext({ key, cert, ...(ca !== undefined && { ca }) })
    return new TlsUpgrade('server', unconsumed, handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, {
      isServer: true,
      secureContext,
      requestCert: requestCert === true,
      rejectUnauthorized: rejectUnauthorized !== false,
    })
  }

  /**
   * The connecting side's upgrade: the server's certificate is verified as by `connectTls`
   * (give `ca` for a private one, `servername` for the name to check; without it the name
   * checked is the peer's address, `'localhost'` over a Unix socket). Throws `InvalidArgumentError`.
   */
  static client(tlsOptions: TlsClientOptions, options?: TlsUpgradeOptions): TlsUpgrade {
    const o = tlsClientOptions('TlsUpgrade.client', 'tlsOptions', tlsOptions)
    if (o.servername !== undefined) checkString('TlsUpgrade.client', 'tlsOptions.servername', o.servername, false)
    const unconsumed = checkUnconsumed('TlsUpgrade.client', options)
    return new TlsUpgrade('client', unconsumed, DEFAULT_HANDSHAKE_TIMEOUT, o)
  }
}

function checkUnconsumed(where: string, options: TlsUpgradeOptions | undefined): UnconsumedInput {
  if (options === undefined) return 'refuse'
  const { unconsumed = 'refuse' } = checkObject<TlsUpgradeOptions>(where, 'options', options)
  if (unconsumed !== 'refuse' && unconsumed !== 'feed') throw invalid(where, 'options.unconsumed', "'refuse' or 'feed'", unconsumed)
  return unconsumed
}

/**
 * Wraps the plaintext `raw` socket in TLS per `upgrade`. `fed` (bytes the protocol chose to
 * hand over, or null) go in front of the socket's own buffered input: Node's `TLSSocket` reads
 * what its socket buffered before it took over. `secure` runs once the handshake is done (and
 * the peer verified); `failed` with the error otherwise. The caller moves its listeners.
 * @internal
 */
export function upgradeSocket(raw: net.Socket, upgrade: TlsUpgrade, fed: Buffer | null, secure: () => void, failed: (err: Error) => void): tls.TLSSocket {
  if (fed !== null && fed.length > 0) raw.unshift(fed)
  let socket: tls.TLSSocket
  if (upgrade.side === 'server') {
    socket = new tls.TLSSocket(raw, upgrade.options)
    socket.once('secure', () => {
      // A TLSSocket made by hand does not refuse an unverified client certificate itself (tls.Server does).
      if (upgrade.options.requestCert === true && upgrade.rejectUnauthorized && !socket.authorized) {
        failed(Object.assign(new Error(`client certificate refused: ${String(socket.authorizationError)}`), { code: 'ERR_TLS_CLIENT_CERT' }))
        return
      }
      secure()
    })
  } else {
    const servername = upgrade.options.servername
    const remote = raw.remoteAddress
    // Unix sockets have no address: 'localhost', as connectTls does.
    const host = servername ?? (remote === undefined || remote === '' ? 'localhost' : remote)
    const sni = servername ?? (net.isIP(host) === 0 ? host : undefined)
    socket = tls.connect({ ...upgrade.options, socket: raw, host, ...(sni !== undefined && { servername: sni }) })
    socket.once('secureConnect', secure)
  }
  return socket
}
