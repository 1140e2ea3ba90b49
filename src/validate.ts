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
 * Not part of the package's API. (Not tagged internal: on a file's first comment the tag
 * would strip the import below from the declarations.)
 */
import { types } from 'node:util'
import { MAX_TIMER } from './deadline.js'
import { InvalidArgumentError } from './errors.js'

/** Strings longer than this are cut in messages: a message is no place for a megabyte of input. */
const MAX_SHOWN = 60

/**
 * The value as a message shows it; never throws, whatever it is given (a Symbol, a revoked
 * Proxy, an object whose `constructor` getter throws): strings quoted, numbers as written
 * (`NaN`, `-Infinity`, `-0`), objects by their constructor's name, functions by theirs.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string': {
      if (value.length <= MAX_SHOWN) return JSON.stringify(value)
      return `${JSON.stringify(value.slice(0, MAX_SHOWN - 20)).slice(0, -1)}…" (${value.length} characters)`
    }
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'bigint':
      return `${value}n`
    case 'function': {
      const name = safely(() => (value as { name?: unknown }).name)
      return typeof name === 'string' && name !== '' ? `function ${name}` : 'an anonymous function'
    }
    case 'object': {
      if (value === null) return 'null'
      const name = safely(() => {
        const proto: unknown = Object.getPrototypeOf(value)
        if (proto === null) return null
        const ctor: unknown = (proto as { constructor?: unknown }).constructor
        return typeof ctor === 'function' ? (ctor as { name?: unknown }).name : undefined
      })
      if (name === null) return 'an object with no prototype'
      return typeof name === 'string' && name !== '' ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'an object'
    }
    default:
      // undefined, booleans and symbols: String() spells them all, a template would throw on a Symbol.
      return String(value)
  }
}

function safely(read: () => unknown): unknown {
  try {
    return read()
  } catch {
    return undefined
  }
}

/** The error for `where: name must be expected, got value`. Throw it: `throw invalid(...)`. */
export function invalid(where: string, name: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${where}: ${name} must be ${expected}, got ${describeValue(value)}`)
}

/** Whether `value` is an Error, also one made in another realm (a vm context), as `util.types.isNativeError` knows. */
export function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value)
}

/** Bounds of a number, both inclusive. */
export interface Range {
  /** @default 0 */
  min?: number
  /** @default Number.MAX_SAFE_INTEGER for integers, {@link MAX_TIMER} for ms */
  max?: number
}

/** `an integer within 1..10`, `a non-negative integer`, `a positive integer`, `an integer >= 5`, `a (safe) integer`. */
function integerRange(min: number, max: number): string {
  if (min === Number.MIN_SAFE_INTEGER && max === Number.MAX_SAFE_INTEGER) return 'a (safe) integer'
  if (max < Number.MAX_SAFE_INTEGER) return `an integer within ${min}..${max}`
  if (min === 0) return 'a non-negative integer'
  if (min === 1) return 'a positive integer'
  return `an integer >= ${min}`
}

/** A safe integer (a count of bytes, a port, a size) within `range`. */
export function checkInteger(where: string, name: string, value: unknown, range: Range = {}): number {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range
  if (!(Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max)) throw invalid(where, name, integerRange(min, max), value)
  return value as number
}

/**
 * A timer option: a whole number of ms within `range` (default 0..2^31-1, the longest delay
 * `setTimeout` takes; longer ones fire after 1 ms). Whole, as Node's own timeout options are.
 */
export function checkMs(where: string, name: string, value: unknown, range: Range = {}): number {
  const { min = 0, max = MAX_TIMER } = range
  if (!(Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max))
    throw invalid(where, name, `an integer number of ms within ${min}..${max}`, value)
  return value as number
}

/** A finite number (fractions allowed) within `range`. */
export function checkNumber(where: string, name: string, value: unknown, range: Range = {}): number {
  const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY } = range
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max)) {
    const bounds =
      min === Number.NEGATIVE_INFINITY
        ? max === Number.POSITIVE_INFINITY
          ? ''
          : ` <= ${max}`
        : max === Number.POSITIVE_INFINITY
          ? ` >= ${min}`
          : ` within ${min}..${max}`
    throw invalid(where, name, `a finite number${bounds}`, value)
  }
  return value
}

export function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(where, name, 'true or false', value)
  return value
}

/** A string; with `nonEmpty` (the default) not `''`. */
export function checkString(where: string, name: string, value: unknown, nonEmpty = true): string {
  if (typeof value !== 'string' || (nonEmpty && value === '')) throw invalid(where, name, nonEmpty ? 'a non-empty string' : 'a string', value)
  return value
}

/** A function; `expected` says which (`'a function (attempt, lastError) => ms | null'`). */
export function checkFunction<F>(where: string, name: string, value: unknown, expected = 'a function'): F {
  if (typeof value !== 'function') throw invalid(where, name, expected, value)
  return value as F
}

/** A plain object (not null, not an array, not a function); `expected` may spell out its shape. */
export function checkObject<O extends object>(where: string, name: string, value: unknown, expected = 'an object'): O {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(where, name, expected, value)
  return value as O
}

/**
 * An options argument: `undefined` is "all defaults" (`{}`); anything else must be an object,
 * so that `null` fails here and not as a TypeError when its fields are read.
 */
export function checkOptions<O extends object>(where: string, name: string, value: unknown, expected = 'an object (or undefined for the defaults)'): O {
  return value === undefined ? ({} as O) : checkObject<O>(where, name, value, expected)
}

/** One of a few allowed values (`'lf'` or `'crlf'`). */
export function checkOneOf<T>(where: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    const spelled = allowed.map((a) => describeValue(a).replaceAll('"', "'"))
    throw invalid(where, name, spelled.length === 2 ? `${spelled[0]} or ${spelled[1]}` : `one of ${spelled.join(', ')}`, value)
  }
  return value as T
}

/** Bytes: a string or a Uint8Array (a Buffer is one). */
export function checkBytes(where: string, name: string, value: unknown): Uint8Array | string {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw invalid(where, name, 'a string or a Uint8Array', value)
  return value
}

/** Longest Unix socket path in bytes, without the terminating NUL, where the platform is known; 0 where it is not. */
const UNIX_PATH_MAX: number =
  process.platform === 'linux' || process.platform === 'android'
    ? 107 // sockaddr_un.sun_path is 108 bytes
    : process.platform === 'darwin' || process.platform === 'freebsd' || process.platform === 'openbsd' || process.platform === 'netbsd'
      ? 103 // 104 bytes
      : 0

/**
 * A Unix socket path: a non-empty string the platform can bind or connect to. A longer path
 * than `sun_path` holds is silently cut by the kernel interface: a server would listen on
 * (and leave behind) a file of another name, a client would connect somewhere else.
 */
export function checkUnixPath(where: string, name: string, value: unknown): string {
  const path = checkString(where, name, value)
  if (UNIX_PATH_MAX === 0) return path
  const bytes = Buffer.byteLength(path)
  // A Linux abstract socket name (leading NUL) needs no terminator: it may fill all of sun_path.
  const max = path.startsWith('\0') && UNIX_PATH_MAX === 107 ? 108 : UNIX_PATH_MAX
  if (bytes > max) {
    throw new InvalidArgumentError(
      `${where}: ${name} is ${bytes} bytes long, but ${process.platform} allows at most ${max} bytes in a Unix socket path; use a shorter path (a relative one, or a shorter directory), got ${describeValue(path)}`,
    )
  }
  return path
}
