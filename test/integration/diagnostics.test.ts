import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import net from 'node:net'
import { test } from 'node:test'
import { connect, Intent, type Protocol, Stream, type StreamCloseMessage, type StreamFatalMessage, serve, type Transport } from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { traceConnections } from '../../examples/tracing.js'

test('publishes open, connect, exception, fatal and close on diagnostics channels', { timeout: 10_000 }, async (t) => {
  const seen: string[] = []
  let closes = 0
  let bothClosed: () => void = () => {}
  const closed = new Promise<void>((resolve) => {
    bothClosed = resolve
  })
  const on = (name: string) => {
    const listener = (message: unknown) => {
      const m = message as Partial<StreamCloseMessage & StreamFatalMessage>
      seen.push(`${name}${m.reason ? ` ${(m.reason as { code?: string }).code}` : ''}`)
      if (name === 'stream:close' && ++closes === 2) bothClosed()
    }
    diagnostics.subscribe(`rotor-stream:${name}`, listener)
    t.after(() => diagnostics.unsubscribe(`rotor-stream:${name}`, listener))
  }
  for (const name of ['stream:open', 'stream:close', 'stream:exception', 'stream:fatal', 'client:connect']) on(name)

  const server = net.createServer({ allowHalfOpen: true }, (socket) => Stream.attach(socket, LineEcho.create))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as net.AddressInfo

  const client = await connect({ host: '127.0.0.1', port }, (tr: Transport) => {
    tr.output.write('x'.repeat(70_000)) // over LineEcho's MAX_LINE: the server gets a LimitReached
    return Intent.of<Protocol>({ bytesRead: () => Intent.done() }).expectDelimiter('\n', { max: 100 })
  })
  await client.closed
  await closed // the server side's stream closes too
  assert.ok(seen.includes('client:connect'), seen.join(', '))
  assert.equal(seen.filter((s) => s === 'stream:open').length, 2, seen.join(', '))
  assert.ok(seen.includes('stream:exception RS_ERR_LIMIT_REACHED'), seen.join(', '))
  assert.ok(seen.includes('stream:close'), seen.join(', '))
})

test('publishes nothing and builds no message while nobody subscribes', { timeout: 5000 }, () => {
  assert.equal(diagnostics.channel('rotor-stream:stream:open').hasSubscribers, false)
})

test('the tracing example logs accept, exception and close', { timeout: 10_000 }, async (t) => {
  const lines: string[] = []
  const stop = traceConnections((line) => lines.push(line))
  t.after(stop)
  const server = await serve({ host: '127.0.0.1', port: 0 }, LineEcho.create)
  t.after(() => server.close({ timeout: 0 }))
  const stream = await connect(server.address, (tr: Transport) => {
    tr.output.write('hi\n')
    tr.halfClose() // end of stream after the line: the server sees RS_ERR_END_OF_STREAM
    const reader: Protocol = {
      bytesRead: (t2: Transport, end: number) => {
        t2.input.consume(end + 1)
        return Intent.done()
      },
    }
    return Intent.of(reader).expectDelimiter('\n', { max: 10 })
  })
  await stream.closed
  await server.close({ timeout: 1000 })
  assert.ok(
    lines.some((l) => l.startsWith('accept')),
    lines.join('\n'),
  )
  assert.ok(
    lines.some((l) => l.startsWith('close')),
    lines.join('\n'),
  )
})
