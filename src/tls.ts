/**
 * TLS options for servers and clients, validated once where they are given.
 *
 * Assumptions: certificates are verified by default on the client side (a self-signed or
 * unknown certificate fails the connection unless its CA is given); TLS material is checked
 * when a server or client is created, not on the first connection.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import tls from 'node:tls'
import { InvalidArgumentError } from './errors.js'
import { checkBoolean, checkMs, checkObject, checkString, invalid } from './validate.js'

/** PEM text or buffers, one or several (what `tls.createSecureContext` accepts for `cert` and `ca`). */
export type PemMaterial = string | Buffer | Array<string | Buffer>
/** A private key: PEM text or buffer, or several (what `tls.createSecureContext` accepts for `key`). */
export type KeyMaterial = NonNullable<tls.SecureContextOptions['key']>

/** TLS on the accept side ({@link serve}'s `tls` option). */
export interface TlsServerOptions {
  /** The server's private key (PEM). */
  key: KeyMaterial
  /** The server's certificate chain (PEM), leaf first. */
  cert: PemMaterial
  /** CAs trusted for client certificates (with `requestCert`). @default Node's bundled root CAs */
  ca?: PemMaterial
  /** Ask clients for a certificate. @default false */
  requestCert?: boolean
  /**
   * With `requestCert`: refuse clients whose certificate does not verify against `ca`.
   * @default true
   */
  rejectUnauthorized?: boolean
  /**
   * A client that has not finished the TLS handshake this many ms after connecting is
   * disconnected (Node's own default is 120 s, long enough to pin sockets on a busy server).
   * A whole number of ms within 1..2^31-1.
   * @default 10000
   */
  handshakeTimeout?: number
  /**
   * Application protocols this server speaks, for ALPN, most preferred first (e.g.
   * `['h2', 'http/1.1']`): the first one of this list the client also offers is chosen, and read
   * back as `t.tls.alpnProtocol`. Each a non-empty string of at most 255 bytes.
   *
   * The trap: a client that offers ALPN but none of these protocols is refused during the
   * handshake (Node sends the fatal `no_application_protocol` alert, as RFC 7301 asks; the
   * client sees `ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL` and the server a handshake
   * failure); a client that offers no ALPN at all is served, with `alpnProtocol` null.
   * @default no ALPN
   */
  alpnProtocols?: readonly string[]
  /**
   * A certificate per host name (SNI): `{ 'a.example': { key, cert }, '*.b.example': { key, cert } }`.
   * A client asking for a name listed here gets that certificate; a wildcard `*.b.example`
   * covers one label (`x.b.example`, not `b.example` nor `x.y.b.example`); an exact name wins
   * over a wildcard; names are compared without case. A client asking for another name, or for
   * none (connecting to an IP address), gets the top-level `key` and `cert`: unknown names are
   * served the default certificate (which the client then refuses unless it covers the name),
   * not cut off mid-handshake. Every entry is checked like the top-level material when the
   * server is made, and its secure context built once, not per handshake (the trap of SNI
   * callbacks that load or build certificates per connection, or that fail and abort the
   * handshake with an alert the client cannot explain). An entry's `ca` (CAs for client
   * certificates) applies to the clients of that name.
   * @default one certificate for every name
   */
  hosts?: Readonly<Record<string, TlsHostOptions>>
}

/** The certificate of one host name ({@link TlsServerOptions.hosts}). */
export interface TlsHostOptions {
  /** The private key of `cert` (PEM). */
  key: KeyMaterial
  /** The certificate chain for this name (PEM), leaf first. */
  cert: PemMaterial
  /** CAs trusted for client certificates on this name (with `requestCert`). @default the top-level `ca` */
  ca?: PemMaterial
}

