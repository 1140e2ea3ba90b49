/**
 * The parse-and-execute loop of the hand-written RESP server (bench/resp/hand-server.ts), without
 * its socket, so that bench/micro/resp-server.ts measures the very same code: PING, SET, GET and
 * the CONFIG GET redis-benchmark sends at start-up, on one accumulated buffer with `indexOf`.
 */
const CR = 0x0d;
const LF = 0x0a;
/** Largest bulk string accepted, bytes (Redis' proto-max-bulk-len default is 512 MiB; ours 8 MiB). */
const MAX_BULK = 8 * 1024 * 1024;
/** Longest inline command or header line, bytes. */
const MAX_LINE = 64 * 1024;
const PONG = Buffer.from('+PONG\r\n');
const OK = Buffer.from('+OK\r\n');
const NULL_BULK = Buffer.from('$-1\r\n');
const CRLF = Buffer.from('\r\n');
/** CONFIG GET answers redis-benchmark asks for at start-up. */
const CONFIG = { save: '', appendonly: 'no' };
/** The keyspace. */
export const data = new Map();
/** Reads the decimal after a type byte at `from` up to the CR before `lf`; NaN if malformed. */
function readNumber(buf, from, lf) {
    if (buf[lf - 1] !== CR || lf - 1 <= from)
        return Number.NaN;
    let n = 0;
    for (let i = from; i < lf - 1; i++) {
        const d = buf[i] - 0x30;
        if (d < 0 || d > 9)
            return Number.NaN;
        n = n * 10 + d;
    }
    return n;
}
/** Is `arg` the upper-case ASCII word `word`, in any case? */
function isWord(arg, word) {
    if (arg.length !== word.length)
        return false;
    for (let i = 0; i < word.length; i++)
        if ((arg[i] & 0xdf) !== word.charCodeAt(i))
            return false;
    return true;
}
function bulk(value) {
    return Buffer.from(`$${Buffer.byteLength(value)}\r\n${value}\r\n`);
}
/** Runs one command, pushing its reply pieces. */
function execute(args, replies) {
    const name = args[0];
    if (isWord(name, 'GET') && args.length === 2) {
        const value = data.get(args[1].toString('latin1'));
        if (value === undefined)
            replies.push(NULL_BULK);
        else
            replies.push(Buffer.from(`$${value.length}\r\n`), value, CRLF);
    }
    else if (isWord(name, 'SET') && args.length === 3) {
        data.set(args[1].toString('latin1'), Buffer.from(args[2]));
        replies.push(OK);
    }
    else if (isWord(name, 'PING') && args.length === 1) {
        replies.push(PONG);
    }
    else if (isWord(name, 'CONFIG') && args.length >= 3 && isWord(args[1], 'GET')) {
        const pairs = [];
        for (const a of args.slice(2)) {
            const wanted = a.toString('latin1').toLowerCase();
            const value = CONFIG[wanted];
            if (value !== undefined)
                pairs.push(wanted, value);
        }
        replies.push(Buffer.from(`*${pairs.length}\r\n`), ...pairs.map(bulk));
    }
    else {
        replies.push(Buffer.from(`-ERR unknown command '${name.toString('latin1').slice(0, 64)}'\r\n`));
    }
}
/**
 * Parses one command at `pos`: pushes its reply and returns the position after it, -1 when the
 * command is not complete yet, or -2 on a protocol error.
 */
function parseCommand(buf, pos, replies) {
    const lf = buf.indexOf(LF, pos);
    if (lf < 0)
        return buf.length - pos > MAX_LINE ? -2 : -1;
    if (buf[pos] !== 0x2a) {
        // Inline command (redis-benchmark's PING_INLINE): words separated by spaces.
        const end = buf[lf - 1] === CR ? lf - 1 : lf;
        const words = buf
            .toString('latin1', pos, end)
            .split(' ')
            .filter((w) => w.length > 0);
        if (words.length > 0)
            execute(words.map((w) => Buffer.from(w, 'latin1')), replies);
        return lf + 1;
    }
    const count = readNumber(buf, pos + 1, lf);
    if (!(count >= 0 && count <= 1024 * 1024))
        return -2;
    const args = new Array(count);
    let at = lf + 1;
    for (let i = 0; i < count; i++) {
        const headerEnd = buf.indexOf(LF, at);
        if (headerEnd < 0)
            return -1;
        if (buf[at] !== 0x24)
            return -2;
        const length = readNumber(buf, at + 1, headerEnd);
        if (!(length >= 0 && length <= MAX_BULK))
            return -2;
        const start = headerEnd + 1;
        if (start + length + 2 > buf.length)
            return -1;
        args[i] = buf.subarray(start, start + length);
        at = start + length + 2;
    }
    if (count > 0)
        execute(args, replies);
    return at;
}
/**
 * Parses and executes every complete command of `buf`, pushing their replies; returns where the
 * unparsed tail starts, or -1 on a protocol error.
 */
export function parseRead(buf, replies) {
    let pos = 0;
    while (pos < buf.length) {
        const next = parseCommand(buf, pos, replies);
        if (next === -2)
            return -1;
        if (next === -1)
            break;
        pos = next;
    }
    return pos;
}
