/**
 * A Redis client on a `Persistent` connection: promise-returning commands, automatic
 * pipelining, replies matched in order, pub/sub that survives reconnects, RESP2 or RESP3,
 * reconnection with a bounded offline queue.
 *
 *     const redis = new RedisClient({ host: '127.0.0.1', port: 6379 })
 *     await redis.command('SET', 'greeting', 'hello')
 *     console.log(await redis.command('GET', 'greeting')) // 'hello'
 *     await redis.close()
 *
 *     const events = new RedisClient({ host: '127.0.0.1', port: 6379 }, { protocol: 3 })
 *     await events.subscribe('news', (message, channel) => console.log(channel, message))
 *     await events.command('PUBLISH', 'news', 'hi') // RESP3: commands and messages share the connection
 *
 * How it works: `command()` queues the command and wakes the protocol (`Persistent.wakeup()`).
 * Wakeups coalesce into one per microtask, so every command issued in the same tick is encoded
 * in one round and goes out in one socket write. The protocol keeps the commands it wrote, in
 * order, and settles the oldest each time a complete reply has been parsed. All complete replies
 * of a read are parsed over one view and consumed at once; a partial one keeps its parse state,
 * so a reply split over many reads is never parsed twice.
 *
 * Pub/sub: the client keeps the listeners; each new connection first subscribes again to every
 * channel and pattern that has one. With RESP3, messages arrive as push frames between replies;
 * with RESP2 the server takes only pub/sub commands on a subscribed connection, so `command()`
 * is refused (`SubscriberModeError`) while subscriptions are held: use `duplicate()`.
 *
 * Failures: while disconnected, commands wait in the queue (at most `maxOfflineQueue`, for at
 * most `offlineTimeout` ms, then `OfflineTimeoutError`) and go out after the reconnect. Commands
 * already written when the connection drops are rejected with a `ClosedError` — they may or may
 * not have run, so they are never silently sent again. A reply over `maxReplySize` fails its
 * command alone (`ReplyTooLargeError`). A command without a reply within `commandTimeout` fails
 * alone too (`CommandTimeoutError`): the protocol keeps the deadline of every command in flight
 * in a `RequestDeadlines` (rotor-stream's deadline queue on the stream's one timer) and skips the
 * late reply when it comes; only a server that stops answering altogether (no reply for another
 * `commandTimeout`) costs the connection. `onCommandTimeout: 'reconnect'` restores the old way:
 * any timeout fails the connection and every command in flight. Every client error has a stable `code`.
 *
 * The modules, one concern each: redis-client/client.ts (the `RedisClient`), queue.ts (commands
 * in flight and waiting), connection.ts (the protocol of one connection), parser.ts (replies),
 * encoder.ts (commands to bytes), pubsub.ts (subscriptions and messages), errors.ts.
 */
export { DEFAULT_MAX_REPLY_SIZE, DEFAULT_OFFLINE_TIMEOUT, RedisClient, type RedisClientOptions } from './redis-client/client.js'
export {
  CommandTimeoutError,
  HelloError,
  OfflineTimeoutError,
  REDIS_CLIENT_CODES,
  RedisClientError,
  type RedisClientErrorCode,
  ReplyTooLargeError,
  SubscriberModeError,
  UnsupportedCommandError,
} from './redis-client/errors.js'
export { type RedisReply, ReplyError, type ReplyItem } from './redis-client/parser.js'
export type { MessageListener, PatternListener, RedisMessage } from './redis-client/pubsub.js'
