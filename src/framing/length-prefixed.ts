import type { Buf } from '../buf.js'
import { InvalidArgumentError, LimitReachedError, ProtocolError } from '../errors.js'
import { checkBoolean, checkInteger, checkOneOf, checkOptions } from '../validate.js'
import { checkInput, checkTooLong, DISCARD_DUE, type Framer, PerInput, payloadBytes, type Scan, type TooLongPolicy } from './framer.js'
import { fieldBytes, type LengthSize, readField } from './length-field.js'

/**
 * Options of {@link lengthPrefixed}. A frame is `[lengthOffset bytes][length field][body]`; the
 * header is everything before the body. The body is `field value + adjustment` bytes long.
 */
export interface LengthPrefixedOptions {
  /**
   * Size of the length field: 1, 2, 3, 4 or 8 bytes, or `'varint'` (unsigned LEB128 as protobuf
   * writes it: at most 10 bytes, 64 bits; a longer or overflowing one is a `ProtocolError` at its
   * first bad byte). 8-byte and varint values are compared with `maxFrameLength` exactly (BigInt
   * past 2^53). @default 4
   */
  lengthSize?: LengthSize
  /** Byte order of a fixed-size length field, `'big'` or `'little'`. @default 'big' */
  endian?: 'big' | 'little'
  /** Bytes before the length field (a type or version byte), part of the header; a non-negative safe integer. @default 0 */
  lengthOffset?: number
  /**
   * Added to the length field's value to get the body's size: the field counts
   * `body - adjustment` bytes. E.g. -4 when a 4-byte field counts itself too; +N when it leaves
   * out an N-byte trailer. `encode` writes `payload length - adjustment`. A safe integer.
   * Same sign as tokio's `length_adjustment` and Netty's decoder `lengthAdjustment`; Netty's
   * `LengthFieldPrepender(lengthAdjustment)` is the opposite sign (`-adjustment`).
   * @default 0
   */
  adjustment?: number
  /**
   * Largest body in bytes (`field value + adjustment`: the header is not counted, with or
   * without `keepHeader` or `strip`), a non-negative safe integer. A larger declared length is
   * refused before any of the body is buffered, at the first header byte that proves it (tokio's
   * `max_frame_length`; Netty's `maxFrameLength` is this plus the header's size).
   * @default 1048576
   */
  maxFrameLength?: number
  /** The payload includes the header (offset bytes and length field): `strip: 0`. `true` or `false`; not with `strip`. @default false */
  keepHeader?: boolean
  /**
   * Bytes dropped from the start of each frame before its payload (Netty's
   * `initialBytesToStrip`, tokio's `num_skip`): 0 keeps the header, the header's size
   * (the default) keeps the body only; any other count too. A frame shorter than `strip` is a
   * `ProtocolError`. A non-negative safe integer; not with `keepHeader`. `encode` ignores it (it
   * writes the header and the body).
   * @default the header's size (`keepHeader ? 0 : header`)
   */
  strip?: number
  /**
   * A declared length over `maxFrameLength`: `'error'` refuses it (a `LimitReachedError`, the
   * stream ends); `'discard'` drops the whole frame as it arrives, never buffering it, reports
   * it once (a `discard` scan carrying the error) and goes on with the next frame (Netty's
   * discarding mode).
   * @default 'error'
   */
  onTooLong?: TooLongPolicy
}

/** Bytes still to drop of an over-long frame: a number while safe, else a BigInt. */
type Remaining = number | bigint

/**
 * Frames announced by a length field (Netty's LengthFieldBasedFrameDecoder and
 * LengthFieldPrepender, tokio's LengthDelimitedCodec): `[lengthOffset bytes][length][body of
 * length + adjustment bytes]`. The payload is the frame from `strip` on.
 */
