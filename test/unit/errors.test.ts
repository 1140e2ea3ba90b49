import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  ClosedError,
  ConnectError,
  codes,
  EndOfStreamError,
  HandlerError,
  InvalidArgumentError,
  LimitReachedError,
  ListenError,
  PoolUnavailableError,
  ProtocolError,
  ProxyProtocolError,
  ReadError,
  RotorStreamError,
  TimeoutError,
  TlsUpgradeError,
  TooSlowError,
  UnsupportedError,
  WriteError,
} from 'rotor-stream'

/** Codes are API: this list only ever grows, and a rename fails here first. */
const EXPECTED_CODES = [
  'RS_ERR_END_OF_STREAM',
  'RS_ERR_LIMIT_REACHED',
  'RS_ERR_READ',
  'RS_ERR_WRITE',
  'RS_ERR_CONNECT',
  'RS_ERR_TIMEOUT',
  'RS_ERR_HANDLER',
  'RS_ERR_PROTOCOL',
  'RS_ERR_INVALID_ARG',
  'RS_ERR_CLOSED',
  'RS_ERR_TOO_SLOW',
  'RS_ERR_LISTEN',
  'RS_ERR_UNSUPPORTED',
  'RS_ERR_TLS_UPGRADE',
  'RS_ERR_PROXY_PROTOCOL',
  'RS_ERR_POOL_UNAVAILABLE',
]

const econnreset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })

/** One instance of every error class, with the code and name it must carry. */
const CASES: readonly { error: RotorStreamError; code: string; name: string }[] = [
  { error: new EndOfStreamError(), code: 'RS_ERR_END_OF_STREAM', name: 'EndOfStreamError' },
  { error: new LimitReachedError(10), code: 'RS_ERR_LIMIT_REACHED', name: 'LimitReachedError' },
  { error: new ReadError(econnreset), code: 'RS_ERR_READ', name: 'ReadError' },
  { error: new WriteError(econnreset), code: 'RS_ERR_WRITE', name: 'WriteError' },
  { error: new ConnectError('refused', { cause: econnreset }), code: 'RS_ERR_CONNECT', name: 'ConnectError' },
  { error: new TimeoutError(), code: 'RS_ERR_TIMEOUT', name: 'TimeoutError' },
  { error: new HandlerError('bytesRead', new Error('boom')), code: 'RS_ERR_HANDLER', name: 'HandlerError' },
  { error: new ProtocolError('bad frame'), code: 'RS_ERR_PROTOCOL', name: 'ProtocolError' },
  { error: new InvalidArgumentError('bad option'), code: 'RS_ERR_INVALID_ARG', name: 'InvalidArgumentError' },
  { error: new ClosedError(), code: 'RS_ERR_CLOSED', name: 'ClosedError' },
  { error: new TooSlowError(3, 10, 1000), code: 'RS_ERR_TOO_SLOW', name: 'TooSlowError' },
  { error: new ListenError('127.0.0.1:80', 'cannot listen', { cause: econnreset }), code: 'RS_ERR_LISTEN', name: 'ListenError' },
  { error: new UnsupportedError('not here'), code: 'RS_ERR_UNSUPPORTED', name: 'UnsupportedError' },
  { error: new TlsUpgradeError('handshake', 'TLS handshake failed', { cause: econnreset }), code: 'RS_ERR_TLS_UPGRADE', name: 'TlsUpgradeError' },
  { error: new ProxyProtocolError('malformed', 'not a PROXY header'), code: 'RS_ERR_PROXY_PROTOCOL', name: 'ProxyProtocolError' },
  { error: new PoolUnavailableError('down', 5000, 'no pool member'), code: 'RS_ERR_POOL_UNAVAILABLE', name: 'PoolUnavailableError' },
]

describe('errors', () => {
  test('exports exactly the written list of codes, in order', { timeout: 5000 }, () => {
    assert.deepEqual([...codes], EXPECTED_CODES)
  })

  test('has one error class per code, each with its code, name and base class', { timeout: 5000 }, () => {
    assert.deepEqual(
      CASES.map((c) => c.code),
      EXPECTED_CODES,
    )
    for (const { error, code, name } of CASES) {
      assert.ok(error instanceof RotorStreamError, name)
      assert.ok(error instanceof Error, name)
      assert.equal(error.code, code)
      assert.equal(error.name, name)
      assert.ok(error.message.length > 0, `${name} has a message`)
      assert.match(String(error), new RegExp(`^${name}: `))
      assert.ok(typeof error.stack === 'string' && error.stack.length > 0, `${name} has a stack`)
    }
  })

  test('keeps the socket error as cause of ReadError and WriteError', { timeout: 5000 }, () => {
    const read = new ReadError(econnreset)
    assert.equal(read.cause, econnreset)
    assert.equal((read.cause as NodeJS.ErrnoException).code, 'ECONNRESET')
    assert.equal(read.message, 'read failed: read ECONNRESET')
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
    const write = new WriteError(epipe)
    assert.equal(write.cause, epipe)
    assert.equal(write.message, 'write failed: write EPIPE')
  })

  test('keeps the thrown value as cause of HandlerError and names the handler', { timeout: 5000 }, () => {
    const thrown = new TypeError('x is undefined')
    const error = new HandlerError('bytesRead', thrown)
    assert.equal(error.cause, thrown)
    assert.equal(error.handler, 'bytesRead')
    assert.equal(error.message, 'protocol handler bytesRead threw: x is undefined')
    const notAnError = new HandlerError('timeout', 'a string')
    assert.equal(notAnError.cause, 'a string')
    assert.equal(notAnError.message, 'protocol handler timeout threw: a string')
  })

  test('carries the limit on LimitReachedError', { timeout: 5000 }, () => {
    const error = new LimitReachedError(4096)
    assert.equal(error.limit, 4096)
    assert.equal(error.message, 'expectation not met within 4096 bytes')
  })

  test('keeps an optional cause on ConnectError and ProtocolError', { timeout: 5000 }, () => {
    assert.equal(new ConnectError('refused', { cause: econnreset }).cause, econnreset)
    assert.equal(new ProtocolError('bad', { cause: 'why' }).cause, 'why')
    assert.equal(new ConnectError('timed out').cause, undefined)
  })
})
