/**
 * The test kit: drive any Protocol without sockets, on a virtual clock, and check that every
 * way of splitting its input gives the same result; connect a client protocol to a server
 * protocol (`Pair`) with controlled delivery; simulate servers and reconnecting clients on a
 * virtual network (`VirtualNetwork`).
 * @module
 */
export { type HandlerCall, Harness, type HarnessOptions, type HarnessState } from './harness.js'
export {
  type AttemptOutcome,
  type AttemptRecord,
  type NetworkOptions,
  type SimConnectOptions,
  type SimPersistentOptions,
  type SimServeOptions,
  VirtualNetwork,
} from './network.js'
export { DEFAULT_WINDOW, type DeliveryOptions, Pair, type PairOptions, Side, type SideName, type SideOptions } from './pair.js'
export { type CheckOptions, checkSplits, type Run, type RunOptions, runScripted } from './run.js'
export { SimPersistent, type SimPersistentEvents } from './sim-persistent.js'
export { SimServer } from './sim-server.js'
export { describeSplit, prng, type SplitOptions, splitAt, splits } from './splits.js'
export type { ReadSizes } from './wire.js'
