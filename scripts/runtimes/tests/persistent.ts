/**
 * Persistent over TCP and Unix sockets: connects, reconnects with backoff through server restarts,
 * delivers wakeups, stops cleanly in every state.
 */
import assert from 'node:assert/strict'
import os from 'node:os'
import path from 'node:path'
import { type Address, ClosedError, type Exception, Intent, Persistent, type Protocol, type Server, serve, type Transport } from 'rotor-stream'
import { LineEcho } from '../../../examples/line-echo.js'
import { sleep, until } from '../../../test/helpers/wait.js'
import { describe, test } from '../kit.js'

/** Sends `ping <n>` on connect and on every wakeup; records the answers. */
class Pinger implements Protocol {
  static answers: string[] = []
  static sent = 0
  static create(t: Transport): Intent<Pinger> {
    return new Pinger().ping(t)
  }
  ping(t: Transport): Intent<Pinger> {
    t.output.write(`ping ${Pinger.sent++}\n`)
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
  bytesRead(t: Transport, end: number): Intent<Pinger> {
    Pinger.answers.push(t.input.toString('latin1', 0, end))
    t.input.consume(end + 1)
    return Intent.of(this).expectDelimiter('\n', { max: 100 }) // keeps reading: sees the server go away
  }
  wakeup(t: Transport): Intent<Pinger> {
    return this.ping(t)
  }
  exception(_t: Transport, reason: Exception): Intent<never> {
    return reason.code === 'RS_ERR_END_OF_STREAM' ? Intent.done() : Intent.error(reason)
  }
}

const FAST = { reconnect: { initialDelay: 20, maxDelay: 100, jitter: 0 }, connectTimeout: 1000 } as const

for (const kind of ['tcp', 'unix'] as const) {
  describe(`Persistent over ${kind}`, () => {
    test('reconnects through 3 server restarts and delivers wakeups to the live protocol', async (t) => {
      Pinger.answers = []
      Pinger.sent = 0
      const where = kind === 'tcp' ? { host: '127.0.0.1', port: 0 } : { path: path.join(os.tmpdir(), `rs-rt-persistent-${process.pid}.sock`) }
      let server: Server = await serve(where, LineEcho.create)
      const address: Address = server.address
      t.after(() => server.close({ timeout: 0 }))
      const client = new Persistent(address, Pinger.create, FAST)
      t.after(() => client.stop())
      let connects = 0
      let disconnects = 0
      client.on('connect', () => connects++)
      client.on('disconnect', () => disconnects++)
      for (let restart = 0; restart < 3; restart++) {
        await until(() => client.state === 'connected' && Pinger.answers.length > restart * 2, `connection ${restart + 1}`)
        client.wakeup()
        await until(() => Pinger.answers.length === restart * 2 + 2, 'the wakeup ping answered')
        await server.close({ timeout: 0 })
        await until(() => client.state !== 'connected', 'the client saw the server go')
        await sleep(30)
        server = await serve(kind === 'tcp' ? { host: '127.0.0.1', port: (address as { port: number }).port } : address, LineEcho.create)
      }
      await until(() => client.state === 'connected' && Pinger.answers.length === 7, 'the last connection')
      assert.equal(connects, 4)
      assert.equal(disconnects, 3)
      assert.deepEqual(
        Pinger.answers.map((a) => a.split(' ')[0]),
        Array(7).fill('ping'),
      )
      const stream = client.stream
      await client.stop()
      assert.equal(client.state, 'stopped')
      assert.ok((await stream?.closed) instanceof ClosedError)
    })
  })
}

describe('Persistent', () => {
  test('stop() while waiting to reconnect clears the backoff timer and resolves', async () => {
    const client = new Persistent({ host: '127.0.0.1', port: 1 }, Pinger.create, { reconnect: { initialDelay: 10_000 } })
    const waiting = new Promise<[number, number]>((resolve) => client.once('waiting', (delay, attempt) => resolve([delay, attempt])))
    const [delay, attempt] = await waiting
    assert.equal(attempt, 1)
    assert.ok(delay >= 8000, `delay ${delay}`)
    assert.equal(client.state, 'waiting')
    const started = performance.now()
    await client.stop()
    assert.ok(performance.now() - started < 1000)
    assert.equal(client.state, 'stopped')
  })
})
