import { Engine } from '../engine.js'
import type { Exception, HandlerError, TlsUpgradeError } from '../errors.js'
import type { Endpoints, HandlerCall, StreamIO } from '../io.js'
import { Limits, type StreamLimits } from '../limits.js'
import type { Factory } from '../protocol.js'
import { checkIdlePolicy } from '../shutdown.js'
import type { TlsUpgrade } from '../starttls.js'
import { checkBytes, checkFunction, checkNumber, checkOptions, checkString } from '../validate.js'

export type { HandlerCall } from '../io.js'

/** Options of a {@link Harness}. */
export interface HarnessOptions<S = unknown> extends StreamLimits {
  /** Passed to the factory as `seed`. */
  seed?: S
  /** Start of the virtual clock, in ms: a finite number. @default 0 */
  now?: number
  /** What `transport.remoteAddress` reports, a string. @default '127.0.0.1' */
  remoteAddress?: string
}

/** How a harnessed stream stands: still running, ended with `Intent.done()`, or ended with an error. */
export type HarnessState = 'running' | 'done' | 'error'

/**
 * Drives a protocol without sockets or real time: feed input chunks, end the input, advance a
 * virtual clock, make the peer stop reading, inject read and write errors; then look at the
 * output, the handler calls and how the stream ended. It runs the very same engine as a socket
 * `Stream`, on scripted I/O instead of a socket (Netty's EmbeddedChannel, tokio's mock IO).
 *
 * ```ts
 * const h = new Harness(LineEcho.create)
 * h.feed('hello\r\n')
 * assert.equal(h.takeOutput().toString(), 'hello\r\n')
 * h.advance(30_000)
 * assert.equal(h.state, 'done')
 * ```
 */
export class Harness<S = unknown> {
  readonly #engine: Engine
  readonly #io: ScriptedIO

  /** Creates the protocol with `factory` (as on a new connection) and runs its first round. */
  constructor(factory: Factory<S>, options?: HarnessOptions<S>) {
    checkFunction('Harness', 'factory', factory, 'a function (transport, seed, scope) => Intent')
    const o = checkOptions<HarnessOptions<S>>('Harness', 'options', options)
    const now = o.now === undefined ? 0 : checkNumber('Harness', 'options.now', o.now)
    const remoteAddress = o.remoteAddress === undefined ? '127.0.0.1' : checkString('Harness', 'options.remoteAddress', o.remoteAddress, false)
    this.#io = new ScriptedIO(now, remoteAddress)
    this.#engine = new Engine(this.#io, new Limits(o, 'Harness'))
    this.#io.bind(this.#engine)
    this.#engine.start(factory, o.seed as S)
    this.#io.runDue()
  }

  /**
   * Delivers one chunk of input (a string or a Uint8Array), as one socket read. While a TLS
   * upgrade runs (`Intent.startTls`), bytes go to the handshake (`tlsHandshakeInput`), not to the protocol.
   */
  feed(chunk: Uint8Array | string): this {
    checkBytes('Harness.feed', 'chunk', chunk)
    if (this.#io.upgrade !== null) {
      this.#io.upgrade.input.push(Buffer.from(chunk))
      return this
    }
    this.#engine.onData(Buffer.from(chunk))
    this.#io.runDue()
    return this
  }

  /** Whether a TLS upgrade (`Intent.startTls`) was handed to the I/O and its handshake has not ended. */
  get isUpgrading(): boolean {
    return this.#io.upgrade !== null
  }

  /** The bytes the TLS handshake got so far: those the protocol chose to feed, then those fed since. */
  get tlsHandshakeInput(): Buffer {
    const upgrade = this.#io.upgrade
    return upgrade === null ? Buffer.alloc(0) : Buffer.concat(upgrade.input)
  }

  /** The pending TLS handshake succeeds: `tlsReady` runs. Later input is the decrypted stream. */
  tlsReady(): this {
    this.#io.upgrade = null
    this.#engine.onTlsReady()
    this.#io.runDue()
    return this
  }

  /** The pending TLS handshake fails with `cause`: `exception()` gets a `TlsUpgradeError`. */
  tlsFail(cause: unknown = new Error('handshake failure')): this {
    this.#io.upgrade = null
    this.#engine.onTlsFailed(cause)
    this.#io.runDue()
    return this
  }

  /** The peer sends FIN. */
  end(): this {
    this.#engine.onEnd()
    this.#io.runDue()
    return this
  }

  /** Moves the virtual clock forward by `ms` (a finite number >= 0), firing the deadline if it is passed on the way. */
  advance(ms: number): this {
    this.#io.advance(checkNumber('Harness.advance', 'ms', ms, { min: 0 }))
    return this
  }

  /** Fires the stream's notifier (the protocol's `wakeup` runs, as after a microtask). */
  wakeup(): this {
    this.#engine.wakeup()
    this.#io.runDue()
    return this
  }

