/**
 * Looks into a running server from the outside, through the library's diagnostics channels:
 * its streams, what their buffers hold (what a `MemoryBudget` counts: input storage, output
 * not yet handed to the socket, bytes the socket has not written yet), and the exceptions and
 * fatal reasons its protocols received.
 */
import diagnostics from 'node:diagnostics_channel'
import { type Exception, type Server, type ServerAcceptMessage, Stream, type StreamExceptionMessage, type StreamFatalMessage } from 'rotor-stream'

/** Bytes a stream's buffers hold now: what the server's memory budget counts for it. */
export function heldBy(stream: Stream): number {
  return stream.input.capacity + stream.output.length + stream.socket.writableLength
}

/** The streams of one server and what happened to them. */
export class ServerWatch {
  readonly streams = new Set<Stream>()
  /** Streams ever accepted. */
  accepted = 0
  /** Most streams open at once (counted at every accept). */
  peakOpen = 0
  readonly exceptions: Exception[] = []
  readonly fatals: Error[] = []
  /** Largest total held by all streams at once, as sampled. */
  peak = 0
  /** Largest input one stream held when it got an exception (a limit reached, a slow peer...). */
  peakInputAtException = 0
  #server: Server | null = null
  #timer: NodeJS.Timeout | null = null
  readonly #onAccept = (message: unknown): void => {
    const { server, stream } = message as ServerAcceptMessage
    if (server !== this.#server || !(stream instanceof Stream)) return
    this.streams.add(stream)
    this.accepted++
    if (this.streams.size > this.peakOpen) this.peakOpen = this.streams.size
    void stream.closed.then(() => this.streams.delete(stream))
  }
  readonly #onException = (message: unknown): void => {
    const { stream, reason } = message as StreamExceptionMessage
    if (!(stream instanceof Stream) || !this.streams.has(stream)) return
    this.exceptions.push(reason)
    this.peakInputAtException = Math.max(this.peakInputAtException, stream.input.capacity)
  }
  readonly #onFatal = (message: unknown): void => {
    const { stream, reason } = message as StreamFatalMessage
    if (stream instanceof Stream && this.streams.has(stream)) this.fatals.push(reason)
  }

  /** Starts watching: call before any connection arrives. */
  constructor() {
    diagnostics.subscribe('rotor-stream:server:accept', this.#onAccept)
    diagnostics.subscribe('rotor-stream:stream:exception', this.#onException)
    diagnostics.subscribe('rotor-stream:stream:fatal', this.#onFatal)
  }

  /** Watches `server` (its connections from now on). */
  watch(server: Server): this {
    this.#server = server
    return this
  }

  /** What all streams hold now. */
  held(): number {
    let sum = 0
    for (const stream of this.streams) sum += heldBy(stream)
    return sum
  }

  /** Records the total held now into `peak`. */
  sample(): void {
    const held = this.held()
    if (held > this.peak) this.peak = held
  }

  /** Samples every `every` ms until `stop()` (a measurement, not a wait). */
  sampleEvery(every: number): this {
    this.#timer = setInterval(() => this.sample(), every)
    return this
  }

  /** Stops sampling and unsubscribes. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    diagnostics.unsubscribe('rotor-stream:server:accept', this.#onAccept)
    diagnostics.unsubscribe('rotor-stream:stream:exception', this.#onException)
    diagnostics.unsubscribe('rotor-stream:stream:fatal', this.#onFatal)
  }

  /** Resolves when every stream of the server has closed. */
  async drained(): Promise<void> {
    while (this.streams.size > 0) await Promise.all([...this.streams].map((s) => s.closed))
  }
}
