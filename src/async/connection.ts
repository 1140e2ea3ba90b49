/**
 * The async/await API: a `Connection` whose reads are promises, on the same engine as the
 * state-machine API (same buffers, limits, deadlines and error codes).
 *
 * A small protocol (`Bridge`) sits on the stream. A read first tries what is already buffered —
 * pipelined requests are answered without a round trip through the engine, with one resolved
 * promise — and only otherwise hands the engine an expectation; `bytesRead` copies the bytes and
 * resolves. While no read waits, the bridge reads ahead up to READ_AHEAD bytes, then sleeps, so
 * nothing more is read from the socket (backpressure).
 */

import type { Address } from '../address.js'
import type { Buf } from '../buf.js'
import { type ClientOptions, startClient } from '../connect.js'
import { ClosedError, EndOfStreamError, type Exception, HandlerError, InvalidArgumentError, TimeoutError } from '../errors.js'
import type { Framer } from '../framing/framer.js'
import { Intent, toBuffer } from '../intent.js'
import type { Factory, Protocol, Scope, Transport } from '../protocol.js'
import { Stream } from '../stream.js'

/** Options of every wait: a timeout in ms and/or an `AbortSignal`. */
export interface WaitOptions {
  /** Reject with a `TimeoutError` (`RS_ERR_TIMEOUT`) after this many ms: a number >= 0, `Infinity` for none. */
  timeout?: number
  /**
   * Reject with the signal's reason (an `AbortError` `DOMException` unless `abort()` was given
   * one) when it aborts; an already-aborted signal rejects at once, before anything is consumed.
   */
  signal?: AbortSignal
}

/** Options of {@link Connection.readUntil}. */
export interface ReadUntilOptions extends WaitOptions {
  /**
   * Most bytes before the delimiter, a non-negative integer; more is a `LimitReachedError`.
   * Required, as for `expectDelimiter`.
   */
  max: number
}

/** Options of {@link open}: those of every client (`connectTimeout`, `tls`, `lookup` and the stream options). */
export type OpenOptions = ClientOptions

/** What a wait asks the engine for. */
type WaitKind = 'bytes' | 'delimiter' | 'flush'

/**
 * While no read waits, the bridge keeps reading until this many bytes are buffered: pipelined
 * requests then arrive while the handler works, and the socket is not paused and resumed
 * between two reads. Past it, nothing is read until the next wait (backpressure).
 */
const READ_AHEAD = 64 * 1024

