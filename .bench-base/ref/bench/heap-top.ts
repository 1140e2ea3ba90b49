/**
 * What each connection costs on the V8 heap: the difference between two heap snapshots taken
 * before and after opening `n` connections, per connection, by constructor (objects) or by
 * kind (closures, strings, numbers, ...). The evidence behind the idle-memory scenario.
 *
 *     node --expose-gc --heapsnapshot-signal=SIGUSR2 .bench-tmp/js/bench/idle-memory/server.js rotor
 *     kill -USR2 <pid>                                       # before.heapsnapshot (rename it)
 *     node .bench-tmp/js/bench/idle-memory/client.js <port> 2000 &
 *     kill -USR2 <pid>                                       # after.heapsnapshot
 *     node --import tsx bench/heap-top.ts before.heapsnapshot after.heapsnapshot 2000 [rows]
 *
 * Sizes are V8's self sizes; the "(synthetic)" TCPSocketWrap row is native memory V8 reports
 * alongside the heap.
 */
import { readFileSync } from 'node:fs'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

/** Count and total self size per name. */
function aggregate(file: string): Map<string, [number, number]> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const [iType, iName, iSize] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')]
  const out = new Map<string, [number, number]>()
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + iType] as number] ?? '?'
    const name = snap.strings[snap.nodes[i + iName] as number] ?? ''
    const key = type === 'object' ? name : type === 'closure' ? `(closure) ${name}` : type.includes('string') ? `(${type})` : `(${type}) ${name}`.slice(0, 60)
    const entry = out.get(key) ?? [0, 0]
    entry[0]++
    entry[1] += snap.nodes[i + iSize] as number
    out.set(key, entry)
  }
  return out
}

const [beforeFile, afterFile, count, rowsArg] = process.argv.slice(2)
if (beforeFile === undefined || afterFile === undefined || count === undefined) {
  console.error('usage: heap-top.ts <before.heapsnapshot> <after.heapsnapshot> <connections> [rows]')
  process.exit(2)
}
const n = Number(count)
const before = aggregate(beforeFile)
const after = aggregate(afterFile)
const rows: [string, number, number][] = []
for (const [key, [c, s]] of after) {
  const [c0, s0] = before.get(key) ?? [0, 0]
  rows.push([key, (c - c0) / n, (s - s0) / n])
}
rows.sort((a, b) => b[2] - a[2])
const total = rows.reduce((sum, r) => sum + r[2], 0)
console.log(`self size per connection: ${total.toFixed(0)} B`)
for (const [key, objects, bytes] of rows.slice(0, Number(rowsArg ?? 30))) {
  console.log(`${bytes.toFixed(1).padStart(8)} B ${objects.toFixed(2).padStart(6)} objects  ${key}`)
}
