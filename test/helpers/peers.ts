/**
 * Real peer binaries (redis-cli, redis-benchmark, curl, wrk): found on PATH, or the test is
 * skipped with a reason — unless CI is set, where a missing binary is a failure.
 * `run` is shared with the portable suite (scripts/runtimes): Node, Bun and Deno run it.
 */
import { execFile, execFileSync } from 'node:child_process'

/** Path of `name` on PATH, or undefined. */
export function findBinary(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * Test options for a test that needs `names`: `{ skip: reason }` when one is missing locally.
 * With CI set, a missing binary throws, so the run fails instead of silently skipping.
 */
export function needs(...names: string[]): { skip?: string } {
  const missing = names.filter((n) => findBinary(n) === undefined)
  if (missing.length === 0) return {}
  const reason = `needs ${missing.join(', ')} (install: apt-get install redis-server redis-tools curl wrk)`
  if (process.env.CI) throw new Error(`CI: ${reason}`)
  return { skip: reason }
}

/**
 * Runs a command to completion with a timeout (ms, default 30 s); resolves with stdout. Rejects on
 * failure with the command and its stderr in the message, `stdout` and `stderr` on the error.
 */
export function run(command: string, args: string[], options: { timeout?: number; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: options.timeout ?? 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { message: `${command} ${args.join(' ')}: ${err.message}\n${stderr}`, stdout, stderr }))
      else resolve(stdout)
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}

/**
 * The interpreter the Python interop scripts run with: Debian's, which is where `apt-get install
 * python3-<module>` puts modules (the python3 on PATH may be a pyenv shim without them).
 */
export const SYSTEM_PYTHON = '/usr/bin/python3'

/** Whether SYSTEM_PYTHON can import `module`. */
export function hasPythonModule(module: string): boolean {
  try {
    execFileSync(SYSTEM_PYTHON, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

/**
 * Test options for a test that runs SYSTEM_PYTHON with `module` (Debian package `python3-<module>`):
 * `{ skip: reason }` when it is missing locally; with CI set, a missing module throws, as `needs` does.
 */
export function needsPythonModule(module: string): { skip?: string } {
  if (hasPythonModule(module)) return {}
  const reason = `needs ${SYSTEM_PYTHON} with the ${module} module (install: apt-get install python3-${module})`
  if (process.env.CI) throw new Error(`CI: ${reason}`)
  return { skip: reason }
}
