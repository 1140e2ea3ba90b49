import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { type ProxyParse, ProxyProtocolError, parseProxyHeader } from 'rotor-stream'
import { describeSplit, splits } from 'rotor-stream/testing'
import { sslTlv, V2_SIGNATURE, v1Header, v2Header } from '../helpers/proxy.js'

const DATA = Buffer.from('GET / HTTP/1.1\r\n\r\n')

/** Feeds `chunks` as a reader does (every byte so far, after each chunk) until the parse ends. */
function feed(chunks: readonly Buffer[], maxHeaderSize?: number): { parse: ProxyParse; received: Buffer; calls: number } {
  let received = Buffer.alloc(0)
  let calls = 0
  for (const chunk of chunks) {
    received = Buffer.concat([received, chunk])
    calls++
    const parse = parseProxyHeader(received, maxHeaderSize)
    if (parse.state !== 'incomplete') return { parse, received, calls }
  }
  return { parse: parseProxyHeader(received, maxHeaderSize), received, calls }
}

/** The header parsed from `bytes` under every split, the same each time; returns it and its length. */
function parseEverySplit(bytes: Buffer): { header: unknown; length: number } {
  const whole = parseProxyHeader(bytes)
  assert.equal(whole.state, 'done', whole.state === 'error' ? whole.error.message : 'incomplete')
  if (whole.state !== 'done') throw new Error('unreachable')
  for (const chunks of splits(bytes, { random: 200, randomSeed: 7 })) {
    const { parse, received } = feed(chunks)
    assert.equal(parse.state, 'done', `split ${describeSplit(chunks)}`)
    if (parse.state !== 'done') continue
    assert.deepEqual(parse.header, whole.header, `split ${describeSplit(chunks)}`)
    assert.equal(parse.length, whole.length, `split ${describeSplit(chunks)}`)
    assert.ok(received.length >= parse.length)
  }
  return { header: whole.header, length: whole.length }
}

function expectError(bytes: Buffer, reason: ProxyProtocolError['reason'], message: RegExp, maxHeaderSize?: number): void {
  for (const chunks of splits(bytes, { random: 50, randomSeed: 3 })) {
    const { parse } = feed(chunks, maxHeaderSize)
    assert.equal(parse.state, 'error', `split ${describeSplit(chunks)}`)
    if (parse.state !== 'error') continue
    assert.ok(parse.error instanceof ProxyProtocolError)
    assert.equal(parse.error.code, 'RS_ERR_PROXY_PROTOCOL')
    assert.equal(parse.error.reason, reason)
    assert.match(parse.error.message, message)
  }
}

