/**
 * Line-echo scenarios. `line-echo`: the state-machine API (examples/line-echo.ts) against
 * hand-written node:net code with the same semantics, pipelined (window 32) and one request at
 * a time (window 1). `line-echo-stream-apis`: the same protocol against `readline` and `split2`
 * servers as users write them (one write per reply), window 32.
 *
 * All servers of a scenario stay up; measured runs alternate between them (see `alternate`).
 * Knobs: ROUNDS (7), LINES (200000; window 1 and the stream-API servers get a tenth, they are
 * slower), CONNECTIONS (4), SERVERS (rotor,hand), WINDOWS (32,1).
 */
import { knob, median, nodeScript, rounds, runOnLoadCore, startServer } from '../lib.js';
const LINES = knob('LINES', 200_000);
const CONNECTIONS = knob('CONNECTIONS', 4);
const SERVERS = (process.env.SERVERS?.split(',') ?? ['rotor', 'hand']);
const WINDOWS = (process.env.WINDOWS?.split(',').map(Number) ?? [32, 1]);
const LABELS = {
    rotor: 'rotor-stream (examples/line-echo.ts)',
    hand: 'hand-written node:net',
    async: 'rotor-stream (async/await)',
    readline: 'node:readline server',
    split2: 'split2 server',
};
/** One measured client run against a running server: throughput, latency and server CPU. */
async function measure(server, lines, window) {
    await server.resetCpu();
    const out = await runOnLoadCore(nodeScript('bench/line-echo/client.ts', [String(server.port), String(lines), String(window), String(CONNECTIONS)]));
    const cpu = await server.cpuSinceReset();
    const result = JSON.parse(out);
    return { ...result, cpuPerRequest: cpu / result.requests };
}
/** Runs `servers` side by side for every window; returns the samples per `server/window`. */
async function runServers(servers, windows, linesFor) {
    const running = new Map();
    const results = new Map();
    try {
        for (const name of servers)
            running.set(name, await startServer('bench/line-echo/server.ts', [name]));
        // Warm-up (JIT) of every server and window, then the measured rounds, order rotating.
        for (const name of servers)
            for (const window of windows)
                await measure(running.get(name), Math.ceil(linesFor(name, window) / 4), window);
        const n = rounds(11);
        for (let round = 0; round < n; round++) {
            for (const window of windows) {
                const shift = round % servers.length;
                const order = [...servers.slice(shift), ...servers.slice(0, shift)];
                if (round % 2)
                    order.reverse();
                for (const name of order) {
                    const key = `${name}/${window}`;
                    const list = results.get(key) ?? [];
                    list.push(await measure(running.get(name), linesFor(name, window), window));
                    results.set(key, list);
                }
            }
        }
    }
    finally {
        for (const [, server] of running)
            await server.stop();
    }
    return results;
}
function notes(list) {
    return `p50 ${median(list.map((r) => r.p50)).toFixed(3)} ms · p99 ${median(list.map((r) => r.p99)).toFixed(3)} ms`;
}
/** A row of one server's runs: req/s, server CPU per request, latency percentiles. */
function row(group, server, list, isOurs, target, note = '') {
    return {
        group,
        subject: LABELS[server] ?? server,
        isOurs,
        unit: 'req/s',
        samples: list.map((r) => r.rps),
        notes: `${notes(list)}${note}`,
        cost: { label: 'server CPU', unit: 'µs/req', samples: list.map((r) => r.cpuPerRequest) },
        target,
    };
}
export async function lineEcho() {
    const linesFor = (_server, window) => (window === 1 ? Math.ceil(LINES / 10) : LINES);
    const results = await runServers(SERVERS, WINDOWS, linesFor);
    const rows = [];
    for (const window of WINDOWS) {
        for (const server of SERVERS) {
            const list = results.get(`${server}/${window}`) ?? [];
            rows.push(row(`line-echo · window ${window}`, server, list, server === 'rotor', server === 'rotor' ? undefined : { kind: 'min', value: 0.95 }));
        }
    }
    return {
        rows,
        notes: [
            `line-echo: ${LINES} lines of 32 bytes per run (window 1: ${Math.ceil(LINES / 10)}) over ${CONNECTIONS} connections, each keeping "window" requests in flight; ${rounds(11)} rounds after a warm-up; server on core 0, client (bench/line-echo/client.ts) on core 1. Server CPU per request counts only the server process.`,
        ],
    };
}
/** The async/await API next to the state machine and hand-written code (issue 7 aims for >= 0.7x the state machine). */
export async function lineEchoAsync() {
    const servers = ['async', 'rotor', 'hand'];
    const linesFor = (_server, window) => (window === 1 ? Math.ceil(LINES / 10) : LINES);
    const results = await runServers(servers, WINDOWS, linesFor);
    const rows = [];
    for (const window of WINDOWS) {
        const ours = median((results.get(`rotor/${window}`) ?? []).map((r) => r.rps));
        for (const server of servers) {
            const list = results.get(`${server}/${window}`) ?? [];
            const rps = median(list.map((r) => r.rps));
            const note = server === 'async' ? ` · ${(rps / ours).toFixed(2)}x the state machine (aim >= 0.7)` : '';
            const target = server === 'rotor' ? { kind: 'min', value: 0.7 } : undefined;
            rows.push(row(`line-echo async · window ${window}`, server, list, server === 'async', target, note));
        }
    }
    return { rows, notes: ['line-echo with the async API (conn.readUntil + conn.write), same client and rounds as line-echo.'] };
}
export async function lineEchoStreamApis() {
    const servers = ['rotor', 'readline', 'split2'];
    // The stream-API servers answer ~10x slower: fewer lines keep their runs as long as ours.
    const linesFor = (server) => (server === 'rotor' ? LINES : Math.ceil(LINES / 10));
    const results = await runServers(servers, [32], linesFor);
    const rows = servers.map((server) => {
        const list = results.get(`${server}/32`) ?? [];
        const target = server === 'rotor' ? undefined : { kind: 'report', text: 'report (expect > 10)' };
        return row('line-echo · window 32 · stream APIs', server, list, server === 'rotor', target);
    });
    return {
        rows,
        notes: [
            `line-echo-stream-apis: window 32, ${CONNECTIONS} connections; ${LINES} lines per run for rotor-stream, ${Math.ceil(LINES / 10)} for the readline and split2 servers (bench/line-echo/server.ts: a 'line' or 'data' event per line, one socket.write per reply).`,
        ],
    };
}
