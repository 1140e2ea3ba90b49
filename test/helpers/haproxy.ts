/**
 * Starts a real HAProxy (Debian's `haproxy`) in TCP mode in front of our server, from a config
 * written to a temporary directory; shared by the interop test and the portable suite.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RealHaproxy {
  readonly child: ChildProcess
  /** The directory of its config (and of files `files` wrote). */
  readonly dir: string
  /** Stops it and removes the directory. */
  stop(): Promise<void>
}

/**
 * Runs `haproxy -db -f <dir>/haproxy.cfg` with `config` (the `global` and `defaults` sections
 * are added) after writing `files` (name → contents) next to it; resolves once every port of
 * `ports` accepts a connection.
 */
export async function startHaproxy(
  config: (dir: string) => string,
  ports: readonly number[],
  files: Record<string, string | Buffer> = {},
): Promise<RealHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-stream-haproxy-'))
  for (const [name, contents] of Object.entries(files)) writeFileSync(join(dir, name), contents)
  const head = 'global\n  maxconn 256\n\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\n'
  writeFileSync(join(dir, 'haproxy.cfg'), head + config(dir))
  const child = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()))
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`haproxy exited with ${code}:\n${log}`))))
  exited.catch(() => {})
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        rmSync(dir, { recursive: true, force: true })
        resolve()
      }
      if (child.exitCode !== null || child.signalCode !== null) return done()
      child.once('exit', done)
      child.kill('SIGTERM')
    })
  try {
    for (const port of ports) await Promise.race([accepts(port), exited])
  } catch (err) {
    await stop()
    throw err
  }
  return { child, dir, stop }
}

/** Resolves once 127.0.0.1:`port` accepts (tries every 20 ms, 10 s at most). */
async function accepts(port: number): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port })
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`haproxy does not accept on port ${port}`)
}
