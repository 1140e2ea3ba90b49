/**
 * Run-time checks of arguments and options, for callers without a type checker. Every failure
 * is an `InvalidArgumentError` with one shape of message:
 *
 *     <function>: <argument> must be <what is expected>, got <value>
 *
 * e.g. `serve: options.maxConnections must be a positive integer, got 1.5`.
 *
 * Hot paths (Intent builders, Buf methods) test inline and call {@link invalid} only to throw,
 * so that a valid call costs a comparison or two and allocates nothing.
 * @internal
 */
import { MAX_TIMER } from './deadline.js';
import { InvalidArgumentError } from './errors.js';
/** Strings longer than this are cut in messages: a message is no place for a megabyte of input. */
const MAX_SHOWN = 60;
/**
 * The value as a message shows it; never throws, whatever it is given (a Symbol, a revoked
 * Proxy, an object whose `constructor` getter throws): strings quoted, numbers as written
 * (`NaN`, `-Infinity`, `-0`), objects by their constructor's name, functions by theirs.
 */
export function describeValue(value) {
    switch (typeof value) {
        case 'string': {
            if (value.length <= MAX_SHOWN)
                return JSON.stringify(value);
            return `${JSON.stringify(value.slice(0, MAX_SHOWN - 20)).slice(0, -1)}…" (${value.length} characters)`;
        }
        case 'number':
            return Object.is(value, -0) ? '-0' : String(value);
        case 'bigint':
            return `${value}n`;
        case 'function': {
            const name = safely(() => value.name);
            return typeof name === 'string' && name !== '' ? `function ${name}` : 'an anonymous function';
        }
        case 'object': {
            if (value === null)
                return 'null';
            const name = safely(() => {
                const proto = Object.getPrototypeOf(value);
                if (proto === null)
                    return null;
                const ctor = proto.constructor;
                return typeof ctor === 'function' ? ctor.name : undefined;
            });
            if (name === null)
                return 'an object with no prototype';
            return typeof name === 'string' && name !== '' ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'an object';
        }
        default:
            // undefined, booleans and symbols: String() spells them all, a template would throw on a Symbol.
            return String(value);
    }
}
function safely(read) {
    try {
        return read();
    }
    catch {
        return undefined;
    }
}
/** The error for `where: name must be expected, got value`. Throw it: `throw invalid(...)`. */
export function invalid(where, name, expected, value) {
    return new InvalidArgumentError(`${where}: ${name} must be ${expected}, got ${describeValue(value)}`);
}
/** `an integer within 1..10`, `a non-negative integer`, `a positive integer`, `an integer >= 5`, `a (safe) integer`. */
function integerRange(min, max) {
    if (min === Number.MIN_SAFE_INTEGER && max === Number.MAX_SAFE_INTEGER)
        return 'a (safe) integer';
    if (max < Number.MAX_SAFE_INTEGER)
        return `an integer within ${min}..${max}`;
    if (min === 0)
        return 'a non-negative integer';
    if (min === 1)
        return 'a positive integer';
    return `an integer >= ${min}`;
}
/** A safe integer (a count of bytes, a port, a size) within `range`. */
export function checkInteger(where, name, value, range = {}) {
    const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
    if (!(Number.isSafeInteger(value) && value >= min && value <= max))
        throw invalid(where, name, integerRange(min, max), value);
    return value;
}
/**
 * A timer option: a whole number of ms within `range` (default 0..2^31-1, the longest delay
 * `setTimeout` takes; longer ones fire after 1 ms). Whole, as Node's own timeout options are.
 */
export function checkMs(where, name, value, range = {}) {
    const { min = 0, max = MAX_TIMER } = range;
    if (!(Number.isSafeInteger(value) && value >= min && value <= max))
        throw invalid(where, name, `an integer number of ms within ${min}..${max}`, value);
    return value;
}
/** A finite number (fractions allowed) within `range`. */
export function checkNumber(where, name, value, range = {}) {
    const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY } = range;
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max)) {
        const bounds = min === Number.NEGATIVE_INFINITY
            ? max === Number.POSITIVE_INFINITY
                ? ''
                : ` <= ${max}`
            : max === Number.POSITIVE_INFINITY
                ? ` >= ${min}`
                : ` within ${min}..${max}`;
        throw invalid(where, name, `a finite number${bounds}`, value);
    }
    return value;
}
export function checkBoolean(where, name, value) {
    if (typeof value !== 'boolean')
        throw invalid(where, name, 'true or false', value);
    return value;
}
/** A string; with `nonEmpty` (the default) not `''`. */
export function checkString(where, name, value, nonEmpty = true) {
    if (typeof value !== 'string' || (nonEmpty && value === ''))
        throw invalid(where, name, nonEmpty ? 'a non-empty string' : 'a string', value);
    return value;
}
/** A function; `expected` says which (`'a function (attempt, lastError) => ms | null'`). */
export function checkFunction(where, name, value, expected = 'a function') {
    if (typeof value !== 'function')
        throw invalid(where, name, expected, value);
    return value;
}
/** A plain object (not null, not an array, not a function); `expected` may spell out its shape. */
export function checkObject(where, name, value, expected = 'an object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw invalid(where, name, expected, value);
    return value;
}
/**
 * An options argument: `undefined` is "all defaults" (`{}`); anything else must be an object,
 * so that `null` fails here and not as a TypeError when its fields are read.
 */
export function checkOptions(where, name, value, expected = 'an object (or undefined for the defaults)') {
    return value === undefined ? {} : checkObject(where, name, value, expected);
}
/** One of a few allowed values (`'lf'` or `'crlf'`). */
export function checkOneOf(where, name, value, allowed) {
    if (!allowed.includes(value)) {
        const spelled = allowed.map((a) => describeValue(a).replaceAll('"', "'"));
        throw invalid(where, name, spelled.length === 2 ? `${spelled[0]} or ${spelled[1]}` : `one of ${spelled.join(', ')}`, value);
    }
    return value;
}
/** Bytes: a string or a Uint8Array (a Buffer is one). */
export function checkBytes(where, name, value) {
    if (typeof value !== 'string' && !(value instanceof Uint8Array))
        throw invalid(where, name, 'a string or a Uint8Array', value);
    return value;
}
/** Longest Unix socket path in bytes, without the terminating NUL, where the platform is known; 0 where it is not. */
const UNIX_PATH_MAX = process.platform === 'linux' || process.platform === 'android'
    ? 107 // sockaddr_un.sun_path is 108 bytes
    : process.platform === 'darwin' || process.platform === 'freebsd' || process.platform === 'openbsd' || process.platform === 'netbsd'
        ? 103 // 104 bytes
        : 0;
/**
 * A Unix socket path: a non-empty string the platform can bind or connect to. A longer path
 * than `sun_path` holds is silently cut by the kernel interface: a server would listen on
 * (and leave behind) a file of another name, a client would connect somewhere else.
 */
export function checkUnixPath(where, name, value) {
    const path = checkString(where, name, value);
    if (UNIX_PATH_MAX === 0)
        return path;
    const bytes = Buffer.byteLength(path);
    // A Linux abstract socket name (leading NUL) needs no terminator: it may fill all of sun_path.
    const max = path.startsWith('\0') && UNIX_PATH_MAX === 107 ? 108 : UNIX_PATH_MAX;
    if (bytes > max) {
        throw new InvalidArgumentError(`${where}: ${name} is ${bytes} bytes long, but ${process.platform} allows at most ${max} bytes in a Unix socket path; use a shorter path (a relative one, or a shorter directory), got ${describeValue(path)}`);
    }
    return path;
}
