/**
 * The PROXY protocol header (HAProxy's, versions 1 and 2), parsed without sockets: a load
 * balancer in front of a server sends it first on every connection, with the client's real
 * addresses. Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 *
 * Assumptions: the caller keeps every byte received so far and calls {@link parseProxyHeader}
 * again with all of them when more arrive (a header is at most `maxHeaderSize` bytes, so this
 * stays cheap); bytes that cannot begin a header are refused as soon as they are seen, without
 * waiting for the rest.
 */
import { ProxyProtocolError } from './errors.js'
import { checkInteger, checkMs, checkObject, invalid } from './validate.js'

/** Where a proxied connection came from or went to: an IP address and port, or a Unix path. */
export type ProxyAddress = { readonly address: string; readonly port: number } | { readonly path: string }

/** One TLV (type-length-value) of a v2 header, as received. */
export interface ProxyTlv {
  /** The type byte (`0x01` ALPN, `0x02` authority, `0x20` SSL...; 0xE0..0xEF are application-specific). */
  readonly type: number
  /** The value (a copy: it outlives the input). */
  readonly value: Buffer
}

/** What the proxy learnt of the client's TLS session (the SSL TLV, `0x20`). */
export interface ProxySsl {
  /** The client connected over SSL/TLS (`PP2_CLIENT_SSL`). */
  readonly isSsl: boolean
  /** The client sent a certificate on this connection (`PP2_CLIENT_CERT_CONN`). */
  readonly hasCertConn: boolean
  /** The client sent a certificate at least once in this TLS session (`PP2_CLIENT_CERT_SESS`). */
  readonly hasCertSess: boolean
  /** 0 if the client's certificate verified (or none was sent), else the proxy's verify error. */
  readonly verify: number
  /** The TLS version, e.g. `'TLSv1.3'` (`PP2_SUBTYPE_SSL_VERSION`). */
  readonly version?: string
  /** The client certificate's Common Name (`PP2_SUBTYPE_SSL_CN`). */
  readonly cn?: string
  /** The cipher, e.g. `'ECDHE-RSA-AES128-GCM-SHA256'`. */
  readonly cipher?: string
  /** The certificate's signature algorithm. */
  readonly sigAlg?: string
  /** The certificate's key algorithm. */
  readonly keyAlg?: string
}

/**
 * A parsed PROXY header: what `Transport.proxy` holds on a server with `proxyProtocol`.
 * `source` and `destination` are null when the header says nothing of them (v2 `LOCAL`, a
 * health check of the proxy itself; family `UNSPEC`; v1 `UNKNOWN`): then the connection's own
 * addresses stay in `remoteAddress` and friends.
 */
export interface ProxyHeader {
  /** 1 (text) or 2 (binary). */
  readonly version: 1 | 2
  /** `'proxy'`: relayed for a client; `'local'`: the proxy's own connection (v2 only). */
  readonly command: 'proxy' | 'local'
  /** The client's transport and family, as the header names them. */
  readonly transport: 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unix' | 'unix-dgram' | 'unknown'
  /** The client (the connection's remote end, as the proxy saw it). */
  readonly source: ProxyAddress | null
  /** The address the client connected to (on the proxy). */
  readonly destination: ProxyAddress | null
  /** Every TLV of a v2 header in order (empty for v1), including those decoded below. */
  readonly tlvs: readonly ProxyTlv[]
  /** The ALPN protocol the client negotiated with the proxy (TLV `0x01`), e.g. `'h2'`. */
  readonly alpn?: string
  /** The host name the client asked for (TLV `0x02`, usually the TLS SNI). */
  readonly authority?: string
  /** The proxy's unique id of the connection (TLV `0x05`, at most 128 bytes). */
  readonly uniqueId?: Buffer
  /** The client's TLS session with the proxy (TLV `0x20`). */
  readonly ssl?: ProxySsl
  /** The network namespace (TLV `0x30`). */
  readonly netns?: string
}

/** What {@link parseProxyHeader} found in the bytes given. */
export type ProxyParse =
  /** The bytes are a valid beginning: call again with more. */
  | { readonly state: 'incomplete' }
  /** A whole header, `length` bytes long; the bytes after it are the connection's data. */
  | { readonly state: 'done'; readonly header: ProxyHeader; readonly length: number }
  /** Not a PROXY header (or a broken one): close the connection. */
  | { readonly state: 'error'; readonly error: ProxyProtocolError }

