/**
 * Every TypeScript block of the README type-checks under the project's own strict settings, as
 * the files it names: a block starts with `// <file>.ts`, and the blocks of one guide import each
 * other (`./echo.js`) and the guide's shared `./store.js` (examples/kv/store.ts). So the guide
 * can never drift from the library's API again.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

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

test('every TypeScript block of the README type-checks under the project tsconfig', { timeout: 120_000 }, () => {
  const blocks = tsBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  // Inside the repository, so that `rotor-stream` resolves to this package (its source condition).
  const dir = mkdtempSync(join(ROOT, '.readme-check-'))
  try {
    for (const block of blocks) {
      const name = /^\/\/ ([\w.-]+\.ts)\n/.exec(block)?.[1]
      assert.ok(name !== undefined, `a block without a file name: ${block.slice(0, 80)}`)
      writeFileSync(join(dir, name), block)
    }
    copyFileSync(join(ROOT, 'examples/kv/store.ts'), join(dir, 'store.ts'))
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
