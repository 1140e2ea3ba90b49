import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import type { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { after, before, describe, test } from 'node:test'
import {
  type Address,
  backoffDelay,
  backoffOptions,
  type ClientReconnectMessage,
  type Exception,
  Intent,
  InvalidArgumentError,
  Persistent,
  type PersistentOptions,
  type Protocol,
  type Server,
  serve,
  type Transport,
} from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'
import { freePort } from '../helpers/net.js'
import { activeBeyond } from '../helpers/resources.js'
import { type TestCerts, testCerts, tlsUnavailable } from '../helpers/tls-certs.js'

const LF = Buffer.from('\n')
const TIMEOUT = { timeout: 15_000 }
const LOCALHOST = '127.0.0.1'
const baseline = process.getActiveResourcesInfo()
let dir = ''

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-stream-persistent-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

interface PingSeed {
  /** Lines the server sent back, over all connections. */
  replies: string[]
  /** Times the factory ran. */
  created: number
  /** Whether the factory pings at once. */
  pingOnConnect: boolean
  /** `fatal` reasons, over all connections. */
  fatal: Error[]
  /** Called after each reply. */
  onReply: () => void
}

function pingSeed(pingOnConnect: boolean): PingSeed {
  return { replies: [], created: 0, pingOnConnect, fatal: [], onReply: () => {} }
}

/**
 * A client for line echo: every `wakeup` (and, if asked, the connection itself) sends a ping and
 * records the echo. Between pings it waits for input with no deadline (idling is the point), so
 * it notices at once when the server goes away; a sleeping protocol reads nothing and would not.
 */
class Pinger implements Protocol {
  readonly seed: PingSeed
  pings = 0
  constructor(seed: PingSeed) {
    this.seed = seed
  }
  static create(t: Transport, seed: PingSeed): Intent<Pinger> {
    seed.created++
    const pinger = new Pinger(seed)
    if (seed.pingOnConnect) pinger.ping(t)
    return pinger.listen()
  }
  wakeup(t: Transport): Intent<Pinger> {
    this.ping(t)
    return this.listen()
  }
  bytesRead(t: Transport, end: number): Intent<Pinger> {
    this.seed.replies.push(t.input.toString('utf8', 0, end))
    t.input.consume(end + 1)
    this.seed.onReply()
    return this.listen()
  }
  exception(): Intent<Pinger> {
    return Intent.done() // the server went away: Persistent reconnects
  }
  fatal(reason: Error): void {
    this.seed.fatal.push(reason)
  }
  private ping(t: Transport): void {
    t.output.write(`ping ${++this.pings}\n`)
  }
  private listen(): Intent<Pinger> {
    return Intent.of(this).expectDelimiter(LF, { max: 1024 })
  }
}

/** The next `event` whose arguments pass `match`; bounded by the test's timeout. */
function next<A extends unknown[]>(emitter: EventEmitter, event: string, match: (...args: A) => boolean = () => true): Promise<A> {
  return new Promise((resolve) => {
    const listener = (...args: unknown[]): void => {
      if (!match(...(args as A))) return
      emitter.removeListener(event, listener)
      resolve(args as A)
    }
    emitter.on(event, listener)
  })
}

/** Resolves with the next reply recorded in `seed`. */
function nextReply(seed: PingSeed): Promise<string> {
  return new Promise((resolve) => {
    seed.onReply = () => {
      seed.onReply = () => {}
      resolve(seed.replies.at(-1) as string)
    }
  })
}

describe('Persistent: reconnecting', () => {
  test('reconnects through 20 server restarts with delays that follow the backoff', { timeout: 30_000 }, async (t) => {
    const seed = pingSeed(true)
    let server: Server = await serve({ host: LOCALHOST, port: 0 }, LineEcho.create)
    const { port } = server.address as { port: number }
    const reconnect = { initialDelay: 10, maxDelay: 80, factor: 2, jitter: 0.5 }
    const random = (): number => 0.5
    const expected = backoffOptions(reconnect)
    // Resolving 'localhost' ourselves shows a name is looked up on every attempt.
    const lookups: number[] = []
    const lookup: PersistentOptions['lookup'] = (_host, options, callback) => {
      lookups.push(performance.now())
      if (options.all === true) callback(null, [{ address: LOCALHOST, family: 4 }])
      else callback(null, LOCALHOST, 4)
    }
    const waits: Array<{ delay: number; attempt: number; at: number }> = []
    const client = new Persistent({ host: 'localhost', port }, Pinger.create, { seed, reconnect, random, lookup, stableAfter: 0 })
    t.after(() => Promise.all([client.stop(), server.close({ timeout: 0 })]))
    client.on('waiting', (delay, attempt) => waits.push({ delay, attempt, at: performance.now() }))
    const disconnects: Array<Error | undefined> = []
    const disconnectedAt: number[] = []
    client.on('disconnect', (reason) => {
      disconnectedAt.push(performance.now())
      disconnects.push(reason)
    })
    await next(client, 'connect')
    await nextReply(seed)
    for (let restart = 1; restart <= 20; restart++) {
      // The disconnect is attempt 1; let attempts 2..4 fail against the stopped server, then restart it.
      const lastFailure = next(client, 'waiting', (_delay: number, attempt: number) => attempt === (restart % 3) + 2)
      const disconnected = next(client, 'disconnect')
      await server.close({ timeout: 0 })
      await disconnected
      assert.notEqual(client.state, 'connected')
      await lastFailure
      const connected = next(client, 'connect')
      const replied = nextReply(seed)
      server = await serve({ host: LOCALHOST, port }, LineEcho.create)
      await connected
      assert.equal(client.state, 'connected')
      assert.equal(await replied, 'ping 1')
    }
    assert.equal(seed.created, 21, 'a fresh protocol on every connection')
    assert.equal(disconnects.length, 20)
    // Every delay is the backoff's, with the injected randomness, and the next attempt waited at
    // least that long. It is timed from the last event before the client scheduled it (the failed
    // attempt's lookup, or the disconnect): the 'waiting' event itself may be observed late.
    for (const w of waits) {
      assert.equal(w.delay, backoffDelay(w.attempt, expected, random), `attempt ${w.attempt}`)
      const cause = Math.max(...[...lookups, ...disconnectedAt].filter((at) => at <= w.at))
      const started = lookups.find((at) => at > w.at)
      assert.ok(
        started !== undefined && started - cause >= w.delay,
        `attempt ${w.attempt} started ${(started ?? Number.NaN) - cause} ms after its cause, wanted ${w.delay}`,
      )
    }
    assert.ok(waits.filter((w) => w.attempt === 4).length >= 6)
    // One lookup per attempt: the first connect plus one per scheduled reconnect.
    assert.equal(lookups.length, waits.length + 1)
    await client.stop()
    assert.equal(client.state, 'stopped')
  })

  test('keeps backing off while connections drop at once, and starts over after a stable one', TIMEOUT, async (t) => {
    let accepted = 0
    // Drops the first 3 connections at once; keeps the 4th until the client leaves.
    const dropper = net.createServer((socket) => {
      socket.on('error', () => {})
      if (++accepted <= 3) socket.destroy()
      else socket.resume()
    })
    await new Promise<void>((resolve) => dropper.listen(0, LOCALHOST, resolve))
    const { port } = dropper.address() as net.AddressInfo
    /** Stays connected for 250 ms (its own deadline), then ends cleanly. */
    const holder = (): Intent<Protocol> => {
      const p: Protocol = {
        bytesRead: () => Intent.done(),
        exception: () => Intent.done(),
        timeout: () => Intent.done(),
      }
      return Intent.of(p).expectBytes(1).timeout(250)
    }
    const client = new Persistent({ host: LOCALHOST, port }, holder, {
      reconnect: { initialDelay: 5, factor: 2, jitter: 0 },
      stableAfter: 200,
    })
    const attempts: number[] = []
    client.on('waiting', (_delay, attempt) => attempts.push(attempt))
    const traced: ClientReconnectMessage[] = []
    const trace = (message: unknown): void => {
      traced.push(message as ClientReconnectMessage)
    }
    diagnostics.subscribe('rotor-stream:client:reconnect', trace)
    t.after(() => diagnostics.unsubscribe('rotor-stream:client:reconnect', trace))
    t.after(async () => {
      await client.stop()
      await new Promise((resolve) => dropper.close(resolve))
    })
    await next(client, 'waiting', (_d: number, attempt: number) => attempt === 1 && attempts.length > 1)
    assert.deepEqual(attempts, [1, 2, 3, 1])
    // The same schedule is traced on the diagnostics channel.
    assert.deepEqual(
      traced.map((m) => [m.address, m.attempt, m.delay]),
      [1, 2, 3, 1].map((a, i) => [`${LOCALHOST}:${port}`, a, [5, 10, 20, 5][i]]),
    )
  })

  test('gives up when the policy says so, and stops by itself', TIMEOUT, async (t) => {
    const port = await freePort()
    const seen: Array<[number, string | undefined]> = []
    const policy = (attempt: number, lastError: Error | undefined): number | null => {
      seen.push([attempt, (lastError?.cause as NodeJS.ErrnoException | undefined)?.code])
      return attempt < 3 ? 1 : null
    }
    const client = new Persistent({ host: LOCALHOST, port }, Pinger.create, { seed: pingSeed(false), reconnect: policy })
    t.after(() => client.stop())
    const [reason] = await next<[Error | undefined]>(client, 'giveup')
    assert.equal((reason as { code?: string }).code, 'RS_ERR_CONNECT')
    assert.deepEqual(seen, [
      [1, 'ECONNREFUSED'],
      [2, 'ECONNREFUSED'],
      [3, 'ECONNREFUSED'],
    ])
    assert.equal(client.state, 'stopped')
  })

  test('gives up with InvalidArgumentError when the policy returns a bad delay', TIMEOUT, async (t) => {
    const port = await freePort()
    const client = new Persistent({ host: LOCALHOST, port }, Pinger.create, { seed: pingSeed(false), reconnect: () => Number.NaN })
    t.after(() => client.stop())
    const [reason] = await next<[Error | undefined]>(client, 'giveup')
    assert.ok(reason instanceof InvalidArgumentError)
    assert.match(reason.message, /returned NaN/)
  })

  test('a factory that throws counts as a failed attempt and is retried', TIMEOUT, async (t) => {
    const server = await serve({ host: LOCALHOST, port: 0 }, LineEcho.create)
    let calls = 0
    const factory = (transport: Transport, seed: PingSeed): Intent<Protocol> => {
      if (++calls < 3) throw new Error(`factory bug ${calls}`)
      return Pinger.create(transport, seed)
    }
    const seed = pingSeed(true)
    const reasons: Array<string | undefined> = []
    const client = new Persistent(server.address, factory, { seed, reconnect: { initialDelay: 1, jitter: 0 } })
    client.on('disconnect', (reason) => reasons.push((reason as { code?: string } | undefined)?.code))
    t.after(async () => {
      await client.stop()
      await server.close({ timeout: 0 })
    })
    const replied = nextReply(seed)
    assert.equal(await replied, 'ping 1')
    assert.deepEqual(reasons, ['RS_ERR_HANDLER', 'RS_ERR_HANDLER'])
  })
})

describe('Persistent: wakeup and state', () => {
  test('wakeup reaches the live protocol, or the next one while disconnected', TIMEOUT, async (t) => {
    const seed = pingSeed(false)
    let server = await serve({ host: LOCALHOST, port: 0 }, LineEcho.create)
    const address = server.address
    const client = new Persistent(address, Pinger.create, { seed, reconnect: { initialDelay: 1, maxDelay: 1, jitter: 0 } })
    const states: string[] = [client.state]
    t.after(async () => {
      await client.stop()
      await server.close({ timeout: 0 })
    })
    await next(client, 'connect')
    states.push(client.state)
    let reply = nextReply(seed)
    client.wakeup()
    assert.equal(await reply, 'ping 1')
    const waiting = next(client, 'waiting')
    await server.close({ timeout: 0 })
    await waiting
    states.push(client.state)
    client.wakeup() // nobody to take it now: remembered
    client.wakeup() // and coalesced
    reply = nextReply(seed)
    server = await serve({ ...address }, LineEcho.create)
    await next(client, 'connect')
    assert.equal(await reply, 'ping 1', 'the new protocol got the wakeup')
    assert.deepEqual(seed.replies, ['ping 1', 'ping 1'])
    assert.equal(seed.created, 2)
    assert.deepEqual(states, ['connecting', 'connected', 'waiting'])
    await client.stop()
    client.wakeup() // a no-op after stop
    assert.equal(client.state, 'stopped')
  })

  test('stop() while connected closes the stream with a ClosedError and leaves nothing behind', TIMEOUT, async (t) => {
    const seed = pingSeed(true)
    const server = await serve({ host: LOCALHOST, port: 0 }, LineEcho.create)
    const client = new Persistent(server.address, Pinger.create, { seed })
    t.after(() => Promise.all([client.stop(), server.close({ timeout: 0 })]))
    await next(client, 'connect')
    const disconnected = next<[Error | undefined]>(client, 'disconnect')
    await client.stop()
    const [reason] = await disconnected
    assert.equal((reason as { code?: string }).code, 'RS_ERR_CLOSED')
    assert.equal((seed.fatal[0] as { code?: string } | undefined)?.code, 'RS_ERR_CLOSED')
    assert.equal(client.stream, null)
    assert.equal(client.stop(), client.stop(), 'stop() again returns the same promise')
    await server.close({ timeout: 0 })
    assert.deepEqual(await activeBeyond(baseline), [])
  })

  test('stop() while waiting clears the backoff timer', TIMEOUT, async (t) => {
    const port = await freePort()
    const client = new Persistent({ host: LOCALHOST, port }, Pinger.create, { seed: pingSeed(false), reconnect: { initialDelay: 60_000, maxDelay: 60_000 } })
    t.after(() => client.stop())
    await next(client, 'waiting')
    assert.equal(client.state, 'waiting')
    assert.ok(process.getActiveResourcesInfo().includes('Timeout'), 'the backoff timer keeps the process alive')
    await client.stop()
    assert.deepEqual(await activeBeyond(baseline), [])
  })

  test('stop() while connecting cancels the attempt', TIMEOUT, async (t) => {
    const silent = net.createServer((socket) => socket.on('error', () => {})) // accepts, never speaks
    await new Promise<void>((resolve) => silent.listen(0, LOCALHOST, resolve))
    const { port } = silent.address() as net.AddressInfo
    // TLS needs the server's answer to connect: the attempt hangs in 'connecting'.
    const client = new Persistent({ host: LOCALHOST, port }, Pinger.create, { seed: pingSeed(false), tls: {}, connectTimeout: 60_000 })
    t.after(() => Promise.all([client.stop(), new Promise((resolve) => silent.close(resolve))]))
    const accepted = await next<[net.Socket]>(silent, 'connection')
    assert.equal(client.state, 'connecting')
    const serverSide = next(accepted[0], 'close')
    await client.stop()
    await serverSide
    await new Promise((resolve) => silent.close(resolve))
    assert.deepEqual(await activeBeyond(baseline), [])
  })

  test('passes stream options to the stream of every connection', TIMEOUT, async (t) => {
    // The server sends a 40-byte line; the client runs LineEcho, whose own limit is 64 KiB.
    let answered!: (line: string) => void
    const answer = new Promise<string>((resolve) => {
      answered = resolve
    })
    const sender = (transport: Transport): Intent<Protocol> => {
      transport.output.write(`${'x'.repeat(40)}\n`)
      const p: Protocol = {
        bytesRead: (tr, end) => {
          answered(tr.input.toString('utf8', 0, end))
          return Intent.done()
        },
      }
      return Intent.of(p).expectDelimiter(LF, { max: 1024 }).timeout(5000)
    }
    const server = await serve({ host: LOCALHOST, port: 0 }, sender)
    const client = new Persistent(server.address, LineEcho.create, { maxBufferSize: 16, reconnect: { initialDelay: 60_000, maxDelay: 60_000 } })
    t.after(() => Promise.all([client.stop(), server.close({ timeout: 0 })]))
    assert.equal(await answer, 'ERR line too long')
  })

  test('throws InvalidArgumentError for bad arguments', () => {
    const ok: Address = { host: LOCALHOST, port: 1 }
    // Pinger needs a seed: its options, with the seed, are required.
    const seed = pingSeed(false)
    const cases: Array<() => unknown> = [
      () => new Persistent({ host: LOCALHOST, port: 0 }, Pinger.create, { seed }),
      () => new Persistent({ host: '', port: 1 }, Pinger.create, { seed }),
      () => new Persistent({ path: '' }, Pinger.create, { seed }),
      () => new Persistent(ok, 'nope' as never),
      () => new Persistent(ok, Pinger.create, { seed, connectTimeout: 0 }),
      () => new Persistent(ok, Pinger.create, { seed, reconnect: { factor: 0 } }),
      () => new Persistent(ok, Pinger.create, { seed, stableAfter: -1 }),
      () => new Persistent(ok, Pinger.create, { seed, lingerTimeout: -1 }),
      () => new Persistent(ok, Pinger.create, { seed, tls: { cert: 'x' } }),
      () => new Persistent(ok, Pinger.create, { seed, tls: { ca: 'not a certificate' } }),
    ]
    for (const make of cases) assert.throws(make, (err) => err instanceof InvalidArgumentError && err.code === 'RS_ERR_INVALID_ARG', String(make))
  })
})

/** Server side of the role swap: sends lines to a LineEcho *client* and checks the echoes. */
class Prober implements Protocol {
  readonly heard: string[] = []
  readonly done: (heard: string[]) => void
  constructor(done: (heard: string[]) => void) {
    this.done = done
  }
  static create(t: Transport, done: (heard: string[]) => void): Intent<Prober> {
    t.output.write('probe\nQUIT\n')
    return new Prober(done).listen()
  }
  bytesRead(t: Transport, end: number): Intent<Prober> {
    this.heard.push(t.input.toString('utf8', 0, end))
    t.input.consume(end + 1)
    return this.heard.length === 2 ? this.finish() : this.listen()
  }
  exception(_t: Transport, _reason: Exception): Intent<Prober> {
    return this.finish()
  }
  private finish(): Intent<Prober> {
    this.done(this.heard)
    return Intent.done()
  }
  private listen(): Intent<Prober> {
    return Intent.of(this).expectDelimiter(LF, { max: 1024 }).timeout(5000)
  }
}

describe('Persistent: the same protocol code on every transport', () => {
  const certs: TestCerts | null = tlsUnavailable() === null ? testCerts() : null
  const transports = [
    { name: 'TCP', tls: false, unix: false },
    { name: 'a Unix socket', tls: false, unix: true },
    { name: 'TLS over TCP', tls: true, unix: false },
    { name: 'TLS over a Unix socket', tls: true, unix: true },
  ]
  for (const { name, tls, unix } of transports) {
    const skip = tls && certs === null ? (tlsUnavailable() ?? false) : false
    const listenOn = (file: string): { path: string } | { host: string; port: number } => (unix ? { path: join(dir, file) } : { host: LOCALHOST, port: 0 })
    const serverTls = tls && certs !== null ? { tls: { key: certs.server.key, cert: certs.server.cert } } : {}
    const clientTls = tls && certs !== null ? { tls: { ca: certs.ca } } : {}

    test(`runs Pinger as client against LineEcho as server over ${name}`, { ...TIMEOUT, skip }, async (t) => {
      const server = await serve({ ...listenOn(`echo-${name.length}.sock`), ...serverTls }, LineEcho.create)
      const seed = pingSeed(true)
      const client = new Persistent(server.address, Pinger.create, { seed, ...clientTls })
      t.after(async () => {
        await client.stop()
        await server.close({ timeout: 0 })
      })
      assert.equal(await nextReply(seed), 'ping 1')
      const reply = nextReply(seed)
      client.wakeup()
      assert.equal(await reply, 'ping 2')
    })

    test(`runs LineEcho as client, probed by the server, over ${name}`, { ...TIMEOUT, skip }, async (t) => {
      let heard!: (lines: string[]) => void
      const probed = new Promise<string[]>((resolve) => {
        heard = resolve
      })
      const server = await serve({ ...listenOn(`probe-${name.length}.sock`), ...serverTls }, Prober.create, heard)
      const client = new Persistent(server.address, LineEcho.create, { reconnect: { initialDelay: 60_000, maxDelay: 60_000 }, ...clientTls })
      t.after(async () => {
        await client.stop()
        await server.close({ timeout: 0 })
      })
      assert.deepEqual(await probed, ['probe', 'BYE'])
      const [reason] = await next<[Error | undefined]>(client, 'disconnect')
      assert.equal(reason, undefined, 'LineEcho ended the connection cleanly after QUIT')
    })
  }
})

test('leaves no socket, server or timer behind', async () => {
  assert.deepEqual(await activeBeyond(baseline), [])
})
