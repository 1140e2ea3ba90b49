/**
 * Connection faults on real sockets, each repeated many times: a half-close, a reset in the
 * middle of a read and in the middle of a write, a peer that closes (or resets) before the
 * answer. No crash, the right exception reaches the protocol, and every stream and socket is
 * gone afterwards.
 */
import diagnostics from 'node:diagnostics_channel'
import { type Exception, Intent, type Protocol, type Server, type ServerAcceptMessage, Stream, serve, type Transport } from 'rotor-stream'
import { Problems, type ScenarioResult } from './metrics.js'
import { RawPeer } from './raw.js'

type Outcome = Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>

const LF = Buffer.from('\n')
/** How long `slow` makes the answer wait, ms: long enough for the peer to be gone. */
const SLOW_ANSWER = 20

/**
 * The server side: `big <n>` is answered with n bytes (flushed before the next read), `slow`
 * after SLOW_ANSWER ms (sleeping, so not reading meanwhile), anything else with `ok`; end of
 * stream is answered with the unfinished line. Records every exception and fatal reason.
 */
class Faulty implements Protocol {
  readonly exceptions: Exception[] = []
  readonly fatals: Error[] = []
  phase: 'line' | 'slow' | 'flush' = 'line'

  read(): Intent<Faulty> {
    this.phase = 'line'
    return Intent.of(this).expectDelimiter(LF, { max: 1024 }).timeout(10_000)
  }

  bytesRead(t: Transport, end: number): Intent<Faulty> {
    const line = t.input.toString('latin1', 0, end)
    t.input.consume(end + 1)
    if (line.startsWith('big ')) {
      t.output.write(Buffer.alloc(Number(line.slice(4)), 0x62))
      this.phase = 'flush'
      return Intent.of(this).expectFlush().timeout(10_000)
    }
    if (line === 'slow') {
      this.phase = 'slow'
      return Intent.of(this).sleep().timeout(SLOW_ANSWER)
    }
    t.output.write('ok\n')
    return this.read()
  }

  bytesFlushed(): Intent<Faulty> {
    return this.read()
  }

  timeout(t: Transport): Intent<Faulty> {
    if (this.phase !== 'slow') return Intent.done()
    t.output.write('late answer\n')
    return this.read()
  }

  exception(t: Transport, reason: Exception): Intent<Faulty> {
    this.exceptions.push(reason)
    if (reason.code !== 'RS_ERR_END_OF_STREAM') return Intent.error(reason)
    t.output.write(`eof ${t.input.toString('latin1')}\n`)
    return Intent.done()
  }

  fatal(reason: Error): void {
    this.fatals.push(reason)
  }
}

/** One fault: what the client does, and what the server's protocol must have seen. */
interface Fault {
  readonly name: string
  run(peer: RawPeer): Promise<void>
  /** Returns what is wrong with what the protocol saw (null if right). */
  judge(protocol: Faulty, reason: Error | undefined, peer: RawPeer): string | null
}

/** The `code` of an error, and of its cause. */
function codes(err: Error | undefined): string {
  if (err === undefined) return 'clean'
  const cause = (err as { cause?: { code?: string } }).cause?.code
  return `${(err as { code?: string }).code}${cause === undefined ? '' : `/${cause}`}`
}

const RESETS = new Set(['RS_ERR_READ/ECONNRESET', 'RS_ERR_WRITE/ECONNRESET', 'RS_ERR_WRITE/EPIPE', 'RS_ERR_READ/EPIPE'])

