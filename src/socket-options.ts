/**
 * Socket options (TCP keep-alive) and listen options (`reusePort`, `ipv6Only`, Unix socket
 * permissions): declared, checked and applied here, so that `serve` and the stream glue only
 * hook them in.
 *
 * Assumptions: keep-alive is set on every socket a stream runs on (accepted or connected),
 * once, when the stream is attached; `reusePort` is only passed to a runtime known to honour it
 * (Node >= 22.12 / >= 23.1 on Linux and the BSDs): elsewhere it is refused, never silently
 * ignored, because two servers that believe they share a port but do not is a silent outage.
 */
import { UnsupportedError } from './errors.js'
import { checkBoolean, checkInteger, checkMs, checkOptions, invalid } from './validate.js'

/** TCP keep-alive of a stream's socket (`StreamOptions.keepAlive`). */
export interface KeepAliveOptions {
  /**
   * Idle time before the first probe, in ms (the kernel counts whole seconds: Node rounds down,
   * 1000 at least). 0 keeps the system's default (2 hours on Linux, `tcp_keepalive_time`).
   * A whole number of ms within 0..2^31-1.
   * @default 0
   */
  initialDelay?: number
}

/** Options of the socket under a stream, beside `noDelay`. */
export interface SocketOptions {
  /**
   * TCP keep-alive probes (`socket.setKeepAlive`): `true` with the system's initial delay, or
   * `{ initialDelay }` in ms. Ignored on Unix sockets. Keep-alive finds peers that vanished
   * (a crashed host, a dropped NAT mapping) only after the delay and the probes, minutes to
   * hours: it is no substitute for a protocol's own deadlines and pings.
   * @default false
   */
  keepAlive?: boolean | KeepAliveOptions
}

/**
 * `keepAlive` checked: -1 for off, else the initial delay in ms (0 for the system's default).
 * Throws `InvalidArgumentError`.
 * @internal
 */
export function keepAliveDelay(where: string, value: unknown): number {
  if (value === undefined || value === false) return -1
  if (value === true) return 0
  const o = checkOptions<KeepAliveOptions>(where, 'options.keepAlive', value, 'a boolean or { initialDelay } (ms)')
  return o.initialDelay === undefined ? 0 : checkMs(where, 'options.keepAlive.initialDelay', o.initialDelay)
}

/** Options of `serve` about the listening socket itself. */
export interface ListenOptions {
  /**
   * Length of the kernel's queue of connections not yet accepted, an integer within 1..2^31-1
   * (the kernel caps it, `net.core.somaxconn` on Linux).
   * @default {@link DEFAULT_BACKLOG} (511)
   */
  backlog?: number
  /**
   * `SO_REUSEPORT`: several servers (processes) listen on the same TCP port and the kernel
   * spreads connections among them. Only on Node >= 22.12 (or >= 23.1) on Linux and the BSDs;
   * elsewhere `serve` throws an `UnsupportedError` (`RS_ERR_UNSUPPORTED`) rather than ignore it
   * (a second server would otherwise fail with EADDRINUSE, or worse, run alone unnoticed).
   * TCP only. See docs/compatibility.md.
   * @default false
   */
  reusePort?: boolean
  /**
   * With a `host` of `::`, accept IPv6 only (`IPV6_V6ONLY`); without it, `::` also accepts IPv4
   * (as IPv4-mapped addresses) on most systems. TCP only.
   * @default false
   */
  ipv6Only?: boolean
  /**
   * Permission bits of the Unix socket file, an integer within 0..0o777 (e.g. `0o660`), set
   * with `chmod` right after listening: until then the file has the process umask's
   * permissions, so protect the directory too when that window matters. Unix sockets only.
   * @default the process umask's
   */
  mode?: number
  /** Make the Unix socket file readable by all users (Node's `readableAll`). Unix sockets only. @default false */
  readableAll?: boolean
  /** Make the Unix socket file writable by all users (Node's `writableAll`), so anyone may connect. Unix sockets only. @default false */
  writableAll?: boolean
}

/** {@link ListenOptions} checked, ready for `net.Server.listen` (and the chmod after it). @internal */
export interface ListenSettings {
  readonly backlog: number
  /** Extra fields for `listen()`: only those given, so that an older runtime never sees unknown ones. */
  readonly listen: { reusePort?: true; ipv6Only?: true; readableAll?: true; writableAll?: true }
  /** Mode to chmod the Unix socket file to after listening, or -1. */
  readonly mode: number
}

/**
 * Whether this runtime's `net.Server.listen` honours `reusePort`: Node >= 22.12 / >= 23.1 on a
 * platform with SO_REUSEPORT load balancing. Bun and Deno also report a Node version, but
 * their `node:net` is their own: they are refused until tested.
 * @internal
 */
export function supportsReusePort(): boolean {
  const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string }
  if (versions.bun !== undefined || versions.deno !== undefined) return false
  if (!['linux', 'freebsd', 'openbsd', 'netbsd', 'aix', 'sunos'].includes(process.platform)) return false
  const [major = 0, minor = 0] = versions.node.split('.').map(Number)
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)
}

/** Checks the listen options of `serve`; `isUnix` says which ones apply. Throws `InvalidArgumentError` or `UnsupportedError`. @internal */
export function listenSettings(options: ListenOptions, isUnix: boolean, defaultBacklog: number): ListenSettings {
  const where = 'serve'
  // Node hands the backlog to listen(2) as a C int.
  const backlog = options.backlog === undefined ? defaultBacklog : checkInteger(where, 'options.backlog', options.backlog, { min: 1, max: 2 ** 31 - 1 })
  const listen: { reusePort?: true; ipv6Only?: true; readableAll?: true; writableAll?: true } = {}
  const flag = (name: 'reusePort' | 'ipv6Only' | 'readableAll' | 'writableAll', unix: boolean): boolean => {
    const value = options[name]
    if (value === undefined || !checkBoolean(where, `options.${name}`, value)) return false
    if (unix !== isUnix) throw invalid(where, `options.${name}`, unix ? 'used with a Unix socket path only' : 'used with TCP only', value)
    listen[name] = true
    return true
  }
  if (flag('reusePort', false) && !supportsReusePort()) {
    throw new UnsupportedError(
      `serve: options.reusePort is not supported on this runtime (${runtimeName()} on ${process.platform}); it needs Node >= 22.12 or >= 23.1 on Linux or a BSD`,
    )
  }
  flag('ipv6Only', false)
  flag('readableAll', true)
  flag('writableAll', true)
  let mode = -1
  if (options.mode !== undefined) {
    mode = checkInteger(where, 'options.mode', options.mode, { min: 0, max: 0o777 })
    if (!isUnix) throw invalid(where, 'options.mode', 'used with a Unix socket path only', options.mode)
  }
  return { backlog, listen, mode }
}

function runtimeName(): string {
  const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string }
  if (versions.bun !== undefined) return `Bun ${versions.bun}`
  if (versions.deno !== undefined) return `Deno ${versions.deno}`
  return `Node ${versions.node}`
}
