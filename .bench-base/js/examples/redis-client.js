/**
 * A Redis (RESP2) client on a `Persistent` connection: promise-returning commands, automatic
 * pipelining, replies matched in order, reconnection with a bounded offline queue.
 *
 *     const redis = new RedisClient({ host: '127.0.0.1', port: 6379 })
 *     await redis.command('SET', 'greeting', 'hello')
 *     console.log(await redis.command('GET', 'greeting')) // 'hello'
 *     await redis.close()
 *
 * How it works: `command()` queues the command and wakes the protocol (`Persistent.wakeup()`).
 * Wakeups coalesce into one per microtask, so every command issued in the same tick is encoded
 * into one string and goes out in one socket write. The protocol keeps the commands it wrote, in
 * order, and settles the oldest each time a complete reply has been parsed. All complete replies
 * of a read are parsed over one view and consumed at once; a partial one keeps its parse state,
 * so a reply split over many reads is never parsed twice.
 *
 * Failures: while disconnected, commands wait in the queue (at most `maxOfflineQueue`) and go
 * out after the reconnect. Commands already written when the connection drops are rejected with
 * a `ClosedError` — they may or may not have run, so they are never silently sent again.
 */
import { ClosedError, Intent, LimitReachedError, Persistent, ProtocolError, TimeoutError, } from 'rotor-stream';
/** An error reply from the server (`-ERR ...`): the command ran and failed. */
export class ReplyError extends Error {
    name = 'ReplyError';
    /** The first word of the error: `ERR`, `WRONGTYPE`, ... */
    prefix;
    constructor(message) {
        super(message);
        this.prefix = message.split(' ', 1)[0] ?? 'ERR';
    }
}
const LF = Buffer.from('\n');
const CR = 0x0d;
/** Longest status, error or header line accepted from the server, in bytes. */
const MAX_LINE = 64 * 1024;
/** Options of every reply-line expectation (one object, not one per round). */
const LINE = { max: MAX_LINE };
/** Stop adding commands to one round's output beyond this many bytes. */
const MAX_BATCH_BYTES = 256 * 1024;
/** Lines are scanned for their LF by a JS loop up to this many bytes (cheaper than `indexOf` for `+OK`, `$16`), then by `indexOf`. */
const SHORT_LINE = 32;
/** Settled commands at the head of the queue are dropped in one slice once there are this many (and half the queue). */
const COMPACT_AFTER = 1024;
/** Size of the encoder's staging Buffer (one per process), in bytes. */
const SCRATCH_BYTES = 16 * 1024;
/** Most bytes of a `$<n>\r\n` or `*<n>\r\n` header (n < 2^53). */
const HEADER_BYTES = 20;
/** Arguments up to this many characters are tried as ASCII and copied by a JS loop; longer ones are encoded natively. */
const SHORT_ARG = 64;
export class RedisClient {
    #persistent;
    /** Issued commands, oldest first, in flight and queued (see {@link CommandQueue}). */
    #queue = new CommandQueue();
    #closed = false;
    #maxOfflineQueue;
    options;
    constructor(address, options = {}) {
        this.#maxOfflineQueue = options.maxOfflineQueue ?? 10_000;
        this.options = { maxInFlight: options.maxInFlight ?? 4096, commandTimeout: options.commandTimeout ?? 10_000, returnBuffers: options.returnBuffers ?? false };
        const { maxOfflineQueue: _q, maxInFlight: _f, commandTimeout: _c, returnBuffers: _b, ...persistent } = options;
        this.factory = (t, _seed, scope) => new RedisConnection(this.#queue, this.options).start(t, scope);
        this.#persistent = new Persistent(address, this.factory, persistent);
    }
    /** Creates the protocol of each connection; a test or benchmark may run it on its own stream. @internal */
    factory;
    /** The underlying connection manager (state, events `connect`, `disconnect`, `giveup`). */
    get connection() {
        return this.#persistent;
    }
    /** Sends a command; resolves with its reply, rejects with a `ReplyError` for an error reply. */
    command(...args) {
        if (this.#closed)
            return Promise.reject(new ClosedError('client closed'));
        if (args.length === 0)
            return Promise.reject(new TypeError('command needs a name'));
        const queue = this.#queue;
        const waiting = queue.waiting;
        if (waiting >= this.#maxOfflineQueue && this.#persistent.state !== 'connected') {
            return Promise.reject(new LimitReachedError(this.#maxOfflineQueue, `offline queue full (${this.#maxOfflineQueue} commands)`));
        }
        const reply = new Promise((resolve, reject) => {
            queue.items.push({ args, resolve, reject });
        });
        // Commands already waiting mean a write of the queue is already due: a pending wakeup, the
        // replies that reopen a full window, or the next connection. Only the first one wakes.
        if (waiting === 0)
            this.#persistent.wakeup(); // coalesced: one wakeup, one write, for all commands of this tick
        return reply;
    }
    /** Closes the connection; queued commands are rejected with a `ClosedError`. */
    async close() {
        this.#closed = true;
        await this.#persistent.stop(); // the connection's fatal rejects the commands in flight
        for (const command of this.#queue.dropWaiting())
            command.reject(new ClosedError('client closed'));
    }
}
/**
 * The commands of one client, oldest first, in one array with two cursors:
 * `items[replyHead, writeHead)` are written and await their replies, in order;
 * `items[writeHead, length)` wait to be written. Entries before `replyHead` are settled and
 * dropped in batches (shifting an array is O(n)).
 */
class CommandQueue {
    items = [];
    replyHead = 0;
    writeHead = 0;
    /** Commands written and awaiting replies. */
    get inFlight() {
        return this.writeHead - this.replyHead;
    }
    /** Commands not written yet. */
    get waiting() {
        return this.items.length - this.writeHead;
    }
    /** The oldest command in flight, now answered; `undefined` if none was in flight (a protocol error). */
    answered() {
        if (this.replyHead === this.writeHead)
            return undefined;
        const command = this.items[this.replyHead++];
        if (this.replyHead === this.items.length) {
            this.items = [];
            this.replyHead = 0;
            this.writeHead = 0;
        }
        else if (this.replyHead >= COMPACT_AFTER && this.replyHead * 2 >= this.items.length) {
            this.items = this.items.slice(this.replyHead);
            this.writeHead -= this.replyHead;
            this.replyHead = 0;
        }
        return command;
    }
    /** Removes and returns the commands in flight (their connection is lost). */
    dropInFlight() {
        const lost = this.items.slice(this.replyHead, this.writeHead);
        this.items = this.items.slice(this.writeHead);
        this.replyHead = 0;
        this.writeHead = 0;
        return lost;
    }
    /** Removes and returns the commands not written yet. */
    dropWaiting() {
        const waiting = this.items.slice(this.writeHead);
        this.items.length = this.writeHead;
        return waiting;
    }
}
/** One connection's protocol: writes queued commands, parses replies, settles them in order. */
class RedisConnection {
    /** `header`: at a reply's (or array element's) type line; `bulk`: waiting for `bulkLength` bytes + CRLF. */
    phase = 'header';
    /** Length of the bulk string being read (phase `bulk`). */
    bulkLength = 0;
    /** Arrays being filled, innermost last: nested replies without recursion or reparsing. */
    stack = [];
    /**
     * The command deadline (ms, `scope.now()` clock) set when replies were last owed, kept while
     * idle so that the stream's timer stays armed instead of being cleared and re-created for
     * every command; NaN when none is armed.
     */
    #deadline = Number.NaN;
    #queue;
    #options;
    constructor(queue, options) {
        this.#queue = queue;
        this.#options = options;
    }
    /** On a new connection: the commands queued while disconnected go out in the first write. */
    start(t, scope) {
        this.writeQueued(t);
        return this.next(scope);
    }
    wakeup(t, scope) {
        this.writeQueued(t);
        return this.next(scope);
    }
    /**
     * Parses every complete reply of the input in one pass over one view, with offsets, and
     * consumes once at the end: a partial reply is left for the next read, parsed state included
     * (the `bulk` phase and open arrays), so no byte is parsed twice.
     */
    bytesRead(t, end, scope) {
        const input = t.input;
        const buf = input.view(); // valid until the consume() below
        const length = buf.length;
        let pos = 0;
        // In phase `header` the stream found the first line's LF for us; in `bulk`, `end` is a byte count.
        let lf = this.phase === 'header' ? end : -1;
        for (;;) {
            if (this.phase === 'bulk') {
                const stop = pos + this.bulkLength;
                if (stop + 2 > length) {
                    input.consume(pos);
                    return this.#expect(Intent.of(this).expectBytes(this.bulkLength + 2), scope);
                }
                if (buf[stop] !== CR || buf[stop + 1] !== 0x0a)
                    return Intent.error(new ProtocolError('bulk reply not ended by CRLF'));
                const value = this.#options.returnBuffers ? Buffer.from(buf.subarray(pos, stop)) : buf.toString('utf8', pos, stop);
                pos = stop + 2;
                this.phase = 'header';
                if (!this.emit(value))
                    return Intent.error(new ProtocolError('a reply arrived for no command'));
                continue;
            }
            if (lf < pos)
                lf = lineEnd(buf, pos, length);
            // No whole line yet, or one over MAX_LINE: the stream waits for it, or reports the limit.
            if (lf < 0 || lf - pos > MAX_LINE)
                break;
            if (lf < pos + 2 || buf[lf - 1] !== CR)
                return Intent.error(new ProtocolError('reply line not ended by CRLF'));
            const type = buf[pos];
            const from = pos + 1;
            const to = lf - 1;
            pos = lf + 1;
            let value;
            switch (type) {
                case 0x2b: // '+' simple string
                    value = to - from === 2 && buf[from] === 0x4f && buf[from + 1] === 0x4b ? 'OK' : buf.toString('latin1', from, to);
                    break;
                case 0x2d: // '-' error
                    value = new ReplyError(buf.toString('latin1', from, to));
                    break;
                case 0x3a: // ':' integer
                    value = parseInteger(buf, from, to);
                    if (Number.isNaN(value))
                        return Intent.error(new ProtocolError(`bad integer ${buf.toString('latin1', from, to)}`));
                    break;
                case 0x24: {
                    // '$' bulk string
                    const size = parseInteger(buf, from, to);
                    if (!(size >= -1))
                        return Intent.error(new ProtocolError(`bad bulk length ${buf.toString('latin1', from, to)}`));
                    if (size >= 0) {
                        this.phase = 'bulk';
                        this.bulkLength = size;
                        continue;
                    }
                    value = null;
                    break;
                }
                case 0x2a: {
                    // '*' array
                    const count = parseInteger(buf, from, to);
                    if (!(count >= -1))
                        return Intent.error(new ProtocolError(`bad array length ${buf.toString('latin1', from, to)}`));
                    if (count > 0) {
                        this.stack.push({ items: [], remaining: count });
                        continue;
                    }
                    value = count === 0 ? [] : null;
                    break;
                }
                default:
                    return Intent.error(new ProtocolError(`unexpected reply type ${String.fromCharCode(type)}`));
            }
            if (!this.emit(value))
                return Intent.error(new ProtocolError('a reply arrived for no command'));
        }
        input.consume(pos);
        // Replies freed room in the window: top it up.
        if (this.#queue.waiting > 0)
            this.writeQueued(t);
        return this.next(scope);
    }
    /** A complete value: fills the innermost open array, or settles the oldest command. False if no command awaited it. */
    emit(value) {
        let done = value;
        const stack = this.stack;
        while (stack.length > 0) {
            const top = stack[stack.length - 1];
            top.items.push(done); // an error inside an array (EXEC) stays a value
            if (--top.remaining > 0)
                return true;
            stack.pop();
            done = top.items;
        }
        const command = this.#queue.answered();
        if (command === undefined)
            return false;
        if (done instanceof ReplyError)
            command.reject(done);
        else
            command.resolve(done);
        return true;
    }
    /** Writes queued commands into this round's output, within the in-flight window and MAX_BATCH_BYTES. */
    writeQueued(t) {
        const queue = this.#queue;
        const room = this.#options.maxInFlight - queue.inFlight;
        if (room <= 0)
            return;
        const out = t.output;
        const items = queue.items;
        const stop = Math.min(items.length, queue.writeHead + room);
        let i = queue.writeHead;
        const encoder = ENCODER;
        encoder.begin();
        while (i < stop) {
            encoder.encode(items[i++].args, out);
            if (encoder.size > MAX_BATCH_BYTES)
                break;
        }
        encoder.flush(out);
        queue.writeHead = i;
        // What did not fit waits; replies to what was sent will make room (see bytesRead).
    }
    /** Wait for a reply line. */
    next(scope) {
        return this.#expect(Intent.of(this).expectDelimiter(LF, LINE), scope);
    }
    /** Adds the command deadline while replies are owed; keeps the last one while idle (see `#deadline`). */
    #expect(intent, scope) {
        if (this.#queue.inFlight > 0)
            this.#deadline = scope.now() + this.#options.commandTimeout;
        return Number.isNaN(this.#deadline) ? intent : intent.deadline(this.#deadline);
    }
    timeout(_t, scope) {
        this.#deadline = Number.NaN;
        if (this.#queue.inFlight === 0)
            return this.next(scope); // the deadline kept while idle ran out: the timer stops
        return Intent.error(new TimeoutError(`no reply within ${this.#options.commandTimeout} ms`));
    }
    exception(_t, reason) {
        return Intent.error(reason); // end of stream, read error, a line over MAX_LINE: the connection is lost
    }
    fatal(reason) {
        // The commands already written may or may not have run: reject them, never resend them.
        for (const command of this.#queue.dropInFlight()) {
            command.reject(new ClosedError(`connection lost before the reply: ${reason.message}`, { cause: reason }));
        }
    }
}
/**
 * Encodes commands as RESP arrays of bulk strings into a scratch Buffer, handed to the output
 * with one `Buf.write` per round (or whenever it fills). Short ASCII arguments, most keys and
 * values, are copied by a JS loop: no string is built per command. Long or non-ASCII strings
 * are encoded natively, Buffers copied as they are (binary-safe). One instance serves every
 * connection: a round's encoding runs to its end synchronously and always ends with `flush`.
 */
class Encoder {
    /** Staging bytes; `[0, #at)` are encoded and not yet written to the output. */
    #bytes = Buffer.allocUnsafe(SCRATCH_BYTES);
    #at = 0;
    /** Bytes written to the output since `begin`, not counting the staged ones. */
    #written = 0;
    /** Bytes encoded since `begin`: bounds a round's batch. */
    get size() {
        return this.#written + this.#at;
    }
    begin() {
        this.#at = 0;
        this.#written = 0;
    }
    encode(args, out) {
        this.#room(HEADER_BYTES, out);
        this.#at = writeHeader(this.#bytes, this.#at, 0x2a, args.length);
        for (const arg of args) {
            if (typeof arg === 'string')
                this.#string(arg, out);
            else if (typeof arg === 'number')
                this.#string(String(arg), out);
            else
                this.#buffer(arg, out);
        }
    }
    /** Writes the staged bytes to the output. */
    flush(out) {
        if (this.#at === 0)
            return;
        this.#written += out.write(this.#bytes.subarray(0, this.#at));
        this.#at = 0;
    }
    #string(s, out) {
        const n = s.length;
        if (n <= SHORT_ARG) {
            this.#room(HEADER_BYTES + n + 2, out);
            const bytes = this.#bytes;
            const from = writeHeader(bytes, this.#at, 0x24, n);
            let i = 0;
            for (; i < n; i++) {
                const c = s.charCodeAt(i);
                if (c > 0x7f)
                    break; // not ASCII: its utf8 length is not n; encoded below instead
                bytes[from + i] = c;
            }
            if (i === n) {
                bytes[from + n] = CR;
                bytes[from + n + 1] = 0x0a;
                this.#at = from + n + 2;
                return;
            }
        }
        const length = Buffer.byteLength(s);
        if (length + HEADER_BYTES + 2 > SCRATCH_BYTES) {
            this.#header(length, out);
            this.flush(out);
            this.#written += out.write(s);
            this.#crlf(out);
            return;
        }
        this.#room(HEADER_BYTES + length + 2, out);
        const from = writeHeader(this.#bytes, this.#at, 0x24, length);
        this.#bytes.write(s, from, length, 'utf8');
        this.#at = from + length;
        this.#crlf(out);
    }
    #buffer(arg, out) {
        this.#header(arg.length, out);
        if (arg.length + 2 <= SCRATCH_BYTES - this.#at) {
            arg.copy(this.#bytes, this.#at);
            this.#at += arg.length;
        }
        else {
            this.flush(out);
            this.#written += out.write(arg);
        }
        this.#crlf(out);
    }
    #header(length, out) {
        this.#room(HEADER_BYTES, out);
        this.#at = writeHeader(this.#bytes, this.#at, 0x24, length);
    }
    #crlf(out) {
        this.#room(2, out);
        this.#bytes[this.#at++] = CR;
        this.#bytes[this.#at++] = 0x0a;
    }
    /** Makes room for `n` staged bytes (n <= SCRATCH_BYTES), flushing what is staged if needed. */
    #room(n, out) {
        if (this.#at + n > SCRATCH_BYTES)
            this.flush(out);
    }
}
const ENCODER = new Encoder();
/** Writes `<type><n>\r\n` at `at`; returns the position after it. */
function writeHeader(bytes, at, type, n) {
    bytes[at++] = type;
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10))
        digits++;
    for (let i = at + digits - 1, m = n; i >= at; i--, m = Math.floor(m / 10))
        bytes[i] = 0x30 + (m % 10);
    at += digits;
    bytes[at++] = CR;
    bytes[at++] = 0x0a;
    return at;
}
/** Position of the first LF in `buf[from, length)`, or -1: short lines by a JS loop, long ones by `indexOf`. */
function lineEnd(buf, from, length) {
    const short = Math.min(length, from + SHORT_LINE);
    for (let i = from; i < short; i++)
        if (buf[i] === 0x0a)
            return i;
    return short < length ? buf.indexOf(0x0a, short) : -1;
}
/**
 * The integer in `buf[from, to)`: an optional `-` and at least one digit, nothing else; NaN
 * otherwise. Up to 15 digits are summed in place (exact in a double); longer ones go through
 * `Number()` of the text, which rounds them correctly.
 */
function parseInteger(buf, from, to) {
    const negative = buf[from] === 0x2d;
    const first = negative ? from + 1 : from;
    if (to === first)
        return Number.NaN;
    let n = 0;
    for (let i = first; i < to; i++) {
        const digit = buf[i] - 0x30;
        if (digit < 0 || digit > 9)
            return Number.NaN;
        n = n * 10 + digit;
    }
    if (to - first > 15)
        return Number(buf.toString('latin1', from, to));
    return negative ? -n : n;
}