const FAULTS: readonly Fault[] = [
  {
    name: 'half-close after a partial line',
    async run(peer) {
      peer.socket.end('hello\npartial')
      await peer.closed
    },
    judge(p, reason, peer) {
      if (p.exceptions.map((e) => e.code).join() !== 'RS_ERR_END_OF_STREAM') return `exceptions ${p.exceptions.map((e) => e.code)}`
      if (reason !== undefined) return `ended with ${codes(reason)}, not cleanly`
      return peer.received === 'ok\neof partial\n' ? null : `the peer got ${JSON.stringify(peer.received)}`
    },
  },
  {
    name: 'reset in the middle of a read',
    async run(peer) {
      peer.socket.write('hello\npartial') // one read: the answer to hello proves `partial` is buffered
      await peer.until((p) => p.received === 'ok\n')
      peer.socket.resetAndDestroy()
      await peer.closed
    },
    judge(p, reason) {
      const seen = p.exceptions.map((e) => codes(e)).join()
      if (seen !== 'RS_ERR_READ/ECONNRESET') return `exceptions ${seen}`
      return codes(reason) === 'RS_ERR_READ/ECONNRESET' ? null : `ended with ${codes(reason)}`
    },
  },
  {
    name: 'reset in the middle of a write',
    async run(peer) {
      peer.socket.write('big 16777216\n')
      await peer.until((p) => p.receivedBytes >= 64 * 1024) // the answer is under way
      peer.socket.resetAndDestroy()
      await peer.closed
    },
    judge(p, reason) {
      const seen = [...p.exceptions, ...p.fatals].map((e) => codes(e))
      if (!RESETS.has(codes(reason))) return `ended with ${codes(reason)}`
      return seen.includes(codes(reason)) ? null : `the protocol saw ${seen.join()}, the stream ended with ${codes(reason)}`
    },
  },
  {
    name: 'close before the answer',
    async run(peer) {
      peer.socket.write('slow\n')
      peer.socket.destroy() // FIN: gone before the answer is written
      await peer.closed
    },
    judge(p, reason) {
      // The answer goes out into a closed connection: the stream ends when it next reads (end of
      // stream) or when the peer's RST reaches the write or the read.
      const seen = [...p.exceptions, ...p.fatals].map((e) => codes(e))
      if (reason === undefined) return seen.join() === 'RS_ERR_END_OF_STREAM' ? null : `clean end after ${seen.join()}`
      if (!RESETS.has(codes(reason))) return `ended with ${codes(reason)} after ${seen.join()}`
      return seen.length > 0 && seen.every((c) => c === 'RS_ERR_END_OF_STREAM' || RESETS.has(c)) ? null : `the protocol saw ${seen.join()}`
    },
  },
  {
    name: 'reset before the answer',
    async run(peer) {
      await new Promise<void>((resolve) => peer.socket.write('slow\n', () => resolve()))
      peer.socket.resetAndDestroy()
      await peer.closed
    },
    judge(p, reason) {
      // Linux reports a reset that arrives while nobody reads as end of stream to the next read,
      // and as ECONNRESET to the next write: the protocol sees either, and the answer it wrote
      // makes the stream end with the reset, never "cleanly" (the answer was lost).
      const seen = [...p.exceptions, ...p.fatals].map((e) => codes(e))
      if (!RESETS.has(codes(reason))) return `ended with ${codes(reason)} after ${seen.join()}`
      return seen.length > 0 && seen.every((c) => c === 'RS_ERR_END_OF_STREAM' || RESETS.has(c)) ? null : `the protocol saw ${seen.join()}`
    },
  },
]

/**
 * The server side of each connection, found by the client's port. A port is reused as soon as
 * the client side closed, possibly while the server side of the old connection still runs: each
 * port keeps a queue, and a client claims the oldest server side of its port.
 */
class Sides {
  readonly #accepted = new Map<number, Side[]>()
  readonly #claims = new Map<number, ((side: Side) => void)[]>()

  add(port: number, side: Side): void {
    const claim = this.#claims.get(port)?.shift()
    if (claim !== undefined) claim(side)
    else this.#accepted.set(port, [...(this.#accepted.get(port) ?? []), side])
  }

  claim(port: number): Promise<Side> {
    const side = this.#accepted.get(port)?.shift()
    if (side !== undefined) return Promise.resolve(side)
    return new Promise((resolve) => this.#claims.set(port, [...(this.#claims.get(port) ?? []), resolve]))
  }
}

/** A server-side connection: its protocol and its stream's end. */
interface Side {
  readonly protocol: Faulty
  readonly closed: Promise<Error | undefined>
}

/** Runs every fault `rounds` times (`concurrency` connections at a time). */
export async function connectionFaults(options: { rounds: number; concurrency?: number }): Promise<Outcome> {
  const problems = new Problems()
  const sides = new Sides()
  // The factory runs inside Stream.attach, just before the accept message for the same stream.
  let created: Faulty | null = null
  const server: Server = await serve({ host: '127.0.0.1', port: 0 }, () => {
    created = new Faulty()
    return created.read()
  })
  const onAccept = (message: unknown): void => {
    const { server: from, stream } = message as ServerAcceptMessage
    if (from !== server || !(stream instanceof Stream) || created === null) return
    sides.add(stream.remotePort ?? 0, { protocol: created, closed: stream.closed })
    created = null
  }
  diagnostics.subscribe('rotor-stream:server:accept', onAccept)
  const port = (server.address as { port: number }).port
  const jobs = Array.from({ length: options.rounds }, () => FAULTS).flat()
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < jobs.length; i = next++) {
      const fault = jobs[i] as Fault
      const peer = new RawPeer(port)
      await peer.connected
      // The server accepted it before the fault: a connection reset in the accept queue never reaches the server at all.
      const { protocol, closed } = await sides.claim(peer.socket.localPort ?? 0)
      await fault.run(peer)
      const bad = fault.judge(protocol, await closed, peer)
      if (bad !== null) problems.add(`${fault.name}: ${bad}`)
    }
  }
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker))
  } finally {
    diagnostics.unsubscribe('rotor-stream:server:accept', onAccept)
    await server.close({ timeout: 0 })
  }
  return {
    name: 'connection faults (FIN, RST, early close)',
    unit: 'connections',
    cases: jobs.length,
    faults: jobs.length,
    errors: problems.count,
    bytesLost: 0,
    samples: problems.samples,
  }
}
