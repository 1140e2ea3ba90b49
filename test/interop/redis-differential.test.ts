/**
 * The differential test of the RESP demo (issue 15): the clients people use, at their DEFAULT
 * options — ioredis, node-redis (npm `redis` 6, RESP3 by default) and redis-py (Debian's
 * python3-redis 4.3, RESP2 only) — and redis-cli's `-n`, `--scan` and `--bigkeys`, each run the
 * same script against the real redis-server and against examples/redis-server.ts, and the
 * results must be identical.
 *
 * Each client runs as a child process (test/interop/clients/) that prints one normalised JSON of
 * every operation's result per scenario; each client × scenario is its own test, so a failure
 * names exactly what differs. The last test of each client prints how many operations match.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { type RunningServer, startRedisServer } from '../../examples/redis-server.js'
import { freePort } from '../helpers/net.js'
import { needs, needsPythonModule, run, SYSTEM_PYTHON } from '../helpers/peers.js'
import { type RealRedis, startRealRedis } from '../helpers/redis.js'
import type { Json, ScenarioResult } from './clients/runner.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const clients = path.join(here, 'clients')
/** How a Node client script is started: through tsx, as the tests themselves run. */
const NODE_SCRIPT = [...process.execArgv.filter((a) => a.startsWith('--conditions')), '--import', 'tsx']
/** A whole script run, all scenarios, against one server (each scenario is bounded at 6 s). */
const SCRIPT_TIMEOUT = 120_000

type Results = Record<string, ScenarioResult>

interface Client {
  /** Test options of every test of this client (skips when a peer is missing). */
  readonly peer: { skip?: string }
  readonly scenarios: readonly string[]
  /** Runs every scenario against 127.0.0.1:`port`. */
  run(port: number): Promise<Results>
}

/** A client script that prints Results as JSON on stdout. */
function script(command: string, args: string[]): (port: number) => Promise<Results> {
  return async (port) => JSON.parse(await run(command, [...args, String(port)], { timeout: SCRIPT_TIMEOUT })) as Results
}

const NODE_SCENARIOS = ['connect', 'strings', 'select', 'multi', 'watch', 'pubsub', 'scan', 'hashes', 'sets', 'resp3', 'clientname'] as const

const CLIENTS: Record<string, Client> = {
  ioredis: {
    peer: {},
    scenarios: NODE_SCENARIOS,
    run: script(process.execPath, [...NODE_SCRIPT, path.join(clients, 'ioredis.ts')]),
  },
  'node-redis': {
    peer: {},
    scenarios: NODE_SCENARIOS,
    run: script(process.execPath, [...NODE_SCRIPT, path.join(clients, 'node-redis.ts')]),
  },
  // redis-py 4.3 has no RESP3 (it came in 5.0): no resp3 scenario.
  'redis-py': {
    peer: needsPythonModule('redis'),
    scenarios: NODE_SCENARIOS.filter((s) => s !== 'resp3'),
    run: script(SYSTEM_PYTHON, [path.join(clients, 'redis_py.py')]),
  },
  'redis-cli': {
    peer: needs('redis-cli'),
    scenarios: ['-n 1', '--scan', '--bigkeys', '-3'],
    run: runRedisCli,
  },
}

