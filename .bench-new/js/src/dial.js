/**
 * `dial()`: the one place that opens a client connection (plain or TLS, TCP or Unix) and bounds
 * it with a connect timeout that covers the TLS handshake. Used by `connect()`, `open()` and
 * `Persistent`.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ConnectError, InvalidArgumentError, TimeoutError } from './errors.js';
import { checkInteger, checkMs, checkObject, checkString, checkUnixPath, describeValue } from './validate.js';
/** Default connect timeout in ms (the Rust crate's choice). */
export const DEFAULT_CONNECT_TIMEOUT = 1000;
/**
 * Starts one connection. Host names are resolved on every call (by `net.connect`), so a
 * server that moved is found on the next attempt.
 * @internal
 */
export function dial(address, options) {
    const where = describeAddress(address);
    const target = 'path' in address ? { path: address.path } : { host: address.host, port: address.port };
    const lookup = options.lookup === undefined ? {} : { lookup: options.lookup };
    const socket = options.tls === undefined ? net.connect({ ...target, ...lookup, allowHalfOpen: true }) : tls.connect({ ...options.tls, ...target, ...lookup });
    const connected = options.tls === undefined ? 'connect' : 'secureConnect';
    const ready = new Promise((resolve, reject) => {
        const settle = (err) => {
            clearTimeout(timer);
            socket.removeListener(connected, onConnect);
            socket.removeListener('error', onError);
            socket.removeListener('close', onClose);
            if (err === null) {
                resolve(socket);
                return;
            }
            socket.destroy();
            reject(err);
        };
        const onConnect = () => settle(null);
        const onError = (err) => settle(new ConnectError(`connect to ${where} failed: ${err.message}`, { cause: err }));
        // Destroyed from outside (a cancelled dial) or closed by the peer mid-handshake without an error.
        const onClose = () => settle(new ConnectError(`connect to ${where} failed: socket closed before the connection was up`));
        const timer = setTimeout(() => {
            const cause = new TimeoutError(`no connection within ${options.connectTimeout} ms`);
            settle(new ConnectError(`connect to ${where} timed out after ${options.connectTimeout} ms`, { cause }));
        }, options.connectTimeout);
        socket.once(connected, onConnect);
        socket.on('error', onError);
        socket.once('close', onClose);
    });
    return { socket, ready };
}
/** Validates a `connectTimeout` option given to `where`: a whole number of ms within 1..2^31-1. @internal */
export function checkConnectTimeout(where, value) {
    return value === undefined ? DEFAULT_CONNECT_TIMEOUT : checkMs(where, 'options.connectTimeout', value, { min: 1 });
}
/**
 * Checks a `{ host, port }` or `{ path }` address given to `where`, including a Unix path's
 * length; throws `InvalidArgumentError`. Returns a copy with only those fields.
 * @internal
 */
export function checkAddress(where, address) {
    const { host, port, path } = checkObject(where, 'address', address, '{ host, port } or { path }');
    if (path !== undefined) {
        // Which one would be used is not obvious to the reader of the call: refuse to guess.
        if (host !== undefined || port !== undefined) {
            throw new InvalidArgumentError(`${where}: address must be either { host, port } or { path }, not both, got path ${describeValue(path)} with ${port !== undefined ? `port ${describeValue(port)}` : `host ${describeValue(host)}`}`);
        }
        return { path: checkUnixPath(where, 'address.path', path) };
    }
    if (host === undefined && port === undefined)
        throw new InvalidArgumentError(`${where}: address must be { host, port } or { path }, got ${describeValue(address)} with neither`);
    return { host: checkString(where, 'address.host', host), port: checkInteger(where, 'address.port', port, { min: 1, max: 65535 }) };
}
/** `host:port` or the Unix path, for messages. @internal */
export function describeAddress(address) {
    return 'path' in address ? address.path : `${address.host}:${address.port}`;
}
