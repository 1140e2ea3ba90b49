/**
 * What a stream may use and how it behaves at its edges: the limits every stream has (engine),
 * and the options of a stream on a socket. Both are checked once where they are given (serve,
 * connect, Persistent, the test kit) and shared by every stream made there.
 */
import { MemoryBudget } from './budget.js'
import type { HandlerError } from './errors.js'
import { checkMinRate, type MinRate } from './intent.js'
import { keepAliveDelay, type SocketOptions } from './socket-options.js'
import type { Stream } from './stream.js'
import { checkBoolean, checkInteger, checkMs, checkOptions, invalid } from './validate.js'

/** Limits shared by every kind of stream. */
export interface StreamLimits {
  /**
   * Most bytes of input one expectation may need: `expectBytes(n)` with a larger `n`, or a
   * delimiter not found within this many bytes, is a `LimitReachedError`. A positive safe integer.
   * @default 16777216 (16 MiB)
   */
  maxBufferSize?: number
  /**
   * Automatic pushback: while more than this many bytes of output are unwritten, buffered
   * requests are not processed and nothing is read, even if the protocol did not ask for
   * `expectFlush`. Keeps a peer that pipelines requests but never reads its replies from
   * growing the process. A non-negative safe integer (0: push back as soon as anything is unwritten).
   * @default 1048576 (1 MiB)
   */
  outputHighWaterMark?: number
  /**
   * Minimum data rate while a frame is open (some input buffered, the protocol waiting for
   * more): below `bytes` bytes per `per` ms, `exception()` gets a `TooSlowError`. An
   * expectation can override it with `Intent.minRate()`. Off by default: idle deadlines are
   * the protocol's choice, and so is this. `bytes` is a positive safe integer, `per` a whole
   * number of ms within 1..2^31-1.
   * @default null
   */
  minRate?: MinRate | null
  /**
   * A memory budget shared with other streams (a server's `maxBufferedBytes`): while the input
   * buffered by all its streams together is over its limit, this stream stops reading unless
   * it holds the budget's turn (see `MemoryBudget`).
   * @default null
   */
  budget?: MemoryBudget | null
}

/** Default of {@link StreamLimits.maxBufferSize}, in bytes (16 MiB). */
export const DEFAULT_MAX_BUFFER_SIZE = 16 * 1024 * 1024
/** Default of {@link StreamLimits.outputHighWaterMark}, in bytes (1 MiB). */
export const DEFAULT_OUTPUT_HIGH_WATER_MARK = 1024 * 1024

/**
 * While the protocol sleeps, input is still read (so that the peer's FIN or reset is noticed at
 * once) until this many bytes are buffered, or `maxBufferSize` if lower; one more read may pass it.
 */
export const SLEEP_READ_LIMIT = 16 * 1024

/**
 * {@link StreamLimits} validated, with every default filled in. A server or client makes one and
 * all its streams share it: a connection neither validates its options again nor holds a copy.
 * @internal
 */
export class Limits {
  readonly maxBufferSize: number
  readonly outputHighWaterMark: number
  /** A copy of the caller's rate: changing their object later must not change a rate that was checked. */
  readonly minRate: MinRate | null
  readonly budget: MemoryBudget | null

  /**
   * Throws `InvalidArgumentError` unless `options` (an object, or undefined for the defaults)
   * keep every bound in force; `where` names the function they were given to.
   */
  constructor(options: StreamLimits | undefined, where = 'stream options') {
    const { maxBufferSize, outputHighWaterMark, minRate, budget } = checkOptions<StreamLimits>(where, 'options', options)
    this.maxBufferSize = maxBufferSize === undefined ? DEFAULT_MAX_BUFFER_SIZE : checkInteger(where, 'options.maxBufferSize', maxBufferSize, { min: 1 })
    this.outputHighWaterMark =
      outputHighWaterMark === undefined ? DEFAULT_OUTPUT_HIGH_WATER_MARK : checkInteger(where, 'options.outputHighWaterMark', outputHighWaterMark)
    if (budget !== undefined && budget !== null && !(budget instanceof MemoryBudget)) throw invalid(where, 'options.budget', 'a MemoryBudget or null', budget)
    this.minRate = minRate === undefined || minRate === null ? null : checkMinRate(where, 'options.minRate', minRate)
    this.budget = budget ?? null
  }
}

