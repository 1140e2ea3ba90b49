import { channels } from './diagnostics.js';
import { checkAddress, checkConnectTimeout, describeAddress, dial } from './dial.js';
import { StreamSettings } from './limits.js';
import { Stream } from './stream.js';
import { tlsClientOptions } from './tls.js';
import { checkFunction, checkOptions, invalid } from './validate.js';
export { DEFAULT_CONNECT_TIMEOUT } from './dial.js';
/**
 * Opens one connection and runs a protocol on it (a one-shot client), over TCP `{ host, port }`
 * or a Unix socket `{ path }`, with TLS when `tls` is given.
 * Resolves with the {@link Stream} once connected (and the certificate verified) and the factory
 * has created the first state; rejects with a `ConnectError` (its `cause` is the socket's error,
 * e.g. `ECONNREFUSED` or `DEPTH_ZERO_SELF_SIGNED_CERT`) if the connection fails or takes longer
 * than `connectTimeout`. Bad arguments throw `InvalidArgumentError` synchronously.
 *
 * ```ts
 * const stream = await connect({ host: '127.0.0.1', port: 6379 }, Ping.create)
 * await stream.closed
 * ```
 */
export function connect(address, factory, options) {
    return start('connect', address, factory, options);
}
/** `connect()` and `connectTls()`, with `where` naming the one called in messages. */
function start(where, address, factory, options) {
    const target = checkAddress(where, address);
    checkFunction(where, 'factory', factory, 'a function (transport, seed, scope) => Intent');
    const o = checkOptions(where, 'options', options);
    const connectTimeout = checkConnectTimeout(where, o.connectTimeout);
    const settings = new StreamSettings(o, where);
    const tls = o.tls === undefined ? undefined : tlsClientOptions(where, 'options.tls', o.tls);
    const lookup = o.lookup === undefined ? undefined : checkFunction(where, 'options.lookup', o.lookup, 'a function like dns.lookup');
    const { ready } = dial(target, { connectTimeout, tls, lookup });
    return ready.then((socket) => {
        const stream = Stream.attach(socket, factory, o.seed, settings);
        if (channels.clientConnect.hasSubscribers)
            channels.clientConnect.publish({ address: describeAddress(target), stream });
        return stream;
    });
}
/** `connect()` with `tls` required: a TLS client that cannot silently fall back to plain text. */
export function connectTls(address, factory, options) {
    const o = checkOptions('connectTls', 'options', options);
    // The point of connectTls: no silent plain-text connection when `tls` was forgotten.
    if (o.tls === undefined)
        throw invalid('connectTls', 'options.tls', 'TLS options (use {} for the defaults)', undefined);
    return start('connectTls', address, factory, o);
}
