/**
 * The interesting cases of tokio-util's codec tests (LengthDelimitedCodec, LinesCodec,
 * AnyDelimiterCodec) and Netty's (LengthFieldBasedFrameDecoder and its javadoc examples,
 * LengthFieldPrepender, LineBasedFrameDecoder, DelimiterBasedFrameDecoder), restated for
 * rotor-stream's framers: the same inputs, the option names mapped (see the README's table),
 * checked through scan() and expectFrame() under the chunks given and every other split. Where
 * the behaviour differs by design, the test says so and pins ours.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Buf, delimited, type Framer, lengthPrefixed, lines } from 'rotor-stream'
import { describeSplit, splits } from 'rotor-stream/testing'
import { engineAll, scanAll } from '../helpers/framing.js'

const T = { timeout: 30_000 }

const F = (s: string | Buffer): string => `F ${(typeof s === 'string' ? Buffer.from(s, 'latin1') : s).toString('hex')}`
const D = (limit: number): string => `D RS_ERR_LIMIT_REACHED ${limit}`
const b = (s: string): Buffer => Buffer.from(s, 'latin1')

/** The transcript of `chunks` (as given, and under every split of their concatenation), through scan() and expectFrame(). */
function decode(framer: () => Framer, chunks: readonly (string | Buffer)[], end: boolean): string[] {
  const given = chunks.map((c) => (typeof c === 'string' ? b(c) : c))
  const expected = scanAll(framer(), given, end)
  assert.deepEqual(engineAll(framer(), given, end), expected, 'expectFrame, chunks as given')
  for (const split of splits(Buffer.concat(given), { random: 30, exhaustiveUpTo: 8 })) {
    assert.deepEqual(scanAll(framer(), split, end), expected, `scan, split ${describeSplit(split)}`)
    assert.deepEqual(engineAll(framer(), split, end), expected, `expectFrame, split ${describeSplit(split)}`)
  }
  return expected
}

function encode(framer: Framer, ...payloads: string[]): Buffer {
  const buf = new Buf()
  for (const p of payloads) framer.encode(buf, b(p))
  return Buffer.from(buf.view())
}

describe('ported from tokio-util LengthDelimitedCodec (tests/length_delimited.rs)', () => {
  const u32 = (): Framer => lengthPrefixed()
  test('empty input: nothing, a clean end', T, () => {
    assert.deepEqual(decode(u32, [], true), ['EOF'])
  })
  test('one frame in one read; several in one read; one split over reads; several split over reads', T, () => {
    assert.deepEqual(decode(u32, ['\0\0\0\x09abcdefghi'], true), [F('abcdefghi'), 'EOF'])
    assert.deepEqual(decode(u32, ['\0\0\0\x09abcdefghi\0\0\0\x03123\0\0\0\x0bhello world'], true), [F('abcdefghi'), F('123'), F('hello world'), 'EOF'])
    assert.deepEqual(decode(u32, ['\0\0', '\0\x09abc', 'defghi'], true), [F('abcdefghi'), 'EOF'])
    assert.deepEqual(decode(u32, ['\0\0', '\0\x09abc', 'defghi', '\0\0\0\x0312', '3\0\0\0\x0bhello world'], true), [
      F('abcdefghi'),
      F('123'),
      F('hello world'),
      'EOF',
    ])
  })
  test('little endian; a 1-byte field; a field after 4 offset bytes', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ endian: 'little' }), ['\x09\0\0\0abcdefghi'], true),
      [F('abcdefghi'), 'EOF'],
    )
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 1 }), ['\x09abcdefghi'], true),
      [F('abcdefghi'), 'EOF'],
    )
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 2, lengthOffset: 4 }), ['zzzz\0\x09abcdefghi'], true),
      [F('abcdefghi'), 'EOF'],
    )
  })
  test('an end inside the head or the payload is an error (tokio: "bytes remaining on stream")', T, () => {
    assert.deepEqual(decode(u32, ['\0\0'], true), ['X RS_ERR_END_OF_STREAM'])
    assert.deepEqual(decode(u32, ['\0\0\0\x09ab', 'cd'], true), ['X RS_ERR_END_OF_STREAM'])
  })
  test('max_frame_length(5) refuses a 9-byte frame', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ maxFrameLength: 5 }), ['\0\0\0\x09abcdefghi'], true),
      ['E RS_ERR_LIMIT_REACHED'],
    )
  })
  test('num_skip(0) with length_adjustment(4) and a 2-byte offset: whole frames (ours: strip 0, adjustment 0)', T, () => {
    // tokio's adjustment counts from after num_skip: ours = tokio's - (header - strip) = 4 - 4.
    const input = 'xx\0\x09abcdefghiyy\0\x03123zz\0\x0bhello world'
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 2, lengthOffset: 2, strip: 0 }), [input], true),
      [F('xx\0\x09abcdefghi'), F('yy\0\x03123'), F('zz\0\x0bhello world'), 'EOF'],
    )
  })
  test('a 3-byte field and num_skip(4) (ours: strip 4, adjustment +1: the skipped byte is in the body)', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 3, strip: 4, adjustment: 1 }), ['\0\0\x0b\x0cHello world'], true),
      [F('Hello world'), 'EOF'],
    )
  })
  test('length_adjustment(-2): the 2-byte field counts itself, on reading and on writing', T, () => {
    const framer = (): Framer => lengthPrefixed({ lengthSize: 2, adjustment: -2 })
    assert.deepEqual(decode(framer, ['\0\x0babcdefghi\0\x05123\0\x0dhello world'], true), [F('abcdefghi'), F('123'), F('hello world'), 'EOF'])
    assert.deepEqual(encode(lengthPrefixed({ adjustment: -2 }), 'abcdefghi'), b('\0\0\0\x0babcdefghi'))
  })
  test('writing: one frame, several, little endian, a 1-byte field; a frame over max_frame_length is refused', T, () => {
    assert.deepEqual(encode(lengthPrefixed(), 'abcdefghi', '123'), b('\0\0\0\x09abcdefghi\0\0\0\x03123'))
    assert.deepEqual(encode(lengthPrefixed({ endian: 'little' }), 'abcdefghi'), b('\x09\0\0\0abcdefghi'))
    assert.deepEqual(encode(lengthPrefixed({ lengthSize: 1 }), 'abcdefghi'), b('\x09abcdefghi'))
    assert.throws(() => encode(lengthPrefixed({ maxFrameLength: 5 }), 'abcdef'), { code: 'RS_ERR_INVALID_ARG' })
    assert.throws(() => encode(lengthPrefixed({ lengthSize: 1 }), 'x'.repeat(256)), { code: 'RS_ERR_INVALID_ARG', message: /does not fit in 1 bytes/ })
  })
})

