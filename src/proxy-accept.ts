/**
 * The PROXY header on an accepted socket: read before anything else runs on it (before the TLS
 * handshake on a TLS server), then its addresses stand in for the socket's own on `Transport`.
 *
 * Assumptions: only servers with `proxyProtocol` pay for this (one closure and one timer per
 * connection, until the header is read); the bytes after the header are put back on the socket
 * (`unshift`), where the stream or the TLS socket reads them as if they had just arrived.
 */
import type { Socket } from 'node:net'
import { ProxyProtocolError } from './errors.js'
import type { Endpoints } from './io.js'
import { type ProxyAddress, type ProxyHeader, type ProxyProtocolOptions, parseProxyHeader } from './proxy-protocol.js'

/** The header read on a socket, kept on the socket for the stream that will run on it. */
const kProxyHeader = Symbol('rotor-stream.proxyHeader')
type ProxiedSocket = Socket & { [kProxyHeader]?: ProxyHeader; _parent?: unknown }

/**
 * Reads the PROXY header from `socket`, then calls `done(null)` with the socket paused and the
 * bytes after the header unshifted, or `done(error)` after closing the socket. Called once.
 * @internal
 */
export function readProxyHeader(socket: Socket, options: Required<ProxyProtocolOptions>, done: (error: ProxyProtocolError | null) => void): void {
  /** Every byte received so far; small: at most `maxHeaderSize` plus one chunk. */
  let received: Buffer = Buffer.alloc(0)
  const finish = (error: ProxyProtocolError | null): void => {
    clearTimeout(timer)
    socket.removeListener('data', onData)
    socket.removeListener('end', onEnd)
    socket.removeListener('close', onEnd)
    socket.removeListener('error', onError)
    if (error !== null) socket.destroy()
    done(error)
  }
  const onData = (chunk: Buffer): void => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
    const parse = parseProxyHeader(received, options.maxHeaderSize)
    switch (parse.state) {
      case 'incomplete':
        return
      case 'error':
        finish(parse.error)
        return
      case 'done': {
        socket.pause()
        ;(socket as ProxiedSocket)[kProxyHeader] = parse.header
        if (parse.length < received.length) socket.unshift(received.subarray(parse.length))
        finish(null)
        return
      }
    }
  }
  const onEnd = (): void => finish(new ProxyProtocolError('closed', `the peer closed after ${received.length} bytes, before the end of the PROXY header`))
  const onError = (err: Error): void =>
    finish(new ProxyProtocolError('closed', `the connection failed before the end of the PROXY header: ${err.message}`, { cause: err }))
  const timer = setTimeout(
    () => finish(new ProxyProtocolError('timeout', `no complete PROXY header within ${options.timeout} ms (${received.length} bytes received)`)),
    options.timeout,
  )
  timer.unref()
  socket.on('data', onData)
  socket.on('end', onEnd)
  socket.on('close', onEnd)
  socket.on('error', onError)
}

/**
 * What a stream on `socket` reports as its endpoints: the socket itself, or the addresses of
 * the PROXY header read on it (or on the raw socket under a TLS socket).
 * @internal
 */
export function endpointsOf(socket: Socket): Endpoints {
  const s = socket as ProxiedSocket
  const header = s[kProxyHeader] ?? (typeof s._parent === 'object' && s._parent !== null ? (s._parent as ProxiedSocket)[kProxyHeader] : undefined)
  return header === undefined ? socket : new ProxiedEndpoints(socket, header)
}

/** A socket's endpoints as the PROXY header tells them; the socket's own where it says nothing. */
class ProxiedEndpoints implements Endpoints {
  readonly #socket: Socket
  readonly proxy: ProxyHeader
  constructor(socket: Socket, header: ProxyHeader) {
    this.#socket = socket
    this.proxy = header
  }
  get remoteAddress(): string | undefined {
    return addressOf(this.proxy.source, this.#socket.remoteAddress)
  }
  get remotePort(): number | undefined {
    return portOf(this.proxy.source, this.#socket.remotePort)
  }
  get localAddress(): string | undefined {
    return addressOf(this.proxy.destination, this.#socket.localAddress)
  }
  get localPort(): number | undefined {
    return portOf(this.proxy.destination, this.#socket.localPort)
  }
}

/** A header's address, or the socket's own when the header carries none (LOCAL, UNSPEC, UNKNOWN). */
function addressOf(address: ProxyAddress | null, own: string | undefined): string | undefined {
  return address === null ? own : 'path' in address ? address.path : address.address
}

/** A header's port (none for a Unix address), or the socket's own when the header carries no address. */
function portOf(address: ProxyAddress | null, own: number | undefined): number | undefined {
  return address === null ? own : 'port' in address ? address.port : undefined
}
