/**
 * What the engine holds a protocol to, and does where the protocol says nothing: the check of a
 * handler's answer, the default `exception`, the protocol before it exists and after the end.
 */
import type { Exception } from './errors.js'
import { Intent } from './intent.js'
import type { Protocol } from './protocol.js'

/**
 * The protocol before the factory returned and after the end. No handler can run then (the loop
 * only runs with an expectation, which only a protocol's Intent sets), so it never answers;
 * holding it instead of null spares every handler call a check.
 */
export const NO_PROTOCOL: Protocol = Object.freeze({
  bytesRead(): never {
    throw new Error('no protocol: the stream has not started or has ended')
  },
})

/** Throws unless a handler returned an Intent. */
export function checked(intent: Intent<Protocol>, handler: string): Intent<Protocol> {
  if (!(intent instanceof Intent)) {
    const promise = typeof (intent as { then?: unknown } | null)?.then === 'function'
    const hint = promise ? ' (a Promise: for an async connection handler, pass handleAsync(handler) instead of a factory)' : ''
    throw new TypeError(`${handler} returned ${String(intent)}, not an Intent${hint}`)
  }
  return intent
}

/**
 * What `exception` does when the protocol has no handler: end cleanly at end of stream; after
 * bad input (a limit, a malformed frame) flush the answers already written for the good input
 * before it, then end with the reason, so that the outcome never depends on how TCP split the
 * input; after a read error or a too slow peer, end at once.
 */
export function defaultException(reason: Exception): Intent<Protocol> {
  switch (reason.code) {
    case 'RS_ERR_END_OF_STREAM':
      return Intent.done()
    case 'RS_ERR_LIMIT_REACHED':
    case 'RS_ERR_PROTOCOL':
      return Intent.error(reason, { flush: true })
    default:
      return Intent.error(reason)
  }
}

/** The cause of the `WriteError` for output written after `halfClose()` (Node's code for it). */
export function writeAfterHalfClose(): Error {
  return Object.assign(new Error('output written after halfClose(): the write side is closed'), { code: 'ERR_STREAM_WRITE_AFTER_END' })
}