/** redis-cli's output, or what it printed when it failed. */
async function cli(port: number, args: string[], input?: string): Promise<Json> {
  try {
    return await run('redis-cli', ['-p', String(port), ...args], { timeout: 20_000, input })
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string }
    return { error: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

/** The redis-cli scenarios, run from here: each records its commands' outputs like a script does. */
async function runRedisCli(port: number): Promise<Results> {
  const out: Results = {}
  const scenario = async (name: string, body: (ops: Record<string, Json>) => Promise<void>) => {
    const ops: Record<string, Json> = {}
    await body(ops)
    out[name] = { ops }
  }
  await scenario('-n 1', async (ops) => {
    ops['set in db 1'] = await cli(port, ['-n', '1', 'SET', 'cli:k', 'one'])
    ops['get in db 1'] = await cli(port, ['-n', '1', 'GET', 'cli:k'])
    ops['get in db 0'] = await cli(port, ['-n', '0', 'GET', 'cli:k'])
    ops['piped into db 1'] = await cli(port, ['-n', '1'], 'INCR cli:n\nINCR cli:n\nGET cli:k\n')
    ops['del in db 1'] = await cli(port, ['-n', '1', 'DEL', 'cli:k', 'cli:n'])
  })
  await scenario('--scan', async (ops) => {
    await cli(port, ['FLUSHALL'])
    const keys = Array.from({ length: 120 }, (_, i) => `cli:scan:${i}`)
    await cli(port, ['MSET', ...keys.flatMap((k) => [k, 'v']), 'other', 'v'])
    ops['--scan --pattern'] = sortedLines(await cli(port, ['--scan', '--pattern', 'cli:scan:*']))
    ops['--scan'] = sortedLines(await cli(port, ['--scan']))
    ops['--scan --count'] = sortedLines(await cli(port, ['--scan', '--count', '7', '--pattern', 'cli:scan:1*']))
  })
  await scenario('--bigkeys', async (ops) => {
    await cli(port, ['FLUSHALL'])
    await cli(port, ['MSET', 'one', 'x', 'two', 'xx', 'three', 'xxx'])
    await cli(port, ['RPUSH', 'list', 'a', 'b', 'c'])
    await cli(port, ['HSET', 'hash', 'a', '1', 'b', '2'])
    await cli(port, ['SADD', 'set', 'a'])
    const output = await cli(port, ['--bigkeys'])
    // The progress lines follow SCAN's order; the summary after its marker does not.
    const summary = typeof output === 'string' ? output.slice(output.indexOf('-------- summary -------')) : output
    ops['--bigkeys summary'] = sortedLines(summary)
  })
  await scenario('-3', async (ops) => {
    // redis-cli -3 opens with HELLO 3 and, with --no-raw, prints each RESP3 type its own way:
    // `1#` a map entry, `1~` a set member, (nil) a null.
    const resp3 = (...args: string[]) => cli(port, ['-3', '--no-raw', ...args])
    await cli(port, ['HSET', 'cli:h', 'f', 'v'])
    await cli(port, ['SADD', 'cli:s', 'm'])
    ops['HGETALL (map)'] = await resp3('HGETALL', 'cli:h')
    ops['SMEMBERS (set)'] = await resp3('SMEMBERS', 'cli:s')
    ops['GET missing (null)'] = await resp3('GET', 'cli:missing')
    ops['SISMEMBER (integer)'] = await resp3('SISMEMBER', 'cli:s', 'm')
    // The server's own name, version and connection id are masked; the rest is Redis' HELLO map.
    const hello = await resp3('HELLO', '3')
    ops['HELLO 3'] = typeof hello === 'string' ? hello.replace(/"(server|version|id)" => .*/g, '"$1" => *') : hello
  })
  return out
}

/** A command's output lines, sorted (for output whose order follows SCAN's). */
function sortedLines(output: Json): Json {
  return typeof output === 'string'
    ? output
        .split('\n')
        .filter((l) => l !== '')
        .sort()
    : output
}

/** Operations of `scenario` whose result against the demo equals the real server's. */
function matching(real: ScenarioResult | undefined, demo: ScenarioResult | undefined): { matched: number; total: number } {
  const labels = Object.keys(real?.ops ?? {})
  const matched = labels.filter((label) => demo?.ops !== undefined && label in demo.ops && isDeepStrictEqual(demo.ops[label], real?.ops[label])).length
  return { matched, total: labels.length }
}

describe('client scripts give the same results against redis-server and the demo', { ...needs('redis-server') }, () => {
  let demo: RunningServer
  let real: RealRedis
  before(async () => {
    demo = await startRedisServer({ port: 0 })
    real = await startRealRedis(await freePort())
  })
  after(async () => {
    await demo?.close()
    await real?.stop()
  })

  for (const [name, client] of Object.entries(CLIENTS)) {
    describe(name, () => {
      // Both servers run the script at once (they share nothing); the clients run one after the
      // other, as the tests of this file do.
      let results: Promise<{ real: Results; demo: Results }> | undefined
      const both = () => {
        results ??= Promise.all([client.run(real.port), client.run(demo.port)]).then(([r, d]) => ({ real: r, demo: d }))
        return results
      }

      for (const scenario of client.scenarios) {
        test(`${scenario} gives the same results`, { ...client.peer, timeout: SCRIPT_TIMEOUT + 30_000 }, async () => {
          const r = await both()
          assert.equal(r.real[scenario]?.failure, undefined, `the script fails against redis-server itself: ${JSON.stringify(r.real[scenario])}`)
          assert.deepEqual(r.demo[scenario], r.real[scenario])
        })
      }

      test('reports how many operations match redis-server', { ...client.peer, timeout: SCRIPT_TIMEOUT + 30_000 }, async (t) => {
        const r = await both()
        let matched = 0
        let total = 0
        const per: string[] = []
        for (const scenario of client.scenarios) {
          const m = matching(r.real[scenario], r.demo[scenario])
          matched += m.matched
          total += m.total
          per.push(`${scenario} ${m.matched}/${m.total}`)
        }
        t.diagnostic(`${name}: ${matched}/${total} operations match redis-server (${per.join(', ')})`)
      })
    })
  }
})
