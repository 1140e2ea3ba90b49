/**
 * The differential scenarios through ioredis at its default options (v6: it opens with
 * `HELLO 3` and falls back to RESP2 on -NOPROTO). See runner.ts for the protocol of this script.
 */
import { Redis, type RedisOptions } from 'ioredis'
import { type Context, Inbox, main, sorted } from './runner.js'

/** A client at ioredis' defaults (plus `extra`), closed when the scenario ends. */
async function connect(c: Context, extra: RedisOptions = {}): Promise<Redis> {
  // No retries: a server that refuses the handshake should fail the scenario, not loop.
  const client = new Redis({ port: c.port, host: '127.0.0.1', ...extra, lazyConnect: true })
  client.on('error', () => {}) // reported through the commands' rejections
  c.defer(() => client.disconnect())
  await client.connect()
  return client
}

/** Pairs of a flat [k, v, k, v] reply (RESP2's map) or a map reply as one object with sorted keys. */
function entries(reply: unknown): Record<string, unknown> {
  const pairs: [string, unknown][] = []
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), reply[i + 1]])
  else if (reply instanceof Map) for (const [k, v] of reply) pairs.push([String(k), v])
  else if (reply !== null && typeof reply === 'object') pairs.push(...Object.entries(reply))
  return Object.fromEntries(pairs.sort(([a], [b]) => (a < b ? -1 : 1)))
}

