/** The Redis client's own error codes are API: pinned here, like the library's in errors.test.ts. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  CommandTimeoutError,
  HelloError,
  OfflineTimeoutError,
  REDIS_CLIENT_CODES,
  RedisClientError,
  ReplyError,
  ReplyTooLargeError,
  SubscriberModeError,
  UnsupportedCommandError,
} from '../../examples/redis-client.js'

describe('Redis client errors', () => {
  test('exports exactly the written list of codes', () => {
    assert.deepEqual(
      [...REDIS_CLIENT_CODES],
      [
        'REDIS_CLIENT_ERR_OFFLINE_TIMEOUT',
        'REDIS_CLIENT_ERR_REPLY_TOO_LARGE',
        'REDIS_CLIENT_ERR_SUBSCRIBER_MODE',
        'REDIS_CLIENT_ERR_UNSUPPORTED_COMMAND',
        'REDIS_CLIENT_ERR_HELLO',
        'REDIS_CLIENT_ERR_COMMAND_TIMEOUT',
      ],
    )
  })

  test('gives every class its code, name, message and cause', () => {
    const connect = new Error('connect ECONNREFUSED 127.0.0.1:1')
    const cases: [RedisClientError, string, string, RegExp, unknown][] = [
      [new OfflineTimeoutError(250, connect), 'REDIS_CLIENT_ERR_OFFLINE_TIMEOUT', 'OfflineTimeoutError', /not connected for 250 ms.*ECONNREFUSED/, connect],
      [new ReplyTooLargeError(100), 'REDIS_CLIENT_ERR_REPLY_TOO_LARGE', 'ReplyTooLargeError', /maxReplySize \(100 bytes\)/, undefined],
      [new SubscriberModeError('GET'), 'REDIS_CLIENT_ERR_SUBSCRIBER_MODE', 'SubscriberModeError', /^GET refused.*duplicate\(\)/, undefined],
      [new UnsupportedCommandError('MONITOR', 'no'), 'REDIS_CLIENT_ERR_UNSUPPORTED_COMMAND', 'UnsupportedCommandError', /^MONITOR cannot be sent/, undefined],
    ]
    const noproto = new ReplyError('NOPROTO unsupported protocol version')
    cases.push([new HelloError(noproto), 'REDIS_CLIENT_ERR_HELLO', 'HelloError', /refused HELLO 3.*NOPROTO/, noproto])
    cases.push([new CommandTimeoutError(500), 'REDIS_CLIENT_ERR_COMMAND_TIMEOUT', 'CommandTimeoutError', /no reply within 500 ms.*stays up/, undefined])
    for (const [err, code, name, message, cause] of cases) {
      assert.ok(err instanceof RedisClientError && err instanceof Error)
      assert.equal(err.code, code)
      assert.equal(err.name, name)
      assert.match(err.message, message)
      assert.equal(err.cause, cause)
    }
  })
})
