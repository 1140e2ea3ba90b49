/**
 * The errors of the Redis client, each with a stable `code` (`REDIS_CLIENT_ERR_*`): what a caller
 * handles differently gets its own class. The library's own errors keep their `RS_ERR_*` codes:
 * `ClosedError` (a command in flight when the connection was lost, or issued after `close()`),
 * `LimitReachedError` (the offline queue is full), `InvalidArgumentError` (a bad option).
 */

/** Every code the client's own errors carry. Codes are API: never rename one. */
export const REDIS_CLIENT_CODES = [
  'REDIS_CLIENT_ERR_OFFLINE_TIMEOUT',
  'REDIS_CLIENT_ERR_REPLY_TOO_LARGE',
  'REDIS_CLIENT_ERR_SUBSCRIBER_MODE',
  'REDIS_CLIENT_ERR_UNSUPPORTED_COMMAND',
  'REDIS_CLIENT_ERR_HELLO',
  'REDIS_CLIENT_ERR_COMMAND_TIMEOUT',
] as const

/** One of {@link REDIS_CLIENT_CODES}. */
export type RedisClientErrorCode = (typeof REDIS_CLIENT_CODES)[number]

/** Base class of the client's own errors; `code` tells them apart. */
export class RedisClientError<C extends RedisClientErrorCode = RedisClientErrorCode> extends Error {
  override name = 'RedisClientError'
  readonly code: C
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/**
 * A command waited `offlineTimeout` ms without a connection to write it on; it was never sent.
 * `cause` is the last connection error (`ConnectError` with `ECONNREFUSED`, ...), when there was one.
 */
export class OfflineTimeoutError extends RedisClientError<'REDIS_CLIENT_ERR_OFFLINE_TIMEOUT'> {
  override name = 'OfflineTimeoutError'
  /** The `offlineTimeout` that passed, in ms. */
  readonly timeout: number
  constructor(timeout: number, cause: Error | undefined) {
    const last = cause === undefined ? '' : ` (last error: ${cause.message})`
    super('REDIS_CLIENT_ERR_OFFLINE_TIMEOUT', `not connected for ${timeout} ms: the command was not sent${last}`, { cause })
    this.timeout = timeout
  }
}

/**
 * The reply was larger than `maxReplySize`: its bytes were read and dropped (never buffered
 * whole), the connection stays up, and only this command fails. The command did run.
 */
export class ReplyTooLargeError extends RedisClientError<'REDIS_CLIENT_ERR_REPLY_TOO_LARGE'> {
  override name = 'ReplyTooLargeError'
  /** The `maxReplySize` that was passed, in bytes. */
  readonly limit: number
  constructor(limit: number) {
    super('REDIS_CLIENT_ERR_REPLY_TOO_LARGE', `reply larger than maxReplySize (${limit} bytes); raise the option to read it`)
    this.limit = limit
  }
}

/**
 * RESP2 only: while the client has subscriptions, the server accepts only pub/sub commands on
 * its connection. Use a second client for other commands (`client.duplicate()`), or `protocol: 3`.
 */
export class SubscriberModeError extends RedisClientError<'REDIS_CLIENT_ERR_SUBSCRIBER_MODE'> {
  override name = 'SubscriberModeError'
  constructor(command: string) {
    super(
      'REDIS_CLIENT_ERR_SUBSCRIBER_MODE',
      `${command} refused: a RESP2 connection with subscriptions takes only pub/sub commands; use client.duplicate() for other commands, or protocol: 3`,
    )
  }
}

/**
 * `command()` was given a command that changes how replies flow (SUBSCRIBE, MONITOR, RESET...):
 * pub/sub goes through `subscribe()` and its siblings, the others are not supported.
 */
export class UnsupportedCommandError extends RedisClientError<'REDIS_CLIENT_ERR_UNSUPPORTED_COMMAND'> {
  override name = 'UnsupportedCommandError'
  constructor(command: string, hint: string) {
    super('REDIS_CLIENT_ERR_UNSUPPORTED_COMMAND', `${command} cannot be sent with command(): ${hint}`)
  }
}

/**
 * The server refused `HELLO 3` (`protocol: 3`): it is older than Redis 6 or does not speak RESP3.
 * The connection is closed (commands written with the HELLO fail with a `ClosedError` whose
 * `cause` is this error) and retried like any lost connection. `cause` is the server's reply.
 */
export class HelloError extends RedisClientError<'REDIS_CLIENT_ERR_HELLO'> {
  override name = 'HelloError'
  constructor(cause: Error) {
    super('REDIS_CLIENT_ERR_HELLO', `the server refused HELLO 3 (protocol: 3): ${cause.message}`, { cause })
  }
}

/**
 * No reply came within `commandTimeout` ms (with `onCommandTimeout: 'fail-command'`, the
 * default): this command alone fails; the connection stays up and the reply, if it comes late,
 * is skipped. The command may have run.
 */
export class CommandTimeoutError extends RedisClientError<'REDIS_CLIENT_ERR_COMMAND_TIMEOUT'> {
  override name = 'CommandTimeoutError'
  /** The `commandTimeout` that passed, in ms. */
  readonly timeout: number
  constructor(timeout: number) {
    super('REDIS_CLIENT_ERR_COMMAND_TIMEOUT', `no reply within ${timeout} ms: the command failed, the connection stays up (the command may have run)`)
    this.timeout = timeout
  }
}
