/**
 * The memory budget across all connections of a server (`serve({ maxBufferedBytes })`): many
 * connections each send large frames slowly, so that without a budget every one of them holds
 * a partial frame and the server holds connections × frame size. With the budget, what the
 * server's streams hold stays near the limit, and every frame still completes. And a peer that
 * never reads a large answer must not stall the others (`stuckReader`).
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import { Intent, type Protocol, type Transport } from 'rotor-stream'
import { Problems, type ScenarioResult } from './metrics.js'
import { openPeers, RawPeer } from './raw.js'
import { ServerWatch } from './watch.js'

type Outcome = Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>

/** Length-prefixed frames (u32 big-endian length, then the payload), each acknowledged with one byte. */
class FrameSink implements Protocol {
  /** `header`: waiting for 4 length bytes. `payload`: waiting for `#length` bytes. */
  phase: 'header' | 'payload' = 'header'
  #length = 0

  static create(): Intent<FrameSink> {
    return Intent.of(new FrameSink()).expectBytes(4).timeout(60_000)
  }

  bytesRead(t: Transport): Intent<FrameSink> {
    if (this.phase === 'header') {
      this.#length = t.input.view(0, 4).readUInt32BE(0)
      t.input.consume(4)
      this.phase = 'payload'
      return Intent.of(this).expectBytes(this.#length).timeout(60_000)
    }
    t.input.consume(this.#length)
    t.output.write('k')
    this.phase = 'header'
    return Intent.of(this).expectBytes(4).timeout(60_000)
  }
}

/** Options of {@link memoryBudget}. */
export interface BudgetOptions {
  connections: number
  /** Frames each connection sends. */
  frames: number
  /** Payload bytes of a frame. */
  frameSize: number
  /** Bytes written per connection per tick: the slowness. */
  slice: number
  /** ms between ticks. */
  tick: number
  /** The server's maxBufferedBytes, or undefined for no budget (the comparison run). */
  maxBufferedBytes: number | undefined
}

/** What one run measured. */
export interface BudgetRun {
  /** Most bytes the server's streams held at once (what the budget counts). */
  peakHeld: number
  /** The same plus what Node had read into the sockets' own buffers, outside the streams. */
  peakWithSockets: number
  /** Frames acknowledged. */
  acked: number
  ms: number
}

/** One run with or without the budget. */
export async function budgetRun(options: BudgetOptions): Promise<BudgetRun> {
  const { serve } = await import('rotor-stream')
  const watch = new ServerWatch()
  const server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      backlog: 4096,
      maxConnections: options.connections + 10,
      ...(options.maxBufferedBytes !== undefined && { maxBufferedBytes: options.maxBufferedBytes }),
    },
    FrameSink.create,
  )
  watch.watch(server)
  let peakWithSockets = 0
  const sample = (): void => {
    watch.sample()
    let sum = 0
    for (const s of watch.streams) sum += s.input.capacity + s.output.length + s.socket.writableLength + s.socket.readableLength
    if (sum > peakWithSockets) peakWithSockets = sum
  }
  const sampler = setInterval(sample, 2)
  const port = (server.address as { port: number }).port
  const peers = await openPeers(port, options.connections)
  const frame = Buffer.alloc(4 + options.frameSize, 0x66)
  frame.writeUInt32BE(options.frameSize, 0)
  const total = frame.length * options.frames
  const sent = new Array<number>(peers.length).fill(0)
  const start = performance.now()
  let finish!: () => void
  const allSent = new Promise<void>((resolve) => {
    finish = resolve
  })
  // Every tick, each connection whose socket took the last slice sends the next one.
  const ticker = setInterval(() => {
    let pending = 0
    for (const [i, peer] of peers.entries()) {
      const at = sent[i] as number
      if (at >= total) continue
      pending++
      if (peer.socket.writableLength > 0 || !peer.isListening) continue
      const n = Math.min(options.slice, total - at)
      const offset = at % frame.length
      const piece = frame.subarray(offset, Math.min(frame.length, offset + n))
      peer.socket.write(piece)
      sent[i] = at + piece.length
    }
    sample()
    if (pending === 0) finish()
  }, options.tick)
  try {
    await allSent
    await Promise.all(peers.map((p) => p.until((q) => q.receivedBytes >= options.frames, 120_000)))
  } finally {
    clearInterval(ticker)
    clearInterval(sampler)
    sample()
    for (const p of peers) p.destroy()
    await Promise.all(peers.map((p) => p.closed))
    watch.stop()
    await server.close({ timeout: 0 })
  }
  const acked = peers.reduce((sum, p) => sum + p.receivedBytes, 0)
  return { peakHeld: watch.peak, peakWithSockets, acked, ms: performance.now() - start }
}

/**
 * The budget holding: the run with `maxBufferedBytes` stays within the limit plus one frame
 * (the stream allowed to complete its frame) plus slack, every frame is acknowledged, and the
 * same load without a budget holds several times more.
 */