/**
 * A connection used with `await`. One read at a time: while a `readExactly`, `readUntil`,
 * `flush` or step of `frames()` waits (until its promise settles), starting another rejects with
 * `InvalidArgumentError` (`RS_ERR_INVALID_ARG`) and consumes nothing, even when its bytes are
 * already buffered, so the stream is always read in order. A read met from the buffer settles
 * within its call. Bad arguments reject (or, for `write` and `destroy`, throw) with
 * `InvalidArgumentError`.
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
  /**
   * A read, a step of `frames()` or a flush is in progress, from its call until its promise
   * settles: another one must not take bytes owed to it. Reads met from the buffer finish within
   * the call and never set it.
   */
  #busy = false
  /**
   * The last delimiter given to `readUntil` and its bytes: a string is converted (and checked)
   * once, not per read. NONE at first, so that no argument (not even `null`) matches it.
   */
  #delimiter: unknown = NONE
  #needle: Buffer = EMPTY

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

  /**
   * Resolves with the next `n` bytes (a copy), consuming them.
   *
   * Rejects with `InvalidArgumentError` if `n` is not a non-negative integer, if `options` is
   * invalid, or if another read is in progress; with the signal's reason (an `AbortError` by
   * default) if `options.signal` is aborted — before anything is consumed, or while waiting;
   * with a `TimeoutError` after `options.timeout` ms; with an `EndOfStreamError` if the peer
   * ends the stream first.
   */
  readExactly(n: number, options?: WaitOptions): Promise<Buffer> {
    // Not async: bytes already buffered are returned without a second promise layer.
    try {
      if (!(Number.isSafeInteger(n) && n >= 0)) throw invalid('readExactly', 'n', n, 'a non-negative integer')
      if (options !== undefined) checkWaitOptions('readExactly', options)
      if (this.#busy) throw inProgress('readExactly')
      const signal = options?.signal
      if (signal?.aborted) return Promise.reject(abortReason(signal))
      const input = this.#bridge.input
      if (input.length >= n) return Promise.resolve(takeCopy(input, n, 0))
      return this.#readLater('bytes', n, null, 0, options ?? NO_OPTIONS)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Resolves with the bytes before the next `delimiter` (a copy), consuming them and the
   * delimiter.
   *
   * `delimiter` is a non-empty string (UTF-8) or `Uint8Array`; `options.max` (required) is the
   * most bytes before it. Rejects with a `LimitReachedError` when `max` bytes pass without one;
   * with `InvalidArgumentError` for a bad argument or if another read is in progress; on an
   * aborted signal, a timeout or the end of the stream as {@link Connection.readExactly} does.
   */
  readUntil(delimiter: Uint8Array | string, options: ReadUntilOptions): Promise<Buffer> {
    // Not async: a line already buffered (pipelined requests) costs one resolved promise.
    try {
      const needle = delimiter === this.#delimiter ? this.#needle : this.#convert(delimiter)
      if (options === null || typeof options !== 'object') throw invalid('readUntil', 'options', options, 'an object with max')
      const max = options.max
      if (!(Number.isSafeInteger(max) && max >= 0)) throw invalid('readUntil', 'options.max', max, 'a non-negative integer')
      checkWaitOptions('readUntil', options)
      if (this.#busy) throw inProgress('readUntil')
      const signal = options.signal
      if (signal?.aborted) return Promise.reject(abortReason(signal))
      const input = this.#bridge.input
      const at = search(input, needle, 0)
      if (at >= 0 && at <= max) return Promise.resolve(takeCopy(input, at, needle.length))
      // The engine's search starts past what was searched here (its last delimiter-width overlap).
      const offset = Math.max(input.length - needle.length + 1, 0)
      return this.#readLater('delimiter', max, needle, offset, options)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** A read the buffer cannot meet: the engine waits for it, and no other read starts meanwhile. */
  async #readLater(kind: WaitKind, n: number, needle: Buffer | null, offset: number, options: WaitOptions): Promise<Buffer> {
    this.#busy = true
    try {
      return (await this.#bridge.wait(kind, n, needle, offset, options, true)) as Buffer
    } finally {
      this.#busy = false
    }
  }

  #convert(delimiter: Uint8Array | string): Buffer {
    if (typeof delimiter !== 'string' && !(delimiter instanceof Uint8Array)) {
      throw invalid('readUntil', 'delimiter', delimiter, 'a non-empty string or Uint8Array')
    }
    const needle = toBuffer(delimiter)
    if (needle.length === 0) throw invalid('readUntil', 'delimiter', delimiter, 'a non-empty string or Uint8Array')
    this.#delimiter = delimiter
    this.#needle = needle
    return needle
  }

  /**
   * Yields frames cut by `framer` (copies of their payloads) until the peer ends the stream
   * cleanly between frames. A limit, a bad frame or an end inside a frame throws.
   *
   * Each step (each `next()`) is a read: it throws `InvalidArgumentError` if another read is in
   * progress, and the signal's reason if `options.signal` is aborted, before taking any frame;
   * `options` apply to every wait. Between steps (in the body of a `for await`) other reads may
   * run. Bad arguments throw `InvalidArgumentError` from the first `next()`.
   */
  async *frames(framer: Framer, options?: WaitOptions): AsyncGenerator<Buffer, void, undefined> {
    if (framer === null || typeof framer !== 'object' || typeof framer.scan !== 'function' || typeof framer.encode !== 'function') {
      throw invalid('frames', 'framer', framer, 'a Framer (an object with scan and encode functions)')
    }
    if (options !== undefined) checkWaitOptions('frames', options)
    const waitOptions = options ?? NO_OPTIONS
    const signal = waitOptions.signal
    const input = this.#bridge.input
    for (;;) {
      // Checked again after every wait and every yield: the steps are separate reads.
      if (this.#busy) throw inProgress('frames')
      if (signal?.aborted) throw abortReason(signal)
      const scan = framer.scan(input)
      switch (scan.kind) {
        case 'frame': {
          const payload = input.copy(scan.start, scan.end)
          input.consume(scan.size)
          yield payload
          continue
        }
        case 'error':
          throw scan.error
        case 'bytes':
        case 'delimiter':
          if (input.length === 0 && this.#bridge.ended) return
          this.#busy = true
          try {
            if (scan.kind === 'bytes') await this.#waitOrEnd('bytes', scan.n, null, waitOptions)
            else await this.#waitOrEnd('delimiter', scan.max, scan.delimiter, waitOptions)
          } finally {
            this.#busy = false
          }
          break
        default:
          // A custom framer's bad answer would otherwise loop here forever.
          throw invalid('frames', 'framer.scan(input).kind', (scan as { kind: unknown }).kind, "'frame', 'bytes', 'delimiter' or 'error'")
      }
      if (input.length === 0 && this.#bridge.ended) return
    }
  }

  /**
   * Queues `data` (a string, UTF-8, or a `Uint8Array`) for sending. Writes made in the same turn
   * of the event loop leave together; call `flush()` to wait until the kernel has them.
   * Throws `InvalidArgumentError` for other data, `ClosedError` once the connection is closed.
   */
  write(data: Uint8Array | string): void {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw invalid('write', 'data', data, 'a string or Uint8Array')
    this.#bridge.write(data)
  }

  /**
   * Resolves once at most `n` bytes remain unwritten (the pushback point). A flush is a wait like
   * a read: it rejects with `InvalidArgumentError` while a read is in progress (and reads reject
   * while it waits), for a bad `n` or bad `options`, and with the signal's reason when aborted.
   */
  async flush(n = 0, options?: WaitOptions): Promise<void> {
    if (!(Number.isSafeInteger(n) && n >= 0)) throw invalid('flush', 'n', n, 'a non-negative integer')
    if (options !== undefined) checkWaitOptions('flush', options)
    if (this.#busy) throw inProgress('flush')
    const waitOptions = options ?? NO_OPTIONS
    if (waitOptions.signal?.aborted) throw abortReason(waitOptions.signal)
    this.#busy = true
    try {
      await this.#bridge.wait('flush', n, null, 0, waitOptions, false)
    } finally {
      this.#busy = false
    }
  }

  /** Flushes, closes the connection cleanly, and resolves once the socket is closed. */
  async end(): Promise<void> {
    await this.#bridge.finish()
  }

  /** Closes at once, dropping unwritten output. `reason`, if given, must be an `Error`. */
  destroy(reason?: Error): void {
    if (reason !== undefined && !(reason instanceof Error)) throw invalid('destroy', 'reason', reason, 'an Error or undefined')
    this.#bridge.destroy(reason)
  }

  /** A wait that ends quietly when the peer ended the stream with nothing buffered. */
  async #waitOrEnd(kind: WaitKind, n: number, delimiter: Buffer | null, options: WaitOptions): Promise<void> {
    try {
      await this.#bridge.wait(kind, n, delimiter, 0, options, false)
    } catch (err) {
      if (err instanceof EndOfStreamError && this.#bridge.input.length === 0) return
      throw err
    }
  }
}

/** `#delimiter` before the first `readUntil`: equal to no argument. */
const NONE = Symbol('no delimiter yet')
/** The options of a wait given none: shared, not allocated per call. */
const NO_OPTIONS: WaitOptions = Object.freeze({})

/** Checks the `timeout` and `signal` of `options` (any object); throws `InvalidArgumentError`. */
function checkWaitOptions(method: string, options: WaitOptions): void {
  if (options === null || typeof options !== 'object') throw invalid(method, 'options', options, 'an object or undefined')
  const { timeout, signal } = options
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0)) {
    throw invalid(method, 'options.timeout', timeout, 'a number of ms >= 0 (Infinity for none)')
  }
  if (signal !== undefined && !isAbortSignal(signal)) throw invalid(method, 'options.signal', signal, 'an AbortSignal or undefined')
}

/** Duck-typed, as Node checks signals: what the bridge uses of one (a polyfill's signal passes too). */
function isAbortSignal(value: unknown): value is AbortSignal {
  if (value === null || typeof value !== 'object') return false
  const signal = value as Partial<AbortSignal>
  return typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function' && typeof signal.removeEventListener === 'function'
}

/** What an aborted signal rejects with: its reason, as `fetch` and `timers/promises` do. */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}

function inProgress(method: string): InvalidArgumentError {
  return new InvalidArgumentError(`${method}: another read is in progress; start the next read after the previous one settled`)
}

/** `method: name must be expected, got value`. */
function invalid(method: string, name: string, value: unknown, expected: string): InvalidArgumentError {
  return new InvalidArgumentError(`${method}: ${name} must be ${expected}, got ${describeValue(value)}`)
}

/** A value for an error message; never throws (no JSON of objects, no user `toString`). */
function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value)
    case 'bigint':
      return `${value}n`
    case 'symbol':
      return 'a symbol'
    case 'function':
      return 'a function'
  }
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  let name: unknown
  try {
    name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
  } catch {
    // A Proxy may throw from any trap: the type is enough.
  }
  if (typeof name !== 'string' || name === '' || name === 'Object') return 'an object'
  return `${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name}`
}

const EMPTY = Buffer.alloc(0)

/** Position of `needle` in `input` from `from`, or -1; a one-byte needle is searched as a number (a plain memchr). */
function search(input: Buf, needle: Buffer, from: number): number {
  return input.indexOf(needle.length === 1 ? (needle[0] as number) : needle, from)
}

/**
 * A rejection settled on a later turn of the event loop: a handler that retries its reads in a
 * loop after the end (catching every error) then yields to the event loop on each turn instead
 * of spinning in microtasks, and other connections are served meanwhile.
 */
function rejectLater(reason: Error): Promise<never> {
  return new Promise((_resolve, reject) => setImmediate(reject, reason))
}

/** A copy of the first `n` readable bytes of `input`, then consumes them and `skip` more. */
function takeCopy(input: Buf, n: number, skip: number): Buffer {
  const bytes = input.copy(0, n)
  input.consume(n + skip)
  return bytes
}

/** The protocol that turns engine events into settled promises. @internal */
export class Bridge implements Protocol {
  /** Set by the factory: the stream's transport and scope. */
  transport: Transport | null = null
  #notify: (() => void) | null = null
  #stream: Stream | null = null
  /** A read (or flush) is in progress: at most one at a time. Its expectation is `#waitIntent`. */
  #waiting = false
  /** The engine has taken `#waitIntent`: its events (bytesRead, timeout, a limit) are the wait's. */
  #taken = false
  /**
   * The wait takes its bytes in `bytesRead` (readUntil, readExactly) and resolves with the copy.
   * Consuming there, not later, is also what shows the engine the bridge is not spinning.
   */
  #takes = false
  /** Bytes after the taken ones that are consumed too (the delimiter). */
  #skip = 0
  #resolve: ((bytes: Buffer | null) => void) | null = null
  #reject: ((reason: unknown) => void) | null = null
  /** The signal of the current wait, if any. */
  #signal: AbortSignal | undefined = undefined
  /** Expectation of the current wait; one per bridge, reset for each wait (the engine copies it). */
  readonly #waitIntent: Intent<Bridge> = Intent.of<Bridge>(this).sleep()
  /** Expectation while no read waits: any byte more than is buffered (see READ_AHEAD); no rate check, nobody waits. */
  readonly #readAhead: Intent<Bridge> = Intent.of<Bridge>(this).expectBytes(1).minRate(null)
  readonly #sleep: Intent<Bridge> = Intent.of<Bridge>(this).sleep()
  /** Reading ahead hit the stream's maxBufferSize (set below READ_AHEAD): read only for waits. */
  #noReadAhead = false
  /** `end()` was called: the next turn ends the stream cleanly. */
  #finishing = false
  /** A flush of written output is scheduled. */
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
    return this.#sleep
  }

  /** Follows the stream to its end: `end()` resolves once the socket is closed. */
  attach(stream: Stream): void {
    this.#stream = stream
    void stream.closed.then((reason) => this.#markClosed(reason))
  }

  #markClosed(reason: Error | undefined): void {
    if (this.closed !== null) return
    this.closed = { reason }
    this.#settle(reason ?? new ClosedError('connection closed'))
    for (const callback of this.#onClosed) callback()
    this.#onClosed = []
  }

  fatal(reason: Error): void {
    this.#markClosed(reason)
  }

  /**
   * Waits (through the engine) until `n` bytes are buffered, a delimiter is found within `n`
   * bytes (searching from `offset`), or at most `n` bytes are unwritten. With `takes`, resolves with
   * a copy of the bytes read (before the delimiter), consumed; else with null, the caller takes them.
   */
  wait(kind: WaitKind, n: number, delimiter: Buffer | null, offset: number, options: WaitOptions, takes: boolean): Promise<Buffer | null> {
    if (this.closed !== null) return rejectLater(this.closed.reason ?? new ClosedError('connection closed'))
    if (this.ended && kind !== 'flush') return rejectLater(new EndOfStreamError())
    // The Connection checked its arguments and that no other wait runs; these are a backstop (an
    // already-aborted signal never fires its listener, so the wait would never end).
    if (this.#waiting) return Promise.reject(inProgress('wait'))
    const { signal, timeout } = options
    if (signal?.aborted) return Promise.reject(abortReason(signal))
    const intent = this.#waitIntent
    if (kind === 'bytes') intent.expectBytes(n)
    else if (kind === 'flush') intent.expectFlush(n)
    else intent.expectDelimiter(delimiter as Buffer, { max: n, offset })
    if (timeout === undefined) intent.deadline(Number.POSITIVE_INFINITY)
    else intent.timeout(timeout)
    const promise = new Promise<Buffer | null>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.#waiting = true
    this.#taken = false
    this.#takes = takes && kind !== 'flush'
    this.#skip = delimiter === null ? 0 : delimiter.length
    if (signal !== undefined) {
      this.#signal = signal
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
    this.#wake() // the engine takes the new expectation in `wakeup`
    return promise
  }

  readonly #onAbort = (): void => {
    if (this.#signal !== undefined) this.#settle(abortReason(this.#signal))
  }

  write(data: Uint8Array | string): void {
    if (this.closed !== null || this.transport === null) throw new ClosedError('connection closed')
    this.transport.output.write(data)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      // After the current burst of awaits settles: process.nextTick runs once the microtask
      // queue is empty, so all of it leaves in one socket write (a microtask would interleave
      // with the awaits and write line by line). Usually the next wait's wakeup wrote it already.
      process.nextTick(this.#flushNow)
    }
  }

  readonly #flushNow = (): void => {
    this.#flushScheduled = false
    if (this.transport !== null && this.transport.output.length > 0) this.#wake()
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

  /**
   * Resolves (`error` null) or rejects the current wait, if any. `error` is unknown: a signal's
   * reason may be any value (never null, see abortReason).
   */
  #settle(error: unknown, bytes: Buffer | null = null): void {
    if (!this.#waiting) return
    const resolve = this.#resolve as (bytes: Buffer | null) => void
    const reject = this.#reject as (reason: unknown) => void
    this.#waiting = false
    this.#taken = false
    this.#resolve = null
    this.#reject = null
    if (this.#signal !== undefined) {
      this.#signal.removeEventListener('abort', this.#onAbort)
      this.#signal = undefined
    }
    if (error === null) resolve(bytes)
    else {
      reject(error)
      this.#wake() // stop waiting for the abandoned expectation
    }
  }

  /** The expectation for the current wait, or reading ahead, or sleep. */
  #next(): Intent<Bridge> {
    if (this.#finishing) return this.#done()
    if (this.#waiting) {
      this.#taken = true
      return this.#waitIntent
    }
    const buffered = (this.transport as Transport).input.length
    if (this.ended || this.#noReadAhead || buffered >= READ_AHEAD) return this.#sleep
    return this.#readAhead.expectBytes(buffered + 1)
  }

  wakeup(): Intent<Bridge> {
    return this.#next()
  }

  bytesRead(t: Transport, end: number): Intent<Bridge> {
    // Reading ahead also ends here: only a taken wait is met.
    if (this.#taken) this.#settle(null, this.#takes ? takeCopy(t.input, end, this.#skip) : null)
    return this.#next()
  }

  bytesFlushed(): Intent<Bridge> {
    if (this.#taken) this.#settle(null)
    return this.#next()
  }

  timeout(): Intent<Bridge> {
    if (this.#taken) this.#settle(new TimeoutError('read timed out'))
    return this.#next()
  }

  exception(_t: Transport, reason: Exception): Intent<Bridge> {
    if (reason.code === 'RS_ERR_END_OF_STREAM') this.ended = true
    if (this.#taken || reason.code === 'RS_ERR_END_OF_STREAM' || reason.code === 'RS_ERR_READ') this.#settle(reason)
    // A limit while reading ahead: maxBufferSize is below READ_AHEAD; read only for waits from now on.
    else if (reason.code === 'RS_ERR_LIMIT_REACHED') this.#noReadAhead = true
    // After end of stream the read side is over; the write side stays usable until end().
    return reason.code === 'RS_ERR_READ' ? Intent.error(reason) : this.#next()
  }

  /** Ends cleanly; without a socket to follow (the test kit), the end is now. */
  #done(): Intent<Bridge> {
    if (this.#stream === null) queueMicrotask(() => this.#markClosed(undefined))
    return Intent.done()
  }
}

/**
 * Opens a connection for use with `await`: TCP `{ host, port }` or Unix `{ path }`, with TLS
 * when `tls` is given. Rejects with a `ConnectError` like `connect()`, and with an
 * `InvalidArgumentError` for a bad address or bad options: the same checks and messages as
 * `connect()`, naming `open`.
 */
export async function open(address: Address, options?: OpenOptions): Promise<Connection> {
  const bridge = new Bridge()
  const stream = await startClient('open', address, bridge.factory, options)
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
 * The connection is ended when the handler returns. If it throws (or rejects), the connection
 * is destroyed with a `HandlerError` (handler `'async handler'`, the thrown value as `cause`),
 * reported to the server's or client's `onError` (by default one line on stderr); `onError`
 * here, if given, is called first with the thrown value.
 */
export function handleAsync(handler: (conn: Connection) => Promise<void> | void, onError?: (err: unknown) => void): Factory {
  if (typeof handler !== 'function') throw new InvalidArgumentError(`handleAsync: handler must be a function, got ${describeValue(handler)}`)
  if (onError !== undefined && typeof onError !== 'function') {
    throw new InvalidArgumentError(`handleAsync: onError must be a function or undefined, got ${describeValue(onError)}`)
  }
  return (t: Transport, seed: unknown, scope: Scope) => {
    const bridge = new Bridge()
    const intent = bridge.factory(t, seed, scope)
    // On a socket the transport is the Stream itself; in the test kit it is not.
    if (t instanceof Stream) bridge.attach(t)
    const conn = new Connection(bridge)
    // Start the handler once the stream has taken the first Intent.
    // A handler that throws synchronously or returns no promise is caught the same way.
    queueMicrotask(() => {
      Promise.resolve()
        .then(() => handler(conn))
        .then(
          () => conn.end(),
          (err: unknown) => {
            try {
              onError?.(err)
            } catch {
              // the connection is destroyed below all the same
            }
            conn.destroy(new HandlerError('async handler', err))
          },
        )
    })
    return intent
  }
}
