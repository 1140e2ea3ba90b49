/**
 * The test kit: drive any Protocol without sockets, on a virtual clock, and check that every
 * way of splitting its input gives the same result.
 * @module
 */
export { type Closed, Harness, type HarnessOptions } from './harness.js'
export { type CheckOptions, checkSplits, type Run, type RunOptions, runScripted } from './run.js'
export { describeSplit, prng, type SplitOptions, splitAt, splits } from './splits.js'
