import { Engine, Limits } from '../engine.js';
import { checkBytes, checkFunction, checkNumber, checkOptions, checkString } from '../validate.js';
/**
 * Drives a protocol without sockets or real time: feed input chunks, end the input, advance a
 * virtual clock, make the peer stop reading, inject read and write errors; then look at the
 * output, the handler calls and how the stream ended. It runs the very same loop as a socket
 * `Stream` (Netty's EmbeddedChannel, tokio's mock IO).
 *
 * ```ts
 * const h = new Harness(LineEcho.create)
 * h.feed('hello\r\n')
 * assert.equal(h.takeOutput().toString(), 'hello\r\n')
 * h.advance(30_000)
 * assert.equal(h.closed, 'done')
 * ```
 */
export class Harness {
    #engine;
    /** Creates the protocol with `factory` (as on a new connection) and runs its first round. */
    constructor(factory, options) {
        checkFunction('Harness', 'factory', factory, 'a function (transport, seed, scope) => Intent');
        const o = checkOptions('Harness', 'options', options);
        if (o.now !== undefined)
            checkNumber('Harness', 'options.now', o.now);
        if (o.remoteAddress !== undefined)
            checkString('Harness', 'options.remoteAddress', o.remoteAddress, false);
        new Limits(o, 'Harness'); // the engine checks them again, but would not say "Harness"
        this.#engine = new ScriptedEngine(o);
        this.#engine.begin(factory, o.seed);
    }
    /** Delivers one chunk of input (a string or a Uint8Array), as one socket read. */
    feed(chunk) {
        checkBytes('Harness.feed', 'chunk', chunk);
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
        this.#engine.data(bytes);
        return this;
    }
    /** The peer sends FIN. */
    end() {
        this.#engine.eof();
        return this;
    }
    /** Moves the virtual clock forward by `ms` (a finite number >= 0), firing the deadline if it is passed on the way. */
    advance(ms) {
        checkNumber('Harness.advance', 'ms', ms, { min: 0 });
        this.#engine.advance(ms);
        return this;
    }
    /** Fires the stream's notifier (the protocol's `wakeup` runs, as after a microtask). */
    wakeup() {
        this.#engine.notifier()();
        this.#engine.flushWakeups();
        return this;
    }
    /** From now on, output stays unwritten (the peer does not read) until `drain()`. */
    stall() {
        this.#engine.stalled = true;
        return this;
    }
    /** The peer reads everything written so far, and keeps reading. */
    drain() {
        this.#engine.drain();
        return this;
    }
    /** Reading fails with `cause` (e.g. an `ECONNRESET` error). */
    readError(cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })) {
        this.#engine.readError(cause);
        return this;
    }
    /** The next write, or the pending one, fails with `cause` (e.g. `EPIPE`). */
    writeError(cause = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })) {
        this.#engine.writeError(cause);
        return this;
    }
    /** Returns the bytes the peer has received since the last call, and forgets them. */
    takeOutput() {
        const out = Buffer.concat(this.#engine.written);
        this.#engine.written.length = 0;
        return out;
    }
    /** Every byte the peer has received so far. */
    get output() {
        return Buffer.concat(this.#engine.written);
    }
    /** Bytes written by the stream that the peer has not read (see `stall()`). */
    get unwritten() {
        return this.#engine.unwrittenBytes;
    }
    /** Handler calls in order, e.g. `['bytesRead 5', 'exception RS_ERR_END_OF_STREAM']`. */
    get events() {
        return this.#engine.events;
    }
    /** Every exception reason the protocol received. */
    get exceptions() {
        return this.#engine.exceptions;
    }
    /** How the stream ended, or `'open'`. */
    get closed() {
        return this.#engine.closedAs;
    }
    /** The error the stream ended with (what `fatal` received), if any. */
    get error() {
        return this.#engine.error;
    }
    /** Number of socket writes so far: all output of one round leaves in one write. */
    get writes() {
        return this.#engine.writeCount;
    }
    /** Whether the stream is reading (false while it sleeps, waits for a flush, or is pushed back). */
    get isReading() {
        return this.#engine.reading;
    }
    /** Whether the write side was half-closed by the protocol. */
    get isHalfClosed() {
        return this.#engine.halfClosed;
    }
    /** The armed deadline (ms on the virtual clock), or NaN. */
    get deadline() {
        return this.#engine.armed;
    }
    /** Bytes of input buffered and not consumed. */
    get buffered() {
        return this.#engine.input.length;
    }
    /** The virtual clock, in ms. */
    get now() {
        return this.#engine.virtualTime;
    }
}
/** Deadlines one `advance()` may fire before it gives up on a protocol that never moves on. */
const MAX_FIRINGS = 100_000;
/** The engine with scripted I/O. */
class ScriptedEngine extends Engine {
    remoteAddress;
    remotePort = 40000;
    localAddress = '127.0.0.1';
    localPort = 7;
    events = [];
    exceptions = [];
    written = [];
    /** Written but not read by the peer (while stalled). */
    #pending = [];
    unwrittenBytes = 0;
    writeCount = 0;
    stalled = false;
    halfClosed = false;
    reading = false;
    armed = Number.NaN;
    closedAs = 'open';
    error = undefined;
    #clock;
    #wakeupDue = false;
    /** A wakeup asked for from inside `wakeup`: a real stream runs it on a later turn of the event loop. */
    #deferredWakeupDue = false;
    #failNextWrite = undefined;
    /** Reports a socket makes after `write()` returned (a failed write). */
    #deferred = [];
    constructor(options) {
        super(options);
        this.#clock = options.now ?? 0;
        this.remoteAddress = options.remoteAddress ?? '127.0.0.1';
        this.trace = (handler, detail) => {
            if (detail instanceof Error) {
                if (handler === 'exception')
                    this.exceptions.push(detail);
                this.events.push(`${handler} ${errorCode(detail)}`);
            }
            else {
                this.events.push(detail === undefined ? handler : `${handler} ${detail}`);
            }
        };
    }
    begin(factory, seed) {
        this.start(factory, seed);
        this.flushWakeups();
    }
    clock() {
        return this.#clock;
    }
    get virtualTime() {
        return this.#clock;
    }
    data(chunk) {
        this.onData(chunk);
        this.flushWakeups();
    }
    eof() {
        this.onEnd();
        this.flushWakeups();
    }
    advance(ms) {
        const target = this.#clock + ms;
        // Fire every deadline on the way, at its own time, as a real timer would. A protocol that
        // keeps setting deadlines in the past would spin a real stream too: stop and say so.
        for (let fired = 0; !Number.isNaN(this.armed) && this.armed <= target; fired++) {
            if (fired === MAX_FIRINGS)
                throw new Error(`advance(${ms}): the deadline fired ${MAX_FIRINGS} times; does timeout() keep returning a past deadline?`);
            this.#clock = Math.max(this.#clock, this.armed);
            this.armed = Number.NaN;
            this.onTimer();
            this.flushWakeups();
        }
        this.#clock = target;
    }
    drain() {
        this.stalled = false;
        this.written.push(...this.#pending);
        this.#pending.length = 0;
        this.unwrittenBytes = 0;
        this.onWritten();
        this.flushWakeups();
    }
    readError(cause) {
        this.onReadError(cause);
        this.flushWakeups();
    }
    writeError(cause) {
        if (this.unwrittenBytes > 0) {
            this.onWriteError(cause);
            this.flushWakeups();
        }
        else {
            this.#failNextWrite = cause;
        }
    }
    /** Runs what a real stream would run in later microtasks: write-error reports and wakeups. */
    flushWakeups() {
        for (;;) {
            const report = this.#deferred.shift();
            if (report !== undefined) {
                report();
            }
            else if (this.#wakeupDue) {
                this.#wakeupDue = false;
                this.onWakeup();
            }
            else if (this.#deferredWakeupDue) {
                // The event loop moves on: nothing else is due, so the deferred wakeup runs now.
                this.#deferredWakeupDue = false;
                this.onDeferredWakeup();
            }
            else {
                return;
            }
        }
    }
    ioWrite(data) {
        this.writeCount++;
        if (this.#failNextWrite !== undefined) {
            const cause = this.#failNextWrite;
            this.#failNextWrite = undefined;
            this.unwrittenBytes += data.length;
            this.#deferred.push(() => this.onWriteError(cause));
            return this.unwrittenBytes;
        }
        if (this.halfClosed || this.closedAs !== 'open') {
            this.unwrittenBytes += data.length;
            this.#deferred.push(() => this.onWriteError(new Error('write after end')));
            return this.unwrittenBytes;
        }
        if (this.stalled) {
            this.#pending.push(data);
            this.unwrittenBytes += data.length;
        }
        else {
            this.written.push(data);
            this.#deferred.push(() => this.onWritten()); // a socket reports the completed write later
        }
        return this.unwrittenBytes;
    }
    ioUnwritten() {
        return this.unwrittenBytes;
    }
    ioSetReading(on) {
        this.reading = on;
    }
    ioArmTimer(deadline) {
        this.armed = deadline;
    }
    ioScheduleWakeup(later) {
        if (later)
            this.#deferredWakeupDue = true;
        else
            this.#wakeupDue = true;
    }
    ioHalfClose() {
        this.halfClosed = true;
    }
    ioReportError(_error) {
        // The test kit reports handler errors through `error` and `events`.
    }
    ioFinish(reason) {
        this.closedAs = reason === undefined ? 'done' : 'error';
        this.error = reason;
    }
    ioDestroy(reason) {
        this.closedAs = 'error';
        this.error = reason;
        this.#pending.length = 0;
        this.unwrittenBytes = 0;
    }
}
/** The `code` of an error (ours or Node's), else its name. */
function errorCode(err) {
    const code = err.code;
    return typeof code === 'string' ? code : err.name;
}
