/**
 * The RESP server example without sockets: ns per request for redis-benchmark's four tests
 * (PING inline, PING multi-bulk, SET, GET; `-P 32`: 32 commands per read; SET and GET also on
 * 2,048 keys, `-r`), on the engine,
 * against the parse-and-execute loop of bench/resp/hand-server.ts fed the same reads.
 *
 *     node --conditions=source --import tsx bench/micro/resp-server.ts [test...]
 *
 * Times are CPU time (process.cpuUsage), not wall time: on a shared machine a descheduled run
 * would otherwise count time it did not run. Knobs: ROUNDS (reads per run, 20000), REPEAT (runs, best kept, 10).
 */

import { Keyspace } from '../../examples/redis/keyspace.js'
import { RESP_DEFAULTS, RespConnection } from '../../examples/redis/resp-server.js'
import { Engine } from '../../src/engine.js'
import type { Factory } from '../../src/protocol.js'

class NullEngine extends Engine {
  readonly remoteAddress = undefined
  readonly remotePort = undefined
  readonly localAddress = undefined
  readonly localPort = undefined
  written = 0
  clock(): number {
    return performance.now()
  }
  halfClose(): void {}
  protected ioWrite(data: Buffer): void {
    this.written += data.length
  }
  protected ioUnwritten(): number {
    return 0
  }
  protected ioSetReading(): void {}
  protected ioArmTimer(): void {}
  protected ioScheduleWakeup(): void {}
  protected ioFinish(): void {}
  protected ioDestroy(): void {}
  begin(factory: Factory): void {
    this.start(factory, undefined)
  }
  feed(chunk: Buffer): void {
    this.onData(chunk)
  }
}

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
  const keyspace = new Keyspace()
  const engine = new NullEngine()
  engine.begin(RespConnection.factory({ keyspace, limits: RESP_DEFAULTS }))
  for (const read of chunks(test.replace('get', 'set'))) engine.feed(read) // GET finds its keys
  const reads = chunks(test)
  const started = cpuNow()
  for (let i = 0; i < ROUNDS; i++) engine.feed(reads[i & 63] as Buffer)
  const ns = (cpuNow() - started) / (ROUNDS * PIPELINE)
  if (engine.written === 0 || engine.isEnded) throw new Error('nothing answered')
  return ns
}

// --- The hand-written server's loop, minus the socket (bench/resp/hand-server.ts) -------------

const CR = 0x0d
const LF = 0x0a
const PONG = Buffer.from('+PONG\r\n')
const OK = Buffer.from('+OK\r\n')
const NULL_BULK = Buffer.from('$-1\r\n')
const CRLF = Buffer.from('\r\n')
const data = new Map<string, Buffer>()

function readNumber(buf: Buffer, from: number, lf: number): number {
  if (buf[lf - 1] !== CR || lf - 1 <= from) return Number.NaN
  let n = 0
  for (let i = from; i < lf - 1; i++) {
    const d = (buf[i] as number) - 0x30
    if (d < 0 || d > 9) return Number.NaN
    n = n * 10 + d
  }
  return n
}

function isWord(arg: Buffer, word: string): boolean {
  if (arg.length !== word.length) return false
  for (let i = 0; i < word.length; i++) if (((arg[i] as number) & 0xdf) !== word.charCodeAt(i)) return false
  return true
}

function execute(args: Buffer[], replies: Buffer[]): void {
  const name = args[0] as Buffer
  if (isWord(name, 'GET') && args.length === 2) {
    const value = data.get((args[1] as Buffer).toString('latin1'))
    if (value === undefined) replies.push(NULL_BULK)
    else replies.push(Buffer.from(`$${value.length}\r\n`), value, CRLF)
  } else if (isWord(name, 'SET') && args.length === 3) {
    data.set((args[1] as Buffer).toString('latin1'), Buffer.from(args[2] as Buffer))
    replies.push(OK)
  } else if (isWord(name, 'PING') && args.length === 1) {
    replies.push(PONG)
  } else {
    replies.push(Buffer.from('-ERR unknown command\r\n'))
  }
}

function parseCommand(buf: Buffer, pos: number, replies: Buffer[]): number {
  const lf = buf.indexOf(LF, pos)
  if (lf < 0) return -1
  if (buf[pos] !== 0x2a) {
    const end = buf[lf - 1] === CR ? lf - 1 : lf
    const words = buf
      .toString('latin1', pos, end)
      .split(' ')
      .filter((w) => w.length > 0)
    if (words.length > 0)
      execute(
        words.map((w) => Buffer.from(w, 'latin1')),
        replies,
      )
    return lf + 1
  }
  const count = readNumber(buf, pos + 1, lf)
  if (!(count >= 0)) return -2
  const args: Buffer[] = new Array(count)
  let at = lf + 1
  for (let i = 0; i < count; i++) {
    const headerEnd = buf.indexOf(LF, at)
    if (headerEnd < 0) return -1
    const length = readNumber(buf, at + 1, headerEnd)
    const start = headerEnd + 1
    if (start + length + 2 > buf.length) return -1
    args[i] = buf.subarray(start, start + length)
    at = start + length + 2
  }
  if (count > 0) execute(args, replies)
  return at
}

/** The hand-written server's 'data' handler, minus the unparsed tail and the socket write. */
function handRead(buf: Buffer, replies: Buffer[]): void {
  let pos = 0
  while (pos < buf.length) {
    const next = parseCommand(buf, pos, replies)
    if (next < 0) break
    pos = next
  }
}

function handRun(test: string): number {
  data.clear()
  for (const read of chunks(test.replace('get', 'set'))) handRead(read, []) // GET finds its keys
  const reads = chunks(test)
  let written = 0
  const started = cpuNow()
  for (let i = 0; i < ROUNDS; i++) {
    const replies: Buffer[] = []
    handRead(reads[i & 63] as Buffer, replies)
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
