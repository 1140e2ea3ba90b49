/**
 * Real-socket fixtures: a server that attaches a Stream to each connection, on 127.0.0.1 or a
 * Unix path in the temp directory, a client protocol that sends a request and collects lines, and
 * raw `node:net` sockets to poke a server with.
 *
 * Shared by `test/` (through tsx, `rotor-stream` resolved to src) and the portable suite
 * (scripts/runtimes, compiled, `rotor-stream` resolved to the installed package): only Node APIs
 * that Bun and Deno provide, and only the package's public API.
 */
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { type Address, type Exception, type Factory, Intent, type Protocol, Stream, type StreamOptions, type Transport } from 'rotor-stream'

/** One accepted connection: the server-side socket and the Stream attached to it. */
export interface Accepted {
  readonly socket: net.Socket
  readonly stream: Stream
}

/** A listening server whose connections each run `factory`. */
export interface TestServer {
  readonly server: net.Server
  readonly address: Address
  /** Every connection accepted so far. */
  readonly accepted: Accepted[]
  /** Resolves with the next accepted connection (or one already accepted and not yet taken). */
  next(): Promise<Accepted>
  /** Ends every stream still running, then closes the server. */
  close(): Promise<void>
}

let unixCount = 0

/** A unique Unix socket path in the temp directory. */
export function unixPath(): string {
  return path.join(os.tmpdir(), `rotor-stream-test-${process.pid}-${++unixCount}.sock`)
}

/**
 * Listens on `127.0.0.1:0` (`'tcp'`) or a fresh Unix path (`'unix'`). `prepare` runs on each
 * accepted socket before the Stream is attached (to instrument it).
 */
export async function listen<S>(
  kind: 'tcp' | 'unix',
  factory: Factory<S>,
  options: StreamOptions & { seed?: S; prepare?: (socket: net.Socket) => void } = {},
): Promise<TestServer> {
  const { seed, prepare, ...streamOptions } = options
  const accepted: Accepted[] = []
  const waiting: ((a: Accepted) => void)[] = []
  let taken = 0
  // Stream.attach turns allowHalfOpen on; Bun and Deno only honour it when the server is made with it.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    prepare?.(socket)
    const connection = { socket, stream: Stream.attach(socket, factory, seed as S, streamOptions) }
    accepted.push(connection)
    const resolve = waiting.shift()
    if (resolve !== undefined) {
      taken++
      resolve(connection)
    }
  })
  const unix = kind === 'unix' ? unixPath() : undefined
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(unix === undefined ? { host: '127.0.0.1', port: 0 } : { path: unix }, () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
  const address: Address = unix === undefined ? { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port } : { path: unix }
  return {
    server,
    address,
    accepted,
    next() {
      const ready = accepted[taken]
      if (ready !== undefined) {
        taken++
        return Promise.resolve(ready)
      }
      return new Promise((resolve) => waiting.push(resolve))
    },
    async close() {
      for (const { stream } of accepted) if (!stream.socket.destroyed) stream.close()
      await Promise.all(accepted.map(({ stream }) => stream.closed))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Options of {@link Collect}. */
export interface CollectOptions {
  /** Sent as soon as the connection is up. */
  request: string | Buffer
  /** Half-close after sending the request. @default false */
  halfClose?: boolean
}

/**
 * A client protocol: sends `request`, then collects LF-terminated lines until the peer
 * closes; records the exception that ended it.
 */
export class Collect implements Protocol {
  readonly lines: string[] = []
  readonly exceptions: Exception[] = []
  readonly fatals: Error[] = []
  /** Bytes left unterminated at the end of stream. */
  rest = ''

  static factory(options: CollectOptions): { client: Collect; factory: Factory } {
    const client = new Collect()
    const factory: Factory = (t) => {
      t.output.write(options.request)
      if (options.halfClose) t.halfClose()
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

/**
 * Counts `write()` calls and 'data' events on one socket, and the largest `writableLength` seen
 * after a write. Call it before the Stream is attached (`listen`'s `prepare`).
 */
export function countIo(socket: net.Socket): { writes: number; reads: number; maxWritable: number } {
  const counts = { writes: 0, reads: 0, maxWritable: 0 }
  const write = socket.write
  socket.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>): boolean {
    counts.writes++
    const ok = Reflect.apply(write, this, args) as boolean
    counts.maxWritable = Math.max(counts.maxWritable, this.writableLength)
    return ok
  } as net.Socket['write']
  socket.prependListener('data', () => {
    counts.reads++
  })
  return counts
}

/** A TCP port on 127.0.0.1 that nobody listens on now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
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

/** Everything a raw socket receives until the peer closes (rejects after `ms`, with what came). */
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

/** A mute TCP server on 127.0.0.1: accepts and never says a word (a TLS client waits forever for its ServerHello). */
export interface SilentServer {
  readonly port: number
  /** Every socket accepted so far. */
  readonly accepted: net.Socket[]
  /** Destroys the accepted sockets and closes the server. */
  close(): Promise<void>
}

export async function silentServer(): Promise<SilentServer> {
  const accepted: net.Socket[] = []
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.resume() // read (and drop) what comes (a ClientHello), so that the client's hang-up is seen
    accepted.push(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted,
    async close() {
      for (const socket of accepted) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
