/**
 * Properties: for every combination of a framer's options, frames encoded with it read back as
 * the same payloads (or, for over-long ones in discard mode, as one report each), whatever the
 * split, through `scan()` and `expectFrame()` — and through `conn.frames()` for a sample.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  Buf,
  type DelimitedOptions,
  delimited,
  type Framer,
  fixed,
  type LengthPrefixedOptions,
  type LinesOptions,
  lengthPrefixed,
  lines,
  netstring,
} from 'rotor-stream'
import { splitAt } from 'rotor-stream/testing'
import { asyncAll, engineAll, scanAll } from '../helpers/framing.js'

const T = { timeout: 120_000 }
/** More cases or another seed: FRAMING_RUNS=5000 FRAMING_SEED=3. */
const RUNS = { numRuns: Number(process.env.FRAMING_RUNS ?? 250), seed: Number(process.env.FRAMING_SEED ?? 17) }

/** One encoded stream and the transcript it must read back as. */
interface Stream {
  readonly input: Buffer
  readonly expected: string[]
}

const cuts = fc.array(fc.nat(), { maxLength: 12 })

/** `input` cut at positions derived from `raw` (any naturals). */
function cut(input: Buffer, raw: readonly number[]): Buffer[] {
  if (input.length < 2) return [input]
  return splitAt(
    input,
    raw.map((c) => 1 + (c % (input.length - 1))).sort((a, b) => a - b),
  )
}

/** The stream reads back as expected through scan() and expectFrame() when cut at `raw`. */
function holds(framer: () => Framer, s: Stream, raw: readonly number[]): void {
  const chunks = cut(s.input, raw)
  const where = `split ${chunks.map((c) => c.length).join('+')}`
  assert.deepEqual(scanAll(framer(), chunks, true), s.expected, `scan, ${where}`)
  assert.deepEqual(engineAll(framer(), chunks, true), s.expected, `expectFrame, ${where}`)
}

const F = (b: Uint8Array): string => `F ${Buffer.from(b).toString('hex')}`

// --- lengthPrefixed -------------------------------------------------------------------------------

const lengthOptions = fc.record({
  lengthSize: fc.constantFrom(...([1, 2, 3, 4, 8, 'varint'] as const)),
  endian: fc.constantFrom('big' as const, 'little' as const),
  lengthOffset: fc.integer({ min: 0, max: 3 }),
  adjustment: fc.integer({ min: -10, max: 0 }),
  payloadAt: fc.constantFrom('body', 'keepHeader', 'strip'),
  strip: fc.nat(4),
  onTooLong: fc.constantFrom('error' as const, 'discard' as const),
  maxFrameLength: fc.integer({ min: 0, max: 120 }),
})
type LengthCase = typeof lengthOptions extends fc.Arbitrary<infer O> ? O : never

function lengthFramer(c: LengthCase, overrides: LengthPrefixedOptions = {}): Framer {
  const { lengthSize, endian, lengthOffset, adjustment, maxFrameLength, onTooLong } = c
  const o: LengthPrefixedOptions = { lengthSize, endian, lengthOffset, adjustment, maxFrameLength, onTooLong, ...overrides }
  if (c.payloadAt === 'keepHeader') o.keepHeader = true
  // At most the offset and one byte of the field: never past a frame's end.
  if (c.payloadAt === 'strip') o.strip = c.strip % (lengthOffset + 2)
  return lengthPrefixed(o)
}

/** Frames of `payloads` (the offset bytes written by hand: encode cannot invent them) and what they read back as. */
function lengthStream(c: LengthCase, payloads: readonly Uint8Array[]): Stream {
  const writer = lengthFramer(c, { lengthOffset: 0, maxFrameLength: 1 << 20 })
  const parts: Buffer[] = []
  const expected: string[] = []
  for (const [i, payload] of payloads.entries()) {
    const buf = new Buf()
    buf.write(Buffer.alloc(c.lengthOffset, 0xa0 + (i % 16)))
    writer.encode(buf, payload)
    const frame = Buffer.from(buf.view())
    parts.push(frame)
    if (payload.length > c.maxFrameLength) {
      expected.push(`D RS_ERR_LIMIT_REACHED ${c.maxFrameLength}`)
      continue
    }
    const header = frame.length - payload.length
    const start = c.payloadAt === 'keepHeader' ? 0 : c.payloadAt === 'strip' ? c.strip % (c.lengthOffset + 2) : header
    expected.push(F(frame.subarray(start)))
  }
  expected.push('EOF')
  return { input: Buffer.concat(parts), expected }
}

