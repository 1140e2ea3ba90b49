import { parseChunkSize } from './parse.js';
const CRLF = Buffer.from('\r\n');
const CR = 0x0d;
const LF = 0x0a;
/** Longest chunk-size line (size and extensions), bytes without CRLF; longer is a 400. */
export const MAX_CHUNK_LINE = 4096;
/** Most bytes of trailer field lines (CRLFs not counted) after the last chunk; they are read and dropped; more is a 431. */
export const MAX_TRAILERS = 16 * 1024;
const NEED_SIZE_LINE = Object.freeze({ kind: 'line', max: MAX_CHUNK_LINE });
const DONE = Object.freeze({ kind: 'done' });
/** Decodes one chunked body. Create one per message. */
export class ChunkedDecoder {
    /**
     * `size`: at a chunk-size line. `data`: inside a chunk, `#remaining` data bytes and a CRLF to
     * go. `trailers`: after the last chunk, at a trailer field line or the final empty line.
     */
    phase = 'size';
    /** Data bytes of the current chunk not yet read (phase data). */
    #remaining = 0;
    /** The decoded data so far, copied out of the input (the input's views die with consume()). */
    #parts = [];
    /** Sum of `#parts` lengths; never above `#maxBody`. */
    #length = 0;
    /** Bytes of trailer field lines so far, without their CRLFs (phase trailers); never above MAX_TRAILERS. */
    #trailerBytes = 0;
    #maxBody;
    /** `maxBody`: most decoded bytes accepted; a chunk that would pass it is a 413 before it is read. */
    constructor(maxBody) {
        this.#maxBody = maxBody;
    }
    /** Decoded bytes so far. */
    get length() {
        return this.#length;
    }
    /** The decoded body (once `decode` said `done`). */
    body() {
        return this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#length);
    }
    /** Decodes from the front of `input`, consuming what it used, until it needs more or is done. */
    decode(input) {
        for (;;) {
            switch (this.phase) {
                case 'size': {
                    const end = input.indexOf(CRLF);
                    if (end < 0 || end > MAX_CHUNK_LINE)
                        return this.#needLine(input, end, MAX_CHUNK_LINE);
                    const size = parseChunkSize(input.toString('latin1', 0, end));
                    if (size === null)
                        return { kind: 'error', status: 400, message: 'malformed chunk size' };
                    // Checked before a byte of the chunk is buffered: a peer cannot make us hold more.
                    if (size > this.#maxBody - this.#length)
                        return { kind: 'error', status: 413, message: `body larger than ${this.#maxBody} bytes` };
                    input.consume(end + 2);
                    this.#remaining = size;
                    this.phase = size === 0 ? 'trailers' : 'data';
                    break;
                }
                case 'data': {
                    const n = this.#remaining;
                    if (input.length < n + 2)
                        return { kind: 'bytes', n: n + 2 };
                    if (input.byte(n) !== CR || input.byte(n + 1) !== LF)
                        return { kind: 'error', status: 400, message: 'chunk data not followed by CRLF' };
                    this.#parts.push(input.copy(0, n));
                    this.#length += n;
                    input.consume(n + 2);
                    this.phase = 'size';
                    break;
                }
                case 'trailers': {
                    const left = MAX_TRAILERS - this.#trailerBytes;
                    const end = input.indexOf(CRLF);
                    if (end < 0 || end > left)
                        return this.#needLine(input, end, left);
                    input.consume(end + 2);
                    if (end === 0)
                        return DONE; // the empty line that ends the message
                    this.#trailerBytes += end;
                    break;
                }
            }
        }
    }
    /**
     * The error for a line that grew past its bound. The protocol calls it when the stream reports
     * a `LimitReachedError` on the `line` expectation, so that a line too long gives the same answer
     * whether the decoder or the stream noticed it.
     */
    overLimit() {
        return this.phase === 'trailers'
            ? { kind: 'error', status: 431, message: `trailers larger than ${MAX_TRAILERS} bytes` }
            : { kind: 'error', status: 400, message: `chunk size line longer than ${MAX_CHUNK_LINE} bytes` };
    }
    /** Wait for a line of at most `max` bytes (its CRLF is at `end`, or -1), unless the input already passed that bound. */
    #needLine(input, end, max) {
        // The stream's rule for expectDelimiter, applied here too: found past `max`, or `max` plus
        // the delimiter's length buffered without it.
        if (end > max || (end < 0 && input.length >= max + 2))
            return this.overLimit();
        return max === MAX_CHUNK_LINE ? NEED_SIZE_LINE : { kind: 'line', max };
    }
}
