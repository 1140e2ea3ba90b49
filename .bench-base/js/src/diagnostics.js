/**
 * Tracing through `node:diagnostics_channel` (the convention undici follows). Every channel of
 * the library is declared here with the shape of its messages. Publishing is guarded by
 * `hasSubscribers`, so nothing is built or sent while nobody listens; no channel is published
 * per request, only per connection event.
 *
 * ```ts
 * import diagnostics from 'node:diagnostics_channel'
 * diagnostics.subscribe('rotor-stream:stream:close', (message) => {
 *   const { stream, reason } = message as StreamCloseMessage
 *   console.log('closed', stream.remoteAddress, reason?.code ?? 'cleanly')
 * })
 * ```
 */
import diagnostics from 'node:diagnostics_channel';
export const channels = {
    streamOpen: diagnostics.channel('rotor-stream:stream:open'),
    streamClose: diagnostics.channel('rotor-stream:stream:close'),
    streamException: diagnostics.channel('rotor-stream:stream:exception'),
    streamFatal: diagnostics.channel('rotor-stream:stream:fatal'),
    clientConnect: diagnostics.channel('rotor-stream:client:connect'),
    clientReconnect: diagnostics.channel('rotor-stream:client:reconnect'),
    serverAccept: diagnostics.channel('rotor-stream:server:accept'),
    serverError: diagnostics.channel('rotor-stream:server:error'),
};
