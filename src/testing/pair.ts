/**
 * Two protocols connected to each other without sockets, on one virtual clock: a client and a
 * server running on the real engine, with the delivery between them under the test's control
 * (read sizes, latency, a stalled reader, a reset), as Twisted's iosim, tokio's `io::duplex`
 * and ntex's `IoTest` do.
 */
import { Engine } from '../engine.js'
import type { Exception, HandlerError } from '../errors.js'
import type { HandlerCall } from '../io.js'
import { type StreamLimits, StreamSettings } from '../limits.js'
import type { Factory, Transport } from '../protocol.js'
import { checkFunction, checkInteger, checkMs, checkNumber, checkOptions, invalid, isError } from '../validate.js'
import { describeCall, type HarnessState } from './harness.js'
import { VirtualLoop } from './loop.js'
import { checkReadSizes, type ReadSizes, SideIO } from './wire.js'

/** How the bytes a side receives reach it. */
export interface DeliveryOptions {
  /**
   * How what has arrived is cut into reads (each one `bytesRead` round): at most this many
   * bytes per read (1 = byte by byte); an array of sizes for the reads in order, then whatever
   * has arrived (give it the chunk lengths of a `splits()` split to replay that split); or a
   * function `(available) => size` returning an integer >= 1 (clamped to `available`). Reads
   * cut across the peer's writes: two writes may arrive in one read, as on a socket.
   * @default everything that has arrived, in one read
   */
  reads?: ReadSizes
  /** ms from the peer's write (or FIN) until it can be read here, on the virtual clock: a finite number >= 0. @default 0 */
  latency?: number
}

/** Options of one side of a {@link Pair}: its protocol's seed, its stream limits, how it receives. */
export interface SideOptions<S = unknown> extends StreamLimits, DeliveryOptions {
  /** Passed to the side's factory as `seed`. */
  seed?: S
  /** After the protocol finished and its output left, how long (ms) to wait for the peer's FIN before closing anyway. @default 2000 */
  lingerTimeout?: number
}

/** Options of a {@link Pair}. */
export interface PairOptions<C = unknown, S = unknown> {
  /** The client side (the one that connected). */
  client?: SideOptions<C>
  /** The server side (the one that accepted). */
  server?: SideOptions<S>
  /**
   * Bytes in flight toward each side (its socket buffers) before the peer's writes stay
   * unwritten, a positive integer: a side that does not read backs its peer up after this many.
   * @default 65536
   */
  window?: number
  /** Start of the virtual clock, in ms. @default 0 */
  now?: number
}

/** Default of {@link PairOptions.window}. */
export const DEFAULT_WINDOW = 64 * 1024

/** Which end of a pair: the one that connected, or the one that accepted. */
export type SideName = 'client' | 'server'

/**
 * One end of a {@link Pair}: a protocol on the real engine, and what the test can see and do
 * there. Every action runs what it makes due (handlers of both sides), as `Harness` does; only
 * time waits for `advance()`.
 */
export class Side {
  /** `'client'` or `'server'`. */
  readonly name: SideName
  readonly #engine: Engine
  readonly #io: SideIO
  readonly #loop: VirtualLoop

  /** @internal Made by a Pair. */
  constructor(name: SideName, engine: Engine, io: SideIO, loop: VirtualLoop) {
    this.name = name
    this.#engine = engine
    this.#io = io
    this.#loop = loop
  }

  /** What the protocol's handlers see (input, output, addresses). */
  get transport(): Transport {
    return this.#engine
  }