describe('ported from tokio-util LinesCodec and AnyDelimiterCodec (tests/codecs.rs)', () => {
  test('lines with LF and CRLF, an empty line, the rest at the end (decode_eof)', T, () => {
    const framer = (): Framer => lines({ max: 100, unterminated: 'frame' })
    assert.deepEqual(decode(framer, ['line 1\nline 2\r\nline 3\n\r\n', '\rk'], true), [F('line 1'), F('line 2'), F('line 3'), F(''), F('\rk'), 'EOF'])
  })
  test('a lone CR at the end: tokio reports bytes remaining; ours, with unterminated frame, is one empty line', T, () => {
    assert.deepEqual(
      decode(() => lines({ max: 100, unterminated: 'frame' }), ['a\n\r'], true),
      [F('a'), F(''), 'EOF'],
    )
    assert.deepEqual(
      decode(() => lines({ max: 100 }), ['a\n\r'], true),
      [F('a'), 'X RS_ERR_END_OF_STREAM'],
    )
  })
  test('max length: an error per over-long line, reading goes on (ours: onTooLong discard)', T, () => {
    // tokio counts the CR of a CRLF in max_length ("line 3\r\n" is over 6); ours does not (max 6 takes it).
    const framer = (): Framer => lines({ max: 6, onTooLong: 'discard', unterminated: 'frame' })
    assert.deepEqual(decode(framer, ['line 1 is too long\nline 2\nline 3\r\nline 4\n\r\n', '\rk'], true), [
      D(6),
      F('line 2'),
      F('line 3'),
      F('line 4'),
      F(''),
      F('\rk'),
      'EOF',
    ])
    assert.deepEqual(decode(framer, ['aaabbbc'], false), [D(6)])
  })
  test('underrun: the error when max is passed, the rest of the line dropped, the next line read', T, () => {
    const framer = (): Framer => lines({ max: 6, onTooLong: 'discard' })
    assert.deepEqual(decode(framer, ['line ', 'too l', 'ong\n', 'line 2', '\n'], true), [D(6), F('line 2'), 'EOF'])
    const eleven = (): Framer => lines({ max: 11, onTooLong: 'discard' })
    assert.deepEqual(decode(eleven, ['line ', 'too very l', 'a'.repeat(23), 'ong\nshort\n'], true), [D(11), F('short'), 'EOF'])
  })
  test('bursts: exactly max bytes is no error; the next byte is (fail-fast, like tokio)', T, () => {
    assert.deepEqual(
      decode(() => lines({ max: 10 }), ['line ', 'too l'], false),
      [],
    )
    assert.deepEqual(
      decode(() => lines({ max: 10 }), ['line ', 'too l', 'ong\n'], false),
      ['E RS_ERR_LIMIT_REACHED'],
    )
    assert.deepEqual(
      decode(() => lines({ max: 10 }), ['line ', 'too long!\n'], false),
      ['E RS_ERR_LIMIT_REACHED'],
    )
  })
  test('a LF between reads ends the line; discarding goes on across reads without a second report', T, () => {
    assert.deepEqual(
      decode(() => lines({ max: 5 }), ['hello', '\nworld'], false),
      [F('hello')],
    )
    assert.deepEqual(
      decode(() => lines({ max: 1, onTooLong: 'discard' }), ['aa', 'a'], false),
      [D(1)],
    )
  })
  test('encoding lines', T, () => {
    assert.equal(encode(lines({ max: 100 }), 'line 1', 'line 2').toString(), 'line 1\nline 2\n')
  })
  test('any of ",;\\n\\r" ends a chunk; "," is written; the rest at the end', T, () => {
    const framer = (): Framer => delimited({ delimiter: [',', ';', '\n', '\r'], encodeDelimiter: ',', max: 100, unterminated: 'frame' })
    assert.deepEqual(decode(framer, ['chunk 1,chunk 2;chunk 3\n\r', 'k'], true), [F('chunk 1'), F('chunk 2'), F('chunk 3'), F(''), F('k'), 'EOF'])
    assert.equal(encode(framer(), 'chunk 1', 'chunk 2').toString(), 'chunk 1,chunk 2,')
  })
  test('any delimiter with max length 7: over-long chunks reported and dropped', T, () => {
    const framer = (): Framer => delimited({ delimiter: [',', ';', '\n', '\r'], max: 7, onTooLong: 'discard' })
    assert.deepEqual(decode(framer, ['chunk 1 is too long\nchunk 2\nchunk 3\r\nchunk 4\n\r\n'], true), [
      D(7),
      F('chunk 2'),
      F('chunk 3'),
      F(''),
      F('chunk 4'),
      F(''),
      F(''),
      'EOF',
    ])
  })
})