/** Longest v1 header, CRLF included (spec section 2.1). */
export const PROXY_V1_MAX_LENGTH = 107
/** Bytes of a v2 header before its address block: signature, version/command, family, length. */
export const PROXY_V2_FIXED_LENGTH = 16
/** Default of `maxHeaderSize`: bytes, v2 TLVs included. */
export const DEFAULT_PROXY_MAX_HEADER_SIZE = 4096
/** The smallest `maxHeaderSize` allowed: a v2 header with two Unix paths and no TLV (16 + 216). */
export const PROXY_MIN_MAX_HEADER_SIZE = PROXY_V2_FIXED_LENGTH + 216
/** The largest possible header: the v2 length field is 16 bits. */
export const PROXY_MAX_MAX_HEADER_SIZE = PROXY_V2_FIXED_LENGTH + 0xffff

/**
 * `serve()`'s `proxyProtocol` option: `true` for the defaults, or these. The header is then
 * required on every connection (HAProxy's `accept-proxy`): there is no "optional" mode, because
 * a server that also takes connections without the header lets any client that reaches it
 * directly claim any address by sending one.
 */
export interface ProxyProtocolOptions {
  /**
   * How long a new connection may take to send its whole header, in ms from accept; then it is
   * closed (`ProxyProtocolError`, reason `'timeout'`). A peer that sends nothing is closed too.
   * A whole number of ms within 1..2^31-1.
   * @default {@link DEFAULT_PROXY_HEADER_TIMEOUT} (5000)
   */
  timeout?: number
  /**
   * Longest header accepted, in bytes, TLVs included (a v1 header is at most 107); a v2 header
   * announcing more is refused as soon as its length field arrives. Within 232..65551.
   * @default {@link DEFAULT_PROXY_MAX_HEADER_SIZE} (4096)
   */
  maxHeaderSize?: number
}

/** Default of {@link ProxyProtocolOptions.timeout}, in ms. */
export const DEFAULT_PROXY_HEADER_TIMEOUT = 5000

/**
 * `proxyProtocol` as given to `where`, checked: null when off (`undefined` or `false`).
 * Throws `InvalidArgumentError`.
 * @internal
 */
export function proxyProtocolOptions(where: string, value: unknown): Required<ProxyProtocolOptions> | null {
  if (value === undefined || value === false) return null
  if (value === true) return { timeout: DEFAULT_PROXY_HEADER_TIMEOUT, maxHeaderSize: DEFAULT_PROXY_MAX_HEADER_SIZE }
  if (typeof value !== 'object' || value === null) throw invalid(where, 'options.proxyProtocol', 'true, false or { timeout?, maxHeaderSize? }', value)
  const o = checkObject<ProxyProtocolOptions>(where, 'options.proxyProtocol', value)
  return {
    timeout: o.timeout === undefined ? DEFAULT_PROXY_HEADER_TIMEOUT : checkMs(where, 'options.proxyProtocol.timeout', o.timeout, { min: 1 }),
    maxHeaderSize:
      o.maxHeaderSize === undefined
        ? DEFAULT_PROXY_MAX_HEADER_SIZE
        : checkInteger(where, 'options.proxyProtocol.maxHeaderSize', o.maxHeaderSize, { min: PROXY_MIN_MAX_HEADER_SIZE, max: PROXY_MAX_MAX_HEADER_SIZE }),
  }
}

