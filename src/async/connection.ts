/**
 * The async/await API: a `Connection` whose reads are promises, on the same engine as the
 * state-machine API (same buffers, limits, deadlines and error codes).
 *
 * A small protocol (`Bridge`, bridge.ts) sits on the stream. A read first tries what is already
 * buffered — pipelined requests are answered without a round trip through the engine, with one
 * resolved promise — and only otherwise hands the bridge a wait; `bytesRead` copies the bytes and
 * resolves. While no read waits, the bridge reads ahead, then sleeps (backpressure).
 */

import type { Address } from '../address.js'
import type { Buf } from '../buf.js'
import { type ClientOptions, startClient } from '../connect.js'
import type { Detached } from '../detach.js'
import { ClosedError, EndOfStreamError, HandlerError, InvalidArgumentError, type LimitReachedError } from '../errors.js'
import type { Framer, Scan } from '../framing/framer.js'
import { toBuffer } from '../intent.js'
import type { Factory, Scope, Transport } from '../protocol.js'
import { TlsUpgrade } from '../starttls.js'
import { checkBytes, checkFunction, invalid } from '../validate.js'
import { abortReason, Bridge, inProgress, takeCopy } from './bridge.js'

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

/** Options of {@link Connection.frames}. */
export interface FramesOptions extends WaitOptions {
  /**
   * Called with the report of each over-long frame a framer made with `onTooLong: 'discard'`
   * dropped (a `LimitReachedError`), when its first bytes are dropped; the frames after it are
   * yielded as usual. What it throws ends the iteration. Without it, dropped frames pass silently.
   */
  onDiscard?: (error: LimitReachedError) => void
}

/** Options of {@link open}: those of every client (`connectTimeout`, `tls`, `lookup` and the stream options). */
export type OpenOptions = ClientOptions

