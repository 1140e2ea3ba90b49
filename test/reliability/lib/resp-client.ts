/**
 * The RESP client's reply parser under every split, on real sockets: its protocol object is
 * private to examples/redis-client.ts, so a local server plays Redis and writes each generated
 * reply stream in the generated chunks, one chunk per client read (the next chunk is written
 * only once the client's socket received the previous one, so the kernel cannot merge them).
 * Every command must settle exactly as the model says.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import fc from 'fast-check'
import { RedisClient, type RedisReply, ReplyError } from '../../../examples/redis-client.js'
import { cutAt, encodeReply, type RespReply, respReply } from './inputs.js'
import type { ScenarioResult } from './metrics.js'
import type { PropertyOptions } from './splits.js'

/** What a command must settle with: a value, or a ReplyError with this message. */
type Settled = { ok: true; value: RedisReply } | { ok: false; message: string }

function expected(reply: RespReply): Settled {
  if (reply.kind === 'error') return { ok: false, message: reply.text }
  return { ok: true, value: model(reply) }
}

function model(reply: RespReply): RedisReply {
  switch (reply.kind) {
    case 'simple':
      return reply.text
    case 'error':
      return new ReplyError(reply.text) as unknown as RedisReply
    case 'integer':
      return Number(reply.text)
    case 'bulk':
      return reply.bytes
    case 'array':
      return reply.items === null ? null : reply.items.map(model)
  }
}

/** A one-connection fake Redis that counts the commands it receives and writes what it is told. */
class FakeRedis {
  readonly server: net.Server
  socket: net.Socket | null = null
  /** Commands received (each starts with `*2\r\n`: the client sends `X <n>`). */
  commands = 0
  #pending = ''
  #waiter: { count: number; resolve: () => void } | null = null
  #connected: Promise<net.Socket>

  constructor() {
    let resolve!: (s: net.Socket) => void
    this.#connected = new Promise((r) => {
      resolve = r
    })
    this.server = net.createServer((socket) => {
      this.socket = socket
      socket.setNoDelay(true)
      socket.on('data', (chunk: Buffer) => {
        // Each command is `*2\r\n$1\r\nX\r\n$<k>\r\n<n>\r\n`; count the array headers.
        const text = this.#pending + chunk.toString('latin1')
        const parts = text.split('*2\r\n')
        this.commands += parts.length - 1
        this.#pending = parts.at(-1)?.slice(-3) ?? ''
        if (this.#waiter !== null && this.commands >= this.#waiter.count) {
          const w = this.#waiter
          this.#waiter = null
          w.resolve()
        }
      })
      socket.on('error', () => {})
      resolve(socket)
    })
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return (this.server.address() as net.AddressInfo).port
  }

  connected(): Promise<net.Socket> {
    return this.#connected
  }

  received(count: number): Promise<void> {
    if (this.commands >= count) return Promise.resolve()
    return new Promise((resolve) => {
      this.#waiter = { count, resolve }
    })
  }

  async close(): Promise<void> {
    this.socket?.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** Counts bytes arriving on the client's socket, so that the server can write one chunk per read. */
class Arrivals {
  bytes = 0
  #waiter: { target: number; resolve: () => void } | null = null

  constructor(socket: net.Socket) {
    socket.prependListener('data', (chunk: Buffer) => {
      this.bytes += chunk.length
      if (this.#waiter !== null && this.bytes >= this.#waiter.target) {
        const w = this.#waiter
        this.#waiter = null
        w.resolve()
      }
    })
  }

  reach(target: number): Promise<void> {
    if (this.bytes >= target) return Promise.resolve()
    return new Promise((resolve) => {
      this.#waiter = { target, resolve }
    })
  }
}

type Outcome = Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>

/** Property: whatever the chunks, each command settles with its reply (or its ReplyError). */
export async function respClientSplits(options: PropertyOptions): Promise<Outcome> {
  const fake = new FakeRedis()
  const port = await fake.listen()
  const client = new RedisClient({ host: '127.0.0.1', port }, { returnBuffers: true, reconnect: () => null })
  let issued = 0
  let chunksWritten = 0
  let arrivals: Arrivals | null = null
  const disconnects: unknown[] = []
  client.connection.on('disconnect', (reason) => disconnects.push(reason))
  try {
    const property = fc.asyncProperty(
      fc.array(respReply, { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 24 }),
      async (replies, cuts) => {
        // Issued in one tick: they leave in one write, before any reply can arrive.
        const settled = replies.map((_, i) =>
          client.command('X', issued + i).then(
            (value): Settled => ({ ok: true, value }),
            (err: unknown): Settled => ({ ok: false, message: err instanceof ReplyError ? err.message : `not a ReplyError: ${String(err)}` }),
          ),
        )
        issued += replies.length
        const socket = await fake.connected()
        await fake.received(issued)
        if (arrivals === null) {
          const stream = client.connection.stream
          assert.ok(stream !== null, 'the client is connected')
          arrivals = new Arrivals(stream.socket)
        }
        for (const chunk of cutAt(Buffer.concat(replies.map(encodeReply)), cuts)) {
          socket.write(chunk)
          chunksWritten++
          await arrivals.reach(arrivals.bytes + chunk.length)
        }
        assert.deepEqual(await Promise.all(settled), replies.map(expected))
        assert.deepEqual(disconnects, [], 'the connection stayed up')
      },
    )
    const details = await fc.check(property, { numRuns: options.numRuns, seed: options.seed ?? 20260601, endOnFailure: true })
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
    return {
      name: 'splits: RESP client (sockets)',
      unit: 'reply streams',
      cases: details.numRuns,
      faults: 0,
      errors: details.failed ? 1 : 0,
      bytesLost: 0,
      notes: `${issued} commands, ${chunksWritten} chunks`,
      samples: details.failed ? [`${fc.defaultReportMessage(details) ?? 'failed'}\n${why.slice(0, 3000)}`] : [],
    }
  } finally {
    await client.close()
    await fake.close()
  }
}
