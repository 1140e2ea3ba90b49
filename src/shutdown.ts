/**
 * Shutdown and cancellation: what `Server.close()` does with idle streams, and the `signal`
 * option of `connect`, `open`, `Persistent` and `serve`.
 *
 * Assumptions: an aborted operation rejects with the signal's `reason`, as `fetch`, `events.once`
 * and `timers/promises` do (an `AbortError` `DOMException` when `abort()` was given none), so
 * that `err.name === 'AbortError'` works the same across the platform and this library; a
 * listener put on a caller's signal is removed as soon as the operation ends, because one
 * long-lived signal (a process-wide shutdown signal) is often shared by thousands of operations.
 */
import { checkOneOf, invalid } from './validate.js'

/**
 * What `Server.close()` does with idle streams: `'end'` them at once, or `'wait'` for them
 * (the old behaviour). See `CloseOptions.idle`.
 */
export type IdlePolicy = 'end' | 'wait'

const IDLE_POLICIES: readonly IdlePolicy[] = ['end', 'wait']

/** `CloseOptions.idle`, checked; `'end'` when undefined. Throws `InvalidArgumentError`. @internal */
export function checkIdlePolicy(where: string, name: string, value: unknown): IdlePolicy {
  return value === undefined ? 'end' : checkOneOf(where, name, value, IDLE_POLICIES)
}

/**
 * Duck-typed, as Node checks signals: what is used of one (a polyfill's signal passes too).
 * Throws `InvalidArgumentError`; returns undefined for undefined.
 * @internal
 */
export function checkSignal(where: string, name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined
  const signal = value as Partial<AbortSignal> | null
  if (
    signal === null ||
    typeof signal !== 'object' ||
    typeof signal.aborted !== 'boolean' ||
    typeof signal.addEventListener !== 'function' ||
    typeof signal.removeEventListener !== 'function'
  ) {
    throw invalid(where, name, 'an AbortSignal or undefined', value)
  }
  return signal as AbortSignal
}

/** What an aborted signal rejects with: its reason, or an `AbortError` `DOMException` without one. @internal */
export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}

/**
 * Runs `onAbort` once when `signal` aborts; returns the function that removes the listener,
 * to be called when the operation ends whichever way (no listener is left on the signal).
 * @internal
 */
export function onAbort(signal: AbortSignal, onAbort: () => void): () => void {
  signal.addEventListener('abort', onAbort, { once: true })
  return () => signal.removeEventListener('abort', onAbort)
}

/**
 * `promise`, rejected early with the abort reason if `signal` aborts first (then `cancel` runs,
 * to free what the operation holds). The listener is removed once either settles.
 * @internal
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, cancel: () => void): Promise<T> {
  if (signal === undefined) return promise
  return new Promise<T>((resolve, reject) => {
    const dispose = onAbort(signal, () => {
      cancel()
      reject(abortError(signal))
    })
    promise.then(
      (value) => {
        dispose()
        resolve(value)
      },
      (err: unknown) => {
        dispose()
        reject(err)
      },
    )
  })
}
