/**
 * Reconnect delays for {@link Persistent}: exponential backoff with jitter, or a policy of the
 * user's own. Pure functions: the clock and the randomness belong to the caller, so tests pass
 * their own `random` and check the exact delays.
 */
import { checkFunction, checkInteger, checkMs, checkNumber, checkObject, checkOptions, invalid } from './validate.js';
/** Defaults of {@link BackoffOptions}. */
export const BACKOFF_DEFAULTS = Object.freeze({
    initialDelay: 200,
    maxDelay: 30_000,
    factor: 2,
    jitter: 0.2,
});
/**
 * Merges `options` (an object, or undefined for the defaults) over the defaults and validates
 * them; throws `InvalidArgumentError` (`RS_ERR_INVALID_ARG`) naming the option.
 */
export function backoffOptions(options) {
    return checkBackoff('backoffOptions', 'options', checkOptions('backoffOptions', 'options', options), false);
}
/**
 * Validates backoff options given to `where` as `name`. With `complete`, every option must be
 * there (validated options, as `backoffDelay` takes); otherwise missing ones are defaulted.
 */
function checkBackoff(where, name, options, complete) {
    const given = (key) => (options[key] === undefined && !complete ? BACKOFF_DEFAULTS[key] : options[key]);
    const initialDelay = checkMs(where, `${name}.initialDelay`, given('initialDelay'));
    // Only a maxDelay that was given can be too short: the default one grows with initialDelay.
    const maxDelay = options.maxDelay === undefined && !complete ? Math.max(BACKOFF_DEFAULTS.maxDelay, initialDelay) : options.maxDelay;
    return Object.freeze({
        initialDelay,
        maxDelay: checkMs(where, `${name}.maxDelay`, maxDelay, { min: initialDelay }),
        factor: checkNumber(where, `${name}.factor`, given('factor'), { min: 1 }),
        jitter: checkNumber(where, `${name}.jitter`, given('jitter'), { min: 0, max: 1 }),
    });
}
/**
 * Delay in ms before reconnect attempt `attempt` (a positive integer, 1-based), for options
 * made by {@link backoffOptions}. `random` returns a number in [0, 1), like `Math.random`; pass a
 * fixed one for determinism. Throws `InvalidArgumentError` for a bad argument, and when
 * `random` returns something outside [0, 1).
 */
export function backoffDelay(attempt, options, random = Math.random) {
    checkInteger('backoffDelay', 'attempt', attempt, { min: 1 });
    const o = checkBackoff('backoffDelay', 'options', checkObject('backoffDelay', 'options', options, 'backoff options made by backoffOptions()'), true);
    checkFunction('backoffDelay', 'random', random, 'a function returning a number within [0, 1)');
    const r = random();
    if (!(typeof r === 'number' && r >= 0 && r < 1))
        throw invalid('backoffDelay', 'random()', 'a number within [0, 1)', r);
    // Capping the exponent keeps factor^k finite for most factors (2^1024 is Infinity); a huge
    // factor still overflows, and 0 * Infinity is NaN: a zero delay stays zero.
    const growth = o.factor ** Math.min(attempt - 1, 1000);
    const base = o.initialDelay === 0 ? 0 : Math.min(o.maxDelay, o.initialDelay * growth);
    return Math.round(base * (1 - o.jitter * r));
}
/**
 * Turns the `reconnect` option of a {@link Persistent} into a policy, validating it once.
 * Built-in backoff never gives up; a policy function decides for itself.
 * @internal
 */
export function reconnectPolicy(reconnect, random = Math.random, where = 'Persistent') {
    if (typeof reconnect === 'function')
        return reconnect;
    const expected = 'backoff options { initialDelay, maxDelay, factor, jitter } or a function (attempt, lastError) => ms | null';
    const options = checkBackoff(where, 'options.reconnect', checkOptions(where, 'options.reconnect', reconnect, expected), false);
    return (attempt) => backoffDelay(attempt, options, random);
}
