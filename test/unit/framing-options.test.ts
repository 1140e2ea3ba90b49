/**
 * Each framer option does what its documentation says, the same through `scan()`,
 * `expectFrame()` (the engine) and `conn.frames()`, under every split.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Buf, delimited, type Framer, lengthPrefixed, lines } from 'rotor-stream'
import { describeSplit, Harness, splits } from 'rotor-stream/testing'
import { asyncAll, engineAll, frameLog, scanAll } from '../helpers/framing.js'

const T = { timeout: 60_000 }

const hex = (s: string | Buffer): string => `F ${Buffer.from(s).toString('hex')}`
const bytes = (...b: number[]): Buffer => Buffer.from(b)

function encodeAll(framer: Framer, payloads: (string | Uint8Array)[]): Buffer {
  const buf = new Buf()
  for (const p of payloads) framer.encode(buf, p)
  return Buffer.from(buf.view())
}

/** `expected` from scan() and expectFrame() for every split, and from conn.frames() for a few. */
async function same(framer: () => Framer, input: Buffer | string, end: boolean, expected: string[], asyncSplits = 6): Promise<void> {
  const bytesIn = Buffer.from(input)
  let i = 0
  for (const chunks of splits(bytesIn, { random: 40, exhaustiveUpTo: 10 })) {
    const where = `split ${describeSplit(chunks)}`
    assert.deepEqual(scanAll(framer(), chunks, end), expected, `scan, ${where}`)
    assert.deepEqual(engineAll(framer(), chunks, end), expected, `expectFrame, ${where}`)
    // The async API costs event-loop turns per chunk: whole, byte by byte and a few more.
    if (i++ < asyncSplits) assert.deepEqual(await asyncAll(framer(), chunks, end), expected, `frames(), ${where}`)
  }
}