  /**
   * The server closes, as `Server.close({ idle })` tells each stream: an idle stream ends at
   * once (with `idle` 'end', the default); otherwise `scope.closing` becomes true and the
   * protocol's `shutdown` handler runs (logged as `'shutdown'`).
   */
  shutdown(options?: { idle?: 'end' | 'wait' }): this {
    const o = checkOptions<{ idle?: unknown }>('Harness.shutdown', 'options', options)
    this.#engine.shutdown(checkIdlePolicy('Harness.shutdown', 'options.idle', o.idle))
    this.#io.runDue()
    return this
  }

  /** Whether the stream was told that the server closes (`scope.closing`). */
  get closing(): boolean {
    return this.#engine.closing
  }

  /** From now on, output stays unwritten (the peer does not read) until `drain()`. */
  stall(): this {
    this.#io.stalled = true
    return this
  }

  /** The peer reads everything written so far, and keeps reading. */
  drain(): this {
    this.#io.drain()
    return this
  }

  /** Reading fails with `cause` (e.g. an `ECONNRESET` error). */
  readError(cause: unknown = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })): this {
    this.#engine.onReadError(cause)
    this.#io.runDue()
    return this
  }

  /** The next write, or the pending one, fails with `cause` (e.g. `EPIPE`). */
  writeError(cause: unknown = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })): this {
    this.#io.writeError(cause)
    return this
  }

  /** Returns the bytes the peer has received since the last call, and forgets them. */
  takeOutput(): Buffer {
    const out = Buffer.concat(this.#io.written)
    this.#io.written.length = 0
    return out
  }

  /** Every byte the peer has received so far. */
  get output(): Buffer {
    return Buffer.concat(this.#io.written)
  }

  /** Bytes written by the stream that the peer has not read (see `stall()`). */
  get unwritten(): number {
    return this.#io.unwrittenBytes
  }

  /** Handler calls in order, as typed records: `{ handler: 'bytesRead', end: 5 }`, `{ handler: 'exception', reason }`... */
  get events(): readonly HandlerCall[] {
    return this.#io.events
  }

  /** The handler calls as short lines, for comparing whole sequences: `['bytesRead 5', 'exception RS_ERR_END_OF_STREAM']`. */
  get log(): string[] {
    return this.#io.events.map(describeCall)
  }

  /** Every exception reason the protocol received. */
  get exceptions(): readonly Exception[] {
    return this.#io.exceptions
  }

  /** How the stream stands: `'running'`, or how it ended (`'done'`, `'error'`). */
  get state(): HarnessState {
    return this.#io.state
  }

  /** The error the stream ended with (what `fatal` received), if any. */
  get error(): Error | undefined {
    return this.#io.error
  }

  /** Number of socket writes so far: all output of one round leaves in one write. */
  get writes(): number {
    return this.#io.writeCount
  }

  /** Whether the stream is reading (false while it waits for a flush or is pushed back, or asleep with input buffered). */
  get isReading(): boolean {
    return this.#io.reading
  }

  /** Whether the write side was half-closed by the protocol. */
  get isHalfClosed(): boolean {
    return this.#io.halfClosed
  }

  /** The armed deadline (ms on the virtual clock), or NaN. */
  get deadline(): number {
    return this.#io.armed
  }

  /** Bytes of input buffered and not consumed. */
  get buffered(): number {
    return this.#engine.input.length
  }

  /** The virtual clock, in ms. */
  get now(): number {
    return this.#io.time
  }
}

/** Deadlines one `advance()` may fire before it gives up on a protocol that never moves on. */
const MAX_FIRINGS = 100_000

/**
 * The engine's I/O in the test kit: writes are recorded (or held while the peer is stalled),
 * the clock is virtual, wakeups and write reports wait in queues until the harness runs them,
 * as a socket would report them in later microtasks.
 */
class ScriptedIO implements StreamIO {
  readonly endpoints: Endpoints
  /** The engine this I/O serves: set by `bind()`, right after the engine is made. */
  #engine!: Engine
  readonly events: HandlerCall[] = []
  readonly exceptions: Exception[] = []
  readonly written: Buffer[] = []
  /** Written but not read by the peer (while stalled). */
  readonly #pending: Buffer[] = []
  unwrittenBytes = 0
  writeCount = 0
  stalled = false
  halfClosed = false
  reading = false
  armed = Number.NaN
  state: HarnessState = 'running'
  error: Error | undefined = undefined
  time: number
  #wakeupDue = false
  /** A wakeup asked for from inside `wakeup`: a real stream runs it on a later turn of the event loop. */
  #deferredWakeupDue = false
  #failNextWrite: unknown = undefined
  /** A TLS upgrade handed over and not finished: the handshake's input so far. */
  upgrade: { readonly settings: TlsUpgrade; readonly input: Buffer[] } | null = null
  /** Reports a socket makes after `write()` returned (a failed write, a completed one). */
  readonly #deferred: (() => void)[] = []

  constructor(now: number, remoteAddress: string) {
    this.time = now
    this.endpoints = { remoteAddress, remotePort: 40000, localAddress: '127.0.0.1', localPort: 7 }
  }

  bind(engine: Engine): void {
    this.#engine = engine
  }

  readonly trace = (call: HandlerCall): void => {
    this.events.push(call)
    if (call.handler === 'exception') this.exceptions.push(call.reason)
  }

  clock(): number {
    return this.time
  }

  advance(ms: number): void {
    const target = this.time + ms
    // Fire every deadline on the way, at its own time, as a real timer would. A protocol that
    // keeps setting deadlines in the past would spin a real stream too: stop and say so.
    for (let fired = 0; !Number.isNaN(this.armed) && this.armed <= target; fired++) {
      if (fired === MAX_FIRINGS) throw new Error(`advance(${ms}): the deadline fired ${MAX_FIRINGS} times; does timeout() keep returning a past deadline?`)
      this.time = Math.max(this.time, this.armed)
      this.armed = Number.NaN
      this.#engine.onTimer()
      this.runDue()
    }
    this.time = target
  }

  drain(): void {
    this.stalled = false
    this.written.push(...this.#pending)
    this.#pending.length = 0
    this.unwrittenBytes = 0
    this.#engine.onWritten()
    this.runDue()
  }

  writeError(cause: unknown): void {
    if (this.unwrittenBytes > 0) {
      this.#engine.onWriteError(cause)
      this.runDue()
    } else {
      this.#failNextWrite = cause
    }
  }

  /** Runs what a real stream would run in later microtasks: write reports and wakeups. */
  runDue(): void {
    for (;;) {
      const report = this.#deferred.shift()
      if (report !== undefined) {
        report()
      } else if (this.#wakeupDue) {
        this.#wakeupDue = false
        this.#engine.onWakeup()
      } else if (this.#deferredWakeupDue) {
        // The event loop moves on: nothing else is due, so the deferred wakeup runs now.
        this.#deferredWakeupDue = false
        this.#engine.onDeferredWakeup()
      } else {
        return
      }
    }
  }

  write(data: Buffer): number {
    this.writeCount++
    const engine = this.#engine
    if (this.#failNextWrite !== undefined) {
      const cause = this.#failNextWrite
      this.#failNextWrite = undefined
      this.unwrittenBytes += data.length
      this.#deferred.push(() => engine.onWriteError(cause))
      return this.unwrittenBytes
    }
    if (this.halfClosed || this.state !== 'running') {
      this.unwrittenBytes += data.length
      this.#deferred.push(() => engine.onWriteError(new Error('write after end')))
      return this.unwrittenBytes
    }
    if (this.stalled) {
      this.#pending.push(data)
      this.unwrittenBytes += data.length
    } else {
      this.written.push(data)
      this.#deferred.push(() => engine.onWritten()) // a socket reports the completed write later
    }
    return this.unwrittenBytes
  }

  unwritten(): number {
    return this.unwrittenBytes
  }

  setReading(on: boolean): void {
    this.reading = on
  }

  armTimer(deadline: number): void {
    this.armed = deadline
  }

  scheduleWakeup(later: boolean): void {
    if (later) this.#deferredWakeupDue = true
    else this.#wakeupDue = true
  }

  halfClose(): void {
    this.halfClosed = true
  }

  reportError(_error: HandlerError): void {
    // The test kit reports handler errors through `error` and `events`.
  }

  startTls(settings: TlsUpgrade, fed: Buffer | null): TlsUpgradeError | null {
    this.upgrade = { settings, input: fed === null ? [] : [fed] }
    return null
  }

  finish(reason: Error | undefined): void {
    this.upgrade = null
    this.state = reason === undefined ? 'done' : 'error'
    this.error = reason
    this.#engine.onClosed() // nothing to linger on: the connection is closed now
  }

  destroy(reason: Error): void {
    this.upgrade = null
    this.state = 'error'
    this.error = reason
    this.#pending.length = 0
    this.unwrittenBytes = 0
    this.#engine.onClosed()
  }
}

/** One line of `Harness.log`: the handler, and its `end` or the reason's code. */
export function describeCall(call: HandlerCall): string {
  switch (call.handler) {
    case 'bytesRead':
      return `bytesRead ${call.end}`
    case 'exception':
    case 'fatal':
      return `${call.handler} ${errorCode(call.reason)}`
    default:
      return call.handler
  }
}

/** The `code` of an error (ours or Node's), else its name. */
function errorCode(err: Error): string {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : err.name
}
