import type { Buf } from '../buf.js'
import { InvalidArgumentError, LimitReachedError, ProtocolError } from '../errors.js'
import { checkBoolean, checkInteger, checkOneOf, checkOptions } from '../validate.js'
import { checkInput, type Framer, payloadBytes, type Scan } from './framer.js'

/** Options of {@link lengthPrefixed}. */
export interface LengthPrefixedOptions {
  /** Size of the length field: 1, 2 or 4 bytes, or `'varint'` (unsigned LEB128, at most 5 bytes). @default 4 */
  lengthSize?: 1 | 2 | 4 | 'varint'
  /** Byte order of a fixed-size length field, `'big'` or `'little'`. @default 'big' */
  endian?: 'big' | 'little'
  /** Bytes before the length field (a type or version byte), kept in the frame's header; a non-negative safe integer. @default 0 */
  lengthOffset?: number
  /**
   * Added to the length field's value to get the payload size that follows the header; e.g. -4
   * when the length counts its own 4 bytes (Netty's lengthAdjustment). A safe integer. @default 0
   */
  adjustment?: number
  /** Largest payload in bytes, a non-negative safe integer; a larger declared length is a `LimitReachedError` before anything is buffered. @default 1048576 */
  maxFrameLength?: number
  /** Payload includes the header (offset bytes and length field) instead of starting after it: `true` or `false`. @default false */
  keepHeader?: boolean
}

/**
 * Frames announced by a length field (Netty's LengthFieldBasedFrameDecoder, tokio's
 * LengthDelimitedCodec): `[lengthOffset bytes][length][payload of length + adjustment bytes]`.
 */
export function lengthPrefixed(options: LengthPrefixedOptions = {}): Framer {
  const where = 'lengthPrefixed'
  const o = checkOptions<LengthPrefixedOptions>(where, 'options', options)
  const { lengthSize = 4, endian = 'big', lengthOffset = 0, adjustment = 0, maxFrameLength = 1024 * 1024, keepHeader = false } = o
  checkOneOf(where, 'options.lengthSize', lengthSize, [1, 2, 4, 'varint'] as const)
  checkOneOf(where, 'options.endian', endian, ['big', 'little'] as const)
  checkInteger(where, 'options.lengthOffset', lengthOffset)
  checkInteger(where, 'options.adjustment', adjustment, { min: Number.MIN_SAFE_INTEGER })
  checkInteger(where, 'options.maxFrameLength', maxFrameLength)
  checkBoolean(where, 'options.keepHeader', keepHeader)
  const fixedHeader = lengthSize === 'varint' ? 0 : lengthOffset + lengthSize
  const tooLong = (n: number): Scan => ({
    kind: 'error',
    error: new LimitReachedError(maxFrameLength, `frame of ${n} bytes exceeds maxFrameLength ${maxFrameLength}`),
  })

  /** Reads the length field: [value, header size], or a Scan saying what is missing or wrong. */
  function readLength(input: Buf): [number, number] | Scan {
    if (lengthSize === 'varint') {
      let value = 0
      for (let i = 0; i < 5; i++) {
        const byte = input.byte(lengthOffset + i)
        if (byte === undefined) return { kind: 'bytes', n: lengthOffset + i + 1 }
        value += (byte & 0x7f) * 2 ** (7 * i)
        if ((byte & 0x80) === 0) return [value, lengthOffset + i + 1]
      }
      return { kind: 'error', error: new ProtocolError('lengthPrefixed: varint longer than 5 bytes') }
    }
    if (input.length < fixedHeader) return { kind: 'bytes', n: fixedHeader }
    const field = input.view(lengthOffset, fixedHeader)
    const value = lengthSize === 1 ? (field[0] as number) : endian === 'big' ? field.readUIntBE(0, lengthSize) : field.readUIntLE(0, lengthSize)
    return [value, fixedHeader]
  }

  return {
    scan(input: Buf): Scan {
      checkInput('lengthPrefixed.scan', input)
      const read = readLength(input)
      if (!Array.isArray(read)) return read
      const [value, header] = read
      const length = value + adjustment
      if (length < 0) return { kind: 'error', error: new ProtocolError(`lengthPrefixed: length ${value} with adjustment ${adjustment} is negative`) }
      if (length > maxFrameLength) return tooLong(length)
      const size = header + length
      if (input.length < size) return { kind: 'bytes', n: size }
      return { kind: 'frame', start: keepHeader ? 0 : header, end: size, size }
    },
    encode(output: Buf, payload: Uint8Array | string): void {
      const bytes = payloadBytes('lengthPrefixed.encode', output, payload)
      if (lengthOffset > 0) throw new InvalidArgumentError('lengthPrefixed: encode cannot invent the bytes before the length field; write them yourself')
      if (bytes.length > maxFrameLength) throw new InvalidArgumentError(`frame of ${bytes.length} bytes exceeds maxFrameLength ${maxFrameLength}`)
      const value = bytes.length - adjustment
      if (value < 0) throw new InvalidArgumentError(`lengthPrefixed: cannot encode length ${bytes.length} with adjustment ${adjustment}`)
      if (lengthSize === 'varint') {
        const field: number[] = []
        let rest = value
        do {
          field.push((rest % 128) | (rest >= 128 ? 0x80 : 0))
          rest = Math.floor(rest / 128)
        } while (rest > 0)
        output.write(Uint8Array.from(field))
      } else {
        if (value >= 2 ** (8 * lengthSize)) throw new InvalidArgumentError(`lengthPrefixed: length ${value} does not fit in ${lengthSize} bytes`)
        const field = Buffer.allocUnsafe(lengthSize)
        if (endian === 'big') field.writeUIntBE(value, 0, lengthSize)
        else field.writeUIntLE(value, 0, lengthSize)
        output.write(field)
      }
      output.write(bytes)
    },
  }
}
