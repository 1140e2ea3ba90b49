/**
 * The async/await API without sockets: ns per line for bench/line-echo/server.ts's ASYNC_ECHO
 * (`await conn.readUntil`, two `conn.write`s) on the engine, next to the state-machine line echo
 * driven the same way. Each round feeds WINDOW lines in one "read" and waits (setImmediate)
 * until every reply was written, as a socket would: the microtasks, the wakeups and the
 * setImmediate flush of the async path are all counted. Also counts reading on/off switches per
 * round (each is a socket pause()/resume() on a real stream).
 *
 *     node --conditions=rotor-stream-source --import tsx bench/micro/async.ts
 *
 * On a noisy machine the ratio to the state machine (same process, same rounds) is steadier than
 * either time.
 * Times are CPU time (process.cpuUsage). Knobs: ROUNDS (reads per run, 20000), REPEAT (runs,
 * best kept, 7), WINDOW (lines per read, 32).
 */

import { LineEcho } from '../../examples/line-echo.js'
import { type Connection, handleAsync } from '../../src/async/index.js'
import type { Factory } from '../../src/protocol.js'
import { NullEngine } from './null-engine.js'

const LF = Buffer.from('\n')
/** bench/line-echo/server.ts's ASYNC_ECHO, as a user writes it. */
const ASYNC_ECHO = handleAsync(async (conn: Connection) => {
  for (;;) {
    let line: Buffer
    try {
      line = await conn.readUntil(LF, { max: 64 * 1024 })
    } catch (err) {
      if (process.env.DEBUG) console.error(err)
      return
    }
    conn.write(line)
    conn.write(LF)
  }
})

const LINE = '0123456789abcdef0123456789abcde\n'
const WINDOW = Number(process.env.WINDOW ?? 32)
const ROUNDS = Number(process.env.ROUNDS ?? 20_000)
const CHUNK = Buffer.from(LINE.repeat(WINDOW))

/** CPU time of this process in ns. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1000
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function run(factory: Factory): Promise<{ ns: number; switches: number }> {
  const engine = new NullEngine({ microtaskWakeups: true })
  engine.begin(factory)
  await turn()
  const started = cpuNow()
  for (let i = 0; i < ROUNDS; i++) {
    const expected = engine.written + CHUNK.length
    engine.feed(Buffer.from(CHUNK)) // a fresh chunk per read, as from a socket
    for (let turns = 0; engine.written < expected; turns++) {
      if (turns > 1000) throw new Error(`round ${i}: ${engine.written} of ${expected} bytes written (ended: ${engine.isEnded})`)
      await turn()
    }
  }
  const ns = (cpuNow() - started) / (ROUNDS * WINDOW)
  return { ns, switches: engine.readingSwitches / ROUNDS }
}

const best = { async: Number.POSITIVE_INFINITY, machine: Number.POSITIVE_INFINITY }
let switches = 0
for (let r = 0; r < Number(process.env.REPEAT ?? 7); r++) {
  const a = await run(ASYNC_ECHO)
  best.async = Math.min(best.async, a.ns)
  switches = a.switches
  best.machine = Math.min(best.machine, (await run(LineEcho.create)).ns)
}
console.log(
  `window ${WINDOW}: async ${best.async.toFixed(0)} ns/line · state machine ${best.machine.toFixed(0)} ns/line · ratio ${(best.machine / best.async).toFixed(2)} · reading switches per read (async) ${switches.toFixed(2)}`,
)
