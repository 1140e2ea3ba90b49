/**
 * What a stream may use and how it behaves at its edges: the limits every stream has (engine),
 * and the options of a stream on a socket. Both are checked once where they are given (serve,
 * connect, Persistent, the test kit) and shared by every stream made there.
 */
import { MemoryBudget } from './budget.js';
import { checkMinRate } from './intent.js';
import { checkBoolean, checkInteger, checkMs, checkOptions, invalid } from './validate.js';
/** Defaults of {@link StreamLimits}. */
export const LIMIT_DEFAULTS = Object.freeze({
    maxBufferSize: 16 * 1024 * 1024,
    outputHighWaterMark: 1024 * 1024,
    minRate: null,
    budget: null,
});
/**
 * While the protocol sleeps, input is still read (so that the peer's FIN or reset is noticed at
 * once) until this many bytes are buffered, or `maxBufferSize` if lower; one more read may pass it.
 */
export const SLEEP_READ_LIMIT = 16 * 1024;
/**
 * {@link StreamLimits} validated, with every default filled in. A server or client makes one and
 * all its streams share it: a connection neither validates its options again nor holds a copy.
 * @internal
 */
export class Limits {
    maxBufferSize;
    outputHighWaterMark;
    /** A copy of the caller's rate: changing their object later must not change a rate that was checked. */
    minRate;
    budget;
    /**
     * Throws `InvalidArgumentError` unless `options` (an object, or undefined for the defaults)
     * keep every bound in force; `where` names the function they were given to.
     */
    constructor(options, where = 'stream options') {
        const { maxBufferSize, outputHighWaterMark, minRate, budget } = checkOptions(where, 'options', options);
        this.maxBufferSize = maxBufferSize === undefined ? LIMIT_DEFAULTS.maxBufferSize : checkInteger(where, 'options.maxBufferSize', maxBufferSize, { min: 1 });
        this.outputHighWaterMark =
            outputHighWaterMark === undefined ? LIMIT_DEFAULTS.outputHighWaterMark : checkInteger(where, 'options.outputHighWaterMark', outputHighWaterMark);
        if (budget !== undefined && budget !== null && !(budget instanceof MemoryBudget))
            throw invalid(where, 'options.budget', 'a MemoryBudget or null', budget);
        this.minRate = minRate === undefined || minRate === null ? null : checkMinRate(where, 'options.minRate', minRate);
        this.budget = budget ?? null;
    }
}
/** The default `onError`: one entry per error on stderr, never silent. */
export function printHandlerError(error, stream) {
    const cause = error.cause instanceof Error ? error.cause : error;
    const peer = stream.remoteAddress === undefined ? '' : ` (peer ${stream.remoteAddress}${stream.remotePort === undefined ? '' : `:${stream.remotePort}`})`;
    console.error(`rotor-stream: ${error.code} in ${error.handler}${peer}: ${cause.stack ?? String(cause)}`);
}
/** Defaults of the options {@link StreamOptions} adds to the limits. */
export const STREAM_DEFAULTS = Object.freeze({ lingerTimeout: 2000, noDelay: true, onError: printHandlerError });
/** After `Intent.done()`, a peer gets this long (ms) to read our last output before the socket is destroyed. */
export const FLUSH_ON_DONE_TIMEOUT = 30_000;
/**
 * {@link StreamOptions} validated, with every default filled in: made once where options are
 * passed (connect, serve, Persistent), so that a bad one fails at once instead of on every new
 * connection, and shared by every stream made there. Only the stream's own options are kept: a
 * server's or client's other options stay out of every stream.
 * @internal
 */
export class StreamSettings extends Limits {
    lingerTimeout;
    noDelay;
    onError;
    /**
     * The server that made these settings, told when the socket of one of its streams has closed:
     * one function per server, so that a connection holds no listener of its own for it.
     */
    serverHook = null;
    /** Throws `InvalidArgumentError`, naming `where` (the function `options` were given to). */
    constructor(options, where) {
        super(options, where); // checks that options is an object, or undefined
        const { lingerTimeout = STREAM_DEFAULTS.lingerTimeout, noDelay = STREAM_DEFAULTS.noDelay, onError = STREAM_DEFAULTS.onError } = options ?? {};
        this.lingerTimeout = checkMs(where, 'options.lingerTimeout', lingerTimeout);
        this.noDelay = checkBoolean(where, 'options.noDelay', noDelay);
        if (onError !== null && typeof onError !== 'function')
            throw invalid(where, 'options.onError', 'a function or null', onError);
        this.onError = onError;
    }
    static of(options, where) {
        return options instanceof StreamSettings ? options : new StreamSettings(options, where);
    }
}
