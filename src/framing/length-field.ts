/**
 * Reading and writing the length field of `lengthPrefixed` frames: fixed sizes of 1, 2, 3, 4
 * and 8 bytes in either byte order, and unsigned LEB128 varints as protobuf writes them (at
 * most 10 bytes, 64 bits). Values past 2^53 are compared as BigInt, never rounded.
 * Not part of the package's API. (Not tagged internal: on a file's first comment the tag
 * would strip the import below from the declarations.)
 */
import type { Buf } from '../buf.js'
import { InvalidArgumentError } from '../errors.js'

/** A length field size: a number of bytes, or a varint. */
export type LengthSize = 1 | 2 | 3 | 4 | 8 | 'varint'

/** Longest varint: 64 bits in 7-bit groups (protobuf's limit). */
export const VARINT_MAX_BYTES = 10

/**
 * What the length field at `at` says: its value and the offset just past it; or, while it is
 * not all there, how many bytes it needs and the least value it can still have (a lower bound
 * that only grows as bytes arrive, for refusing a too large length at its first byte); or a
 * malformed varint.
 */
export type FieldRead =
  | { readonly kind: 'value'; readonly value: number | bigint; readonly end: number }
  | { readonly kind: 'partial'; readonly need: number; readonly atLeast: number | bigint }
  | { readonly kind: 'malformed'; readonly message: string }

/** Reads the field of `size` bytes starting at `at` in `input`. */
export function readField(input: Buf, at: number, size: LengthSize, bigEndian: boolean): FieldRead {
  if (size === 'varint') return readVarint(input, at)
  const available = input.length - at
  if (available >= size) {
    const field = input.view(at, at + size)
    if (size <= 4) return { kind: 'value', value: bigEndian ? field.readUIntBE(0, size) : field.readUIntLE(0, size), end: at + size }
    const hi = bigEndian ? field.readUInt32BE(0) : field.readUInt32LE(4)
    const lo = bigEndian ? field.readUInt32BE(4) : field.readUInt32LE(0)
    // Below 2^53 a number is exact (and cheaper); above, a BigInt.
    const value = hi < 0x200000 ? hi * 2 ** 32 + lo : (BigInt(hi) << 32n) | BigInt(lo)
    return { kind: 'value', value, end: at + size }
  }
  // Partial: big endian, the known high bytes times what is still missing; little endian, the known low bytes.
  if (size <= 4) {
    // Below 2^32: exact as a number, and no BigInt on a header split by a read.
    let least = 0
    for (let i = 0; i < Math.max(available, 0); i++) {
      const byte = input.byte(at + i) as number
      least += byte * 2 ** (8 * (bigEndian ? size - 1 - i : i))
    }
    return { kind: 'partial', need: at + size, atLeast: least }
  }
  let atLeast = 0n
  for (let i = 0; i < Math.max(available, 0); i++) {
    const byte = BigInt(input.byte(at + i) as number)
    atLeast += bigEndian ? byte << BigInt(8 * (size - 1 - i)) : byte << BigInt(8 * i)
  }
  return { kind: 'partial', need: at + size, atLeast: atLeast <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(atLeast) : atLeast }
}

function readVarint(input: Buf, at: number): FieldRead {
  let value = 0
  let big: bigint | null = null
  for (let i = 0; i < VARINT_MAX_BYTES; i++) {
    const byte = input.byte(at + i)
    if (byte === undefined) return { kind: 'partial', need: at + i + 1, atLeast: big ?? value }
    if (i === VARINT_MAX_BYTES - 1 && byte > 1) {
      return { kind: 'malformed', message: `lengthPrefixed: varint over 64 bits (${byte & 0x80 ? `longer than ${VARINT_MAX_BYTES} bytes` : 'overflow'})` }
    }
    const group = byte & 0x7f
    // 7 * 7 = 49 bits stay exact as a number; the 8th group on goes to BigInt.
    if (i < 7) value += group * 2 ** (7 * i)
    else big = (big ?? BigInt(value)) + (BigInt(group) << BigInt(7 * i))
    if ((byte & 0x80) === 0) return { kind: 'value', value: big ?? value, end: at + i + 1 }
  }
  return { kind: 'malformed', message: `lengthPrefixed: varint longer than ${VARINT_MAX_BYTES} bytes` }
}

/** Writes `value` (a safe integer >= 0) as a field of `size` bytes; throws when it does not fit. */
export function fieldBytes(value: number, size: LengthSize, bigEndian: boolean): Buffer {
  if (size === 'varint') {
    const bytes: number[] = []
    let rest = value
    do {
      bytes.push((rest % 128) | (rest >= 128 ? 0x80 : 0))
      rest = Math.floor(rest / 128)
    } while (rest > 0)
    return Buffer.from(bytes)
  }
  const field = Buffer.allocUnsafe(size)
  if (size === 8) {
    if (bigEndian) field.writeBigUInt64BE(BigInt(value))
    else field.writeBigUInt64LE(BigInt(value))
    return field
  }
  if (value >= 2 ** (8 * size)) throw new InvalidArgumentError(`lengthPrefixed: length ${value} does not fit in ${size} bytes`)
  if (bigEndian) field.writeUIntBE(value, 0, size)
  else field.writeUIntLE(value, 0, size)
  return field
}
