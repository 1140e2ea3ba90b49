/**
 * Issue 12, part 6: every public function and option checks its arguments at run time, for
 * callers without a type checker. A wrong argument fails at the call with an
 * `InvalidArgumentError` naming the argument and the value received: never a `TypeError` from
 * inside the library, never a NaN, fraction or negative accepted to corrupt a buffer or a timer
 * later. Sockets only where a call needs them (127.0.0.1 port 0, a Unix path in a temp directory).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { inspect } from 'node:util'
import {
  type Address,
  Buf,
  backoffDelay,
  backoffOptions,
  connect,
  connectTls,
  expectFrame,
  fixed,
  Intent,
  InvalidArgumentError,
  lengthPrefixed,
  lines,
  netstring,
  type OpenOptions,
  open,
  Persistent,
  type Protocol,
  type Server,
  Stream,
  serve,
} from 'rotor-stream'
import { checkSplits, describeSplit, Harness, prng, runScripted, splitAt, splits } from 'rotor-stream/testing'
import { type TestCerts, testCerts, tlsUnavailable } from '../helpers/tls-certs.js'

const T = { timeout: 20_000 }
const LOCALHOST = '127.0.0.1'
/** The longest delay a timer takes (`setTimeout`'s bound), in ms. */
const MAX_TIMER = 2 ** 31 - 1
const MAX_SAFE = Number.MAX_SAFE_INTEGER

/** A protocol that reads nothing and waits: accepted connections and attached sockets stay quiet. */
const quiet: Protocol = { bytesRead: () => Intent.done() }
const sleeper = (): Intent<Protocol> => Intent.of(quiet).sleep()
/** A function where a number or an object is expected. */
function notANumber(): void {}

/** Wrong types and values that no numeric argument accepts. */
const NOT_NUMBERS: unknown[] = ['3', null, {}, [], notANumber, true, Symbol('n'), 10n]
/** Bad values for a count of bytes (a non-negative safe integer). */
const BAD_COUNTS: unknown[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, ...NOT_NUMBERS]
/** Bad values for a positive count. */
const BAD_POSITIVE: unknown[] = [0, -0, ...BAD_COUNTS]
/** Bad values for a timer option in ms (an integer within 0..MAX_TIMER). */
const BAD_MS: unknown[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_TIMER + 1, ...NOT_NUMBERS]
/** Bad values for a boolean option. */
const BAD_BOOLEANS: unknown[] = ['yes', 'false', 1, 0, null, {}, notANumber]
/** Bad values for a function argument. */
const BAD_FUNCTIONS: unknown[] = [null, 1, 'f', {}, [], true]
/** Bad values for an options object (where `undefined` means the defaults). */
const BAD_OPTIONS: unknown[] = [null, 1, 'x', true, [], notANumber, Symbol('o')]
/** Bad values for a position in a Buf (any integer is clamped; nothing else is a position). */
const BAD_POSITIONS: unknown[] = [1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', null, {}, notANumber, Symbol('p'), 1n]
/** Bad values for a Unix socket path or a host name. */
const BAD_STRINGS: unknown[] = ['', 1, null, {}, notANumber, ['a']]

function label(value: unknown): string {
  return inspect(value, { depth: 1, breakLength: Number.POSITIVE_INFINITY })
}

/** Stops whatever a call that should have thrown may have started (a server, a client, a connection). */
function cleanup(result: unknown): void {
  if (result instanceof Promise) {
    result.then((value: unknown) => cleanup(value), ignore)
  } else if (result instanceof Persistent) {
    void result.stop()
  } else if (result instanceof Stream) {
    result.close()
  } else if (typeof result === 'object' && result !== null && 'close' in result && typeof result.close === 'function' && 'address' in result) {
    void (result as Server).close({ timeout: 0 })
  }
}

function ignore(): void {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** What a call threw, or NOTHING. */
const NOTHING = Symbol('nothing thrown')
function thrownBy(call: () => unknown): unknown {
  let result: unknown
  try {
    result = call()
  } catch (err) {
    return err
  }
  cleanup(result)
  return NOTHING
}

/**
 * `call` must throw an InvalidArgumentError at once, whose message names `argument` and says
 * what it got.
 */
function assertInvalid(what: string, call: () => unknown, argument: string): InvalidArgumentError {
  const err = thrownBy(call)
  assert.notEqual(err, NOTHING, `${what}: accepted`)
  assert.ok(!(err instanceof TypeError), `${what}: TypeError ${(err as Error).message}`)
  assert.ok(err instanceof InvalidArgumentError, `${what}: threw ${String(err)}`)
  assert.equal(err.code, 'RS_ERR_INVALID_ARG')
  assert.equal(err.name, 'InvalidArgumentError')
  assert.ok(err.message.includes(argument), `${what}: the message does not name ${argument}: ${err.message}`)
  assert.match(err.message, /got /, `${what}: the message does not say what it got: ${err.message}`)
  return err
}

/** `make(value)` must be rejected, naming `argument`, for every one of `values`. */
function rejectsAll(what: string, values: readonly unknown[], make: (value: unknown) => unknown, argument: string): void {
  for (const value of values) assertInvalid(`${what} with ${label(value)}`, () => make(value), argument)
}

/** `call` must not throw at all. */
function accepts(what: string, call: () => unknown): unknown {
  try {
    return call()
  } catch (err) {
    assert.fail(`${what}: threw ${String(err)}`)
  }
}

describe('messages', () => {
  test('say where, which argument, what is expected and what was received', T, () => {
    const err = assertInvalid('expectBytes', () => Intent.of(quiet).expectBytes(-1), 'n')
    assert.match(err.message, /^Intent\.expectBytes: n must be a non-negative integer, got -1$/)
    const cases: Array<[unknown, RegExp]> = [
      ['3', /got "3"$/],
      [Number.NaN, /got NaN$/],
      [Number.NEGATIVE_INFINITY, /got -Infinity$/],
      [{}, /got an Object$/],
      [new Map(), /got a Map$/],
      [Object.create(null), /got an object with no prototype$/],
      [notANumber, /got function notANumber$/],
      [() => 1, /got an anonymous function$/],
      [Symbol('s'), /got Symbol\(s\)$/],
      [10n, /got 10n$/],
      [null, /got null$/],
      [undefined, /got undefined$/],
      ['x'.repeat(500), /got "x{20,100}…" \(500 characters\)$/],
    ]
    for (const [value, message] of cases) assert.match(assertInvalid(label(value), () => Intent.of(quiet).expectBytes(value as number), 'n').message, message)
    // -0 is a valid count, but not a valid buffer size.
    assert.match(assertInvalid('maxBufferSize -0', () => new Harness(sleeper, { maxBufferSize: -0 }), 'maxBufferSize').message, /got -0$/)
  })

  test('describeValue never throws, whatever it is given', T, async () => {
    const { describeValue } = await import('../../src/validate.js')
    const revoked = Proxy.revocable({}, {})
    revoked.revoke()
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('no')
        },
      },
    )
    const badConstructor = Object.create({
      get constructor() {
        throw new Error('no')
      },
    })
    for (const value of [revoked.proxy, hostile, badConstructor, Object.create(null), Symbol(), -0, 2 ** 64, 'a\nb']) {
      assert.equal(typeof describeValue(value), 'string')
    }
    assert.equal(describeValue(-0), '-0')
    assert.equal(describeValue('a\nb'), '"a\\nb"')
    assert.equal(describeValue(Buffer.alloc(3)), 'a Buffer')
  })
})