describe('parseProxyHeader v1', () => {
  test('parses TCP4 under every split, leaving the data after it', { timeout: 30_000 }, () => {
    const header = v1Header('192.0.2.1', '198.51.100.2', 56324, 443)
    const { header: h, length } = parseEverySplit(Buffer.concat([header, DATA]))
    assert.equal(length, header.length)
    assert.deepEqual(h, {
      version: 1,
      command: 'proxy',
      transport: 'tcp4',
      source: { address: '192.0.2.1', port: 56324 },
      destination: { address: '198.51.100.2', port: 443 },
      tlvs: [],
    })
  })

  test('parses TCP6 and the longest line (107 bytes)', { timeout: 30_000 }, () => {
    const src = 'ffff:f...f:ffff'.replace('f...f', 'ffff:ffff:ffff:ffff:ffff:ffff')
    const header = v1Header(src, src, 65535, 65535)
    assert.equal(header.length, 104)
    const { header: h } = parseEverySplit(header)
    assert.deepEqual((h as { source: unknown }).source, { address: src, port: 65535 })
    const short = parseEverySplit(v1Header('2001:db8::1', '::1', 1, 0))
    assert.deepEqual((short.header as { destination: unknown }).destination, { address: '::1', port: 0 })
  })

  test('parses UNKNOWN with or without addresses: no addresses taken', { timeout: 5000 }, () => {
    for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff:: ffff:: 1 2\r\n']) {
      const { header, length } = parseEverySplit(Buffer.from(line))
      assert.equal(length, line.length)
      assert.deepEqual(header, { version: 1, command: 'proxy', transport: 'unknown', source: null, destination: null, tlvs: [] })
    }
  })

  test('refuses malformed lines with RS_ERR_PROXY_PROTOCOL', { timeout: 30_000 }, () => {
    const bad = [
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', // LF without CR
      'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
      'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n',
      'PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 ::1 5.6.7.8 1 2\r\n',
      'PROXY TCP6 1.2.3.4 ::1 1 2\r\n',
      'PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
      'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n',
    ]
    for (const line of bad) expectError(Buffer.from(line), 'malformed', /PROXY v1 header/)
  })

  test('refuses a line without CRLF within 107 bytes', { timeout: 30_000 }, () => {
    expectError(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(100)}`), 'malformed', /longer than 107 bytes/)
  })

  test('refuses at the first byte what cannot be a header: TLS, HTTP, a lowercase proxy', { timeout: 5000 }, () => {
    for (const bytes of [Buffer.from([0x16, 0x03, 0x01]), Buffer.from('GET / HTTP/1.1\r\n'), Buffer.from('proxy'), Buffer.from('PROXZ')]) {
      const { parse, calls } = feed([...bytes].map((b) => Buffer.from([b])))
      assert.equal(parse.state, 'error')
      assert.ok(calls <= 5, `refused after ${calls} bytes`)
    }
  })
})

describe('parseProxyHeader v2', () => {
  test('parses INET with every TLV under every split', { timeout: 60_000 }, () => {
    const tlvs = [
      { type: 0x01, value: Buffer.from('h2') },
      { type: 0x02, value: Buffer.from('example.com') },
      { type: 0x05, value: Buffer.from('unique-1') },
      {
        type: 0x20,
        value: sslTlv(0x07, 0, [
          { type: 0x21, value: 'TLSv1.3' },
          { type: 0x22, value: 'client' },
          { type: 0x23, value: 'TLS_AES_128_GCM_SHA256' },
        ]),
      },
      { type: 0x30, value: Buffer.from('ns1') },
      { type: 0xe0, value: Buffer.from([1, 2, 3]) },
      { type: 0x04, value: Buffer.alloc(5) }, // NOOP
    ]
    const header = v2Header({ src: '203.0.113.7', dst: '10.0.0.1', sport: 40000, dport: 6379, tlvs, crc: true })
    const { header: h, length } = parseEverySplit(Buffer.concat([header, DATA]))
    assert.equal(length, header.length)
    const p = h as Record<string, unknown>
    assert.equal(p.version, 2)
    assert.equal(p.command, 'proxy')
    assert.equal(p.transport, 'tcp4')
    assert.deepEqual(p.source, { address: '203.0.113.7', port: 40000 })
    assert.deepEqual(p.destination, { address: '10.0.0.1', port: 6379 })
    assert.equal(p.alpn, 'h2')
    assert.equal(p.authority, 'example.com')
    assert.deepEqual(p.uniqueId, Buffer.from('unique-1'))
    assert.equal(p.netns, 'ns1')
    assert.deepEqual(p.ssl, {
      isSsl: true,
      hasCertConn: true,
      hasCertSess: true,
      verify: 0,
      version: 'TLSv1.3',
      cn: 'client',
      cipher: 'TLS_AES_128_GCM_SHA256',
    })
    assert.equal((p.tlvs as unknown[]).length, tlvs.length + 1) // and the CRC
  })

  test('parses INET6 (RFC 5952 text), UNIX and UDP', { timeout: 30_000 }, () => {
    const six = parseEverySplit(v2Header({ src: '2001:db8::7', dst: '::1', sport: 1, dport: 2 })).header as Record<string, unknown>
    assert.equal(six.transport, 'tcp6')
    assert.deepEqual(six.source, { address: '2001:db8::7', port: 1 })
    assert.deepEqual(six.destination, { address: '::1', port: 2 })
    const full = parseEverySplit(v2Header({ family: 2, src: '1:0:2:0:0:3:0:4', dst: '1:0:0:2:0:0:0:3' })).header as Record<string, unknown>
    assert.deepEqual(full.source, { address: '1:0:2::3:0:4', port: 0 })
    assert.deepEqual(full.destination, { address: '1:0:0:2::3', port: 0 })
    const unix = parseEverySplit(v2Header({ family: 3, src: '/run/client.sock', dst: '/run/haproxy.sock' })).header as Record<string, unknown>
    assert.equal(unix.transport, 'unix')
    assert.deepEqual(unix.source, { path: '/run/client.sock' })
    assert.deepEqual(unix.destination, { path: '/run/haproxy.sock' })
    const udp = parseEverySplit(v2Header({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 2 })).header as Record<string, unknown>
    assert.equal(udp.transport, 'udp4')
  })

  test('LOCAL and UNSPEC carry no addresses (the connection keeps its own)', { timeout: 30_000 }, () => {
    const local = parseEverySplit(v2Header({ command: 'local' }))
    assert.equal(local.length, 16)
    assert.deepEqual(local.header, { version: 2, command: 'local', transport: 'unknown', source: null, destination: null, tlvs: [] })
    const localInet = parseEverySplit(v2Header({ command: 'local', src: '1.2.3.4', dst: '5.6.7.8', sport: 1, dport: 2 })).header as Record<string, unknown>
    assert.equal(localInet.source, null)
    const unspec = parseEverySplit(v2Header({ family: 0, tlvs: [{ type: 0x02, value: Buffer.from('a') }] })).header as Record<string, unknown>
    assert.equal(unspec.source, null)
    assert.equal(unspec.authority, 'a')
  })

  test('refuses a bad version, command, family, CRC, cut TLV, short address block', { timeout: 30_000 }, () => {
    const good = v2Header({ src: '1.2.3.4', dst: '5.6.7.8', sport: 1, dport: 2 })
    const withByte = (i: number, v: number): Buffer => {
      const b = Buffer.from(good)
      b[i] = v
      return b
    }
    expectError(withByte(12, 0x11), 'malformed', /version 1/)
    expectError(withByte(12, 0x22), 'malformed', /unknown command 2/)
    expectError(withByte(13, 0x41), 'malformed', /unknown family/)
    expectError(withByte(13, 0x13), 'malformed', /unknown family/)
    expectError(v2Header({ src: '1.2.3.4', dst: '5.6.7.8', crc: 12345 }), 'malformed', /CRC32C mismatch/)
    const cut = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 14]), Buffer.alloc(12), Buffer.from([0x01, 0])])
    expectError(cut, 'malformed', /TLV header cut/)
    const overrun = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 15]), Buffer.alloc(12), Buffer.from([0x01, 0, 9])])
    expectError(overrun, 'malformed', /runs past/)
    const short = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x21, 0, 12]), Buffer.alloc(12)])
    expectError(short, 'malformed', /address block of 12 bytes, the family needs 36/)
    expectError(v2Header({ src: '1.2.3.4', tlvs: [{ type: 0x05, value: Buffer.alloc(129) }] }), 'malformed', /unique id of 129 bytes/)
    expectError(v2Header({ src: '1.2.3.4', tlvs: [{ type: 0x20, value: Buffer.alloc(3) }] }), 'malformed', /SSL TLV of 3 bytes/)
    expectError(Buffer.concat([V2_SIGNATURE.subarray(0, 5), Buffer.from('x')]), 'malformed', /did not begin/)
  })

  test('refuses a header over maxHeaderSize as soon as its length is known', { timeout: 5000 }, () => {
    const big = v2Header({ src: '1.2.3.4', tlvs: [{ type: 0xe0, value: Buffer.alloc(5000) }] })
    const { parse, received } = feed([big.subarray(0, 16), big.subarray(16)])
    assert.equal(parse.state, 'error')
    assert.equal(received.length, 16)
    if (parse.state === 'error') {
      assert.equal(parse.error.reason, 'too-large')
      assert.match(parse.error.message, /5031 bytes, over the limit of 4096/)
    }
    assert.equal(parseProxyHeader(big, 65551).state, 'done')
  })
})

describe('parseProxyHeader properties', () => {
  test('never throws on garbage; refusals carry the code; a refusal stays a refusal with more bytes', { timeout: 60_000 }, () => {
    const prefixes = fc.constantFrom(
      Buffer.alloc(0),
      V2_SIGNATURE,
      Buffer.from('PROXY '),
      Buffer.from('PROXY TCP4 '),
      Buffer.concat([V2_SIGNATURE, Buffer.from([0x21])]),
    )
    fc.assert(
      fc.property(prefixes, fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 20 }), (prefix, tail, more) => {
        const bytes = Buffer.concat([prefix, tail])
        const parse = parseProxyHeader(bytes)
        if (parse.state === 'error') {
          assert.ok(parse.error instanceof ProxyProtocolError)
          assert.equal(parse.error.code, 'RS_ERR_PROXY_PROTOCOL')
          assert.equal(parseProxyHeader(Buffer.concat([bytes, more])).state, 'error')
        } else if (parse.state === 'done') {
          assert.ok(parse.length <= bytes.length)
          // What follows the header does not change it.
          const again = parseProxyHeader(Buffer.concat([bytes, more]))
          assert.deepEqual(again, parse)
        }
      }),
      { numRuns: 5000, seed: 42 },
    )
  })

  test('a generated v2 header parses to its fields under random splits; every proper prefix is incomplete', { timeout: 60_000 }, () => {
    const ip4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'))
    const tlv = fc.record({ type: fc.constantFrom(0x01, 0x02, 0x04, 0x05, 0x30, 0xe5), value: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) })
    fc.assert(
      fc.property(ip4, ip4, fc.nat(65535), fc.nat(65535), fc.array(tlv, { maxLength: 5 }), fc.boolean(), (src, dst, sport, dport, tlvs, crc) => {
        const header = v2Header({ src, dst, sport, dport, tlvs, crc })
        const parse = parseProxyHeader(header)
        assert.equal(parse.state, 'done')
        if (parse.state !== 'done') return
        assert.equal(parse.length, header.length)
        assert.deepEqual(parse.header.source, { address: src, port: sport })
        assert.deepEqual(parse.header.destination, { address: dst, port: dport })
        assert.deepEqual(
          parse.header.tlvs.slice(0, tlvs.length).map((t) => [t.type, t.value]),
          tlvs.map((t) => [t.type, t.value]),
        )
        for (let k = 0; k < header.length; k++) assert.equal(parseProxyHeader(header.subarray(0, k)).state, 'incomplete', `prefix ${k}`)
      }),
      { numRuns: 300, seed: 7 },
    )
  })
})
