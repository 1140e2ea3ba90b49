/**
 * The command line of every runnable server example: the same flags everywhere, unknown flags
 * refused with a usage line, and where the server listens printed as `host:port` (or the path).
 *
 *     --host H   address to listen on (default 127.0.0.1, or $HOST)
 *     --port P   port (0 picks a free one; default per example, or $PORT)
 *     --unix F   also (or only, where said) listen on a Unix socket at path F
 *     --help     print the usage line and exit
 */
import { parseArgs } from 'node:util'
import { type Address, type Factory, serve } from 'rotor-stream'

/** What every server example listens on. */
export interface ListenFlags {
  readonly host: string
  readonly port: number
  readonly unix: string | undefined
}

/** An example's command line: its name, its default port, whether it takes `--unix`, and its own string flags. */
export interface Command {
  /** The example's file, for the usage line, e.g. `examples/line-echo.ts`. */
  readonly file: string
  readonly port: number
  readonly unix?: boolean
  /** Flags of its own (all take a value), with a short description each. */
  readonly flags?: Readonly<Record<string, string>>
}

/**
 * Parses `args` for `command`; on `--help` prints the usage line and exits 0, on an unknown flag
 * or a bad value prints the problem and the usage line to stderr and exits 2.
 */
export function parseFlags(
  command: Command,
  args: readonly string[] = process.argv.slice(2),
): ListenFlags & { readonly values: Record<string, string | undefined> } {
  const own = command.flags ?? {}
  const options: Record<string, { type: 'string' } | { type: 'boolean' }> = { host: { type: 'string' }, port: { type: 'string' }, help: { type: 'boolean' } }
  if (command.unix) options.unix = { type: 'string' }
  for (const name of Object.keys(own)) options[name] = { type: 'string' }
  const usageLine = usage(command)
  try {
    const { values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false })
    if (values.help === true) {
      console.log(usageLine)
      process.exit(0)
    }
    const text = (name: string): string | undefined => {
      const value = values[name]
      return typeof value === 'string' ? value : undefined
    }
    const portText = text('port') ?? process.env.PORT ?? String(command.port)
    const port = Number(portText)
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`--port must be an integer within 0..65535, got ${JSON.stringify(portText)}`)
    const extra: Record<string, string | undefined> = {}
    for (const name of Object.keys(own)) extra[name] = text(name)
    return { host: text('host') ?? process.env.HOST ?? '127.0.0.1', port, unix: text('unix'), values: extra }
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${usageLine}`)
    process.exit(2)
  }
}

/** `usage: npx tsx --conditions=rotor-stream-source <file> [--host H] [--port P] ...` */
export function usage(command: Command): string {
  const own = Object.entries(command.flags ?? {}).map(([name, what]) => ` [--${name} ${what}]`)
  const unix = command.unix ? ' [--unix PATH]' : ''
  return `usage: npx tsx --conditions=rotor-stream-source ${command.file} [--host H] [--port P (default ${command.port}; 0: any free port)]${unix}${own.join('')}`
}

/** Where a server listens, as people type it: `host:port` (`[::1]:port` for IPv6) or the socket's path. */
export function formatAddress(address: Address): string {
  if ('path' in address) return address.path
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

/**
 * The `main` of a simple server example: parses the flags, serves `factory` on TCP (or on the
 * Unix socket given with `--unix`), prints `listening on <where> (<what>)`, and closes on SIGINT
 * or SIGTERM, giving live connections a second.
 */
export async function runServer(command: Command, factory: Factory, what: string): Promise<void> {
  const flags = parseFlags({ ...command, unix: true })
  const server = await serve(flags.unix === undefined ? { host: flags.host, port: flags.port } : { path: flags.unix }, factory)
  console.log(`listening on ${formatAddress(server.address)} (${what})`)
  const stop = (): void => {
    void server.close({ timeout: 1000 }).then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