export function lengthPrefixed(options: LengthPrefixedOptions = {}): Framer {
  const where = 'lengthPrefixed'
  const o = checkOptions<LengthPrefixedOptions>(where, 'options', options)
  const { lengthSize = 4, endian = 'big', lengthOffset = 0, adjustment = 0, maxFrameLength = 1024 * 1024, keepHeader = false, onTooLong = 'error' } = o
  checkOneOf(where, 'options.lengthSize', lengthSize, [1, 2, 3, 4, 8, 'varint'] as const)
  checkOneOf(where, 'options.endian', endian, ['big', 'little'] as const)
  checkInteger(where, 'options.lengthOffset', lengthOffset)
  checkInteger(where, 'options.adjustment', adjustment, { min: Number.MIN_SAFE_INTEGER })
  checkInteger(where, 'options.maxFrameLength', maxFrameLength)
  checkBoolean(where, 'options.keepHeader', keepHeader)
  checkTooLong(where, onTooLong)
  const strip = o.strip === undefined ? null : checkInteger(where, 'options.strip', o.strip)
  if (strip !== null && o.keepHeader !== undefined) throw new InvalidArgumentError(`${where}: give options.keepHeader or options.strip, not both`)
  const bigEndian = endian === 'big'
  /** A field of 1 to 4 bytes: read as a number in place. */
  const small = lengthSize !== 'varint' && lengthSize <= 4
  const fixedHeader = lengthSize === 'varint' ? 0 : lengthOffset + lengthSize
  // Byte by byte through a fixed field only where its bytes can prove a length too large.
  const failFast = onTooLong === 'error' && lengthSize !== 'varint' && 2 ** (8 * lengthSize) - 1 + adjustment > maxFrameLength
  /** Inputs in the middle of dropping an over-long frame: the bytes still to drop (discard mode only). */
  const dropping = new PerInput<Remaining>()

  /** Whether a body of `value + adjustment` bytes is over the limit; exact for BigInt values. */
  const over = (value: number | bigint): boolean =>
    typeof value === 'bigint' ? value + BigInt(adjustment) > BigInt(maxFrameLength) : value + adjustment > maxFrameLength
  const tooLong = (value: number | bigint): LimitReachedError =>
    new LimitReachedError(
      maxFrameLength,
      `frame of ${typeof value === 'bigint' ? value + BigInt(adjustment) : value + adjustment} bytes exceeds maxFrameLength ${maxFrameLength}`,
    )

  /** Drops what is buffered of the `remaining` bytes of an over-long frame. */
  function drop(input: Buf, remaining: Remaining, commit: boolean, report: LimitReachedError | null): Scan {
    const length = input.length
    if (length === 0 && report === null) return { kind: 'bytes', n: 1 }
    if (!commit) return DISCARD_DUE
    const all = typeof remaining === 'bigint' ? remaining <= BigInt(length) : remaining <= length
    const size = all ? Number(remaining) : length
    if (all) dropping.delete(input)
    else dropping.set(input, typeof remaining === 'bigint' ? remaining - BigInt(size) : remaining - size)
    input.consume(size)
    return { kind: 'discard', size, error: report }
  }

  function scan(input: Buf, commit: boolean): Scan {
    if (onTooLong === 'discard') {
      const remaining = dropping.get(input)
      if (remaining !== undefined) return drop(input, remaining, commit, null)
    }
    // The common case first: a whole field of up to 4 bytes, a plain number, nothing allocated for it.
    if (small && input.length >= fixedHeader) {
      const field = input.view(lengthOffset, fixedHeader)
      const body = (bigEndian ? field.readUIntBE(0, lengthSize) : field.readUIntLE(0, lengthSize)) + adjustment
      if (body >= 0 && body <= maxFrameLength) {
        const size = fixedHeader + body
        const start = strip ?? (keepHeader ? 0 : fixedHeader)
        if (start <= size && size <= Number.MAX_SAFE_INTEGER)
          return input.length < size ? { kind: 'bytes', n: size } : { kind: 'frame', start, end: size, size }
      }
    }
    const field = readField(input, lengthOffset, lengthSize, bigEndian)
    switch (field.kind) {
      case 'malformed':
        return { kind: 'error', error: new ProtocolError(field.message) }
      case 'partial':
        if (onTooLong === 'error' && over(field.atLeast)) return { kind: 'error', error: tooLong(field.atLeast) }
        // Refusing at the first byte that proves a length too large means looking at each byte.
        return { kind: 'bytes', n: failFast ? Math.max(Math.min(field.need, input.length + 1), lengthOffset + 1) : field.need }
      case 'value':
        break
    }
    const { value, end: header } = field
    if (typeof value === 'bigint' ? value + BigInt(adjustment) < 0n : value + adjustment < 0) {
      return { kind: 'error', error: new ProtocolError(`lengthPrefixed: length ${value} with adjustment ${adjustment} is negative`) }
    }
    if (over(value)) {
      if (onTooLong === 'error') return { kind: 'error', error: tooLong(value) }
      const total = typeof value === 'bigint' ? BigInt(header) + value + BigInt(adjustment) : header + value + adjustment
      return drop(input, total, commit, tooLong(value))
    }
    // Within maxFrameLength: the body is a safe integer, also when the value was a BigInt.
    const size = header + (typeof value === 'bigint' ? Number(value + BigInt(adjustment)) : value + adjustment)
    // A body within maxFrameLength may still not leave room for its header below 2^53.
    if (!Number.isSafeInteger(size))
      return onTooLong === 'error'
        ? { kind: 'error', error: tooLong(value) }
        : drop(input, BigInt(header) + BigInt(value) + BigInt(adjustment), commit, tooLong(value))
    const start = strip ?? (keepHeader ? 0 : header)
    if (start > size) return { kind: 'error', error: new ProtocolError(`lengthPrefixed: cannot strip ${start} bytes from a frame of ${size}`) }
    if (input.length < size) return { kind: 'bytes', n: size }
    return { kind: 'frame', start, end: size, size }
  }

  const framer: Framer = {
    scan(input: Buf): Scan {
      checkInput('lengthPrefixed.scan', input)
      return scan(input, true)
    },
    encode(output: Buf, payload: Uint8Array | string): void {
      const bytes = payloadBytes('lengthPrefixed.encode', output, payload)
      if (lengthOffset > 0) throw new InvalidArgumentError('lengthPrefixed: encode cannot invent the bytes before the length field; write them yourself')
      if (bytes.length > maxFrameLength) throw new InvalidArgumentError(`frame of ${bytes.length} bytes exceeds maxFrameLength ${maxFrameLength}`)
      const value = bytes.length - adjustment
      if (value < 0 || !Number.isSafeInteger(value))
        throw new InvalidArgumentError(`lengthPrefixed: cannot encode length ${bytes.length} with adjustment ${adjustment}`)
      output.write(fieldBytes(value, lengthSize, bigEndian))
      output.write(bytes)
    },
  }
  if (onTooLong === 'discard') framer.peek = (input: Buf): Scan => scan(input, false)
  return framer
}
