/**
 * Every framer refuses a frame at the first byte that proves it over its limit or malformed:
 * not a byte later, never as an end of stream, and the same through `scan()`, `expectFrame()`
 * (the engine) and `conn.frames()` (the async API), under every split of the input.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { delimited, type Framer, lengthPrefixed, lines, netstring } from 'rotor-stream'
import { describeSplit, Harness, splits } from 'rotor-stream/testing'
import { asyncAll, asyncFrameLog, engineAll, frameLog, scanAll, settle } from '../helpers/framing.js'

const T = { timeout: 60_000 }

interface Case {
  name: string
  framer: () => Framer
  input: Buffer
  /** Bytes that must be buffered for the error to show: it must not show one byte earlier. */
  at: number
  /** The error's code. @default RS_ERR_LIMIT_REACHED */
  code?: string
}

const x = (n: number): string => 'x'.repeat(n)
const bytes = (...b: number[]): Buffer => Buffer.from(b)

const CASES: Case[] = [
  { name: 'lines: max+1 bytes without LF', framer: () => lines({ max: 5 }), input: Buffer.from(`${x(6)}\n`), at: 6 },
  { name: 'lines: a CR at max waits for one more byte', framer: () => lines({ max: 5 }), input: Buffer.from(`${x(5)}\rx\n`), at: 7 },
  { name: 'lines: max bytes, then LF after a CR too late', framer: () => lines({ max: 5 }), input: Buffer.from(`${x(5)}\r\r\n`), at: 7 },
  { name: 'lines: a line after a good one', framer: () => lines({ max: 3 }), input: Buffer.from('ab\nabcd\n'), at: 7 },
  { name: 'lines: max 0', framer: () => lines({ max: 0 }), input: Buffer.from('a\n'), at: 1 },
  {
    name: 'lines utf8: invalid bytes at their line end',
    framer: () => lines({ max: 10, utf8: true }),
    input: bytes(0x61, 0xff, 0x0a),
    at: 3,
    code: 'RS_ERR_PROTOCOL',
  },
  { name: 'delimited CRLF: a byte other than CR at max', framer: () => delimited({ delimiter: '\r\n', max: 4 }), input: Buffer.from(`${x(5)}\r\n`), at: 5 },
  { name: 'delimited CRLF: CR at max, then not LF', framer: () => delimited({ delimiter: '\r\n', max: 4 }), input: Buffer.from(`${x(4)}\rx\r\n`), at: 6 },
  { name: 'delimited: a delimiter longer than max + 1', framer: () => delimited({ delimiter: 'ENDS', max: 1 }), input: Buffer.from('abENDS'), at: 2 },
  {
    name: 'delimited, several: a partial match at max waits',
    framer: () => delimited({ delimiter: ['\0', 'END'], max: 3 }),
    input: Buffer.from('abcENx\0'),
    at: 6,
  },
  { name: 'delimited, several: none can start', framer: () => delimited({ delimiter: ['\0', 'END'], max: 3 }), input: Buffer.from('abcd\0'), at: 4 },
  { name: 'lengthPrefixed u32 BE: the third byte proves it', framer: () => lengthPrefixed({ maxFrameLength: 1000 }), input: bytes(0, 0, 0x10, 0), at: 3 },
  { name: 'lengthPrefixed u32 BE: one over, at the last byte', framer: () => lengthPrefixed({ maxFrameLength: 1000 }), input: bytes(0, 0, 0x03, 0xe9), at: 4 },
  {
    name: 'lengthPrefixed u32 LE: the low byte alone proves it',
    framer: () => lengthPrefixed({ endian: 'little', maxFrameLength: 100 }),
    input: bytes(0xff, 0, 0, 0),
    at: 1,
  },
  {
    name: 'lengthPrefixed u64 BE: 2^53 + 1 is over 2^53 - 1 (no rounding)',
    framer: () => lengthPrefixed({ lengthSize: 8, maxFrameLength: Number.MAX_SAFE_INTEGER }),
    input: bytes(0, 0x20, 0, 0, 0, 0, 0, 0),
    at: 2,
  },
  {
    name: 'lengthPrefixed u64 with adjustment: exact at the last byte',
    framer: () => lengthPrefixed({ lengthSize: 8, adjustment: -8, maxFrameLength: 100 }),
    input: bytes(0, 0, 0, 0, 0, 0, 0, 109),
    at: 8,
  },
  {
    name: 'lengthPrefixed with an offset: the limit after the offset bytes',
    framer: () => lengthPrefixed({ lengthSize: 2, lengthOffset: 2, maxFrameLength: 10 }),
    input: bytes(9, 9, 0, 11),
    at: 4,
  },
  {
    name: 'lengthPrefixed varint: 301 > 300 at its second byte',
    framer: () => lengthPrefixed({ lengthSize: 'varint', maxFrameLength: 300 }),
    input: bytes(0xad, 0x02),
    at: 2,
  },
  {
    name: 'lengthPrefixed varint: longer than 10 bytes',
    framer: () => lengthPrefixed({ lengthSize: 'varint', maxFrameLength: 300 }),
    input: bytes(...Array(10).fill(0x80), 0),
    at: 10,
    code: 'RS_ERR_PROTOCOL',
  },
  {
    name: 'lengthPrefixed varint: over 64 bits',
    framer: () => lengthPrefixed({ lengthSize: 'varint', maxFrameLength: 300 }),
    input: bytes(...Array(9).fill(0x80), 0x02),
    at: 10,
    code: 'RS_ERR_PROTOCOL',
  },
  {
    name: 'lengthPrefixed: a negative adjusted length at the last header byte',
    framer: () => lengthPrefixed({ lengthSize: 2, adjustment: -4 }),
    input: bytes(0, 3),
    at: 2,
    code: 'RS_ERR_PROTOCOL',
  },
  {
    name: 'lengthPrefixed: strip past the frame, at the header',
    framer: () => lengthPrefixed({ lengthSize: 1, strip: 5 }),
    input: bytes(2, 1, 2),
    at: 1,
    code: 'RS_ERR_PROTOCOL',
  },
  { name: 'netstring: a non-digit', framer: () => netstring({ max: 100 }), input: Buffer.from('1x:'), at: 2, code: 'RS_ERR_PROTOCOL' },
  { name: 'netstring: a leading zero', framer: () => netstring({ max: 100 }), input: Buffer.from('01:a,'), at: 2, code: 'RS_ERR_PROTOCOL' },
  { name: 'netstring: a length over max at its third digit', framer: () => netstring({ max: 100 }), input: Buffer.from('101:'), at: 3 },
  { name: 'netstring: a missing comma at its place', framer: () => netstring({ max: 100 }), input: Buffer.from('2:ab;'), at: 5, code: 'RS_ERR_PROTOCOL' },
]

