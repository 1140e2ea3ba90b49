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
import diagnostics from 'node:diagnostics_channel'
import type { Exception } from './errors.js'
import type { Transport } from './protocol.js'
import type { StreamStats } from './stats.js'

/** `rotor-stream:stream:open`: a stream started on a connected socket (accepted or dialled). */
export interface StreamOpenMessage {
  readonly stream: Transport
}
/**
 * `rotor-stream:stream:close`: the socket of a stream closed; `reason` is undefined after
 * `Intent.done()`; `stats` are the stream's final counters (the same object as `stream.stats`).
 */
export interface StreamCloseMessage {
  readonly stream: Transport
  readonly reason: Error | undefined
  readonly stats: StreamStats
}
/** `rotor-stream:stream:exception`: the protocol is about to receive `exception(reason)`. */
export interface StreamExceptionMessage {
  readonly stream: Transport
  readonly reason: Exception
}
/** `rotor-stream:stream:fatal`: the stream ends abnormally with `reason` (the protocol's `fatal` follows). */
export interface StreamFatalMessage {
  readonly stream: Transport
  readonly reason: Error
}
/** `rotor-stream:client:connect`: `connect()`/`open()`/`Persistent` established a connection. */
export interface ClientConnectMessage {
  readonly address: string
  readonly stream: Transport
}
/** `rotor-stream:client:reconnect`: a `Persistent` schedules attempt `attempt` in `delay` ms after `reason`. */
export interface ClientReconnectMessage {
  readonly address: string
  readonly attempt: number
  readonly delay: number
  readonly reason: Error | undefined
}

/** Every channel of the library, by event; subscribe by name (`rotor-stream:<area>:<event>`) or through these objects. */
/** `rotor-stream:server:accept`: a server accepted a connection and started a stream on it. */
export interface ServerAcceptMessage {
  readonly server: unknown
  readonly stream: Transport
}
/** `rotor-stream:server:error`: accepting failed (`EMFILE`, `ENFILE`, ...) or a TLS handshake failed (a plain-text client, a refused certificate, `handshakeTimeout`); the server keeps accepting. */
export interface ServerErrorMessage {
  readonly server: unknown
  readonly error: Error
}

/**
 * `rotor-stream:server:refused`: a server closed a connection at once because `maxConnections`
 * were open (Node's `'drop'` event). The addresses are the refused client's, when known.
 */
export interface ServerRefusedMessage {
  readonly server: unknown
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
}

/** The `node:diagnostics_channel` channels the library publishes on (see the README's tracing table); publishing costs nothing while nobody subscribes. */
export const channels = {
  streamOpen: diagnostics.channel('rotor-stream:stream:open'),
  streamClose: diagnostics.channel('rotor-stream:stream:close'),
  streamException: diagnostics.channel('rotor-stream:stream:exception'),
  streamFatal: diagnostics.channel('rotor-stream:stream:fatal'),
  clientConnect: diagnostics.channel('rotor-stream:client:connect'),
  clientReconnect: diagnostics.channel('rotor-stream:client:reconnect'),
  serverAccept: diagnostics.channel('rotor-stream:server:accept'),
  serverError: diagnostics.channel('rotor-stream:server:error'),
  serverRefused: diagnostics.channel('rotor-stream:server:refused'),
} as const
