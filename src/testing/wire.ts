/**
 * One end of a simulated TCP connection: the engine's I/O (`StreamIO`) on a virtual loop. Bytes a
 * side writes travel to its peer with the peer's latency and are read in the peer's read sizes;
 * at most `window` bytes are in flight toward a side (its kernel buffers), the rest waits in the
 * writer's own queue and counts as unwritten, so a reader that stops reading backs its peer's
 * writes up until the peer's pushback holds, as on a socket. FIN, RST and the lingering close
 * follow what `SocketIO` (stream.ts) does on a real socket.
 */
import type { Engine } from '../engine.js'
import type { Exception, HandlerError } from '../errors.js'
import type { Endpoints, HandlerCall, StreamIO } from '../io.js'
import { FLUSH_ON_DONE_TIMEOUT } from '../limits.js'
import { checkInteger, invalid } from '../validate.js'
import type { VirtualLoop, VirtualTimer } from './loop.js'

/** How the bytes a side receives are cut into reads: see `DeliveryOptions.reads`. */
export type ReadSizes = number | readonly number[] | ((available: number) => number)

/** Bytes on their way to a side, readable from `at` (ms on the virtual clock). */
interface Segment {
  data: Buffer
  readonly at: number
}

/** What a socket error looks like in Node: an Error with `code` and `syscall`. */
export function socketError(syscall: 'read' | 'write', code: 'ECONNRESET' | 'EPIPE'): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall })
}

/** Where a side's connection stands. */
type Phase =
  /** The stream runs. */
  | 'open'
  /** The protocol finished (done, or an error with flush): flushing, then lingering for the peer's FIN. */
  | 'finishing'
  /** Closed: nothing is sent or received any more. */
  | 'closed'

/**
 * A side's I/O. Fields are grouped by direction: what this side sends (its queue, its FIN) and
 * what it receives (the segments in flight toward it, the peer's FIN or RST).
 * @internal
 */
export class SideIO implements StreamIO {
  readonly endpoints: Endpoints
  readonly #loop: VirtualLoop
  /** Set by `bind()`, right after the engine is made. */
  #engine!: Engine
  /** Set by `connect()`, before any event. */
  #peer!: SideIO
  /** Most bytes in flight toward this side (its receive buffer and the network). */
  readonly #window: number
  readonly #lingerTimeout: number

  // --- Observations for the tests ------------------------------------------------------------------
  readonly events: HandlerCall[] = []
  readonly exceptions: Exception[] = []
  readonly handlerErrors: HandlerError[] = []
  /** Every chunk handed to this side's engine, in order. */
  readonly received: Buffer[] = []
  /** Every write of this side's engine, in order. */
  readonly sent: Buffer[] = []
  /** Called once, when the connection is closed (after `engine.onClosed()`). */
  readonly closeListeners: ((reason: Error | undefined) => void)[] = []

  // --- Sending ----------------------------------------------------------------------------------------
  /** Written by the engine and not yet taken by the network (Node's `writableLength`). */
  readonly #queue: Buffer[] = []
  #queued = 0
  /** A write left bytes queued: tell the engine once the queue is empty (SocketIO's marker write). */
  #owesWritten = false
  /** The engine asked for a FIN (halfClose, finish): sent once the queue is empty. */
  #finWanted = false
  #finSent = false

  // --- Receiving --------------------------------------------------------------------------------------
  /** Bytes in flight toward this side, oldest first. */
  readonly #incoming: Segment[] = []
  #inFlight = 0
  /** When the peer's FIN arrives, after the segments before it (NaN: not sent). */
  #finAt = Number.NaN
  /** The peer's FIN was handed to the engine. */
  #finReceived = false
  /** The engine wants input (`setReading`). */
  #reading = false
  /** The test stopped this side from reading (`Side.stall()`). */
  stalled = false
  #readSizes: ReadSizes | undefined = undefined
  /** Next entry of an array of read sizes. */
  #readIndex = 0
  latency = 0
  #deliveryDue = false
  #arrival: VirtualTimer | null = null

  // --- Lifecycle --------------------------------------------------------------------------------------
  phase: Phase = 'open'
  /** The engine's deadline timer. */
  #timer: VirtualTimer | null = null
  #lingerTimer: VirtualTimer | null = null
  /** A reset arrived: writes fail from now on. */
  #reset = false

  constructor(loop: VirtualLoop, endpoints: Endpoints, window: number, lingerTimeout: number) {
    this.#loop = loop
    this.endpoints = endpoints
    this.#window = window
    this.#lingerTimeout = lingerTimeout
  }

  bind(engine: Engine, peer: SideIO): void {
    this.#engine = engine
    this.#peer = peer
  }

  /** Changes how this side's reads are cut. */
  setReadSizes(sizes: ReadSizes | undefined): void {
    this.#readSizes = sizes
    this.#readIndex = 0
  }

  readonly trace = (call: HandlerCall): void => {
    this.events.push(call)
    if (call.handler === 'exception') this.exceptions.push(call.reason)
  }

  clock(): number {
    return this.#loop.now
  }

  // --- Sending ----------------------------------------------------------------------------------------

