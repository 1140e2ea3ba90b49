/**
 * Leak checks for the reliability suite: after every test, no socket, server or timer created
 * by the test may still be alive, and the event loop holds no more active handles than when
 * the file started.
 *
 * `process.getActiveResourcesInfo()` sees only handles that keep the loop alive (an unref'd
 * stream timer is invisible to it), so the async_hooks `ResourceTracker` follows creation and
 * destruction too.
 */
import assert from 'node:assert/strict'
import { after, afterEach, before } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { activeResources, ResourceTracker } from '../../helpers/resources.js'

/** What a file's leak check found: names of live resources beyond the baseline. */
export interface LeakReport {
  /** Resources created during the test and not destroyed (with their creation site). */
  readonly tracked: string[]
  /** `process.getActiveResourcesInfo()` counts that grew since the baseline, e.g. `TCPSocketWrap +1`. */
  readonly active: string[]
}

/** Follows the resources of one file; `check()` after each test. */
export class LeakCheck {
  readonly #tracker = new ResourceTracker()
  readonly #hooks: boolean
  #baseline: Record<string, number> = {}

  /**
   * `hooks: false` checks only `process.getActiveResourcesInfo()`: async_hooks cost a callback
   * per socket write, which a latency measurement should not pay.
   */
  constructor(options: { hooks?: boolean } = {}) {
    this.#hooks = options.hooks ?? true
  }

  /** Takes the baseline and starts tracking (call in `before`). */
  start(): void {
    this.#baseline = activeResources()
    if (this.#hooks) this.#tracker.enable()
  }

  /** Stops tracking (call in `after`). */
  stop(): void {
    if (this.#hooks) this.#tracker.disable()
  }

  /**
   * What is left now. Destroy hooks and the close phase run a few loop turns after a handle
   * closes; both are waited for (bounded by `turns`).
   */
  async report(turns = 100): Promise<LeakReport> {
    const tracked = await this.#tracker.leftovers(turns)
    let active: string[] = []
    for (let i = 0; i < turns; i++) {
      active = grown(this.#baseline, activeResources())
      if (active.length === 0) break
      await nextTurn()
    }
    return { tracked, active }
  }

  /** Number of leaked resources (tracked or active, whichever sees more). */
  static count(report: LeakReport): number {
    const active = report.active.reduce((sum, entry) => sum + Number(entry.split(' +')[1] ?? 0), 0)
    return Math.max(report.tracked.length, active)
  }
}

function grown(baseline: Record<string, number>, now: Record<string, number>): string[] {
  const out: string[] = []
  for (const [name, count] of Object.entries(now)) {
    const before = baseline[name] ?? 0
    if (count > before) out.push(`${name} +${count - before}`)
  }
  return out
}

/**
 * Installs the leak check on the current test file: baseline before the first test, and after
 * every test an assertion that nothing it created is left.
 */
export function checkLeaksAfterEach(): LeakCheck {
  const leaks = new LeakCheck()
  before(() => leaks.start())
  afterEach(async () => {
    assert.deepEqual(await leaks.report(), { tracked: [], active: [] }, 'no socket, server or timer is left after the test')
  })
  after(() => leaks.stop())
  return leaks
}
