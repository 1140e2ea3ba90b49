/**
 * The RESP server example without sockets: ns per request for redis-benchmark's four tests
 * (PING inline, PING multi-bulk, SET, GET; `-P 32`: 32 commands per read), on the engine,
 * against the parse-and-execute loop of bench/resp/hand-server.ts fed the same reads.
 *
 *     node --conditions=source --import tsx bench/micro/resp-server.ts [test...]
 *
 * Knobs: ROUNDS (reads per run, 20000), REPEAT (runs, best kept, 10).
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

/** What redis-benchmark sends for each test (default key, 3-byte value). */
const REQUESTS: Readonly<Record<string, string>> = {
  ping_inline: 'PING\r\n',
  ping_mbulk: '*1\r\n$4\r\nPING\r\n',
  set: '*3\r\n$3\r\nSET\r\n$16\r\nkey:__rand_int__\r\n$3\r\nxxx\r\n',
  get: '*2\r\n$3\r\nGET\r\n$16\r\nkey:__rand_int__\r\n',
}
const PIPELINE = 32
const ROUNDS = Number(process.env.ROUNDS ?? 20_000)

/** Fresh chunks, as the socket gives them: the engine adopts each one as its input storage. */
function chunks(request: string): Buffer[] {
  const bytes = Buffer.from(request.repeat(PIPELINE))
  return Array.from({ length: 64 }, () => Buffer.from(bytes))
}

function engineRun(request: string): number {
  const keyspace = new Keyspace()
  const engine = new NullEngine()
  engine.begin(RespConnection.factory({ keyspace, limits: RESP_DEFAULTS }))
  engine.feed(Buffer.from(REQUESTS.set as string)) // GET finds its key
  const reads = chunks(request)
  const started = process.hrtime.bigint()
  for (let i = 0; i < ROUNDS; i++) engine.feed(reads[i & 63] as Buffer)
  const ns = Number(process.hrtime.bigint() - started) / (ROUNDS * PIPELINE)
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

function handRun(request: string): number {
  data.set('key:__rand_int__', Buffer.from('xxx'))
  const reads = chunks(request)
  let written = 0
  const started = process.hrtime.bigint()
  for (let i = 0; i < ROUNDS; i++) {
    const buf = reads[i & 63] as Buffer
    const replies: Buffer[] = []
    let pos = 0
    while (pos < buf.length) {
      const next = parseCommand(buf, pos, replies)
      if (next < 0) break
      pos = next
    }
    written += Buffer.concat(replies).length
  }
  const ns = Number(process.hrtime.bigint() - started) / (ROUNDS * PIPELINE)
  if (written === 0) throw new Error('nothing answered')
  return ns
}

const tests = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(REQUESTS)
for (const test of tests) {
  const request = REQUESTS[test]
  if (request === undefined) throw new Error(`unknown test ${test}`)
  // Alternate and keep the best of each: the minimum is what the code costs when the machine
  // does not interfere (this runs on shared, noisy machines).
  let best = { engine: Number.POSITIVE_INFINITY, hand: Number.POSITIVE_INFINITY }
  for (let r = 0; r < Number(process.env.REPEAT ?? 10); r++) {
    best = { engine: Math.min(best.engine, engineRun(request)), hand: Math.min(best.hand, handRun(request)) }
  }
  console.log(
    `${test.padEnd(12)} per request, best of runs: ours ${best.engine.toFixed(0)} ns · hand-written ${best.hand.toFixed(0)} ns · ours ÷ hand ${(best.engine / best.hand).toFixed(2)}`,
  )
}