/** Options of a {@link Stream} on a socket. */
export interface StreamOptions extends StreamLimits, SocketOptions {
  /**
   * After `Intent.done()` the output is flushed, the socket is half-closed, and the stream
   * keeps reading (and discarding) until the peer closes too, for at most this many ms after
   * the flush, then closes. Closing with unread input would make the kernel send RST, which
   * can destroy the peer's copy of our last answer (the HTTP "lingering close"). The flush
   * itself may take up to `FLUSH_ON_DONE_TIMEOUT` (30 s) for a peer that reads slowly.
   * A whole number of ms within 0..2^31-1.
   * @default 2000
   */
  lingerTimeout?: number
  /** Disable Nagle's algorithm, as request-reply traffic wants: `true` or `false`. @default true */
  noDelay?: boolean
  /**
   * Called when a protocol handler throws (a bug in the protocol, `HandlerError`, also for an
   * async handler given to `handleAsync`): only that connection ends, and this makes it visible.
   * `null` silences it. The stream is passed for its addresses.
   * @default prints one line to stderr: the code, the handler, the peer, then the stack
   */
  onError?: ((error: HandlerError, stream: Stream) => void) | null
}

/** The default `onError`: one entry per error on stderr, never silent. */
export function printHandlerError(error: HandlerError, stream: Stream): void {
  const cause = error.cause instanceof Error ? error.cause : error
  const peer = stream.remoteAddress === undefined ? '' : ` (peer ${stream.remoteAddress}${stream.remotePort === undefined ? '' : `:${stream.remotePort}`})`
  console.error(`rotor-stream: ${error.code} in ${error.handler}${peer}: ${cause.stack ?? String(cause)}`)
}

/** Default of {@link StreamOptions.lingerTimeout}, in ms. */
export const DEFAULT_LINGER_TIMEOUT = 2000

/** After `Intent.done()`, a peer gets this long (ms) to read our last output before the socket is destroyed. */
export const FLUSH_ON_DONE_TIMEOUT = 30_000

/**
 * {@link StreamOptions} validated, with every default filled in: made once where options are
 * passed (connect, serve, Persistent), so that a bad one fails at once instead of on every new
 * connection, and shared by every stream made there. Only the stream's own options are kept: a
 * server's or client's other options stay out of every stream.
 * @internal
 */
export class StreamSettings extends Limits {
  readonly lingerTimeout: number
  readonly noDelay: boolean
  /** TCP keep-alive: -1 off, else the initial delay in ms (0: the system's). */
  readonly keepAliveDelay: number
  readonly onError: ((error: HandlerError, stream: Stream) => void) | null
  /**
   * The server that made these settings, told when the socket of one of its streams has closed:
   * one function per server, so that a connection holds no listener of its own for it.
   */
  serverHook: ((stream: Stream) => void) | null = null

  /** Throws `InvalidArgumentError`, naming `where` (the function `options` were given to). */
  constructor(options: StreamOptions | undefined, where: string) {
    super(options, where) // checks that options is an object, or undefined
    const { lingerTimeout, noDelay = true, onError = printHandlerError } = options ?? {}
    this.lingerTimeout = lingerTimeout === undefined ? DEFAULT_LINGER_TIMEOUT : checkMs(where, 'options.lingerTimeout', lingerTimeout)
    this.noDelay = checkBoolean(where, 'options.noDelay', noDelay)
    this.keepAliveDelay = keepAliveDelay(where, options?.keepAlive)
    if (onError !== null && typeof onError !== 'function') throw invalid(where, 'options.onError', 'a function or null', onError)
    this.onError = onError
  }

  static of(options: StreamOptions | undefined, where: string): StreamSettings {
    return options instanceof StreamSettings ? options : new StreamSettings(options, where)
  }
}
