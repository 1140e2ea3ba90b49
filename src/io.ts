/**
 * What the engine needs from below, and what it tells a tracing I/O: the one interface the
 * socket glue (`SocketIO`, stream.ts) and the test kit's scripted I/O implement.
 */
import type { Socket } from 'node:net'
import type { Exception, HandlerError, TlsUpgradeError } from './errors.js'
import type { ProxyHeader } from './proxy-protocol.js'
import type { TlsUpgrade } from './starttls.js'

/**
 * What the engine needs from below. Every method carries out a decision; none decides. The
 * engine reports back through its `on…` methods (data arrived, output written, the timer
 * fired, the socket closed...), so whoever makes an engine gives its I/O a reference to it.
 */
export interface StreamIO {
  /** Where the connection runs between: a socket is one. */
  readonly endpoints: Endpoints
  /** The real (or virtual) clock, in ms. */
  clock(): number
  /** Send `data` (the engine gives it away); returns the bytes still unwritten after it, as `unwritten()` would. */
  write(data: Buffer): number
  /** Bytes handed to `write` that have not reached the kernel yet. */
  unwritten(): number
  /** Start or stop reading; called after every round with the wanted state. */
  setReading(on: boolean): void
  /** Call `onTimer()` at absolute time `deadline`; NaN cancels. */
  armTimer(deadline: number): void
  /**
   * Call `onWakeup()` soon (a microtask), outside the current call stack; with `later`, call
   * `onDeferredWakeup()` on a later turn of the event loop instead (after I/O of other streams).
   */
  scheduleWakeup(later: boolean): void
  /** Send FIN once what was written is flushed; reading goes on. Called at most once. */
  halfClose(): void
  /**
   * The protocol finished: flush what was written, then close, and call `onClosed()` once
   * closed. Called once. `reason` is undefined for a clean end, else the error the stream ends with.
   */
  finish(reason: Error | undefined): void
  /** Close at once, dropping unwritten output, and call `onClosed()` once closed. Called once, before `fatal` runs. */
  destroy(reason: Error): void
  /** A handler threw (a bug in the protocol): make it visible (the `onError` option). */
  reportError(error: HandlerError): void
  /**
   * Upgrade to TLS per `upgrade` once what was written is flushed (`fed`: input bytes to hand to
   * TLS first, or null); report `onTlsReady()` or `onTlsFailed(err)`. Returns an error at once
   * if the upgrade cannot start (a refusal of bytes the I/O holds, an already encrypted socket).
   * Absent: the stream cannot upgrade.
   */
  startTls?(upgrade: TlsUpgrade, fed: Buffer | null): TlsUpgradeError | null
  /**
   * Let the socket go: remove every listener and timer, tell the server it is gone, and return
   * it (paused). Called once, after the protocol ended. Absent: the stream cannot detach.
   */
  detach?(): Socket
  /** Observer of every handler call, for the test kit. Absent costs one property check per call. */
  readonly trace?: (call: HandlerCall) => void
}

/** The two ends of a connection, as a `net.Socket` reports them. */
export interface Endpoints {
  readonly remoteAddress?: string | undefined
  readonly remotePort?: number | undefined
  readonly localAddress?: string | undefined
  readonly localPort?: number | undefined
  /** The PROXY header the addresses come from (a server with `proxyProtocol`). */
  readonly proxy?: ProxyHeader | undefined
}

/** One handler call, as the engine reports it to a tracing I/O: the handler and its argument. */
export type HandlerCall =
  | { readonly handler: 'bytesRead'; readonly end: number }
  | { readonly handler: 'bytesFlushed' | 'timeout' | 'wakeup' | 'shutdown' | 'tlsReady' }
  | { readonly handler: 'exception'; readonly reason: Exception }
  | { readonly handler: 'fatal'; readonly reason: Error }
