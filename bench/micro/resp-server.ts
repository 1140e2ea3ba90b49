/**
 * The RESP server example without sockets: ns per request for redis-benchmark's four tests
 * (PING inline, PING multi-bulk, SET, GET; `-P 32`: 32 commands per read; SET and GET also on
 * 2,048 keys, `-r`), on the engine,
 * against the parse-and-execute loop of bench/resp/hand-server.ts fed the same reads.
 *
 *     node --conditions=rotor-stream-source --import tsx bench/micro/resp-server.ts [test...]
 *
 * Times are CPU time (process.cpuUsage), not wall time: on a shared machine a descheduled run
 * would otherwise count time it did not run. Knobs: ROUNDS (reads per run, 20000), REPEAT (runs, best kept, 10).
 */

import { RESP_DEFAULTS, RespConnection } from '../../examples/redis/resp-server.js'
import { ServerState } from '../../examples/redis/server-state.js'
import { data, parseRead } from '../resp/hand-resp.js'
import { NullEngine } from './null-engine.js'

/** What redis-benchmark sends for each test (3-byte value); `-r` tests use 2,048 keys, as `-r 2048` does. */
const REQUESTS: Readonly<Record<string, (key: string) => string>> = {
  ping_inline: () => 'PING\r\n',
  ping_mbulk: () => '*1\r\n$4\r\nPING\r\n',
  set: (key) => `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$3\r\nxxx\r\n`,
  get: (key) => `*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`,
}
const TESTS = ['ping_inline', 'ping_mbulk', 'set', 'get', 'set-r', 'get-r']
const PIPELINE = 32
const ROUNDS = Number(process.env.ROUNDS ?? 20_000)

/** CPU time of this process in ns. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1000
}

/** 64 reads of 32 commands, fresh chunks as the socket gives them (the engine adopts each one as its input storage). */
function chunks(test: string): Buffer[] {
  const encode = REQUESTS[test.replace(/-r$/, '')]
  if (encode === undefined) throw new Error(`unknown test ${test}`)
  const random = test.endsWith('-r')
  return Array.from({ length: 64 }, (_, read) => {
    const commands = Array.from({ length: PIPELINE }, (_, i) => encode(random ? `key:${String(read * PIPELINE + i).padStart(12, '0')}` : 'key:__rand_int__'))
    return Buffer.from(commands.join(''))
  })
}

function engineRun(test: string): number {
  const engine = new NullEngine()
  engine.begin(RespConnection.factory({ server: new ServerState(), limits: RESP_DEFAULTS }))
  for (const read of chunks(test.replace('get', 'set'))) engine.feed(read) // GET finds its keys
  const reads = chunks(test)
  const started = cpuNow()
  for (let i = 0; i < ROUNDS; i++) engine.feed(reads[i & 63] as Buffer)
  const ns = (cpuNow() - started) / (ROUNDS * PIPELINE)
  if (engine.written === 0 || engine.isEnded) throw new Error('nothing answered')
  return ns
}

function handRun(test: string): number {
  data.clear()
  for (const read of chunks(test.replace('get', 'set'))) parseRead(read, []) // GET finds its keys
  const reads = chunks(test)
  let written = 0
  const started = cpuNow()
  for (let i = 0; i < ROUNDS; i++) {
    const replies: Buffer[] = []
    parseRead(reads[i & 63] as Buffer, replies)
    written += Buffer.concat(replies).length
  }
  const ns = (cpuNow() - started) / (ROUNDS * PIPELINE)
  if (written === 0) throw new Error('nothing answered')
  return ns
}

const tests = process.argv.slice(2).length > 0 ? process.argv.slice(2) : TESTS
for (const test of tests) {
  // Alternate and keep the best of each: the minimum is what the code costs when the machine
  // does not interfere (this runs on shared, noisy machines).
  let best = { engine: Number.POSITIVE_INFINITY, hand: Number.POSITIVE_INFINITY }
  for (let r = 0; r < Number(process.env.REPEAT ?? 10); r++) {
    best = { engine: Math.min(best.engine, engineRun(test)), hand: Math.min(best.hand, handRun(test)) }
  }
  console.log(
    `${test.padEnd(12)} per request, best of runs: ours ${best.engine.toFixed(0)} ns · hand-written ${best.hand.toFixed(0)} ns · ours ÷ hand ${(best.engine / best.hand).toFixed(2)}`,
  )
}