describe('Intent', () => {
  test('of() needs a state object', T, () => {
    rejectsAll('Intent.of', [undefined, null, 1, 'state', true], (v) => Intent.of(v as object), 'state')
    accepts('Intent.of(function)', () => Intent.of(sleeper))
  })

  test('expectBytes, expectFlush: counts of bytes', T, () => {
    rejectsAll('expectBytes', [undefined, ...BAD_COUNTS], (v) => Intent.of(quiet).expectBytes(v as number), 'n')
    rejectsAll('expectFlush', BAD_COUNTS, (v) => Intent.of(quiet).expectFlush(v as number), 'n')
    accepts('edges', () => [
      Intent.of(quiet).expectBytes(0),
      Intent.of(quiet).expectBytes(MAX_SAFE),
      Intent.of(quiet).expectFlush(),
      Intent.of(quiet).expectFlush(MAX_SAFE),
    ])
  })

  test('expectDelimiter: a delimiter and { max, offset }', T, () => {
    const expect = (d: unknown, options: unknown) => Intent.of(quiet).expectDelimiter(d as string, options as { max: number })
    rejectsAll('delimiter', [undefined, null, 10, {}, [10], '', new Uint8Array(0), notANumber], (d) => expect(d, { max: 1 }), 'delimiter')
    rejectsAll('options', [undefined, ...BAD_OPTIONS], (o) => expect('\n', o), 'options')
    rejectsAll('max', [undefined, ...BAD_COUNTS], (max) => expect('\n', { max }), 'options.max')
    rejectsAll('offset', [null, ...BAD_COUNTS], (offset) => expect('\n', { max: 1, offset }), 'options.offset')
    accepts('edges', () => [expect('\n', { max: 0 }), expect('\r\n', { max: MAX_SAFE, offset: MAX_SAFE }), expect(new Uint8Array([1]), { max: 1, offset: 0 })])
  })

  test('deadline and timeout', T, () => {
    rejectsAll(
      'deadline',
      [undefined, Number.NaN, Number.NEGATIVE_INFINITY, ...NOT_NUMBERS],
      (v) =>
        Intent.of(quiet)
          .sleep()
          .deadline(v as number),
      'at',
    )
    rejectsAll(
      'timeout',
      [undefined, -1, -0.5, Number.NaN, Number.NEGATIVE_INFINITY, ...NOT_NUMBERS],
      (v) =>
        Intent.of(quiet)
          .sleep()
          .timeout(v as number),
      'ms',
    )
    // Deadlines are times on Scope.now()'s clock: fractions and the past are fine, Infinity is "none".
    accepts('edges', () => [-5, 0, 1.25, MAX_TIMER + 1, Number.POSITIVE_INFINITY].map((at) => Intent.of(quiet).sleep().deadline(at)))
    accepts('edges', () => [0, 0.5, MAX_TIMER, MAX_TIMER + 1, Number.POSITIVE_INFINITY].map((ms) => Intent.of(quiet).sleep().timeout(ms)))
  })

  test('minRate: { bytes, per } or null', T, () => {
    const rate = (v: unknown) =>
      Intent.of(quiet)
        .sleep()
        .minRate(v as null)
    rejectsAll('minRate', [undefined, 1, 'fast', [], notANumber], rate, 'rate')
    rejectsAll('minRate bytes', [undefined, ...BAD_POSITIVE], (bytes) => rate({ bytes, per: 1000 }), 'rate.bytes')
    rejectsAll('minRate per', [undefined, 0, ...BAD_MS], (per) => rate({ bytes: 1, per }), 'rate.per')
    accepts('edges', () => [rate(null), rate({ bytes: 1, per: 1 }), rate({ bytes: MAX_SAFE, per: MAX_TIMER })])
  })

  test('error() needs an Error', T, () => {
    rejectsAll('Intent.error', [undefined, null, 'boom', { message: 'boom' }, 1], (v) => Intent.error(v as Error), 'error')
    accepts('an Error subclass', () => Intent.error(new RangeError('x')))
  })
})

describe('Buf', () => {
  const filled = (): Buf => {
    const buf = new Buf()
    buf.write('hello')
    return buf
  }

  test('consume: an integer within 0..length, and nothing is consumed by a bad one', T, () => {
    for (const n of [undefined, 6, ...BAD_COUNTS]) {
      const buf = filled()
      assertInvalid(`consume(${label(n)})`, () => buf.consume(n as number), 'n')
      assert.equal(buf.toString(), 'hello', `consume(${label(n)}) changed the Buf`)
    }
    const buf = filled()
    buf.consume(0)
    buf.consume(5)
    assert.equal(buf.length, 0)
  })

  test('view, copy, toString, byte, indexOf, writeFrom: positions are integers (clamped), not NaN, fractions or strings', T, () => {
    const buf = filled()
    for (const [name, call] of [
      ['view', (s: unknown, e: unknown) => buf.view(s as number, e as number)],
      ['copy', (s: unknown, e: unknown) => buf.copy(s as number, e as number)],
      ['toString', (s: unknown, e: unknown) => buf.toString('utf8', s as number, e as number)],
      ['writeFrom', (s: unknown, e: unknown) => new Buf().writeFrom(buf, s as number, e as number)],
    ] as const) {
      rejectsAll(`${name} start`, BAD_POSITIONS, (s) => call(s, undefined), 'start')
      rejectsAll(`${name} end`, BAD_POSITIONS, (e) => call(0, e), 'end')
      accepts(`${name} clamps integers`, () => [call(-10, 100), call(3, 1), call(undefined, undefined)])
    }
    rejectsAll('byte', [undefined, ...BAD_POSITIONS], (i) => buf.byte(i as number), 'index')
    assert.equal(buf.byte(-1), undefined)
    assert.equal(buf.byte(5), undefined)
    rejectsAll('indexOf from', BAD_POSITIONS, (from) => buf.indexOf(0x6c, from as number), 'from')
    rejectsAll('indexOf needle', [undefined, null, {}, -1, 256, 1.5, true], (needle) => buf.indexOf(needle as number), 'needle')
    assert.equal(buf.indexOf('l', -3), 2)
    rejectsAll('writeFrom source', [undefined, null, Buffer.from('x'), {}, 'x'], (source) => new Buf().writeFrom(source as Buf), 'source')
    assert.equal(buf.toString(), 'hello', 'nothing above changed the Buf')
  })

  test('write: a string or a Uint8Array, in a known encoding', T, () => {
    for (const data of [undefined, null, 5, {}, [1, 2], notANumber, Symbol('d')]) {
      const buf = filled()
      assertInvalid(`write(${label(data)})`, () => buf.write(data as string), 'data')
      assert.equal(buf.toString(), 'hello', `write(${label(data)}) changed the Buf`)
    }
    for (const encoding of ['bogus', 5, null, {}]) {
      for (const data of ['ab', 'é'.repeat(100)]) {
        const buf = filled()
        assertInvalid(`write(${label(data)}, ${label(encoding)})`, () => buf.write(data, encoding as BufferEncoding), 'encoding')
        assert.equal(buf.toString(), 'hello')
      }
    }
    rejectsAll('toString encoding', ['bogus', 5, null], (encoding) => filled().toString(encoding as BufferEncoding), 'encoding')
    const buf = new Buf()
    accepts('encodings', () => [buf.write('ab', 'latin1'), buf.write('6869', 'hex'), buf.write(new Uint8Array([1])), buf.write('')])
  })
})

