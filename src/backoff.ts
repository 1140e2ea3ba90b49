/**
 * Reconnect delays for {@link Persistent}: exponential backoff with jitter, or a policy of the
 * user's own. Pure functions: the clock and the randomness belong to the caller, so tests pass
 * their own `random` and check the exact delays.
 */
import { InvalidArgumentError } from './errors.js'

/** Exponential backoff: attempt `k` (1-based) waits about `initialDelay * factor^(k-1)`, capped at `maxDelay`. */
export interface BackoffOptions {
  /** Delay before the first reconnect attempt, in ms. @default 200 */
  initialDelay?: number
  /** Upper bound on any one delay, in ms. @default 30000 */
  maxDelay?: number
  /** Growth of the delay from one failed attempt to the next (1 = constant delay). @default 2 */
  factor?: number
  /**
   * Share of each delay that is randomised, 0..1: the delay is drawn from
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

/** Defaults of {@link BackoffOptions}. */
export const BACKOFF_DEFAULTS: Readonly<Required<BackoffOptions>> = Object.freeze({
  initialDelay: 200,
  maxDelay: 30_000,
  factor: 2,
  jitter: 0.2,
})

/** Merges `options` over the defaults and validates them; throws `InvalidArgumentError` (`RS_ERR_INVALID_ARG`). */
export function backoffOptions(options: BackoffOptions = {}): Readonly<Required<BackoffOptions>> {
  const o = { ...BACKOFF_DEFAULTS, ...definedOnly(options) }
  if (!(Number.isFinite(o.initialDelay) && o.initialDelay >= 0)) throw invalid('initialDelay must be a finite number >= 0', options)
  if (!(Number.isFinite(o.maxDelay) && o.maxDelay >= o.initialDelay)) throw invalid('maxDelay must be finite and >= initialDelay', options)
  if (!(Number.isFinite(o.factor) && o.factor >= 1)) throw invalid('factor must be a finite number >= 1', options)
  if (!(o.jitter >= 0 && o.jitter <= 1)) throw invalid('jitter must be within 0..1', options)
  return Object.freeze(o)
}

/**
 * Delay in ms before reconnect attempt `attempt` (1-based), for validated options.
 * `random` returns a number in [0, 1), like `Math.random`; pass a fixed one for determinism.
 */
export function backoffDelay(attempt: number, options: Readonly<Required<BackoffOptions>>, random: () => number = Math.random): number {
  // Capping the exponent keeps factor^k finite for any attempt count (2^1024 is Infinity).
  const growth = options.factor ** Math.min(attempt - 1, 1000)
  const base = Math.min(options.maxDelay, options.initialDelay * growth)
  return Math.round(base * (1 - options.jitter * random()))
}

/**
 * Turns the `reconnect` option of a {@link Persistent} into a policy, validating it once.
 * Built-in backoff never gives up; a policy function decides for itself.
 */
export function reconnectPolicy(reconnect: BackoffOptions | ReconnectPolicy | undefined, random: () => number = Math.random): ReconnectPolicy {
  if (typeof reconnect === 'function') return reconnect
  if (reconnect !== undefined && (typeof reconnect !== 'object' || reconnect === null)) {
    throw new InvalidArgumentError(`reconnect must be backoff options or a function, got ${String(reconnect)}`)
  }
  const options = backoffOptions(reconnect)
  return (attempt) => backoffDelay(attempt, options, random)
}

/** `{ a: undefined }` must not override a default with `undefined`. */
function definedOnly(options: BackoffOptions): BackoffOptions {
  const out: BackoffOptions = {}
  for (const [key, value] of Object.entries(options) as [keyof BackoffOptions, number | undefined][]) {
    if (value !== undefined) out[key] = value
  }
  return out
}

function invalid(what: string, options: BackoffOptions): InvalidArgumentError {
  return new InvalidArgumentError(`invalid backoff options (${what}): ${JSON.stringify(options)}`)
}
