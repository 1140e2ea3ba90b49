import type { Buf } from '../buf.js'
import { InvalidArgumentError, LimitReachedError, ProtocolError } from '../errors.js'
import { checkInteger, checkObject } from '../validate.js'
import { checkInput, type Framer, payloadBytes, type Scan } from './framer.js'

const COLON = 0x3a
const COMMA = 0x2c

/** Options of {@link netstring}. */
export interface NetstringOptions {
  /** Longest payload in bytes, a non-negative safe integer; a longer declared length is a `LimitReachedError`. */
  max: number
}

/** D. J. Bernstein's netstrings: `<length>:<payload>,` with a decimal length (https://cr.yp.to/proto/netstrings.txt). */
export function netstring(options: NetstringOptions): Framer {
  const { max } = checkObject<NetstringOptions>('netstring', 'options', options, 'an object { max }')
  checkInteger('netstring', 'options.max', max)
  return {
    scan(input: Buf): Scan {
      checkInput('netstring.scan', input)
      // The header is at most max's digits and a colon: read again whole each time, each byte
      // judged as it arrives (a non-digit, a leading zero or a length over max at once).
      const length = input.length
      let value = 0
      let colon = -1
      for (let i = 0; i < length; i++) {
        const c = input.byte(i) as number
        if (c === COLON && i > 0) {
          colon = i
          break
        }
        if (c < 0x30 || c > 0x39 || (i === 1 && value === 0)) return { kind: 'error', error: new ProtocolError(`netstring: bad length at byte ${i}`) }
        value = value * 10 + (c - 0x30)
        if (value > max) return { kind: 'error', error: new LimitReachedError(max, `netstring longer than max ${max}`) }
      }
      if (colon < 0) return { kind: 'bytes', n: length + 1 }
      const size = colon + 1 + value + 1
      if (length < size) return { kind: 'bytes', n: size }
      if (input.byte(size - 1) !== COMMA) return { kind: 'error', error: new ProtocolError('netstring: missing trailing comma') }
      return { kind: 'frame', start: colon + 1, end: colon + 1 + value, size }
    },
    encode(output: Buf, payload: Uint8Array | string): void {
      const bytes = payloadBytes('netstring.encode', output, payload)
      if (bytes.length > max) throw new InvalidArgumentError(`netstring of ${bytes.length} bytes exceeds max ${max}`)
      output.write(`${bytes.length}:`)
      output.write(bytes)
      output.write(',')
    },
  }
}
