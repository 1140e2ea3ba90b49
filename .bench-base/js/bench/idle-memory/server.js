/**
 * Servers of the idle-memory scenario (run with --expose-gc), one process each:
 *
 * - `rotor`: `serve()` running examples/line-echo.ts: every connection waits on a delimiter with
 *   a 30 s idle deadline.
 * - `hand`: the hand-written node:net line echo of bench/line-echo (one buffer, indexOf, one
 *   write per read) with the same 30 s idle timeout through `socket.setTimeout`.
 *
 * On a `memory` line on stdin it collects garbage and prints `memory <rss> <heapUsed> <external> <connections>`
 * (bytes). Prints `listening <port>` once ready.   node --expose-gc server.ts <rotor|hand>
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { serve } from 'rotor-stream';
import { IDLE_TIMEOUT, LineEcho, MAX_LINE } from '../../examples/line-echo.js';
const kind = process.argv[2] ?? 'rotor';
function handWritten(socket) {
    socket.setNoDelay(true);
    socket.setTimeout(IDLE_TIMEOUT, () => socket.destroy());
    let pending = null;
    socket.on('data', (chunk) => {
        const data = pending === null ? chunk : Buffer.concat([pending, chunk]);
        let start = 0;
        const replies = [];
        for (let end = data.indexOf(0x0a, start); end >= 0; end = data.indexOf(0x0a, start)) {
            if (end - start > MAX_LINE)
                return void socket.destroy();
            replies.push(data.subarray(start, end + 1));
            start = end + 1;
        }
        pending = start < data.length ? data.subarray(start) : null;
        if (pending !== null && pending.length > MAX_LINE)
            socket.destroy();
        if (replies.length > 0)
            socket.write(replies.length === 1 ? replies[0] : Buffer.concat(replies));
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
}
let connections;
if (kind === 'hand') {
    let open = 0;
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        open++;
        socket.once('close', () => open--);
        handWritten(socket);
    });
    connections = () => open;
    await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve));
    process.stdout.write(`listening ${server.address().port}\n`);
}
else {
    const server = await serve({ host: '127.0.0.1', port: 0, maxConnections: 1_000_000, backlog: 4096 }, LineEcho.create);
    connections = () => server.connections;
    process.stdout.write(`listening ${'port' in server.address ? server.address.port : 0}\n`);
}
const gc = globalThis.gc;
// Commands on stdin, not signals: Node reserves SIGUSR1 for its inspector.
createInterface({ input: process.stdin }).on('line', (line) => {
    if (line !== 'memory')
        return;
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    process.stdout.write(`memory ${m.rss} ${m.heapUsed} ${m.external} ${connections()}\n`);
});
process.on('SIGTERM', () => process.exit(0));
