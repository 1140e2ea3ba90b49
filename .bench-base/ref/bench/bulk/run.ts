/**
 * Bulk scenario: 1 GiB uploaded over one loopback connection in 1 MiB writes (client on core 1)
 * into a sink on core 0: a small rotor-stream protocol reading the body with `expectBytes`
 * chunks against a plain socket counting 'data' events. Ours takes every buffered body byte
 * once 64 KiB are there; for comparison, the same consuming exactly 64 KiB or 1 MiB per call.
 * Knobs: ROUNDS (7), BULK_BYTES (1073741824), BULK_WRITE (1048576), BULK_CHUNK (65536).
 */
import { alternate, knob, launch, nodeScript, rounds, runOnLoadCore, type ServerProcess } from '../lib.js'
import type { Row, ScenarioResult } from '../report.js'

const BYTES = knob('BULK_BYTES', 2 ** 30)
const WRITE = knob('BULK_WRITE', 2 ** 20)
const CHUNK = knob('BULK_CHUNK', 64 * 1024)

interface Subject {
  readonly label: string
  readonly args: readonly string[]
  readonly isOurs: boolean
}

const SUBJECTS: readonly Subject[] = [
  { label: `rotor-stream, expectBytes(${CHUNK / 1024} KiB), takes all buffered`, args: ['rotor', String(CHUNK), 'all'], isOurs: true },
  { label: 'plain socket into a sink', args: ['plain'], isOurs: false },
  { label: `rotor-stream, consumes exactly ${CHUNK / 1024} KiB per call`, args: ['rotor', String(CHUNK), 'exact'], isOurs: false },
  { label: 'rotor-stream, consumes exactly 1 MiB per call', args: ['rotor', String(2 ** 20), 'exact'], isOurs: false },
]

interface Run {
  /** GB/s (10^9 bytes per second). */
  rate: number
  /** Server CPU per GiB, ms. */
  cpu: number
}

async function upload(server: ServerProcess, bytes: number): Promise<Run> {
  const before = server.cpuTime()
  const out = await runOnLoadCore(nodeScript('bench/bulk/client.ts', [String(server.port), String(bytes), String(WRITE)]))
  const cpu = server.cpuTime() - before
  const result = JSON.parse(out) as { bytes: number; seconds: number }
  return { rate: result.bytes / result.seconds / 1e9, cpu: cpu / 1000 / (bytes / 2 ** 30) }
}

export async function bulk(): Promise<ScenarioResult> {
  const servers = new Map<string, ServerProcess>()
  let results: Map<string, Run[]>
  try {
    for (const s of SUBJECTS) servers.set(s.label, await launch(s.label, nodeScript('bench/bulk/server.ts', s.args), { ready: /^listening (\d+)/ }))
    results = await alternate(
      rounds(7),
      SUBJECTS.map((s) => s.label),
      (label, round) => upload(servers.get(label) as ServerProcess, round < 0 ? Math.ceil(BYTES / 4) : BYTES),
    )
  } finally {
    for (const [, server] of servers) await server.stop()
  }
  const rows = SUBJECTS.map((s): Row => {
    const list = results.get(s.label) ?? []
    return {
      group: `bulk · ${(BYTES / 2 ** 30).toFixed(BYTES >= 2 ** 30 ? 0 : 2)} GiB upload, ${WRITE / 2 ** 20} MiB writes`,
      subject: s.label,
      isOurs: s.isOurs,
      unit: 'GB/s',
      samples: list.map((r) => r.rate),
      cost: { label: 'server CPU', unit: 'ms/GiB', samples: list.map((r) => r.cpu) },
      target: s.isOurs ? undefined : s.args[0] === 'plain' ? { kind: 'min', value: 0.9 } : { kind: 'report', text: 'report' },
    }
  })
  return {
    rows,
    notes: [
      `bulk: one connection per run sends an 8-byte length and ${BYTES} bytes in ${WRITE}-byte writes (bench/bulk/client.ts, core 1, honours backpressure); the sink (bench/bulk/server.ts, core 0) answers OK after the last byte; time from connect to the answer; ${rounds(7)} rounds after a quarter-size warm-up. GB = 10^9 bytes. "Takes all buffered": each bytesRead of the body consumes min(input.length, remaining), so reads are adopted and dropped whole (zero copy); "consumes exactly" leaves the tail of each read to be joined with the next read (one copy of every byte, sometimes two).`,
    ],
  }
}
