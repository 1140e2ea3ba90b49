/**
 * Where a client connects: the public {@link Address} type, and its one run-time check.
 *
 * Assumptions: an address is either TCP or a Unix socket, never both (which one a call would
 * use is not obvious to its reader, so both is refused); host names are resolved when
 * connecting, not here.
 */
import { InvalidArgumentError } from './errors.js'
import { checkInteger, checkObject, checkString, checkUnixPath, describeValue } from './validate.js'

/**
 * Where to connect (or where a server listens, as `server.address` reports it): TCP
 * `{ host, port }` (a host name or an IP address; port within 1..65535) or a Unix socket
 * `{ path }` (at most 107 bytes on Linux, 103 on macOS and the BSDs).
 */
export type Address = { host: string; port: number } | { path: string }

/**
 * Checks a `{ host, port }` or `{ path }` address given to `where`, including a Unix path's
 * length; throws `InvalidArgumentError`. Returns a copy with only those fields.
 * @internal
 */
export function checkAddress(where: string, address: unknown): Address {
  const { host, port, path } = checkObject<{ host?: unknown; port?: unknown; path?: unknown }>(where, 'address', address, '{ host, port } or { path }')
  if (path !== undefined) {
    // Which one would be used is not obvious to the reader of the call: refuse to guess.
    if (host !== undefined || port !== undefined) {
      throw new InvalidArgumentError(
        `${where}: address must be either { host, port } or { path }, not both, got path ${describeValue(path)} with ${port !== undefined ? `port ${describeValue(port)}` : `host ${describeValue(host)}`}`,
      )
    }
    return { path: checkUnixPath(where, 'address.path', path) }
  }
  if (host === undefined && port === undefined)
    throw new InvalidArgumentError(`${where}: address must be { host, port } or { path }, got ${describeValue(address)} with neither`)
  return { host: checkString(where, 'address.host', host), port: checkInteger(where, 'address.port', port, { min: 1, max: 65535 }) }
}

/** `host:port` or the Unix path, for messages. @internal */
export function describeAddress(address: Address): string {
  return 'path' in address ? address.path : `${address.host}:${address.port}`
}