describe('framers', () => {
  test('lines, netstring: { max }', T, () => {
    rejectsAll('lines options', [undefined, ...BAD_OPTIONS], (o) => lines(o as { max: number }), 'options')
    rejectsAll('lines max', [undefined, ...BAD_COUNTS], (max) => lines({ max } as { max: number }), 'options.max')
    rejectsAll('lines ending', ['CRLF', 'cr', '\n', 1, null], (ending) => lines({ max: 1, ending } as never), 'options.ending')
    rejectsAll('netstring options', [undefined, ...BAD_OPTIONS], (o) => netstring(o as { max: number }), 'options')
    rejectsAll('netstring max', [undefined, ...BAD_COUNTS], (max) => netstring({ max } as { max: number }), 'options.max')
    accepts('edges', () => [lines({ max: 0 }), lines({ max: MAX_SAFE - 1, ending: 'crlf' }), netstring({ max: 0 }), netstring({ max: MAX_SAFE })])
  })

  test('fixed: a positive size', T, () => {
    rejectsAll('fixed', [undefined, ...BAD_POSITIVE], (size) => fixed(size as number), 'size')
    accepts('edges', () => [fixed(1), fixed(MAX_SAFE)])
  })

  test('lengthPrefixed: every option', T, () => {
    const lp = (o: unknown) => lengthPrefixed(o as never)
    rejectsAll('options', BAD_OPTIONS, lp, 'options')
    rejectsAll('lengthSize', [0, 5, 16, '4', 'VARINT', null], (lengthSize) => lp({ lengthSize }), 'options.lengthSize')
    rejectsAll('endian', ['BIG', 'le', 1, null], (endian) => lp({ endian }), 'options.endian')
    rejectsAll('lengthOffset', [null, ...BAD_COUNTS], (lengthOffset) => lp({ lengthOffset }), 'options.lengthOffset')
    rejectsAll(
      'adjustment',
      [null, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, ...NOT_NUMBERS],
      (adjustment) => lp({ adjustment }),
      'options.adjustment',
    )
    rejectsAll('maxFrameLength', [null, ...BAD_COUNTS], (maxFrameLength) => lp({ maxFrameLength }), 'options.maxFrameLength')
    rejectsAll('keepHeader', BAD_BOOLEANS, (keepHeader) => lp({ keepHeader }), 'options.keepHeader')
    accepts('edges', () => [lp(undefined), lp({}), lp({ lengthSize: 'varint', adjustment: -4, lengthOffset: 0, maxFrameLength: 0, keepHeader: true })])
  })

  test('scan, encode and expectFrame check what they are given', T, () => {
    for (const framer of [lines({ max: 10 }), netstring({ max: 10 }), fixed(2), lengthPrefixed()]) {
      rejectsAll('scan', [undefined, null, Buffer.from('ab\n'), 'ab\n', {}], (input) => framer.scan(input as Buf), 'input')
      rejectsAll('encode output', [undefined, null, Buffer.alloc(4), {}], (output) => framer.encode(output as Buf, 'ab'), 'output')
      rejectsAll('encode payload', [undefined, null, 5, {}, [97, 98]], (payload) => framer.encode(new Buf(), payload as string), 'payload')
    }
    const framer = lines({ max: 10 })
    rejectsAll('expectFrame builder', [undefined, null, {}, 1], (b) => expectFrame(b as never, framer, new Buf()), 'builder')
    rejectsAll('expectFrame framer', [undefined, null, {}, { scan: 1 }], (f) => expectFrame(Intent.of(quiet), f as never, new Buf()), 'framer')
    rejectsAll('expectFrame input', [undefined, null, Buffer.from('x'), {}], (input) => expectFrame(Intent.of(quiet), framer, input as Buf), 'input')
  })
})

describe('backoffOptions and backoffDelay', () => {
  test('each option is a number in range', T, () => {
    rejectsAll('options', BAD_OPTIONS, (o) => backoffOptions(o as never), 'options')
    rejectsAll('initialDelay', [null, ...BAD_MS], (initialDelay) => backoffOptions({ initialDelay } as never), 'options.initialDelay')
    rejectsAll('maxDelay', [null, 100, ...BAD_MS], (maxDelay) => backoffOptions({ maxDelay } as never), 'options.maxDelay')
    rejectsAll(
      'factor',
      [null, 0, 0.5, Number.NaN, Number.POSITIVE_INFINITY, ...NOT_NUMBERS],
      (factor) => backoffOptions({ factor } as never),
      'options.factor',
    )
    rejectsAll(
      'jitter',
      [null, -0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, ...NOT_NUMBERS],
      (jitter) => backoffOptions({ jitter } as never),
      'options.jitter',
    )
    accepts('edges', () => [
      backoffOptions({ initialDelay: 0, maxDelay: 0, factor: 1, jitter: 0 }),
      backoffOptions({ initialDelay: MAX_TIMER, maxDelay: MAX_TIMER, factor: Number.MAX_VALUE, jitter: 1 }),
    ])
  })

  test('backoffDelay checks the attempt, the options and the random source', T, () => {
    const options = backoffOptions()
    rejectsAll('attempt', [undefined, 0, ...BAD_POSITIVE], (attempt) => backoffDelay(attempt as number, options), 'attempt')
    rejectsAll('options', [undefined, ...BAD_OPTIONS, {}, { ...backoffOptions(), jitter: 2 }], (o) => backoffDelay(1, o as never), 'options')
    rejectsAll('random', BAD_FUNCTIONS, (random) => backoffDelay(1, options, random as () => number), 'random')
    rejectsAll('random()', [-0.1, 1, 2, Number.NaN, '0.5'], (r) => backoffDelay(1, options, () => r as number), 'random')
  })

  test('a huge factor from a zero initial delay stays 0, not NaN', T, () => {
    const options = backoffOptions({ initialDelay: 0, factor: Number.MAX_VALUE })
    assert.equal(
      backoffDelay(5000, options, () => 0),
      0,
    )
    assert.equal(backoffDelay(5000, backoffOptions({ initialDelay: 1, factor: Number.MAX_VALUE, jitter: 0 })), 30_000)
  })
})