describe('lengthPrefixed options', () => {
  test('3- and 8-byte fields in both byte orders', T, async () => {
    assert.deepEqual([...encodeAll(lengthPrefixed({ lengthSize: 3 }), ['abc']).subarray(0, 3)], [0, 0, 3])
    assert.deepEqual([...encodeAll(lengthPrefixed({ lengthSize: 3, endian: 'little' }), ['abc']).subarray(0, 3)], [3, 0, 0])
    assert.deepEqual([...encodeAll(lengthPrefixed({ lengthSize: 8 }), ['ab']).subarray(0, 8)], [0, 0, 0, 0, 0, 0, 0, 2])
    assert.deepEqual([...encodeAll(lengthPrefixed({ lengthSize: 8, endian: 'little' }), ['ab']).subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 0])
    for (const lengthSize of [3, 8] as const) {
      for (const endian of ['big', 'little'] as const) {
        const framer = (): Framer => lengthPrefixed({ lengthSize, endian, maxFrameLength: 100 })
        await same(framer, encodeAll(framer(), ['', 'hi', 'there']), true, [hex(''), hex('hi'), hex('there'), 'EOF'], 2)
      }
    }
  })

  test('an 8-byte length is compared exactly: 2^53 - 1 waits, 2^53 is over, 2^64 - 1 is over', T, () => {
    const framer = lengthPrefixed({ lengthSize: 8, maxFrameLength: Number.MAX_SAFE_INTEGER })
    const at = (b: Buffer): string => framer.scan(fill(b)).kind
    assert.equal(at(bytes(0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf7)), 'bytes') // 2^53 - 9: with the header, 2^53 - 1
    assert.equal(at(bytes(0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 'error') // 2^53 - 1: no room for the header
    assert.equal(at(bytes(0, 0x20, 0, 0, 0, 0, 0, 0)), 'error')
    assert.equal(at(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 'error')
    // 2^53 + 9 rounds to 2^53 + 8 as a double: with adjustment -(2^53 - 1) the body is 10, not 9.
    const adjusted = lengthPrefixed({ lengthSize: 8, adjustment: -Number.MAX_SAFE_INTEGER, maxFrameLength: 9 })
    assert.equal(adjusted.scan(fill(bytes(0, 0x20, 0, 0, 0, 0, 0, 8))).kind, 'bytes')
    assert.equal(adjusted.scan(fill(bytes(0, 0x20, 0, 0, 0, 0, 0, 9))).kind, 'error')
  })

  test('varint: LEB128 as protobuf, non-minimal forms accepted, 64-bit values compared exactly', T, async () => {
    const framer = (): Framer => lengthPrefixed({ lengthSize: 'varint', maxFrameLength: 1 << 20 })
    assert.deepEqual([...encodeAll(framer(), [Buffer.alloc(300)]).subarray(0, 2)], [0xac, 0x02])
    await same(framer, Buffer.concat([bytes(0x81, 0x00), Buffer.from('z')]), true, [hex('z'), 'EOF'], 2)
    const huge = lengthPrefixed({ lengthSize: 'varint', maxFrameLength: Number.MAX_SAFE_INTEGER })
    // 2^63 in 10 bytes: over any safe limit, refused without rounding.
    assert.equal(huge.scan(fill(bytes(...Array(9).fill(0x80), 0x01))).kind, 'error')
  })

  test('strip: any number of leading bytes, not only all of the header or none', T, async () => {
    // [type][u16 length][body]: strip 1 keeps the length field with the body.
    const framer = (): Framer => lengthPrefixed({ lengthSize: 2, lengthOffset: 1, strip: 1 })
    await same(framer, bytes(7, 0, 2, 0x61, 0x62, 7, 0, 0), true, [`F 00026162`, `F 0000`, 'EOF'], 2)
    assert.throws(() => lengthPrefixed({ strip: 1, keepHeader: false }), { code: 'RS_ERR_INVALID_ARG', message: /keepHeader or options\.strip/ })
    assert.throws(() => lengthPrefixed({ strip: -1 }), { code: 'RS_ERR_INVALID_ARG' })
  })

  test('maxFrameLength bounds the body alone, with keepHeader too', T, async () => {
    for (const keepHeader of [false, true]) {
      const framer = (): Framer => lengthPrefixed({ lengthSize: 2, maxFrameLength: 3, keepHeader })
      const ok = bytes(0, 3, 0x61, 0x62, 0x63)
      await same(framer, ok, true, [keepHeader ? 'F 0003616263' : hex('abc'), 'EOF'], 2)
      await same(framer, bytes(0, 4, 0x61, 0x62, 0x63, 0x64), true, ['E RS_ERR_LIMIT_REACHED'], 2)
    }
  })

  test('adjustment: the field counts body - adjustment; encode writes it that way', T, async () => {
    // The field counts itself (4 bytes): tokio length_adjustment -4, Netty lengthAdjustment -4.
    const framer = (): Framer => lengthPrefixed({ adjustment: -4 })
    const input = encodeAll(framer(), ['hello'])
    assert.deepEqual([...input.subarray(0, 4)], [0, 0, 0, 9])
    await same(framer, input, true, [hex('hello'), 'EOF'], 2)
    // A trailer the field leaves out (adjustment +2): Netty's lengthAdjustment +2.
    const trailer = (): Framer => lengthPrefixed({ lengthSize: 1, adjustment: 2, keepHeader: true })
    await same(trailer, bytes(1, 0x61, 0xee, 0xee), true, ['F 0161eeee', 'EOF'], 2)
    assert.throws(() => trailer().encode(new Buf(), 'a'), { code: 'RS_ERR_INVALID_ARG', message: /adjustment 2/ })
  })

  test('discard: an over-long frame is dropped as it arrives, reported once, and the next one read', T, async () => {
    const framer = (): Framer => lengthPrefixed({ lengthSize: 2, maxFrameLength: 4, onTooLong: 'discard' })
    const big = lengthPrefixed({ lengthSize: 2 })
    const input = Buffer.concat([encodeAll(big, ['ab', 'toolong', 'cd', 'x'.repeat(9)]), encodeAll(big, ['ef'])])
    const expected = [hex('ab'), 'D RS_ERR_LIMIT_REACHED 4', hex('cd'), 'D RS_ERR_LIMIT_REACHED 4', hex('ef'), 'EOF']
    await same(framer, input, true, expected)
  })

  test('discard: the dropped bytes are never buffered, whatever the declared length (8 bytes: 2^40)', T, () => {
    const h = new Harness(frameLog(lengthPrefixed({ lengthSize: 8, maxFrameLength: 16, onTooLong: 'discard' })))
    h.feed(bytes(0, 0, 1, 0, 0, 0, 0, 0))
    for (let i = 0; i < 200; i++) {
      h.feed(Buffer.alloc(64 * 1024, 1))
      assert.equal(h.buffered, 0)
    }
    assert.equal(h.state, 'running')
    assert.equal(h.output.toString(), 'D RS_ERR_LIMIT_REACHED 16\n')
  })
})

describe('lines options', () => {
  test('discard: an over-long line is dropped up to its LF, reported once, reading goes on', T, async () => {
    const framer = (): Framer => lines({ max: 3, onTooLong: 'discard' })
    await same(framer, 'ab\nabcdefg\r\nxyz\r\nabcd\n\n', true, [hex('ab'), 'D RS_ERR_LIMIT_REACHED 3', hex('xyz'), 'D RS_ERR_LIMIT_REACHED 3', hex(''), 'EOF'])
  })

  test('discard: a line that never ends is never buffered past max', T, () => {
    const h = new Harness(frameLog(lines({ max: 100, onTooLong: 'discard' })))
    for (let i = 0; i < 100; i++) {
      h.feed('y'.repeat(1000))
      assert.ok(h.buffered <= 101, `buffered ${h.buffered}`)
    }
    h.feed('\nok\n')
    assert.equal(h.output.toString(), `D RS_ERR_LIMIT_REACHED 100\n${hex('ok')}\n`)
  })

  test('unterminated: the end of the stream inside the last line gives it as a frame, CR removed', T, async () => {
    const framer = (): Framer => lines({ max: 5, unterminated: 'frame' })
    await same(framer, 'a\nbc\r', true, [hex('a'), hex('bc'), 'EOF'])
    await same(() => lines({ max: 5 }), 'a\nbc', true, [hex('a'), 'X RS_ERR_END_OF_STREAM'])
    await same(framer, 'a\n', true, [hex('a'), 'EOF'])
  })

  test('utf8: multi-byte characters split anywhere are accepted; invalid UTF-8 is RS_ERR_PROTOCOL', T, async () => {
    const framer = (): Framer => lines({ max: 20, utf8: true })
    await same(framer, 'héllo €\nsnow ☃\n', true, [hex('héllo €'), hex('snow ☃'), 'EOF'])
    await same(framer, Buffer.concat([Buffer.from('ok\n'), bytes(0xe2, 0x82, 0x0a)]), true, [hex('ok'), 'E RS_ERR_PROTOCOL'])
    assert.throws(() => framer().encode(new Buf(), bytes(0xc3)), { code: 'RS_ERR_INVALID_ARG', message: /UTF-8/ })
    const scan = framer().scan(fill(bytes(0xff, 0x0a)))
    assert.ok(scan.kind === 'error' && scan.error.code === 'RS_ERR_PROTOCOL' && scan.error.name === 'ProtocolError')
  })

  test('encode refuses a payload its own reading would change (LF inside, CR at the end with LF endings)', T, () => {
    assert.throws(() => lines({ max: 9 }).encode(new Buf(), 'a\r'), { code: 'RS_ERR_INVALID_ARG' })
    assert.equal(encodeAll(lines({ max: 9, ending: 'crlf' }), ['a\r']).toString(), 'a\r\r\n')
  })
})

describe('delimited', () => {
  test('any delimiter; the payload without it, or with it (keepDelimiter)', T, async () => {
    await same(() => delimited({ delimiter: '||', max: 8 }), 'ab||||c||', true, [hex('ab'), hex(''), hex('c'), 'EOF'])
    await same(() => delimited({ delimiter: '||', max: 8, keepDelimiter: true }), 'ab||c||', true, [hex('ab||'), hex('c||'), 'EOF'])
  })

  test('several delimiters: the earliest ends the frame; at the same byte, the longer, whatever the split', T, async () => {
    const framer = (): Framer => delimited({ delimiter: ['\r', '\r\n', '\0'], max: 8 })
    await same(framer, 'a\r\nb\rc\0d\r\0', true, [hex('a'), hex('b'), hex('c'), hex('d'), hex(''), 'EOF'])
    // A CR at the end waits for a possible LF; at the end of the stream it ends its frame after all.
    await same(framer, 'd\r', true, [hex('d'), 'EOF'])
    await same(framer, 'd\r', false, [])
    // Like Netty's [NUL, LF]: the shortest frame wins.
    await same(() => delimited({ delimiter: ['\n', '\0'], max: 8 }), 'ab\0cd\nef\n', true, [hex('ab'), hex('cd'), hex('ef'), 'EOF'])
  })

  test('encode writes the first delimiter (or encodeDelimiter) and refuses a payload holding one', T, () => {
    const framer = delimited({ delimiter: ['\0', '\r\n'], max: 8, encodeDelimiter: '\r\n' })
    assert.equal(encodeAll(framer, ['a', 'b']).toString(), 'a\r\nb\r\n')
    assert.throws(() => encodeAll(framer, ['a\0b']), { code: 'RS_ERR_INVALID_ARG', message: /contains a delimiter/ })
    assert.throws(() => encodeAll(delimited({ delimiter: ['\n', '\r\n'], max: 8 }), ['a\r']), { code: 'RS_ERR_INVALID_ARG' })
    assert.throws(() => delimited({ delimiter: '\n', max: 8, encodeDelimiter: '\r' }), { code: 'RS_ERR_INVALID_ARG', message: /one of the delimiters/ })
    assert.throws(() => delimited({ delimiter: [], max: 8 }), { code: 'RS_ERR_INVALID_ARG' })
    assert.throws(() => delimited({ delimiter: [''], max: 8 }), { code: 'RS_ERR_INVALID_ARG' })
  })

  test('discard and unterminated, with several delimiters', T, async () => {
    const framer = (): Framer => delimited({ delimiter: ['\0', 'END'], max: 3, onTooLong: 'discard', unterminated: 'frame' })
    const expected = [hex('ab'), 'D RS_ERR_LIMIT_REACHED 3', hex('xy'), 'D RS_ERR_LIMIT_REACHED 3']
    await same(framer, 'abENDtoolongENDxy\0longerEN\0tai', true, [...expected, hex('tai'), 'EOF'])
    // Over-long and unterminated at the end: dropped, the end is clean.
    await same(framer, 'abENDtoolongENDxy\0longerEN\0tail', true, [...expected, 'D RS_ERR_LIMIT_REACHED 3', 'EOF'])
  })
})

/** A Buf holding `bytes`. */
function fill(b: Buffer): Buf {
  const buf = new Buf()
  buf.write(b)
  return buf
}

describe('new options are checked at construction', () => {
  test('onTooLong, unterminated, utf8, strip, delimiter and encodeDelimiter refuse bad values with RS_ERR_INVALID_ARG', T, () => {
    const bad: [() => unknown, RegExp][] = [
      [() => lines({ max: 1, onTooLong: 'drop' as never }), /^lines: options\.onTooLong must be 'error' or 'discard', got "drop"$/],
      [() => lines({ max: 1, unterminated: true as never }), /^lines: options\.unterminated must be 'error' or 'frame', got true$/],
      [() => lines({ max: 1, utf8: 'yes' as never }), /^lines: options\.utf8 must be true or false/],
      [() => lengthPrefixed({ onTooLong: null as never }), /^lengthPrefixed: options\.onTooLong must be/],
      [() => lengthPrefixed({ strip: 1.5 }), /^lengthPrefixed: options\.strip must be a non-negative integer/],
      [() => delimited({ max: 1 } as never), /^delimited: options\.delimiter must be/],
      [() => delimited({ delimiter: ['\n', 5] as never, max: 1 }), /^delimited: options\.delimiter\[1\] must be/],
      [() => delimited({ delimiter: '\n', max: -1 }), /^delimited: options\.max must be a non-negative integer/],
      [() => delimited({ delimiter: '\n', max: 1, keepDelimiter: 1 as never }), /^delimited: options\.keepDelimiter must be true or false/],
      [() => delimited(null as never), /^delimited: options must be/],
    ]
    for (const [make, message] of bad) assert.throws(make, { code: 'RS_ERR_INVALID_ARG', name: 'InvalidArgumentError', message })
  })
})
