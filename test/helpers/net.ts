/**
 * Real-socket fixtures: a server that attaches a Stream to each connection, on 127.0.0.1 or a
 * Unix path in the temp directory, and a client protocol that sends a request and collects lines.
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
  const accepted: Accepted[] = []
  const waiting: ((a: Accepted) => void)[] = []
  let taken = 0
  const server = net.createServer((socket) => {
    options.prepare?.(socket)
    const connection = { socket, stream: Stream.attach(socket, factory, options.seed as S, options) }
    accepted.push(connection)
    const resolve = waiting.shift()
    if (resolve !== undefined) {
      taken++
      resolve(connection)
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
  const address: Address = typeof bound === 'string' || bound === null ? { path: bound ?? '' } : { host: '127.0.0.1', port: bound.port }
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

/** Counts `write()` calls and 'data' events on one socket, and the largest `writableLength` seen after a write. */
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
