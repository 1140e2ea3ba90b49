/**
 * Line-echo servers for the benchmark, one process each: `rotor` (examples/line-echo.ts on
 * Stream.attach), `hand` (hand-written node:net code written for speed, same semantics), or
 * `readline` / `split2` (the stream APIs as users write them: one write per reply).
 * Prints `listening <port>` once ready.
 */
import net from 'node:net'
import { createInterface } from 'node:readline'
import { type Connection, handleAsync, Stream } from 'rotor-stream'
import split2 from 'split2'
import { LineEcho } from '../../examples/line-echo.js'

const kind = process.argv[2] ?? 'rotor'
const MAX_LINE = 64 * 1024

/** What a performance-minded Node developer writes by hand: one buffer, indexOf, one write per read. */
function handWritten(socket: net.Socket): void {
  socket.setNoDelay(true)
  let pending: Buffer | null = null
  socket.on('data', (chunk: Buffer) => {
    const data = pending === null ? chunk : Buffer.concat([pending, chunk])
    let start = 0
    let end = data.indexOf(0x0a, start)
    // Each line's reply is built on its own, as a real protocol's would be, and all replies
    // of one read leave in one write.
    const replies: Buffer[] = []
    while (end >= 0) {
      if (end - start > MAX_LINE) return void socket.destroy()
      replies.push(data.subarray(start, end + 1))
      start = end + 1
      end = data.indexOf(0x0a, start)
    }
    pending = start < data.length ? data.subarray(start) : null
    if (pending !== null && pending.length > MAX_LINE) socket.destroy()
    if (replies.length === 1) socket.write(replies[0] as Buffer)
    else if (replies.length > 1) socket.write(Buffer.concat(replies))
  })
  socket.on('end', () => socket.end())
  socket.on('error', () => socket.destroy())
}

/** The tutorial way with `node:readline`: a line event, a write. */
function withReadline(socket: net.Socket): void {
  socket.setNoDelay(true)
  const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY })
  lines.on('line', (line) => socket.write(`${line}\n`))
  lines.on('close', () => socket.end())
  socket.on('error', () => socket.destroy())
}

/** The same with the `split2` transform, the usual npm answer to "read a socket by lines". */
function withSplit2(socket: net.Socket): void {
  socket.setNoDelay(true)
  const lines = socket.pipe(split2({ maxLength: MAX_LINE }))
  lines.on('data', (line: string) => socket.write(`${line}\n`))
  lines.on('end', () => socket.end())
  lines.on('error', () => socket.destroy())
  socket.on('error', () => socket.destroy())
}

/** The async/await API as a user writes it: read a line, write it back, until the peer leaves. */
const ASYNC_ECHO = handleAsync(async (conn: Connection) => {
  for (;;) {
    let line: Buffer
    try {
      line = await conn.readUntil(LF, { max: 64 * 1024 })
    } catch {
      return // end of stream or too long: end() follows
    }
    conn.write(line)
    conn.write(LF)
  }
})
const LF = Buffer.from('\n')

const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  if (kind === 'hand') handWritten(socket)
  else if (kind === 'readline') withReadline(socket)
  else if (kind === 'split2') withSplit2(socket)
  else if (kind === 'async') Stream.attach(socket, ASYNC_ECHO)
  else Stream.attach(socket, LineEcho.create)
})
let cpuAtStart = process.cpuUsage()
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as net.AddressInfo
  cpuAtStart = process.cpuUsage()
  process.stdout.write(`listening ${address.port}\n`)
})
// After the warm-up run the runner sends SIGUSR2: the CPU count starts over, so that JIT
// compilation of the code under test is not billed to the measured requests.
process.on('SIGUSR1', () => {
  const cpu = process.cpuUsage(cpuAtStart)
  process.stdout.write(`cpu ${cpu.user + cpu.system}\n`)
})
process.on('SIGUSR2', () => {
  cpuAtStart = process.cpuUsage()
  process.stdout.write('reset\n')
})
// The CPU time the server spent serving (µs), so the runner can report cost per request even
// when the load generator, not the server, limits throughput.
process.on('SIGTERM', () => {
  const cpu = process.cpuUsage(cpuAtStart)
  process.stdout.write(`cpu ${cpu.user + cpu.system}\n`, () => process.exit(0))
})
