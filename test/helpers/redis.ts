/** Starts a real `redis-server` for interop tests, on a loopback port or a Unix socket. */
import { type ChildProcess, spawn } from 'node:child_process'

export interface RealRedis {
  readonly port: number
  readonly child: ChildProcess
  /** Stops it (SIGKILL when `hard`, as a crash) and waits for the exit. */
  stop(hard?: boolean): Promise<void>
}

/** Starts redis-server on `port` (and `unixPath`) without persistence; resolves once it accepts connections. */
export async function startRealRedis(port: number, unixPath?: string): Promise<RealRedis> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']
  if (unixPath !== undefined) args.push('--unixsocket', unixPath)
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), 10_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString()
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with ${code}:\n${log}`))
    })
  })
  child.stdout?.resume()
  child.stderr?.resume()
  return {
    port,
    child,
    stop: (hard = false) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill(hard ? 'SIGKILL' : 'SIGTERM')
      }),
  }
}