/** Payloads within `max`, plus (in discard mode) some over it. */
function payloadsFor(max: number, discard: boolean): fc.Arbitrary<Uint8Array[]> {
  const within = fc.uint8Array({ maxLength: max })
  const over = fc.uint8Array({ minLength: max + 1, maxLength: max + 40 })
  return fc.array(discard ? fc.oneof(within, over) : within, { maxLength: 6 })
}

// --- lines ----------------------------------------------------------------------------------------

const lineOptions = fc.record({
  max: fc.integer({ min: 0, max: 24 }),
  ending: fc.constantFrom('lf' as const, 'crlf' as const),
  onTooLong: fc.constantFrom('error' as const, 'discard' as const),
  unterminated: fc.constantFrom('error' as const, 'frame' as const),
  utf8: fc.boolean(),
})

/** Lines that encode with `o` (no LF, no trailing CR with LF endings, UTF-8 when asked), some over max in discard mode. */
function lineStream(o: Required<LinesOptions>, texts: readonly string[], lastOpen: boolean): Stream {
  const framer = lines(o)
  const parts: Buffer[] = []
  const expected: string[] = []
  const usable = texts.map((t) => Buffer.from(t.replaceAll('\n', ' ').replace(/\r+$/, ''))).filter((b) => o.onTooLong === 'discard' || b.length <= o.max)
  for (const [i, bytes] of usable.entries()) {
    const open = lastOpen && o.unterminated === 'frame' && i === usable.length - 1 && bytes.length > 0
    if (bytes.length > o.max) {
      parts.push(bytes, Buffer.from(open ? '' : o.ending === 'crlf' ? '\r\n' : '\n'))
      expected.push(`D RS_ERR_LIMIT_REACHED ${o.max}`)
      continue
    }
    const buf = new Buf()
    framer.encode(buf, bytes)
    const frame = Buffer.from(buf.view())
    parts.push(open ? bytes : frame)
    expected.push(F(bytes))
  }
  expected.push('EOF')
  return { input: Buffer.concat(parts), expected }
}

// --- delimited ------------------------------------------------------------------------------------

const DELIMITER_SETS: readonly (readonly string[])[] = [['\n'], ['\r\n'], ['\0', 'END'], ['ab', 'b'], ['||'], ['\r', '\r\n']]

const delimitedOptions = fc.record({
  set: fc.nat(DELIMITER_SETS.length - 1),
  encodeWith: fc.nat(1),
  max: fc.integer({ min: 0, max: 16 }),
  keepDelimiter: fc.boolean(),
  onTooLong: fc.constantFrom('error' as const, 'discard' as const),
  unterminated: fc.constantFrom('error' as const, 'frame' as const),
})
type DelimitedCase = typeof delimitedOptions extends fc.Arbitrary<infer O> ? O : never

function delimitedOptionsOf(c: DelimitedCase): DelimitedOptions {
  const set = DELIMITER_SETS[c.set] as readonly string[]
  const { max, keepDelimiter, onTooLong, unterminated } = c
  // Written after a payload, a delimiter that begins a longer one could join with the next payload's first bytes.
  const writable = set.filter((d) => !set.some((other) => other !== d && other.startsWith(d)))
  return { delimiter: set, encodeDelimiter: writable[c.encodeWith % writable.length], max, keepDelimiter, onTooLong, unterminated }
}

/** Texts over an alphabet full of delimiter bytes; those `encode` refuses are left out. */
function delimitedStream(c: DelimitedCase, texts: readonly string[], lastOpen: boolean): Stream {
  const o = delimitedOptionsOf(c)
  const framer = delimited(o)
  const wide = delimited({ ...o, max: 1 << 16 })
  const ending = Buffer.from(o.encodeDelimiter as string)
  const parts: Buffer[] = []
  const expected: string[] = []
  const usable = texts.filter((t) => {
    try {
      wide.encode(new Buf(), t)
      return c.onTooLong === 'discard' || Buffer.byteLength(t) <= c.max
    } catch {
      return false
    }
  })
  for (const [i, text] of usable.entries()) {
    const bytes = Buffer.from(text)
    // An open last frame must not end in what could begin a delimiter (it would be read as one, or wait).
    const open = lastOpen && c.unterminated === 'frame' && i === usable.length - 1 && bytes.length > 0 && bytes.length <= c.max
    if (open && !endsClean(bytes, o.delimiter as readonly string[])) {
      parts.push(bytes, ending)
      expected.push(F(c.keepDelimiter ? Buffer.concat([bytes, ending]) : bytes))
      continue
    }
    if (bytes.length > c.max) {
      parts.push(bytes, ending)
      expected.push(`D RS_ERR_LIMIT_REACHED ${c.max}`)
      continue
    }
    if (open) {
      parts.push(bytes)
      expected.push(F(bytes))
      continue
    }
    const buf = new Buf()
    framer.encode(buf, bytes)
    parts.push(Buffer.from(buf.view()))
    expected.push(F(c.keepDelimiter ? Buffer.concat([bytes, ending]) : bytes))
  }
  expected.push('EOF')
  return { input: Buffer.concat(parts), expected }
}

