/**
 * The memory budget across all connections of a server (`serve({ maxBufferedBytes })`): many
 * connections each send large frames slowly, so that without a budget every one of them holds
 * a partial frame and the server holds connections × frame size. With the budget, what the
 * server's streams hold stays near the limit, and every frame still completes.
 */
import { performance } from 'node:perf_hooks'
import { Intent, type Protocol, type Transport } from 'rotor-stream'
import { Problems, type ScenarioResult } from './metrics.js'
import { openPeers } from './raw.js'
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
