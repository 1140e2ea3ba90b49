/**
 * serve({ proxyProtocol }) behind a real HAProxy: `send-proxy` (v1), `send-proxy-v2`, TLS
 * passthrough (the header, then the client's own TLS bytes), and TLS terminated by HAProxy with
 * the SSL, ALPN and authority TLVs. The protocol must see the client's own address and port.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import tls from 'node:tls'
import { type ProxyHeader, type Server, serve } from 'rotor-stream'
import { type RealHaproxy, startHaproxy } from '../helpers/haproxy.js'
import { freePort, readAll } from '../helpers/net.js'
import { needs } from '../helpers/peers.js'
import { activeBeyond } from '../helpers/resources.js'
import { serverTls } from '../helpers/tls.js'
import { type TestCerts, testCerts, tlsUnavailable } from '../helpers/tls-certs.js'
import { parseWhoAmI, WhoAmI } from '../helpers/who-am-i.js'

const TIMEOUT = { timeout: 30_000 }
const LOCALHOST = '127.0.0.1'
const baseline = process.getActiveResourcesInfo()
const requirement = needs('haproxy', 'openssl')
const skip = requirement.skip ?? tlsUnavailable() ?? false

describe('PROXY protocol behind HAProxy', { skip }, () => {
  let certs: TestCerts
  let plain: Server
  let secure: Server
  let haproxy: RealHaproxy
  const ports = { v1: 0, v2: 0, passthrough: 0, terminated: 0 }
  /** Every header `plain` received. */
  const headers: ProxyHeader[] = []

  before(async () => {
    certs = testCerts()
    plain = await serve({ host: LOCALHOST, port: 0, proxyProtocol: true }, (t, seed, scope) => {
      if (t.proxy !== undefined) headers.push(t.proxy)
      return WhoAmI.create(t, seed, scope)
    })
    secure = await serve({ host: LOCALHOST, port: 0, tls: serverTls(certs), proxyProtocol: true }, WhoAmI.create)
    for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort()
    const plainPort = (plain.address as { port: number }).port
    const securePort = (secure.address as { port: number }).port
    haproxy = await startHaproxy(
      (dir) => `
frontend v1
  bind ${LOCALHOST}:${ports.v1}
  default_backend v1
backend v1
  server s1 ${LOCALHOST}:${plainPort} send-proxy

frontend v2
  bind ${LOCALHOST}:${ports.v2}
  default_backend v2
backend v2
  server s1 ${LOCALHOST}:${plainPort} send-proxy-v2

frontend passthrough
  bind ${LOCALHOST}:${ports.passthrough}
  default_backend passthrough
backend passthrough
  server s1 ${LOCALHOST}:${securePort} send-proxy-v2

frontend terminated
  bind ${LOCALHOST}:${ports.terminated} ssl crt ${dir}/server.pem ca-file ${dir}/ca.pem verify optional alpn h2,http/1.1
  unique-id-format conn-%ci-%cp
  default_backend terminated
backend terminated
  server s1 ${LOCALHOST}:${plainPort} send-proxy-v2 proxy-v2-options ssl,cert-cn,ssl-cipher,authority,unique-id,crc32c
`,
      Object.values(ports),
      { 'server.pem': Buffer.concat([certs.server.cert, certs.server.key]), 'ca.pem': certs.ca },
    )
  })

  after(async () => {
    await haproxy?.stop()
    await plain?.close({ timeout: 0 })
    await secure?.close({ timeout: 0 })
  })

  /** Connects to HAProxy on `port`, says `line`, returns what the server saw and the client's own port. */
  async function through(port: number, line: string): Promise<{ seen: ReturnType<typeof parseWhoAmI>; clientPort: number }> {
    const socket = net.connect({ host: LOCALHOST, port })
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    const clientPort = socket.localPort as number
    const reply = readAll(socket, 10_000)
    socket.end(`${line}\n`)
    return { seen: parseWhoAmI((await reply).toString()), clientPort }
  }

  test('send-proxy (v1): the protocol sees the client address and port, and the proxy frontend as local', TIMEOUT, async () => {
    const { seen, clientPort } = await through(ports.v1, 'one')
    assert.deepEqual(seen, {
      remote: LOCALHOST,
      remotePort: String(clientPort),
      local: LOCALHOST,
      localPort: String(ports.v1),
      version: 'v1',
      alpn: '-',
      authority: '-',
      echo: 'one',
    })
  })

  test('send-proxy-v2: the same over the binary header', TIMEOUT, async () => {
    const { seen, clientPort } = await through(ports.v2, 'two')
    assert.deepEqual(seen, {
      remote: LOCALHOST,
      remotePort: String(clientPort),
      local: LOCALHOST,
      localPort: String(ports.v2),
      version: 'v2',
      alpn: '-',
      authority: '-',
      echo: 'two',
    })
  })

  test('many connections at once each see their own client port', TIMEOUT, async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => through(i % 2 === 0 ? ports.v1 : ports.v2, `n${i}`)))
    for (const { seen, clientPort } of results) assert.equal(seen.remotePort, String(clientPort))
  })

  test('TLS passthrough: HAProxy sends the v2 header, then the client TLS bytes; the handshake is ours', TIMEOUT, async () => {
    const socket = tls.connect({ host: LOCALHOST, port: ports.passthrough, ca: certs.ca, servername: 'localhost' })
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
    const clientPort = socket.localPort as number
    const reply = readAll(socket, 10_000)
    socket.end('secret\n')
    const seen = parseWhoAmI((await reply).toString())
    assert.deepEqual(seen, {
      remote: LOCALHOST,
      remotePort: String(clientPort),
      local: LOCALHOST,
      localPort: String(ports.passthrough),
      version: 'v2',
      alpn: '-',
      authority: '-',
      echo: 'secret',
    })
  })

  test('TLS terminated by HAProxy: ALPN, authority (SNI), client certificate CN, TLS version, unique id and CRC32C TLVs', TIMEOUT, async () => {
    const socket = tls.connect({
      host: LOCALHOST,
      port: ports.terminated,
      ca: certs.ca,
      servername: 'localhost',
      ALPNProtocols: ['h2'],
      key: certs.client.key,
      cert: certs.client.cert,
    })
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
    const clientPort = socket.localPort as number
    const reply = readAll(socket, 10_000)
    socket.end('tlv\n')
    const seen = parseWhoAmI((await reply).toString())
    assert.equal(seen.remotePort, String(clientPort))
    assert.equal(seen.alpn, 'h2')
    assert.equal(seen.authority, 'localhost')
    assert.equal(seen.echo, 'tlv')
    const header = headers.find((h) => h.source !== null && 'port' in h.source && h.source.port === clientPort)
    assert.ok(header !== undefined)
    assert.equal(header.version, 2)
    assert.equal(header.transport, 'tcp4')
    assert.equal(header.ssl?.isSsl, true)
    assert.equal(header.ssl?.hasCertConn, true)
    assert.equal(header.ssl?.verify, 0)
    assert.equal(header.ssl?.cn, 'rotor-stream test client')
    assert.match(header.ssl?.version ?? '', /^TLSv1\.[23]$/)
    assert.ok((header.ssl?.cipher ?? '').length > 0)
    assert.equal(header.uniqueId?.toString(), `conn-${LOCALHOST}-${clientPort}`)
    assert.ok(
      header.tlvs.some((tlv) => tlv.type === 0x03),
      'a CRC32C TLV, checked by the parser',
    )
  })
})

after(async () => {
  assert.deepEqual(await activeBeyond(baseline), [])
})
