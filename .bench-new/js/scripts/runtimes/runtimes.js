/**
 * The runtimes the built package is tested and benchmarked on, and where their binaries are:
 * each one ships inside an npm package pinned in scripts/runtimes/binaries/package.json (no
 * postinstall download), installed into scripts/runtimes/binaries/node_modules by {@link ensureRuntimes}.
 * Used by scripts/runtimes/run.ts (`npm run test:runtimes`) and bench/runtimes.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
/** The repository root, found from this file whether it runs compiled (dist/runtimes/…) or as source. */
export const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const DIR = path.join(ROOT, 'scripts', 'runtimes', 'binaries');
const MODULES = path.join(DIR, 'node_modules');
export const RUNTIMES = [
    { id: 'node20', family: 'node', binary: path.join(MODULES, 'node20/bin/node'), args: [], env: () => ({}) },
    { id: 'node22', family: 'node', binary: path.join(MODULES, 'node22/bin/node'), args: [], env: () => ({}) },
    { id: 'node24', family: 'node', binary: path.join(MODULES, 'node24/bin/node'), args: [], env: () => ({}) },
    {
        id: 'bun',
        family: 'bun',
        binary: path.join(MODULES, '@oven/bun-linux-x64/bin/bun'),
        args: [],
        env: (tmp) => ({ BUN_INSTALL_CACHE_DIR: path.join(tmp, 'bun-cache'), BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0', DO_NOT_TRACK: '1' }),
    },
    {
        id: 'deno',
        family: 'deno',
        binary: path.join(MODULES, '@deno/linux-x64-glibc/deno'),
        // -A: net, read, write, env, run (redis-cli), sys. No type checking: the files are JavaScript.
        args: ['run', '-A', '--quiet'],
        env: (tmp) => ({ DENO_DIR: path.join(tmp, 'deno-dir'), DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' }),
    },
];
/** Runtimes picked by a comma-separated list of ids (or families: `node` means all three Node lines); all by default. */
export function pickRuntimes(list) {
    if (list === undefined || list.trim() === '')
        return [...RUNTIMES];
    const wanted = list.split(',').map((s) => s.trim());
    const picked = RUNTIMES.filter((r) => wanted.includes(r.id) || wanted.includes(r.family));
    const unknown = wanted.filter((w) => !RUNTIMES.some((r) => r.id === w || r.family === w));
    if (unknown.length > 0)
        throw new Error(`unknown runtime ${unknown.join(', ')}: pick from ${RUNTIMES.map((r) => r.id).join(', ')}`);
    return picked;
}
/** Installs the pinned runtime packages (`npm ci` in scripts/runtimes) unless every binary is there. */
export function ensureRuntimes() {
    if (RUNTIMES.every((r) => existsSync(r.binary)))
        return;
    console.log('installing the runtimes (npm ci in scripts/runtimes/binaries: Node 20, 22, 24, Bun, Deno; ~200 MB download)');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: DIR, stdio: 'inherit' });
    const missing = RUNTIMES.filter((r) => !existsSync(r.binary));
    if (missing.length > 0) {
        throw new Error(`no binary for ${missing.map((r) => r.id).join(', ')} after npm ci (only linux-x64 packages are pinned): ${missing.map((r) => r.binary).join(', ')}`);
    }
}
/** `node 22.23.3`, `bun 1.4.5`, `deno 2.9.6`: what the binary says it is. */
export function describeRuntime(runtime) {
    const out = execFileSync(runtime.binary, ['--version'], { encoding: 'utf8' }).trim();
    const version = /(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? out;
    return `${runtime.family} ${version}`;
}
function findRoot(from) {
    for (let dir = from;; dir = path.dirname(dir)) {
        if (existsSync(path.join(dir, 'scripts', 'runtimes', 'binaries', 'package.json')) && existsSync(path.join(dir, 'package.json')))
            return dir;
        if (path.dirname(dir) === dir)
            throw new Error(`no repository root above ${from}`);
    }
}
