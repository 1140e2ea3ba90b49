/**
 * Expiry times as Redis computes them: ms since the epoch in an int64, refused when a unit
 * conversion or the addition of the current time would overflow it. Expiry times are kept as
 * doubles, so past 2^53 ms (year 287,396) they are approximate, never wrong by more than a ms
 * for any date a client sends in practice.
 */
import type { Args } from '../args.js'
import type { Keyspace, StoredEntry } from '../keyspace.js'

/** LLONG_MAX as a double (2^63), and the largest number of seconds that converts to ms within it (LLONG_MAX / 1000, rounded). */
const INT64_MAX = 2 ** 63
const MAX_SECONDS = Math.floor(2 ** 63 / 1000)

/** How an expiry argument counts: its unit, and whether it is relative to now (EX, PX) or absolute (EXAT, PXAT). */
export interface ExpiryUnit {
  readonly seconds: boolean
  readonly relative: boolean
}

/** The expiry time, ms, that SET / GETEX / SETEX compute from `amount`; null when Redis says "invalid expire time". */
export function positiveExpiry(amount: number, unit: ExpiryUnit, now: number): number | null {
  if (amount <= 0 || (unit.seconds && amount > MAX_SECONDS)) return null
  const at = (unit.seconds ? amount * 1000 : amount) + (unit.relative ? now : 0)
  return at > INT64_MAX ? null : at
}

/** The expiry time, ms, that EXPIRE and its kin compute (negative amounts allowed); null on int64 overflow. */
export function anyExpiry(amount: number, unit: ExpiryUnit, now: number): number | null {
  if (unit.seconds && (amount > MAX_SECONDS || amount < -MAX_SECONDS)) return null
  const ms = unit.seconds ? amount * 1000 : amount
  const base = unit.relative ? now : 0
  return ms > INT64_MAX - base ? null : ms + base
}

/** The option words EX, PX, EXAT, PXAT as units; undefined for any other argument. */
export function expiryOption(a: Args, i: number): ExpiryUnit | undefined {
  if (a.is(i, 'EX')) return EX
  if (a.is(i, 'PX')) return PX
  if (a.is(i, 'EXAT')) return EXAT
  if (a.is(i, 'PXAT')) return PXAT
  return undefined
}
export const EX: ExpiryUnit = { seconds: true, relative: true }
export const PX: ExpiryUnit = { seconds: false, relative: true }
export const EXAT: ExpiryUnit = { seconds: true, relative: false }
export const PXAT: ExpiryUnit = { seconds: false, relative: false }

/** Sets `entry`'s expiry to `at`, or deletes it when `at` is already past (as Redis' checkAlreadyExpired). */
export function applyExpiry(ks: Keyspace, entry: StoredEntry, at: number): void {
  if (at <= ks.now()) ks.deleteEntry(entry)
  else ks.setExpiry(entry, at)
}
