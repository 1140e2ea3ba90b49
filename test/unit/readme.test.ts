/**
 * Every TypeScript block of the README type-checks under the project's own strict settings, as
 * the files it names: a block starts with `// <file>.ts`, and the blocks of one guide import each
 * other (`./echo.js`) and the guide's shared `./store.js` (examples/kv/store.ts). So the guide
 * can never drift from the library's API again. The blocks that do something are run too: the
 * test blocks must pass, the servers must answer a session as the guide says.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { rawConnect, readAll } from '../helpers/net.js'
import { sleep } from '../helpers/wait.js'

const ROOT = new URL('../..', import.meta.url).pathname

/** The README's ```ts blocks, in order. */
function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '')
}

test('the README has TypeScript blocks, each naming its file', () => {
  const blocks = tsBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  assert.ok(blocks.length >= 5, `only ${blocks.length} blocks found`)
  const names = blocks.map((block) => /^\/\/ ([\w.-]+\.ts)\n/.exec(block)?.[1])
  assert.deepEqual(
    names.filter((name) => name === undefined),
    [],
    'every block starts with // <file>.ts',
  )
  assert.equal(new Set(names).size, names.length, `file names repeat: ${names.join(', ')}`)
})

/**
 * How each block that does something when run is run: the tests (exit status 0), and the servers
 * (started, sent a session, answered as the guide says, stopped). The modules that only define
 * a protocol (echo.ts, state-machine.ts) run through the blocks that import them. A test block
 * must end by itself: importing a module that listens would keep it running (the guide once did).
 */
const IMPORTED_ONLY = new Set(['echo.ts', 'state-machine.ts'])
const RUNS: Record<string, { port?: number; send?: string; expect?: string }> = {
  'echo-server.ts': { port: 7000, send: 'hello\nworld\n', expect: 'hello\nworld\n' },
  'echo.test.ts': {},
  'kv-server.ts': { port: 7070, send: 'SET a 1\nGET a\nQUIT\n', expect: 'OK\nVALUE 1\nBYE\n' },
  'async.ts': { port: 7071, send: 'SET a 1\nGET a\nQUIT\n', expect: 'OK\nVALUE 1\nBYE\n' },
  'kv.test.ts': {},
  'kv-pair.test.ts': {},
}

/** Writes the README's blocks as files in a fresh directory inside the repository (so that `rotor-stream` resolves to this package). */
function writeGuide(): { dir: string; names: string[] } {
  const blocks = tsBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  const dir = mkdtempSync(join(ROOT, '.readme-check-'))
  const names: string[] = []
  for (const block of blocks) {
    const name = /^\/\/ ([\w.-]+\.ts)\n/.exec(block)?.[1]
    assert.ok(name !== undefined, `a block without a file name: ${block.slice(0, 80)}`)
    writeFileSync(join(dir, name), block)
    names.push(name)
  }
  copyFileSync(join(ROOT, 'examples/kv/store.ts'), join(dir, 'store.ts'))
  return { dir, names }
}

test('every TypeScript block of the README type-checks under the project tsconfig', { timeout: 120_000 }, () => {
  const { dir } = writeGuide()
  try {
    const config = { extends: '../tsconfig.json', compilerOptions: { noEmit: true, rootDir: '..' }, include: ['*.ts'] }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config))
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' })
    } catch (err) {
      assert.fail(`README code does not type-check:\n${(err as { stdout?: string }).stdout ?? String(err)}`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

describe('every runnable block of the README runs as the guide says', () => {
  const { dir, names } = writeGuide()
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('each block is run here or imported by one that is', () => {
    assert.deepEqual(
      names.filter((name) => !(name in RUNS) && !IMPORTED_ONLY.has(name)),
      [],
      'add the new block to RUNS',
    )
  })

  for (const [name, how] of Object.entries(RUNS)) {
    test(`${name} runs`, { timeout: 60_000 }, async (t) => {
      assert.ok(names.includes(name), `the README has no block named ${name}`)
      const args = ['--conditions=rotor-stream-source', '--import', 'tsx', join(dir, name)]
      if (how.port === undefined) {
        // A test block: it asserts by itself; it passes when it exits with status 0.
        const result = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 30_000 })
        assert.equal(result.status, 0, `${name} did not exit with status 0 within 30 s (${result.signal ?? 'exited'}):\n${result.stderr}`)
        return
      }
      // The guide listens on a fixed port: when something else holds it, there is nothing to learn here.
      if (!(await portIsFree(how.port))) return t.skip(`port ${how.port} is in use on this machine`)
      const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      try {
        const socket = await connectWhenUp(how.port, child)
        socket.end(how.send ?? '')
        const answer = await readAll(socket, 10_000)
        assert.equal(answer.toString(), how.expect, stderr)
      } finally {
        child.kill('SIGTERM')
        if (child.exitCode === null && child.signalCode === null) await once(child, 'exit')
      }
    })
  }
})

async function portIsFree(port: number): Promise<boolean> {
  const probe = net.createServer()
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

/** Connects to 127.0.0.1:`port` once the child's server listens (tsx compiles first: retried for up to 30 s). */
async function connectWhenUp(port: number, child: ChildProcess): Promise<net.Socket> {
  const deadline = performance.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with status ${child.exitCode}`)
    try {
      return await rawConnect({ host: '127.0.0.1', port })
    } catch (err) {
      if (performance.now() > deadline) throw err
      await sleep(100)
    }
  }
}