/**
 * A connection used with `await`. One read at a time: while a `readExactly`, `readUntil` or step
 * of `frames()` waits (until its promise settles), starting another rejects with
 * `InvalidArgumentError` (`RS_ERR_INVALID_ARG`) and consumes nothing, even when its bytes are
 * already buffered, so the stream is always read in order. A read met from the buffer settles
 * within its call. One `flush()` may wait beside a read (a full-duplex writer's backpressure):
 * while it waits nothing more is read, then the read goes on. Bad arguments reject (or, for
 * `write`, `writeFrame` and `destroy`, throw) with `InvalidArgumentError`.
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
   * A read or a step of `frames()` is in progress, from its call until its promise settles:
   * another one must not take bytes owed to it. Reads met from the buffer finish within the call
   * and never set it.
   */
  #busy = false
  /** A flush is in progress, from its call until its promise settles (one at a time; reads may run). */
  #flushing = false
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
  /**
   * Aborted (its `reason` a `ClosedError`) when the server that accepted this connection starts
   * to close; never on a client connection. Pass it to the handler's own async work (a query,
   * a `fetch`) or check `conn.closing.aborted` before keeping the connection for the next
   * request. `frames()` waiting between two frames with nothing buffered at that moment (or
   * later) is idle: the connection ends and the iteration ends without an error, as at the
   * peer's clean end (see `CloseOptions.idle`). A `readExactly`/`readUntil` is never taken as
   * idle (it may wait inside a request): check `conn.closing.aborted` before reading the next request.
   */
  get closing(): AbortSignal {
    return this.#bridge.closingSignal
  }

  /** Whether the connection has ended (cleanly or not). */
  get isClosed(): boolean {
    return this.#bridge.isClosed
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
      if (!(Number.isSafeInteger(n) && n >= 0)) throw invalid('readExactly', 'n', 'a non-negative integer', n)
      if (options !== undefined) checkWaitOptions('readExactly', options)
      if (this.#busy) throw inProgress('readExactly')
      const signal = options?.signal
      if (signal?.aborted) return Promise.reject(abortReason(signal))
      const input = this.#bridge.input
      if (input.length >= n) return Promise.resolve(takeCopy(input, n, 0))
      return this.#whileBusy(this.#bridge.readBytes(n, options ?? NO_OPTIONS))
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
      if (options === null || typeof options !== 'object') throw invalid('readUntil', 'options', 'an object with max', options)
      const max = options.max
      if (!(Number.isSafeInteger(max) && max >= 0)) throw invalid('readUntil', 'options.max', 'a non-negative integer', max)
      checkWaitOptions('readUntil', options)
      if (this.#busy) throw inProgress('readUntil')
      const signal = options.signal
      if (signal?.aborted) return Promise.reject(abortReason(signal))
      const input = this.#bridge.input
      const at = search(input, needle, 0)
      if (at >= 0 && at <= max) return Promise.resolve(takeCopy(input, at, needle.length))
      // The engine's search starts past what was searched here (its last delimiter-width overlap).
      const offset = Math.max(input.length - needle.length + 1, 0)
      return this.#whileBusy(this.#bridge.readDelimited(needle, max, offset, options))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** A wait just handed to the bridge (the buffer could not meet it): no other read starts until it settles. */
  async #whileBusy<T>(wait: Promise<T>): Promise<T> {
    this.#busy = true
    try {
      return await wait
    } finally {
      this.#busy = false
    }
  }

  #convert(delimiter: Uint8Array | string): Buffer {
    if (typeof delimiter !== 'string' && !(delimiter instanceof Uint8Array)) {
      throw invalid('readUntil', 'delimiter', 'a non-empty string or Uint8Array', delimiter)
    }
    const needle = toBuffer(delimiter)
    if (needle.length === 0) throw invalid('readUntil', 'delimiter', 'a non-empty string or Uint8Array', delimiter)
    this.#delimiter = delimiter
    this.#needle = needle
    return needle
  }

  /**
   * Yields frames cut by `framer` (copies of their payloads) until the peer ends the stream
   * cleanly between frames. A limit (at the first byte past it), a bad frame or an end inside a
   * frame throws; unless the framer takes what is left at the end as a last frame (its
   * `scanEnd`, e.g. `lines({ unterminated: 'frame' })`). Over-long frames a discarding framer
   * dropped are reported to `options.onDiscard`.
   *
   * Each step (each `next()`) is a read: it throws `InvalidArgumentError` if another read is in
   * progress, and the signal's reason if `options.signal` is aborted, before taking any frame;
   * `options` apply to every wait. Between steps (in the body of a `for await`) other reads may
   * run. Bad arguments throw `InvalidArgumentError` from the first `next()`.
   */
  async *frames(framer: Framer, options?: FramesOptions): AsyncGenerator<Buffer, void, undefined> {
    if (!isFramer(framer)) throw invalid('frames', 'framer', 'a Framer (an object with scan and encode functions)', framer)
    if (options !== undefined) checkWaitOptions('frames', options)
    const waitOptions = options ?? NO_OPTIONS
    const { signal, onDiscard } = waitOptions as FramesOptions
    if (onDiscard !== undefined) checkFunction('frames', 'options.onDiscard', onDiscard, 'a function or undefined')
    const input = this.#bridge.input
    for (;;) {
      // Checked again after every wait and every yield: the steps are separate reads.
      if (this.#busy) throw inProgress('frames')
      if (signal?.aborted) throw abortReason(signal)
      let scan = framer.scan(input)
      // The peer has ended and the framer waits for more: what is left is the framer's to judge.
      const atEnd = (scan.kind === 'bytes' || scan.kind === 'delimiter') && this.#bridge.isEnded
      if (atEnd) {
        if (input.length === 0) return
        scan = framer.scanEnd?.(input) ?? END_INSIDE_FRAME
      }
      switch (scan.kind) {
        case 'frame': {
          const payload = input.copy(scan.start, scan.end)
          input.consume(scan.size)
          yield payload
          continue
        }
        case 'discard':
          if (scan.error !== null) onDiscard?.(scan.error)
          continue
        case 'error':
          throw scan.error
        case 'bytes':
        case 'delimiter': {
          if (atEnd) throw new EndOfStreamError()
          this.#busy = true
          let shutDown = false
          try {
            const bridge = this.#bridge
            const wait =
              scan.kind === 'bytes'
                ? bridge.waitBytes(scan.n, waitOptions)
                : bridge.waitDelimiter(scan.delimiter, scan.max, waitOptions, scan.rescanAtMax === true)
            await wait.catch((err: unknown) => {
              // A closing server ended the connection idle between frames: the iteration is over.
              if (err instanceof ClosedError && input.length === 0 && bridge.closingSignal.aborted) shutDown = true
              // The end of the stream: the next scan judges what is left (a closed stream rejects as it is).
              else if (!(err instanceof EndOfStreamError && bridge.isEnded)) throw err
            })
          } finally {
            this.#busy = false
          }
          if (shutDown) return
          break
        }
        default:
          // A custom framer's bad answer would otherwise loop here forever.
          throw invalid('frames', 'framer.scan(input).kind', "'frame', 'bytes', 'delimiter', 'discard' or 'error'", (scan as { kind: unknown }).kind)
      }
    }
  }

  /**
   * Queues `data` (a string, UTF-8, or a `Uint8Array`) for sending. Writes made in the same turn
   * of the event loop leave together; call `flush()` to wait until the kernel has them.
   * Throws `InvalidArgumentError` for other data, `ClosedError` once the connection is closed.
   */
  write(data: Uint8Array | string): void {
    checkBytes('write', 'data', data)
    this.#bridge.write(data)
  }

  /**
   * Queues one frame of `framer` carrying `payload` (`framer.encode` on the connection's output),
   * sent as `write` sends. Throws `InvalidArgumentError` for a bad framer or a payload the framer
   * refuses (nothing is queued then), `ClosedError` once the connection is closed.
   *
   * ```ts
   * conn.writeFrame(lengthPrefixed({ lengthSize: 2 }), payload)
   * ```
   */
  writeFrame(framer: Framer, payload: Uint8Array | string): void {
    if (!isFramer(framer)) throw invalid('writeFrame', 'framer', 'a Framer (an object with scan and encode functions)', framer)
    checkBytes('writeFrame', 'payload', payload)
    this.#bridge.writeFrame(framer, payload)
  }

  /**
   * Resolves once at most `n` bytes remain unwritten (the pushback point). It may wait while a
   * read waits (one task reading, another writing): until it resolves nothing more is read from
   * the peer, then the read goes on, its own timeout still counting. A second flush while one
   * waits rejects with `InvalidArgumentError`, and so do a bad `n` or bad `options`; the signal's
   * reason when aborted; a `TimeoutError` after `options.timeout` ms.
   */
  async flush(n = 0, options?: WaitOptions): Promise<void> {
    if (!(Number.isSafeInteger(n) && n >= 0)) throw invalid('flush', 'n', 'a non-negative integer', n)
    if (options !== undefined) checkWaitOptions('flush', options)
    if (this.#flushing) throw new InvalidArgumentError('flush: another flush is in progress; start the next flush after the previous one settled')
    const waitOptions = options ?? NO_OPTIONS
    if (waitOptions.signal?.aborted) throw abortReason(waitOptions.signal)
    this.#flushing = true
    try {
      await this.#bridge.waitFlush(n, waitOptions)
    } finally {
      this.#flushing = false
    }
  }

  /**
   * Upgrades the connection to TLS in its middle (STARTTLS, SSLRequest) and resolves once the
   * handshake is done; reads and writes after it are encrypted. What was written before leaves
   * first, in plaintext. Bytes received and not read are refused by default (see
   * {@link TlsUpgrade}; bytes the connection read ahead are no safer): it then rejects with a
   * `TlsUpgradeError` (`RS_ERR_TLS_UPGRADE`), as for a failed handshake or one slower than the
   * upgrade's `handshakeTimeout`, and the connection is closed. Rejects with
   * `InvalidArgumentError` while a read or flush waits, or for a bad `upgrade`.
   */
  startTls(upgrade: TlsUpgrade): Promise<void> {
    if (!(upgrade instanceof TlsUpgrade))
      return Promise.reject(invalid('startTls', 'upgrade', 'a TlsUpgrade (TlsUpgrade.server(...) or TlsUpgrade.client(...))', upgrade))
    if (this.#busy || this.#flushing) return Promise.reject(new InvalidArgumentError('startTls: a read or flush is in progress; call it after they settled'))
    return this.#bridge.startTls(upgrade)
  }

  /**
   * Hands the connection off: resolves with the socket (paused, no listener or timer of the
   * library left on it) and a copy of the bytes received and not read yet, which come before
   * anything read from the socket afterwards. Written output was handed to the socket and leaves
   * in order. The library forgets the connection (a server no longer counts or waits for it).
   * Rejects with `InvalidArgumentError` while a read or flush waits.
   */
  detach(): Promise<Detached> {
    if (this.#busy || this.#flushing) return Promise.reject(new InvalidArgumentError('detach: a read or flush is in progress; call it after they settled'))
    return this.#bridge.detach()
  }

  /** Flushes, closes the connection cleanly, and resolves once the socket is closed. */
  async end(): Promise<void> {
    await this.#bridge.finish()
  }

  /** Closes at once, dropping unwritten output. `reason`, if given, must be an `Error`. */
  destroy(reason?: Error): void {
    if (reason !== undefined && !(reason instanceof Error)) throw invalid('destroy', 'reason', 'an Error or undefined', reason)
    this.#bridge.destroy(reason)
  }
}

/** What `frames()` does at the end inside a frame without the framer's say: an `EndOfStreamError`. */
const END_INSIDE_FRAME: Scan = Object.freeze({ kind: 'bytes', n: 0 })

/** Whether `value` has a framer's `scan` and `encode`. */
function isFramer(value: unknown): value is Framer {
  if (value === null || typeof value !== 'object') return false
  const framer = value as Partial<Framer>
  return typeof framer.scan === 'function' && typeof framer.encode === 'function'
}

/** `#delimiter` before the first `readUntil`: equal to no argument. */
const NONE = Symbol('no delimiter yet')
/** The options of a wait given none: shared, not allocated per call. */
const NO_OPTIONS: WaitOptions = Object.freeze({})

/** Checks the `timeout` and `signal` of `options` (any object); throws `InvalidArgumentError`. */
function checkWaitOptions(method: string, options: WaitOptions): void {
  if (options === null || typeof options !== 'object') throw invalid(method, 'options', 'an object or undefined', options)
  const { timeout, signal } = options
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0)) {
    throw invalid(method, 'options.timeout', 'a number of ms >= 0 (Infinity for none)', timeout)
  }
  if (signal !== undefined && !isAbortSignal(signal)) throw invalid(method, 'options.signal', 'an AbortSignal or undefined', signal)
}

/** Duck-typed, as Node checks signals: what the bridge uses of one (a polyfill's signal passes too). */
function isAbortSignal(value: unknown): value is AbortSignal {
  if (value === null || typeof value !== 'object') return false
  const signal = value as Partial<AbortSignal>
  return typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function' && typeof signal.removeEventListener === 'function'
}

const EMPTY = Buffer.alloc(0)

/** Position of `needle` in `input` from `from`, or -1; a one-byte needle is searched as a number (a plain memchr). */
function search(input: Buf, needle: Buffer, from: number): number {
  return input.indexOf(needle.length === 1 ? (needle[0] as number) : needle, from)
}

/**
 * Opens a connection for use with `await`: TCP `{ host, port }` or Unix `{ path }`, with TLS
 * when `tls` is given. Rejects with a `ConnectError` like `connect()`, and with an
 * `InvalidArgumentError` for a bad address or bad options: the same checks and messages as
 * `connect()`, naming `open`.
 */
export async function open(address: Address, options?: OpenOptions): Promise<Connection> {
  const bridge = new Bridge()
  await startClient('open', address, bridge.factory, options)
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
  checkFunction('handleAsync', 'handler', handler)
  if (onError !== undefined) checkFunction('handleAsync', 'onError', onError, 'a function or undefined')
  return (t: Transport, seed: unknown, scope: Scope) => {
    const bridge = new Bridge()
    const intent = bridge.factory(t, seed, scope)
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
