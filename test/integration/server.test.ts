import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type Address, connect, Intent, InvalidArgumentError, ListenError, type Protocol, type Scope, serve, type Transport } from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { Exchange } from '../helpers/protocols.js'
import { activeBeyond } from '../helpers/resources.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const LF = Buffer.from('\n')
const TIMEOUT = { timeout: 10_000 }
const baseline = process.getActiveResourcesInfo()
let dir = ''

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-stream-server-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** Runs one Exchange against `address` with `connect()` and returns the replies. */
async function exchange(address: Address, lines: readonly string[]): Promise<string[]> {
  const ex = new Exchange(lines)
  const stream = await connect(address, (t) => ex.start(t))
  const reason = await stream.closed
  if (reason !== undefined) throw reason
  return ex.replies
}

/** A plain socket speaking lines, for tests that hold connections open. */
class RawClient {
  readonly socket: net.Socket
  readonly closed: Promise<void>
  #buffer = ''
  #waiting: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = []

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.setEncoding('utf8')
    socket.on('data', (text: string) => {
      this.#buffer += text
      for (let at = this.#buffer.indexOf('\n'); at >= 0; at = this.#buffer.indexOf('\n')) {
        const line = this.#buffer.slice(0, at)
        this.#buffer = this.#buffer.slice(at + 1)
        this.#waiting.shift()?.resolve(line)
      }
    })
    socket.on('error', () => {}) // a reset shows as 'close'
    this.closed = once(socket, 'close').then(() => {
      for (const w of this.#waiting.splice(0)) w.reject(new Error('connection closed'))
    })
  }

  static async open(address: Address): Promise<RawClient> {
    const socket = 'path' in address ? net.connect(address.path) : net.connect(address.port, address.host)
    const client = new RawClient(socket)
    await once(socket, 'connect')
    return client
  }

  /** Sends a line and resolves with the next line received. */
  send(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      this.socket.write(`${line}\n`)
    })
  }

  async end(): Promise<void> {
    this.socket.end()
    await this.closed
  }
}

interface SlowSeed {
  /** ms between a request and its answer. */
  delay: number
  received: () => void
  fatal: (reason: Error) => void
}

/** Answers each line after `seed.delay` ms: an in-flight request that a graceful close must wait for. */
class SlowEcho implements Protocol {
  phase: 'line' | 'answering' = 'line'
  line = ''
  readonly seed: SlowSeed
  constructor(seed: SlowSeed) {
    this.seed = seed
  }
  static create(_t: Transport, seed: SlowSeed): Intent<SlowEcho> {
    return new SlowEcho(seed).readLine()
  }
  bytesRead(t: Transport, end: number, scope: Scope): Intent<SlowEcho> {
    this.line = t.input.toString('utf8', 0, end)
    t.input.consume(end + 1)
    this.phase = 'answering'
    this.seed.received()
    return Intent.of(this)
      .sleep()
      .deadline(scope.now() + this.seed.delay)
  }
  timeout(t: Transport): Intent<SlowEcho> {
    t.output.write(`${this.line}\n`)
    return this.readLine()
  }
  fatal(reason: Error): void {
    this.seed.fatal(reason)
  }
  private readLine(): Intent<SlowEcho> {
    this.phase = 'line'
    return Intent.of(this).expectDelimiter(LF, { max: 1024 }) // idle clients may stay: the test ends them
  }
}

