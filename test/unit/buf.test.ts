import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { Buf, InvalidArgumentError } from 'rotor-stream'

const T = { timeout: 10_000 }

describe('Buf', () => {
  test('starts empty and holds no storage', T, () => {
    const buf = new Buf()
    assert.equal(buf.length, 0)
    assert.equal(buf.capacity, 0)
    assert.equal(buf.view().length, 0)
    assert.equal(buf.toString(), '')
    assert.equal(buf.indexOf('x'), -1)
    assert.equal(buf.byte(0), undefined)
  })

  test('grows on demand and keeps every byte in order', T, () => {
    const buf = new Buf()
    buf.write('abc')
    assert.ok(buf.capacity >= 3)
    const first = buf.capacity
    const big = Buffer.alloc(first * 3, 'x')
    buf.write(big)
    assert.ok(buf.capacity >= first * 3 + 3, `capacity ${buf.capacity}`)
    assert.equal(buf.length, 3 + big.length)
    assert.equal(buf.toString('latin1', 0, 4), 'abcx')
    assert.ok(buf.view().subarray(3).equals(big))
  })

  test('releases its storage when drained', T, () => {
    const buf = new Buf()
    buf.write('hello world')
    buf.consume(5)
    assert.ok(buf.capacity > 0)
    buf.consume(6)
    assert.equal(buf.length, 0)
    assert.equal(buf.capacity, 0)
  })

  test('releases its storage on clear', T, () => {
    const buf = new Buf()
    buf.write('hello')
    buf.clear()
    assert.equal(buf.length, 0)
    assert.equal(buf.capacity, 0)
  })

  test('holds no storage after writing an empty string', T, () => {
    const buf = new Buf()
    assert.equal(buf.write(''), 0)
    assert.equal(buf.write(new Uint8Array(0)), 0)
    assert.equal(buf.capacity, 0)
  })

  test('compacts instead of growing when most of the storage is consumed', T, () => {
    const buf = new Buf()
    buf.write(Buffer.alloc(1000, 'a'))
    const capacity = buf.capacity
    buf.consume(990)
    const more = Buffer.alloc(capacity - 100, 'b')
    buf.write(more)
    assert.equal(buf.capacity, capacity)
    assert.equal(buf.length, 10 + more.length)
    assert.equal(buf.toString('latin1', 0, 11), 'aaaaaaaaaab')
  })

  test('compacts when the consumed head is at least half and the rest fits', T, () => {
    const buf = new Buf()
    buf.write(Buffer.alloc(1024, 'a'))
    const capacity = buf.capacity
    buf.consume(600)
    buf.write(Buffer.alloc(500, 'b')) // 424 + 500 fits 1024 only after moving to the front
    assert.equal(buf.capacity, capacity)
    assert.equal(buf.toString('latin1', 423, 425), 'ab')
  })

  test('views, reads bytes and decodes ranges without consuming', T, () => {
    const buf = new Buf()
    buf.write('0123456789')
    buf.consume(2)
    assert.equal(buf.view().toString(), '23456789')
    assert.equal(buf.view(1, 3).toString(), '34')
    assert.equal(buf.view(5, 100).toString(), '789')
    assert.equal(buf.byte(0), 0x32)
    assert.equal(buf.byte(7), 0x39)
    assert.equal(buf.byte(8), undefined)
    assert.equal(buf.byte(-1), undefined)
    assert.equal(buf.toString(), '23456789')
    assert.equal(buf.toString('utf8', 2, 4), '45')
    assert.equal(buf.toString('hex', 0, 2), '3233')
    assert.equal(buf.toString('utf8', 6, 99), '89')
    assert.equal(buf.length, 8)
  })

  test('views the same memory, without copying', T, () => {
    const buf = new Buf()
    buf.write('abc')
    const a = buf.view()
    const b = buf.view()
    assert.equal(a.buffer, b.buffer)
    assert.equal(a.byteOffset, b.byteOffset)
  })

  test('finds needles as strings, bytes and numbers, relative to the readable start', T, () => {
    const buf = new Buf()
    buf.write('xxhello\r\nworld\r\n')
    buf.consume(2)
    assert.equal(buf.indexOf('\r\n'), 5)
    assert.equal(buf.indexOf(Buffer.from('\r\n'), 6), 12)
    assert.equal(buf.indexOf(new Uint8Array([0x0d, 0x0a]), 13), -1)
    assert.equal(buf.indexOf(0x0a), 6)
    assert.equal(buf.indexOf('hello'), 0)
    assert.equal(buf.indexOf('xx'), -1, 'consumed bytes are not searched')
    assert.equal(buf.indexOf('world', 100), -1)
  })

  test('never finds a match in the garbage past the readable end', T, () => {
    const buf = new Buf()
    const first = Buffer.alloc(1000, 'a')
    first[900] = 0x0a
    first.write('\r\n', 950)
    buf.write(first)
    const capacity = buf.capacity
    buf.consume(995) // 5 bytes of 'a' left; the stale LF and CRLF stay in the storage
    buf.write('bb') // fits after the tail without growing
    assert.equal(buf.capacity, capacity)
    assert.equal(buf.indexOf(0x0a), -1)
    assert.equal(buf.indexOf('\r\n'), -1)
    // Compaction moves the tail to the front: the old bytes behind it are garbage too.
    buf.write(Buffer.alloc(capacity - 100, 'c'))
    assert.equal(buf.capacity, capacity)
    assert.equal(buf.indexOf(0x0a), -1)
    assert.equal(buf.indexOf('\r\n'), -1)
    assert.equal(buf.indexOf('a'), 0)
  })

  test('never finds a match past the end after a shorter write into reused storage', T, () => {
    const buf = new Buf()
    buf.write('line one\n')
    buf.write('x')
    buf.consume(9) // "x" is left at offset 9; the LF before it is consumed
    assert.equal(buf.indexOf('\n'), -1)
    assert.equal(buf.indexOf(0x0a), -1)
    buf.write('y')
    assert.equal(buf.toString(), 'xy')
    assert.equal(buf.indexOf('\n'), -1)
  })

  test('never exposes consumed bytes through negative positions', T, () => {
    const buf = new Buf()
    buf.write('secret\nxx\nabc')
    buf.consume(10)
    assert.ok(!buf.view(-4).toString().includes('\n'), 'view(-4)')
    assert.ok(!buf.toString('utf8', -4).includes('\n'), "toString('utf8', -4)")
    const at = buf.indexOf('\n', -4)
    assert.ok(at === -1, `indexOf('\\n', -4) = ${at}`)
  })

  test('rejects consuming more than is readable, or a negative count', T, () => {
    const buf = new Buf()
    buf.write('abc')
    assert.throws(() => buf.consume(4), InvalidArgumentError)
    assert.throws(() => buf.consume(-1), InvalidArgumentError)
    assert.throws(() => buf.consume(Number.NaN), InvalidArgumentError)
    assert.equal(buf.length, 3)
    buf.consume(0)
    assert.equal(buf.toString(), 'abc')
  })

  test('writes strings in the given encoding and returns the byte count', T, () => {
    const buf = new Buf()
    assert.equal(buf.write('é'), 2)
    assert.equal(buf.write('é', 'latin1'), 1)
    assert.equal(buf.write('cafe', 'hex'), 2)
    assert.equal(buf.write('AQI=', 'base64'), 2)
    assert.equal(buf.write(new Uint8Array([7])), 1)
    assert.deepEqual([...buf.view()], [0xc3, 0xa9, 0xe9, 0xca, 0xfe, 1, 2, 7])
  })

  test('adopts an appended chunk as storage and never writes into it', T, () => {
    const buf = new Buf()
    const chunk = Buffer.from('hello\nworld')
    const copy = Buffer.from(chunk)
    buf.append(chunk)
    assert.equal(buf.view().buffer, chunk.buffer, 'no copy')
    buf.consume(6)
    buf.write('!!!')
    assert.equal(buf.toString(), 'world!!!')
    assert.ok(chunk.equals(copy), 'the appended chunk is unchanged')
  })

  test('grows once to the size the reader waits for when an appended chunk must be copied', T, () => {
    const buf = new Buf()
    buf.append(Buffer.alloc(1000, 'a'))
    buf.append(Buffer.alloc(1000, 'b'), 100_000)
    assert.ok(buf.capacity >= 100_000, `capacity ${buf.capacity}`)
    const capacity = buf.capacity
    for (let i = 0; i < 90; i++) buf.append(Buffer.alloc(1000, 'c'), 100_000)
    assert.equal(buf.capacity, capacity, 'no further growth')
    assert.equal(buf.length, 92_000)
    assert.equal(buf.toString('latin1', 999, 1001), 'ab')
  })

  test('a large announced frame grows the storage at most 4x what arrived (1 MiB at least), not to the announced size', T, () => {
    const announced = 16 * 1024 * 1024
    const buf = new Buf()
    buf.append(Buffer.alloc(65_536, 'a'))
    buf.append(Buffer.alloc(65_536, 'b'), announced)
    assert.equal(buf.capacity, 1024 * 1024, 'two chunks of a 16 MiB frame reserve 1 MiB, not 16')
    for (let i = 0; i < 30; i++) buf.append(Buffer.alloc(65_536, 'c'), announced)
    assert.equal(buf.length, 32 * 65_536)
    assert.ok(buf.capacity <= 4 * buf.length && buf.capacity >= buf.length, `capacity ${buf.capacity} for ${buf.length} bytes`)
    assert.equal(buf.toString('latin1', 65_535, 65_537), 'ab')
  })

  test('reading exactly N bytes per call from chunks reuses one storage', T, () => {
    // The bulk pattern: 64 KiB reads, 8 bytes off the frames the reader consumes.
    const buf = new Buf()
    const chunk = Buffer.alloc(65536, 'x')
    buf.append(chunk)
    buf.consume(8)
    const capacities = new Set<number>()
    for (let i = 0; i < 200; i++) {
      buf.append(Buffer.from(chunk), 65536)
      while (buf.length >= 65536) buf.consume(65536)
      capacities.add(buf.capacity)
    }
    assert.equal(capacities.size, 1, `capacities ${[...capacities].join(', ')}`)
  })

  test('keeps large storage of its own when drained, until released for a small frame', T, () => {
    const buf = new Buf()
    buf.append(Buffer.alloc(65536, 'a'))
    buf.append(Buffer.alloc(65536, 'b'), 1 << 20)
    const capacity = buf.capacity
    assert.ok(capacity >= 1 << 20)
    buf.consume(buf.length)
    assert.equal(buf.length, 0)
    assert.equal(buf.capacity, capacity, 'kept for the next large frame')
    buf.release(1 << 20)
    assert.equal(buf.capacity, capacity, 'still waiting for a large frame')
    buf.append(Buffer.alloc(65536, 'c'), 1 << 20)
    assert.equal(buf.capacity, capacity, 'the next frame is copied into the kept storage')
    assert.equal(buf.toString('latin1', 0, 2), 'cc')
    buf.consume(buf.length)
    buf.release(8)
    assert.equal(buf.capacity, 0, 'released once the reader waits for a small frame')
  })

  test('copies ranges into new memory, clamped to the readable bytes', T, () => {
    const buf = new Buf()
    buf.write('xx0123456789')
    buf.consume(2)
    const copy = buf.copy(2, 5)
    assert.equal(copy.toString(), '234')
    buf.write('!')
    buf.consume(buf.length)
    assert.equal(copy.toString(), '234', 'the copy outlives consume()')
    buf.write(Buffer.alloc(100, 'y'))
    assert.equal(buf.copy(-5, 1000).length, 100)
    assert.equal(buf.copy(50, 10).length, 0)
    assert.equal(new Buf().copy().length, 0)
  })

  test('gives its bytes away on take and starts over empty', T, () => {
    const buf = new Buf()
    buf.write('abc')
    const out = buf.take()
    assert.equal(out.toString(), 'abc')
    assert.equal(buf.capacity, 0)
    buf.write('zz')
    assert.equal(out.toString(), 'abc', 'the taken bytes are not overwritten')
  })
})

