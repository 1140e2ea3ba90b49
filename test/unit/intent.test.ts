import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Intent, InvalidArgumentError, type Protocol } from 'rotor-stream'

const T = { timeout: 5000 }

const state: Protocol = { bytesRead: () => Intent.done() }

/** Asserts that `fn` throws an InvalidArgumentError whose message matches `message`. */
function assertInvalid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `got ${String(err)}`)
    assert.equal(err.code, 'RS_ERR_INVALID_ARG')
    assert.equal(err.name, 'InvalidArgumentError')
    assert.match(err.message, message)
    return true
  })
}

describe('Intent', () => {
  test('chains of() with an expectation and a deadline, returning one Intent', T, () => {
    const builder = Intent.of(state)
    const intent = builder.expectDelimiter('\r\n', { max: 10 })
    assert.ok(intent instanceof Intent)
    assert.equal(intent.deadline(5), intent)
    assert.equal(intent.timeout(5), intent)
    assert.ok(Intent.of(state).expectBytes(3).timeout(100) instanceof Intent)
    assert.ok(Intent.of(state).expectFlush().deadline(1) instanceof Intent)
    assert.ok(Intent.of(state).expectFlush(100) instanceof Intent)
    assert.ok(Intent.of(state).sleep().timeout(0) instanceof Intent)
  })

  test('builds done and error Intents', T, () => {
    assert.ok(Intent.done() instanceof Intent)
    assert.ok(Intent.error(new Error('x')) instanceof Intent)
  })

  test('accepts zero for every count', T, () => {
    Intent.of(state).expectBytes(0)
    Intent.of(state).expectDelimiter('\n', { max: 0, offset: 0 })
    Intent.of(state).expectFlush(0)
    Intent.of(state).sleep().timeout(0).deadline(0)
  })

  test('accepts delimiters as strings, Buffers and plain Uint8Arrays', T, () => {
    Intent.of(state).expectDelimiter('\n', { max: 1 })
    Intent.of(state).expectDelimiter(Buffer.from('\r\n'), { max: 1 })
    Intent.of(state).expectDelimiter(new Uint8Array([13, 10]), { max: 1 })
    Intent.of(state).expectDelimiter(new Uint8Array([0, 13, 10, 0]).subarray(1, 3), { max: 1 })
  })

  test('rejects a negative, fractional or non-finite byte count', T, () => {
    assertInvalid(() => Intent.of(state).expectBytes(-1), /expectBytes: n must be a non-negative integer, got -1/)
    assertInvalid(() => Intent.of(state).expectBytes(1.5), /got 1\.5/)
    assertInvalid(() => Intent.of(state).expectBytes(Number.NaN), /got NaN/)
    assertInvalid(() => Intent.of(state).expectBytes(Number.POSITIVE_INFINITY), /got Infinity/)
  })

  test('rejects an empty delimiter, a bad max and a bad offset', T, () => {
    assertInvalid(() => Intent.of(state).expectDelimiter('', { max: 10 }), /expectDelimiter: delimiter must be a non-empty string or Uint8Array/)
    assertInvalid(() => Intent.of(state).expectDelimiter(new Uint8Array(0), { max: 10 }), /expectDelimiter: delimiter must be a non-empty string or Uint8Array/)
    assertInvalid(() => Intent.of(state).expectDelimiter('\n', { max: -1 }), /max must be a non-negative integer, got -1/)
    assertInvalid(() => Intent.of(state).expectDelimiter('\n', { max: Number.NaN }), /max must be/)
    assertInvalid(() => Intent.of(state).expectDelimiter('\n', { max: Number.POSITIVE_INFINITY }), /max must be/)
    assertInvalid(() => Intent.of(state).expectDelimiter('\n', { max: 2.5 }), /max must be/)
    assertInvalid(() => Intent.of(state).expectDelimiter('\n', { max: 10, offset: -1 }), /offset must be a non-negative integer, got -1/)
    assertInvalid(() => Intent.of(state).expectDelimiter('\n', { max: 10, offset: 0.5 }), /offset must be/)
  })

  test('rejects a delimiter call without max at run time', T, () => {
    // JavaScript callers (and casts) can omit the required bound; it must not become "unbounded".
    const options = {} as { max: number }
    assertInvalid(() => Intent.of(state).expectDelimiter('\n', options), /max must be a non-negative integer, got undefined/)
  })

  test('rejects a bad flush threshold', T, () => {
    assertInvalid(() => Intent.of(state).expectFlush(-1), /expectFlush: n must be a non-negative integer, got -1/)
    assertInvalid(() => Intent.of(state).expectFlush(0.5), /expectFlush/)
    assertInvalid(() => Intent.of(state).expectFlush(Number.NaN), /expectFlush/)
  })

  test('rejects a NaN deadline and a negative or NaN timeout', T, () => {
    assertInvalid(() => Intent.of(state).sleep().deadline(Number.NaN), /deadline: at must be .*, got NaN/)
    assertInvalid(() => Intent.of(state).sleep().timeout(-1), /timeout: ms must be a number of ms >= 0 .*, got -1/)
    assertInvalid(() => Intent.of(state).sleep().timeout(Number.NaN), /timeout: ms must be a number of ms >= 0 .*, got NaN/)
  })
})

describe('an expectation is set once per Intent, by its builder', () => {
  test('the Intent an expect… method returns has no expect… methods for the type checker', () => {
    const state = {}
    const intent = Intent.of(state).expectBytes(4)
    // @ts-expect-error an Intent's expectation is set: a second expect… is a mistake the types catch
    intent.expectFlush()
    // @ts-expect-error the same for sleep() after an expectation
    Intent.of(state).expectDelimiter('\n', { max: 10 }).sleep()
    // The builder kept from Intent.of() sets a new expectation on the same object.
    const builder = Intent.of(state)
    const first = builder.expectBytes(1)
    const second = builder.expectFlush(0)
    assert.equal(first, second)
  })
})
