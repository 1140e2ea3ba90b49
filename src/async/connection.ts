/**
 * The async/await API: a `Connection` whose reads are promises, on the same engine as the
 * state-machine API (same buffers, limits, deadlines and error codes).
 *
 * A small protocol (`Bridge`) sits on the stream. While no read is waiting it sleeps, so nothing
 * is read from the socket (backpressure comes for free). A read first tries what is already
 * buffered — pipelined requests are answered without a round trip through the engine — and only
 * otherwise hands the engine an expectation and waits for `bytesRead`.
 */
import type { Buf } from '../buf.js'
import { type Address, connect } from '../connect.js'
import { ClosedError, EndOfStreamError, type Exception, InvalidArgumentError, TimeoutError } from '../errors.js'
import type { Framer } from '../framing/framer.js'
import { Intent, toBuffer } from '../intent.js'
import type { Factory, Protocol, Scope, Transport } from '../protocol.js'
import { Stream, type StreamOptions } from '../stream.js'
import type { TlsClientOptions } from '../tls.js'

/** Options of every wait: a timeout in ms and/or an `AbortSignal`. */
export interface WaitOptions {
  /** Reject with a `TimeoutError` (`RS_ERR_TIMEOUT`) after this many ms. */
  timeout?: number
  /** Reject with the signal's reason when it aborts. */
  signal?: AbortSignal
}

/** Options of {@link Connection.readUntil}. */
export interface ReadUntilOptions extends WaitOptions {
  /** Most bytes before the delimiter; more is a `LimitReachedError`. Required, as for `expectDelimiter`. */
  max: number
}

/** Options of {@link open}. */
export interface OpenOptions extends StreamOptions {
  /** Give up connecting after this many ms. @default 1000 */
  connectTimeout?: number
  /** Connect with TLS (the server's certificate is verified). */
  tls?: TlsClientOptions
}

/** What the engine is asked to wait for on behalf of a pending read. */
type Need = { kind: 'bytes'; n: number } | { kind: 'delimiter'; delimiter: Buffer; max: number } | { kind: 'flush'; n: number }

/** The read (or flush) in progress: at most one at a time. */
interface Waiter {
  readonly need: Need
  readonly timeout: number | undefined
  resolve(): void
  reject(err: Error): void
}

/**
 * A connection used with `await`. Reads are sequential: start the next after the previous
 * settled (two at once reject with `InvalidArgumentError`).
 *
 * ```ts
 * const conn = await open({ host: '127.0.0.1', port: 6379 })
 * conn.write('PING\r\n')
 * const reply = await conn.readUntil('\r\n', { max: 1024, timeout: 1000 })
 * await conn.end()
 * ```
 */
export class Connection {
  readonly #bridge: Bridge

  /** @internal */
  constructor(bridge: Bridge) {
    this.#bridge = bridge
  }

  /** The peer's address, when known. */
  get remoteAddress(): string | undefined {
    return this.#bridge.transport?.remoteAddress
  }
  /** The peer's port (TCP only). */
  get remotePort(): number | undefined {
    return this.#bridge.transport?.remotePort
  }
  /** Whether the connection has ended (cleanly or not). */
  get isClosed(): boolean {
    return this.#bridge.closed !== null
  }

