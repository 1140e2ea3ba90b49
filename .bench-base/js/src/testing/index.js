/**
 * The test kit: drive any Protocol without sockets, on a virtual clock, and check that every
 * way of splitting its input gives the same result.
 * @module
 */
export { Harness } from './harness.js';
export { checkSplits, runScripted } from './run.js';
export { describeSplit, prng, splitAt, splits } from './splits.js';
