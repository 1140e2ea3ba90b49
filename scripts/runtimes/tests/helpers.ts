/**
 * Fixtures of the portable suite: small protocols, a raw `net` server running a Stream per
 * connection, a collecting client, Unix paths, peers (redis-cli) and the TLS material that
 * run.ts made with openssl (RS_CERTS). Only Node APIs that Bun and Deno provide.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  type Address,
  connect,
  type Exception,
  type Factory,
  Intent,
  type Protocol,
  Stream,
  type StreamOptions,
  type TlsClientOptions,
  type Transport,
} from 'rotor-stream'

/** `n` numbered lines, each LF-terminated. */
export function numbered(n: number, prefix = 'line'): string {
  return Array.from({ length: n }, (_, i) => `${prefix} ${i}\n`).join('')
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` every 10 ms until it is true; rejects after `ms` with `what`. */
export async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`waited ${ms} ms for ${what}`)
    await sleep(10)
  }
}

let unixCount = 0

/** A unique Unix socket path in the temp directory. */
export function unixPath(): string {
  return path.join(os.tmpdir(), `rs-rt-${process.pid}-${++unixCount}.sock`)
}

/** Options of {@link Lines}: `max` of each line, relative `timeout` of each read, the reply, `expectFlush(flush)` after each reply. */
export interface LinesOptions {
  max?: number
  timeout?: number
  reply?: (line: string) => string | undefined
  flush?: number
}

/**
 * Reads delimited lines and echoes each (or `reply(line)`); records exceptions and fatal
 * reasons. On end of stream it answers `eof <buffered>` and is done.
 */
export class Lines implements Protocol {
  readonly lines: string[] = []
  readonly exceptions: Exception[] = []
  readonly fatals: Error[] = []
  timeouts = 0

  readonly options: LinesOptions

  constructor(options: LinesOptions = {}) {
    this.options = options
  }

  get factory(): Factory {
    return () => this.read()
  }

  read(): Intent<Lines> {
    const intent = Intent.of(this).expectDelimiter('\n', { max: this.options.max ?? 1024 })
    return this.options.timeout === undefined ? intent : intent.timeout(this.options.timeout)
  }

  bytesRead(t: Transport, end: number): Intent<Lines> {
    const line = t.input.toString('latin1', 0, end)
    t.input.consume(end + 1)
    this.lines.push(line)
    const reply = this.options.reply === undefined ? `${line}\n` : this.options.reply(line)
    if (reply !== undefined) t.output.write(reply, 'latin1')
    return this.options.flush === undefined ? this.read() : Intent.of(this).expectFlush(this.options.flush)
  }

  bytesFlushed(): Intent<Lines> {
    return this.read()
  }

  exception(t: Transport, reason: Exception): Intent<Lines> {
    this.exceptions.push(reason)
    if (reason.code === 'RS_ERR_LIMIT_REACHED') {
      t.output.write('ERR too long\n')
      return Intent.done()
    }
    if (reason.code !== 'RS_ERR_END_OF_STREAM') return Intent.error(reason)
    t.output.write(`eof ${t.input.toString('latin1')}\n`)
    return Intent.done()
  }

  timeout(t: Transport): Intent<Lines> {
    this.timeouts++
    t.output.write('idle\n')
    return Intent.done()
  }

  fatal(reason: Error): void {
    this.fatals.push(reason)
  }
}

/** A client protocol: sends `request` (and half-closes if asked), then collects lines until the peer closes. */
export class Collect implements Protocol {
  readonly lines: string[] = []
  readonly exceptions: Exception[] = []
  readonly fatals: Error[] = []
  rest = ''

  static factory(request: string | Buffer, halfClose = false): { client: Collect; factory: Factory } {
    const client = new Collect()
    const factory: Factory = (t) => {
      t.output.write(request)
      if (halfClose) t.halfClose()
      return client.read()
    }
    return { client, factory }
  }

  read(): Intent<Collect> {
    return Intent.of(this).expectDelimiter('\n', { max: 1 << 20 })
  }

  bytesRead(t: Transport, end: number): Intent<Collect> {
    this.lines.push(t.input.toString('utf8', 0, end))
    t.input.consume(end + 1)
    return this.read()
  }

  exception(t: Transport, reason: Exception): Intent<Collect> {
    this.exceptions.push(reason)
    this.rest = t.input.toString()
    return reason.code === 'RS_ERR_END_OF_STREAM' ? Intent.done() : Intent.error(reason)
  }

  fatal(reason: Error): void {
    this.fatals.push(reason)
  }
}

/** A raw `net` server (no `serve()`) attaching a Stream to each accepted socket. */
export interface TestServer {
  readonly address: Address
  readonly streams: Stream[]
  readonly sockets: net.Socket[]
  /** The next accepted stream (or one accepted and not taken yet). */
  next(): Promise<Stream>
  close(): Promise<void>
}

export async function listen(
  kind: 'tcp' | 'unix',
  factory: Factory,
  options: StreamOptions & { prepare?: (socket: net.Socket) => void } = {},
): Promise<TestServer> {
  const { prepare, ...streamOptions } = options
  const streams: Stream[] = []
  const sockets: net.Socket[] = []
  const waiting: ((s: Stream) => void)[] = []
  let taken = 0
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket)
    prepare?.(socket)
    const stream = Stream.attach(socket, factory, undefined, streamOptions)
    streams.push(stream)
    const resolve = waiting.shift()
    if (resolve !== undefined) {
      taken++
      resolve(stream)
    }
  })
  const where = kind === 'tcp' ? { host: '127.0.0.1', port: 0 } : { path: unixPath() }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(where, () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
  const bound = server.address()
  const address: Address = typeof bound === 'string' || bound === null ? { path: (where as { path: string }).path } : { host: '127.0.0.1', port: bound.port }
  return {
    address,
    streams,
    sockets,
    next() {
      const ready = streams[taken]
      if (ready !== undefined) {
        taken++
        return Promise.resolve(ready)
      }
      return new Promise((resolve) => waiting.push(resolve))
    },
    async close() {
      for (const stream of streams) stream.close()
      await Promise.all(streams.map((s) => s.closed))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A raw socket to `address`, connected. */
export function rawConnect(address: Address): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in address ? net.connect({ path: address.path }) : net.connect(address)
    socket.once('connect', () => {
      socket.removeListener('error', reject)
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

/** Everything a raw socket receives until the peer closes (or `ms` pass: rejects). */
export function readAll(socket: net.Socket, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const timer = setTimeout(
      () => reject(new Error(`no close within ${ms} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 200))}`)),
      ms,
    )
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => {})
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks))
    })
    socket.resume()
  })
}

/** Resolves when `socket` emits 'close' (at once if it is already closed); what arrives meanwhile is dropped. */
export function closed(socket: net.Socket, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed && socket.closed) return resolve()
    socket.resume() // unread data would hold back 'end', and so 'close'
    const timer = setTimeout(() => reject(new Error(`socket not closed within ${ms} ms`)), ms)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** Counts `write()` calls on one socket. */
export function countWrites(socket: net.Socket): { writes: number } {
  const counts = { writes: 0 }
  const write = socket.write
  socket.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>): boolean {
    counts.writes++
    return Reflect.apply(write, this, args) as boolean
  } as net.Socket['write']
  return counts
}

/** Runs a command to completion; resolves with stdout. */
export function exec(command: string, args: string[], options: { timeout?: number; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: options.timeout ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { message: `${command} ${args.join(' ')}: ${err.message}\n${stderr}` }))
      else resolve(String(stdout))
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}

/** The TLS material run.ts generated (PEM files in RS_CERTS). */
export interface Certs {
  ca: Buffer
  server: { key: Buffer; cert: Buffer }
  client: { key: Buffer; cert: Buffer }
  selfSigned: { key: Buffer; cert: Buffer }
}

let certs: Certs | undefined

export function loadCerts(): Certs {
  if (certs !== undefined) return certs
  const dir = process.env.RS_CERTS
  if (dir === undefined) throw new Error('RS_CERTS is not set: run through scripts/runtimes/run.ts')
  const read = (name: string): Buffer => readFileSync(path.join(dir, name))
  certs = {
    ca: read('ca.crt'),
    server: { key: read('server.key'), cert: read('server.crt') },
    client: { key: read('client.key'), cert: read('client.crt') },
    selfSigned: { key: read('self.key'), cert: read('self.crt') },
  }
  return certs
}

/**
 * Sends `lines` and QUIT to a LineEcho server with connect() (TLS with `options.tls`); resolves
 * with the echoed lines once the server closed, rejects with the stream's error.
 */
export async function exchange(address: Address, lines: string[], options: { tls?: TlsClientOptions; connectTimeout?: number } = {}): Promise<string[]> {
  const { client, factory } = Collect.factory(`${lines.map((l) => `${l}\n`).join('')}QUIT\n`)
  const stream = await connect(address, factory, options)
  const reason = await stream.closed
  if (reason !== undefined) throw reason
  if (client.lines.at(-1) !== 'BYE') throw new Error(`no BYE: ${JSON.stringify(client.lines)}`)
  return client.lines.slice(0, -1)
}

/** The command that runs a JavaScript file with the runtime running this code (Deno needs `run -A`). */
export function selfCommand(script: string, args: string[] = []): [string, string[]] {
  const deno = (globalThis as { Deno?: unknown }).Deno !== undefined
  return [process.execPath, [...(deno ? ['run', '-A', '--quiet'] : []), script, ...args]]
}

/** On request, writes `total` bytes in chunks, each once the output is flushed down to `chunk` bytes; records the most bytes the socket held unwritten. */
export class Flood implements Protocol {
  produced = 0
  maxUnwritten = 0
  readonly total: number
  readonly chunk: number
  constructor(total: number, chunk: number) {
    this.total = total
    this.chunk = chunk
  }
  bytesRead(t: Transport, end: number): Intent<Flood> {
    t.input.consume(end + 1)
    return this.more(t)
  }
  bytesFlushed(t: Transport): Intent<Flood> {
    return this.more(t)
  }
  more(t: Transport): Intent<Flood> | Intent<never> {
    if (t instanceof Stream) this.maxUnwritten = Math.max(this.maxUnwritten, t.socket.writableLength)
    if (this.produced >= this.total) return Intent.done()
    t.output.write(Buffer.alloc(this.chunk, 'f'))
    this.produced += this.chunk
    return Intent.of(this).expectFlush(this.chunk)
  }
}
