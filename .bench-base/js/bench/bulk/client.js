/**
 * Load of the bulk scenario: one connection sends an 8-byte length and `bytes` bytes in writes
 * of `writeSize` (honouring backpressure), then waits for the server's `OK\n`. The time runs
 * from the connection to the answer. Prints one JSON line: { bytes, seconds }.
 *
 *     node client.ts <port> <bytes> <writeSize>
 */
import net from 'node:net';
const [port, bytes, writeSize] = process.argv.slice(2).map(Number);
/** The payload of every write; its contents do not matter to a sink. */
const block = Buffer.alloc(writeSize, 0x61);
const started = performance.now();
const socket = net.connect({ host: '127.0.0.1', port });
await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
});
const answered = new Promise((resolve, reject) => {
    let answer = '';
    socket.on('data', (chunk) => {
        answer += chunk.toString('latin1');
        if (answer === 'OK\n')
            resolve();
        else if (answer.length >= 3)
            reject(new Error(`unexpected answer ${JSON.stringify(answer)}`));
    });
    socket.once('error', reject);
    socket.once('end', () => reject(new Error('server closed before answering')));
});
const header = Buffer.alloc(8);
header.writeBigUInt64BE(BigInt(bytes));
socket.write(header);
for (let sent = 0; sent < bytes;) {
    const n = Math.min(writeSize, bytes - sent);
    sent += n;
    if (!socket.write(n === block.length ? block : block.subarray(0, n)))
        await new Promise((resolve) => socket.once('drain', resolve));
}
await answered;
const seconds = (performance.now() - started) / 1000;
socket.destroy();
process.stdout.write(`${JSON.stringify({ bytes, seconds })}\n`);
