/**
 * The baseline of the RESP server scenario: a RESP2 server for PING, SET, GET (and the CONFIG GET
 * redis-benchmark sends at start-up) written by hand on node:net for speed: one buffer per
 * connection (only an unparsed tail is kept and joined with the next read), `indexOf` for line
 * ends, replies of one read collected and sent with one write. Keys are latin1 strings in a Map,
 * values are copied out of the read buffer, as the rotor-stream example does.
 * Prints `listening <port>`.   node hand-server.ts
 */
import net from 'node:net'

const CR = 0x0d
const LF = 0x0a
/** Largest bulk string accepted, bytes (Redis' proto-max-bulk-len default is 512 MiB; ours 8 MiB). */
const MAX_BULK = 8 * 1024 * 1024
/** Longest inline command or header line, bytes. */
const MAX_LINE = 64 * 1024
const PONG = Buffer.from('+PONG\r\n')
const OK = Buffer.from('+OK\r\n')
const NULL_BULK = Buffer.from('$-1\r\n')
const CRLF = Buffer.from('\r\n')
/** CONFIG GET answers redis-benchmark asks for at start-up. */
const CONFIG: Readonly<Record<string, string>> = { save: '', appendonly: 'no' }

const data = new Map<string, Buffer>()

/** Reads the decimal after a type byte at `from` up to the CR before `lf`; NaN if malformed. */
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

/** Is `arg` the upper-case ASCII word `word`, in any case? */
function isWord(arg: Buffer, word: string): boolean {
  if (arg.length !== word.length) return false
  for (let i = 0; i < word.length; i++) if (((arg[i] as number) & 0xdf) !== word.charCodeAt(i)) return false
  return true
}

function bulk(value: string): Buffer {
  return Buffer.from(`$${Buffer.byteLength(value)}\r\n${value}\r\n`)
}

/** Runs one command, pushing its reply pieces. */
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
  } else if (isWord(name, 'CONFIG') && args.length >= 3 && isWord(args[1] as Buffer, 'GET')) {
    const pairs: string[] = []
    for (const a of args.slice(2)) {
      const wanted = a.toString('latin1').toLowerCase()
      const value = CONFIG[wanted]
      if (value !== undefined) pairs.push(wanted, value)
    }
    replies.push(Buffer.from(`*${pairs.length}\r\n`), ...pairs.map(bulk))
  } else {
    replies.push(Buffer.from(`-ERR unknown command '${name.toString('latin1').slice(0, 64)}'\r\n`))
  }
}

/**
 * Parses one command at `pos`: pushes its reply and returns the position after it, -1 when the
 * command is not complete yet, or -2 on a protocol error.
 */
function parseCommand(buf: Buffer, pos: number, replies: Buffer[]): number {
  const lf = buf.indexOf(LF, pos)
  if (lf < 0) return buf.length - pos > MAX_LINE ? -2 : -1
  if (buf[pos] !== 0x2a) {
    // Inline command (redis-benchmark's PING_INLINE): words separated by spaces.
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
  if (!(count >= 0 && count <= 1024 * 1024)) return -2
  const args: Buffer[] = new Array(count)
  let at = lf + 1
  for (let i = 0; i < count; i++) {
    const headerEnd = buf.indexOf(LF, at)
    if (headerEnd < 0) return -1
    if (buf[at] !== 0x24) return -2
    const length = readNumber(buf, at + 1, headerEnd)
    if (!(length >= 0 && length <= MAX_BULK)) return -2
    const start = headerEnd + 1
    if (start + length + 2 > buf.length) return -1
    args[i] = buf.subarray(start, start + length)
    at = start + length + 2
  }
  if (count > 0) execute(args, replies)
  return at
}

function handle(socket: net.Socket): void {
  socket.setNoDelay(true)
  /** Bytes of an incomplete command from earlier reads, or null. */
  let pending: Buffer | null = null
  socket.on('data', (chunk: Buffer) => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk])
    const replies: Buffer[] = []
    let pos = 0
    while (pos < buf.length) {
      const next = parseCommand(buf, pos, replies)
      if (next === -2) {
        socket.end('-ERR Protocol error\r\n')
        return
      }
      if (next === -1) break
      pos = next
    }
    // Keep only the unparsed tail (a copy would be needed only if the chunk's memory were reused).
    pending = pos < buf.length ? buf.subarray(pos) : null
    if (replies.length === 1) socket.write(replies[0] as Buffer)
    else if (replies.length > 1) socket.write(Buffer.concat(replies))
  })
  socket.on('end', () => socket.end())
  socket.on('error', () => socket.destroy())
}

const server = net.createServer({ allowHalfOpen: true }, handle)
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