  write(data: Buffer): number {
    this.sent.push(data)
    if (this.#reset || this.phase === 'closed') {
      // A socket that was reset fails its writes, asynchronously (EPIPE, as Node reports it).
      this.#queued += data.length
      const engine = this.#engine
      this.#loop.task(() => engine.onWriteError(socketError('write', 'EPIPE')))
      return this.#queued
    }
    this.#queue.push(data)
    this.#queued += data.length
    this.#pump()
    if (this.#queued > 0) this.#owesWritten = true
    return this.#queued
  }

  unwritten(): number {
    return this.#queued
  }

  /** Moves queued bytes into the peer's window; sends the FIN once the queue is empty. */
  #pump(): void {
    const peer = this.#peer
    let moved = false
    while (this.#queue.length > 0 && !this.#reset) {
      if (peer.phase === 'closed') {
        // Bytes for a closed socket: its kernel answers with a reset, and the bytes are lost.
        this.#dropQueue()
        peer.#sendReset()
        break
      }
      const room = peer.#window - peer.#inFlight
      if (room <= 0) break
      const head = this.#queue[0] as Buffer
      const take = head.length <= room ? head : head.subarray(0, room)
      if (take === head) this.#queue.shift()
      else this.#queue[0] = head.subarray(room)
      this.#queued -= take.length
      peer.#incoming.push({ data: take, at: this.#loop.now + peer.latency })
      peer.#inFlight += take.length
      moved = true
    }
    if (moved) peer.#schedule()
    if (this.#queue.length > 0) return
    if (this.#owesWritten) {
      this.#owesWritten = false
      const engine = this.#engine
      this.#loop.task(() => engine.onWritten())
    }
    if (this.#finWanted && !this.#finSent) this.#sendFin()
  }

  #sendFin(): void {
    this.#finSent = true
    const peer = this.#peer
    if (peer.phase === 'closed') return
    peer.#finAt = this.#loop.now + peer.latency
    peer.#schedule()
    this.#checkLingerDone()
  }

  /** This side's kernel resets the connection: the peer learns it after its latency. */
  #sendReset(): void {
    const peer = this.#peer
    if (peer.phase === 'closed' || peer.#reset) return
    const deliver = (): void => peer.receiveReset()
    if (peer.latency === 0) this.#loop.task(deliver)
    else this.#loop.timer(this.#loop.now + peer.latency, deliver)
  }

  #dropQueue(): void {
    this.#queue.length = 0
    this.#queued = 0
    this.#owesWritten = false
  }

  // --- Receiving --------------------------------------------------------------------------------------

  setReading(on: boolean): void {
    this.#reading = on
    if (on) this.#schedule()
  }

  /** Whether bytes and the FIN are handed over now (a finished stream still reads, to drain). */
  get #canRead(): boolean {
    return !this.stalled && (this.phase === 'finishing' || (this.phase === 'open' && this.#reading))
  }

  /** Schedules the next read if something has arrived, or a timer for when it will. */
  #schedule(): void {
    if (this.#deliveryDue || !this.#canRead) return
    const head = this.#incoming[0]
    const at = head === undefined ? this.#finAt : head.at
    if (Number.isNaN(at) || this.#finReceived) return
    if (at > this.#loop.now) {
      if (this.#arrival !== null && this.#arrival.at <= at) return
      this.#arrival?.cancel()
      this.#arrival = this.#loop.timer(at, () => {
        this.#arrival = null
        this.#schedule()
      })
      return
    }
    this.#deliveryDue = true
    this.#loop.task(() => this.#deliver())
  }

  /** One read: a chunk of what has arrived, or the FIN after the last byte. */
  #deliver(): void {
    this.#deliveryDue = false
    if (!this.#canRead) return
    const now = this.#loop.now
    let available = 0
    for (const segment of this.#incoming) {
      if (segment.at > now) break
      available += segment.data.length
    }
    if (available > 0) {
      const chunk = this.#take(this.#readSize(available))
      this.#peer.#pump() // room freed in the window
      if (this.phase === 'open') {
        this.received.push(chunk)
        this.#engine.onData(chunk)
      }
    } else if (this.#incoming.length === 0 && this.#finAt <= now) {
      this.#finReceived = true
      if (this.phase === 'open') this.#engine.onEnd()
      this.#checkLingerDone()
      return
    }
    this.#schedule()
  }

  /** How many of `available` bytes the next read takes. */
  #readSize(available: number): number {
    const sizes = this.#readSizes
    let size: number
    if (sizes === undefined) return available
    if (typeof sizes === 'number') size = sizes
    else if (typeof sizes === 'function') size = checkInteger('Side.reads', 'the read size function result', sizes(available), { min: 1 })
    else {
      const next = sizes[this.#readIndex]
      if (next === undefined) return available
      this.#readIndex++
      size = next
    }
    return Math.min(size, available)
  }

  /** Removes the first `n` bytes in flight and returns them as one chunk. */
  #take(n: number): Buffer {
    this.#inFlight -= n
    const head = this.#incoming[0] as Segment
    if (head.data.length === n) {
      this.#incoming.shift()
      return head.data
    }
    if (head.data.length > n) {
      const chunk = head.data.subarray(0, n)
      head.data = head.data.subarray(n)
      return chunk
    }
    const parts: Buffer[] = []
    let left = n
    while (left > 0) {
      const segment = this.#incoming[0] as Segment
      if (segment.data.length <= left) {
        parts.push(segment.data)
        left -= segment.data.length
        this.#incoming.shift()
      } else {
        parts.push(segment.data.subarray(0, left))
        segment.data = segment.data.subarray(left)
        left = 0
      }
    }
    return Buffer.concat(parts, n)
  }

