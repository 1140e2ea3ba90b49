/**
 * INCRBYFLOAT's arithmetic, as Redis does it on x86-64: values are C `long double` (80-bit x87:
 * a 64-bit significand, exponents down to 2^-16445 for subnormals, up to 2^16383), read with
 * strtold and written with "%.17Lf" stripped of trailing zeros. Doubles would not do: Redis
 * answers 0.1 + 0.2 with "0.3" and 10.6 + 1e20 with "100000000000000000008", which only a 64-bit
 * significand gives. Emulated exactly with BigInt; not a hot path.
 */

/** A finite long double: `(negative ? -1 : 1) * significand * 2^exponent`, significand < 2^64. */
export interface LongDouble {
  readonly negative: boolean
  readonly significand: bigint
  readonly exponent: number
}

/** What strtold gives: a finite value, an infinity (from "inf"), or null when Redis refuses the text. */
export type Parsed = LongDouble | 'inf' | '-inf' | null

/** Longest float text Redis reads (MAX_LONG_DOUBLE_CHARS). */
const MAX_CHARS = 5 * 1024
const BITS = 64
/** Exponent (of the significand's last bit) of the smallest subnormal: 2^-16445. */
const MIN_EXPONENT = -16445
/** Largest finite value: (2^64 - 1) * 2^16320. */
const MAX_EXPONENT = 16384 - BITS
/** Decimal magnitudes past which the value is surely infinite / zero (long double ~ 1.19e4932 .. 3.6e-4951). */
const MAX_DECIMAL = 4934
const MIN_DECIMAL = -4952
const ONE = 1n
const FRACTION_DIGITS = 17
const FRACTION_SCALE = 10n ** 17n

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/
const INFINITY = /^([+-]?)(?:inf|infinity)$/i

/**
 * Reads `text` as Redis' string2ld: strtold's whole syntax (decimal, hex, "inf"), nothing before or
 * after it; null for anything else, NaN, or a value out of range (overflow, or underflow to zero).
 */
export function parseLongDouble(text: string): Parsed {
  if (text.length === 0 || text.length >= MAX_CHARS) return null
  const inf = INFINITY.exec(text)
  if (inf !== null) return inf[1] === '-' ? '-inf' : 'inf'
  const hex = HEX.exec(text)
  if (hex !== null) {
    const [, sign, whole = '', fraction = '', exp = '0'] = hex
    if (whole.length + fraction.length === 0) return null
    const digits = BigInt(`0x${whole}${fraction}`)
    const shift = Number(exp) - 4 * fraction.length
    if (digits !== 0n && (shift + 4 * (whole.length + fraction.length) > 16384 + 8 || shift < MIN_EXPONENT - 4 * (whole.length + fraction.length) - 8)) {
      return null // far outside the range: overflow or underflow, refused either way
    }
    return fromRational(sign === '-', shift >= 0 ? digits << BigInt(shift) : digits, shift >= 0 ? ONE : ONE << BigInt(-shift))
  }
  const dec = DECIMAL.exec(text)
  if (dec === null) return null
  const [, sign, whole = '', fraction = '', exp = '0'] = dec
  if (whole.length + fraction.length === 0) return null
  const digitText = `${whole}${fraction}`.replace(/^0+/, '')
  const negative = sign === '-'
  if (digitText.length === 0) return { negative, significand: 0n, exponent: 0 }
  const power = Number(exp) - fraction.length
  const magnitude = digitText.length + power
  if (magnitude > MAX_DECIMAL || magnitude < MIN_DECIMAL) return null
  const digits = BigInt(digitText)
  return power >= 0 ? fromRational(negative, digits * 10n ** BigInt(power), ONE) : fromRational(negative, digits, 10n ** BigInt(-power))
}

/** `a + b` rounded to a long double; null when the sum is NaN or infinite (Redis refuses to store it). */
export function addLongDouble(a: Parsed, b: Parsed): LongDouble | null {
  if (a === null || b === null || typeof a === 'string' || typeof b === 'string') return null
  const low = Math.min(a.exponent, b.exponent)
  const sa = (a.negative ? -a.significand : a.significand) << BigInt(a.exponent - low)
  const sb = (b.negative ? -b.significand : b.significand) << BigInt(b.exponent - low)
  const sum = sa + sb
  const negative = sum < 0n
  const magnitude = negative ? -sum : sum
  return low >= 0 ? fromRational(negative, magnitude << BigInt(low), ONE) : fromRational(negative, magnitude, ONE << BigInt(-low))
}

/** `value` as "%.17Lf" with the trailing zeros (and a trailing '.') removed; "-0" is "0". */
export function formatLongDouble(value: LongDouble): string {
  const { negative, significand, exponent } = value
  let whole: bigint
  let fraction = 0n
  if (exponent >= 0) {
    whole = significand << BigInt(exponent)
  } else {
    const scaled = roundDivide(significand * FRACTION_SCALE, ONE << BigInt(-exponent))
    whole = scaled / FRACTION_SCALE
    fraction = scaled % FRACTION_SCALE
  }
  let text = whole.toString()
  if (fraction !== 0n) text += `.${fraction.toString().padStart(FRACTION_DIGITS, '0').replace(/0+$/, '')}`
  return negative && (whole !== 0n || fraction !== 0n) ? `-${text}` : text
}

/** The long double nearest `num / den` (round half to even), or null when that is out of range. */
function fromRational(negative: boolean, num: bigint, den: bigint): LongDouble | null {
  if (num === 0n) return { negative, significand: 0n, exponent: 0 }
  // The quotient by 2^exponent lands in [2^62, 2^64); one step down if below 2^63.
  let exponent = bitLength(num) - bitLength(den) - (BITS - 1)
  let significand = roundDivide(scale(num, -exponent), scale(den, exponent))
  if (significand < ONE << BigInt(BITS - 1)) {
    exponent--
    significand = roundDivide(scale(num, -exponent), scale(den, exponent))
  }
  if (significand >= ONE << BigInt(BITS)) {
    // Rounding carried into a 65th bit: 2^64 is exactly 2^63 * 2.
    significand >>= 1n
    exponent++
  }
  if (exponent < MIN_EXPONENT) {
    // Subnormal: fewer significant bits, the exponent pinned at the smallest one.
    exponent = MIN_EXPONENT
    significand = roundDivide(scale(num, -exponent), scale(den, exponent))
    if (significand === 0n) return null // underflow to zero: strtold's ERANGE, refused by Redis
  }
  if (exponent > MAX_EXPONENT) return null // overflow: infinity
  return { negative, significand, exponent }
}

/** `x * 2^shift` when shift > 0, else x: numerator and denominator take the positive part of the shift each. */
function scale(x: bigint, shift: number): bigint {
  return shift > 0 ? x << BigInt(shift) : x
}

/** `num / den` rounded to the nearest integer, ties to even. */
function roundDivide(num: bigint, den: bigint): bigint {
  const q = num / den
  const twice = (num % den) * 2n
  return twice > den || (twice === den && (q & ONE) === ONE) ? q + ONE : q
}

function bitLength(x: bigint): number {
  return x.toString(2).length
}
