/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time per function and per file, so a
 * benchmark that misses its target can say where the time goes.
 *
 *     node --cpu-prof --cpu-prof-dir=/tmp/prof … server.ts   # run the load, stop the server
 *     node --import tsx bench/profile-top.ts /tmp/prof/CPU…cpuprofile [rows]
 *
 * Idle time is left out of the percentages: they are shares of the time the process was busy.
 */
import { readFileSync } from 'node:fs';
const [file, rowsArg] = process.argv.slice(2);
if (file === undefined) {
    console.error('usage: profile-top.ts <file.cpuprofile> [rows]');
    process.exit(2);
}
const rows = Number(rowsArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes)
    for (const c of n.children ?? [])
        parent.set(c, n.id);
/** Where a function lives: `src/engine.ts`, `node:internal/...`, `(native)`. */
function place(url) {
    if (url === '')
        return '(native)';
    const match = /\/(src|examples|bench|node_modules)\/(.*)$/.exec(url);
    if (match)
        return `${match[1]}/${match[2]}`;
    return url.replace(/^file:\/\//, '');
}
const selfByFunction = new Map();
const selfByFile = new Map();
/** Inclusive time of functions in our code (src/, examples/, bench/): every sample counts once per function on its stack. */
const inclusive = new Map();
let busy = 0;
for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    if (node === undefined)
        continue;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)')
        continue;
    busy += dt;
    const where = place(node.callFrame.url);
    const key = `${name}  ${where}:${node.callFrame.lineNumber + 1}`;
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + dt);
    selfByFile.set(where, (selfByFile.get(where) ?? 0) + dt);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
        const frame = byId.get(id)?.callFrame;
        if (frame === undefined || !/\/(src|examples|bench)\//.test(frame.url))
            continue;
        const k = `${frame.functionName || '(anonymous)'}  ${place(frame.url)}:${frame.lineNumber + 1}`;
        if (seen.has(k))
            continue;
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
}
function print(title, map, n) {
    console.log(`\n${title}`);
    for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
        console.log(`${((us / busy) * 100).toFixed(1).padStart(6)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
    }
}
console.log(`busy ${(busy / 1000).toFixed(0)} ms (idle excluded)`);
print('self time by function', selfByFunction, rows);
print('self time by file', selfByFile, 15);
print('inclusive time of our functions (src/, examples/, bench/)', inclusive, 20);
