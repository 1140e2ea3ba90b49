/**
 * examples/metrics.ts: `/metrics` in Prometheus text format reflects `server.stats` and the
 * counters of closed streams after real traffic.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { serve } from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { ClosedStreams, metricsEndpoint, metricsText } from '../../examples/metrics.js'
import { rawConnect, readAll } from '../helpers/net.js'
import { until } from '../helpers/wait.js'

test('examples/metrics.ts exports accepted, active, bytes and closed streams by reason', { timeout: 15_000 }, async (t) => {
  const server = await serve({ host: '127.0.0.1', port: 0 }, LineEcho.create)
  t.after(() => server.close({ timeout: 0 }))
  const closed = new ClosedStreams(server)
  t.after(() => closed.stop())
  const endpoint = await metricsEndpoint('127.0.0.1', 0, () => metricsText(server, closed))
  t.after(() => endpoint.close())
  const socket = await rawConnect(server.address)
  socket.write('hello\nQUIT\n')
  assert.equal((await readAll(socket)).toString(), 'hello\nBYE\n')
  await until(() => server.connections === 0, 'the stream to close')
  const response = await fetch(`http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/metrics`, { headers: { connection: 'close' } })
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const text = await response.text()
  const value = (name: string): number => {
    const match = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)
    assert.ok(match !== null, `${name} in\n${text}`)
    return Number(match[1])
  }
  assert.equal(value('rotor_stream_connections_accepted_total'), 1)
  assert.equal(value('rotor_stream_connections_active'), 0)
  assert.equal(value('rotor_stream_received_bytes_total'), 11)
  assert.equal(value('rotor_stream_sent_bytes_total'), 10)
  assert.equal(value('rotor_stream_streams_closed_total{reason="clean"}'), 1)
  assert.ok(value('rotor_stream_closed_stream_writes_total') >= 1)
  // Every sample line is `name[{labels}] number`, every metric has HELP and TYPE.
  for (const line of text.trimEnd().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{\w+="[^"]*"\})? -?[\d.e+]+)$/, line)
})