/** TLS on the connecting side ({@link Persistent}'s and {@link connectTls}'s `tls` option). */
export interface TlsClientOptions {
  /**
   * CAs that may sign the server's certificate; give the server's own certificate or its CA
   * to trust a self-signed or private one.
   * @default Node's bundled root CAs
   */
  ca?: PemMaterial
  /** Client certificate chain (PEM), for servers that ask for one. */
  cert?: PemMaterial
  /** Private key of `cert`. */
  key?: KeyMaterial
  /**
   * Name sent as SNI and checked against the certificate.
   * @default the host name (none for an IP address, which is checked against the certificate's IP entries); `'localhost'` over a Unix socket
   */
  servername?: string
  /**
   * Verify the server's certificate (chain and name). Turning this off accepts any server,
   * including an attacker in the middle: give `ca` instead.
   * @default true
   */
  rejectUnauthorized?: boolean
  /**
   * Application protocols to offer through ALPN, most preferred first (e.g. `['h2', 'http/1.1']`);
   * what the server chose is `t.tls.alpnProtocol` (`null` if the server does not do ALPN).
   * A server that does ALPN and speaks none of these refuses the connection (see
   * {@link TlsServerOptions.alpnProtocols}). Each a non-empty string of at most 255 bytes.
   * @default no ALPN
   */
  alpnProtocols?: readonly string[]
  /**
   * A {@link Persistent} keeps the last TLS session the server gave it and offers it on its next
   * connection, so that a reconnect resumes (an abbreviated handshake: no certificate chain sent
   * or verified again; `t.tls.sessionReused` tells). The certificate checks were made when the
   * session was first established: a server whose certificate was replaced or revoked since is
   * still accepted on resumption until the session expires (the server decides how long, 2 hours
   * by default in Node). Turn it off to verify the certificate on every connection.
   * Other clients (`connect`, `open`) make one connection and never resume.
   * @default true
   */
  reuseSession?: boolean
}

/** Default of {@link TlsServerOptions.handshakeTimeout}, in ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000

/**
 * Validates server TLS material given to `where` as `name` once, and returns the options for
 * `tls.createServer`. Throws `InvalidArgumentError` (`RS_ERR_INVALID_ARG`) for a missing or
 * misshapen option, and for unusable key, certificate or CA, with OpenSSL's error (e.g.
 * `ERR_OSSL_PEM_NO_START_LINE`) as `cause`.
 * @internal
 */
export function tlsServerOptions(where: string, name: string, options: TlsServerOptions): tls.TlsOptions {
  const o = checkObject<TlsServerOptions>(where, name, options, 'an object { key, cert, ... }')
  const key = checkKey(where, `${name}.key`, o.key, "the server's private key")
  const cert = checkPem(where, `${name}.cert`, o.cert, "the server's certificate chain")
  const ca = o.ca === undefined ? undefined : checkPem(where, `${name}.ca`, o.ca, 'CA certificates')
  const handshakeTimeout =
    o.handshakeTimeout === undefined ? DEFAULT_HANDSHAKE_TIMEOUT : checkMs(where, `${name}.handshakeTimeout`, o.handshakeTimeout, { min: 1 })
  const requestCert = o.requestCert === undefined ? false : checkBoolean(where, `${name}.requestCert`, o.requestCert)
  const rejectUnauthorized = o.rejectUnauthorized === undefined ? true : checkBoolean(where, `${name}.rejectUnauthorized`, o.rejectUnauthorized)
  const alpn = o.alpnProtocols === undefined ? undefined : checkAlpn(where, `${name}.alpnProtocols`, o.alpnProtocols)
  const material = { key, cert, ...(ca !== undefined && { ca }) }
  checkMaterial(where, name, material, 'server')
  const sni = o.hosts === undefined ? undefined : sniCallback(hostContexts(where, `${name}.hosts`, o.hosts, ca))
  return {
    ...material,
    requestCert,
    rejectUnauthorized,
    handshakeTimeout,
    allowHalfOpen: true,
    ...(alpn !== undefined && { ALPNProtocols: alpn }),
    ...(sni !== undefined && { SNICallback: sni }),
  }
}

/** What a running server cannot change through `setTls()`: Node reads them once, when the server is made. @internal */
export const FIXED_SERVER_SETTINGS = ['requestCert', 'rejectUnauthorized', 'handshakeTimeout', 'ALPNProtocols'] as const

/** Host names of {@link TlsServerOptions.hosts}: DNS labels, optionally behind one `*.`. */
const HOST_NAME = /^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/

/** Checks every entry of `hosts` like the top-level material and builds its context once. */
function hostContexts(where: string, name: string, hosts: unknown, ca: PemMaterial | undefined): Map<string, tls.SecureContext> {
  const o = checkObject<Record<string, unknown>>(where, name, hosts, "an object { 'host.name': { key, cert, ca? }, ... }")
  const contexts = new Map<string, tls.SecureContext>()
  for (const [host, entry] of Object.entries(o)) {
    const field = `${name}[${JSON.stringify(host)}]`
    const lower = host.toLowerCase().replace(/\.$/, '')
    if (lower.length > 253 || !HOST_NAME.test(lower)) throw invalid(where, `${name} key`, "a host name ('a.example') or a wildcard ('*.a.example')", host)
    if (contexts.has(lower)) throw new InvalidArgumentError(`${where}: ${field} is given twice (host names are compared without case)`)
    const e = checkObject<TlsHostOptions>(where, field, entry, 'an object { key, cert, ca? }')
    const hostKey = checkKey(where, `${field}.key`, e.key, 'the private key of this host name')
    const hostCert = checkPem(where, `${field}.cert`, e.cert, "this host name's certificate chain")
    const hostCa = e.ca === undefined ? ca : checkPem(where, `${field}.ca`, e.ca, 'CA certificates')
    const material = { key: hostKey, cert: hostCert, ...(hostCa !== undefined && { ca: hostCa }) }
    checkMaterial(where, field, material, 'server')
    contexts.set(lower, tls.createSecureContext(material))
  }
  return contexts
}

