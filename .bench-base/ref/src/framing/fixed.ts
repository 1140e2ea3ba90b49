import type { Buf } from '../buf.js'
import { InvalidArgumentError } from '../errors.js'
import { checkInteger } from '../validate.js'
import { checkInput, type Framer, payloadBytes, type Scan } from './framer.js'

/** Frames of exactly `size` bytes each, a positive safe integer (Netty's FixedLengthFrameDecoder). */
export function fixed(size: number): Framer {
  checkInteger('fixed', 'size', size, { min: 1 })
  const wait: Scan = { kind: 'bytes', n: size }
  const frame: Scan = { kind: 'frame', start: 0, end: size, size }
  return {
    scan(input: Buf): Scan {
      checkInput('fixed.scan', input)
      return input.length >= size ? frame : wait
    },
    encode(output: Buf, payload: Uint8Array | string): void {
      const bytes = payloadBytes('fixed.encode', output, payload)
      if (bytes.length !== size) throw new InvalidArgumentError(`fixed: payload of ${bytes.length} bytes, frames are ${size}`)
      output.write(bytes)
    },
  }
}
