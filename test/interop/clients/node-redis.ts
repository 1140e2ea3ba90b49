/**
 * The differential scenarios through node-redis (npm `redis` 6) at its default options: it opens
 * with `HELLO 3` (RESP3 is its default, `DEFAULT_RESP = 3` in @redis/client) and gives up when
 * the server answers -NOPROTO. See runner.ts for the protocol of this script.
 */
import { createClient, MultiErrorReply, RESP_TYPES, type RedisClientOptions } from 'redis'
import { type Context, Inbox, main, sorted } from './runner.js'

type Client = ReturnType<typeof createClient>

/** A client at node-redis' defaults (plus `extra`), destroyed when the scenario ends. */
async function connect(c: Context, extra: RedisClientOptions = {}): Promise<Client> {
  // No reconnects: a server that refuses the handshake should fail the scenario, not loop.
  const client: Client = createClient({ ...extra, socket: { host: '127.0.0.1', port: c.port, reconnectStrategy: false } })
  client.on('error', () => {}) // reported through the commands' rejections
  c.defer(() => client.destroy())
  await client.connect()
  return client
}

/** A transaction's replies; when some failed, node-redis throws them all in one MultiErrorReply. */
async function exec(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof MultiErrorReply) return { failed: err.errorIndexes, replies: err.replies }
    throw err
  }
}

/** The JavaScript type a reply decoded to: tells a RESP3 map or set from an array. */
function shape(reply: unknown): string {
  return reply instanceof Map ? 'Map' : reply instanceof Set ? 'Set' : Array.isArray(reply) ? 'Array' : reply === null ? 'null' : typeof reply
}

/** A map reply (an object, a Map, or RESP2's flat array) as one object with sorted keys. */
function entries(reply: unknown): Record<string, unknown> {
  const pairs: [string, unknown][] = []
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), reply[i + 1]])
  else if (reply instanceof Map) for (const [k, v] of reply) pairs.push([String(k), v])
  else if (reply !== null && typeof reply === 'object') pairs.push(...Object.entries(reply))
  return Object.fromEntries(pairs.sort(([a], [b]) => (a < b ? -1 : 1)))
}

