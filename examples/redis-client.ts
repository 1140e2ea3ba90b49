/**
 * A Redis (RESP2) client on a `Persistent` connection: promise-returning commands, automatic
 * pipelining, replies matched in order, reconnection with a bounded offline queue.
 *
 *     const redis = new RedisClient({ host: '127.0.0.1', port: 6379 })
 *     await redis.command('SET', 'greeting', 'hello')
 *     console.log(await redis.command('GET', 'greeting')) // 'hello'
 *     await redis.close()
 *
 * How it works: `command()` queues the command and wakes the protocol (`Persistent.wakeup()`).
 * Wakeups coalesce into one per microtask, so every command issued in the same tick is encoded
 * in one round and goes out in one socket write. The protocol keeps the commands it wrote, in
 * order, and settles the oldest each time a complete reply has been parsed. All complete replies
 * of a read are parsed over one view and consumed at once; a partial one keeps its parse state,
 * so a reply split over many reads is never parsed twice.
 *
 * Failures: while disconnected, commands wait in the queue (at most `maxOfflineQueue`) and go
 * out after the reconnect. Commands already written when the connection drops are rejected with
 * a `ClosedError` — they may or may not have run, so they are never silently sent again.
 *
 * The modules, one concern each: redis-client/client.ts (the `RedisClient`), queue.ts (commands
 * in flight and waiting), connection.ts (the protocol of one connection), parser.ts (replies),
 * encoder.ts (commands to bytes).
 */
export { RedisClient, type RedisClientOptions } from './redis-client/client.js'
export { type RedisReply, ReplyError } from './redis-client/parser.js'
