/**
 * Load generator for the line-echo benchmark: CONNECTIONS connections share LINES request
 * lines; each keeps WINDOW requests in flight. Written to cost the server's core as little as
 * possible: replies are counted by length (every reply is one 32-byte line) and a refill is one
 * write of a slice of a prebuilt buffer. Latency is sampled for one request in 16.
 * Prints one JSON line.   node client.ts <port> <lines> <window> <connections>
 */
import net from 'node:net';
const [port, total, window, connections] = process.argv.slice(2).map(Number);
const LINE_LENGTH = 32;
const LINES = Buffer.alloc(LINE_LENGTH * window, '0123456789abcdef0123456789abcde\n');
let sent = 0;
let received = 0;
const latencies = [];
const started = performance.now();
function run() {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: '127.0.0.1' });
        socket.setNoDelay(true);
        let inFlight = 0;
        let partial = 0;
        /** Send time of the sampled request in flight, and how many replies precede its reply. */
        let sampleAt = 0;
        let sampleAfter = -1;
        const refill = () => {
            const n = Math.min(window - inFlight, total - sent);
            if (n <= 0)
                return;
            if (sampleAfter < 0 && (sent & 15) === 0) {
                sampleAt = performance.now();
                sampleAfter = inFlight;
            }
            sent += n;
            inFlight += n;
            socket.write(LINES.subarray(0, n * LINE_LENGTH));
        };
        socket.on('connect', refill);
        socket.on('data', (chunk) => {
            const bytes = partial + chunk.length;
            const lines = (bytes / LINE_LENGTH) | 0;
            partial = bytes - lines * LINE_LENGTH;
            received += lines;
            inFlight -= lines;
            if (sampleAfter >= 0) {
                sampleAfter -= lines;
                if (sampleAfter < 0)
                    latencies.push(performance.now() - sampleAt);
            }
            if (inFlight === 0 && sent >= total) {
                socket.destroy();
                resolve();
                return;
            }
            refill();
        });
        socket.on('error', reject);
    });
}
await Promise.all(Array.from({ length: connections }, run));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
process.stdout.write(`${JSON.stringify({ requests: received, rps: received / seconds, seconds, p50: pct(0.5), p99: pct(0.99) })}\n`);
