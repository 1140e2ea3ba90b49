/**
 * Redis' glob patterns (KEYS, SCAN MATCH, HSCAN/SSCAN MATCH), on latin1 strings: `*` any run, `?`
 * one character, `[abc]` `[a-z]` `[^a]` a class (a reversed range is swapped; an unclosed class
 * runs to the end of the pattern), `\x` the character x. Same answers as Redis' stringmatchlen,
 * including its corner: a pattern other than `*` alone never matches the empty string unless it
 * is empty too (Redis' loop only runs while both have characters left).
 */

/** Does `text` match `pattern`? */
export function globMatch(pattern: string, text: string): boolean {
  return match(pattern, 0, text, 0) === MATCH
}

const MATCH = 1
const NO_MATCH = 0
/**
 * A star found no match for any tail of the text: every star before it cannot do better (it
 * could only hand this star a shorter tail), so the whole match fails at once. This keeps
 * patterns like `a*a*a*a*b` linear per star instead of exponential (Redis does the same).
 */
const GIVE_UP = -1

function match(pattern: string, p: number, text: string, t: number): number {
  while (p < pattern.length && t < text.length) {
    const c = pattern.charCodeAt(p)
    if (c === 0x2a /* * */) {
      while (pattern.charCodeAt(p + 1) === 0x2a) p++
      if (p + 1 === pattern.length) return MATCH
      for (; t < text.length; t++) {
        const r = match(pattern, p + 1, text, t)
        if (r !== NO_MATCH) return r
      }
      return GIVE_UP
    }
    if (c === 0x3f /* ? */) {
      // any one character
    } else if (c === 0x5b /* [ */) {
      const end = matchClass(pattern, p + 1, text.charCodeAt(t))
      if (end < 0) return NO_MATCH
      p = end
    } else {
      if (c === 0x5c /* \ */ && p + 1 < pattern.length) p++
      if (pattern.charCodeAt(p) !== text.charCodeAt(t)) return NO_MATCH
    }
    p++
    t++
    if (t === text.length) while (pattern.charCodeAt(p) === 0x2a) p++
  }
  return p === pattern.length && t === text.length ? MATCH : NO_MATCH
}

/**
 * Matches `ch` against the class whose body starts at `p` (after '['). Returns the position of
 * its closing ']' (or the last position of the pattern when unclosed), or -1 when `ch` is not in it.
 */
function matchClass(pattern: string, p: number, ch: number): number {
  const negate = pattern.charCodeAt(p) === 0x5e /* ^ */
  if (negate) p++
  let found = false
  for (;;) {
    const c = pattern.charCodeAt(p)
    if (c === 0x5c /* \ */ && p + 1 < pattern.length) {
      p++
      if (pattern.charCodeAt(p) === ch) found = true
    } else if (c === 0x5d /* ] */) {
      break
    } else if (p >= pattern.length) {
      p-- // unclosed: the caller's step past the ']' lands on the end
      break
    } else if (p + 2 < pattern.length && pattern.charCodeAt(p + 1) === 0x2d /* - */) {
      let low = c
      let high = pattern.charCodeAt(p + 2)
      if (low > high) [low, high] = [high, low]
      if (ch >= low && ch <= high) found = true
      p += 2
    } else if (c === ch) {
      found = true
    }
    p++
  }
  return found !== negate ? p : -1
}
