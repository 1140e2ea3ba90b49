/**
 * The RESP demo server against software nobody here wrote: the real redis-cli and
 * redis-benchmark (Debian's redis-tools / redis-server packages).
 */
import assert from 'node:assert/strict'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type RunningServer, startRedisServer } from '../../examples/redis-server.js'
import { needs, run } from '../helpers/peers.js'

const unixPath = path.join(os.tmpdir(), `rotor-redis-${process.pid}.sock`)

describe('examples/redis-server.ts with real Redis tools', () => {
  let server: RunningServer
  before(async () => {
    server = await startRedisServer({ port: 0, unix: unixPath })
  })
  after(async () => {
    await server.close()
  })

  const cli = (...args: string[]) => run('redis-cli', ['-p', String(server.port), ...args], { timeout: 10_000 })

  test('redis-cli runs a session of commands', { ...needs('redis-cli'), timeout: 30_000 }, async () => {
    assert.equal(await cli('PING'), 'PONG\n')
    assert.equal(await cli('SET', 'greeting', 'hello world'), 'OK\n')
    assert.equal(await cli('GET', 'greeting'), 'hello world\n')
    assert.equal(await cli('SET', 'greeting', 'x', 'NX'), '\n') // nil prints as an empty line when not a tty
    assert.equal(await cli('INCR', 'visits'), '1\n')
    assert.equal(await cli('INCRBY', 'visits', '41'), '42\n')
    assert.equal(await cli('RPUSH', 'queue', 'a', 'b', 'c'), '3\n')
    assert.equal(await cli('LRANGE', 'queue', '0', '-1'), 'a\nb\nc\n')
    assert.equal(await cli('LPOP', 'queue'), 'a\n')
    assert.equal(await cli('MSET', 'k1', 'v1', 'k2', 'v2'), 'OK\n')
    assert.equal(await cli('MGET', 'k1', 'k2', 'missing'), 'v1\nv2\n\n')
    assert.equal(await cli('EXPIRE', 'k1', '100'), '1\n')
    assert.equal(await cli('TTL', 'k1'), '100\n')
    assert.equal(await cli('EXISTS', 'k1', 'k2', 'missing'), '2\n')
    assert.equal(await cli('DEL', 'k1'), '1\n')
    assert.match(await cli('NOSUCHCOMMAND', 'x'), /ERR unknown command 'NOSUCHCOMMAND'/)
    assert.equal(await cli('DBSIZE'), '4\n')
    assert.equal(await cli('FLUSHALL'), 'OK\n')
    assert.equal(await cli('DBSIZE'), '0\n')
  })

  test('redis-cli works over the Unix socket and pipes a script of commands', { ...needs('redis-cli'), timeout: 30_000 }, async () => {
    const out = await run('redis-cli', ['-s', unixPath], { input: 'SET a 1\nINCR a\nGET a\n', timeout: 10_000 })
    assert.equal(out, 'OK\n2\n2\n')
  })

  test('redis-benchmark finishes every test with no errors', { ...needs('redis-benchmark'), timeout: 120_000 }, async () => {
    const out = await run('redis-benchmark', ['-p', String(server.port), '-t', 'ping,set,get,incr,lpush,lpop,mset', '-n', '20000', '-P', '16', '-q'], {
      timeout: 110_000,
    })
    // -q prints one line per test: "NAME: <rate> requests per second, p50=..."; errors abort or print "Error".
    const lines = out.split(/[\r\n]+/).filter((l) => /requests per second/.test(l))
    for (const name of ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR', 'LPUSH', 'LPOP', 'MSET']) {
      assert.ok(
        lines.some((l) => l.startsWith(`${name}`)),
        `no result for ${name} in:\n${out}`,
      )
    }
    assert.doesNotMatch(out, /error/i)
  })
})