describe('framing: refused at the first byte past the limit, through every API and split', () => {
  for (const c of CASES) {
    const code = c.code ?? 'RS_ERR_LIMIT_REACHED'
    test(`${c.name}: scan() and expectFrame() after exactly ${c.at} bytes`, T, () => {
      for (let n = 0; n <= c.input.length; n++) {
        const head = [c.input.subarray(0, n)]
        for (const [api, got] of [
          ['scan', scanAll(c.framer(), head, false)],
          ['expectFrame', engineAll(c.framer(), head, false)],
        ] as const) {
          const failed = got.at(-1) === `E ${code}`
          assert.equal(failed, n >= c.at, `${api} after ${n} bytes: ${JSON.stringify(got)}`)
        }
      }
      // The peer stops right after the byte that proves it: a refusal, never an end of stream.
      const ended = engineAll(c.framer(), [c.input.subarray(0, c.at)], true)
      assert.equal(ended.at(-1), `E ${code}`)
    })

    test(`${c.name}: the same transcript for every split`, T, () => {
      const reference = scanAll(c.framer(), [c.input], true)
      assert.equal(reference.at(-1), `E ${code}`)
      for (const chunks of splits(c.input, { random: 50 })) {
        assert.deepEqual(scanAll(c.framer(), chunks, true), reference, `scan, split ${describeSplit(chunks)}`)
        assert.deepEqual(engineAll(c.framer(), chunks, true), reference, `expectFrame, split ${describeSplit(chunks)}`)
      }
    })

    test(`${c.name}: conn.frames() after exactly ${c.at} bytes, byte by byte`, T, async () => {
      const h = new Harness(asyncFrameLog(c.framer()))
      await settle(h)
      for (let n = 1; n <= c.input.length && h.state === 'running'; n++) {
        h.feed(c.input.subarray(n - 1, n))
        await settle(h)
        assert.equal(h.output.toString().includes(`E ${code}`), n >= c.at, `after ${n} bytes: ${JSON.stringify(h.output.toString())}`)
      }
      const ended = await asyncAll(c.framer(), [c.input.subarray(0, c.at)], true)
      assert.equal(ended.at(-1), `E ${code}`)
    })
  }

  test("a framer's max above the stream's maxBufferSize: the stream's limit, told to exception() once", T, () => {
    for (const framer of [lines({ max: 1_000_000 }), delimited({ delimiter: '\r\n', max: 1_000_000 })]) {
      const h = new Harness(frameLog(framer), { maxBufferSize: 1024 })
      h.feed(x(2000))
      assert.equal(h.output.toString(), 'X RS_ERR_LIMIT_REACHED\n')
      assert.equal(h.exceptions.length, 1)
      assert.equal(h.state, 'done')
    }
  })

  test('the limit a framer reports is its own, with its own message, whichever API saw it', T, async () => {
    const input = [Buffer.from(`ok\n${x(11)}`)]
    for (const api of [scanAll, engineAll])
      assert.deepEqual(api(lines({ max: 10 }), input, false), [`F ${Buffer.from('ok').toString('hex')}`, 'E RS_ERR_LIMIT_REACHED'])
    assert.deepEqual(await asyncAll(lines({ max: 10 }), input, false), [`F ${Buffer.from('ok').toString('hex')}`, 'E RS_ERR_LIMIT_REACHED'])
    const h = new Harness(frameLog(lines({ max: 10 })))
    h.feed(x(11))
    assert.equal(h.state, 'done')
    assert.equal(h.exceptions.length, 0) // decided by scan in bytesRead, not by the engine's bound
  })
})
