import type { Buf } from './buf.js'
import type { Exception } from './errors.js'
import type { Intent } from './intent.js'
import type { ProxyHeader } from './proxy-protocol.js'
import type { StreamStats } from './stats.js'
import type { TlsInfo } from './tls-info.js'

/**
 * What a handler sees of its connection. The same object is passed to every handler of a stream.
 */
export interface Transport {
  /**
   * Bytes received and not yet consumed. Read it, then `consume()` what you parsed: a handler
   * that consumes nothing gets the same bytes again on the next matching expectation.
   */
  readonly input: Buf
  /** Bytes to send. Append only; everything written during one round leaves in one socket write. */
  readonly output: Buf
  /** The peer's address (IP or Unix path), when known. */
  readonly remoteAddress: string | undefined
  /** The peer's port (TCP only). */
  readonly remotePort: number | undefined
  /** The local address (IP or Unix path), when known. */
  readonly localAddress: string | undefined
  /** The local port (TCP only). */
  readonly localPort: number | undefined
  /**
   * What TLS negotiated (peer certificate, `authorized`, ALPN protocol, SNI name, version,
   * cipher), read when asked; `null` on a plain connection, where nothing is allocated for it.
   */
  readonly tls: TlsInfo | null
  /**
   * This stream's counters (bytes in and out, reads, writes, time in pushback), kept up to date
   * by the stream at no per-event allocation; the same object on every read.
   */
  readonly stats: StreamStats
  /**
   * On a server with `proxyProtocol`: the PROXY header the connection began with (its TLVs:
   * ALPN, authority, unique id, SSL facts). Its addresses are already in `remoteAddress`,
   * `remotePort`, `localAddress` and `localPort`. Undefined elsewhere.
   */
  readonly proxy?: ProxyHeader | undefined
  /**
   * Half-closes the connection: once `output` is flushed, a FIN tells the peer nothing more
   * will be sent, while reading goes on (an HTTP/1.0 client does this after its request).
   * `expectFlush()` afterwards waits for the bytes it flushed. Writing output after it ends the
   * stream with a `WriteError` (`cause.code` `ERR_STREAM_WRITE_AFTER_END`): never lost silently.
   */
  halfClose(): void
}

/** Per-stream context passed to every handler. */
export interface Scope {
  /** Current time in ms on the clock deadlines use (monotonic; virtual in the test kit). */
  now(): number
  /**
   * Returns a function that, called from anywhere and at any later time, runs `wakeup` on this
   * stream. Calls made before the wakeup runs are coalesced into one (it runs in a microtask),
   * so `wakeup` must look at everything that may have changed. After the stream ended it is a no-op.
   */
  notifier(): () => void
  /**
   * True once the server that accepted this stream has started to close (`server.close()`, or
   * `serve`'s `signal` aborted); false on client streams and before. Readable at any time, e.g.
   * to answer the request in progress with `Connection: close` instead of keeping the connection.
   * Streams that are idle when the close starts end at once and never see it (see
   * {@link Protocol.shutdown}).
   */
  readonly closing: boolean
}

/**
 * A protocol: a state machine driven by the stream. Every handler returns the next
 * {@link Intent}: the next state object (often `this`), what it waits for, and a deadline.
 *
 * Only `bytesRead` is required; the others have the defaults documented on each.
 * A handler that throws is a bug: the stream ends with a `HandlerError` reported to `fatal`;
 * other connections are unaffected.
 */
