/**
 * The suite's one table: every scenario reports rows of samples (one per round); a group's
 * rotor-stream row is the numerator of every ratio in that group. Also what the table is
 * recorded with: machine, Node version and every peer's version.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { formatRate, machine, median, table } from './lib.js';
const ROOT = new URL('..', import.meta.url).pathname;
export function formatValue(unit, value) {
    if (!Number.isFinite(value))
        return 'n/a';
    switch (unit) {
        case 'req/s':
        case 'ops/s':
            return `${formatRate(value)} ${unit}`;
        case 'GB/s':
            return `${value.toFixed(2)} GB/s`;
        case 'B/conn':
            return value >= 1000 ? `${(value / 1000).toFixed(2)} KB` : `${value.toFixed(0)} B`;
    }
}
function formatRange(unit, samples) {
    if (samples.length === 0)
        return 'n/a';
    const f = (v) => formatValue(unit, v).replace(/ (req\/s|ops\/s|GB\/s)$/, '');
    return `${f(Math.min(...samples))}–${f(Math.max(...samples))}`;
}
/** Whether a ratio meets its target; undefined for report-only targets. */
export function meets(target, ratio) {
    switch (target.kind) {
        case 'min':
            return ratio >= target.value;
        case 'max':
            return ratio <= target.value;
        case 'report':
            return undefined;
    }
}
function describeTarget(target) {
    if (target === undefined)
        return '';
    switch (target.kind) {
        case 'min':
            return `>= ${target.value}`;
        case 'max':
            return `<= ${target.value}`;
        case 'report':
            return target.text;
    }
}
/** The table rows (Markdown) and the tally of targets. */
export function render(rows) {
    const out = [];
    let met = 0;
    const missed = [];
    const ours = new Map();
    for (const row of rows)
        if (row.isOurs)
            ours.set(row.group, row);
    const costNote = (row, base) => {
        if (row.cost === undefined || row.cost.samples.length === 0)
            return '';
        const m = median(row.cost.samples);
        const digits = m >= 100 ? 0 : m >= 10 ? 1 : 2;
        const text = `${row.cost.label} ${m.toFixed(digits)} ${row.cost.unit}`;
        if (row.isOurs || base?.cost === undefined || base.cost.samples.length === 0)
            return text;
        return `${text} (ours ÷ this ${(median(base.cost.samples) / m).toFixed(2)})`;
    };
    for (const row of rows) {
        const m = median(row.samples.length > 0 ? row.samples : [Number.NaN]);
        const base = ours.get(row.group);
        let ratio = '';
        let verdict = '';
        if (!row.isOurs && base !== undefined) {
            const r = median(base.samples.length > 0 ? base.samples : [Number.NaN]) / m;
            ratio = Number.isFinite(r) ? r.toFixed(2) : 'n/a';
            const ok = row.target === undefined ? undefined : meets(row.target, r);
            if (ok === true) {
                verdict = 'yes';
                met++;
            }
            else if (ok === false) {
                verdict = '**no**';
                missed.push(`${row.group}: ours / ${row.subject} = ${ratio}, target ${describeTarget(row.target)}`);
            }
        }
        const notes = [costNote(row, base), row.notes ?? ''].filter((n) => n !== '').join(' · ');
        out.push([
            row.group,
            row.isOurs ? `**${row.subject}**` : row.subject,
            formatValue(row.unit, m),
            formatRange(row.unit, row.samples),
            ratio || (row.isOurs ? '—' : ''),
            describeTarget(row.target),
            verdict,
            notes,
        ]);
    }
    const text = table(['scenario', 'implementation', 'median', 'min–max', 'ours / this', 'target', 'met', 'notes (medians)'], out);
    return { text, met, missed };
}
function firstLine(command, args) {
    try {
        return (execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
            .split('\n')[0]
            ?.trim() ?? 'unknown');
    }
    catch (err) {
        // wrk -v prints its version, then its usage, and exits 1.
        const out = err.stdout ?? '';
        return out.split('\n')[0]?.trim() || 'not installed';
    }
}
function packageVersion(name) {
    try {
        return JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')).version;
    }
    catch {
        return 'not installed';
    }
}
/** Files of src/ and examples/ that differ from the commit (the suite measures the working tree). */
function uncommitted() {
    try {
        const changed = execFileSync('git', ['status', '--porcelain', '--', 'src', 'examples'], { cwd: ROOT, encoding: 'utf8' })
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => l.slice(3));
        return changed.length === 0 ? '' : ` plus uncommitted changes to ${changed.join(', ')}`;
    }
    catch {
        return '';
    }
}
/** Machine, Node and every peer the suite runs against, as `name: version` lines. */
export function environment(ref) {
    let commit = 'unknown';
    try {
        commit = execFileSync('git', ['rev-parse', '--short', ref ?? 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    }
    catch { }
    return [
        `machine: ${machine()}`,
        `rotor-stream: ${commit}${ref === undefined ? uncommitted() : ''}`,
        `redis-server: ${firstLine('redis-server', ['--version'])}`,
        `redis-benchmark: ${firstLine('redis-benchmark', ['--version'])}`,
        `wrk: ${firstLine('wrk', ['-v'])}`,
        `taskset: ${firstLine('taskset', ['-V'])}`,
        `npm packages: ioredis ${packageVersion('ioredis')}, redis (node-redis) ${packageVersion('redis')} with @redis/client ${packageVersion('@redis/client')}, split2 ${packageVersion('split2')}, tsx ${packageVersion('tsx')}`,
    ];
}
