import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { Args, INT64_MAX, INT64_MIN, parseBigInteger, parseInteger } from '../../examples/redis/args.js'
import { Dict, type DictEntry } from '../../examples/redis/dict.js'
import { Keyspace } from '../../examples/redis/keyspace.js'

const T = { timeout: 120_000 }

/** Runs one command on `db` in process (RESP2); returns the raw reply. */
function run(db: Keyspace, ...command: string[]): string {
  const args = new Args()
  const parts: Buffer[] = []
  let at = 0
  for (const arg of command) {
    const bytes = Buffer.from(arg, 'latin1')
    parts.push(bytes)
    args.push(at, at + bytes.length)
    at += bytes.length
  }
  args.data = Buffer.concat(parts)
  let reply = ''
  db.execute(args, { write: (data, encoding) => (reply += typeof data === 'string' ? data : Buffer.from(data).toString(encoding ?? 'latin1')) })
  return reply
}

/** Splits a SCAN reply into its cursor and keys. */
function parseScan(reply: string): { cursor: string; keys: string[] } {
  const lines = reply.split('\r\n')
  const keys: string[] = []
  for (let i = 5; i < lines.length - 1; i += 2) keys.push(lines[i] as string)
  return { cursor: lines[2] as string, keys }
}

/** What happens between two SCAN calls: keys added (the table grows) or removed (it shrinks), or nothing. */
type Change = { kind: 'add'; count: number } | { kind: 'remove'; share: number } | { kind: 'none' }

const change: fc.Arbitrary<Change> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Change>({ kind: 'none' }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 400 }).map((count): Change => ({ kind: 'add', count })) },
  { weight: 2, arbitrary: fc.double({ min: 0.1, max: 1, noNaN: true }).map((share): Change => ({ kind: 'remove', share })) },
)

/** What a scan walks: the keyspace (SCAN), a hash (HSCAN) or a set (SSCAN); how to add and remove elements. */
interface Target {
  readonly name: string
  add(db: Keyspace, names: string[]): void
  remove(db: Keyspace, names: string[]): void
  /** One call: the next cursor and the elements (keys, fields or members) it returned. */
  scan(db: Keyspace, cursor: string, count: number): { cursor: string; keys: string[] }
}

const TARGETS: readonly Target[] = [
  {
    name: 'SCAN',
    add: (db, names) => void run(db, 'MSET', ...names.flatMap((n) => [n, 'v'])),
    remove: (db, names) => void run(db, 'DEL', ...names),
    scan: (db, cursor, count) => parseScan(run(db, 'SCAN', cursor, 'COUNT', String(count))),
  },
  {
    name: 'HSCAN',
    add: (db, names) => void run(db, 'HSET', 'h', ...names.flatMap((n) => [n, 'v'])),
    remove: (db, names) => void run(db, 'HDEL', 'h', ...names),
    scan: (db, cursor, count) => {
      const reply = parseScan(run(db, 'HSCAN', 'h', cursor, 'COUNT', String(count)))
      return { cursor: reply.cursor, keys: reply.keys.filter((_, i) => i % 2 === 0) }
    },
  },
  {
    name: 'SSCAN',
    add: (db, names) => void run(db, 'SADD', 's', ...names),
    remove: (db, names) => void run(db, 'SREM', 's', ...names),
    scan: (db, cursor, count) => parseScan(run(db, 'SSCAN', 's', cursor, 'COUNT', String(count))),
  },
]

