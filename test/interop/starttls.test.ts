/**
 * STARTTLS against real peers: `openssl s_client -starttls smtp|postgres` against servers on the
 * library (TCP and Unix), the library's client against `openssl s_server` (behind a plaintext
 * SMTP greeting: s_server has no -starttls), and the library's PostgreSQL client against a real
 * PostgreSQL server: SSLRequest, upgrade, StartupMessage, and the server's answer over TLS.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect, Intent, type Protocol, serve, TlsUpgrade, type Transport } from 'rotor-stream'
import { freePort, unixPath } from '../helpers/net.js'
import { findBinary, needs } from '../helpers/peers.js'
import { PgSslClient, SmtpLikeServer, SSL_REQUEST } from '../helpers/starttls.js'
import { type TestCerts, testCerts } from '../helpers/tls-certs.js'
import { until } from '../helpers/wait.js'

const TIMEOUT = { timeout: 30_000 }
let certs: TestCerts
let dir = ''
let caFile = ''

before(() => {
  if (findBinary('openssl') === undefined) return
  certs = testCerts()
  dir = mkdtempSync(join(tmpdir(), 'rotor-stream-starttls-'))
  caFile = join(dir, 'ca.crt')
  writeFileSync(caFile, certs.ca)
})
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
})

/** Runs `openssl` with `args`, writing `input` slowly enough that it is sent after the handshake; resolves with stdout+stderr and the exit code. */
function openssl(args: string[], input: string): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString()
    })
    const timer = setTimeout(() => {
      child.kill()
      reject(new Error(`openssl ${args.join(' ')} did not finish: ${out}`))
    }, 20_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ out, code })
    })
    child.stdin.end(input)
  })
}

/** A PostgreSQL-like server: SSLRequest → 'S', upgrade, then answers one line with `tls <line>` and ends. */
class PgLikeServer implements Protocol {
  readonly #upgrade: TlsUpgrade
  #secure = false
  constructor(upgrade: TlsUpgrade) {
    this.#upgrade = upgrade
  }
  bytesRead(t: Transport, end: number): Intent<PgLikeServer> {
    if (!this.#secure) {
      if (!t.input.view(0, 8).equals(SSL_REQUEST)) return Intent.error(new Error('not an SSLRequest'))
      t.input.consume(8)
      t.output.write('S')
      return Intent.of(this).startTls(this.#upgrade)
    }
    t.output.write(`tls ${t.input.toString('latin1', 0, end)}\n`)
    t.input.consume(end + 1)
    return Intent.done()
  }
  tlsReady(): Intent<PgLikeServer> {
    this.#secure = true
    return Intent.of(this).expectDelimiter('\n', { max: 1024 })
  }
}

describe('STARTTLS against openssl', needs('openssl'), () => {
  for (const kind of ['tcp', 'unix'] as const) {
    test(`openssl s_client -starttls smtp against the library's server, over ${kind}`, TIMEOUT, async (t) => {
      const upgrade = TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert })
      const servers: SmtpLikeServer[] = []
      const address = kind === 'tcp' ? { host: '127.0.0.1', port: 0 } : { path: unixPath() }
      const server = await serve(
        address,
        SmtpLikeServer.factory(upgrade, (s) => servers.push(s)),
      )
      t.after(() => server.close({ timeout: 0 }))
      const target =
        kind === 'tcp' ? ['-connect', `127.0.0.1:${(server.address as { port: number }).port}`] : ['-unix', (server.address as { path: string }).path]
      const { out } = await openssl(
        ['s_client', '-starttls', 'smtp', ...target, '-CAfile', caFile, '-servername', 'localhost', '-verify_return_error', '-crlf', '-ign_eof', '-quiet'],
        'HELLO\nQUIT\n',
      )
      assert.match(out, /250 tls HELLO/)
      assert.match(out, /221 bye/)
      await until(() => server.connections === 0, 'the connection to end')
      const s = servers[0] as SmtpLikeServer
      assert.ok(s.secure)
      assert.deepEqual(s.lines.slice(-2), ['HELLO', 'QUIT'])
    })

    test(`openssl s_client -starttls postgres against the library's server, over ${kind}`, TIMEOUT, async (t) => {
      const upgrade = TlsUpgrade.server({ key: certs.server.key, cert: certs.server.cert })
      const address = kind === 'tcp' ? { host: '127.0.0.1', port: 0 } : { path: unixPath() }
      const server = await serve(address, () => Intent.of(new PgLikeServer(upgrade)).expectBytes(8))
      t.after(() => server.close({ timeout: 0 }))
      const target =
        kind === 'tcp' ? ['-connect', `127.0.0.1:${(server.address as { port: number }).port}`] : ['-unix', (server.address as { path: string }).path]
      const { out } = await openssl(
        ['s_client', '-starttls', 'postgres', ...target, '-CAfile', caFile, '-servername', 'localhost', '-verify_return_error', '-ign_eof', '-quiet'],
        'hello\n',
      )
      assert.match(out, /tls hello/)
    })
  }

