import type { Buf } from '../buf.js'
import { InvalidArgumentError } from '../errors.js'
import type { Framer, Scan } from './framer.js'

/** Frames of exactly `size` bytes each (Netty's FixedLengthFrameDecoder). */
export function fixed(size: number): Framer {
  if (!(Number.isInteger(size) && size > 0)) throw new InvalidArgumentError(`fixed: size must be a positive integer, got ${size}`)
  const wait: Scan = { kind: 'bytes', n: size }
  const frame: Scan = { kind: 'frame', start: 0, end: size, size }
  return {
    scan: (input: Buf): Scan => (input.length >= size ? frame : wait),
    encode(output: Buf, payload: Uint8Array | string): void {
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload
      if (bytes.length !== size) throw new InvalidArgumentError(`fixed: payload of ${bytes.length} bytes, frames are ${size}`)
      output.write(bytes)
    },
  }
}