await main('ioredis', {
  async connect(c) {
    const r = await connect(c)
    await c.op('ping', () => r.ping())
    await c.op('echo', () => r.echo('hello'))
    await c.op('status', () => r.status)
  },

  async strings(c) {
    const r = await connect(c)
    const k = `${c.prefix}n`
    await c.op('set', () => r.set(k, '9007199254740992'))
    await c.op('incr past 2^53', () => r.incr(k))
    await c.op('get past 2^53', () => r.get(k)) // the exact digits: ioredis' number loses them
    await c.op('incrby negative', () => r.incrby(k, '-9007199254740993'))
    await c.op('set max', () => r.set(k, '9223372036854775806'))
    await c.op('incr to max', () => r.incr(k))
    await c.op('get max', () => r.get(k))
    await c.op('incr overflow', () => r.incr(k))
    await c.op('decrby min', () => r.call('DECRBY', k, '-9223372036854775808'))
    await c.op('set text', () => r.set(`${c.prefix}s`, 'abc'))
    await c.op('incr text', () => r.incr(`${c.prefix}s`))
    await c.op('set nx existing', () => r.set(`${c.prefix}s`, 'x', 'NX'))
    await c.op('get', () => r.get(`${c.prefix}s`))
    await c.op('get missing', () => r.get(`${c.prefix}missing`))
  },

  async select(c) {
    const k = `${c.prefix}k`
    const db1 = await connect(c, { db: 1 })
    await c.op('set in db 1', () => db1.set(k, 'one'))
    await c.op('get in db 1', () => db1.get(k))
    const db0 = await connect(c)
    await c.op('get in db 0', () => db0.get(k))
    await c.op('exists in db 0', () => db0.exists(k))
    const again = await connect(c, { db: 1 })
    await c.op('get from a new db 1 client', () => again.get(k))
    await c.op('del in db 1', () => again.del(k))
  },

  async multi(c) {
    const r = await connect(c)
    const k = `${c.prefix}k`
    await c.op('exec', () => r.multi().set(k, '1').incr(k).get(k).exec())
    await c.op('exec with a failing command', () => r.multi().set(`${c.prefix}t`, 'x').incr(`${c.prefix}t`).exec())
    await c.op('queuing error', () => r.multi().set(`${c.prefix}q`, '1').call('SET', `${c.prefix}q`).exec())
    await c.op('nothing ran after EXECABORT', () => r.get(`${c.prefix}q`))
    await c.op('exec without multi', () => r.exec())
  },

  async watch(c) {
    const a = await connect(c)
    const b = await connect(c)
    const k = `${c.prefix}k`
    await c.op('watch', () => a.watch(k))
    await c.op('concurrent set', () => b.set(k, 'theirs'))
    await c.op('exec after a change', () => a.multi().set(k, 'mine').exec())
    await c.op('value kept', () => a.get(k))
    await c.op('watch again', () => a.watch(k))
    await c.op('exec untouched', () => a.multi().set(k, 'mine').exec())
    await c.op('value set', () => a.get(k))
    await c.op('unwatch', () => a.unwatch())
  },

  async pubsub(c) {
    const sub = await connect(c)
    const pub = await connect(c)
    const channel = `${c.prefix}news`
    const inbox = new Inbox<unknown[]>()
    sub.on('message', (ch: string, message: string) => inbox.push(['message', ch, message]))
    sub.on('pmessage', (pattern: string, ch: string, message: string) => inbox.push(['pmessage', pattern, ch, message]))
    await c.op('subscribe', () => sub.subscribe(channel))
    await c.op('psubscribe', () => sub.psubscribe(`${c.prefix}n*`))
    await c.op('numsub', () => pub.pubsub('NUMSUB', channel))
    await c.op('publish', () => pub.publish(channel, 'hello'))
    await inbox.until(2, 3000)
    c.record('received', sorted(inbox.items.map((m) => JSON.stringify(m))))
    await c.op('unsubscribe', () => sub.unsubscribe(channel))
    await c.op('punsubscribe', () => sub.punsubscribe())
    await c.op('publish to nobody', () => pub.publish(channel, 'again'))
  },

  async scan(c) {
    const r = await connect(c)
    const writer = await connect(c)
    const stable = Array.from({ length: 300 }, (_, i) => `${c.prefix}stable:${i}`)
    const doomed = Array.from({ length: 100 }, (_, i) => `${c.prefix}doomed:${i}`)
    await r.mset(...stable.flatMap((k) => [k, 'v']), ...doomed.flatMap((k) => [k, 'v']))
    await r.hset(`${c.prefix}hash`, 'f', 'v')
    const seen = new Set<string>()
    let batch = 0
    await c.op('scanStream under writes', async () => {
      const stream = r.scanStream({ match: `${c.prefix}*`, count: 20 })
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (keys: string[]) => {
          for (const key of keys) seen.add(key)
          // Between batches the table grows (new keys) and shrinks (doomed keys): a rehash
          // must not make the cursor skip a key present throughout.
          stream.pause()
          const b = batch++
          const adds = Array.from({ length: 40 }, (_, i) => [`${c.prefix}new:${b}:${i}`, 'v']).flat()
          const gone = doomed.slice(b * 10, b * 10 + 10)
          const tx = writer.multi().mset(...adds)
          if (gone.length > 0) tx.del(...gone)
          tx.exec().then(() => stream.resume(), reject)
        })
        stream.on('end', resolve)
        stream.on('error', reject)
      })
      return 'done'
    })
    c.record(
      'stable keys missed',
      stable.filter((k) => !seen.has(k)),
    )
    c.record('hash seen', seen.has(`${c.prefix}hash`))
    c.record(
      'every key seen matches',
      [...seen].every((k) => k.startsWith(c.prefix)),
    )
    const hashes: string[] = []
    await c.op('scanStream TYPE hash', async () => {
      const stream = r.scanStream({ match: `${c.prefix}*`, type: 'hash', count: 100 })
      for await (const keys of stream) hashes.push(...(keys as string[]))
      return sorted([...new Set(hashes)])
    })
  },

  async hashes(c) {
    const r = await connect(c)
    const k = `${c.prefix}h`
    await c.op('hset', () => r.hset(k, 'a', '1', 'b', '2', 'c', '3'))
    await c.op('hset existing', () => r.hset(k, 'a', '10'))
    await c.op('hget', () => r.hget(k, 'a'))
    await c.op('hmget', () => r.hmget(k, 'a', 'nope', 'c'))
    await c.op('hgetall', async () => entries(await r.hgetall(k)))
    await c.op('hincrby', () => r.hincrby(k, 'b', 40))
    await c.op('hincrby text', () => r.hset(k, 't', 'x').then(() => r.hincrby(k, 't', 1)))
    await c.op('hexists', () => r.hexists(k, 'b'))
    await c.op('hdel', () => r.hdel(k, 'c', 'nope'))
    await c.op('hlen', () => r.hlen(k))
    await c.op('hkeys', async () => sorted(await r.hkeys(k)))
    await c.op('hvals', async () => sorted(await r.hvals(k)))
    await c.op('hget on a string', () => r.set(`${c.prefix}s`, 'x').then(() => r.hget(`${c.prefix}s`, 'a')))
    await c.op('hgetall missing', async () => entries(await r.hgetall(`${c.prefix}none`)))
  },

  async sets(c) {
    const r = await connect(c)
    const [a, b] = [`${c.prefix}a`, `${c.prefix}b`]
    await c.op('sadd', () => r.sadd(a, 'x', 'y', 'z'))
    await c.op('sadd again', () => r.sadd(a, 'x', 'w'))
    await c.op('sadd b', () => r.sadd(b, 'y', 'q'))
    await c.op('smembers', async () => sorted(await r.smembers(a)))
    await c.op('sismember', () => r.sismember(a, 'y'))
    await c.op('sismember no', () => r.sismember(a, 'nope'))
    await c.op('scard', () => r.scard(a))
    await c.op('srem', () => r.srem(a, 'w', 'nope'))
    await c.op('sinter', async () => sorted(await r.sinter(a, b)))
    await c.op('sunion', async () => sorted(await r.sunion(a, b)))
    await c.op('sdiff', async () => sorted(await r.sdiff(a, b)))
    await c.op('spop is a member', async () => ['x', 'y', 'z'].includes(String(await r.spop(a))))
    await c.op('scard after spop', () => r.scard(a))
    await c.op('sadd on a string', () => r.set(`${c.prefix}s`, 'x').then(() => r.sadd(`${c.prefix}s`, 'a')))
  },

  async resp3(c) {
    const r = await connect(c)
    await c.op('hello 3', async () => {
      const hello = entries(await r.call('HELLO', '3'))
      // server, version and id are the server's own; the rest must be Redis' shape
      return { keys: Object.keys(hello), proto: hello.proto, mode: hello.mode, role: hello.role }
    })
    await c.op('hset', () => r.hset(`${c.prefix}h`, 'f', 'v'))
    await c.op('hgetall (map)', async () => entries(await r.hgetall(`${c.prefix}h`)))
    await c.op('smembers (set)', () => r.sadd(`${c.prefix}s`, 'm').then(() => r.smembers(`${c.prefix}s`)))
    await c.op('get missing (null)', () => r.get(`${c.prefix}missing`))
    await c.op('incrbyfloat', () => r.incrbyfloat(`${c.prefix}f`, '1.5'))
    await c.op('hello 2', async () => entries(await r.call('HELLO', '2')).proto)
    await c.op('hello 4', () => r.call('HELLO', '4'))
  },

  async clientname(c) {
    const r = await connect(c)
    await c.op('getname unset', () => r.client('GETNAME'))
    await c.op('setname', () => r.client('SETNAME', 'differential'))
    await c.op('getname', () => r.client('GETNAME'))
    await c.op('setname with a space', () => r.client('SETNAME', 'two words'))
    await c.op('id is an integer', async () => Number.isInteger(await r.client('ID')))
    await c.op('unknown subcommand', () => r.call('CLIENT', 'NOSUCH'))
  },
})