  test("the library's client against openssl s_server (the plaintext SMTP part played by a relay)", TIMEOUT, async (t) => {
    const port = await freePort()
    writeFileSync(join(dir, 'server.key'), certs.server.key)
    writeFileSync(join(dir, 'server.crt'), certs.server.cert)
    // -rev: s_server answers every line reversed, over TLS.
    const sServer = spawn(
      'openssl',
      ['s_server', '-accept', `127.0.0.1:${port}`, '-key', join(dir, 'server.key'), '-cert', join(dir, 'server.crt'), '-rev', '-quiet'],
      {
        stdio: 'ignore',
      },
    )
    t.after(() => sServer.kill())
    await untilOpen(port, 'openssl s_server to listen', 10_000)
    // The relay: the SMTP greeting, EHLO and STARTTLS in plaintext, then every byte to s_server.
    const relay = net.createServer((socket) => {
      socket.write('220 relay ready\r\n')
      let text = ''
      const onData = (chunk: Buffer): void => {
        text += chunk.toString('latin1')
        if (text.includes('EHLO') && !text.includes('STARTTLS')) {
          if (!text.includes('250')) socket.write('250-relay\r\n250 STARTTLS\r\n')
          text += '250'
        }
        if (text.includes('STARTTLS\r\n')) {
          socket.off('data', onData)
          const upstream = net.connect(port, '127.0.0.1', () => {
            socket.write('220 go ahead\r\n')
            socket.pipe(upstream).pipe(socket)
          })
          upstream.on('error', () => socket.destroy())
        }
      }
      socket.on('data', onData)
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
    t.after(() => relay.close())
    const client = new RevClient(TlsUpgrade.client({ ca: certs.ca, servername: 'localhost' }))
    const stream = await connect({ host: '127.0.0.1', port: (relay.address() as net.AddressInfo).port }, () =>
      Intent.of(client).expectDelimiter('\r\n', { max: 1024 }),
    )
    assert.equal(await stream.closed, undefined)
    assert.ok(client.secure)
    assert.deepEqual(client.replies, ['220 relay ready', '250-relay', '250 STARTTLS', '220 go ahead', 'rotor-stream over TLS'])
  })
})

/**
 * SMTP's plaintext steps, the upgrade, then one line to `openssl s_server -rev`, which answers
 * it reversed with a bare LF.
 */
class RevClient implements Protocol {
  readonly replies: string[] = []
  secure = false
  readonly #upgrade: TlsUpgrade
  constructor(upgrade: TlsUpgrade) {
    this.#upgrade = upgrade
  }
  bytesRead(t: Transport, end: number): Intent<RevClient> {
    if (this.secure) {
      this.replies.push(t.input.toString('latin1', 0, end))
      t.input.consume(end + 1)
      return Intent.done()
    }
    const line = t.input.toString('latin1', 0, end)
    t.input.consume(end + 2)
    this.replies.push(line)
    if (line.startsWith('220 relay')) t.output.write('EHLO client.test\r\n')
    else if (line === '250 STARTTLS') t.output.write('STARTTLS\r\n')
    else if (line === '220 go ahead') return Intent.of(this).startTls(this.#upgrade)
    return Intent.of(this).expectDelimiter('\r\n', { max: 1024 })
  }
  tlsReady(t: Transport): Intent<RevClient> {
    this.secure = true
    t.output.write('SLT revo maerts-rotor\n')
    return Intent.of(this).expectDelimiter('\n', { max: 1024 })
  }
}

/** Polls until something accepts on 127.0.0.1:`port`; rejects after `ms`. */
async function untilOpen(port: number, what: string, ms: number): Promise<void> {
  const deadline = performance.now() + ms
  while (!(await portOpen(port))) {
    if (performance.now() > deadline) throw new Error(`waited ${ms} ms for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Whether something accepts on 127.0.0.1:`port`. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** The directory of PostgreSQL's server binaries: `postgres` on PATH, or Debian's /usr/lib/postgresql/<n>/bin. */
function postgresBin(): string | undefined {
  const onPath = findBinary('postgres')
  if (onPath !== undefined) return join(execFileSync('readlink', ['-f', onPath], { encoding: 'utf8' }).trim(), '..')
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const version = readdirSync(root).sort().pop()
  return version === undefined ? undefined : join(root, version, 'bin')
}

describe('STARTTLS against a real PostgreSQL server', needs('openssl'), () => {
  const bin = postgresBin()
  const missing = bin === undefined || !existsSync(join(bin, 'initdb'))
  if (missing && process.env.CI) throw new Error('CI: needs PostgreSQL (apt-get install postgresql)')
  let pgDir = ''
  let pg: ChildProcess | undefined
  let port = 0

  after(async () => {
    if (pg !== undefined && pg.exitCode === null) {
      const exited = new Promise((resolve) => pg?.once('exit', resolve))
      pg.kill('SIGINT') // fast shutdown
      await exited
    }
    if (pgDir !== '') rmSync(pgDir, { recursive: true, force: true })
  })

  test('SSLRequest, upgrade, StartupMessage: the server answers over TLS (AuthenticationOk ... ReadyForQuery)', {
    ...TIMEOUT,
    timeout: 120_000,
    skip: missing ? 'needs PostgreSQL (apt-get install postgresql)' : false,
  }, async () => {
    const binDir = bin as string
    // PostgreSQL refuses to run as root: as root, run it as the 'postgres' (or 'nobody') user.
    const asRoot = process.getuid?.() === 0
    const user = asRoot ? (hasUser('postgres') ? 'postgres' : 'nobody') : undefined
    // Node runs the child as that user: no runuser or su in between to swallow the stop signal.
    pgDir = mkdtempSync(join(tmpdir(), 'rotor-stream-pg-'))
    const data = join(pgDir, 'data')
    writeFileSync(join(pgDir, 'server.key'), certs.server.key)
    writeFileSync(join(pgDir, 'server.crt'), certs.server.cert)
    chmodSync(join(pgDir, 'server.key'), 0o600)
    let ids: { uid: number; gid: number } | Record<string, never> = {}
    if (user !== undefined) {
      ids = { uid: Number(execFileSync('id', ['-u', user], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', user], { encoding: 'utf8' })) }
      for (const f of ['', 'server.key', 'server.crt']) chownSync(join(pgDir, f), ids.uid, ids.gid)
    }
    execFileSync(join(binDir, 'initdb'), ['-D', data, '--auth=trust', '--username=postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], {
      stdio: 'ignore',
      cwd: pgDir,
      ...ids,
    })
    port = await freePort()
    const pgArgs = [
      '-D',
      data,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `port=${port}`,
      '-c',
      `unix_socket_directories=${pgDir}`,
      '-c',
      'ssl=on',
      '-c',
      `ssl_cert_file=${join(pgDir, 'server.crt')}`,
      '-c',
      `ssl_key_file=${join(pgDir, 'server.key')}`,
      '-c',
      'fsync=off',
    ]
    pg = spawn(join(binDir, 'postgres'), pgArgs, { stdio: 'ignore', cwd: pgDir, ...ids })
    await untilOpen(port, 'PostgreSQL to listen', 30_000)

    const upgrade = TlsUpgrade.client({ ca: certs.ca, servername: 'localhost' })
    let c: PgSslClient | undefined
    // The port opens before the server takes logins ("the database system is starting up"): bounded retries.
    for (let attempt = 0; attempt < 100; attempt++) {
      let client: PgSslClient | undefined
      const stream = await connect(
        { host: '127.0.0.1', port },
        PgSslClient.factory(upgrade, { user: 'postgres', database: 'postgres' }, (x) => (client = x)),
      )
      assert.equal(await stream.closed, undefined)
      c = client as PgSslClient
      if (!c.messages.some((m) => m.type === 'E' && m.payload.includes('starting up'))) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    c = c as PgSslClient
    assert.equal(c.answer, 'S')
    assert.ok(c.secure)
    const types = c.messages.map((m) => m.type)
    assert.equal(types[0], 'R', JSON.stringify(c.messages.map((m) => `${m.type} ${m.payload.toString('latin1')}`)))
    assert.equal(c.messages[0]?.payload.readUInt32BE(0), 0) // AuthenticationOk
    assert.ok(types.includes('S'), 'ParameterStatus')
    assert.equal(types.at(-1), 'Z') // ReadyForQuery
    // A database that does not exist: an ErrorResponse, over TLS all the same.
    let other: PgSslClient | undefined
    const failing = await connect(
      { host: '127.0.0.1', port },
      PgSslClient.factory(upgrade, { user: 'postgres', database: 'no_such_db' }, (x) => (other = x)),
    )
    assert.equal(await failing.closed, undefined)
    assert.equal(other?.messages.at(-1)?.type, 'E') // after AuthenticationOk: the database is checked then
    assert.match(other?.messages.at(-1)?.payload.toString('latin1') ?? '', /no_such_db/)
  })
})

function hasUser(name: string): boolean {
  try {
    execFileSync('id', [name], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
