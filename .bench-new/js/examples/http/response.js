/** Reason phrases of the statuses the examples use (RFC 9110 §15). */
export const STATUS_TEXT = {
    100: 'Continue',
    200: 'OK',
    201: 'Created',
    204: 'No Content',
    304: 'Not Modified',
    400: 'Bad Request',
    404: 'Not Found',
    405: 'Method Not Allowed',
    408: 'Request Timeout',
    413: 'Content Too Large',
    417: 'Expectation Failed',
    431: 'Request Header Fields Too Large',
    500: 'Internal Server Error',
    501: 'Not Implemented',
    502: 'Bad Gateway',
    505: 'HTTP Version Not Supported',
};
/** Stands for "no fields" in the cache. */
const NO_FIELDS = Object.freeze({});
const CONNECTION_LINE = { none: '', close: 'Connection: close\r\n', 'keep-alive': 'Connection: keep-alive\r\n' };
/** String bodies up to this many chars are kept with a cached head (a copy per frozen header object). */
const MAX_CACHED_TEXT = 1024;
/** Writes answers for one server; every connection of the server shares one. */
export class ResponseWriter {
    /** The Date value, or null to send none. */
    #date;
    /** Frozen header object → the answer last built with it. */
    #cache = new WeakMap();
    constructor(date) {
        this.#date = date;
    }
    /**
     * Appends an answer to `out`: `status`, the handler's `fields`, Content-Length, the
     * `connection` line, then `body` unless `sendBody` is false (the answer to HEAD). Throws,
     * having written nothing, if a field would inject CR or LF.
     */
    write(out, status, fields, body, connection, sendBody) {
        const date = this.#date === null ? null : this.#date();
        // RFC 9110 §8.6 and §6.4.1: no Content-Length and no body in 1xx, 204 and 304 answers.
        const hasBody = status >= 200 && status !== 204 && status !== 304;
        const key = fields ?? NO_FIELDS;
        const cached = Object.isFrozen(key) ? this.#cache.get(key) : undefined;
        if (cached !== undefined && cached.status === status && cached.date === date && cached.connection === connection) {
            if (body === cached.text) {
                // The hot path: the same answer as last time, body included.
                out.write(sendBody && hasBody ? cached.withText : cached.head);
                return;
            }
            if ((hasBody ? byteLength(body) : -1) === cached.length) {
                writeAnswer(out, cached.head, body, sendBody && cached.length > 0);
                return;
            }
        }
        const length = hasBody ? byteLength(body) : -1;
        const head = build(status, date, key, length, connection);
        if (!Object.isFrozen(key)) {
            writeAnswer(out, head, body, sendBody && length > 0);
            return;
        }
        const bytes = Buffer.from(head);
        const text = typeof body === 'string' && body.length <= MAX_CACHED_TEXT ? body : null;
        const withText = text === null ? null : Buffer.concat([bytes, Buffer.from(text)]);
        this.#cache.set(key, { status, date, connection, length, head: bytes, text, withText });
        writeAnswer(out, bytes, body, sendBody && length > 0);
    }
}
function writeAnswer(out, head, body, sendBody) {
    out.write(head);
    if (sendBody)
        out.write(body);
}
function byteLength(body) {
    return typeof body === 'string' ? Buffer.byteLength(body) : body.length;
}
/** Serializes a head; throws if a field would inject CR or LF (or a name a colon). */
function build(status, date, fields, length, connection) {
    let text = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n`;
    if (date !== null)
        text += `Date: ${date}\r\n`;
    for (const name in fields) {
        const value = fields[name];
        // A CR or LF in a handler's header would let a request inject headers into its own answer.
        if (/[\r\n:]/.test(name) || /[\r\n]/.test(value))
            throw new Error(`invalid response header ${JSON.stringify(name)}`);
        text += `${name}: ${value}\r\n`;
    }
    if (length >= 0)
        text += `Content-Length: ${length}\r\n`;
    return `${text}${CONNECTION_LINE[connection]}\r\n`;
}
let dateText = null;
/** Now as an IMF-fixdate (RFC 9110 §5.6.7), formatted at most once a second: a timer clears it at the next second. */
export function httpDate() {
    if (dateText === null) {
        const now = Date.now();
        dateText = new Date(now).toUTCString();
        setTimeout(clearDate, 1000 - (now % 1000)).unref();
    }
    return dateText;
}
function clearDate() {
    dateText = null;
}
