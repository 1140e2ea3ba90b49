/** Options of {@link splits}. */
export interface SplitOptions {
  /** Inputs up to this many bytes are split in every possible way (2^(n-1) splits). @default 12 */
  exhaustiveUpTo?: number
  /** How many random splits to add (each cuts at random points into 2..n chunks). @default 100 */
  random?: number
  /** Seed of the random splits, so that a failure can be replayed. @default 1 */
  randomSeed?: number
}

/**
 * Ways to deliver `input` in chunks, as a socket might: whole, byte by byte, every two-way
 * split, every split at all when the input is short, and seeded random splits.
 * Each yielded array of chunks concatenates to `input`.
 */
export function* splits(input: Uint8Array | string, options: SplitOptions = {}): Generator<Buffer[]> {
  const bytes = Buffer.from(input)
  const n = bytes.length
  const { exhaustiveUpTo = 12, random = 100, randomSeed = 1 } = options
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

/** Cuts `input` at the given ascending positions (0 < cut < length). */
export function splitAt(input: Uint8Array | string, cuts: readonly number[]): Buffer[] {
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
  return chunks.map((c) => c.length).join('+')
}

/** A small, fast, seeded PRNG (mulberry32): the same seed replays the same splits. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