describe('the test kit', () => {
  test('Harness: a factory and options', T, () => {
    rejectsAll('factory', [undefined, ...BAD_FUNCTIONS], (f) => new Harness(f as never), 'factory')
    rejectsAll('options', BAD_OPTIONS, (o) => new Harness(sleeper, o as never), 'options')
    rejectsAll(
      'now',
      [null, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '0', {}],
      (now) => new Harness(sleeper, { now } as never),
      'options.now',
    )
    rejectsAll('remoteAddress', [1, null, {}], (remoteAddress) => new Harness(sleeper, { remoteAddress } as never), 'options.remoteAddress')
    accepts('edges', () => [new Harness(sleeper, { now: -1e12, remoteAddress: '' }), new Harness(sleeper, { now: 1.5 })])
  })

  test('Harness.feed and Harness.advance', T, () => {
    const h = new Harness(sleeper)
    rejectsAll('feed', [undefined, null, 5, {}, [1]], (chunk) => h.feed(chunk as string), 'chunk')
    rejectsAll('advance', [undefined, -1, Number.NaN, Number.POSITIVE_INFINITY, ...NOT_NUMBERS], (ms) => h.advance(ms as number), 'ms')
    h.advance(0)
      .advance(0.5)
      .advance(MAX_TIMER * 10)
    assert.equal(h.now, 0.5 + MAX_TIMER * 10, 'the clock was not moved by a rejected call')
  })

  test('splits, splitAt, describeSplit, prng fail at the call', T, () => {
    rejectsAll('splits input', [undefined, null, 5, {}], (input) => splits(input as string), 'input')
    rejectsAll('splits options', BAD_OPTIONS, (o) => splits('ab', o as never), 'options')
    rejectsAll('exhaustiveUpTo', [null, 33, ...BAD_COUNTS], (exhaustiveUpTo) => splits('ab', { exhaustiveUpTo } as never), 'options.exhaustiveUpTo')
    rejectsAll('random', [null, ...BAD_COUNTS], (random) => splits('ab', { random } as never), 'options.random')
    rejectsAll(
      'randomSeed',
      [null, 1.5, Number.NaN, Number.POSITIVE_INFINITY, ...NOT_NUMBERS],
      (randomSeed) => splits('ab', { randomSeed } as never),
      'options.randomSeed',
    )
    rejectsAll('splitAt input', [undefined, 5], (input) => splitAt(input as string, [1]), 'input')
    rejectsAll('splitAt cuts', [undefined, null, 1, 'ab'], (cuts) => splitAt('abc', cuts as number[]), 'cuts')
    rejectsAll('splitAt cut', [1.5, '1', null, Number.NaN], (cut) => splitAt('abc', [cut as number]), 'cuts[0]')
    rejectsAll('describeSplit', [undefined, null, [1], 'ab'], (chunks) => describeSplit(chunks as Uint8Array[]), 'chunks')
    rejectsAll('prng', [undefined, null, 1.5, Number.NaN, '1'], (seed) => prng(seed as number), 'seed')
    accepts('edges', () => [[...splits('abc', { exhaustiveUpTo: 0, random: 0, randomSeed: -5 })], splitAt('abc', []), prng(2 ** 40)])
  })

  test('runScripted and checkSplits', T, () => {
    rejectsAll('runScripted factory', [undefined, null, 'f'], (f) => runScripted(f as never, ['x']), 'factory')
    rejectsAll('runScripted chunks', [undefined, null, 1, {}], (chunks) => runScripted(sleeper, chunks as string[]), 'chunks')
    rejectsAll('runScripted options', BAD_OPTIONS, (o) => runScripted(sleeper, ['x'], o as never), 'options')
    rejectsAll('runScripted end', ['yes', 1, null], (end) => runScripted(sleeper, ['x'], { end } as never), 'options.end')
    rejectsAll(
      'runScripted advanceClock',
      [-1, Number.NaN, Number.POSITIVE_INFINITY, '1', null],
      (a) => runScripted(sleeper, [], { advanceClock: a } as never),
      'options.advanceClock',
    )
    rejectsAll('checkSplits input', [undefined, null, 5], (input) => checkSplits(sleeper, input as string), 'input')
    rejectsAll('checkSplits options', BAD_OPTIONS, (o) => checkSplits(sleeper, 'ab', o as never), 'options')
    rejectsAll('checkSplits compareEvents', ['no', 0, null], (c) => checkSplits(sleeper, 'ab', { compareEvents: c } as never), 'options.compareEvents')
  })
})