describe('ported from Netty LengthFieldBasedFrameDecoder (its javadoc examples and tests)', () => {
  const HELLO = 'HELLO, WORLD'
  test('2-byte length, nothing stripped: the whole frame', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 2, keepHeader: true }), [`\0\x0c${HELLO}`], true),
      [F(`\0\x0c${HELLO}`), 'EOF'],
    )
  })
  test('2-byte length, header stripped (initialBytesToStrip 2)', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 2, strip: 2 }), [`\0\x0c${HELLO}`], true),
      [F(HELLO), 'EOF'],
    )
  })
  test('the length counts its own 2 bytes: lengthAdjustment -2', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 2, adjustment: -2, strip: 0 }), [`\0\x0e${HELLO}`], true),
      [F(`\0\x0e${HELLO}`), 'EOF'],
    )
  })
  test('a 2-byte header before a 3-byte length (lengthFieldOffset 2)', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 3, lengthOffset: 2, strip: 0 }), [`\xca\xfe\0\0\x0c${HELLO}`], true),
      [F(`\xca\xfe\0\0\x0c${HELLO}`), 'EOF'],
    )
  })
  test('a 2-byte header after a 3-byte length: lengthAdjustment +2', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 3, adjustment: 2, strip: 0 }), [`\0\0\x0c\xca\xfe${HELLO}`], true),
      [F(`\0\0\x0c\xca\xfe${HELLO}`), 'EOF'],
    )
  })
  test('HDR1, length, HDR2, body: offset 1, adjustment +1, strip 3 keeps HDR2 and the body', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 2, lengthOffset: 1, adjustment: 1, strip: 3 }), [`\xca\0\x0c\xfe${HELLO}`], true),
      [F(`\xfe${HELLO}`), 'EOF'],
    )
  })
  test('the same with a length counting the whole message: adjustment -3, strip 3', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 2, lengthOffset: 1, adjustment: -3, strip: 3 }), [`\xca\0\x10\xfe${HELLO}`], true),
      [F(`\xfe${HELLO}`), 'EOF'],
    )
  })
  test('discarding a too long frame, whole or in parts, then reading the next (failFast true)', T, () => {
    // Netty's maxFrameLength 16 counts the 4-byte header: ours is 12 for the body alone.
    const framer = (): Framer => lengthPrefixed({ maxFrameLength: 12, onTooLong: 'discard' })
    const big = Buffer.concat([b('\0\0\0\x20'), Buffer.alloc(32, 1)])
    assert.deepEqual(decode(framer, [big, '\0\0\0\x01A'], true), [D(12), F('A'), 'EOF'])
    assert.deepEqual(decode(framer, [big.subarray(0, 10), big.subarray(10), '\0\0\0\x01A'], true), [D(12), F('A'), 'EOF'])
  })
  test('a negative adjusted length is a corrupt frame', T, () => {
    assert.deepEqual(
      decode(() => lengthPrefixed({ lengthSize: 2, adjustment: -4 }), ['\0\x02ab'], true),
      ['E RS_ERR_PROTOCOL'],
    )
  })
})