/**
 * Node's `SNICallback` over contexts built beforehand: never fails (an error there aborts the
 * handshake), and answers `undefined` for an unknown name, which keeps the default certificate.
 */
function sniCallback(contexts: ReadonlyMap<string, tls.SecureContext>): NonNullable<tls.TlsOptions['SNICallback']> {
  return (servername, callback) => {
    const name = servername.toLowerCase().replace(/\.$/, '')
    const dot = name.indexOf('.')
    callback(null, contexts.get(name) ?? (dot > 0 ? contexts.get(`*${name.slice(dot)}`) : undefined))
  }
}

/** A non-empty list of protocol names for ALPN, each 1..255 bytes. */
function checkAlpn(where: string, name: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid(where, name, "a non-empty array of protocol names, e.g. ['h2', 'http/1.1']", value)
  return value.map((item: unknown, i) => {
    if (typeof item !== 'string' || item.length === 0 || Buffer.byteLength(item) > 255) {
      throw invalid(where, `${name}[${i}]`, 'a protocol name of 1..255 bytes', item)
    }
    return item
  })
}

/**
 * Validates client TLS options given to `where` as `name` once, and returns the options for
 * `tls.connect` (without the address).
 * @internal
 */
export function tlsClientOptions(where: string, name: string, options: TlsClientOptions): tls.ConnectionOptions {
  const o = checkObject<TlsClientOptions>(where, name, options, 'an object (use {} for the defaults)')
  const ca = o.ca === undefined ? undefined : checkPem(where, `${name}.ca`, o.ca, 'CA certificates')
  const cert = o.cert === undefined ? undefined : checkPem(where, `${name}.cert`, o.cert, 'the client certificate chain')
  const key = o.key === undefined ? undefined : checkKey(where, `${name}.key`, o.key, "the client certificate's private key")
  if ((cert === undefined) !== (key === undefined)) {
    throw new InvalidArgumentError(
      `${where}: ${name}.cert and ${name}.key go together (a client certificate needs its private key), got only ${cert === undefined ? 'key' : 'cert'}`,
    )
  }
  const material = { ...(ca !== undefined && { ca }), ...(cert !== undefined && { cert }), ...(key !== undefined && { key }) }
  if (Object.keys(material).length > 0) checkMaterial(where, name, material, 'client')
  const alpn = o.alpnProtocols === undefined ? undefined : checkAlpn(where, `${name}.alpnProtocols`, o.alpnProtocols)
  if (o.reuseSession !== undefined) checkBoolean(where, `${name}.reuseSession`, o.reuseSession)
  return {
    ...material,
    ...(alpn !== undefined && { ALPNProtocols: alpn }),
    ...(o.servername !== undefined && { servername: checkString(where, `${name}.servername`, o.servername) }),
    rejectUnauthorized: o.rejectUnauthorized === undefined ? true : checkBoolean(where, `${name}.rejectUnauthorized`, o.rejectUnauthorized),
  }
}

/**
 * PEM text or bytes, not empty, as `tls` takes them: bytes that are not a Buffer become a Buffer
 * over the same memory (PEM is read as text, and `String()` of a Uint8Array is a list of numbers).
 * `null` for anything else.
 */