describe('clients and servers', () => {
  /** A server the clients below may connect to: their edge cases must really connect. */
  let target: Server
  let address: Address
  before(async () => {
    target = await serve({ host: LOCALHOST, port: 0 }, sleeper)
    address = target.address
  })
  after(() => target.close({ timeout: 0 }))

  /** A call that must be accepted: waits for it, then stops what it started. */
  async function acceptsAsync(what: string, call: () => unknown): Promise<void> {
    const result = accepts(what, call)
    let value: unknown
    try {
      value = result instanceof Promise ? await result : result
    } catch (err) {
      // Accepted at the call; a connect that fails later (a 1 ms connectTimeout on a busy machine) is not this test's business.
      assert.ok(!(err instanceof InvalidArgumentError), `${what}: rejected with ${String(err)}`)
      return
    }
    if (value instanceof Persistent) await value.stop()
    else if (value instanceof Stream) {
      value.close()
      await value.closed
    } else if (value !== null && typeof value === 'object' && 'close' in value && 'address' in value) await (value as Server).close({ timeout: 0 })
  }

  const BAD_ADDRESSES: Array<[unknown, string]> = [
    [undefined, 'address'],
    [null, 'address'],
    ['127.0.0.1:6379', 'address'],
    [6379, 'address'],
    [{}, 'address'],
    [{ host: LOCALHOST }, 'address.port'],
    [{ host: '', port: 1 }, 'address.host'],
    [{ host: 1, port: 1 }, 'address.host'],
    [{ host: LOCALHOST, port: 0 }, 'address.port'],
    [{ host: LOCALHOST, port: 65536 }, 'address.port'],
    [{ host: LOCALHOST, port: 1.5 }, 'address.port'],
    [{ host: LOCALHOST, port: '80' }, 'address.port'],
    [{ host: LOCALHOST, port: Number.NaN }, 'address.port'],
    [{ path: '' }, 'address.path'],
    [{ path: 1 }, 'address.path'],
    [{ path: '/tmp/x.sock', port: 1 }, 'address'],
  ]

  test('connect, connectTls: address, factory and options', T, () => {
    for (const [bad, argument] of BAD_ADDRESSES) assertInvalid(`connect(${label(bad)})`, () => connect(bad as Address, sleeper), argument)
    rejectsAll('connect factory', [undefined, ...BAD_FUNCTIONS], (f) => connect(address, f as never), 'factory')
    rejectsAll('connect options', BAD_OPTIONS, (o) => connect(address, sleeper, o as never), 'options')
    rejectsAll('connectTimeout', [0, ...BAD_MS], (connectTimeout) => connect(address, sleeper, { connectTimeout } as never), 'options.connectTimeout')
    rejectsAll('tls', [null, 1, 'yes', true], (tls) => connect(address, sleeper, { tls } as never), 'options.tls')
    rejectsAll('lookup', [null, 1, 'dns', {}], (lookup) => connect(address, sleeper, { lookup } as never), 'options.lookup')
    rejectsAll('connectTls options', [undefined, {}, { tls: undefined }, { tls: null }], (o) => connectTls(address, sleeper, o as never), 'options.tls')
    rejectsAll('tls.servername', ['', 1, null], (servername) => connectTls(address, sleeper, { tls: { servername } as never }), 'options.tls.servername')
    rejectsAll(
      'tls.rejectUnauthorized',
      BAD_BOOLEANS,
      (r) => connectTls(address, sleeper, { tls: { rejectUnauthorized: r } as never }),
      'options.tls.rejectUnauthorized',
    )
    rejectsAll('tls.ca', [null, 1, {}, [1]], (ca) => connectTls(address, sleeper, { tls: { ca } as never }), 'options.tls.ca')
  })

  test('open: the same checks, as a rejection', T, async () => {
    for (const [bad, argument] of BAD_ADDRESSES) {
      await assert.rejects(open(bad as Address), (err: unknown) => err instanceof InvalidArgumentError && err.message.includes(argument), label(bad))
    }
    await assert.rejects(open(address, { connectTimeout: -1 }), (err: unknown) => err instanceof InvalidArgumentError && err.message.includes('connectTimeout'))
  })

  /** Bad client options, each alone: connect, connectTls, open and Persistent check them in one place. */
  const BAD_CLIENT_OPTIONS: unknown[] = [
    ...BAD_OPTIONS,
    ...[0, ...BAD_MS].map((connectTimeout) => ({ connectTimeout })),
    ...[null, 1, 'yes', true].map((tls) => ({ tls })),
    { tls: { servername: '' } },
    { tls: { ca: 1 } },
    { tls: { cert: 'x' } },
    { tls: { ca: 'not a certificate' } },
    { tls: { rejectUnauthorized: 'no' } },
    ...[null, 1, 'dns', {}].map((lookup) => ({ lookup })),
    { lingerTimeout: -1 },
    { noDelay: 'yes' },
    { maxBufferSize: 0 },
    { outputHighWaterMark: 1.5 },
    { minRate: {} },
    { onError: 1 },
  ]

  /** The message of the InvalidArgumentError that `call` throws or rejects with. */
  async function refusal(what: string, call: () => unknown): Promise<string> {
    let result: unknown
    try {
      result = call()
      await result
    } catch (err) {
      assert.ok(err instanceof InvalidArgumentError, `${what}: failed with ${String(err)}`)
      return err.message
    }
    cleanup(result)
    return assert.fail(`${what}: accepted`)
  }

  test('open and Persistent refuse the same addresses and client options as connect, with the same messages', T, async () => {
    const cases: Array<[string, unknown, unknown]> = [
      ...BAD_ADDRESSES.map(([bad]): [string, unknown, unknown] => [`address ${label(bad)}`, bad, undefined]),
      ...BAD_CLIENT_OPTIONS.map((bad): [string, unknown, unknown] => [`options ${label(bad)}`, address, bad]),
    ]
    for (const [what, at, options] of cases) {
      const message = await refusal(`connect, ${what}`, () => connect(at as Address, sleeper, options as never))
      assert.match(message, /^connect: /)
      const rest = message.slice('connect'.length)
      assert.equal(await refusal(`open, ${what}`, () => open(at as Address, options as never)), `open${rest}`)
      assert.equal(await refusal(`Persistent, ${what}`, () => new Persistent(at as Address, sleeper, options as never)), `Persistent${rest}`)
      // connectTls needs `tls`: the same options with `tls: {}` under them.
      const tlsOptions = options === undefined ? { tls: {} } : isRecord(options) ? { tls: {}, ...options } : options
      assert.equal(await refusal(`connectTls, ${what}`, () => connectTls(at as Address, sleeper, tlsOptions as never)), `connectTls${rest}`)
    }
  })

  test('open uses the lookup it is given, like connect', T, async () => {
    const { port } = address as { port: number }
    const looked: string[] = []
    const lookup: OpenOptions['lookup'] = (host, options, callback) => {
      looked.push(host)
      if (options.all === true) callback(null, [{ address: LOCALHOST, family: 4 }])
      else callback(null, LOCALHOST, 4)
    }
    const conn = await open({ host: 'rotor-stream.invalid', port }, { lookup })
    assert.deepEqual(looked, ['rotor-stream.invalid'])
    assert.equal(conn.remoteAddress, LOCALHOST)
    conn.destroy()
    const stream = await connect({ host: 'rotor-stream.invalid', port }, sleeper, { lookup })
    assert.deepEqual(looked, ['rotor-stream.invalid', 'rotor-stream.invalid'])
    stream.close()
    await stream.closed
  })

  test('a factory that needs a seed makes the options and their seed required (a type check)', T, () => {
    /** A factory written for a seed: `seed.greeting` must never be read from undefined. */
    const greeter = (_t: unknown, seed: { greeting: string }) => Intent.of({ bytesRead: () => Intent.done(), greeting: seed.greeting }).sleep()
    const bad = { path: '' }
    // Each call is refused at run time for its address; the comments are what tsc checks.
    // @ts-expect-error -- no options, so no seed
    assertInvalid('connect', () => connect(bad, greeter), 'address.path')
    // @ts-expect-error -- options without the seed
    assertInvalid('connect', () => connect(bad, greeter, { connectTimeout: 1 }), 'address.path')
    // @ts-expect-error -- options without the seed
    assertInvalid('connectTls', () => connectTls(bad, greeter, { tls: {} }), 'address.path')
    // @ts-expect-error -- no options, so no seed
    assertInvalid('Persistent', () => new Persistent(bad, greeter), 'address.path')
    // @ts-expect-error -- a seed of the wrong type
    assertInvalid('Persistent', () => new Persistent(bad, greeter, { seed: 1 }), 'address.path')
    assertInvalid('connect', () => connect(bad, greeter, { seed: { greeting: 'hi' } }), 'address.path')
    assertInvalid('Persistent', () => new Persistent(bad, greeter, { seed: { greeting: 'hi' }, stableAfter: 0 }), 'address.path')
    // A factory that takes no seed, or admits undefined, needs no options.
    assertInvalid('connect', () => connect(bad, sleeper), 'address.path')
    assertInvalid('Persistent', () => new Persistent(bad, (_t, seed: string | undefined) => Intent.of({ seed, ...quiet }).sleep()), 'address.path')
  })

  test('Persistent: address, factory and every option', T, () => {
    for (const [bad, argument] of BAD_ADDRESSES) assertInvalid(`Persistent(${label(bad)})`, () => new Persistent(bad as Address, sleeper), argument)
    const make = (options: unknown) => new Persistent(address, sleeper, options as never)
    rejectsAll('factory', [undefined, ...BAD_FUNCTIONS], (f) => new Persistent(address, f as never), 'factory')
    rejectsAll('options', BAD_OPTIONS, make, 'options')
    rejectsAll('connectTimeout', [0, ...BAD_MS], (connectTimeout) => make({ connectTimeout }), 'options.connectTimeout')
    rejectsAll('reconnect', [null, 1, 'fast', true, []], (reconnect) => make({ reconnect }), 'options.reconnect')
    rejectsAll('reconnect.initialDelay', [null, ...BAD_MS], (initialDelay) => make({ reconnect: { initialDelay } }), 'options.reconnect.initialDelay')
    rejectsAll('reconnect.jitter', [2, Number.NaN, '0'], (jitter) => make({ reconnect: { jitter } }), 'options.reconnect.jitter')
    rejectsAll('stableAfter', [null, ...BAD_MS], (stableAfter) => make({ stableAfter }), 'options.stableAfter')
    rejectsAll('random', BAD_FUNCTIONS, (random) => make({ random }), 'options.random')
    rejectsAll('lookup', [null, 1, 'dns'], (lookup) => make({ lookup }), 'options.lookup')
    rejectsAll('tls', [null, 1, 'yes'], (tls) => make({ tls }), 'options.tls')
  })

  test('Persistent accepts its edge values', T, async () => {
    await acceptsAsync(
      'min',
      () => new Persistent(address, sleeper, { connectTimeout: 1, stableAfter: 0, reconnect: { initialDelay: 0, maxDelay: 0, factor: 1, jitter: 0 } }),
    )
    await acceptsAsync(
      'max',
      () =>
        new Persistent(address, sleeper, {
          connectTimeout: MAX_TIMER,
          stableAfter: MAX_TIMER,
          reconnect: { initialDelay: MAX_TIMER, maxDelay: MAX_TIMER, jitter: 1 },
        }),
    )
    await acceptsAsync('policy', () => new Persistent(address, sleeper, { reconnect: () => null, random: () => 0 }))
  })

  test('serve: address and server options', T, () => {
    const s = (options: unknown) => serve(options as never, sleeper)
    rejectsAll('options', [undefined, ...BAD_OPTIONS], s, 'options')
    rejectsAll('port', [undefined, -1, 65536, 1.5, Number.NaN, '80', null, {}], (port) => s({ host: LOCALHOST, port }), 'options.port')
    rejectsAll('host', BAD_STRINGS, (host) => s({ host, port: 0 }), 'options.host')
    rejectsAll('path', BAD_STRINGS, (path) => s({ path }), 'options.path')
    assertInvalid('path and port', () => s({ path: join(tmpdir(), 'x.sock'), port: 0 }), 'options')
    rejectsAll('maxConnections', [null, ...BAD_POSITIVE], (maxConnections) => s({ port: 0, maxConnections }), 'options.maxConnections')
    rejectsAll('backlog', [null, 2 ** 31, ...BAD_POSITIVE], (backlog) => s({ port: 0, backlog }), 'options.backlog')
    rejectsAll('maxBufferedBytes', [null, ...BAD_POSITIVE], (maxBufferedBytes) => s({ port: 0, maxBufferedBytes }), 'maxBufferedBytes')
    rejectsAll('budget', [1, {}, 'x', notANumber], (budget) => s({ port: 0, budget }), 'options.budget')
    rejectsAll('factory', [undefined, ...BAD_FUNCTIONS], (f) => serve({ port: 0 }, f as never), 'factory')
  })

  test('serve: TLS option shapes', T, () => {
    const s = (tls: unknown) => serve({ host: LOCALHOST, port: 0, tls } as never, sleeper)
    rejectsAll('tls', [null, 1, 'pem', true], s, 'options.tls')
    rejectsAll('tls.key', [undefined, '', 1, {}, [], [1]], (key) => s({ key, cert: 'x' }), 'options.tls.key')
    rejectsAll('tls.cert', [undefined, '', 1, {}, []], (cert) => s({ key: 'x', cert }), 'options.tls.cert')
    rejectsAll('tls.ca', [null, 1, {}], (ca) => s({ key: 'x', cert: 'x', ca }), 'options.tls.ca')
    rejectsAll('tls.handshakeTimeout', [0, ...BAD_MS], (handshakeTimeout) => s({ key: 'x', cert: 'x', handshakeTimeout }), 'options.tls.handshakeTimeout')
    rejectsAll('tls.requestCert', BAD_BOOLEANS, (requestCert) => s({ key: 'x', cert: 'x', requestCert }), 'options.tls.requestCert')
    rejectsAll('tls.rejectUnauthorized', BAD_BOOLEANS, (r) => s({ key: 'x', cert: 'x', rejectUnauthorized: r }), 'options.tls.rejectUnauthorized')
  })

  test('Server.close: { timeout }', T, async () => {
    const server = await serve({ host: LOCALHOST, port: 0 }, sleeper)
    rejectsAll('close options', BAD_OPTIONS, (o) => server.close(o as never), 'options')
    rejectsAll('close timeout', [null, ...BAD_MS], (timeout) => server.close({ timeout } as never), 'options.timeout')
    assert.equal(server.isClosing, false, 'a rejected close did not start closing')
    await server.close({ timeout: MAX_TIMER })
  })

  test('Stream.attach: socket, factory and stream options', T, () => {
    rejectsAll('socket', [undefined, null, {}, 1], (socket) => Stream.attach(socket as net.Socket, sleeper), 'socket')
    rejectsAll('factory', [undefined, ...BAD_FUNCTIONS], (f) => Stream.attach(new net.Socket(), f as never), 'factory')
    rejectsAll('options', BAD_OPTIONS, (o) => Stream.attach(new net.Socket(), sleeper, undefined, o as never), 'options')
    rejectsAll('noDelay', BAD_BOOLEANS, (noDelay) => Stream.attach(new net.Socket(), sleeper, undefined, { noDelay } as never), 'options.noDelay')
    rejectsAll('budget', [1, {}, 'x', true], (budget) => Stream.attach(new net.Socket(), sleeper, undefined, { budget } as never), 'options.budget')
  })

  test('Stream.close: the reason is an Error', T, async () => {
    const stream = Stream.attach(new net.Socket(), sleeper)
    rejectsAll('close', [null, 'stop', 1, {}], (reason) => stream.close(reason as Error), 'reason')
    stream.close()
    assert.ok((await stream.closed) instanceof Error)
  })

  /**
   * The README's "Limits and their defaults" table, row by row: every way to give the limit
   * rejects bad values at the call and accepts the values at its edges.
   */
  describe('README limits table', () => {
    type Site = readonly [name: string, call: (value: unknown) => unknown]
    /** Every way to give a stream option. */
    const streamSites = (key: string, harness = true): Site[] => [
      ...(harness ? [['Harness', (v: unknown) => new Harness(sleeper, { [key]: v })] as const] : []),
      ['Stream.attach', (v) => Stream.attach(new net.Socket(), sleeper, undefined, { [key]: v })],
      ['serve', (v) => serve({ host: LOCALHOST, port: 0, [key]: v }, sleeper)],
      ['connect', (v) => connect(address, sleeper, { [key]: v })],
      ['Persistent', (v) => new Persistent(address, sleeper, { [key]: v })],
    ]
    const rows: Array<{ limit: string; argument: string; bad: unknown[]; edges: unknown[]; sites: () => Site[] }> = [
      {
        limit: 'expectDelimiter(d, { max })',
        argument: 'options.max',
        bad: [undefined, ...BAD_COUNTS],
        edges: [0, MAX_SAFE],
        sites: () => [['expectDelimiter', (max) => Intent.of(quiet).expectDelimiter('\n', { max } as { max: number })]],
      },
      { limit: 'maxBufferSize', argument: 'maxBufferSize', bad: BAD_POSITIVE, edges: [1, MAX_SAFE], sites: () => streamSites('maxBufferSize') },
      { limit: 'outputHighWaterMark', argument: 'outputHighWaterMark', bad: BAD_COUNTS, edges: [0, MAX_SAFE], sites: () => streamSites('outputHighWaterMark') },
      {
        limit: 'minRate',
        argument: 'minRate',
        bad: [
          1,
          'fast',
          [],
          { bytes: 0, per: 1 },
          { bytes: 1.5, per: 1 },
          { bytes: 1, per: 0 },
          { bytes: 1, per: 1.5 },
          { bytes: 1, per: MAX_TIMER + 1 },
          { bytes: '1', per: 1 },
        ],
        edges: [null, { bytes: 1, per: 1 }, { bytes: MAX_SAFE, per: MAX_TIMER }],
        sites: () => [...streamSites('minRate')],
      },
      {
        limit: 'maxBufferedBytes',
        argument: 'maxBufferedBytes',
        bad: BAD_POSITIVE,
        edges: [1, MAX_SAFE],
        sites: () => [['serve', (v) => serve({ host: LOCALHOST, port: 0, maxBufferedBytes: v as number }, sleeper)]],
      },
      {
        limit: 'maxConnections',
        argument: 'options.maxConnections',
        bad: BAD_POSITIVE,
        edges: [1, MAX_SAFE],
        sites: () => [['serve', (v) => serve({ host: LOCALHOST, port: 0, maxConnections: v as number }, sleeper)]],
      },
      { limit: 'lingerTimeout', argument: 'options.lingerTimeout', bad: BAD_MS, edges: [0, MAX_TIMER], sites: () => streamSites('lingerTimeout', false) },
      {
        limit: 'connectTimeout',
        argument: 'options.connectTimeout',
        bad: [0, ...BAD_MS],
        edges: [1, MAX_TIMER],
        sites: () => [
          ['connect', (v) => connect(address, sleeper, { connectTimeout: v as number })],
          ['Persistent', (v) => new Persistent(address, sleeper, { connectTimeout: v as number })],
        ],
      },
      {
        limit: 'server.close({ timeout })',
        argument: 'options.timeout',
        bad: BAD_MS,
        edges: [0, MAX_TIMER],
        sites: () => [['Server.close', (v) => serve({ host: LOCALHOST, port: 0 }, sleeper).then((server) => closeOrStop(server, v))]],
      },
      {
        limit: 'reconnect backoff (initialDelay)',
        argument: 'initialDelay',
        bad: BAD_MS,
        edges: [0, MAX_TIMER],
        sites: () => [
          ['backoffOptions', (v) => backoffOptions({ initialDelay: v as number, maxDelay: MAX_TIMER })],
          ['Persistent', (v) => new Persistent(address, sleeper, { reconnect: { initialDelay: v as number, maxDelay: MAX_TIMER } })],
        ],
      },
      {
        limit: 'reconnect backoff (maxDelay)',
        argument: 'maxDelay',
        bad: BAD_MS,
        edges: [200, MAX_TIMER],
        sites: () => [['backoffOptions', (v) => backoffOptions({ maxDelay: v as number })]],
      },
      {
        limit: 'reconnect backoff (jitter)',
        argument: 'jitter',
        bad: [-0.01, 1.01, Number.NaN, Number.POSITIVE_INFINITY, ...NOT_NUMBERS],
        edges: [0, 0.5, 1],
        sites: () => [['backoffOptions', (v) => backoffOptions({ jitter: v as number })]],
      },
      {
        limit: 'reconnect backoff (stableAfter)',
        argument: 'options.stableAfter',
        bad: BAD_MS,
        edges: [0, MAX_TIMER],
        sites: () => [['Persistent', (v) => new Persistent(address, sleeper, { stableAfter: v as number })]],
      },
    ]

    /** Server.close rejects synchronously; the server is closed either way. */
    function closeOrStop(server: Server, timeout: unknown): Promise<void> {
      try {
        return server.close({ timeout } as never)
      } catch (err) {
        void server.close({ timeout: 0 })
        throw err
      }
    }

    for (const row of rows) {
      test(`${row.limit}: rejects bad values at the call, accepts its edges`, T, async () => {
        for (const [site, call] of row.sites()) {
          for (const value of row.bad) {
            if (site === 'Server.close') {
              // serve() resolves first; the close is the call that must throw.
              await assert.rejects(
                call(value) as Promise<void>,
                (err: unknown) => err instanceof InvalidArgumentError && err.message.includes(row.argument),
                label(value),
              )
              continue
            }
            assertInvalid(`${row.limit} via ${site} = ${label(value)}`, () => call(value), row.argument)
          }
          for (const value of row.edges) await acceptsAsync(`${row.limit} via ${site} = ${label(value)}`, () => call(value))
        }
      })
    }

    const tlsSkip = tlsUnavailable() ?? false
    test('TLS handshakeTimeout: rejects bad values at serve(), accepts its edges', { ...T, skip: tlsSkip }, async () => {
      const certs: TestCerts = testCerts()
      const s = (handshakeTimeout: unknown) => serve({ host: LOCALHOST, port: 0, tls: { ...certs.server, handshakeTimeout } as never }, sleeper)
      rejectsAll('handshakeTimeout', [0, ...BAD_MS], s, 'options.tls.handshakeTimeout')
      for (const edge of [1, MAX_TIMER]) await acceptsAsync(`handshakeTimeout ${edge}`, () => s(edge))
    })
  })
})