await main('node-redis', {
  async connect(c) {
    const r = await connect(c)
    await c.op('ping', () => r.ping())
    await c.op('echo', () => r.echo('hello'))
    await c.op('isReady', () => r.isReady)
  },

  async strings(c) {
    const r = await connect(c)
    const k = `${c.prefix}n`
    await c.op('set', () => r.set(k, '9007199254740992'))
    await c.op('incr past 2^53', () => r.incr(k))
    await c.op('get past 2^53', () => r.get(k)) // the exact digits: the number reply loses them
    await c.op('incrby negative', () => r.sendCommand(['INCRBY', k, '-9007199254740993']))
    await c.op('set max', () => r.set(k, '9223372036854775806'))
    await c.op('incr to max', () => r.incr(k))
    await c.op('get max', () => r.get(k))
    await c.op('incr overflow', () => r.incr(k))
    await c.op('decrby min', () => r.sendCommand(['DECRBY', k, '-9223372036854775808']))
    await c.op('set text', () => r.set(`${c.prefix}s`, 'abc'))
    await c.op('incr text', () => r.incr(`${c.prefix}s`))
    await c.op('set nx existing', () => r.set(`${c.prefix}s`, 'x', { condition: 'NX' }))
    await c.op('get', () => r.get(`${c.prefix}s`))
    await c.op('get missing', () => r.get(`${c.prefix}missing`))
  },

  async select(c) {
    const k = `${c.prefix}k`
    const db1 = await connect(c, { database: 1 })
    await c.op('set in db 1', () => db1.set(k, 'one'))
    await c.op('get in db 1', () => db1.get(k))
    const db0 = await connect(c)
    await c.op('get in db 0', () => db0.get(k))
    await c.op('exists in db 0', () => db0.exists(k))
    const again = await connect(c, { database: 1 })
    await c.op('get from a new db 1 client', () => again.get(k))
    await c.op('del in db 1', () => again.del(k))
  },

  async multi(c) {
    const r = await connect(c)
    const k = `${c.prefix}k`
    await c.op('exec', () => exec(() => r.multi().set(k, '1').incr(k).get(k).exec()))
    await c.op('exec with a failing command', () => exec(() => r.multi().set(`${c.prefix}t`, 'x').incr(`${c.prefix}t`).exec()))
    await c.op('queuing error', () =>
      exec(() =>
        r
          .multi()
          .set(`${c.prefix}q`, '1')
          .addCommand(['SET', `${c.prefix}q`])
          .exec(),
      ),
    )
    await c.op('nothing ran after EXECABORT', () => r.get(`${c.prefix}q`))
    await c.op('exec without multi', () => r.sendCommand(['EXEC']))
  },

  async watch(c) {
    // WATCH belongs to one connection: node-redis 6 keeps a client on one, unless it is a pool.
    const a = await connect(c)
    const b = await connect(c)
    const k = `${c.prefix}k`
    await c.op('watch', () => a.watch(k))
    await c.op('concurrent set', () => b.set(k, 'theirs'))
    await c.op('exec after a change', () => exec(() => a.multi().set(k, 'mine').exec()))
    await c.op('value kept', () => a.get(k))
    await c.op('watch again', () => a.watch(k))
    await c.op('exec untouched', () => exec(() => a.multi().set(k, 'mine').exec()))
    await c.op('value set', () => a.get(k))
    await c.op('unwatch', () => a.unwatch())
  },

  async pubsub(c) {
    const sub = await connect(c)
    const pub = await connect(c)
    const channel = `${c.prefix}news`
    const inbox = new Inbox<unknown[]>()
    await c.op('subscribe', () => sub.subscribe(channel, (message, ch) => inbox.push(['message', ch, message])))
    await c.op('psubscribe', () => sub.pSubscribe(`${c.prefix}n*`, (message, ch) => inbox.push(['pmessage', `${c.prefix}n*`, ch, message])))
    await c.op('numsub', () => pub.pubSubNumSub(channel))
    await c.op('publish', () => pub.publish(channel, 'hello'))
    await inbox.until(2, 3000)
    c.record('received', sorted(inbox.items.map((m) => JSON.stringify(m))))
    await c.op('unsubscribe', () => sub.unsubscribe(channel))
    await c.op('punsubscribe', () => sub.pUnsubscribe())
    await c.op('publish to nobody', () => pub.publish(channel, 'again'))
  },

  async scan(c) {
    const r = await connect(c)
    const writer = await connect(c)
    const stable = Array.from({ length: 300 }, (_, i) => `${c.prefix}stable:${i}`)
    const doomed = Array.from({ length: 100 }, (_, i) => `${c.prefix}doomed:${i}`)
    await r.mSet([...stable, ...doomed].map((k): [string, string] => [k, 'v']))
    await r.hSet(`${c.prefix}hash`, 'f', 'v')
    const seen = new Set<string>()
    await c.op('scanIterator under writes', async () => {
      let batch = 0
      for await (const keys of r.scanIterator({ MATCH: `${c.prefix}*`, COUNT: 20 })) {
        for (const key of keys) seen.add(String(key))
        // Between batches the table grows (new keys) and shrinks (doomed keys): a rehash
        // must not make the cursor skip a key present throughout.
        const b = batch++
        const tx = writer.multi().mSet(Array.from({ length: 40 }, (_, i): [string, string] => [`${c.prefix}new:${b}:${i}`, 'v']))
        const gone = doomed.slice(b * 10, b * 10 + 10)
        await (gone.length > 0 ? tx.del(gone) : tx).exec()
      }
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
    await c.op('scanIterator TYPE hash', async () => {
      const hashes = new Set<string>()
      for await (const keys of r.scanIterator({ MATCH: `${c.prefix}*`, TYPE: 'hash', COUNT: 100 })) for (const key of keys) hashes.add(String(key))
      return sorted([...hashes])
    })
  },

  async hashes(c) {
    const r = await connect(c)
    const k = `${c.prefix}h`
    await c.op('hset', () => r.hSet(k, { a: '1', b: '2', c: '3' }))
    await c.op('hset existing', () => r.hSet(k, 'a', '10'))
    await c.op('hget', () => r.hGet(k, 'a'))
    await c.op('hmget', () => r.hmGet(k, ['a', 'nope', 'c']))
    await c.op('hgetall', async () => entries(await r.hGetAll(k)))
    await c.op('hincrby', () => r.hIncrBy(k, 'b', 40))
    await c.op('hincrby text', () => r.hSet(k, 't', 'x').then(() => r.hIncrBy(k, 't', 1)))
    await c.op('hexists', () => r.hExists(k, 'b'))
    await c.op('hdel', () => r.hDel(k, ['c', 'nope']))
    await c.op('hlen', () => r.hLen(k))
    await c.op('hkeys', async () => sorted(await r.hKeys(k)))
    await c.op('hvals', async () => sorted(await r.hVals(k)))
    await c.op('hget on a string', () => r.set(`${c.prefix}s`, 'x').then(() => r.hGet(`${c.prefix}s`, 'a')))
    await c.op('hgetall missing', async () => entries(await r.hGetAll(`${c.prefix}none`)))
  },

  async sets(c) {
    const r = await connect(c)
    const [a, b] = [`${c.prefix}a`, `${c.prefix}b`]
    await c.op('sadd', () => r.sAdd(a, ['x', 'y', 'z']))
    await c.op('sadd again', () => r.sAdd(a, ['x', 'w']))
    await c.op('sadd b', () => r.sAdd(b, ['y', 'q']))
    await c.op('smembers', async () => sorted(await r.sMembers(a)))
    await c.op('sismember', () => r.sIsMember(a, 'y'))
    await c.op('sismember no', () => r.sIsMember(a, 'nope'))
    await c.op('scard', () => r.sCard(a))
    await c.op('srem', () => r.sRem(a, ['w', 'nope']))
    await c.op('sinter', async () => sorted(await r.sInter([a, b])))
    await c.op('sunion', async () => sorted(await r.sUnion([a, b])))
    await c.op('sdiff', async () => sorted(await r.sDiff([a, b])))
    await c.op('spop is a member', async () => ['x', 'y', 'z'].includes(String(await r.sPop(a))))
    await c.op('scard after spop', () => r.sCard(a))
    await c.op('sadd on a string', () => r.set(`${c.prefix}s`, 'x').then(() => r.sAdd(`${c.prefix}s`, 'a')))
  },

  async resp3(c) {
    // The connection already runs RESP3 (node-redis' default HELLO 3); these replies are RESP3 types.
    const r = await connect(c)
    await c.op('hello 3', async () => {
      const hello = entries(await r.sendCommand(['HELLO', '3']))
      // server, version and id are the server's own; the rest must be Redis' shape
      return { keys: Object.keys(hello), proto: hello.proto, mode: hello.mode, role: hello.role }
    })
    await c.op('hset', () => r.hSet(`${c.prefix}h`, 'f', 'v'))
    await c.op('hgetall (map)', async () => entries(await r.hGetAll(`${c.prefix}h`)))
    await c.op('smembers (set)', () => r.sAdd(`${c.prefix}s`, 'm').then(() => r.sMembers(`${c.prefix}s`)))
    await c.op('get missing (null)', () => r.get(`${c.prefix}missing`))
    await c.op('incrbyfloat', () => r.incrByFloat(`${c.prefix}f`, 1.5))
    await c.op('hello 4', () => r.sendCommand(['HELLO', '4']))
    // The wire types themselves: with these mappings a RESP3 map and set decode to Map and Set,
    // where a RESP2-shaped reply (a flat array) would stay an Array.
    const typed = r.withTypeMapping({ [RESP_TYPES.MAP]: Map, [RESP_TYPES.SET]: Set })
    await c.op('HGETALL wire type', async () => shape(await typed.sendCommand(['HGETALL', `${c.prefix}h`])))
    await c.op('SMEMBERS wire type', async () => shape(await typed.sendCommand(['SMEMBERS', `${c.prefix}s`])))
    await c.op('HELLO wire type', async () => shape(await typed.sendCommand(['HELLO', '3'])))
  },

  async clientname(c) {
    const r = await connect(c)
    await c.op('getname unset', () => r.clientGetName())
    await c.op('setname', () => r.clientSetName('differential'))
    await c.op('getname', () => r.clientGetName())
    await c.op('setname with a space', () => r.clientSetName('two words'))
    await c.op('id is an integer', async () => Number.isInteger(await r.clientId()))
    await c.op('unknown subcommand', () => r.sendCommand(['CLIENT', 'NOSUCH']))
  },
})
