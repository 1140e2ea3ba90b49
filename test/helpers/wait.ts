/**
 * Waiting in real time, for tests on real sockets. Shared by `test/` and the portable suite
 * (scripts/runtimes): Node, Bun and Deno all run this file.
 */

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` every 10 ms until it is true; rejects after `ms` with `what` in the message. */
export async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`waited ${ms} ms for ${what}`)
    await sleep(10)
  }
}
