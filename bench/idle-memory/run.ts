/**
 * Idle-memory scenario: IDLE_CONNECTIONS connections opened (from core 1) to a fresh server
 * process (core 0) and left idle; the server reports RSS and heap after a full GC before and
 * after. Per connection = the growth / connections. Subjects: `serve()` with the line-echo
 * protocol waiting on a delimiter (30 s deadline) and the hand-written node:net line echo with
 * the same idle timeout. A fresh server per round, so that no round inherits another's heap.
 * Knobs: ROUNDS (5, at most 3 used here), IDLE_CONNECTIONS (10000).
 */
import { alternate, knob, launch, median, nodeScript, reachableFileLimit, rounds, type ServerProcess } from '../lib.js'
import type { Row, ScenarioResult } from '../report.js'

const WANTED = knob('IDLE_CONNECTIONS', 10_000)
const SUBJECTS = ['rotor', 'hand'] as const
const LABELS: Readonly<Record<string, string>> = {
  rotor: 'rotor-stream serve() + line-echo protocol',
  hand: 'hand-written node:net (socket.setTimeout)',
}

interface Memory {
  rss: number
  heap: number
  external: number
  connections: number
}

async function memory(server: ServerProcess): Promise<Memory> {
  const line = server.nextLine(/^memory /)
  server.send('memory')
  const [rss, heap, external, connections] = (await line).input.split(' ').slice(1).map(Number) as [number, number, number, number]
  return { rss, heap, external, connections }
}

interface Run {
  /** Bytes per connection. */
  rss: number
  heap: number
  external: number
}

async function measure(subject: string, connections: number, fileLimit: number): Promise<Run> {
  const server = await launch(`${subject} idle server`, nodeScript('bench/idle-memory/server.ts', [subject], ['--expose-gc']), {
    ready: /^listening (\d+)/,
    fileLimit,
  })
  let client: ServerProcess | null = null
  try {
    const before = await memory(server)
    client = await launch('idle client', nodeScript('bench/idle-memory/client.ts', [String(server.port), String(connections)]), {
      ready: /^connected/,
      port: server.port,
      cpu: 1,
      fileLimit,
      startTimeout: 120_000,
    })
    let after = await memory(server)
    // Accepting may trail the client's connects a little.
    for (let i = 0; i < 50 && after.connections < connections; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      after = await memory(server)
    }
    if (after.connections !== connections) throw new Error(`${subject}: ${after.connections} of ${connections} connections open`)
    return {
      rss: (after.rss - before.rss) / connections,
      heap: (after.heap - before.heap) / connections,
      external: (after.external - before.external) / connections,
    }
  } finally {
    await client?.stop()
    await server.stop()
  }
}

export async function idleMemory(): Promise<ScenarioResult> {
  // Each side holds one descriptor per connection, plus a few.
  const fileLimit = reachableFileLimit(WANTED + 1024)
  const connections = Math.min(WANTED, fileLimit - 200)
  const n = Math.min(rounds(), 3)
  const results = await alternate(n, SUBJECTS, (subject) => measure(subject, connections, fileLimit), { warmup: false })
  const rows: Row[] = []
  for (const [what, key] of [
    ['RSS', 'rss'],
    ['heap', 'heap'],
  ] as const) {
    for (const subject of SUBJECTS) {
      const list = results.get(subject) ?? []
      rows.push({
        group: `${connections.toLocaleString('en')} idle connections · ${what} per connection`,
        subject: LABELS[subject] as string,
        isOurs: subject === 'rotor',
        unit: 'B/conn',
        samples: list.map((r) => r[key]),
        notes: key === 'heap' ? `external (Buffers) ${median(list.map((r) => r.external)).toFixed(0)} B/conn` : undefined,
        target: subject === 'rotor' ? undefined : { kind: 'max', value: 1.0 },
      })
    }
  }
  return {
    rows,
    notes: [
      `idle-memory: a fresh server process per run (node --expose-gc, core 0) reports process.memoryUsage() after two gc() calls before and after a client (core 1) opened ${connections} connections that send nothing; growth / connections; ${n} rounds, no warm-up (every run is a fresh process). Open-files limit in both processes: ${fileLimit} (raised with ulimit -n in a shell)${connections < WANTED ? `, too low for ${WANTED}` : ''}. KB = 1000 bytes.`,
    ],
  }
}
