/**
 * `t.tls`: what the TLS handshake of a connection settled, read from its `TLSSocket` when asked.
 *
 * Assumptions: nothing is made for a plain connection (`t.tls` is `null` there, a property check
 * and no allocation); on a TLS one the {@link TlsInfo} is made on the first read and kept with
 * the socket, and each fact is read from the socket when asked (the peer certificate is parsed
 * once).
 */
import { isIP } from 'node:net'
import type { PeerCertificate, TLSSocket } from 'node:tls'

/** The cipher suite of a connection, as `TLSSocket.getCipher()` gives it. */
export interface TlsCipher {
  /** OpenSSL's name, e.g. `'TLS_AES_256_GCM_SHA384'`. */
  readonly name: string
  /** The IETF name, when the runtime gives it. */
  readonly standardName?: string
  /** The lowest TLS version the suite supports, e.g. `'TLSv1/SSLv3'` or `'TLSv1.3'`. */
  readonly version: string
}

/**
 * What TLS negotiated on one connection (`t.tls`, `stream.tls`): on the server side about the
 * client, on the client side about the server.
 *
 * Read it while the connection is up (in the factory, a handler, `fatal`): each fact comes from
 * the socket, and a closed socket has nothing left to tell (`peerCertificate` null, `authorized`
 * false), except a certificate already read, which is kept.
 *
 * ```ts
 * bytesRead(t, end) {
 *   if (t.tls?.authorized !== true) return Intent.error(new ProtocolError(`client certificate refused: ${t.tls?.authorizationError}`))
 *   const user = t.tls.peerCertificate?.subject.CN
 *   ...
 * }
 * ```
 */
export class TlsInfo {
  readonly #socket: TLSSocket
  #peer: PeerCertificate | null | undefined = undefined

  /** @internal */
  constructor(socket: TLSSocket) {
    this.#socket = socket
  }

  /**
   * Whether the peer's certificate verified against the trusted CAs (`ca`, or Node's roots). On a
   * server, false for a client that sent none (with `requestCert`) or one that did not verify
   * while `rejectUnauthorized` was off: check it before trusting `peerCertificate`.
   */
  get authorized(): boolean {
    return this.#socket.authorized === true
  }

  /**
   * Why the peer's certificate did not verify: OpenSSL's code, e.g.
   * `'UNABLE_TO_VERIFY_LEAF_SIGNATURE'`, `'DEPTH_ZERO_SELF_SIGNED_CERT'`, `'CERT_HAS_EXPIRED'`;
   * `null` when it did.
   */
  get authorizationError(): string | null {
    const error: unknown = this.#socket.authorizationError
    if (error === undefined || error === null || error === '') return null
    if (typeof error === 'string') return error
    // Node gives the code as a string; an Error (other runtimes, older typings) gives its code.
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? code : String((error as Error).message ?? error)
  }

  /**
   * The peer's certificate, parsed (`subject`, `issuer`, `valid_to`, `fingerprint256`,
   * `subjectaltname`, ..., and `raw`: its DER bytes), or `null` when it sent none. Parsed on the
   * first read, then kept. Present also when `authorized` is false.
   */
  get peerCertificate(): PeerCertificate | null {
    if (this.#peer === undefined) {
      const certificate = this.#socket.getPeerCertificate()
      // Node returns {} (or null, in some runtimes) when the peer sent no certificate.
      this.#peer = certificate !== null && typeof certificate === 'object' && Object.keys(certificate).length > 0 ? certificate : null
    }
    return this.#peer
  }

  /**
   * The application protocol chosen through ALPN (e.g. `'h2'`, `'http/1.1'`), or `null` when
   * none was (one side offered no list).
   */
  get alpnProtocol(): string | null {
    const protocol: unknown = this.#socket.alpnProtocol
    return typeof protocol === 'string' && protocol.length > 0 ? protocol : null
  }

  /**
   * The host name the client asked for (SNI): on a server, what the client sent (`null` when it
   * sent none, as clients connecting to an IP address do); on a client of this library, the
   * name it sent (the `servername` option, else the host name; `null` for an IP address).
   */
  get servername(): string | null {
    const name: unknown = (this.#socket as TLSSocket & { servername?: unknown }).servername
    if (typeof name === 'string' && name.length > 0) return name
    // A client socket does not say what it sent (Node sets `servername` on the server side only).
    return clientNames.get(this.#socket) ?? null
  }

  /** The TLS version, e.g. `'TLSv1.3'`; `null` if the runtime cannot tell. */
  get protocol(): string | null {
    return this.#socket.getProtocol?.() ?? null
  }

  /** The cipher suite; `null` if the runtime cannot tell. */
  get cipher(): TlsCipher | null {
    const cipher = this.#socket.getCipher?.()
    return cipher === undefined || cipher === null ? null : cipher
  }

  /** Whether the handshake resumed an earlier session (no full handshake, no certificate sent again). */
  get sessionReused(): boolean {
    return this.#socket.isSessionReused?.() === true
  }

  /** The facts as a plain object (for logs): the certificate as its subject and fingerprint. */
  toJSON(): Record<string, unknown> {
    const peer = this.peerCertificate
    return {
      authorized: this.authorized,
      authorizationError: this.authorizationError,
      peerCertificate: peer === null ? null : { subject: peer.subject, fingerprint256: peer.fingerprint256 },
      alpnProtocol: this.alpnProtocol,
      servername: this.servername,
      protocol: this.protocol,
      cipher: this.cipher,
      sessionReused: this.sessionReused,
    }
  }
}

/** The SNI name each client TLS socket sent, as `dial()` chose it. */
const clientNames = new WeakMap<object, string>()

/**
 * Remembers the SNI name a client socket sends: `servername`, else the host name (Node sends none
 * for an IP address), `'localhost'` over a Unix socket (Node's default host).
 * @internal
 */
export function rememberServername(socket: object, servername: string | undefined, host: string | undefined): void {
  const name = servername ?? (host === undefined ? 'localhost' : isIP(host) === 0 ? host : undefined)
  if (name !== undefined && name !== '') clientNames.set(socket, name)
}

/** The info of each TLS socket asked about, kept as long as the socket lives. */
const infos = new WeakMap<object, TlsInfo>()

/**
 * The {@link TlsInfo} of a stream's socket, or `null` for a plain one (and for the test kit's
 * endpoints). No allocation for a plain socket.
 * @internal
 */
export function tlsInfo(endpoints: object): TlsInfo | null {
  const socket = endpoints as Partial<TLSSocket>
  if (socket.encrypted !== true || typeof socket.getPeerCertificate !== 'function') return null
  let info = infos.get(endpoints)
  if (info === undefined) {
    info = new TlsInfo(endpoints as TLSSocket)
    infos.set(endpoints, info)
  }
  return info
}

/**
 * The last TLS session a server gave a client (the `'session'` event: with TLS 1.3 it comes
 * after the handshake, possibly several times; the last one is kept), to offer on the next
 * connection. One listener function per client, not one per connection.
 * @internal
 */
export class TlsSessionCache {
  /** The session to offer next; undefined until the server gave one. */
  last: Buffer | undefined = undefined
  readonly #onSession = (session: Buffer): void => {
    this.last = session
  }

  /** Keeps the sessions `socket` receives. */
  watch(socket: object): void {
    const tlsSocket = socket as Partial<TLSSocket>
    if (tlsSocket.encrypted === true && typeof tlsSocket.on === 'function') tlsSocket.on('session', this.#onSession)
  }
}
