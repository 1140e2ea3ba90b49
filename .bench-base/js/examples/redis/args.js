/**
 * The arguments of one command, read in place: spans of the connection's input bytes, so that
 * parsing a command allocates nothing. Valid only while the command runs (its input is consumed
 * after it): whatever the keyspace keeps is copied out, as bytes (`copy()`) or a latin1 string (`string()`).
 */
const EMPTY = Buffer.alloc(0);
/** Longest decimal integer Redis accepts (string2ll): a sign and 19 digits. */
const MAX_INTEGER_LENGTH = 20;
/** Arguments up to this many bytes are copied by a JS loop (`copy`). */
const SHORT_COPY = 32;
export class Args {
    /** The bytes the spans point into: a view of the input, set before each command runs. */
    data = EMPTY;
    /** Number of arguments, the command name (argument 0) included. */
    count = 0;
    /** Argument `i` is `data[starts[i], ends[i])`; entries at `count` and above are stale. */
    starts = [];
    ends = [];
    /** Appends argument `data[start, end)`. */
    push(start, end) {
        this.starts[this.count] = start;
        this.ends[this.count] = end;
        this.count++;
    }
    /** Moves every span `by` bytes back: the input before them was consumed. */
    rebase(by) {
        for (let i = 0; i < this.count; i++) {
            this.starts[i] = this.starts[i] - by;
            this.ends[i] = this.ends[i] - by;
        }
    }
    /** Forgets all arguments; drops span arrays grown by a huge command, so an idle connection stays small. */
    clear() {
        if (this.starts.length > 1024)
            this.starts.length = this.ends.length = 0;
        this.count = 0;
    }
    /** Drops the view of the input (its storage may be released or reused): spans stay, to be resumed on a new view. */
    release() {
        this.data = EMPTY;
    }
    /** Length of argument `i` in bytes. */
    length(i) {
        return this.ends[i] - this.starts[i];
    }
    /** Argument `i` as a latin1 string: one char per byte, so any bytes round-trip (keys and list elements are kept so). */
    string(i) {
        return this.data.toString('latin1', this.starts[i], this.ends[i]);
    }
    /** Copies argument `i` into `target`, which is exactly as long. */
    copy(i, target) {
        const start = this.starts[i];
        const n = target.length;
        // A JS loop beats subarray() + set() for short arguments, as in Buf.writeFrom.
        if (n <= SHORT_COPY)
            for (let k = 0; k < n; k++)
                target[k] = this.data[start + k];
        else
            target.set(this.data.subarray(start, start + n));
    }
    /** Argument `i` without copying (valid while the command runs). */
    view(i) {
        return this.data.subarray(this.starts[i], this.ends[i]);
    }
    /** Is argument `i` the upper-case ASCII word `word`, in any case? (`& 0xdf` folds a-z onto A-Z; only letters compare equal.) */
    is(i, word) {
        if (i >= this.count)
            return false;
        const start = this.starts[i];
        if (this.ends[i] - start !== word.length)
            return false;
        const data = this.data;
        for (let k = 0; k < word.length; k++)
            if ((data[start + k] & 0xdf) !== word.charCodeAt(k))
                return false;
        return true;
    }
    /** Argument `i` parsed as a strict decimal integer (no spaces, no '+', no leading zeros), as Redis' string2ll; null if not one. */
    integer(i) {
        return i < this.count ? parseInteger(this.data, this.starts[i], this.ends[i]) : null;
    }
}
/** Parses `bytes[start, end)` as a strict decimal integer (see `Args.integer`); null if not one or not a safe integer. */
export function parseInteger(bytes, start, end) {
    const negative = bytes[start] === 0x2d;
    const first = negative ? start + 1 : start;
    if (first >= end || end - start > MAX_INTEGER_LENGTH)
        return null;
    if (bytes[first] === 0x30 && end - first > 1)
        return null; // leading zero
    let n = 0;
    for (let k = first; k < end; k++) {
        const digit = bytes[k] - 0x30;
        if (digit < 0 || digit > 9)
            return null;
        n = n * 10 + digit;
    }
    if (!Number.isSafeInteger(n))
        return null;
    return negative ? -n : n;
}
