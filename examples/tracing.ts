/**
 * A tracing subscriber: logs every connection's life from the library's diagnostics channels,
 * while the line-echo server runs. Nothing is published (or costs anything) until subscribed.
 *
 *     npx tsx --conditions=rotor-stream-source examples/tracing.ts      # then: printf 'hi\nQUIT\n' | nc 127.0.0.1 7002
 */
import diagnostics from 'node:diagnostics_channel'
import { pathToFileURL } from 'node:url'
import type { ServerAcceptMessage, StreamCloseMessage, StreamExceptionMessage } from 'rotor-stream'
import { runServer } from './cli.js'
import { LineEcho } from './line-echo.js'

/** The message type of each channel subscribed here, as the library declares it. */
interface Messages {
  'rotor-stream:server:accept': ServerAcceptMessage
  'rotor-stream:stream:exception': StreamExceptionMessage
  'rotor-stream:stream:close': StreamCloseMessage
}

/** Subscribes a logger to the connection-level channels; returns the function that unsubscribes. */
export function traceConnections(log: (line: string) => void = console.log): () => void {
  const unsubscribe = [
    on('rotor-stream:server:accept', (m) => log(`accept  ${m.stream.remoteAddress}:${m.stream.remotePort}`)),
    on('rotor-stream:stream:exception', (m) => log(`except  ${m.reason.code}`)),
    on('rotor-stream:stream:close', ({ stream, reason }) =>
      log(`close   ${stream.remoteAddress}:${stream.remotePort} ${reason === undefined ? 'cleanly' : `with ${errorCode(reason) ?? reason.name}`}`),
    ),
  ]
  return () => {
    for (const off of unsubscribe) off()
  }
}

/** Subscribes `listener` to channel `name`; returns the function that unsubscribes it. */
function on<N extends keyof Messages>(name: N, listener: (message: Messages[N]) => void): () => void {
  // diagnostics_channel types every message as unknown; the library publishes on each of its
  // channels only the message type declared for it (src/diagnostics.ts), so this is the one cast.
  const untyped = listener as (message: unknown) => void
  diagnostics.subscribe(name, untyped)
  return () => {
    diagnostics.unsubscribe(name, untyped)
  }
}

/** The `code` of an error that has one (every library error, and Node's system errors). */
function errorCode(error: Error): string | undefined {
  return 'code' in error && typeof error.code === 'string' ? error.code : undefined
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  traceConnections()
  await runServer({ file: 'examples/tracing.ts', port: 7002 }, LineEcho.create, 'line echo with tracing')
}
