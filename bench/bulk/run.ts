/**
 * Bulk scenario: 1 GiB uploaded over one loopback connection in 1 MiB writes (client on core 1)
 * into a sink on core 0: a small rotor-stream protocol reading the body with `expectBytes`
 * chunks against a plain socket counting 'data' events. Ours takes every buffered body byte
 * once 64 KiB are there; for comparison, the same consuming exactly 64 KiB or 1 MiB per call.
 *
 * Every round starts fresh server processes (a short warm-up upload, then the measured one):
 * a server process runs in one of two modes for its whole life, and a number must say which.
 * Node reads every socket chunk into a new 64 KiB malloc'd buffer, freed only when V8 collects
 * it; in the slow mode glibc gives the freed top of its heap back to the kernel (brk) after
 * each collection, so the next reads fault fresh pages in and copy into cold memory (the
 * server's minor page faults per GiB go from ~1–10k to 30k–200k, its CPU from ~0.25 to ~2–3 s).
 * Which mode a process gets is glibc's dynamic threshold: once a large mmap'd chunk is freed
 * (say a 32 MiB buffer early on), the trim threshold becomes twice its size and the heap stays;
 * without one it is 128 KiB. Not ours to fix in a library: MALLOC_TRIM_THRESHOLD_ (BULK_TRIM)
 * or another allocator removes the slow mode; a read path into one reused buffer would too.
 * A round counts as slow when the server faulted more than SLOW_FAULTS pages per GiB; each mode
 * has its own rows in the table (its rounds only, and how many of them).
 * Knobs: ROUNDS (7), BULK_BYTES (1073741824), BULK_WRITE (1048576), BULK_CHUNK (65536),
 * BULK_TRIM (unset; a byte count: servers run with MALLOC_TRIM_THRESHOLD_ set to it, which
 * keeps glibc from trimming its heap: the slow mode then never shows).
 */

import { readFileSync } from 'node:fs'
import { cpuTimeOf, knob, launch, nodeScript, rounds, runOnLoadCore, type ServerProcess } from '../lib.js'
import type { Row, ScenarioResult } from '../report.js'

const BYTES = knob('BULK_BYTES', 2 ** 30)
const WRITE = knob('BULK_WRITE', 2 ** 20)
const CHUNK = knob('BULK_CHUNK', 64 * 1024)
const TRIM = process.env.BULK_TRIM === undefined || process.env.BULK_TRIM === '' ? undefined : knob('BULK_TRIM', 2 ** 28)
/** Minor page faults per GiB received above which a round ran in the slow mode (fast: ~10k, slow: 30k and more). */
const SLOW_FAULTS = 24_000

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
  /** Server minor page faults per GiB. */
  faults: number
}

/** Minor page faults of a process so far (field 10 of /proc/<pid>/stat), or NaN without /proc. */
function faultsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7])
  } catch {
    return Number.NaN
  }
}

async function upload(server: ServerProcess, bytes: number): Promise<Run> {
  const cpuBefore = cpuTimeOf(server.pid)
  const faultsBefore = faultsOf(server.pid)
  const out = await runOnLoadCore(nodeScript('bench/bulk/client.ts', [String(server.port), String(bytes), String(WRITE)]))
  const cpu = cpuTimeOf(server.pid) - cpuBefore
  const faults = faultsOf(server.pid) - faultsBefore
  const result = JSON.parse(out) as { bytes: number; seconds: number }
  const gib = bytes / 2 ** 30
  return { rate: result.bytes / result.seconds / 1e9, cpu: cpu / 1000 / gib, faults: faults / gib }
}

/** One round of one subject: a fresh server, a warm-up upload (JIT), the measured upload. */
async function freshRound(subject: Subject): Promise<Run> {
  const command = nodeScript('bench/bulk/server.ts', subject.args)
  const server = await launch(subject.label, TRIM === undefined ? command : ['env', `MALLOC_TRIM_THRESHOLD_=${TRIM}`, ...command], {
    ready: /^listening (\d+)/,
  })
  try {
    await upload(server, Math.ceil(BYTES / 16))
    return await upload(server, BYTES)
  } finally {
    await server.stop()
  }
}

