/**
 * A tracing subscriber: logs every connection's life from the library's diagnostics channels,
 * while the line-echo server runs. Nothing is published (or costs anything) until subscribed.
 *
 *     npx tsx --conditions=source examples/tracing.ts      # then: printf 'hi\nQUIT\n' | nc 127.0.0.1 7002
 */
import diagnostics from 'node:diagnostics_channel';
import { pathToFileURL } from 'node:url';
import { serve } from 'rotor-stream';
import { LineEcho } from './line-echo.js';
/** Subscribes a logger to the connection-level channels; returns the function that unsubscribes. */
export function traceConnections(log = console.log) {
    const listeners = [
        ['rotor-stream:server:accept', (m) => log(`accept  ${m.stream.remoteAddress}:${m.stream.remotePort}`)],
        ['rotor-stream:stream:exception', (m) => log(`except  ${m.reason.code}`)],
        [
            'rotor-stream:stream:close',
            (m) => {
                const { stream, reason } = m;
                log(`close   ${stream.remoteAddress}:${stream.remotePort} ${reason === undefined ? 'cleanly' : `with ${reason.code ?? reason.name}`}`);
            },
        ],
    ];
    for (const [name, listener] of listeners)
        diagnostics.subscribe(name, listener);
    return () => {
        for (const [name, listener] of listeners)
            diagnostics.unsubscribe(name, listener);
    };
}
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
    traceConnections();
    const server = await serve({ host: '127.0.0.1', port: Number(process.env.PORT ?? 7002) }, LineEcho.create);
    console.log('line echo with tracing on', server.address);
    process.once('SIGINT', () => void server.close({ timeout: 0 }));
}
