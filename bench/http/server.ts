/**
 * The baselines of the HTTP scenario, one process each: `node-http` (node:http as the docs show
 * it) or `hand` (a minimal keep-alive responder on node:net written for speed: one buffer per
 * connection, `indexOf` for the end of each head, all answers of one read in one write, so
 * pipelined requests are answered in order; it assumes requests without bodies, as wrk sends). Same status, headers and body.
 * Prints `listening <port>`.   node server.ts <node-http|hand>
 */
import http from 'node:http'
import net from 'node:net'

const kind = process.argv[2] ?? 'node-http'
const BODY = 'Hello, world!\n'
const HEAD_END = Buffer.from('\r\n\r\n')
/** Longest request head accepted, bytes; node:http's default is 16 KiB too. */
const MAX_HEAD = 16 * 1024
const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`)

/** `n` answers back to back; made once for up to 64 (pipelined reads repeat the same few counts). */
const RESPONSES: Buffer[] = [Buffer.alloc(0), RESPONSE]
function responses(n: number): Buffer {
  const made = RESPONSES[n] ?? Buffer.concat(Array.from({ length: n }, () => RESPONSE))
  if (n <= 64) RESPONSES[n] = made
  return made
}

function handWritten(socket: net.Socket): void {
  socket.setNoDelay(true)
  let pending: Buffer | null = null
  socket.on('data', (chunk: Buffer) => {
    const data = pending === null ? chunk : Buffer.concat([pending, chunk])
    let start = 0
    let answers = 0
    for (let end = data.indexOf(HEAD_END, start); end >= 0; end = data.indexOf(HEAD_END, start)) {
      answers++
      start = end + HEAD_END.length
    }
    pending = start < data.length ? data.subarray(start) : null
    if (pending !== null && pending.length > MAX_HEAD) return void socket.destroy()
    if (answers > 0) socket.write(responses(answers))
  })
  socket.on('end', () => socket.end())
  socket.on('error', () => socket.destroy())
}

const server =
  kind === 'hand'
    ? net.createServer(handWritten)
    : http.createServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(BODY) })
        res.end(BODY)
      })
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