const isSlow = (r: Run): boolean => r.faults > SLOW_FAULTS
const med = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

export async function bulk(): Promise<ScenarioResult> {
  const n = rounds(7)
  const results = new Map<string, Run[]>(SUBJECTS.map((s) => [s.label, []]))
  for (let round = 0; round < n; round++) {
    // The order rotates (and turns every other round), as in alternate(): noise falls on all alike.
    const shift = round % SUBJECTS.length
    const order = [...SUBJECTS.slice(shift), ...SUBJECTS.slice(0, shift)]
    if (round % 2 === 1) order.reverse()
    for (const s of order) results.get(s.label)?.push(await freshRound(s))
  }
  const base = `bulk · ${(BYTES / 2 ** 30).toFixed(BYTES >= 2 ** 30 ? 0 : 2)} GiB upload, ${WRITE / 2 ** 20} MiB writes`
  const rows: Row[] = []
  for (const slow of [false, true]) {
    const pick = (label: string): Run[] => (results.get(label) ?? []).filter((r) => isSlow(r) === slow)
    const plain = pick(SUBJECTS[1]?.label ?? '')
    // A mode no round fell into has no rows: the fast one is always shown.
    if (slow && SUBJECTS.every((s) => pick(s.label).length === 0)) continue
    for (const s of SUBJECTS) {
      const list = pick(s.label)
      const notes = [`${list.length}/${n} rounds, ${list.length > 0 ? Math.round(med(list.map((r) => r.faults))) : '-'} faults/GiB`]
      if (s.args[0] === 'rotor' && list.length > 0 && plain.length > 0) {
        notes.push(`CPU ÷ plain sink's ${(med(list.map((r) => r.cpu)) / med(plain.map((r) => r.cpu))).toFixed(2)}`)
      }
      rows.push({
        group: `${base}, ${slow ? 'slow' : 'fast'} mode`,
        subject: s.label,
        isOurs: s.isOurs,
        unit: 'GB/s',
        samples: list.map((r) => r.rate),
        cost: { label: 'server CPU', unit: 'ms/GiB', samples: list.map((r) => r.cpu) },
        notes: notes.join(' · '),
        target: s.isOurs ? undefined : s.args[0] === 'plain' ? { kind: 'min', value: 0.9 } : { kind: 'report', text: 'report' },
      })
    }
  }
  return {
    rows,
    notes: [
      `bulk: one connection per run sends an 8-byte length and ${BYTES} bytes in ${WRITE}-byte writes (bench/bulk/client.ts, core 1, honours backpressure); the sink (bench/bulk/server.ts, core 0) answers OK after the last byte; time from connect to the answer. ${n} rounds; every round starts a fresh server process per subject, warms it up with a ${Math.ceil(BYTES / 16)}-byte upload, then measures. GB = 10^9 bytes. "Takes all buffered": each bytesRead of the body consumes min(input.length, remaining), so reads are adopted and dropped whole (zero copy); "consumes exactly" leaves the tail of each read to be joined with the next read (one copy of every byte into storage the input keeps, plus at most one move).`,
      `bulk: two modes. Node reads each chunk into a fresh 64 KiB malloc'd buffer; in the slow mode glibc trims its heap after every GC and the next reads fault fresh pages in (a property of the process, for its whole life, plain sink included). A round is slow when the server took more than ${SLOW_FAULTS} minor page faults per GiB; each mode has its own rows (rounds in that mode only, and how many).${TRIM === undefined ? '' : ` Servers ran with MALLOC_TRIM_THRESHOLD_=${TRIM} (BULK_TRIM).`}`,
    ],
  }
}