/** v2 signature: `\r\n\r\n\0\r\nQUIT\n` (chosen so that no text protocol begins with it). */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
/** v1 begins with these 6 bytes. */
const V1_PREFIX = Buffer.from('PROXY ', 'latin1')
/** Address block sizes by v2 family nibble: INET 4+4+2+2, INET6 16+16+2+2, UNIX 108+108. */
const V2_ADDRESS_LENGTH = [0, 12, 36, 216] as const
/** Bytes of one Unix path in a v2 address block, NUL-padded. */
const UNIX_PATH_LENGTH = 108
/** TLV types (spec section 2.2.x). */
const PP2_TYPE_ALPN = 0x01
const PP2_TYPE_AUTHORITY = 0x02
const PP2_TYPE_CRC32C = 0x03
const PP2_TYPE_UNIQUE_ID = 0x05
const PP2_TYPE_SSL = 0x20
const PP2_TYPE_NETNS = 0x30
const PP2_MAX_UNIQUE_ID = 128
const PP2_SUBTYPE_SSL_NAMES: Readonly<Record<number, 'version' | 'cn' | 'cipher' | 'sigAlg' | 'keyAlg'>> = {
  33: 'version',
  34: 'cn',
  35: 'cipher',
  36: 'sigAlg',
  37: 'keyAlg',
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const INCOMPLETE: ProxyParse = Object.freeze({ state: 'incomplete' })

/**
 * Parses a PROXY header (v1 or v2) at the start of `input`, all the bytes received so far.
 * Pure: it keeps nothing, and never throws on any input. A header longer than `maxHeaderSize`
 * bytes (232..65551, as `proxyProtocol.maxHeaderSize`) is refused
 * as soon as its length is known; bytes that cannot begin one (a TLS ClientHello, `GET /`) are
 * refused at the first byte that differs. A v2 CRC32C TLV is checked.
 */
export function parseProxyHeader(input: Uint8Array, maxHeaderSize: number = DEFAULT_PROXY_MAX_HEADER_SIZE): ProxyParse {
  if (input.length === 0) return INCOMPLETE
  if (input[0] === V2_SIGNATURE[0]) return parseV2(input, maxHeaderSize)
  if (input[0] === V1_PREFIX[0]) return parseV1(input)
  return malformed('the connection did not begin with a PROXY protocol header')
}

function malformed(message: string): ProxyParse {
  return { state: 'error', error: new ProxyProtocolError('malformed', message) }
}

/** Whether `input` begins with as much of `prefix` as it holds. */
function matchesPrefix(input: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(input.length, prefix.length)
  for (let i = 0; i < n; i++) if (input[i] !== prefix[i]) return false
  return true
}

// ---- v1: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" ----

function parseV1(input: Uint8Array): ProxyParse {
  if (!matchesPrefix(input, V1_PREFIX)) return malformed('the connection did not begin with a PROXY protocol header')
  const limit = Math.min(input.length, PROXY_V1_MAX_LENGTH)
  let lf = -1
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (input[i] === 0x0a) {
      lf = i
      break
    }
  }
  if (lf === -1) {
    if (input.length >= PROXY_V1_MAX_LENGTH) return malformed(`PROXY v1 header longer than ${PROXY_V1_MAX_LENGTH} bytes`)
    return INCOMPLETE
  }
  if (input[lf - 1] !== 0x0d) return malformed('PROXY v1 header not ended by CRLF')
  const line = Buffer.from(input.buffer, input.byteOffset + V1_PREFIX.length, lf - 1 - V1_PREFIX.length).toString('latin1')
  const length = lf + 1
  const header = v1Header(line)
  return typeof header === 'string' ? malformed(`PROXY v1 header: ${header}`) : { state: 'done', header, length }
}

/** The fields after "PROXY ", or why they are wrong. */
function v1Header(line: string): ProxyHeader | string {
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) {
    // The proxy could not tell (spec 2.1): whatever follows is to be ignored.
    return { version: 1, command: 'proxy', transport: 'unknown', source: null, destination: null, tlvs: [] }
  }
  const fields = line.split(' ')
  if (fields.length !== 5) return `expected "TCP4|TCP6 <src> <dst> <sport> <dport>", got ${JSON.stringify(line)}`
  const [family, src, dst, sport, dport] = fields as [string, string, string, string, string]
  const isIp = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : null
  if (isIp === null) return `unknown protocol ${JSON.stringify(family)}`
  if (!isIp(src) || !isIp(dst)) return `invalid ${family} address in ${JSON.stringify(line)}`
  const sourcePort = v1Port(sport)
  const destinationPort = v1Port(dport)
  if (sourcePort === null || destinationPort === null) return `invalid port in ${JSON.stringify(line)}`
  return {
    version: 1,
    command: 'proxy',
    transport: family === 'TCP4' ? 'tcp4' : 'tcp6',
    source: { address: src, port: sourcePort },
    destination: { address: dst, port: destinationPort },
    tlvs: [],
  }
}