/** No suffix of `bytes` is the start of a delimiter. */
function endsClean(bytes: Buffer, delimiters: readonly string[]): boolean {
  const text = bytes.toString('latin1')
  return delimiters.every((d) => {
    for (let n = 1; n < d.length; n++) if (text.endsWith(d.slice(0, n))) return false
    return true
  })
}

const alphabet = fc.string({ unit: fc.constantFrom('a', 'b', 'x', 'E', 'N', 'D', '\0', '\r', '\n', '|'), maxLength: 24 })

describe('framing properties: encode → decode round-trips for every option combination and split', () => {
  test('lengthPrefixed: every size, byte order, offset, adjustment, header/strip choice, limit and over-long policy', T, () => {
    fc.assert(
      fc.property(
        lengthOptions.chain((c) => fc.tuple(fc.constant(c), payloadsFor(c.maxFrameLength, c.onTooLong === 'discard'), cuts)),
        ([c, payloads, raw]) => holds(() => lengthFramer(c), lengthStream(c, payloads), raw),
      ),
      RUNS,
    )
  })

  test('lines: every max, ending, over-long policy, end policy and text option', T, () => {
    const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: fc.constantFrom('a', '\r', '\n', ' '), maxLength: 30 }))
    fc.assert(
      fc.property(lineOptions, fc.array(text, { maxLength: 6 }), fc.boolean(), cuts, (o, texts, lastOpen, raw) => {
        holds(() => lines(o), lineStream(o, texts, lastOpen), raw)
      }),
      RUNS,
    )
  })

  test('delimited: every delimiter set, encode delimiter, max, keepDelimiter, over-long and end policy', T, () => {
    fc.assert(
      fc.property(delimitedOptions, fc.array(alphabet, { maxLength: 6 }), fc.boolean(), cuts, (c, texts, lastOpen, raw) => {
        holds(() => delimited(delimitedOptionsOf(c)), delimitedStream(c, texts, lastOpen), raw)
      }),
      RUNS,
    )
  })

  test('netstring and fixed', T, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), cuts, (max, payloads, raw) => {
        const fitting = payloads.filter((p) => p.length <= max)
        const buf = new Buf()
        for (const p of fitting) netstring({ max }).encode(buf, p)
        holds(() => netstring({ max }), { input: Buffer.from(buf.view()), expected: [...fitting.map(F), 'EOF'] }, raw)
      }),
      RUNS,
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.nat(6), fc.uint8Array({ maxLength: 60 }), cuts, (size, count, seed, raw) => {
        const input = Buffer.alloc(size * count, seed.length)
        const expected = [...Array.from({ length: count }, (_, i) => F(input.subarray(i * size, (i + 1) * size))), 'EOF']
        holds(() => fixed(size), { input, expected }, raw)
      }),
      RUNS,
    )
  })

  test('conn.frames() reads back the same as scan() (a sample of every framer and option set)', T, async () => {
    const cases = fc.oneof(
      lengthOptions.chain((c) =>
        fc.tuple(
          fc.constant<() => Framer>(() => lengthFramer(c)),
          payloadsFor(c.maxFrameLength, c.onTooLong === 'discard').map((p) => lengthStream(c, p)),
        ),
      ),
      fc
        .tuple(lineOptions, fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }), fc.boolean())
        .map(([o, t, open]) => [() => lines(o), lineStream(o, t, open)] as const),
      fc
        .tuple(delimitedOptions, fc.array(alphabet, { maxLength: 4 }), fc.boolean())
        .map(([c, t, open]) => [() => delimited(delimitedOptionsOf(c)), delimitedStream(c, t, open)] as const),
    )
    await fc.assert(
      fc.asyncProperty(cases, cuts, async ([framer, s], raw) => {
        assert.deepEqual(await asyncAll(framer(), cut(s.input, raw), true), s.expected)
      }),
      { numRuns: 60, seed: 17 },
    )
  })
})