/** One operation of the model test. */
type Op =
  | { op: 'write'; bytes: Uint8Array }
  | { op: 'writeString'; text: string; encoding: 'utf8' | 'latin1' | 'hex' }
  | { op: 'append'; bytes: Uint8Array; want: number }
  | { op: 'consume'; fraction: number }
  | { op: 'indexOf'; needle: Uint8Array; from: number }
  | { op: 'indexByte'; byte: number; from: number }
  | { op: 'writeFrom'; bytes: Uint8Array; start: number; end: number }
  | { op: 'writeFromSelf'; start: number; end: number }

/** Small alphabet so that needles are often found, and often found only in garbage. */
const byteArb = fc.integer({ min: 0x61, max: 0x64 })
const bytesArb = (max: number) => fc.array(byteArb, { maxLength: max }).map((a) => Uint8Array.from(a))

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: bytesArb(1500).map((bytes): Op => ({ op: 'write', bytes })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        text: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40, unit: 'binary' })),
        encoding: fc.constantFrom('utf8' as const, 'latin1' as const, 'hex' as const),
      })
      .map((r): Op => ({ op: 'writeString', text: r.encoding === 'hex' ? Buffer.from(r.text).toString('hex') : r.text, encoding: r.encoding })),
  },
  {
    weight: 2,
    arbitrary: fc.record({ bytes: bytesArb(600), want: fc.oneof(fc.constant(0), fc.nat(5000)) }).map((r): Op => ({ op: 'append', ...r })),
  },
  { weight: 4, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((fraction): Op => ({ op: 'consume', fraction })) },
  {
    weight: 3,
    arbitrary: fc.record({ needle: bytesArb(4).filter((b) => b.length > 0), from: fc.nat(2000) }).map((r): Op => ({ op: 'indexOf', ...r })),
  },
  { weight: 2, arbitrary: fc.record({ byte: byteArb, from: fc.nat(2000) }).map((r): Op => ({ op: 'indexByte', ...r })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ bytes: bytesArb(200), start: fc.integer({ min: -2, max: 210 }), end: fc.integer({ min: -2, max: 210 }) })
      .map((r): Op => ({ op: 'writeFrom', ...r })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ start: fc.integer({ min: -2, max: 1500 }), end: fc.integer({ min: -2, max: 1500 }) })
      .map((r): Op => ({ op: 'writeFromSelf', ...r })),
  },
)