/** A decimal port 0..65535 without a leading zero (spec 2.1), or null. */
function v1Port(text: string): number | null {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return null
  const port = Number(text)
  return port <= 65535 ? port : null
}

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/

/** Dotted-quad IPv4 without leading zeros (ambiguous: octal to some parsers). */
export function isIPv4(text: string): boolean {
  return IPV4.test(text)
}

/** An IPv6 address in text form: 8 groups, or fewer around one `::`, optionally ending in an IPv4. */
export function isIPv6(text: string): boolean {
  if (text.length < 2 || text.length > 45) return false
  const halves = text.split('::')
  if (halves.length > 2) return false
  let groups = 0
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h] as string
    if (half === '') continue
    const parts = half.split(':')
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string
      const last = h === halves.length - 1 && i === parts.length - 1
      if (last && part.includes('.')) {
        if (!isIPv4(part)) return false
        groups += 2
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        groups += 1
      } else {
        return false
      }
    }
  }
  return halves.length === 2 ? groups <= 7 : groups === 8
}

// ---- v2: binary ----

function parseV2(input: Uint8Array, maxHeaderSize: number): ProxyParse {
  if (!matchesPrefix(input, V2_SIGNATURE)) return malformed('the connection did not begin with a PROXY protocol header')
  if (input.length > 12) {
    const versionCommand = input[12] as number
    if (versionCommand >> 4 !== 2) return malformed(`PROXY v2 header with version ${versionCommand >> 4}`)
    if ((versionCommand & 0x0f) > 1) return malformed(`PROXY v2 header with unknown command ${versionCommand & 0x0f}`)
  }
  if (input.length > 13) {
    const family = input[13] as number
    if (family >> 4 > 3 || (family & 0x0f) > 2) return malformed(`PROXY v2 header with unknown family/protocol 0x${family.toString(16)}`)
  }
  if (input.length < PROXY_V2_FIXED_LENGTH) return INCOMPLETE
  const bodyLength = ((input[14] as number) << 8) | (input[15] as number)
  const length = PROXY_V2_FIXED_LENGTH + bodyLength
  if (length > maxHeaderSize) {
    return { state: 'error', error: new ProxyProtocolError('too-large', `PROXY v2 header of ${length} bytes, over the limit of ${maxHeaderSize}`) }
  }
  if (input.length < length) return INCOMPLETE
  const header = v2Header(Buffer.from(input.buffer, input.byteOffset, length))
  return typeof header === 'string' ? malformed(`PROXY v2 header: ${header}`) : { state: 'done', header, length }
}

/** The whole v2 header `h`, or why it is wrong. */
function v2Header(h: Buffer): ProxyHeader | string {
  const command = (h[12] as number) & 0x0f ? 'proxy' : 'local'
  const familyByte = h[13] as number
  const family = familyByte >> 4
  const isDgram = (familyByte & 0x0f) === 2
  const addressLength = V2_ADDRESS_LENGTH[family as 0 | 1 | 2 | 3]
  const body = h.subarray(PROXY_V2_FIXED_LENGTH)
  if (body.length < addressLength) return `address block of ${body.length} bytes, the family needs ${addressLength}`
  const tlvs = parseTlvs(h, PROXY_V2_FIXED_LENGTH + addressLength)
  if (typeof tlvs === 'string') return tlvs
  let source: ProxyAddress | null = null
  let destination: ProxyAddress | null = null
  let transport: ProxyHeader['transport'] = 'unknown'
  // LOCAL: the proxy's own connection; its address block is to be ignored (spec 2.2).
  if (command === 'proxy' && (familyByte & 0x0f) !== 0) {
    switch (family) {
      case 1:
        transport = isDgram ? 'udp4' : 'tcp4'
        source = { address: ipv4(body, 0), port: body.readUInt16BE(8) }
        destination = { address: ipv4(body, 4), port: body.readUInt16BE(10) }
        break
      case 2:
        transport = isDgram ? 'udp6' : 'tcp6'
        source = { address: ipv6(body, 0), port: body.readUInt16BE(32) }
        destination = { address: ipv6(body, 16), port: body.readUInt16BE(34) }
        break
      case 3:
        transport = isDgram ? 'unix-dgram' : 'unix'
        source = { path: unixPath(body, 0) }
        destination = { path: unixPath(body, UNIX_PATH_LENGTH) }
        break
    }
  }
  const header: Mutable<ProxyHeader> = { version: 2, command, transport, source, destination, tlvs }
  return decodeTlvs(h, header)
}