export async function memoryBudget(options: Omit<BudgetOptions, 'maxBufferedBytes'> & { limit: number; compare: boolean }): Promise<Outcome> {
  const problems = new Problems()
  const withBudget = await budgetRun({ ...options, maxBufferedBytes: options.limit })
  const frames = options.connections * options.frames
  if (withBudget.acked !== frames) problems.add(`with the budget, ${withBudget.acked} of ${frames} frames were acknowledged`)
  // The granted stream may grow its Buf to a whole frame (capacity rounds up, up to 2x), and each
  // stream reports its size after the read that passed the limit.
  const allowed = options.limit + 2 * (options.frameSize + 4) + 64 * 1024
  if (withBudget.peakHeld > allowed) problems.add(`with the budget, the streams held ${withBudget.peakHeld} bytes, over ${allowed}`)
  let notes = `limit ${(options.limit / 2 ** 20).toFixed(0)} MiB: streams held ≤ ${(withBudget.peakHeld / 2 ** 20).toFixed(1)} MiB (${(withBudget.peakWithSockets / 2 ** 20).toFixed(1)} MiB with socket buffers), ${(withBudget.ms / 1000).toFixed(1)} s`
  if (options.compare) {
    const without = await budgetRun({ ...options, maxBufferedBytes: undefined })
    if (without.acked !== frames) problems.add(`without the budget, ${without.acked} of ${frames} frames were acknowledged`)
    notes += `; no budget: ${(without.peakHeld / 2 ** 20).toFixed(1)} MiB, ${(without.ms / 1000).toFixed(1)} s`
    if (without.peakHeld <= 1.5 * options.limit)
      problems.add(`without the budget the streams held only ${without.peakHeld} bytes: the load does not test the budget`)
  }
  return {
    name: 'memory budget (maxBufferedBytes)',
    unit: 'connections',
    cases: options.connections,
    faults: options.connections,
    errors: problems.count,
    bytesLost: (frames - withBudget.acked) * (options.frameSize + 4),
    notes,
    samples: problems.samples,
  }
}

/** Answers the line `big` with `size` bytes and any other line with `ok`. */
class BigOrSmall implements Protocol {
  readonly #size: number
  constructor(size: number) {
    this.#size = size
  }

  next(): Intent<BigOrSmall> {
    return Intent.of<BigOrSmall>(this).expectDelimiter('\n', { max: 64 }).timeout(60_000)
  }

  bytesRead(t: Transport, end: number): Intent<BigOrSmall> {
    const big = t.input.toString('latin1', 0, end) === 'big'
    t.input.consume(end + 1)
    t.output.write(big ? Buffer.alloc(this.#size, 0x62) : 'ok\n')
    return this.next()
  }
}

/** Options of {@link stuckReader}. */
export interface StuckReaderOptions {
  /** The server's maxBufferedBytes. */
  limit: number
  /** Bytes of the answer the stuck peer asks for and never reads. */
  answerSize: number
  /** Other clients, each sending one small request. */
  clients: number
  /** How long a client may wait for its answer (a safety net, not a timing measurement). */
  within: number
  /** The streams' outputHighWaterMark: above the answer, the stuck stream is never pushed back. */
  outputHighWaterMark?: number
}

/**
 * A peer that asks for a large answer and never reads it holds more than the whole budget in
 * unwritten output; meanwhile `clients` other clients each send a small request and must all
 * be answered. Then the stuck peer goes away and the server's streams all close.
 */
export async function stuckReader(options: StuckReaderOptions): Promise<Outcome> {
  const { serve } = await import('rotor-stream')
  const problems = new Problems()
  const watch = new ServerWatch()
  const server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      maxBufferedBytes: options.limit,
      ...(options.outputHighWaterMark !== undefined && { outputHighWaterMark: options.outputHighWaterMark }),
    },
    () => new BigOrSmall(options.answerSize).next(),
  )
  watch.watch(server)
  const port = (server.address as { port: number }).port
  const stuck = new RawPeer(port, { read: false })
  let peers: RawPeer[] = []
  let answered = 0
  let stuckHeld = 0
  const start = performance.now()
  try {
    await stuck.connected
    await stuck.write('big\n')
    // The kernel takes what it can of the answer; the rest stays in the server, over the limit.
    for (let i = 0; i < 500 && watch.held() <= options.limit; i++) await delay(10)
    stuckHeld = watch.held()
    if (stuckHeld <= options.limit) problems.add(`the unread answer left only ${stuckHeld} bytes in the server: the test tests nothing`)
    peers = await openPeers(port, options.clients)
    for (const p of peers) void p.write('hi\n')
    const results = await Promise.all(peers.map((p) => p.until((q) => q.received === 'ok\n', options.within)))
    answered = peers.filter((p) => p.received === 'ok\n').length
    if (answered !== peers.length || results.includes(false)) problems.add(`${answered} of ${peers.length} clients were answered while a peer did not read`)
    if (stuck.receivedBytes !== 0 || watch.held() < stuckHeld) problems.add('the stuck peer was not stuck all along')
  } finally {
    for (const p of peers) p.destroy()
    stuck.destroy()
    await Promise.all([...peers.map((p) => p.closed), stuck.closed])
    await server.close({ timeout: 0 })
    await watch.drained()
    watch.stop()
  }
  return {
    name: 'memory budget with a peer that does not read',
    unit: 'clients',
    cases: options.clients,
    faults: 1,
    errors: problems.count,
    bytesLost: 0,
    notes: `the stuck peer left ${(stuckHeld / 2 ** 20).toFixed(1)} MiB unwritten (limit ${(options.limit / 2 ** 10).toFixed(0)} KiB); ${answered} of ${options.clients} clients answered in ${(performance.now() - start).toFixed(0)} ms`,
    samples: problems.samples,
  }
}