describe('Unix socket paths longer than the platform allows', () => {
  /** Bytes of a Unix socket path, without the terminating NUL. */
  const max =
    process.platform === 'linux' || process.platform === 'android' ? 107 : ['darwin', 'freebsd', 'openbsd', 'netbsd'].includes(process.platform) ? 103 : 0
  const skip = max === 0 ? `no known limit on ${process.platform}` : false
  let dir = ''
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rs-args-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))
  /** A path in `dir` of exactly `bytes` bytes, its name made of `char`. */
  const pathOf = (bytes: number, char = 'x'): string => {
    const name = char.repeat(Math.floor((bytes - dir.length - 1) / Buffer.byteLength(char)))
    const path = join(dir, name)
    assert.equal(Buffer.byteLength(path), bytes)
    return path
  }

  test('serve() throws at the call, says how long the path is and what is allowed, and leaves no file', { ...T, skip }, () => {
    const path = pathOf(max + 1)
    const err = assertInvalid('serve', () => serve({ path }, sleeper), 'options.path')
    assert.match(err.message, new RegExp(`${max + 1} bytes`))
    assert.match(err.message, new RegExp(`at most ${max}`))
    assert.match(err.message, /shorter/)
    assertInvalid('serve, far too long', () => serve({ path: pathOf(200) }, sleeper), 'options.path')
    assert.deepEqual(readdirSync(dir), [], 'no socket file was created')
  })

  test('the length is in bytes, not characters', { ...T, skip }, () => {
    // Two bytes per character: fewer characters than the limit, more bytes.
    const path = pathOf(max + 1 + ((max - dir.length) % 2), 'é')
    assert.ok(path.length <= max)
    assertInvalid('serve', () => serve({ path }, sleeper), 'options.path')
    assert.deepEqual(readdirSync(dir), [])
  })

  test('connect(), connectTls(), Persistent and open() refuse it too', { ...T, skip }, async () => {
    const address = { path: pathOf(max + 1) }
    assertInvalid('connect', () => connect(address, sleeper), 'address.path')
    assertInvalid('connectTls', () => connectTls(address, sleeper, { tls: {} }), 'address.path')
    assertInvalid('Persistent', () => new Persistent(address, sleeper), 'address.path')
    await assert.rejects(open(address), (err: unknown) => err instanceof InvalidArgumentError && err.message.includes('address.path'))
  })

  test('a path of exactly the allowed length works, and its file is removed on close', { ...T, skip }, async () => {
    const path = pathOf(max)
    const server = await serve({ path }, sleeper)
    const stream = await connect({ path }, sleeper)
    stream.close()
    await stream.closed
    await server.close({ timeout: 0 })
    assert.deepEqual(readdirSync(dir), [])
  })
})

