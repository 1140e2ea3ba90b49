/**
 * The test kit's VirtualNetwork: simulated serve, connect and Persistent on the virtual clock.
 * Reconnect policies are checked to the millisecond: the simulated client decides through the
 * real Persistent's ReconnectState and the real backoff code.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  backoffDelay,
  backoffOptions,
  ClosedError,
  ConnectError,
  type Exception,
  Intent,
  InvalidArgumentError,
  type Protocol,
  type Transport,
} from 'rotor-stream'
import { type Side, VirtualNetwork } from 'rotor-stream/testing'
import { LineEcho } from '../../examples/line-echo.js'

const T = { timeout: 30_000 }
const DB = { host: 'db.internal', port: 6379 }

/** A client that says hello once connected and then idles, reading; it ends cleanly at end of stream. */
class Hello implements Protocol {
  static create(t: Transport): Intent<Hello> {
    t.output.write('hello\n')
    return Intent.of(new Hello()).expectDelimiter('\n', { max: 100 })
  }
  bytesRead(t: Transport, end: number): Intent<Hello> {
    t.input.consume(end + 1)
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
  exception(_t: Transport, reason: Exception): Intent<Hello> {
    return reason.code === 'RS_ERR_END_OF_STREAM' ? Intent.done() : Intent.error(reason)
  }
  wakeup(t: Transport): Intent<Hello> {
    t.output.write('woken\n')
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
}

/** Records a simulated client's events as short lines with the virtual time. */
function record(net: VirtualNetwork, client: ReturnType<VirtualNetwork['persistent']>): string[] {
  const log: string[] = []
  client.on('connect', () => log.push(`${net.now} connect`))
  client.on('disconnect', (reason) => log.push(`${net.now} disconnect ${reason?.name ?? 'clean'}`))
  client.on('waiting', (delay, attempt, reason) => log.push(`${net.now} waiting ${delay} #${attempt} ${reason?.name ?? 'clean'}`))
  client.on('giveup', (reason) => log.push(`${net.now} giveup ${reason?.name ?? 'clean'}`))
  return log
}

describe('VirtualNetwork', () => {
  test('a refused, a dropped and a late attempt, then a connection: backoff delays to the millisecond', T, async () => {
    const net = new VirtualNetwork()
    net.serve(DB, LineEcho.create)
    net.script(DB, 'refuse', 'drop', { accept: 50 })
    const client = net.persistent(DB, Hello.create, { connectTimeout: 500, reconnect: { initialDelay: 100, factor: 2, jitter: 0 } })
    const log = record(net, client)
    assert.equal(client.state, 'connecting')
    net.run()
    assert.equal(client.state, 'waiting') // the refusal came at once
    net.advance(10_000)
    assert.deepEqual(
      net.attempts.map((a) => `${a.at} ${a.outcome}`),
      ['0 refuse', '100 timeout', '800 accept'],
    )
    // Refused at 0, wait 100; dropped at 100, timed out at 600, wait 200; accepted 50 ms after 800.
    assert.deepEqual(log, ['0 waiting 100 #1 ConnectError', '600 waiting 200 #2 ConnectError', '850 connect'])
    assert.equal(client.state, 'connected')
    assert.equal(client.pair?.server.received.toString(), 'hello\n')
    await client.stop()
    assert.equal(client.state, 'stopped')
    assert.equal(net.runUntilIdle(), 0, 'no timer left')
  })

  test('the dropped attempt fails with the ConnectError dial() gives: a TimeoutError cause after connectTimeout', T, async () => {
    const net = new VirtualNetwork()
    net.script(DB, 'drop')
    const attempt = net.connect(DB, Hello.create, { connectTimeout: 300 })
    net.advance(299)
    let settled = false
    void attempt.catch(() => {
      settled = true
    })
    await Promise.resolve()
    assert.equal(settled, false)
    net.advance(1)
    const err = await attempt.then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof ConnectError)
    assert.equal(err.code, 'RS_ERR_CONNECT')
    assert.equal(err.message, 'connect to db.internal:6379 timed out after 300 ms')
    assert.equal((err.cause as Error).name, 'TimeoutError')
  })

  test('nobody listening is a refusal with ECONNREFUSED as the cause', T, async () => {
    const net = new VirtualNetwork()
    const err = await net.connect({ path: '/tmp/none.sock' }, Hello.create).then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof ConnectError)
    assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED')
  })

  test('jitter draws from the random function given, as backoffDelay does', T, async () => {
    const net = new VirtualNetwork()
    const draws = [0.5, 0.25, 0.999]
    let i = 0
    const random = (): number => draws[i++ % draws.length] as number
    const reconnect = { initialDelay: 1000, maxDelay: 3000, factor: 3, jitter: 0.5 }
    const client = net.persistent(DB, Hello.create, { reconnect, random })
    const delays: number[] = []
    client.on('waiting', (delay) => delays.push(delay))
    net.advance(60_000)
    const options = backoffOptions(reconnect)
    i = 0
    const expected = delays.map((_, k) => backoffDelay(k + 1, options, random))
    assert.ok(delays.length >= 10)
    assert.deepEqual(delays, expected)
    assert.deepEqual(delays.slice(0, 2), [750, 2625])
    await client.stop()
  })

  test('a policy function gives up after three attempts: state stopped, giveup with the last error, nothing left to run', T, () => {
    const net = new VirtualNetwork()
    const seen: (string | undefined)[] = []
    const client = net.persistent(DB, Hello.create, {
      reconnect: (attempt, lastError) => {
        seen.push(lastError?.name)
        return attempt <= 3 ? attempt * 10 : null
      },
    })
    const log = record(net, client)
    net.runUntilIdle()
    assert.deepEqual(log, ['0 waiting 10 #1 ConnectError', '10 waiting 20 #2 ConnectError', '30 waiting 30 #3 ConnectError', '60 giveup ConnectError'])
    assert.equal(client.state, 'stopped')
    assert.equal(net.attempts.length, 4)
    assert.deepEqual(seen, ['ConnectError', 'ConnectError', 'ConnectError', 'ConnectError'])
  })

  test('a connection that stays up stableAfter resets the backoff; a shorter one counts as a failure', T, async () => {
    const net = new VirtualNetwork()
    const server = net.serve(DB, LineEcho.create) // LineEcho closes a connection idle for 30 s
    const client = net.persistent(DB, Hello.create, { stableAfter: 30_000, reconnect: { initialDelay: 100, jitter: 0 } })
    const log = record(net, client)
    net.run()
    // Two connections the server drops after 10 s: failures in a row, the delay doubles.
    for (let i = 0; i < 2; i++) {
      net.advance(10_000)
      server.sides[0]?.close()
      net.advance(100 * 2 ** i)
    }
    // The third stays up until LineEcho's idle timeout, 30 s: stable, so the next delay is the first again.
    net.advance(30_000)
    assert.deepEqual(log, [
      '0 connect',
      '10000 disconnect clean',
      '10000 waiting 100 #1 clean',
      '10100 connect',
      '20100 disconnect clean',
      '20100 waiting 200 #2 clean',
      '20300 connect',
      '50300 disconnect clean',
      '50300 waiting 100 #1 clean',
    ])
    await client.stop()
  })

  test('wakeup() while disconnected reaches the protocol of the next connection', T, async () => {
    const net = new VirtualNetwork()
    net.serve(DB, LineEcho.create)
    net.script(DB, 'refuse')
    const client = net.persistent(DB, Hello.create, { reconnect: { initialDelay: 100, jitter: 0 } })
    client.wakeup()
    net.advance(100)
    assert.equal(client.pair?.server.received.toString(), 'hello\nwoken\n')
    await client.stop()
  })

  test('over maxConnections an attempt is accepted and closed at once: the client sees end of stream', T, async () => {
    const net = new VirtualNetwork()
    const server = net.serve(DB, LineEcho.create, { maxConnections: 1 })
    const first = await net.connect(DB, Hello.create)
    const second = await net.connect(DB, Hello.create)
    assert.equal(server.connections, 1)
    assert.equal(server.accepted, 1)
    assert.deepEqual(
      net.attempts.map((a) => a.outcome),
      ['accept', 'hangup'],
    )
    assert.equal(first.client.state, 'running')
    assert.deepEqual(second.client.log, ['exception RS_ERR_END_OF_STREAM'])
    assert.equal(second.client.state, 'done')
  })

  test('server.close() lets connections finish for the timeout, then closes them; new attempts are refused', T, async () => {
    const net = new VirtualNetwork()
    const server = net.serve(DB, LineEcho.create)
    const pairs = [await net.connect(DB, Hello.create), await net.connect(DB, Hello.create)]
    pairs[0]?.client.close() // this one ends by itself
    let closed = false
    const closing = server.close({ timeout: 1000 }).then(() => {
      closed = true
    })
    await Promise.resolve()
    assert.equal(server.connections, 1)
    await assert.rejects(net.connect(DB, Hello.create), ConnectError)
    net.advance(999)
    await Promise.resolve()
    assert.equal(closed, false)
    net.advance(1)
    await closing
    assert.equal(server.connections, 0)
    const last = pairs[1] as { server: Side; client: Side }
    assert.ok(last.server.error instanceof ClosedError)
    assert.equal(last.server.error.message, 'server closed')
    assert.equal(last.client.state, 'done', 'the client saw the server go away')
  })

  test('stop() while connected closes the stream: disconnect with a ClosedError', T, async () => {
    const net = new VirtualNetwork()
    net.serve(DB, LineEcho.create)
    const client = net.persistent(DB, Hello.create)
    const log = record(net, client)
    net.run()
    assert.equal(client.state, 'connected')
    await client.stop()
    assert.deepEqual(log, ['0 connect', '0 disconnect ClosedError'])
    assert.equal(client.side, null)
    assert.equal(net.runUntilIdle(), 0)
  })

  test('a late refusal, an answer later than connectTimeout and a scripted hang-up, each as a socket would end', T, async () => {
    const net = new VirtualNetwork()
    net.serve(DB, LineEcho.create)
    net.script(DB, { refuse: 40 }, { accept: 1000 }, 'hangup')
    const late = net.connect(DB, Hello.create, { connectTimeout: 1000 }).catch((e: unknown) => e)
    net.advance(40)
    const refused = await late
    assert.ok(refused instanceof ConnectError && (refused.cause as { code?: string }).code === 'ECONNREFUSED')
    const slow = net.connect(DB, Hello.create, { connectTimeout: 1000 }).catch((e: unknown) => e)
    net.advance(1000)
    const timedOut = await slow
    assert.ok(timedOut instanceof ConnectError && (timedOut.cause as Error).name === 'TimeoutError')
    const hungUp = await net.connect(DB, Hello.create)
    assert.deepEqual(hungUp.client.log, ['exception RS_ERR_END_OF_STREAM'])
    assert.equal(hungUp.server.received.length, 0, 'the server side never read the hello')
    assert.deepEqual(
      net.attempts.map((a) => `${a.at} ${a.outcome}`),
      ['0 refuse', '40 timeout', '1040 hangup'],
    )
  })

  test('leaves no real timer or TCP socket behind (stdio pipes belong to the runner)', T, () => {
    const kinds = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout' || kind === 'TCPSocketWrap')
    assert.deepEqual(kinds, [])
  })

  test('refuses bad options as Persistent does, naming the option', T, () => {
    const net = new VirtualNetwork()
    assert.throws(() => net.persistent(DB, Hello.create, { stableAfter: -1 }), /options\.stableAfter/)
    assert.throws(() => net.persistent(DB, Hello.create, { reconnect: { jitter: 2 } }), /options\.reconnect\.jitter/)
    assert.throws(() => net.persistent(DB, Hello.create, { connectTimeout: 0 }), InvalidArgumentError)
    assert.throws(() => net.script(DB, 'later' as never), InvalidArgumentError)
    assert.throws(() => net.serve({ host: 'x', port: 0 }, LineEcho.create), InvalidArgumentError)
    net.serve(DB, LineEcho.create)
    assert.throws(() => net.serve(DB, LineEcho.create), /no other simulated server/)
  })
})
