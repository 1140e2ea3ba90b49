import { checkBytes, checkInteger, checkOptions, invalid } from '../validate.js'

/** Options of {@link splits}. */
export interface SplitOptions {
  /** Inputs up to this many bytes are split in every possible way (2^(n-1) splits), an integer within 0..32. @default 12 */
  exhaustiveUpTo?: number
  /** How many random splits to add (each cuts at random points into 2..n chunks), a non-negative safe integer. @default 100 */
  random?: number
  /** Seed of the random splits (a safe integer), so that a failure can be replayed. @default 1 */
  randomSeed?: number
}

/** Past this, 2^(n-1) splits are more than any test runs, and the bit masks below are wider than 32 bits. */
const MAX_EXHAUSTIVE = 32

/**
 * Ways to deliver `input` in chunks, as a socket might: whole, byte by byte, every two-way
 * split, every split at all when the input is short, and seeded random splits.
 * Each yielded array of chunks concatenates to `input`.
 */
export function splits(input: Uint8Array | string, options?: SplitOptions): Generator<Buffer[]> {
  // Checked here, not in the generator: a generator's body runs only at the first next().
  checkBytes('splits', 'input', input)
  const { exhaustiveUpTo = 12, random = 100, randomSeed = 1 } = checkOptions<SplitOptions>('splits', 'options', options)
  checkInteger('splits', 'options.exhaustiveUpTo', exhaustiveUpTo, { max: MAX_EXHAUSTIVE })
  checkInteger('splits', 'options.random', random)
  checkInteger('splits', 'options.randomSeed', randomSeed, { min: Number.MIN_SAFE_INTEGER })
  return generateSplits(Buffer.from(input), exhaustiveUpTo, random, randomSeed)
}

function* generateSplits(bytes: Buffer, exhaustiveUpTo: number, random: number, randomSeed: number): Generator<Buffer[]> {
  const n = bytes.length
  yield [bytes]
  if (n <= 1) return
  if (n <= exhaustiveUpTo) {
    // Every subset of the n-1 inner cut points is one split.
    for (let mask = 1; mask < 2 ** (n - 1); mask++) {
      const cuts: number[] = []
      for (let i = 0; i < n - 1; i++) if (mask & (2 ** i)) cuts.push(i + 1)
      yield splitAt(bytes, cuts)
    }
  } else {
    yield splitAt(
      bytes,
      Array.from({ length: n - 1 }, (_, i) => i + 1),
    )
    for (let cut = 1; cut < n; cut++) yield splitAt(bytes, [cut])
  }
  const next = prng(randomSeed)
  for (let r = 0; r < random; r++) {
    const count = 1 + Math.floor(next() * Math.min(n - 1, 64))
    const cuts = new Set<number>()
    while (cuts.size < count) cuts.add(1 + Math.floor(next() * (n - 1)))
    yield splitAt(
      bytes,
      [...cuts].sort((a, b) => a - b),
    )
  }
}

/** Cuts `input` at the given ascending integer positions (0 < cut < length; others are skipped). */
export function splitAt(input: Uint8Array | string, cuts: readonly number[]): Buffer[] {
  checkBytes('splitAt', 'input', input)
  if (!Array.isArray(cuts)) throw invalid('splitAt', 'cuts', 'an array of integers', cuts)
  for (const [i, cut] of cuts.entries()) checkInteger('splitAt', `cuts[${i}]`, cut, { min: Number.MIN_SAFE_INTEGER })
  const bytes = Buffer.from(input)
  const chunks: Buffer[] = []
  let from = 0
  for (const cut of cuts) {
    if (cut <= from || cut >= bytes.length) continue
    chunks.push(bytes.subarray(from, cut))
    from = cut
  }
  chunks.push(bytes.subarray(from))
  return chunks
}

/** Describes a split for failure messages: chunk lengths, e.g. `3+1+7`. */
export function describeSplit(chunks: readonly Uint8Array[]): string {
  if (!(Array.isArray(chunks) && chunks.every((c) => c instanceof Uint8Array))) throw invalid('describeSplit', 'chunks', 'an array of Uint8Arrays', chunks)
  return chunks.map((c) => c.length).join('+')
}

/** A small, fast, seeded PRNG (mulberry32): the same seed (a safe integer; its low 32 bits count) replays the same splits. */
export function prng(seed: number): () => number {
  checkInteger('prng', 'seed', seed, { min: Number.MIN_SAFE_INTEGER })
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
