/**
 * Every error rotor-stream creates is a {@link RotorStreamError} with a stable `code`.
 * Codes are API: they are never renamed or reused for another condition.
 */
export const codes = [
  'RS_ERR_END_OF_STREAM',
  'RS_ERR_LIMIT_REACHED',
  'RS_ERR_READ',
  'RS_ERR_WRITE',
  'RS_ERR_CONNECT',
  'RS_ERR_TIMEOUT',
  'RS_ERR_HANDLER',
  'RS_ERR_PROTOCOL',
  'RS_ERR_INVALID_ARG',
  'RS_ERR_CLOSED',
  'RS_ERR_TOO_SLOW',
  'RS_ERR_LISTEN',
  'RS_ERR_UNSUPPORTED',
  'RS_ERR_TLS_UPGRADE',
  'RS_ERR_PROXY_PROTOCOL',
  'RS_ERR_POOL_UNAVAILABLE',
] as const

/** One of {@link codes}. */
export type ErrorCode = (typeof codes)[number]

/** Base class of every error this library creates; `code` tells them apart. */
export class RotorStreamError<C extends ErrorCode = ErrorCode> extends Error {
  override name = 'RotorStreamError'
  readonly code: C
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** The peer closed its side (FIN) before the current expectation was met. */
export class EndOfStreamError extends RotorStreamError<'RS_ERR_END_OF_STREAM'> {
  override name = 'EndOfStreamError'
  constructor(message = 'end of stream') {
    super('RS_ERR_END_OF_STREAM', message)
  }
}

/** The input grew past `limit` bytes without meeting the expectation, or one asked for more than the stream allows. */
export class LimitReachedError extends RotorStreamError<'RS_ERR_LIMIT_REACHED'> {
  override name = 'LimitReachedError'
  /** The bound that was passed, in bytes. */
  readonly limit: number
  constructor(limit: number, message = `expectation not met within ${limit} bytes`) {
    super('RS_ERR_LIMIT_REACHED', message)
    this.limit = limit
  }
}

/** Reading from the socket failed (for example `ECONNRESET`); the socket's error is `cause`. */
export class ReadError extends RotorStreamError<'RS_ERR_READ'> {
  override name = 'ReadError'
  constructor(cause: unknown) {
    super('RS_ERR_READ', `read failed: ${describe(cause)}`, { cause })
  }
}

/** Writing to the socket failed (for example `EPIPE`); the socket's error is `cause`. */
export class WriteError extends RotorStreamError<'RS_ERR_WRITE'> {
  override name = 'WriteError'
  constructor(cause: unknown) {
    super('RS_ERR_WRITE', `write failed: ${describe(cause)}`, { cause })
  }
}

/** A connection could not be established (refused, unreachable, TLS handshake failed, timed out). */
export class ConnectError extends RotorStreamError<'RS_ERR_CONNECT'> {
  override name = 'ConnectError'
  constructor(message: string, options?: ErrorOptions) {
    super('RS_ERR_CONNECT', message, options)
  }
}

/** A deadline passed and the protocol has no `timeout` handler (or a connect took too long). */
export class TimeoutError extends RotorStreamError<'RS_ERR_TIMEOUT'> {
  override name = 'TimeoutError'
  constructor(message = 'deadline passed') {
    super('RS_ERR_TIMEOUT', message)
  }
}

/** A protocol handler threw: a bug in the protocol. Only that one connection ends; the thrown value is `cause`. */
export class HandlerError extends RotorStreamError<'RS_ERR_HANDLER'> {
  override name = 'HandlerError'
  /** The handler that threw, e.g. `'bytesRead'`. */
  readonly handler: string
  constructor(handler: string, cause: unknown) {
    super('RS_ERR_HANDLER', `protocol handler ${handler} threw: ${describe(cause)}`, { cause })
    this.handler = handler
  }
}

/** The peer broke the protocol; protocols return it with `Intent.error(new ProtocolError(...))`. */
export class ProtocolError extends RotorStreamError<'RS_ERR_PROTOCOL'> {
  override name = 'ProtocolError'
  constructor(message: string, options?: ErrorOptions) {
    super('RS_ERR_PROTOCOL', message, options)
  }
}

/** An option or argument is invalid; thrown synchronously where it is passed. */
export class InvalidArgumentError extends RotorStreamError<'RS_ERR_INVALID_ARG'> {
  override name = 'InvalidArgumentError'
  constructor(message: string, options?: ErrorOptions) {
    super('RS_ERR_INVALID_ARG', message, options)
  }
}

/**
 * A server could not listen: the address is in use, access was denied, the host has no such
 * address... `cause` is Node's error, so `err.cause.code` is `'EADDRINUSE'`, `'EACCES'`, ...
 */
export class ListenError extends RotorStreamError<'RS_ERR_LISTEN'> {
  override name = 'ListenError'
  /** The address that could not be listened on, `host:port` or the Unix path. */
  readonly address: string
  constructor(address: string, message: string, options?: ErrorOptions) {
    super('RS_ERR_LISTEN', message, options)
    this.address = address
  }
}

/**
 * An option this runtime or platform cannot honour (`reusePort` before Node 22.12, on Bun or
 * Deno...): thrown synchronously where it is passed, instead of being silently ignored.
 */
export class UnsupportedError extends RotorStreamError<'RS_ERR_UNSUPPORTED'> {
  override name = 'UnsupportedError'
  constructor(message: string, options?: ErrorOptions) {
    super('RS_ERR_UNSUPPORTED', message, options)
  }
}

/** The stream was closed from outside (`stream.close()`, a server shutting down) before it ended by itself. */
export class ClosedError extends RotorStreamError<'RS_ERR_CLOSED'> {
  override name = 'ClosedError'
  constructor(message = 'stream closed', options?: ErrorOptions) {
    super('RS_ERR_CLOSED', message, options)
  }
}

/**
 * A peer kept a frame open while sending slower than the minimum data rate (`minRate`): the
 * slow-drip attack that an idle deadline alone does not stop.
 */
export class TooSlowError extends RotorStreamError<'RS_ERR_TOO_SLOW'> {
  override name = 'TooSlowError'
  /** Bytes received in the window that was too slow. */
  readonly received: number
  constructor(received: number, bytes: number, per: number) {
    super('RS_ERR_TOO_SLOW', `peer sent ${received} bytes in ${per} ms, below the minimum of ${bytes}`)
    this.received = received
  }
}

/**
 * A TLS upgrade in the middle of a connection (`Intent.startTls`, `Connection.startTls`) did
 * not happen: `kind` says why. `'unconsumed-input'`: plaintext bytes were still buffered when the
 * upgrade was asked for (refused by default, see {@link TlsUpgrade}); `'handshake'`: the
 * handshake failed (`cause` is the TLS error: a bad certificate, a peer that spoke no TLS, a
 * connection lost); `'timeout'`: the handshake did not finish before the deadline; `'unsupported'`:
 * the stream cannot upgrade (already TLS, or an I/O without sockets). The stream ends after
 * `exception()` hears of it: the connection is in no state to go on in plaintext.
 */
export class TlsUpgradeError extends RotorStreamError<'RS_ERR_TLS_UPGRADE'> {
  override name = 'TlsUpgradeError'
  /** Why the upgrade did not happen. */
  readonly kind: 'unconsumed-input' | 'handshake' | 'timeout' | 'unsupported'
  constructor(kind: TlsUpgradeError['kind'], message: string, options?: ErrorOptions) {
    super('RS_ERR_TLS_UPGRADE', message, options)
    this.kind = kind
  }
}

/**
 * A server with `proxyProtocol` refused a connection before its protocol started: the PROXY
 * header was malformed (`reason` `'malformed'`, also when the peer sent something else, such as
 * a TLS ClientHello or `GET /`), longer than `maxHeaderSize` (`'too-large'`), not complete
 * within its `timeout` (`'timeout'`), or the peer closed before sending it all (`'closed'`).
 * Reported on the `rotor-stream:server:error` channel; the connection is closed.
 */
export class ProxyProtocolError extends RotorStreamError<'RS_ERR_PROXY_PROTOCOL'> {
  override name = 'ProxyProtocolError'
  /** What was wrong with the header. */
  readonly reason: 'malformed' | 'too-large' | 'timeout' | 'closed'
  constructor(reason: ProxyProtocolError['reason'], message: string, options?: ErrorOptions) {
    super('RS_ERR_PROXY_PROTOCOL', message, options)
    this.reason = reason
  }
}

/**
 * A `Pool` had no member for a request: `reason` `'down'` when no member was live (every
 * endpoint down or failing its health checks) until the wait timed out, `'busy'` when live
 * members existed but all were leased, `'queue-full'` when `maxWaiting` requests already waited
 * (failed at once). `waited` is how long the request waited, in ms; `cause` is the last
 * connection error or failed health check the pool saw, if any.
 */
export class PoolUnavailableError extends RotorStreamError<'RS_ERR_POOL_UNAVAILABLE'> {
  override name = 'PoolUnavailableError'
  /** Why no member was found. */
  readonly reason: 'down' | 'busy' | 'queue-full'
  /** ms the request waited. */
  readonly waited: number
  constructor(reason: PoolUnavailableError['reason'], waited: number, message: string, options?: ErrorOptions) {
    super('RS_ERR_POOL_UNAVAILABLE', message, options)
    this.reason = reason
    this.waited = waited
  }
}

/**
 * What `Protocol.exception()` receives: conditions a protocol may still answer
 * (an HTTP server sends 413 on a limit; a client may use what is buffered at end of stream;
 * a `ProtocolError` comes from `Intent.reject()`, e.g. a malformed frame seen by `expectFrame`).
 * `switch (reason.code)` narrows it, and TypeScript checks the switch is exhaustive.
 */
export type Exception = EndOfStreamError | LimitReachedError | ReadError | TooSlowError | ProtocolError | TlsUpgradeError

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}