  /** How the stream stands: `'running'`, or how it ended (`'done'`, `'error'`). */
  get state(): HarnessState {
    if (!this.#engine.isEnded) return 'running'
    return this.#engine.endReason === undefined ? 'done' : 'error'
  }

  /** The error the stream ended with (what `fatal` received, or a failed last flush), if any. */
  get error(): Error | undefined {
    return this.#engine.endReason
  }

  /** Whether the connection is closed on this side (the socket's 'close'). */
  get isClosed(): boolean {
    return this.#io.phase === 'closed'
  }

  /** Resolves once this side is closed, as `Stream.closed`: with `undefined` after a clean end, else the reason. */
  get closed(): Promise<Error | undefined> {
    return this.#engine.closed
  }

  /** Handler calls in order, as typed records (see `Harness.events`). */
  get events(): readonly HandlerCall[] {
    return this.#io.events
  }

  /** The handler calls as short lines: `['bytesRead 5', 'exception RS_ERR_END_OF_STREAM']`. */
  get log(): string[] {
    return this.#io.events.map(describeCall)
  }

  /** Every exception reason the protocol received. */
  get exceptions(): readonly Exception[] {
    return this.#io.exceptions
  }

  /** Errors thrown by the protocol's handlers (what `onError` would report). */
  get handlerErrors(): readonly HandlerError[] {
    return this.#io.handlerErrors
  }

  /** Every byte handed to this side's protocol so far, in order. */
  get received(): Buffer {
    return Buffer.concat(this.#io.received)
  }

  /** The sizes of the reads this side's protocol got, in order. */
  get reads(): number[] {
    return this.#io.received.map((chunk) => chunk.length)
  }

  /** Every byte this side's protocol wrote so far (delivered or not). */
  get sent(): Buffer {
    return Buffer.concat(this.#io.sent)
  }

  /** Socket writes so far: all output of one round leaves in one write. */
  get writes(): number {
    return this.#io.sent.length
  }

  /** Bytes this side wrote that the network has not taken (the peer's window is full): what its pushback sees. */
  get unwritten(): number {
    return this.#io.unwritten()
  }

  /** Bytes on their way to this side and not read yet (at most the pair's `window`). */
  get inFlight(): number {
    return this.#io.inFlight
  }

  /** Bytes of input buffered by the engine and not consumed by the protocol. */
  get buffered(): number {
    return this.#engine.input.length
  }

  /** Whether the stream reads now (false while pushed back, waiting for a flush, stalled, or closed). */
  get isReading(): boolean {
    return this.#io.isReading
  }

  /** Whether this side sent its FIN (half-close, or the end of a clean close). */
  get isHalfClosed(): boolean {
    return this.#io.finSent
  }

  /** Whether the peer's FIN reached this side's protocol. */
  get sawEnd(): boolean {
    return this.#io.finReceived
  }

  /** Whether a reset reached this side. */
  get wasReset(): boolean {
    return this.#io.wasReset
  }

  /** The armed deadline (ms on the virtual clock), or NaN. */
  get deadline(): number {
    return this.#io.deadline
  }

  /** Runs the protocol's `wakeup` (as its notifier does), then what that makes due. */
  wakeup(): this {
    this.#engine.wakeup()
    this.#loop.run()
    return this
  }

  /**
   * This side stops reading from the network (a process that hangs): what its peer sends piles
   * up in flight, then in the peer's unwritten output, until the peer's pushback holds.
   */
  stall(): this {
    this.#io.stalled = true
    return this
  }

  /** Ends a `stall()`: reads go on with what has arrived. */
  resume(): this {
    this.#io.resume()
    this.#loop.run()
    return this
  }

  /** Changes how this side receives from now on (see {@link DeliveryOptions}). */
  deliver(options: DeliveryOptions): this {
    const o = checkOptions<DeliveryOptions>('Side.deliver', 'options', options)
    if ('reads' in o) this.#io.setReadSizes(checkReadSizes('Side.deliver', 'options.reads', o.reads))
    if (o.latency !== undefined) this.#io.latency = checkNumber('Side.deliver', 'options.latency', o.latency, { min: 0 })
    return this
  }

  /**
   * Closes this side's stream from outside at once, as `Stream.close()`: its `fatal` gets
   * `reason` (a `ClosedError` by default); the peer sees a FIN, or a reset if input was left unread here.
   */
  close(reason?: Error): this {
    if (reason !== undefined && !isError(reason)) throw invalid('Side.close', 'reason', 'an Error (or undefined for a ClosedError)', reason)
    this.#engine.close(reason)
    this.#loop.run()
    return this
  }

  /** Runs `listener(reason)` once this side is closed (synchronously, on the virtual loop). @internal */
  onClose(listener: (reason: Error | undefined) => void): void {
    this.#io.closeListeners.push(listener)
  }

  /** A reset arrives here now. @internal */
  receiveReset(): void {
    this.#io.receiveReset()
  }
}

/** Carries the network's loop into a Pair it opens. @internal */
export const SHARED_LOOP = Symbol('rotor-stream.testing.loop')

/** What the simulated network passes to a Pair besides the public options. @internal */
export interface PairWiring {
  readonly loop: VirtualLoop
  readonly clientSettings: StreamSettings
  readonly serverSettings: StreamSettings
  /** The client's remote address (the server's address), for `Transport.remoteAddress`. */
  readonly serverAddress: string
  readonly serverPort: number | undefined
  /** The client's local port, unique per connection of a network. */
  readonly clientPort: number
}

/**
 * A client protocol and a server protocol connected to each other on one virtual clock,
 * without sockets. Bytes written by one side reach the other in the reads and after the
 * latency the receiving side's {@link DeliveryOptions} say; `window` bytes may be in flight
 * toward a side, so a side that does not read backs its peer's writes up until the peer's
 * pushback holds. FIN, reset and the lingering close behave as on a socket. Nothing uses real
 * timers: everything due runs at once, time moves with `advance()`.
 *
 * ```ts
 * // Pinger writes 'ping\n' when created; the server reads byte by byte, its answers take 20 ms.
 * const pair = new Pair(Pinger.create, LineEcho.create, { server: { reads: 1 }, client: { latency: 20 } })
 * pair.advance(20)
 * assert.equal(pair.client.received.toString(), 'ping\n')
 * pair.reset() // or: pair.server.stall(), pair.client.close(), pair.runUntilIdle()...
 * ```
 */
export class Pair<C = unknown, S = unknown> {
  /** The side that connected. */
  readonly client: Side
  /** The side that accepted. */
  readonly server: Side
  readonly #loop: VirtualLoop
  readonly #ios: readonly [SideIO, SideIO]

  /**
   * Connects a new client protocol (`client` factory) to a new server protocol (`server`
   * factory): the server's factory runs first (the accept), then the client's, then what is due.
   */
  constructor(client: Factory<C>, server: Factory<S>, options?: PairOptions<C, S>) {
    const where = 'Pair'
    checkFunction(where, 'client', client, 'a function (transport, seed, scope) => Intent')
    checkFunction(where, 'server', server, 'a function (transport, seed, scope) => Intent')
    const o = checkOptions<PairOptions<C, S> & { [SHARED_LOOP]?: PairWiring }>(where, 'options', options)
    const c = checkOptions<SideOptions<C>>(where, 'options.client', o.client)
    const s = checkOptions<SideOptions<S>>(where, 'options.server', o.server)
    const window = o.window === undefined ? DEFAULT_WINDOW : checkInteger(where, 'options.window', o.window, { min: 1 })
    const wiring = o[SHARED_LOOP]
    const loop = wiring?.loop ?? new VirtualLoop(o.now === undefined ? 0 : checkNumber(where, 'options.now', o.now))
    const clientSettings = wiring?.clientSettings ?? new StreamSettings(streamOptions(c), `${where} options.client`)
    const serverSettings = wiring?.serverSettings ?? new StreamSettings(streamOptions(s), `${where} options.server`)
    const serverAddress = wiring?.serverAddress ?? '127.0.0.1'
    const serverPort = wiring === undefined ? 7 : wiring.serverPort
    const clientPort = wiring?.clientPort ?? 40000
    const clientIO = new SideIO(
      loop,
      { remoteAddress: serverAddress, remotePort: serverPort, localAddress: serverAddress, localPort: clientPort },
      window,
      clientSettings.lingerTimeout,
    )
    const serverIO = new SideIO(
      loop,
      { remoteAddress: serverAddress, remotePort: clientPort, localAddress: serverAddress, localPort: serverPort },
      window,
      serverSettings.lingerTimeout,
    )
    for (const [io, side] of [
      [clientIO, c],
      [serverIO, s],
    ] as const) {
      io.setReadSizes(checkReadSizes(where, 'options.reads', side.reads))
      if (side.latency !== undefined) io.latency = checkNumber(where, 'options.latency', side.latency, { min: 0 })
    }
    const clientEngine = new Engine(clientIO, clientSettings)
    const serverEngine = new Engine(serverIO, serverSettings)
    clientIO.bind(clientEngine, serverIO)
    serverIO.bind(serverEngine, clientIO)
    this.#loop = loop
    this.#ios = [clientIO, serverIO]
    this.client = new Side('client', clientEngine, clientIO, loop)
    this.server = new Side('server', serverEngine, serverIO, loop)
    serverEngine.start(server, s.seed as S)
    clientEngine.start(client, c.seed as C)
    loop.run()
  }

  /** The virtual clock, in ms. */
  get now(): number {
    return this.#loop.now
  }

  /** Whether both sides are closed. */
  get isClosed(): boolean {
    return this.#ios[0].phase === 'closed' && this.#ios[1].phase === 'closed'
  }

  /** Runs what is due now (after changing something from outside, such as a queue a notifier reads). */
  run(): this {
    this.#loop.run()
    return this
  }

  /**
   * Runs what is due and lets promise callbacks run, until neither has anything left: for
   * protocols written with the async API (`handleAsync`), and for tests awaiting promises that
   * the protocols settle. The clock does not move: a promise that waits for a deadline or for
   * latency settles only after `advance()`, and awaiting it before that never returns.
   */
  settle(): Promise<void> {
    return this.#loop.settle('Pair.settle')
  }

  /** Moves the virtual clock forward by `ms` (a finite number >= 0), firing deadlines and deliveries on the way, each at its own time. */
  advance(ms: number): this {
    this.#loop.advance(checkMs('Pair.advance', 'ms', ms))
    return this
  }

  /**
   * Moves the clock from timer to timer until none is left (every deadline fired, everything
   * delivered) or `limit` ms have passed; returns the ms it advanced. A protocol that keeps
   * a deadline armed forever stops it only at `limit`.
   */
  runUntilIdle(limit = 3_600_000): number {
    return this.#loop.runUntilIdle(checkNumber('Pair.runUntilIdle', 'limit', limit, { min: 0 }))
  }

  /**
   * The connection is reset in the middle (a middlebox, a peer that crashed): what is in flight
   * is lost and both sides fail at once, each on what it was doing (a pending write fails with
   * `WriteError`, otherwise the read with `ReadError`; `cause.code` is `ECONNRESET`).
   */
  reset(): this {
    const [client, server] = this.#ios
    client.receiveReset()
    server.receiveReset()
    this.#loop.run()
    return this
  }
}

/** The stream options among a side's options. */
function streamOptions(side: SideOptions): StreamLimits & { lingerTimeout?: number } {
  const { maxBufferSize, outputHighWaterMark, minRate, budget, lingerTimeout } = side
  return { maxBufferSize, outputHighWaterMark, minRate, budget, lingerTimeout }
}