  /** Resolves with the next `n` bytes (a copy), consuming them. */
  async readExactly(n: number, options: WaitOptions = {}): Promise<Buffer> {
    if (!(Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError(`readExactly: n must be a non-negative integer, got ${n}`)
    const input = this.#bridge.input
    if (input.length < n) await this.#bridge.wait({ kind: 'bytes', n }, options)
    const bytes = Buffer.from(input.view(0, n))
    input.consume(n)
    return bytes
  }

  /**
   * Resolves with the bytes before the next `delimiter` (a copy), consuming them and the
   * delimiter. Rejects with a `LimitReachedError` when `max` bytes pass without one.
   */
  async readUntil(delimiter: Uint8Array | string, options: ReadUntilOptions): Promise<Buffer> {
    const needle = toBuffer(delimiter)
    const { max } = options
    if (!(Number.isInteger(max) && max >= 0)) throw new InvalidArgumentError(`readUntil: max must be a non-negative integer, got ${max}`)
    const input = this.#bridge.input
    let at = input.indexOf(needle)
    if (at < 0 || at > max) {
      await this.#bridge.wait({ kind: 'delimiter', delimiter: needle, max }, options)
      at = input.indexOf(needle)
    }
    const bytes = Buffer.from(input.view(0, at))
    input.consume(at + needle.length)
    return bytes
  }

  /**
   * Yields frames cut by `framer` (copies of their payloads) until the peer ends the stream
   * cleanly between frames. A limit, a bad frame or an end inside a frame throws.
   */
  async *frames(framer: Framer, options: WaitOptions = {}): AsyncGenerator<Buffer, void, undefined> {
    const input = this.#bridge.input
    for (;;) {
      const scan = framer.scan(input)
      switch (scan.kind) {
        case 'frame': {
          const payload = Buffer.from(input.view(scan.start, scan.end))
          input.consume(scan.size)
          yield payload
          continue
        }
        case 'error':
          throw scan.error
        case 'bytes':
          if (input.length === 0 && this.#bridge.ended) return
          await this.#waitOrEnd({ kind: 'bytes', n: scan.n }, options)
          break
        case 'delimiter':
          if (input.length === 0 && this.#bridge.ended) return
          await this.#waitOrEnd({ kind: 'delimiter', delimiter: scan.delimiter, max: scan.max }, options)
          break
      }
      if (input.length === 0 && this.#bridge.ended) return
    }
  }

  /**
   * Queues `data` for sending. Writes made in the same turn of the event loop leave together;
   * call `flush()` to wait until the kernel has them.
   */
  write(data: Uint8Array | string): void {
    this.#bridge.write(data)
  }

  /** Resolves once at most `n` bytes remain unwritten (the pushback point). */
  async flush(n = 0, options: WaitOptions = {}): Promise<void> {
    await this.#bridge.wait({ kind: 'flush', n }, options)
  }

  /** Flushes, closes the connection cleanly, and resolves once the socket is closed. */
  async end(): Promise<void> {
    await this.#bridge.finish()
  }

  /** Closes at once, dropping unwritten output. */
  destroy(reason?: Error): void {
    this.#bridge.destroy(reason)
  }

  /** A wait that ends quietly when the peer ended the stream with nothing buffered. */
  async #waitOrEnd(need: Need, options: WaitOptions): Promise<void> {
    try {
      await this.#bridge.wait(need, options)
    } catch (err) {
      if (err instanceof EndOfStreamError && this.#bridge.input.length === 0) return
      throw err
    }
  }
}

/** The protocol that turns engine events into settled promises. @internal */
export class Bridge implements Protocol {
  /** Set by the factory: the stream's transport and scope. */
  transport: Transport | null = null
  #notify: (() => void) | null = null
  #stream: Stream | null = null
  #waiter: Waiter | null = null
  /** `end()` was called: the next turn ends the stream cleanly. */
  #finishing = false
  /** A notifier call is due to take a new waiter, or flush writes. */
  #flushScheduled = false
  /** The peer has ended its side (after EndOfStream was delivered). */
  ended = false
  /** Why the stream ended (`undefined` = cleanly), or null while it runs. */
  closed: { reason: Error | undefined } | null = null
  #onClosed: Array<() => void> = []

  get input(): Buf {
    if (this.transport === null) throw new ClosedError('not connected')
    return this.transport.input
  }

  /** The stream factory: the bridge starts asleep. */
  readonly factory: Factory = (t: Transport, _seed: unknown, scope: Scope): Intent<Bridge> => {
    this.transport = t
    this.#notify = scope.notifier()
    return Intent.of<Bridge>(this).sleep()
  }

  /** Follows the stream to its end: `end()` resolves once the socket is closed. */
  attach(stream: Stream): void {
    this.#stream = stream
    void stream.closed.then((reason) => this.#markClosed(reason))
  }

  #markClosed(reason: Error | undefined): void {
    if (this.closed !== null) return
    this.closed = { reason }
    const waiter = this.#waiter
    this.#waiter = null
    waiter?.reject(reason ?? new ClosedError('connection closed'))
    for (const callback of this.#onClosed) callback()
    this.#onClosed = []
  }

  fatal(reason: Error): void {
    this.#markClosed(reason)
  }

  /** Waits (through the engine) until `need` is met; the caller then takes the bytes. */
  wait(need: Need, options: WaitOptions): Promise<void> {
    if (this.closed !== null) return Promise.reject(this.closed.reason ?? new ClosedError('connection closed'))
    if (this.ended && need.kind !== 'flush') return Promise.reject(new EndOfStreamError())
    if (this.#waiter !== null) return Promise.reject(new InvalidArgumentError('another read is in progress: reads must be sequential'))
    const { signal, timeout } = options
    if (timeout !== undefined && !(timeout >= 0)) return Promise.reject(new InvalidArgumentError(`timeout must be >= 0, got ${timeout}`))
    signal?.throwIfAborted()
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => this.#settle(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): void => signal?.removeEventListener('abort', onAbort)
      this.#waiter = {
        need,
        timeout,
        resolve: () => {
          done()
          resolve()
        },
        reject: (err) => {
          done()
          reject(err)
        },
      }
      this.#wake() // the engine takes the new expectation in `wakeup`
    })
  }

  write(data: Uint8Array | string): void {
    if (this.closed !== null || this.transport === null) throw new ClosedError('connection closed')
    this.transport.output.write(data)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      // After the current burst of awaits settles (they are microtasks), so all of it leaves
      // in one socket write: a microtask would interleave with them and write line by line.
      setImmediate(this.#flushNow)
    }
  }

  readonly #flushNow = (): void => {
    this.#flushScheduled = false
    this.#wake()
  }

  finish(): Promise<void> {
    if (this.closed !== null) return Promise.resolve()
    return new Promise<void>((resolve) => {
      this.#onClosed.push(resolve)
      this.#finishing = true
      this.#wake()
    })
  }

  destroy(reason?: Error): void {
    this.#stream?.close(reason)
  }

  #wake(): void {
    this.#notify?.()
  }

  #settle(error: Error | null): void {
    const waiter = this.#waiter
    this.#waiter = null
    if (waiter === null) return
    if (error === null) waiter.resolve()
    else {
      waiter.reject(error)
      this.#wake() // back to sleep: stop reading for the abandoned wait
    }
  }

  /** The expectation for the current waiter, or sleep. */
  #next(): Intent<Bridge> {
    if (this.#finishing) return this.#done()
    const waiter = this.#waiter
    if (waiter === null) return Intent.of<Bridge>(this).sleep()
    const need = waiter.need
    const builder = Intent.of<Bridge>(this)
    const intent =
      need.kind === 'bytes'
        ? builder.expectBytes(need.n)
        : need.kind === 'delimiter'
          ? builder.expectDelimiter(need.delimiter, { max: need.max })
          : builder.expectFlush(need.n)
    return waiter.timeout === undefined ? intent : intent.timeout(waiter.timeout)
  }

  wakeup(): Intent<Bridge> {
    return this.#next()
  }

  bytesRead(): Intent<Bridge> {
    this.#settle(null) // the bytes stay in `input` for the read that waited
    return this.#next()
  }

  bytesFlushed(): Intent<Bridge> {
    this.#settle(null)
    return this.#next()
  }

  timeout(): Intent<Bridge> {
    this.#settle(new TimeoutError('read timed out'))
    return this.#next()
  }

  exception(_t: Transport, reason: Exception): Intent<Bridge> {
    if (reason.code === 'RS_ERR_END_OF_STREAM') this.ended = true
    this.#settle(reason)
    // After end of stream the read side is over; the write side stays usable until end().
    return reason.code === 'RS_ERR_READ' ? Intent.error(reason) : this.#sleepOrFinish()
  }

  #sleepOrFinish(): Intent<Bridge> {
    return this.#finishing ? this.#done() : Intent.of<Bridge>(this).sleep()
  }

