import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { checkSplits, describeSplit, Harness, prng, runScripted, splitAt } from 'rotor-stream/testing'
import { IDLE_TIMEOUT, LineEcho, MAX_LINE } from '../../examples/line-echo.js'

const T = { timeout: 30_000 }

/** What LineEcho answers to `lines`: each echoed, until QUIT gets BYE. */
function expected(lines: readonly Buffer[]): { output: Buffer; quit: boolean } {
  const out: Buffer[] = []
  for (const line of lines) {
    if (line.toString('latin1') === 'QUIT') return { output: Buffer.concat([...out, Buffer.from('BYE\n')]), quit: true }
    out.push(line, Buffer.from('\n'))
  }
  return { output: Buffer.concat(out), quit: false }
}

describe('LineEcho', () => {
  test('answers identically for every split of a small input', T, () => {
    const run = checkSplits(LineEcho.create, 'hi\nyo\nQUIT\n')
    assert.equal(run.output.toString(), 'hi\nyo\nBYE\n')
    assert.equal(run.state, 'done')
    assert.deepEqual(run.log, ['bytesRead 2', 'bytesRead 2', 'bytesRead 4', 'bytesFlushed'])
  })

  test('answers identically for random splits of a larger input', T, () => {
    const lines = Array.from({ length: 100 }, (_, i) => Buffer.from(`line ${i} ${'.'.repeat(i % 37)}`))
    const input = Buffer.concat([...lines.flatMap((l) => [l, Buffer.from('\n')]), Buffer.from('QUIT\n')])
    const run = checkSplits(LineEcho.create, input, { random: 300, randomSeed: 7 })
    assert.ok(run.output.equals(expected([...lines, Buffer.from('QUIT')]).output))
    assert.equal(run.state, 'done')
  })

  test('answers in one write per read however many lines it holds', T, () => {
    const h = new Harness(LineEcho.create)
    h.feed('a\nb\nc\nd\n')
    assert.equal(h.writes, 1)
    assert.equal(h.takeOutput().toString(), 'a\nb\nc\nd\n')
  })

  test('keeps a partial line until its end arrives', T, () => {
    const h = new Harness(LineEcho.create)
    h.feed('hel')
    assert.equal(h.output.length, 0)
    assert.equal(h.buffered, 3)
    h.feed('lo\nwor')
    assert.equal(h.takeOutput().toString(), 'hello\n')
    h.feed('ld\n')
    assert.equal(h.takeOutput().toString(), 'world\n')
  })

  test('gives the same output for random lines cut at random points as for the unsplit input', { timeout: 60_000 }, () => {
    const lineArb = fc.oneof(
      { weight: 1, arbitrary: fc.constant(Buffer.from('QUIT')) },
      {
        weight: 20,
        arbitrary: fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes.map((b) => (b === 0x0a ? 0x20 : b)))),
      },
    )
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 30 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 20 }), (lines, end, rawCuts) => {
        const input = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]))
        const cuts = [...new Set(rawCuts.map((c) => (input.length > 1 ? 1 + (c % (input.length - 1)) : 0)))].sort((a, b) => a - b)
        const chunks = splitAt(input, cuts)
        const whole = runScripted(LineEcho.create, [input], { end })
        const split = runScripted(LineEcho.create, chunks, { end })
        const where = describeSplit(chunks)
        assert.ok(split.output.equals(whole.output), `split ${where}`)
        assert.deepEqual(split.log, whole.log, `split ${where}`)
        assert.equal(split.state, whole.state, `split ${where}`)
        const model = expected(lines)
        assert.ok(whole.output.equals(model.output), 'output follows the model')
        assert.equal(whole.state, model.quit || end ? 'done' : 'running')
      }),
      { numRuns: 300 },
    )
  })

  test('accepts a line of exactly 64 KiB', T, () => {
    const line = Buffer.alloc(MAX_LINE, 'a')
    const run = runScripted(LineEcho.create, [line, '\n'])
    assert.equal(run.output.length, MAX_LINE + 1)
    assert.equal(run.state, 'running')
  })

  test('answers a line over 64 KiB with ERR and closes, under every split', T, () => {
    const input = Buffer.concat([Buffer.from('ok\n'), Buffer.alloc(MAX_LINE + 1, 'a'), Buffer.from('\nnever\n')])
    // Cuts around the limit and the line ends, then seeded random ones (every 2-way split of 64 KiB is too slow).
    const edge = 3 + MAX_LINE
    const fixed = [[], [1], [3], [4], [edge - 1], [edge], [edge + 1], [edge + 2], [3, edge], [2, edge + 1, edge + 3]]
    const next = prng(3)
    const random = Array.from({ length: 20 }, () =>
      Array.from({ length: 1 + Math.floor(next() * 8) }, () => 1 + Math.floor(next() * (input.length - 1))).sort((a, b) => a - b),
    )
    for (const cuts of [...fixed, ...random]) {
      const chunks = splitAt(input, cuts)
      const run = runScripted(LineEcho.create, chunks)
      const where = describeSplit(chunks)
      assert.equal(run.output.toString(), 'ok\nERR line too long\n', where)
      assert.equal(run.exceptions[0]?.code, 'RS_ERR_LIMIT_REACHED', where)
      assert.equal(run.state, 'done', where)
    }
  })

  test('keeps at most a line and one read while waiting for a long line to end', T, () => {
    const h = new Harness(LineEcho.create)
    const read = 16 * 1024
    while (h.state === 'running') {
      h.feed(Buffer.alloc(read, 'x'))
      assert.ok(h.buffered <= MAX_LINE + read, `buffered ${h.buffered}`)
    }
    assert.equal(h.output.toString(), 'ERR line too long\n')
  })

  test('closes an idle connection after 30 s of virtual time', T, () => {
    assert.equal(IDLE_TIMEOUT, 30_000)
    const h = new Harness(LineEcho.create)
    h.advance(29_999)
    assert.equal(h.state, 'running')
    h.advance(1)
    assert.equal(h.state, 'done')
    assert.deepEqual(h.log, ['timeout'])
    assert.equal(h.output.length, 0)
    assert.ok(Number.isNaN(h.deadline))
  })

  test('counts the idle time from the last line', T, () => {
    const h = new Harness(LineEcho.create)
    h.advance(20_000).feed('still here\n').advance(20_000)
    assert.equal(h.state, 'running')
    h.advance(10_000)
    assert.equal(h.state, 'done')
  })

  test('closes without an answer at end of stream', T, () => {
    const run = runScripted(LineEcho.create, ['a\npartial'], { end: true })
    assert.equal(run.output.toString(), 'a\n')
    assert.equal(run.state, 'done')
  })

  test('closes without an answer after a read error', T, () => {
    const h = new Harness(LineEcho.create)
    h.feed('a\n').readError()
    assert.equal(h.state, 'done')
    assert.equal(h.exceptions[0]?.code, 'RS_ERR_READ')
  })
})
