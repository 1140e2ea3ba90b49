/**
 * Counters on real sockets: `stream.stats` in the `stream:close` tracing message, `server.stats`
 * (accepted, active, refused over maxConnections, failed TLS handshakes, bytes of closed and live
 * streams) and the `server:refused` tracing channel.
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import { once } from 'node:events'
import { after, describe, test } from 'node:test'
import { type ServerAcceptMessage, type ServerRefusedMessage, type StreamCloseMessage, serve } from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { closed, rawConnect } from '../helpers/net.js'
import { activeBeyond } from '../helpers/resources.js'
import { serverTls } from '../helpers/tls.js'
import { testCerts, tlsUnavailable } from '../helpers/tls-certs.js'
import { until } from '../helpers/wait.js'

const TIMEOUT = { timeout: 15_000 }
const LOCALHOST = '127.0.0.1'
const baseline = process.getActiveResourcesInfo()

after(async () => {
  assert.deepEqual(await activeBeyond(baseline), [], 'no socket or timer left behind')
})

describe('server.stats and stream counters', () => {
  test('counts accepted, active and refused connections and the bytes of closed and live streams; stream:close carries the counters', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, maxConnections: 1 }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const refused: ServerRefusedMessage[] = []
    const closes: StreamCloseMessage[] = []
    const onRefused = (message: unknown): void => {
      if ((message as ServerRefusedMessage).server === server) refused.push(message as ServerRefusedMessage)
    }
    const onClose = (message: unknown): void => {
      closes.push(message as StreamCloseMessage)
    }
    const accepted: unknown[] = []
    const onAccept = (message: unknown): void => {
      if ((message as ServerAcceptMessage).server === server) accepted.push((message as ServerAcceptMessage).stream)
    }
    diagnostics.subscribe('rotor-stream:server:accept', onAccept)
    diagnostics.subscribe('rotor-stream:server:refused', onRefused)
    diagnostics.subscribe('rotor-stream:stream:close', onClose)
    t.after(() => {
      diagnostics.unsubscribe('rotor-stream:server:refused', onRefused)
      diagnostics.unsubscribe('rotor-stream:stream:close', onClose)
      diagnostics.unsubscribe('rotor-stream:server:accept', onAccept)
    })
    assert.deepEqual(server.stats, { accepted: 0, active: 0, refused: 0, tlsHandshakeFailures: 0, bytesIn: 0, bytesOut: 0 })

    const first = await rawConnect(server.address)
    first.write('hello\n')
    await once(first, 'data')
    await until(() => server.connections === 1, 'the first connection')
    // Over maxConnections: Node closes it at once, and says so.
    const second = await rawConnect(server.address)
    const secondPort = second.localPort
    await closed(second)
    await until(() => refused.length === 1, 'the refused connection')
    assert.equal(refused[0]?.remoteAddress?.endsWith('127.0.0.1'), true)
    assert.equal(refused[0]?.remotePort, secondPort)
    assert.deepEqual(server.stats, { accepted: 1, active: 1, refused: 1, tlsHandshakeFailures: 0, bytesIn: 6, bytesOut: 6 })

    // Bytes of a closed stream stay in the totals.
    first.end('QUIT\n')
    await closed(first)
    await until(() => server.connections === 0, 'the first connection to close')
    assert.deepEqual(server.stats, { accepted: 1, active: 0, refused: 1, tlsHandshakeFailures: 0, bytesIn: 11, bytesOut: 10 })
    const close = closes.find((message) => message.stream === accepted[0])
    assert.ok(close !== undefined)
    assert.deepEqual(close.stats.toJSON(), { bytesIn: 11, bytesOut: 10, reads: close.stats.reads, writes: 2, pushbackMs: 0 })
    assert.ok(close.stats.reads >= 1 && close.stats.reads <= 2)
    assert.equal(close.stats, close.stream.stats)
  })

  test('counts failed TLS handshakes (a plain-text client)', { ...TIMEOUT, skip: tlsUnavailable() ?? false }, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0, tls: serverTls(testCerts()) }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const socket = await rawConnect(server.address)
    socket.end('this is not a ClientHello\r\n\r\n')
    await closed(socket)
    await until(() => server.stats.tlsHandshakeFailures === 1, 'the failed handshake')
    assert.equal(server.stats.accepted, 1)
    await until(() => server.connections === 0, 'the connection to go')
  })
})