  /** A reset arrived: what was in flight toward this side is lost, and the stream fails. */
  receiveReset(): void {
    if (this.phase === 'closed' || this.#reset) return
    this.#reset = true
    this.#incoming.length = 0
    this.#inFlight = 0
    this.#finAt = Number.NaN
    const engine = this.#engine
    // Node reports the reset on what the socket was doing: a pending write fails, else the read.
    if (this.#queued > 0) engine.onWriteError(socketError('write', 'ECONNRESET'))
    else if (this.phase === 'open') engine.onReadError(socketError('read', 'ECONNRESET'))
    this.#dropQueue()
    this.#close()
  }

  // --- Engine requests --------------------------------------------------------------------------------

  armTimer(deadline: number): void {
    this.#timer?.cancel()
    this.#timer = null
    if (Number.isNaN(deadline)) return
    const engine = this.#engine
    this.#timer = this.#loop.timer(deadline, () => {
      this.#timer = null
      engine.onTimer()
    })
  }

  scheduleWakeup(later: boolean): void {
    const engine = this.#engine
    if (later) this.#loop.task(() => engine.onDeferredWakeup())
    else this.#loop.microtask(() => engine.onWakeup())
  }

  halfClose(): void {
    this.#finWanted = true
    this.#pump()
  }

  reportError(error: HandlerError): void {
    this.handlerErrors.push(error)
  }

  /** A lingering close, as SocketIO's: flush, FIN, drain the peer until it closes too (or lingerTimeout after the flush). */
  finish(_reason: Error | undefined): void {
    if (this.phase !== 'open') return
    this.phase = 'finishing'
    this.#finWanted = true
    this.#pump()
    if (!this.#finSent) {
      // The peer does not read: give up on the flush after a while, as a socket would.
      this.#lingerTimer = this.#loop.timer(this.#loop.now + FLUSH_ON_DONE_TIMEOUT, () => this.#abort())
    }
    this.#schedule()
    this.#checkLingerDone()
  }

  destroy(_reason: Error): void {
    if (this.phase === 'closed') return
    this.#abort()
  }

  /** Once flushed: closed when the peer's FIN arrived too, else after lingerTimeout. */
  #checkLingerDone(): void {
    if (this.phase !== 'finishing' || !this.#finSent) return
    if (this.#finReceived) {
      this.#close()
      return
    }
    this.#lingerTimer?.cancel()
    this.#lingerTimer = this.#loop.timer(this.#loop.now + this.#lingerTimeout, () => this.#abort())
  }

  /**
   * Closes at once, dropping unwritten output. The peer is told as by a kernel closing the
   * socket: a reset if input was left unread here, otherwise a FIN after what is in flight.
   */
  #abort(): void {
    if (this.phase === 'closed') return
    this.#dropQueue()
    if (!this.#reset) {
      if (this.#inFlight > 0) this.#sendReset()
      else if (!this.#finSent) this.#sendFin()
    }
    this.#close()
  }

  #close(): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.#timer?.cancel()
    this.#lingerTimer?.cancel()
    this.#arrival?.cancel()
    this.#timer = this.#lingerTimer = this.#arrival = null
    this.#reading = false
    const engine = this.#engine
    // A socket reports 'close' on a later tick.
    this.#loop.task(() => {
      engine.onClosed()
      for (const listener of this.closeListeners) listener(engine.endReason)
    })
  }

  // --- For Side --------------------------------------------------------------------------------------

  /** Lets the reads go on after `stalled` was cleared. */
  resume(): void {
    this.stalled = false
    this.#schedule()
  }

  get isReading(): boolean {
    return this.#reading && !this.stalled && this.phase === 'open'
  }
  get finSent(): boolean {
    return this.#finSent
  }
  get finReceived(): boolean {
    return this.#finReceived
  }
  get inFlight(): number {
    return this.#inFlight
  }
  get wasReset(): boolean {
    return this.#reset
  }
  get deadline(): number {
    return this.#timer?.at ?? Number.NaN
  }
}

/** Checks a `reads` option. */
export function checkReadSizes(where: string, name: string, value: unknown): ReadSizes | undefined {
  if (value === undefined || typeof value === 'function') return value as ReadSizes | undefined
  if (typeof value === 'number') return checkInteger(where, name, value, { min: 1 })
  if (Array.isArray(value)) {
    for (const [i, size] of value.entries()) checkInteger(where, `${name}[${i}]`, size, { min: 1 })
    return [...(value as number[])]
  }
  throw invalid(where, name, 'a read size in bytes, an array of them, or a function (available) => size', value)
}