/** A promise with its resolve function. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

function isListenError(code: string, pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ListenError, `not a ListenError: ${String(err)}`)
    assert.match(err.message, pattern)
    assert.equal((err.cause as NodeJS.ErrnoException).code, code)
    return true
  }
}

describe('serve() over TCP', () => {
  test('runs LineEcho on a free port and reports it in address', TIMEOUT, async () => {
    const server = await serve({ host: '127.0.0.1', port: 0 }, LineEcho.create)
    try {
      const address = server.address
      assert.ok('port' in address && address.port > 0)
      assert.equal(address.host, '127.0.0.1')
      assert.deepEqual(await exchange(address, ['hello', 'world']), ['hello', 'world'])
    } finally {
      await server.close()
    }
    assert.equal(server.connections, 0)
  })

  test('serves many clients at once, each on its own stream', TIMEOUT, async () => {
    const server = await serve({ host: '127.0.0.1', port: 0 }, LineEcho.create)
    try {
      const clients = Array.from({ length: 20 }, (_, i) => exchange(server.address, [`a${i}`, `b${i}`]))
      const replies = await Promise.all(clients)
      for (const [i, r] of replies.entries()) assert.deepEqual(r, [`a${i}`, `b${i}`])
    } finally {
      await server.close()
    }
  })

  test('fails with a ListenError naming EADDRINUSE when the port is taken', TIMEOUT, async () => {
    const first = await serve({ host: '127.0.0.1', port: 0 }, LineEcho.create)
    try {
      const { port } = first.address as { port: number }
      await assert.rejects(
        serve({ host: '127.0.0.1', port }, LineEcho.create),
        isListenError('EADDRINUSE', /^cannot listen on 127\.0\.0\.1:\d+: the address is already in use/),
      )
      assert.deepEqual(await exchange(first.address, ['still here']), ['still here'])
    } finally {
      await first.close()
    }
  })

  test('fails with a ListenError naming EACCES on a privileged port', TIMEOUT, (t) => {
    // As root every port is allowed: run the attempt as `nobody` in a child process.
    const code = `
      const { serve } = await import(${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)})
      try { await serve({ host: '127.0.0.1', port: 80 }, () => { throw new Error('unreachable') }); console.log('listening') }
      catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message, code: e.cause?.code })) }`
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}
    // `nobody` must be able to read the checkout (a clone under a private mktemp dir is not).
    const readable = spawnSync('test', ['-r', new URL('../../node_modules/tsx/package.json', import.meta.url).pathname], { ...asNobody })
    if (readable.status !== 0) {
      t.skip('the checkout is not readable by the unprivileged user this test runs the listen as')
      return
    }
    const child = spawnSync(process.execPath, ['--conditions=rotor-stream-source', '--import', 'tsx', '--input-type=module', '-e', code], {
      ...asNobody,
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 8000,
    })
    if (child.stdout.trim() === 'listening') {
      t.skip('this host lets unprivileged users bind port 80')
      return
    }
    assert.equal(child.status, 0, child.stderr)
    const result = JSON.parse(child.stdout) as { name: string; message: string; code: string }
    assert.equal(result.name, 'ListenError')
    assert.equal(result.code, 'EACCES')
    assert.match(result.message, /^cannot listen on 127\.0\.0\.1:80: permission denied .*\(EACCES\)$/)
  })

  test('throws InvalidArgumentError synchronously for bad options', () => {
    const bad: unknown[] = [
      { port: -1 },
      { port: 70000 },
      { host: '', port: 0 },
      { path: '' },
      { port: 0, maxConnections: 0 },
      { port: 0, lingerTimeout: -1 },
      {},
    ]
    for (const options of bad) {
      assert.throws(
        () => serve(options as { port: number }, LineEcho.create),
        (err) => err instanceof InvalidArgumentError && err.code === 'RS_ERR_INVALID_ARG',
        JSON.stringify(options),
      )
    }
  })
  test('passes stream options to every accepted stream', TIMEOUT, async (t) => {
    const server = await serve({ host: '127.0.0.1', port: 0, maxBufferSize: 16 }, LineEcho.create)
    t.after(() => server.close({ timeout: 0 }))
    const client = await RawClient.open(server.address)
    assert.equal(await client.send('short'), 'short')
    assert.equal(await client.send('x'.repeat(40)), 'ERR line too long', 'LineEcho allows 64 KiB; the stream allows 16 bytes')
    await client.closed
  })
})

describe('serve() over a Unix socket', () => {
  test('runs LineEcho and removes the socket file on close', TIMEOUT, async () => {
    const path = join(dir, 'echo.sock')
    const server = await serve({ path }, LineEcho.create)
    assert.deepEqual(server.address, { path })
    assert.ok(statSync(path).isSocket())
    assert.deepEqual(await exchange({ path }, ['over', 'unix']), ['over', 'unix'])
    await server.close()
    assert.equal(existsSync(path), false)
  })

  test('replaces a stale socket file left by a crashed process', TIMEOUT, async () => {
    const path = join(dir, 'stale.sock')
    // A process that listens and is killed: its socket file stays behind, refusing connections.
    const crash = spawn(
      process.execPath,
      ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`],
      { stdio: 'ignore' },
    )
    const [, signal] = (await once(crash, 'close')) as [number | null, string | null]
    assert.equal(signal, 'SIGKILL')
    assert.ok(statSync(path).isSocket())
    const server = await serve({ path }, LineEcho.create)
    try {
      assert.deepEqual(await exchange({ path }, ['fresh']), ['fresh'])
    } finally {
      await server.close()
    }
  })

  test('fails with a ListenError when a live server holds the path, and leaves it alone', TIMEOUT, async () => {
    const path = join(dir, 'live.sock')
    const live = await serve({ path }, LineEcho.create)
    try {
      await assert.rejects(serve({ path }, LineEcho.create), isListenError('EADDRINUSE', /another server is listening there/))
      assert.deepEqual(await exchange({ path }, ['alive']), ['alive'])
    } finally {
      await live.close()
    }
  })

  test('refuses to replace a file that is not a socket', TIMEOUT, async () => {
    const path = join(dir, 'regular-file')
    writeFileSync(path, 'keep me')
    await assert.rejects(serve({ path }, LineEcho.create), isListenError('EADDRINUSE', /exists and is not a socket/))
    assert.ok(statSync(path).isFile())
  })

  test('fails with a ListenError when the directory does not exist', TIMEOUT, async () => {
    const path = join(dir, 'missing', 'x.sock')
    await assert.rejects(serve({ path }, LineEcho.create), isListenError('EACCES', /: the directory .*missing does not exist \(EACCES\)$/))
  })
})

describe('maxConnections', () => {
  test('a server at the limit drops new connections and keeps serving the ones it has', TIMEOUT, async () => {
    const server = await serve({ host: '127.0.0.1', port: 0, maxConnections: 2 }, LineEcho.create)
    const a = await RawClient.open(server.address)
    const b = await RawClient.open(server.address)
    try {
      assert.equal(await a.send('a1'), 'a1')
      assert.equal(await b.send('b1'), 'b1') // both accepted and running
      assert.equal(server.connections, 2)
      for (let i = 0; i < 10; i++) {
        const extra = await RawClient.open(server.address) // the kernel completes the handshake...
        let answered = false
        extra.send('never').then(
          () => {
            answered = true
          },
          () => {},
        )
        await extra.closed // ...and the server closes it at once
        assert.equal(answered, false)
      }
      assert.equal(await a.send('a2'), 'a2')
      assert.equal(await b.send('b2'), 'b2')
      assert.equal(server.connections, 2)
    } finally {
      await Promise.all([a.end(), b.end()])
      await server.close()
    }
  })
})

describe('Server.close()', () => {
  test('stops accepting at once, answers the in-flight request, then resolves', TIMEOUT, async () => {
    const received = deferred()
    const fatal: Error[] = []
    const seed: SlowSeed = { delay: 150, received: received.resolve, fatal: (e) => fatal.push(e) }
    const server = await serve({ host: '127.0.0.1', port: 0 }, SlowEcho.create, seed)
    const address = server.address
    const client = await RawClient.open(address)
    const answer = client.send('in flight')
    await received.promise
    const start = performance.now()
    const closing = server.close({ timeout: 5000 })
    assert.equal(server.isClosing, true)
    await assert.rejects(connect(address, LineEcho.create), (err: Error) => {
      assert.equal((err as { code?: string }).code, 'RS_ERR_CONNECT')
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED')
      return true
    })
    assert.equal(await answer, 'in flight')
    await client.end() // the client is done: its stream ends, the server can finish
    await closing
    const elapsed = performance.now() - start
    assert.ok(elapsed >= 140 && elapsed < 5000, `closed after ${elapsed} ms`)
    assert.deepEqual(fatal, [])
    assert.equal(server.connections, 0)
    assert.equal(server.close(), closing, 'close() again returns the same promise')
  })

  test('closes streams still running when the timeout passes', TIMEOUT, async () => {
    const received = deferred()
    const fatal: Error[] = []
    const seed: SlowSeed = { delay: 60_000, received: received.resolve, fatal: (e) => fatal.push(e) }
    const server = await serve({ host: '127.0.0.1', port: 0 }, SlowEcho.create, seed)
    const client = await RawClient.open(server.address)
    const answer = client.send('never answered')
    answer.catch(() => {}) // awaited below, after the close
    await received.promise
    const start = performance.now()
    await server.close({ timeout: 100 })
    const elapsed = performance.now() - start
    assert.ok(elapsed >= 99 && elapsed < 3000, `closed after ${elapsed} ms`)
    await assert.rejects(answer, /connection closed/)
    await client.closed
    assert.equal(fatal.length, 1)
    assert.equal((fatal[0] as { code?: string }).code, 'RS_ERR_CLOSED')
    assert.equal(server.connections, 0)
  })

  test('with timeout 0 closes idle connections at once', TIMEOUT, async () => {
    const server = await serve({ host: '127.0.0.1', port: 0 }, LineEcho.create)
    const clients = await Promise.all(Array.from({ length: 5 }, () => RawClient.open(server.address)))
    for (const [i, c] of clients.entries()) assert.equal(await c.send(`c${i}`), `c${i}`)
    await server.close({ timeout: 0 })
    await Promise.all(clients.map((c) => c.closed))
    assert.equal(server.connections, 0)
  })
})

describe('examples/cluster.ts', () => {
  test('serves line echo from 2 workers on one port and shuts down on SIGTERM', { timeout: 30_000 }, async () => {
    const child = spawn(
      process.execPath,
      ['--conditions=rotor-stream-source', '--import', 'tsx', 'examples/cluster.ts', '--workers', '2', '--port', '0', '--host', '127.0.0.1'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    try {
      const port = await readPort(child)
      const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => exchange({ host: '127.0.0.1', port }, [`w${i}`])))
      for (const [i, r] of replies.entries()) assert.deepEqual(r, [`w${i}`])
      child.kill('SIGTERM')
      const [code] = (await once(child, 'close')) as [number | null]
      assert.equal(code, 0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })
})

/** Reads the primary's "listening on host:port" line from the example's stdout. */
function readPort(child: ChildProcess): Promise<number> {
  const stdout = child.stdout
  assert.ok(stdout !== null)
  stdout.setEncoding('utf8')
  let text = ''
  return new Promise((resolve, reject) => {
    const onData = (chunk: string): void => {
      text += chunk
      const match = /listening on [^\s]+:(\d+) with 2 workers/.exec(text)
      if (match) {
        // Keep draining (the listener stays) so the child never blocks on a full pipe.
        child.removeListener('exit', onExit)
        resolve(Number(match[1]))
      }
    }
    const onExit = (): void => reject(new Error(`the cluster example exited before listening: ${text}`))
    stdout.on('data', onData)
    child.once('exit', onExit)
  })
}

test('leaves no socket, server, process or timer behind', async () => {
  assert.deepEqual(await activeBeyond(baseline), [])
})
