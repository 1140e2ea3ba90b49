/** Builders of PROXY protocol headers for the tests: v1 text and v2 binary, TLVs and CRC included. */
import { isIP } from 'node:net'
import { crc32c } from '../../src/proxy-protocol.js'

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

/** A v1 header line: `PROXY TCP4 src dst sport dport\r\n`. */
export function v1Header(src: string, dst: string, sport: number, dport: number): Buffer {
  const family = isIP(src) === 6 ? 'TCP6' : 'TCP4'
  return Buffer.from(`PROXY ${family} ${src} ${dst} ${sport} ${dport}\r\n`, 'latin1')
}

export interface V2Spec {
  command?: 'proxy' | 'local'
  /** 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX */
  family?: 0 | 1 | 2 | 3
  /** 0 UNSPEC, 1 STREAM, 2 DGRAM */
  protocol?: 0 | 1 | 2
  src?: string
  dst?: string
  sport?: number
  dport?: number
  tlvs?: readonly { type: number; value: Buffer }[]
  /** Append a CRC32C TLV (computed; or this wrong value). */
  crc?: boolean | number
}

/** A v2 header. */
export function v2Header(spec: V2Spec): Buffer {
  const family = spec.family ?? (spec.src === undefined ? 0 : isIP(spec.src) === 6 ? 2 : isIP(spec.src) === 4 ? 1 : 3)
  const protocol = spec.protocol ?? (family === 0 ? 0 : 1)
  let address = Buffer.alloc(0)
  if (family === 1) {
    address = Buffer.alloc(12)
    Buffer.from((spec.src ?? '0.0.0.0').split('.').map(Number)).copy(address, 0)
    Buffer.from((spec.dst ?? '0.0.0.0').split('.').map(Number)).copy(address, 4)
    address.writeUInt16BE(spec.sport ?? 0, 8)
    address.writeUInt16BE(spec.dport ?? 0, 10)
  } else if (family === 2) {
    address = Buffer.alloc(36)
    ipv6Bytes(spec.src ?? '::').copy(address, 0)
    ipv6Bytes(spec.dst ?? '::').copy(address, 16)
    address.writeUInt16BE(spec.sport ?? 0, 32)
    address.writeUInt16BE(spec.dport ?? 0, 34)
  } else if (family === 3) {
    address = Buffer.alloc(216)
    address.write(spec.src ?? '', 0, 108, 'utf8')
    address.write(spec.dst ?? '', 108, 108, 'utf8')
  }
  const tlvs = [...(spec.tlvs ?? [])]
  if (spec.crc !== undefined && spec.crc !== false) tlvs.push({ type: 0x03, value: Buffer.alloc(4) })
  const tlvBytes = Buffer.concat(tlvs.map((t) => Buffer.concat([Buffer.from([t.type, t.value.length >> 8, t.value.length & 0xff]), t.value])))
  const body = Buffer.concat([address, tlvBytes])
  const head = Buffer.from([0x20 | (spec.command === 'local' ? 0 : 1), (family << 4) | protocol, body.length >> 8, body.length & 0xff])
  const header = Buffer.concat([V2_SIGNATURE, head, body])
  if (spec.crc !== undefined && spec.crc !== false) {
    header.writeUInt32BE(typeof spec.crc === 'number' ? spec.crc : crc32c(header), header.length - 4)
  }
  return header
}

/** The SSL TLV's value. */
export function sslTlv(client: number, verify: number, subs: readonly { type: number; value: string }[]): Buffer {
  const head = Buffer.alloc(5)
  head[0] = client
  head.writeUInt32BE(verify, 1)
  const parts = subs.map((s) => {
    const v = Buffer.from(s.value)
    return Buffer.concat([Buffer.from([s.type, v.length >> 8, v.length & 0xff]), v])
  })
  return Buffer.concat([head, ...parts])
}

function ipv6Bytes(text: string): Buffer {
  const [left = '', right] = text.split('::')
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)))
  const l = parse(left)
  const r = right === undefined ? [] : parse(right)
  const groups = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r]
  const out = Buffer.alloc(16)
  for (const [i, g] of groups.entries()) out.writeUInt16BE(g, 2 * i)
  return out
}
