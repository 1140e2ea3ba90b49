/**
 * The RESP demo (examples/redis-server.ts, compiled) running on the runtime under test, answering
 * the real redis-cli and redis-benchmark over TCP and a Unix socket.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { type RunningServer, startRedisServer } from '../../../examples/redis-server.js'
import { rawConnect } from '../../../test/helpers/net.js'
import { run } from '../../../test/helpers/peers.js'
import { describe, test } from '../kit.js'

/** `skip` reason when a peer binary is missing (a failure under CI=true instead). */
function needs(...names: string[]): string | false {
  const missing = names.filter((name) => {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' })
      return false
    } catch {
      return true
    }
  })
  if (missing.length === 0) return false
  const reason = `needs ${missing.join(', ')} (apt-get install redis-tools)`
  if (process.env.CI) throw new Error(`CI: ${reason}`)
  return reason
}

const unixPath = path.join(os.tmpdir(), `rs-rt-redis-${process.pid}.sock`)
let running: RunningServer | undefined

/** The demo server, started on first use and stopped by the last test. */
async function server(): Promise<RunningServer> {
  running ??= await startRedisServer({ port: 0, unix: unixPath })
  return running
}

describe('RESP demo (examples/redis-server.ts)', () => {
  test('redis-cli runs a session of commands', { skip: needs('redis-cli'), timeout: 30_000 }, async () => {
    const { port } = await server()
    const cli = (...args: string[]): Promise<string> => run('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 })
    assert.equal(await cli('PING'), 'PONG\n')
    assert.equal(await cli('SET', 'greeting', 'hello world'), 'OK\n')
    assert.equal(await cli('GET', 'greeting'), 'hello world\n')
    assert.equal(await cli('INCR', 'visits'), '1\n')
    assert.equal(await cli('INCRBY', 'visits', '41'), '42\n')
    assert.equal(await cli('RPUSH', 'queue', 'a', 'b', 'c'), '3\n')
    assert.equal(await cli('LRANGE', 'queue', '0', '-1'), 'a\nb\nc\n')
    assert.equal(await cli('MSET', 'k1', 'v1', 'k2', 'v2'), 'OK\n')
    assert.equal(await cli('MGET', 'k1', 'k2', 'missing'), 'v1\nv2\n\n')
    assert.equal(await cli('EXPIRE', 'k1', '100'), '1\n')
    assert.equal(await cli('TTL', 'k1'), '100\n')
    assert.equal(await cli('DEL', 'k1'), '1\n')
    assert.match(await cli('NOSUCHCOMMAND', 'x'), /ERR unknown command 'NOSUCHCOMMAND'/)
    assert.equal(await cli('FLUSHALL'), 'OK\n')
    assert.equal(await cli('DBSIZE'), '0\n')
  })

  test('redis-cli over the Unix socket pipes a script of commands', { skip: needs('redis-cli'), timeout: 30_000 }, async () => {
    await server()
    assert.equal(await run('redis-cli', ['-s', unixPath], { input: 'SET a 1\nINCR a\nGET a\n', timeout: 10_000 }), 'OK\n2\n2\n')
  })

  test('1000 pipelined PINGs in one write get 1000 PONGs', async () => {
    const { port } = await server()
    const socket = await rawConnect({ host: '127.0.0.1', port })
    const expected = '+PONG\r\n'.length * 1000
    const reply = await new Promise<string>((resolve, reject) => {
      let got = ''
      const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${expected} bytes`)), 10_000)
      socket.on('data', (chunk: Buffer) => {
        got += chunk.toString('latin1')
        if (got.length >= expected) {
          clearTimeout(timer)
          resolve(got)
        }
      })
      socket.write('*1\r\n$4\r\nPING\r\n'.repeat(1000))
    })
    socket.destroy()
    assert.equal(reply, '+PONG\r\n'.repeat(1000))
  })

  test('redis-benchmark finishes every test with no errors (pipelined and 50 clients)', { skip: needs('redis-benchmark'), timeout: 120_000 }, async () => {
    try {
      const { port } = await server()
      const tests = ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR', 'LPUSH', 'LPOP', 'MSET']
      const runs = [
        ['-t', 'ping,set,get,incr,lpush,lpop,mset', '-n', '20000', '-P', '16', '-q'],
        ['-t', 'ping,set,get', '-n', '5000', '-c', '50', '-q'],
      ]
      for (const [i, args] of runs.entries()) {
        const out = await run('redis-benchmark', ['-p', String(port), ...args], { timeout: 100_000 })
        const lines = out.split(/[\r\n]+/).filter((l) => /requests per second/.test(l))
        for (const name of i === 0 ? tests : ['PING_INLINE', 'PING_MBULK', 'SET', 'GET']) {
          assert.ok(
            lines.some((l) => l.startsWith(name)),
            `no result for ${name} in:\n${out}`,
          )
        }
        assert.doesNotMatch(out, /error/i)
      }
    } finally {
      await running?.close()
      running = undefined
    }
  })
})