/** What `writeFrom(source, start, end)` should add: the range clamped to the readable bytes, empty when reversed. */
function clampedRange(bytes: Buffer, start: number, end: number): Buffer {
  const from = Math.max(start, 0)
  const to = Math.min(end, bytes.length)
  return to > from ? bytes.subarray(from, to) : Buffer.alloc(0)
}

describe('Buf against a reference model', () => {
  test('behaves like a plain concatenated Buffer for any sequence of operations', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const buf = new Buf()
        let model = Buffer.alloc(0)
        for (const step of ops) {
          switch (step.op) {
            case 'write':
              assert.equal(buf.write(step.bytes), step.bytes.length)
              model = Buffer.concat([model, step.bytes])
              break
            case 'writeString': {
              const bytes = Buffer.from(step.text, step.encoding)
              assert.equal(buf.write(step.text, step.encoding), bytes.length)
              model = Buffer.concat([model, bytes])
              break
            }
            case 'append': {
              // The engine's read path: the chunk may become the storage itself.
              const chunk = Buffer.from(step.bytes)
              buf.append(chunk, step.want)
              model = Buffer.concat([model, step.bytes])
              break
            }
            case 'consume': {
              const n = Math.floor(step.fraction * model.length)
              buf.consume(n)
              model = model.subarray(n)
              break
            }
            case 'indexOf':
              assert.equal(buf.indexOf(step.needle, step.from), model.indexOf(step.needle, step.from), 'indexOf')
              break
            case 'indexByte':
              assert.equal(buf.indexOf(step.byte, step.from), model.indexOf(step.byte, step.from), 'indexOf byte')
              break
            case 'writeFrom': {
              // The source has consumed bytes in front of its readable ones, as an input Buf does.
              const source = new Buf()
              source.write('zzz')
              source.write(step.bytes)
              source.consume(3)
              const added = clampedRange(Buffer.from(step.bytes), step.start, step.end)
              assert.equal(buf.writeFrom(source, step.start, step.end), added.length)
              assert.ok(source.view().equals(step.bytes), 'the source is unchanged')
              model = Buffer.concat([model, added])
              break
            }
            case 'writeFromSelf': {
              const added = Buffer.from(clampedRange(model, step.start, step.end))
              assert.equal(buf.writeFrom(buf, step.start, step.end), added.length)
              model = Buffer.concat([model, added])
              break
            }
          }
          assert.equal(buf.length, model.length)
          assert.ok(buf.view().equals(model), 'view equals the model')
          const third = Math.floor(model.length / 3)
          assert.ok(buf.copy(third, model.length - third).equals(model.subarray(third, model.length - third)), 'copy of a range')
          if (model.length === 0) assert.equal(buf.capacity, 0, 'a drained Buf holds no storage')
          else assert.ok(buf.capacity >= model.length)
        }
        assert.equal(buf.toString('latin1'), model.toString('latin1'))
      }),
      { numRuns: 300 },
    )
  })
})