export interface Protocol {
  /**
   * Called when the expectation is met: `expectBytes(n)` with `end = n`, or `expectDelimiter`
   * with `end` = the delimiter's position in `t.input`. Consume what you parsed (including the
   * delimiter) — the trap: unconsumed bytes are seen again by the next expectation.
   */
  bytesRead(t: Transport, end: number, scope: Scope): Intent<Protocol>
  /**
   * Called when `expectFlush(n)` is met (at most `n` bytes left unwritten).
   * Default: `Intent.done()` (the usual "send the goodbye, then close").
   */
  bytesFlushed?(t: Transport, scope: Scope): Intent<Protocol>
  /**
   * Called once when the deadline of the current Intent passes.
   * Default: ends the stream with a `TimeoutError` (`RS_ERR_TIMEOUT`), reported to `fatal`.
   */
  timeout?(t: Transport, scope: Scope): Intent<Protocol>
  /**
   * Called after a notifier (see `Scope.notifier()`) fired, whatever the stream was waiting for.
   * A notifier called from inside `wakeup` runs the next `wakeup` on a later turn of the event
   * loop; 10,000 of them in a row that neither consume input nor write output end the stream
   * with a `HandlerError` (the trap: polling through your own notifier).
   * Default: keep waiting for the same expectation and deadline.
   */
  wakeup?(t: Transport, scope: Scope): Intent<Protocol>
  /**
   * Called when the stream cannot go on reading: end of stream (also while asleep), a limit, a
   * bad frame (`Intent.reject()`, `expectFrame`), a too slow peer, or a read error.
   * Bytes still buffered are in `t.input`; the protocol may write a last answer and return
   * `Intent.done()` to have it flushed before the socket closes (after a `ReadError` the socket
   * is already gone and output is dropped). Returning another read expectation after end of
   * stream ends the stream with the `EndOfStreamError`; sleeping on is allowed.
   * Default: `Intent.done()` on end of stream; after a limit or a `ProtocolError`, flush the
   * answers already written, then end with the reason (`Intent.error(reason, { flush: true })`),
   * so that the outcome does not depend on how the input was split; `Intent.error(reason)` otherwise.
   */
  exception?(t: Transport, reason: Exception, scope: Scope): Intent<Protocol>
  /**
   * Called once when the server that accepted this stream starts to close (`server.close()`,
   * `serve`'s `signal`), on every live stream of a protocol that has it, idle or busy: the
   * protocol decides, and the engine never ends such a stream by itself (the close's `timeout`
   * bounds it). Return the next Intent (`Intent.done()` when idle between requests; finish the
   * current request, then close), or `undefined` to keep the current expectation and deadline
   * and look at `scope.closing` later. Never called from inside another handler.
   *
   * Without it, `close()` (with its default `idle: 'end'`) judges: a stream is *idle* when it
   * waits for input (`expectBytes`/`expectDelimiter`) with nothing in `t.input`, nothing in
   * `t.output` and nothing unwritten in the socket. An idle stream ends at once and cleanly (FIN,
   * as after `Intent.done()`; `fatal` is not called), as Go's `Server.Shutdown` and Node's
   * `server.close()` treat idle keep-alive connections, and a busy one ends as soon as it
   * becomes idle. The trap, and why this handler exists: a protocol that consumed a request's
   * head and now waits for its body looks idle too; give such a protocol a `shutdown`.
   * Default: the engine's judgement above.
   */
  shutdown?(t: Transport, scope: Scope): Intent<Protocol> | undefined
  /**
   * Called once the TLS handshake that `Intent.of(s).startTls(upgrade)` asked for is done, on
   * that state: the connection is encrypted from here on, and the answer is the next Intent.
   * Required on a state that returns `startTls` (the stream ends with a `HandlerError` otherwise).
   */
  tlsReady?(t: Transport, scope: Scope): Intent<Protocol>
  /**
   * Called once when the stream ends abnormally: a `WriteError`, a `HandlerError`, a
   * `TimeoutError` from the default `timeout`, a `ClosedError` when closed from outside, or
   * the error given to `Intent.error()`. The socket is already closed (or, after
   * `Intent.error(e, { flush: true })`, closing once the output is flushed); there is nothing to
   * return. A clean end (`Intent.done()`) does not call it. Default: does nothing.
   */
  fatal?(reason: Error, scope: Scope): void
}

/**
 * Creates the first state of a new stream. Called once per connection, when it is established.
 * `seed` is whatever the caller of `Stream.attach`/`connect`/`serve` passed.
 */
export type Factory<S = unknown> = (transport: Transport, seed: S, scope: Scope) => Intent<Protocol>

/**
 * The `seed` argument after a factory (`serve`, `Stream.attach`): optional when the factory's
 * seed type admits `undefined`, required otherwise, so that a factory never gets `undefined`
 * for a seed its type promises.
 */
export type SeedArgument<S> = undefined extends S ? [seed?: S] : [seed: S]
