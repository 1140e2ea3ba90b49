/**
 * Reconnect delays for {@link Persistent}: exponential backoff with jitter, or a policy of the
 * user's own. Pure functions: the clock and the randomness belong to the caller, so tests pass
 * their own `random` and check the exact delays.
 */
import { checkFunction, checkInteger, checkMs, checkNumber, checkObject, checkOptions, invalid } from './validate.js'

/** Exponential backoff: attempt `k` (1-based) waits about `initialDelay * factor^(k-1)`, capped at `maxDelay`. */
export interface BackoffOptions {
  /** Delay before the first reconnect attempt: a whole number of ms within 0..2^31-1. @default 200 */
  initialDelay?: number
  /**
   * Upper bound on any one delay: a whole number of ms within `initialDelay`..2^31-1.
   * @default 30000, or `initialDelay` if that is longer
   */
  maxDelay?: number
  /** Growth of the delay from one failed attempt to the next, a finite number >= 1 (1 = constant delay). @default 2 */
  factor?: number
  /**
   * Share of each delay that is randomised, a number within 0..1: the delay is drawn from
   * `[base * (1 - jitter), base]`, so clients restarted together do not reconnect in lockstep
   * (1 = "full jitter", anywhere from 0 to the base).
   * @default 0.2
   */
  jitter?: number
}

/**
 * A reconnect policy of the user's own: called before every reconnect with the number of
 * consecutive failed attempts (1-based; it starts again at 1 after a connection that stayed up)
 * and the reason of the last failure or disconnect (`undefined` when the protocol ended the last
 * connection cleanly). Returns the delay in ms, or `null` to give up.
 */
export type ReconnectPolicy = (attempt: number, lastError: Error | undefined) => number | null

/** Default of {@link BackoffOptions.initialDelay}, in ms. */
const DEFAULT_INITIAL_DELAY = 200
/** Default of {@link BackoffOptions.maxDelay}, in ms (or `initialDelay` if that is longer). */
const DEFAULT_MAX_DELAY = 30_000
/** Default of {@link BackoffOptions.factor}. */
const DEFAULT_FACTOR = 2
/** Default of {@link BackoffOptions.jitter}. */
const DEFAULT_JITTER = 0.2

/**
 * Merges `options` (an object, or undefined for the defaults) over the defaults and validates
 * them; throws `InvalidArgumentError` (`RS_ERR_INVALID_ARG`) naming the option. `backoffOptions()`
 * is the defaults: `{ initialDelay: 200, maxDelay: 30000, factor: 2, jitter: 0.2 }`.
 */
export function backoffOptions(options?: BackoffOptions): Readonly<Required<BackoffOptions>> {
  return checkBackoff('backoffOptions', 'options', checkOptions('backoffOptions', 'options', options), false)
}

/**
 * Validates backoff options given to `where` as `name`. With `complete`, every option must be
 * there (validated options, as `backoffDelay` takes); otherwise missing ones are defaulted.
 */
function checkBackoff(where: string, name: string, options: BackoffOptions, complete: boolean): Readonly<Required<BackoffOptions>> {
  const or = (value: number | undefined, fallback: number): number | undefined => (value === undefined && !complete ? fallback : value)
  const initialDelay = checkMs(where, `${name}.initialDelay`, or(options.initialDelay, DEFAULT_INITIAL_DELAY))
  // Only a maxDelay that was given can be too short: the default one grows with initialDelay.
  const maxDelay = or(options.maxDelay, Math.max(DEFAULT_MAX_DELAY, initialDelay))
  return Object.freeze({
    initialDelay,
    maxDelay: checkMs(where, `${name}.maxDelay`, maxDelay, { min: initialDelay }),
    factor: checkNumber(where, `${name}.factor`, or(options.factor, DEFAULT_FACTOR), { min: 1 }),
    jitter: checkNumber(where, `${name}.jitter`, or(options.jitter, DEFAULT_JITTER), { min: 0, max: 1 }),
  })
}

/**
 * Delay in ms before reconnect attempt `attempt` (a positive integer, 1-based), for options
 * made by {@link backoffOptions}. `random` returns a number in [0, 1), like `Math.random`; pass a
 * fixed one for determinism. Throws `InvalidArgumentError` for a bad argument, and when
 * `random` returns something outside [0, 1).
 */
export function backoffDelay(attempt: number, options: Readonly<Required<BackoffOptions>>, random: () => number = Math.random): number {
  checkInteger('backoffDelay', 'attempt', attempt, { min: 1 })
  const o = checkBackoff('backoffDelay', 'options', checkObject('backoffDelay', 'options', options, 'backoff options made by backoffOptions()'), true)
  checkFunction('backoffDelay', 'random', random, 'a function returning a number within [0, 1)')
  const r = random()
  if (!(typeof r === 'number' && r >= 0 && r < 1)) throw invalid('backoffDelay', 'random()', 'a number within [0, 1)', r)
  // Capping the exponent keeps factor^k finite for most factors (2^1024 is Infinity); a huge
  // factor still overflows, and 0 * Infinity is NaN: a zero delay stays zero.
  const growth = o.factor ** Math.min(attempt - 1, 1000)
  const base = o.initialDelay === 0 ? 0 : Math.min(o.maxDelay, o.initialDelay * growth)
  return Math.round(base * (1 - o.jitter * r))
}

/**
 * Turns the `reconnect` option of a {@link Persistent} into a policy, validating it once.
 * Built-in backoff never gives up; a policy function decides for itself.
 * @internal
 */
export function reconnectPolicy(
  reconnect: BackoffOptions | ReconnectPolicy | undefined,
  random: () => number = Math.random,
  where = 'Persistent',
): ReconnectPolicy {
  if (typeof reconnect === 'function') return reconnect
  const expected = 'backoff options { initialDelay, maxDelay, factor, jitter } or a function (attempt, lastError) => ms | null'
  const options = checkBackoff(where, 'options.reconnect', checkOptions(where, 'options.reconnect', reconnect, expected), false)
  return (attempt) => backoffDelay(attempt, options, random)
}
