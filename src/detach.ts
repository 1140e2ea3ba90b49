/**
 * Handing a connection off: what a protocol's `Intent.detach(callback)` (or the async API's
 * `conn.detach()`) gives the new owner of the socket.
 */
import type { Socket } from 'node:net'

/**
 * A connection the library let go of. `socket` (a `net.Socket`, or a `tls.TLSSocket` after TLS)
 * is paused, with no listener or timer of the library left on it; the output written before the
 * detach was handed to it and leaves in order. `input` is a copy of the bytes received and not
 * consumed by the protocol: the new owner handles them before anything it reads from `socket`
 * (the trap of hand-offs elsewhere: bytes read ahead by the old owner are lost).
 */
export interface Detached {
  readonly socket: Socket
  readonly input: Buffer
}
