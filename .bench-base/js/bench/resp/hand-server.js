/**
 * The baseline of the RESP server scenario: a RESP2 server for PING, SET, GET (and the CONFIG GET
 * redis-benchmark sends at start-up) written by hand on node:net for speed: one buffer per
 * connection (only an unparsed tail is kept and joined with the next read), `indexOf` for line
 * ends, replies of one read collected and sent with one write. Keys are latin1 strings in a Map,
 * values are copied out of the read buffer, as the rotor-stream example does.
 * Prints `listening <port>`.   node hand-server.ts
 */
import net from 'node:net';
import { parseRead } from './hand-resp.js';
function handle(socket) {
    socket.setNoDelay(true);
    /** Bytes of an incomplete command from earlier reads, or null. */
    let pending = null;
    socket.on('data', (chunk) => {
        const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
        const replies = [];
        const pos = parseRead(buf, replies);
        if (pos < 0) {
            socket.end('-ERR Protocol error\r\n');
            return;
        }
        // Keep only the unparsed tail (a copy would be needed only if the chunk's memory were reused).
        pending = pos < buf.length ? buf.subarray(pos) : null;
        if (replies.length === 1)
            socket.write(replies[0]);
        else if (replies.length > 1)
            socket.write(Buffer.concat(replies));
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
}
const server = net.createServer({ allowHalfOpen: true }, handle);
server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