describe('ported from Netty LengthFieldPrepender', () => {
  test('prepends the length; including its own 4 bytes (lengthIncludesLengthFieldLength: adjustment -4)', T, () => {
    assert.deepEqual(encode(lengthPrefixed(), 'a'), b('\0\0\0\x01a'))
    assert.deepEqual(encode(lengthPrefixed({ adjustment: -4 }), 'a'), b('\0\0\0\x05a'))
  })
  test("an adjusted length: the prepender's lengthAdjustment -1 is our adjustment +1 (opposite sign)", T, () => {
    assert.deepEqual(encode(lengthPrefixed({ adjustment: 1 }), 'a'), b('\0\0\0\0a'))
    assert.throws(() => encode(lengthPrefixed({ adjustment: 2 }), 'a'), { code: 'RS_ERR_INVALID_ARG' })
  })
  test('little endian', T, () => {
    assert.deepEqual(encode(lengthPrefixed({ endian: 'little' }), 'a'), b('\x01\0\0\0a'))
  })
})

describe('ported from Netty LineBasedFrameDecoder and DelimiterBasedFrameDecoder', () => {
  const lineDelimiter = ['\r\n', '\n']
  test('delimiters stripped, or kept (stripDelimiter false); the rest stays', T, () => {
    assert.deepEqual(
      decode(() => lines({ max: 8 }), ['first\r\nsecond\nthird'], false),
      [F('first'), F('second')],
    )
    assert.deepEqual(
      decode(() => delimited({ delimiter: lineDelimiter, max: 8, keepDelimiter: true }), ['first\r\nsecond\nthird'], false),
      [F('first\r\n'), F('second\n')],
    )
  })
  test('too long, failFast false and true: one report, then the next line (ours decides at the first byte past max)', T, () => {
    const framer = (): Framer => lines({ max: 16, onTooLong: 'discard' })
    assert.deepEqual(decode(framer, ['12345678901234567\r\nfirst\r\n'], false), [D(16), F('first')])
    assert.deepEqual(decode(framer, ['12345678901234567', '\r\nfirst\r\n'], false), [D(16), F('first')])
  })
  test('an empty line, and lines split over reads', T, () => {
    assert.deepEqual(
      decode(() => lines({ max: 8 }), ['\nabcna\r\n'], false),
      [F(''), F('abcna')],
    )
    assert.deepEqual(
      decode(() => lines({ max: 8 }), ['Te', 'st\r', '\nLine\n'], false),
      [F('Test'), F('Line')],
    )
  })
  test('several lines with Delimiters.lineDelimiter(), whole and incomplete', T, () => {
    const framer = (): Framer => delimited({ delimiter: lineDelimiter, max: 8192 })
    assert.deepEqual(decode(framer, ['TestLine\r\ng\r\n'], false), [F('TestLine'), F('g')])
    assert.deepEqual(decode(framer, ['Test', 'Line\r\ng\r\n'], false), [F('TestLine'), F('g')])
  })
  test('a NUL delimiter with maxFrameLength 1: a too long frame is dropped, the next read (fail fast and slow)', T, () => {
    const framer = (): Framer => delimited({ delimiter: '\0', max: 1, onTooLong: 'discard' })
    assert.deepEqual(decode(framer, [Buffer.from([1, 2]), Buffer.from([0]), 'A\0'], false), [D(1), F('A')])
  })
})