  /** Ends cleanly; without a socket to follow (the test kit), the end is now. */
  #done(): Intent<Bridge> {
    if (this.#stream === null) queueMicrotask(() => this.#markClosed(undefined))
    return Intent.done()
  }
}

/**
 * Opens a connection for use with `await`: TCP `{ host, port }` or Unix `{ path }`, with TLS
 * when `tls` is given. Rejects with a `ConnectError` like `connect()`.
 */
export async function open(address: Address, options: OpenOptions = {}): Promise<Connection> {
  const bridge = new Bridge()
  const stream = await connect(address, bridge.factory, options)
  bridge.attach(stream)
  return new Connection(bridge)
}

/**
 * Adapts an async connection handler to a stream factory, for `serve()`:
 *
 * ```ts
 * await serve({ port: 7000 }, handleAsync(async (conn) => {
 *   for await (const line of conn.frames(lines({ max: 1024 }))) conn.write(`${line}\n`)
 * }))
 * ```
 * The connection is ended when the handler returns, and destroyed if it throws.
 */
export function handleAsync(handler: (conn: Connection) => Promise<void>, onError?: (err: unknown) => void): Factory {
  return (t: Transport, seed: unknown, scope: Scope) => {
    const bridge = new Bridge()
    const intent = bridge.factory(t, seed, scope)
    // On a socket the transport is the Stream itself; in the test kit it is not.
    if (t instanceof Stream) bridge.attach(t)
    const conn = new Connection(bridge)
    // Start the handler once the stream has taken the first Intent.
    queueMicrotask(() => {
      handler(conn).then(
        () => conn.end(),
        (err: unknown) => {
          onError?.(err)
          conn.destroy(err instanceof Error ? err : new Error(String(err)))
        },
      )
    })
    return intent
  }
}
