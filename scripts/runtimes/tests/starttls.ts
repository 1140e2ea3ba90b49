/**
 * TLS upgrade in the middle of a connection (Intent.startTls) and hand-off (Intent.detach) on
 * each runtime: both sides of STARTTLS on TCP and Unix sockets, the refusal of unconsumed
 * plaintext, direct TLS and plaintext on one port (the peeked byte fed to TLS), and a WebSocket-
 * style hand-off with the bytes that came behind the request.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { connect, type Detached, Intent, type Protocol, serve, TlsUpgrade, TlsUpgradeError, type Transport } from 'rotor-stream'
import { SmtpLikeClient, SmtpLikeServer } from '../../../test/helpers/starttls.js'
import { until } from '../../../test/helpers/wait.js'
import { describe, test } from '../kit.js'
import { loadCerts } from './helpers.js'

const HOST = '127.0.0.1'

function upgrades(): { server: TlsUpgrade; client: TlsUpgrade } {
  const certs = loadCerts()
  return {
    server: TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert }),
    client: TlsUpgrade.client({ ca: certs.ca, servername: 'localhost' }),
  }
}

/** Everything `socket` receives until it closes. */
function readAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1')
    })
    socket.on('error', () => {})
    socket.once('close', () => resolve(got))
  })
}

describe('STARTTLS and detach', () => {
  for (const kind of ['tcp', 'unix'] as const) {
    test(`both sides on the library, over ${kind}`, async (t) => {
      const { server: up, client: cup } = upgrades()
      const address = kind === 'tcp' ? { host: HOST, port: 0 } : { path: path.join(os.tmpdir(), `rs-rt-starttls-${process.pid}.sock`) }
      const server = await serve(address, SmtpLikeServer.factory(up))
      t.after(() => server.close({ timeout: 0 }))
      let client: SmtpLikeClient | undefined
      const stream = await connect(
        server.address,
        SmtpLikeClient.factory(cup, ['secret'], (c) => {
          client = c
        }),
      )
      assert.equal(await stream.closed, undefined)
      assert.deepEqual(client?.replies.slice(2), ['220 go ahead', '250 tls EHLO client.test', '250 tls secret', '221 bye'])
    })
  }

  test('plaintext pipelined behind STARTTLS is refused', async (t) => {
    const servers: SmtpLikeServer[] = []
    const server = await serve(
      { host: HOST, port: 0 },
      SmtpLikeServer.factory(upgrades().server, (s) => servers.push(s)),
    )
    t.after(() => server.close({ timeout: 0 }))
    const socket = net.connect((server.address as { port: number }).port, HOST)
    const all = readAll(socket)
    // After the greeting, as SMTP clients do: the refusal closes at once, and a runtime may
    // reset the connection before a greeting still in flight was read (Deno did).
    await once(socket, 'data')
    socket.write('STARTTLS\r\nMAIL FROM:<injected>\r\n')
    assert.equal(await all, '220 ready\r\n')
    await until(() => servers[0]?.fatals.length === 1, 'the refusal')
    assert.ok(servers[0]?.fatals[0] instanceof TlsUpgradeError)
  })

  test("direct TLS on a plaintext port: the peeked first byte fed to TLS (unconsumed: 'feed')", async (t) => {
    const certs = loadCerts()
    const feeding = TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert }, { unconsumed: 'feed' })
    class Peek implements Protocol {
      #peeked = false
      bytesRead(tr: Transport, end: number): Intent<Peek> {
        if (!this.#peeked) {
          this.#peeked = true
          return Intent.of(this).startTls(feeding)
        }
        tr.output.write(`tls ${tr.input.toString('latin1', 0, end)}\n`)
        tr.input.consume(end + 1)
        return Intent.done()
      }
      tlsReady(): Intent<Peek> {
        return Intent.of(this).expectDelimiter('\n', { max: 100 })
      }
    }
    const server = await serve({ host: HOST, port: 0 }, () => Intent.of(new Peek()).expectBytes(1))
    t.after(() => server.close({ timeout: 0 }))
    const socket = tls.connect({ host: HOST, port: (server.address as { port: number }).port, ca: certs.ca, servername: 'localhost' })
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve)
      socket.once('error', reject)
    })
    const all = readAll(socket)
    socket.write('hello\n')
    assert.equal(await all, 'tls hello\n')
  })

  test('detach: the socket and the bytes behind the request go to plain net code; the server forgets it', async (t) => {
    let handoff: Detached | undefined
    class Upgrade implements Protocol {
      bytesRead(tr: Transport, end: number): Intent<Upgrade> {
        tr.input.consume(end + 4)
        tr.output.write('HTTP/1.1 101 Switching Protocols\r\n\r\n')
        return Intent.detach((d) => {
          handoff = d
          d.socket.on('error', () => {})
          d.socket.on('data', (c: Buffer) => d.socket.write(c))
          d.socket.write(d.input)
          d.socket.resume()
        })
      }
    }
    const server = await serve({ host: HOST, port: 0 }, () => Intent.of(new Upgrade()).expectDelimiter('\r\n\r\n', { max: 4096 }))
    t.after(() => server.close({ timeout: 0 }))
    const socket = net.connect((server.address as { port: number }).port, HOST)
    let got = ''
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1')
    })
    socket.write('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\nfirst frame|')
    await until(() => got.endsWith('first frame|'), 'the leftover bytes echoed')
    socket.write('second|')
    await until(() => got.endsWith('second|'), 'the echo by the new owner')
    assert.equal(handoff?.input.toString(), 'first frame|')
    assert.equal(handoff?.socket.listenerCount('data'), 1)
    assert.equal(server.connections, 0)
    socket.destroy()
  })
})
