import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { Buf, type Framer, fixed, lengthPrefixed, lines, netstring } from 'rotor-stream'
import { checkSplits, runScripted, splitAt } from 'rotor-stream/testing'
import { frameEcho } from '../helpers/protocols.js'

const T = { timeout: 30_000 }

/** Frames encoded with `framer`, concatenated. */
function encodeAll(framer: Framer, payloads: (string | Uint8Array)[]): Buffer {
  const buf = new Buf()
  for (const p of payloads) framer.encode(buf, p)
  return Buffer.from(buf.view())
}

const OUTPUT_ONLY = { compareEvents: false, random: 200 } as const

describe('framing', () => {
  test('lines: echoes LF and CRLF lines identically for every split', T, () => {
    const run = checkSplits(frameEcho(lines({ max: 10 })), 'ab\r\ncd\n\nxyz\r\n', OUTPUT_ONLY)
    assert.equal(run.output.toString(), 'ab\ncd\n\nxyz\n')
  })

  test('lines: a line over max is a LimitReached, with or without its ending in sight', T, () => {
    for (const input of ['abcdefghijk\n', 'abcdefghijkl', 'abcdefghij\rk\n']) {
      const run = checkSplits(frameEcho(lines({ max: 10 })), input, OUTPUT_ONLY)
      assert.equal(run.output.toString(), 'ERR RS_ERR_LIMIT_REACHED\n', JSON.stringify(input))
    }
    // Exactly max bytes, with CRLF: accepted.
    assert.equal(runScripted(frameEcho(lines({ max: 10 })), ['abcdefghij\r\n']).output.toString(), 'abcdefghij\n')
  })

  test('lines: encode writes CRLF when asked and refuses an embedded LF', T, () => {
    const framer = lines({ max: 100, ending: 'crlf' })
    assert.equal(encodeAll(framer, ['a', 'b']).toString(), 'a\r\nb\r\n')
    assert.throws(() => encodeAll(framer, ['a\nb']), { code: 'RS_ERR_INVALID_ARG' })
  })

  for (const lengthSize of [1, 2, 4, 'varint'] as const) {
    for (const endian of ['big', 'little'] as const) {
      if (lengthSize === 'varint' && endian === 'little') continue
      test(`lengthPrefixed ${lengthSize}/${endian}: round-trips frames over every split`, T, () => {
        const framer = lengthPrefixed({ lengthSize, endian, maxFrameLength: 200 })
        const input = encodeAll(framer, ['', 'a', 'hello', Buffer.alloc(200, 7)])
        const run = checkSplits(frameEcho(framer), input, { ...OUTPUT_ONLY, exhaustiveUpTo: 0, random: 100 })
        assert.deepEqual(run.output, input)
      })
    }
  }

  test('lengthPrefixed: a declared length over maxFrameLength is refused before buffering it', T, () => {
    const framer = lengthPrefixed({ lengthSize: 4, maxFrameLength: 1000 })
    const h = runScripted(frameEcho(framer), [Buffer.from([0, 0, 0x10, 0])]).harness
    assert.equal(h.output.toString(), 'ERR RS_ERR_LIMIT_REACHED\n')
    assert.equal(h.state, 'done')
  })

  test('lengthPrefixed: offset and adjustment follow the length-field conventions', T, () => {
    // [type byte][u16 length counting itself][payload], like many binary protocols.
    const framer = lengthPrefixed({ lengthSize: 2, lengthOffset: 1, adjustment: -2, keepHeader: false })
    const frame = Buffer.from([0x09, 0x00, 0x05, 0x61, 0x62, 0x63])
    const scan = framer.scan(fromBytes(frame))
    assert.deepEqual(scan, { kind: 'frame', start: 3, end: 6, size: 6 })
    const keep = lengthPrefixed({ lengthSize: 2, lengthOffset: 1, adjustment: -2, keepHeader: true })
    assert.deepEqual(keep.scan(fromBytes(frame)), { kind: 'frame', start: 0, end: 6, size: 6 })
  })

  test('lengthPrefixed varint: encodes LEB128 and refuses a 6-byte varint over maxFrameLength', T, () => {
    const framer = lengthPrefixed({ lengthSize: 'varint', maxFrameLength: 1 << 20 })
    assert.deepEqual([...encodeAll(framer, [Buffer.alloc(300)]).subarray(0, 2)], [0xac, 0x02])
    const scan = framer.scan(fromBytes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])))
    assert.equal(scan.kind, 'error')
  })

  test('lengthPrefixed: any payloads round-trip under any split (property)', T, () => {
    const framer = lengthPrefixed({ lengthSize: 'varint', maxFrameLength: 4096 })
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (payloads, cuts) => {
        const input = encodeAll(framer, payloads)
        const chunks = splitAt(
          input,
          cuts.map((c) => (input.length > 1 ? 1 + (c % (input.length - 1)) : 0)).sort((a, b) => a - b),
        )
        assert.deepEqual(runScripted(frameEcho(framer), chunks).output, input)
      }),
      { numRuns: 300 },
    )
  })

  test('fixed: cuts exact sizes and refuses a wrong-sized payload', T, () => {
    const run = checkSplits(frameEcho(fixed(3)), 'abcdefghi', OUTPUT_ONLY)
    assert.equal(run.output.toString(), 'abcdefghi')
    assert.throws(() => encodeAll(fixed(3), ['ab']), { code: 'RS_ERR_INVALID_ARG' })
  })

  test('netstring: round-trips and rejects bad lengths, missing commas and oversized strings', T, () => {
    const framer = netstring({ max: 100 })
    const input = encodeAll(framer, ['', 'hello world', 'a,b:c'])
    assert.equal(input.toString(), '0:,11:hello world,5:a,b:c,')
    assert.deepEqual(checkSplits(frameEcho(framer), input, OUTPUT_ONLY).output, input)
    for (const bad of ['x:', '01:a,', '3:abc;', '101:', '1234']) {
      const run = checkSplits(frameEcho(framer), bad, OUTPUT_ONLY)
      assert.match(run.output.toString(), /^ERR RS_ERR_(PROTOCOL|LIMIT_REACHED)\n$/, bad)
    }
  })
})

function fromBytes(bytes: Buffer): Buf {
  const buf = new Buf()
  buf.write(bytes)
  return buf
}
