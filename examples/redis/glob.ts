/**
 * Redis' glob patterns (PSUBSCRIBE, PUBSUB CHANNELS, CONFIG GET): `*` any run of bytes, `?` one
 * byte, `[abc]`, `[^abc]`, `[a-z]` a class, `\x` the byte x literally. Pattern and subject are
 * latin1 strings (one char per byte). A `[` without its `]` takes the rest of the pattern as the
 * class, as Redis does.
 */

/** Does `subject` match `pattern` as a whole? */
export function globMatch(pattern: string, subject: string): boolean {
  return matchFrom(pattern, 0, subject, 0, 0)
}

/** Deepest `*` nesting explored: a pattern of many stars cannot make the match exponential (Redis bounds it too). */
const MAX_STAR_DEPTH = 1000

function matchFrom(p: string, pi: number, s: string, si: number, depth: number): boolean {
  while (pi < p.length) {
    const c = p[pi]
    if (c === '*') {
      while (p[pi + 1] === '*') pi++ // a run of stars is one star
      if (pi + 1 === p.length) return true
      if (depth >= MAX_STAR_DEPTH) return false
      for (let k = si; k <= s.length; k++) if (matchFrom(p, pi + 1, s, k, depth + 1)) return true
      return false
    }
    if (si >= s.length) return false
    if (c === '?') {
      pi++
      si++
      continue
    }
    if (c === '[') {
      const end = classEnd(p, pi + 1)
      if (!classMatches(p, pi + 1, end, s[si] as string)) return false
      pi = end + 1
      si++
      continue
    }
    if (c === '\\' && pi + 1 < p.length) pi++
    if (p[pi] !== s[si]) return false
    pi++
    si++
  }
  return si === s.length
}

/** Position of the `]` closing the class that starts at `from` (after `[`), or the pattern's end. */
function classEnd(p: string, from: number): number {
  let i = from
  while (i < p.length && p[i] !== ']') i += p[i] === '\\' && i + 1 < p.length ? 2 : 1
  return i
}

function classMatches(p: string, from: number, end: number, ch: string): boolean {
  let i = from
  const negate = p[i] === '^'
  if (negate) i++
  let hit = false
  while (i < end) {
    if (p[i] === '\\' && i + 1 < end) {
      if (p[i + 1] === ch) hit = true
      i += 2
    } else if (i + 2 < end && p[i + 1] === '-') {
      let lo = p.charCodeAt(i)
      let hi = p.charCodeAt(i + 2)
      if (lo > hi) [lo, hi] = [hi, lo]
      const code = ch.charCodeAt(0)
      if (code >= lo && code <= hi) hit = true
      i += 3
    } else {
      if (p[i] === ch) hit = true
      i++
    }
  }
  return negate ? !hit : hit
}