describe('SCAN, HSCAN and SSCAN under concurrent writes (property)', () => {
  for (const target of TARGETS) {
    test(`${target.name} returns every element present throughout at least once, however the table grows and shrinks between calls`, T, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 300 }),
          fc.integer({ min: 0, max: 600 }),
          fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), change), { maxLength: 60 }),
          (stable, transient, steps) => {
            const db = new Keyspace()
            const stableNames = Array.from({ length: stable }, (_, i) => `stable:${i}`)
            if (stable > 0) target.add(db, stableNames)
            let added = 0
            const live = new Set<string>()
            const add = (count: number): void => {
              const names = Array.from({ length: count }, () => `t:${added++}`)
              for (const name of names) live.add(name)
              if (names.length > 0) target.add(db, names)
            }
            add(transient)
            const seen = new Set<string>()
            let cursor = '0'
            let calls = 0
            // Each step: one scan call, then a change; once the steps run out, plain calls until the walk ends.
            do {
              const step = steps[calls]
              const reply = target.scan(db, cursor, step?.[0] ?? 10)
              for (const key of reply.keys) seen.add(key)
              cursor = reply.cursor
              const c = step?.[1]
              if (c?.kind === 'add') add(c.count)
              if (c?.kind === 'remove') {
                const victims = [...live].slice(0, Math.ceil(live.size * c.share))
                for (const name of victims) live.delete(name)
                if (victims.length > 0) target.remove(db, victims)
              }
              calls++
              assert.ok(calls < 100_000, 'the walk ends')
            } while (cursor !== '0')
            for (const name of stableNames) assert.ok(seen.has(name), `${name} was returned`)
          },
        ),
        { numRuns: 100 },
      )
    })
  }

  test('a Dict walk visits each bucket once when the table does not change, and grows and shrinks by powers of two', T, () => {
    const dict = new Dict<DictEntry>()
    const entry = (key: string): DictEntry => ({ key, hash: 0, next: null })
    for (let i = 0; i < 5000; i++) dict.insert(entry(`k${i}`))
    const visits = new Map<string, number>()
    let cursor = 0
    let steps = 0
    do {
      cursor = dict.scan(cursor, (e) => void visits.set(e.key, (visits.get(e.key) ?? 0) + 1))
      steps++
    } while (cursor !== 0)
    assert.equal(visits.size, 5000)
    assert.ok([...visits.values()].every((n) => n === 1))
    assert.equal(steps, 8192) // the table doubled at 16, 32, … 4096 entries
    for (let i = 0; i < 4990; i++) dict.delete(dict.find(`k${i}`) as DictEntry)
    steps = 0
    cursor = 0
    do {
      cursor = dict.scan(cursor, () => {})
      steps++
    } while (cursor !== 0)
    assert.ok(steps <= 32, `shrunk to ${steps} buckets`)
  })
})

describe('64-bit integers (property)', () => {
  const int64 = fc.oneof(
    fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
    fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }),
    fc.integer({ min: -1000, max: 1000 }).map(BigInt),
    fc.constantFrom(INT64_MIN, INT64_MAX, INT64_MIN + 1n, INT64_MAX - 1n, 2n ** 53n, -(2n ** 53n), 2n ** 53n + 1n, 0n),
  )
  type Op = { name: 'INCR' | 'DECR' } | { name: 'INCRBY' | 'DECRBY'; delta: bigint }
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.constantFrom<Op>({ name: 'INCR' }, { name: 'DECR' }),
    fc.tuple(fc.constantFrom('INCRBY' as const, 'DECRBY' as const), int64).map(([name, delta]): Op => ({ name, delta })),
  )

  test('INCR, DECR, INCRBY, DECRBY follow exact int64 arithmetic and refuse to overflow, as Redis', T, () => {
    fc.assert(
      fc.property(int64, fc.array(op, { maxLength: 30 }), (start, ops) => {
        const db = new Keyspace()
        assert.equal(run(db, 'SET', 'n', String(start)), '+OK\r\n')
        let model = start
        for (const o of ops) {
          const given = 'delta' in o ? o.delta : 1n
          const delta = o.name === 'INCR' ? 1n : o.name === 'DECR' ? -1n : o.name === 'INCRBY' ? given : -given
          const reply = 'delta' in o ? run(db, o.name, 'n', String(o.delta)) : run(db, o.name, 'n')
          if (o.name === 'DECRBY' && given === INT64_MIN) {
            assert.equal(reply, '-ERR decrement would overflow\r\n')
            continue
          }
          const next = model + delta
          if (next < INT64_MIN || next > INT64_MAX) {
            assert.equal(reply, '-ERR increment or decrement would overflow\r\n', `${model} ${o.name} ${delta}`)
          } else {
            assert.equal(reply, `:${next}\r\n`, `${model} ${o.name} ${delta}`)
            model = next
          }
        }
        assert.equal(run(db, 'GET', 'n'), `$${String(model).length}\r\n${model}\r\n`)
      }),
      { numRuns: 500 },
    )
  })

  test('parseInteger and parseBigInteger accept exactly the canonical int64 texts (string2ll)', T, () => {
    const text = fc.oneof(
      int64.map(String),
      fc.stringMatching(/^[-+0-9 ]{0,22}$/),
      fc.constantFrom('-0', '01', '', '-', '+1', '9223372036854775808', '-9223372036854775809', '18446744073709551616', '00', ' 1'),
    )
    fc.assert(
      fc.property(text, (s) => {
        const bytes = Buffer.from(s, 'latin1')
        const canonical = /^(0|-?[1-9][0-9]*)$/.test(s) && BigInt(s) >= INT64_MIN && BigInt(s) <= INT64_MAX
        const exact = parseBigInteger(bytes, 0, bytes.length)
        const approx = parseInteger(bytes, 0, bytes.length)
        if (!canonical) {
          assert.equal(exact, null, s)
          assert.equal(approx, null, s)
        } else {
          assert.equal(exact, BigInt(s))
          assert.equal(approx, Number(BigInt(s)))
        }
      }),
      { numRuns: 2000 },
    )
  })
})
