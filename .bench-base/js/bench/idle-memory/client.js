/**
 * Opens `n` idle connections (at most 256 connecting at once), prints `connected <n>` and keeps
 * them open until killed.   node client.ts <port> <n>
 */
import net from 'node:net';
const [port, n] = process.argv.slice(2).map(Number);
const sockets = [];
let next = 0;
function open() {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port }, () => resolve());
        socket.once('error', reject);
        sockets.push(socket);
    });
}
async function worker() {
    while (next < n) {
        next++;
        await open();
    }
}
await Promise.all(Array.from({ length: Math.min(256, n) }, worker));
process.stdout.write(`connected ${sockets.length}\n`);
process.on('SIGTERM', () => process.exit(0));
setInterval(() => { }, 1 << 30);