describe('no argument ever makes the library throw a TypeError', () => {
  const WEIRD: unknown[] = [
    undefined,
    null,
    0,
    -1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    'x',
    {},
    [],
    notANumber,
    Symbol('w'),
    10n,
    true,
    Object.create(null),
  ]
  const calls: Array<[string, (v: unknown) => unknown]> = [
    ['Intent.of', (v) => Intent.of(v as object).expectBytes(1)],
    ['expectBytes', (v) => Intent.of(quiet).expectBytes(v as number)],
    ['expectDelimiter delimiter', (v) => Intent.of(quiet).expectDelimiter(v as string, { max: 1 })],
    ['expectDelimiter options', (v) => Intent.of(quiet).expectDelimiter('\n', v as { max: number })],
    ['expectDelimiter max', (v) => Intent.of(quiet).expectDelimiter('\n', { max: v as number })],
    ['expectFlush', (v) => Intent.of(quiet).expectFlush(v as number)],
    [
      'deadline',
      (v) =>
        Intent.of(quiet)
          .sleep()
          .deadline(v as number),
    ],
    [
      'timeout',
      (v) =>
        Intent.of(quiet)
          .sleep()
          .timeout(v as number),
    ],
    [
      'minRate',
      (v) =>
        Intent.of(quiet)
          .sleep()
          .minRate(v as null),
    ],
    [
      'minRate.bytes',
      (v) =>
        Intent.of(quiet)
          .sleep()
          .minRate({ bytes: v as number, per: 1 }),
    ],
    ['Intent.error', (v) => Intent.error(v as Error)],
    ['Buf.consume', (v) => new Buf().consume(v as number)],
    ['Buf.view', (v) => new Buf().view(v as number)],
    ['Buf.byte', (v) => new Buf().byte(v as number)],
    ['Buf.indexOf', (v) => new Buf().indexOf(v as number)],
    ['Buf.indexOf from', (v) => new Buf().indexOf(1, v as number)],
    ['Buf.write', (v) => new Buf().write(v as string)],
    ['Buf.write encoding', (v) => new Buf().write('é', v as BufferEncoding)],
    ['Buf.writeFrom', (v) => new Buf().writeFrom(v as Buf)],
    ['Buf.copy', (v) => new Buf().copy(v as number)],
    ['Buf.toString', (v) => new Buf().toString(v as BufferEncoding)],
    ['lines', (v) => lines(v as { max: number })],
    ['lines max', (v) => lines({ max: v as number })],
    ['netstring', (v) => netstring(v as { max: number })],
    ['fixed', (v) => fixed(v as number)],
    ['lengthPrefixed', (v) => lengthPrefixed(v as never)],
    ['lines().scan', (v) => lines({ max: 1 }).scan(v as Buf)],
    ['lines().encode', (v) => lines({ max: 1 }).encode(new Buf(), v as string)],
    ['expectFrame', (v) => expectFrame(Intent.of(quiet), v as never, new Buf())],
    ['backoffOptions', (v) => backoffOptions(v as never)],
    ['backoffDelay attempt', (v) => backoffDelay(v as number, backoffOptions())],
    ['backoffDelay options', (v) => backoffDelay(1, v as never)],
    ['connect address', (v) => connect(v as Address, sleeper)],
    ['connect options', (v) => connect({ host: LOCALHOST, port: 1 }, sleeper, v as never)],
    ['connect connectTimeout', (v) => connect({ host: LOCALHOST, port: 1 }, sleeper, { connectTimeout: v as number })],
    ['connectTls options', (v) => connectTls({ host: LOCALHOST, port: 1 }, sleeper, v as never)],
    ['connectTls tls.ca', (v) => connectTls({ host: LOCALHOST, port: 1 }, sleeper, { tls: { ca: v as string } })],
    ['Persistent address', (v) => new Persistent(v as Address, sleeper)],
    ['Persistent options', (v) => new Persistent({ host: LOCALHOST, port: 1 }, sleeper, v as never)],
    ['Persistent reconnect', (v) => new Persistent({ host: LOCALHOST, port: 1 }, sleeper, { reconnect: v as never })],
    ['serve options', (v) => serve(v as never, sleeper)],
    ['serve port', (v) => serve({ port: v as number }, sleeper)],
    // A valid string would listen on that path in the working directory.
    ['serve path', (v) => (typeof v === 'string' && v !== '' ? undefined : serve({ path: v as string }, sleeper))],
    ['serve maxBufferedBytes', (v) => serve({ port: 0, maxBufferedBytes: v as number }, sleeper)],
    ['serve tls', (v) => serve({ port: 0, tls: v as never }, sleeper)],
    ['serve tls.key', (v) => serve({ port: 0, tls: { key: v as string, cert: 'x' } }, sleeper)],
    ['Stream.attach socket', (v) => Stream.attach(v as net.Socket, sleeper)],
    ['Stream.attach options', (v) => Stream.attach(new net.Socket(), sleeper, undefined, v as never)],
    ['Harness options', (v) => new Harness(sleeper, v as never)],
    ['Harness feed', (v) => new Harness(sleeper).feed(v as string)],
    ['Harness advance', (v) => new Harness(sleeper).advance(v as number)],
    ['splits', (v) => splits(v as string)],
    ['splits options', (v) => splits('ab', v as never)],
    ['splitAt', (v) => splitAt('abc', v as number[])],
    ['runScripted chunks', (v) => runScripted(sleeper, v as string[])],
  ]

  test('each public call given each kind of value accepts it or throws InvalidArgumentError', T, () => {
    for (const [name, call] of calls) {
      for (const value of WEIRD) {
        const err = thrownBy(() => call(value))
        if (err === NOTHING) continue
        assert.ok(err instanceof InvalidArgumentError, `${name}(${label(value)}) threw ${String(err)}`)
      }
    }
  })
})

describe('serve() requires a seed by its types when the factory needs one', () => {
  test('a factory whose seed type excludes undefined cannot be served without one', () => {
    const needsSeed = (_t: unknown, seed: { greeting: string }) => {
      void seed.greeting
      return Intent.done()
    }
    // Type-level only: neither call runs (serve would listen).
    const check = (): void => {
      // @ts-expect-error the factory needs a seed, so serve() does too
      void serve({ port: 0 }, needsSeed)
      void serve({ port: 0 }, needsSeed, { greeting: 'hi' })
      void serve({ port: 0 }, () => Intent.done())
    }
    assert.equal(typeof check, 'function')
  })
})
