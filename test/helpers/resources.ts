/**
 * Leak checks for integration tests: sockets, servers and timers a test leaves behind.
 *
 * `process.getActiveResourcesInfo()` lists only resources that keep the event loop alive, so an
 * `unref()`ed timer (every stream timer is one) is invisible to it. `ResourceTracker` therefore
 * also follows creation and destruction of handles and timers through `async_hooks`.
 */
import { createHook } from 'node:async_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

/** Resource names of `process.getActiveResourcesInfo()` that a stream or server may leak. */
const ACTIVE_NAMES = ['TCPSocketWrap', 'TCPServerWrap', 'PipeWrap', 'PipeServerWrap', 'Timeout'] as const

/** Counts of the resources in {@link ACTIVE_NAMES} that keep the event loop alive now. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const name of ACTIVE_NAMES) counts[name] = 0
  for (const name of process.getActiveResourcesInfo()) {
    if (name in counts) counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}

/**
 * Names of the active resources beyond `baseline` (a `process.getActiveResourcesInfo()` taken at
 * load time: stdio pipes and the like), after two turns so that handles closed in the last turn
 * are released. Unref'd timers do not show; {@link ResourceTracker} sees them.
 */
export async function activeBeyond(baseline: readonly string[]): Promise<string[]> {
  // Handles closed during the last turn are released in the close phase that follows the check phase.
  for (let i = 0; i < 2; i++) await nextTurn()
  const remaining = [...baseline]
  return process.getActiveResourcesInfo().filter((name) => {
    const i = remaining.indexOf(name)
    if (i >= 0) remaining.splice(i, 1)
    return i < 0 && name !== 'CloseReq'
  })
}

/** The repository root, to tell our stack frames from the test runner's. */
const PROJECT = fileURLToPath(new URL('../..', import.meta.url))
const HERE = fileURLToPath(import.meta.url)

/** async_hooks types of handles and timers. */
const HOOK_TYPES = new Set(['TCPWRAP', 'TCPSERVERWRAP', 'PIPEWRAP', 'PIPESERVERWRAP', 'Timeout'])

/**
 * Records every socket, server and timer created while enabled and not yet destroyed,
 * ignoring the test runner's own timers.
 */
export class ResourceTracker {
  /** asyncId → type and the first lines of its creation stack, for the failure message. */
  readonly #live = new Map<number, string>()
  readonly #hook = createHook({
    init: (asyncId, type) => {
      if (!HOOK_TYPES.has(type)) return
      const frames = (new Error().stack ?? '').split('\n').filter((line) => line.includes(PROJECT) && !line.includes('node_modules') && !line.includes(HERE))
      // Handles accepted by a server are created from native code (no JS frames): keep every
      // handle. Timers without a frame of ours belong to the test runner.
      if (type === 'Timeout' && frames.length === 0) return
      this.#live.set(asyncId, `${type} created at ${frames.slice(0, 3).join(' | ').replaceAll(/\s+/g, ' ')}`)
    },
    destroy: (asyncId) => {
      this.#live.delete(asyncId)
    },
  })

  enable(): this {
    this.#hook.enable()
    return this
  }

  disable(): void {
    this.#hook.disable()
  }

  /**
   * Resolves with what is still alive once destroy hooks have caught up: they run a few event
   * loop turns after a handle closes, so this waits up to `turns` turns for the list to empty.
   */
  async leftovers(turns = 50): Promise<string[]> {
    for (let i = 0; i < turns && this.#live.size > 0; i++) await nextTurn()
    return [...this.#live.values()]
  }
}