function pemItem(value: unknown): string | Buffer | null {
  if (typeof value === 'string') return value.length > 0 ? value : null
  if (!(value instanceof Uint8Array) || value.length === 0) return null
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

/** A private key item: PEM text or bytes, or `{ pem, passphrase? }` (copied); `null` for anything else. */
function keyItem(value: unknown): string | Buffer | tls.KeyObject | null {
  const pem = pemItem(value)
  if (pem !== null) return pem
  if (typeof value !== 'object' || value === null || !('pem' in value)) return null
  const keyPem = pemItem(value.pem)
  const passphrase = 'passphrase' in value ? value.passphrase : undefined
  if (keyPem === null || !(passphrase === undefined || typeof passphrase === 'string')) return null
  return passphrase === undefined ? { pem: keyPem } : { pem: keyPem, passphrase }
}

/** `cert` or `ca`: PEM text, bytes, or a non-empty array of them. */
function checkPem(where: string, name: string, value: unknown, what: string): PemMaterial {
  const material = pemOrList(value, pemItem)
  if (material === null) throw invalid(where, name, `${what} in PEM: text, a Buffer, or a non-empty array of them`, value)
  return material
}

/** `key`: PEM text, bytes, or a non-empty array of them or of `{ pem, passphrase? }`. */
function checkKey(where: string, name: string, value: unknown, what: string): KeyMaterial {
  const material = pemOrList(value, keyItem)
  if (material === null) throw invalid(where, name, `${what} in PEM: text, a Buffer, or a non-empty array of them or of { pem, passphrase }`, value)
  return material
}

/**
 * Throws unless every item is PEM text (a `-----BEGIN` line): a file name given where its
 * contents belong would otherwise fail deep in OpenSSL ("no start line"), naming no option.
 */
function checkPemText(where: string, name: string, material: KeyMaterial): void {
  for (const entry of Array.isArray(material) ? material : [material]) {
    const item = typeof entry === 'object' && 'pem' in entry ? entry.pem : entry
    if (item.includes('-----BEGIN ')) continue
    const text = typeof item === 'string' ? item : item.subarray(0, 200).toString('latin1')
    const path = typeof item === 'string' && item.length < 4096 && !item.includes('\n')
    const hint = path ? ` (a file name? pass its contents: readFileSync(${JSON.stringify(item)}))` : ''
    throw invalid(where, name, `PEM contents, text with a -----BEGIN line${hint}`, text)
  }
}

/** `value` as one PEM item, or as a non-empty array of what `item` accepts; null if neither. */
function pemOrList<T>(value: unknown, item: (value: unknown) => T | null): string | Buffer | T[] | null {
  const one = pemItem(value)
  if (one !== null) return one
  if (!Array.isArray(value) || value.length === 0) return null
  const items: T[] = []
  for (const element of value) {
    const checked = item(element)
    if (checked === null) return null
    items.push(checked)
  }
  return items
}

/** Builds a secure context once, so bad material fails at creation with a clear message. */
function checkMaterial(where: string, name: string, material: Pick<tls.SecureContextOptions, 'ca' | 'cert' | 'key'>, side: 'server' | 'client'): void {
  // After every option's shape is checked: a wrong type is named before a wrong content.
  for (const option of ['key', 'cert', 'ca'] as const) {
    const value = material[option]
    if (value !== undefined) checkPemText(where, `${name}.${option}`, value)
  }
  try {
    // OpenSSL skips CA entries it cannot parse, which would surface later as "unable to verify".
    if (material.ca !== undefined) parseCertificates(material.ca, 'ca')
    tls.createSecureContext(material)
    if (!secureContextValidates()) checkKeyPair(material)
  } catch (err) {
    throw new InvalidArgumentError(`${where}: unusable TLS ${side} key, certificate or CA: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/**
 * Parses every certificate in `pem`; throws if an item holds none or one does not parse.
 * Returns the first certificate of each item: the leaf of a chain.
 */
function parseCertificates(pem: PemMaterial, option: string): X509Certificate[] {
  const leaves: X509Certificate[] = []
  for (const item of Array.isArray(pem) ? pem : [pem]) {
    const [first, ...others] = String(item).match(PEM_CERTIFICATE) ?? []
    if (first === undefined) throw new Error(`tls.${option} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`)
    leaves.push(new X509Certificate(first))
    for (const block of others) new X509Certificate(block)
  }
  return leaves
}

let contextValidates: boolean | undefined

/**
 * Whether `tls.createSecureContext` parses what it is given, as on Node and Bun. Deno's accepts
 * anything (bad material then fails every handshake instead), so there {@link checkKeyPair} does
 * the same checks with node:crypto. Feature-checked once.
 */
function secureContextValidates(): boolean {
  if (contextValidates === undefined) {
    try {
      tls.createSecureContext({ cert: 'not a certificate' })
      contextValidates = false
    } catch {
      contextValidates = true
    }
  }
  return contextValidates
}

/** The key and the certificate parse, and each certificate's leaf has its private key among the keys. */
function checkKeyPair(material: tls.SecureContextOptions): void {
  if (material.cert === undefined || material.key === undefined) return
  const leaves = parseCertificates(material.cert, 'cert')
  const keys = (Array.isArray(material.key) ? material.key : [material.key]).map((item: string | Buffer | tls.KeyObject) =>
    typeof item === 'string' || Buffer.isBuffer(item) ? createPrivateKey(item) : createPrivateKey({ key: item.pem, passphrase: item.passphrase }),
  )
  for (const leaf of leaves) {
    if (!keys.some((key) => leaf.checkPrivateKey(key))) throw new Error(`the private key does not match the certificate ${leaf.subject} (key values mismatch)`)
  }
}