/** The TLVs of header `h` from `offset` on, or why they do not parse. */
function parseTlvs(h: Buffer, offset: number): ProxyTlv[] | string {
  const tlvs: ProxyTlv[] = []
  let at = offset
  while (at < h.length) {
    if (h.length - at < 3) return `TLV header cut at byte ${at}`
    const type = h[at] as number
    const length = h.readUInt16BE(at + 1)
    if (at + 3 + length > h.length) return `TLV 0x${type.toString(16)} of ${length} bytes runs past the header's end`
    tlvs.push({ type, value: Buffer.from(h.subarray(at + 3, at + 3 + length)) })
    at += 3 + length
  }
  return tlvs
}

/** Adds the well-known TLVs to `header`; checks the CRC32C. */
function decodeTlvs(h: Buffer, header: Mutable<ProxyHeader>): ProxyHeader | string {
  let crcAt = -1
  let at = PROXY_V2_FIXED_LENGTH + V2_ADDRESS_LENGTH[((h[13] as number) >> 4) as 0 | 1 | 2 | 3]
  for (const tlv of header.tlvs) {
    switch (tlv.type) {
      case PP2_TYPE_ALPN:
        header.alpn = tlv.value.toString('latin1')
        break
      case PP2_TYPE_AUTHORITY:
        header.authority = tlv.value.toString('utf8')
        break
      case PP2_TYPE_CRC32C:
        if (tlv.value.length !== 4) return 'CRC32C TLV not 4 bytes long'
        crcAt = at + 3
        break
      case PP2_TYPE_UNIQUE_ID:
        if (tlv.value.length > PP2_MAX_UNIQUE_ID) return `unique id of ${tlv.value.length} bytes, over ${PP2_MAX_UNIQUE_ID}`
        header.uniqueId = tlv.value
        break
      case PP2_TYPE_SSL: {
        const ssl = sslTlv(tlv.value)
        if (typeof ssl === 'string') return ssl
        header.ssl = ssl
        break
      }
      case PP2_TYPE_NETNS:
        header.netns = tlv.value.toString('latin1')
        break
    }
    at += 3 + tlv.value.length
  }
  if (crcAt !== -1) {
    const expected = h.readUInt32BE(crcAt)
    // The checksum is computed over the whole header with the CRC field zeroed (spec 2.2.4).
    const copy = Buffer.from(h)
    copy.fill(0, crcAt, crcAt + 4)
    if (crc32c(copy) !== expected) return 'CRC32C mismatch'
  }
  return header
}

/** The SSL TLV's value: client flags (1), verify (4), then sub-TLVs. */
function sslTlv(value: Buffer): ProxySsl | string {
  if (value.length < 5) return `SSL TLV of ${value.length} bytes, under 5`
  const client = value[0] as number
  const ssl: Mutable<ProxySsl> = {
    isSsl: (client & 0x01) !== 0,
    hasCertConn: (client & 0x02) !== 0,
    hasCertSess: (client & 0x04) !== 0,
    verify: value.readUInt32BE(1),
  }
  const subs = parseTlvs(value, 5)
  if (typeof subs === 'string') return `SSL ${subs}`
  for (const sub of subs) {
    const name = PP2_SUBTYPE_SSL_NAMES[sub.type]
    if (name !== undefined) ssl[name] = sub.value.toString('utf8')
  }
  return ssl
}

function ipv4(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as `::`. */
function ipv6(b: Buffer, at: number): string {
  const groups: number[] = []
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + 2 * i))
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

function unixPath(b: Buffer, at: number): string {
  const field = b.subarray(at, at + UNIX_PATH_LENGTH)
  const nul = field.indexOf(0)
  return field.subarray(0, nul === -1 ? field.length : nul).toString('utf8')
}

let crcTable: Uint32Array | null = null

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as the v2 CRC32C TLV uses. */
export function crc32c(data: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let i = 0; i < data.length; i++) crc = (crcTable[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
