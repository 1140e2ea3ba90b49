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
];
/** Base class of every error this library creates; `code` tells them apart. */
export class RotorStreamError extends Error {
    name = 'RotorStreamError';
    code;
    constructor(code, message, options) {
        super(message, options);
        this.code = code;
    }
}
/** The peer closed its side (FIN) before the current expectation was met. */
export class EndOfStreamError extends RotorStreamError {
    name = 'EndOfStreamError';
    constructor(message = 'end of stream') {
        super('RS_ERR_END_OF_STREAM', message);
    }
}
/** The input grew past `limit` bytes without meeting the expectation, or one asked for more than the stream allows. */
export class LimitReachedError extends RotorStreamError {
    name = 'LimitReachedError';
    /** The bound that was passed, in bytes. */
    limit;
    constructor(limit, message = `expectation not met within ${limit} bytes`) {
        super('RS_ERR_LIMIT_REACHED', message);
        this.limit = limit;
    }
}
/** Reading from the socket failed (for example `ECONNRESET`); the socket's error is `cause`. */
export class ReadError extends RotorStreamError {
    name = 'ReadError';
    constructor(cause) {
        super('RS_ERR_READ', `read failed: ${describe(cause)}`, { cause });
    }
}
/** Writing to the socket failed (for example `EPIPE`); the socket's error is `cause`. */
export class WriteError extends RotorStreamError {
    name = 'WriteError';
    constructor(cause) {
        super('RS_ERR_WRITE', `write failed: ${describe(cause)}`, { cause });
    }
}
/** A connection could not be established (refused, unreachable, TLS handshake failed, timed out). */
export class ConnectError extends RotorStreamError {
    name = 'ConnectError';
    constructor(message, options) {
        super('RS_ERR_CONNECT', message, options);
    }
}
/** A deadline passed and the protocol has no `timeout` handler (or a connect took too long). */
export class TimeoutError extends RotorStreamError {
    name = 'TimeoutError';
    constructor(message = 'deadline passed') {
        super('RS_ERR_TIMEOUT', message);
    }
}
/** A protocol handler threw: a bug in the protocol. Only that one connection ends; the thrown value is `cause`. */
export class HandlerError extends RotorStreamError {
    name = 'HandlerError';
    /** The handler that threw, e.g. `'bytesRead'`. */
    handler;
    constructor(handler, cause) {
        super('RS_ERR_HANDLER', `protocol handler ${handler} threw: ${describe(cause)}`, { cause });
        this.handler = handler;
    }
}
/** The peer broke the protocol; protocols return it with `Intent.error(new ProtocolError(...))`. */
export class ProtocolError extends RotorStreamError {
    name = 'ProtocolError';
    constructor(message, options) {
        super('RS_ERR_PROTOCOL', message, options);
    }
}
/** An option or argument is invalid; thrown synchronously where it is passed. */
export class InvalidArgumentError extends RotorStreamError {
    name = 'InvalidArgumentError';
    constructor(message, options) {
        super('RS_ERR_INVALID_ARG', message, options);
    }
}
/**
 * A server could not listen: the address is in use, access was denied, the host has no such
 * address... `cause` is Node's error, so `err.cause.code` is `'EADDRINUSE'`, `'EACCES'`, ...
 */
export class ListenError extends RotorStreamError {
    name = 'ListenError';
    /** The address that could not be listened on, `host:port` or the Unix path. */
    address;
    constructor(address, message, options) {
        super('RS_ERR_LISTEN', message, options);
        this.address = address;
    }
}
/** The stream was closed from outside (`stream.close()`, a server shutting down) before it ended by itself. */
export class ClosedError extends RotorStreamError {
    name = 'ClosedError';
    constructor(message = 'stream closed', options) {
        super('RS_ERR_CLOSED', message, options);
    }
}
/**
 * A peer kept a frame open while sending slower than the minimum data rate (`minRate`): the
 * slow-drip attack that an idle deadline alone does not stop.
 */
export class TooSlowError extends RotorStreamError {
    name = 'TooSlowError';
    /** Bytes received in the window that was too slow. */
    received;
    constructor(received, bytes, per) {
        super('RS_ERR_TOO_SLOW', `peer sent ${received} bytes in ${per} ms, below the minimum of ${bytes}`);
        this.received = received;
    }
}
function describe(cause) {
    return cause instanceof Error ? cause.message : String(cause);
}
