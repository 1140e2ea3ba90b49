/**
 * Redis' glob patterns (KEYS, SCAN MATCH, PSUBSCRIBE, PUBSUB CHANNELS, CONFIG GET): `*` any run of bytes, `?` one
 * byte, `[abc]`, `[^abc]`, `[a-z]` a class, `\x` the byte x literally. Pattern and subject are
 * latin1 strings (one char per byte). A `[` without its `]` takes the rest of the pattern as the
 * class, as Redis does.
 */

/**
 * Does `subject` match `pattern` as a whole? An empty subject matches only the empty pattern
 * (not even `*`): Redis' matcher never looks at the pattern when the subject is empty.
 */
export function globMatch(pattern: string, subject: string): boolean {
  if (subject.length === 0) return pattern.length === 0
  return matchFrom(pattern, 0, subject, 0, 0) === MATCH
}

/** Deepest `*` nesting explored: a pattern of many stars cannot overflow the stack (Redis bounds it too). */
const MAX_STAR_DEPTH = 1000
const MATCH = 1
const NO_MATCH = 0
/**
 * The rest of the pattern after a `*` matched nowhere in the rest of the subject: an earlier
 * `*` taking more of the subject cannot help either, so every retry stops (Redis' trick that
 * keeps `*a*a*a…b` against `aaaa…` linear instead of exponential).
 */
const NEVER = 2

function matchFrom(p: string, pi: number, s: string, si: number, depth: number): 0 | 1 | 2 {
  while (pi < p.length) {
    const c = p[pi]
    if (c === '*') {
      while (p[pi + 1] === '*') pi++ // a run of stars is one star
      if (pi + 1 === p.length) return MATCH
      if (depth >= MAX_STAR_DEPTH) return NO_MATCH
      for (let k = si; k < s.length; k++) {
        const result = matchFrom(p, pi + 1, s, k, depth + 1)
        if (result !== NO_MATCH) return result
      }
      return NEVER
    }
    if (si >= s.length) return NO_MATCH
    if (c === '?') {
      pi++
      si++
      continue
    }
    if (c === '[') {
      const end = matchClass(p, pi + 1, s.charCodeAt(si))
      if (end < 0) return NO_MATCH
      pi = end + 1
      si++
      continue
    }
    if (c === '\\' && pi + 1 < p.length) pi++
    if (p[pi] !== s[si]) return NO_MATCH
    pi++
    si++
  }
  return si === s.length ? MATCH : NO_MATCH
}

/**
 * Matches `ch` against the class that starts at `from` (after `[`). Returns the position of its
 * closing `]` (the pattern's last position if unterminated), or -1 if `ch` is not in the class.
 * As in Redis, `x-y` is a range whenever two more pattern bytes follow `x` (so `[a-]` is the
 * range a..]) and reversed ranges count.
 */
function matchClass(p: string, from: number, ch: number): number {
  let i = from
  const negate = p[i] === '^'
  if (negate) i++
  let hit = false
  for (; ; i++) {
    if (i >= p.length) {
      i = p.length - 1 // unterminated: the class took the rest of the pattern
      break
    }
    if (p[i] === '\\' && p.length - i >= 2) {
      i++
      if (p.charCodeAt(i) === ch) hit = true
    } else if (p[i] === ']') {
      break
    } else if (p.length - i >= 3 && p[i + 1] === '-') {
      const a = p.charCodeAt(i)
      const b = p.charCodeAt(i + 2)
      if (ch >= Math.min(a, b) && ch <= Math.max(a, b)) hit = true
      i += 2
    } else if (p.charCodeAt(i) === ch) {
      hit = true
    }
  }
  return hit !== negate ? i : -1
}
