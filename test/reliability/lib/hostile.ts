/**
 * Hostile peers against real servers on loopback: slowloris, slow drips that defeat an idle
 * deadline (and the minimum data rate that stops them), oversized input, and peers that never
 * read. Each scenario checks its own expectations and counts what went wrong.
 */
import { performance } from 'node:perf_hooks'
import { DEFAULT_OUTPUT_HIGH_WATER_MARK, type Factory, type MinRate, type Server, serve } from 'rotor-stream'
import { demoRouter, HTTP_DEFAULTS, HttpConnection } from '../../../examples/http-server.js'
import { LineEcho, MAX_LINE } from '../../../examples/line-echo.js'
import { RESP_DEFAULTS } from '../../../examples/redis/resp-server.js'
import { Problems, percentile, type ScenarioResult } from './metrics.js'
import { Blobs, FramedEcho } from './protocols.js'
import { openPeers, RawPeer } from './raw.js'
import { httpFactory, respFactory } from './splits.js'
import { ServerWatch } from './watch.js'

type Outcome = Omit<ScenarioResult, 'ms' | 'rssMiB' | 'leaked'>

const HELLO_END = 'Hello, world!\n'
const HTTP_GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
/** Bytes Node reads from a socket at once: what a stream may hold beyond its expectation. */
const READ_SIZE = 64 * 1024

function portOf(server: Server): number {
  return (server.address as { port: number }).port
}

/** Opens a server with a watch on it. */
async function watched(factory: Factory, options: Record<string, unknown> = {}): Promise<{ server: Server; watch: ServerWatch; port: number }> {
  const watch = new ServerWatch()
  const server = await serve({ host: '127.0.0.1', port: 0, backlog: 4096, ...options }, factory)
  watch.watch(server)
  return { server, watch, port: portOf(server) }
}

// --- Slowloris ----------------------------------------------------------------------------------

/** Options of {@link slowloris}. */
export interface SlowlorisOptions {
  /** Connections dripping a request head. */
  attackers: number
  /** One byte per this many ms, to every attacker. */
  drip: number
  /** The HTTP server's headersTimeout, ms. */
  headersTimeout: number
  /** Keep-alive connections of normal clients, making requests the whole time. */
  normalClients: number
}

/**
 * Many connections drip a request head one byte at a time; the HTTP server's headersTimeout
 * (counted from a request's first byte, not refreshed by more bytes) answers each with 408 and
 * closes it, while normal clients on keep-alive connections are served all along.
 */
export async function slowloris(options: SlowlorisOptions): Promise<Outcome> {
  const problems = new Problems()
  const limits = { headersTimeout: options.headersTimeout, requestTimeout: options.headersTimeout * 2, keepAliveTimeout: options.headersTimeout * 4 }
  const { server, watch } = await watched(httpFactory(limits))
  const port = portOf(server)
  const head = `GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(100_000)}`
  const attackers = await openPeers(port, options.attackers)
  const opened = performance.now()
  let sent = 0
  const drip = setInterval(() => {
    for (const a of attackers) {
      if (!a.isListening || a.received.length > 0) continue
      a.socket.write(head[sent % head.length] as string)
    }
    sent++
  }, options.drip)
  const lifetimes: number[] = []
  const attacked = Promise.all(
    attackers.map(async (a) => {
      await a.closed
      lifetimes.push(performance.now() - opened)
      if (!a.received.startsWith('HTTP/1.1 408 Request Timeout\r\n'))
        problems.add(`attacker got ${JSON.stringify(a.received.slice(0, 60))} (${a.error?.code ?? 'no error'})`)
    }),
  )
  // Normal clients: sequential keep-alive requests until every attacker is gone.
  let attacking = true
  const latencies: number[] = []
  const normal = Array.from({ length: options.normalClients }, async () => {
    const peer = new RawPeer(port)
    await peer.connected
    while (attacking) {
      const start = performance.now()
      peer.received = ''
      peer.socket.write(HTTP_GET)
      await peer.until((p) => p.received.endsWith(HELLO_END))
      if (peer.isClosed || !peer.received.startsWith('HTTP/1.1 200 OK\r\n') || !peer.received.endsWith(HELLO_END)) {
        problems.add(`normal client: ${peer.isClosed ? 'closed' : JSON.stringify(peer.received.slice(-80))}`)
        break
      }
      latencies.push(performance.now() - start)
    }
    peer.destroy()
    await peer.closed
  })
  try {
    await attacked
  } finally {
    attacking = false
    clearInterval(drip)
    await Promise.all(normal)
    for (const a of attackers) a.destroy()
    watch.stop()
    await server.close({ timeout: 0 })
  }
  const longest = Math.max(...lifetimes)
  // Each attacker's clock starts at its first byte (one drip in); 408 within the timeout plus scheduling slack.
  const allowed = options.headersTimeout + 2 * options.drip + 1000
  if (longest > allowed) problems.add(`an attacker lived ${longest.toFixed(0)} ms, over headersTimeout ${options.headersTimeout} + slack`)
  if (latencies.length < options.normalClients) problems.add(`normal clients made only ${latencies.length} requests`)
  return {
    name: 'slowloris (HTTP headersTimeout)',
    unit: 'connections',
    cases: options.attackers + options.normalClients,
    faults: options.attackers,
    errors: problems.count,
    bytesLost: 0,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    notes: `${latencies.length} normal requests served meanwhile; attackers closed after ≤ ${longest.toFixed(0)} ms`,
    samples: problems.samples,
  }
}

// --- Minimum data rate --------------------------------------------------------------------------

/** Options of {@link slowDrip}. */
export interface SlowDripOptions {
  /** Attackers per server. */
  attackers: number
  /** The RESP server's idleTimeout, ms. */
  idleTimeout: number
  /** One byte per this many ms. */
  drip: number
  /** The minimum rate of the protected server. */
  minRate: MinRate
  /** How many complete commands the attackers on the unprotected server must get answered (proof the idle deadline is defeated). */
  proof: number
}

/**
 * A slow drip that defeats an idle deadline: attackers send `PING\r\n` one byte at a time, so a
 * command completes well within every idle deadline and the connection is never idle. On the
 * RESP server with only idleTimeout they are served for as long as they like; on the same
 * server with `minRate` they are ended with TooSlowError (RS_ERR_TOO_SLOW) within a window or
 * two, while a normal client, sending whole commands, is never affected.
 */
export async function slowDrip(options: SlowDripOptions): Promise<Outcome> {
  const problems = new Problems()
  const limits = { idleTimeout: options.idleTimeout }
  const plain = await watched(respFactory(limits))
  const guarded = await watched(respFactory(limits), { minRate: options.minRate })
  const command = 'PING\r\n'
  const perCommand = command.length * options.drip
  if (perCommand >= options.idleTimeout) throw new RangeError('the drip must complete a command within the idle deadline')
  const onPlain = await openPeers(plain.port, options.attackers)
  const onGuarded = await openPeers(guarded.port, options.attackers)
  const normal = new RawPeer(guarded.port)
  await normal.connected
  let sent = 0
  const start = performance.now()
  const drip = setInterval(() => {
    for (const a of [...onPlain, ...onGuarded]) if (a.isListening) a.socket.write(command[sent % command.length] as string)
    sent++
    if (normal.isListening) normal.socket.write('*1\r\n$4\r\nPING\r\n') // whole commands: never an open frame
  }, options.drip)
  let guardedLifetime = 0
  try {
    await Promise.all(onGuarded.map((a) => a.closed))
    guardedLifetime = performance.now() - start
    // By now the unprotected server has answered the drips for as long: it never saw them idle.
    await Promise.all(onPlain.map((a) => a.until((p) => p.received.length >= options.proof * '+PONG\r\n'.length)))
    for (const a of onPlain) if (a.isClosed) problems.add(`an attacker on the idle-deadline-only server was closed (${a.received.length} bytes received)`)
    const tooSlow = guarded.watch.exceptions.filter((e) => e.code === 'RS_ERR_TOO_SLOW').length
    if (tooSlow !== options.attackers) problems.add(`${tooSlow} TooSlowError exceptions on the minRate server, expected ${options.attackers}`)
    if (plain.watch.exceptions.length > 0) problems.add(`the idle-deadline-only server saw ${plain.watch.exceptions.map((e) => e.code).join(', ')}`)
    const windows = guardedLifetime / options.minRate.per
    // The first open frame fails its window; a busy event loop may let one frame complete first.
    if (windows > 6 + (options.drip * 2) / options.minRate.per) problems.add(`minRate took ${guardedLifetime.toFixed(0)} ms (${windows.toFixed(1)} windows)`)
    await normal.until((p) => p.received.length >= 7)
    if (normal.isClosed || !normal.received.startsWith('+PONG\r\n')) problems.add(`the normal client was ${normal.isClosed ? 'closed' : 'not answered'}`)
  } finally {
    clearInterval(drip)
    for (const a of [...onPlain, ...onGuarded, normal]) a.destroy()
    plain.watch.stop()
    guarded.watch.stop()
    await Promise.all([plain.server.close({ timeout: 0 }), guarded.server.close({ timeout: 0 })])
  }
  return {
    name: 'slow drip: idle deadline vs minRate',
    unit: 'connections',
    cases: 2 * options.attackers + 1,
    faults: 2 * options.attackers,
    errors: problems.count,
    bytesLost: 0,
    notes: `minRate ended the drips after ${guardedLifetime.toFixed(0)} ms; the idle deadline alone let them run`,
    samples: problems.samples,
  }
}

// --- Oversized input ----------------------------------------------------------------------------

interface OversizedCase {
  readonly name: string
  readonly server: 'resp' | 'http' | 'line' | 'framed'
  /** Sent first. */
  readonly prefix: string
  /** Then sent again and again until the server answers or closes (empty: nothing more). */
  readonly filler: string
  /** The answer expected before the close. */
  readonly answer: RegExp
  /** Most input the server may hold for it, besides one read. */
  readonly bound: number
}

const CHUNKED_POST = 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
/** `maxBufferSize` of the stream running FramedEcho: a frame announced larger is a LimitReached. */
const FRAMED_MAX_BUFFER = 64 * 1024

const OVERSIZED: readonly OversizedCase[] = [
  { name: 'line echo: a line that never ends', server: 'line', prefix: '', filler: 'x'.repeat(4096), answer: /^ERR line too long\n$/, bound: MAX_LINE + 1 },
  { name: 'core: a frame larger than maxBufferSize', server: 'framed', prefix: 'len:900000\n', filler: 'y'.repeat(4096), answer: /^limit\n$/, bound: 1024 },
  {
    name: 'RESP: an inline request that never ends',
    server: 'resp',
    prefix: '',
    filler: 'x'.repeat(4096),
    answer: /^-ERR Protocol error: too big inline request\r\n$/,
    bound: RESP_DEFAULTS.maxInlineLength + 1,
  },
  {
    name: 'RESP: a huge multibulk count',
    server: 'resp',
    prefix: '*99999999999\r\n',
    filler: '$1\r\nx\r\n',
    answer: /^-ERR Protocol error: invalid multibulk length\r\n$/,
    bound: 1024,
  },
  {
    name: 'RESP: a huge bulk length',
    server: 'resp',
    prefix: '*2\r\n$3\r\nSET\r\n$99999999999\r\n',
    filler: 'x'.repeat(4096),
    answer: /^-ERR Protocol error: invalid bulk length\r\n$/,
    bound: 1024,
  },
  {
    name: 'RESP: a bulk header that never ends',
    server: 'resp',
    prefix: '*1\r\n$',
    filler: '1'.repeat(4096),
    answer: /^-ERR Protocol error: too big bulk header\r\n$/,
    bound: 1024,
  },
  {
    name: 'HTTP: a request line that never ends',
    server: 'http',
    prefix: 'GET /',
    filler: 'a'.repeat(4096),
    answer: /^HTTP\/1\.1 431 /,
    bound: HTTP_DEFAULTS.maxHeadSize + 4,
  },
  {
    name: 'HTTP: endless headers',
    server: 'http',
    prefix: 'GET / HTTP/1.1\r\nHost: x\r\n',
    filler: 'X-Filler: yyyyyyyyyyyyyyyy\r\n'.repeat(100),
    answer: /^HTTP\/1\.1 431 /,
    bound: HTTP_DEFAULTS.maxHeadSize + 4,
  },
  {
    name: 'HTTP: a huge Content-Length',
    server: 'http',
    prefix: 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999999\r\n\r\n',
    filler: 'z'.repeat(4096),
    answer: /^HTTP\/1\.1 413 /,
    bound: 1024,
  },
  {
    name: 'HTTP: a huge chunk size',
    server: 'http',
    prefix: `${CHUNKED_POST}fffffffffffffff\r\n`,
    filler: 'z'.repeat(4096),
    answer: /^HTTP\/1\.1 413 /,
    bound: 1024,
  },
  {
    name: 'HTTP: an endless chunk extension',
    server: 'http',
    prefix: `${CHUNKED_POST}1;`,
    filler: 'e'.repeat(4096),
    answer: /^HTTP\/1\.1 400 /,
    bound: 4096 + 2,
  },
  {
    name: 'HTTP: endless trailers',
    server: 'http',
    prefix: `${CHUNKED_POST}0\r\n`,
    filler: 'T: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n'.repeat(50),
    answer: /^HTTP\/1\.1 431 /,
    bound: 16 * 1024 + 2,
  },
]

/**
 * Input that never satisfies the expectation: a delimiter that never comes, a huge declared
 * length, endless headers. Each client keeps sending (up to `maxSend` bytes) until the server
 * answers with the protocol's error and closes; the input the server held when the limit was
 * reached stays within the limit plus one read, and the process does not grow with `maxSend`.
 */
export async function oversized(options: { maxSend: number; rounds?: number }): Promise<Outcome> {
  const problems = new Problems()
  const servers = {
    resp: await watched(respFactory()),
    http: await watched(httpFactory()),
    line: await watched(LineEcho.create),
    framed: await watched(FramedEcho.create, { maxBufferSize: FRAMED_MAX_BUFFER }),
  }
  const rssBefore = process.memoryUsage.rss()
  let sentTotal = 0
  let faults = 0
  try {
    for (let round = 0; round < (options.rounds ?? 1); round++) {
      for (const c of OVERSIZED) {
        const { watch, port } = servers[c.server]
        watch.peakInputAtException = 0
        const peer = new RawPeer(port)
        await peer.connected
        let sent = 0
        await peer.write(c.prefix)
        sent += c.prefix.length
        while (c.filler.length > 0 && peer.isListening && peer.receivedBytes === 0 && sent < options.maxSend) {
          await peer.write(c.filler)
          sent += c.filler.length
        }
        sentTotal += sent
        faults++
        // The answer, then the server's close.
        if (!(await peer.until((p) => c.answer.test(p.received)))) problems.add(`${c.name}: neither an answer nor a close`)
        if (!peer.socket.destroyed) peer.socket.end()
        await peer.closed
        if (!c.answer.test(peer.received))
          problems.add(`${c.name}: answered ${JSON.stringify(peer.received.slice(0, 80))} after ${sent} bytes (${peer.error?.code ?? 'no error'})`)
        if (watch.peakInputAtException > c.bound + READ_SIZE)
          problems.add(`${c.name}: the server held ${watch.peakInputAtException} bytes, over ${c.bound} + one read`)
        await watch.drained()
      }
    }
  } finally {
    for (const { server, watch } of Object.values(servers)) {
      watch.stop()
      await server.close({ timeout: 0 })
    }
  }
  const grown = (process.memoryUsage.rss() - rssBefore) / 2 ** 20
  // A server that buffered what it was sent would grow by maxSend per connection, at least once.
  if (grown > Math.max(64, options.maxSend / 2 ** 20)) problems.add(`RSS grew ${grown.toFixed(0)} MiB while ${(sentTotal / 2 ** 20).toFixed(0)} MiB were sent`)
  return {
    name: 'oversized input (delimiter, lengths, headers)',
    unit: 'connections',
    cases: faults,
    faults,
    errors: problems.count,
    bytesLost: 0,
    notes: `${(sentTotal / 2 ** 20).toFixed(0)} MiB sent in all; RSS grew ${grown.toFixed(0)} MiB`,
    samples: problems.samples,
  }
}

// --- A peer that never reads --------------------------------------------------------------------

/** Options of {@link neverReads}. */
export interface NeverReadsOptions {
  /** Peers that send requests and never read. */
  peers: number
  /** Requests each peer pipelines. */
  requests: number
  /** Bytes of each answer. */
  answerSize: number
  /** The read deadline of the protocol, ms. */
  timeout: number
  /** For the RESP and HTTP servers: how long the peer does not read before it reads everything, ms. */
  stall: number
}

/**
 * Peers pipeline requests whose answers are far larger than any buffer and never read them.
 * Pushback holds each server stream at about outputHighWaterMark (it stops reading, so the
 * requests stay in the kernel), and the protocol's read deadline ends the stream. The RESP and
 * HTTP servers, stalled the same way, must hold as little, and once the peer reads again it
 * gets every answer, complete and in order.
 */
export async function neverReads(options: NeverReadsOptions): Promise<Outcome> {
  const problems = new Problems()
  // Pushback is checked before each protocol call, and one call may add up to 64 KiB plus one
  // answer (the servers' per-call bound); the input may hold a large request (the SET).
  const perStream = DEFAULT_OUTPUT_HIGH_WATER_MARK + 2 * options.answerSize + 2 * READ_SIZE
  let peak = 0
  let bytesLost = 0
  // 1. A protocol with a read deadline: the deadline ends the stalled stream.
  {
    const { server, watch, port } = await watched(Blobs.factory(options.answerSize, options.timeout))
    watch.sampleEvery(5)
    const peers = await openPeers(port, options.peers, { read: false })
    try {
      for (const p of peers) p.socket.write('get\n'.repeat(options.requests))
      await watch.drained()
      for (const reason of watch.fatals)
        if ((reason as { code?: string }).code !== 'RS_ERR_TIMEOUT') problems.add(`Blobs ended with ${reason.name}: ${reason.message}`)
      if (watch.fatals.length !== options.peers) problems.add(`${watch.fatals.length} streams ended by the deadline, expected ${options.peers}`)
    } finally {
      for (const p of peers) p.destroy()
      watch.stop()
      await server.close({ timeout: 0 })
    }
    watch.sample()
    peak = Math.max(peak, watch.peak / options.peers)
    if (watch.peak > options.peers * perStream) problems.add(`Blobs: the server held ${watch.peak} bytes for ${options.peers} peers, over ${perStream} each`)
  }
  // 2. The RESP server: GETs of a large value, pipelined in one write (a 100x amplification).
  {
    const { server, watch, port } = await watched(respFactory())
    watch.sampleEvery(5)
    const value = 'v'.repeat(options.answerSize)
    const peer = new RawPeer(port, { read: false, keepTail: 2 * options.answerSize })
    try {
      await peer.connected
      const set = `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${value.length}\r\n${value}\r\n`
      const get = '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'
      await peer.write(set + get.repeat(options.requests))
      await stalled(options.stall)
      watch.sample()
      peer.read()
      const reply = `$${value.length}\r\n${value}\r\n`
      const expected = 5 + options.requests * reply.length
      await peer.until((p) => p.receivedBytes >= expected)
      if (peer.receivedBytes !== expected || !peer.head.startsWith('+OK\r\n') || !peer.received.endsWith(reply)) {
        problems.add(`RESP: got ${peer.receivedBytes} of ${expected} bytes of answers (closed ${peer.isClosed}, ${peer.error?.code})`)
        bytesLost += Math.max(0, expected - peer.receivedBytes)
      }
    } finally {
      peer.destroy()
      watch.stop()
      await server.close({ timeout: 0 })
    }
    peak = Math.max(peak, watch.peak)
    if (watch.peak > perStream + 64 * 1024)
      problems.add(`RESP: the server held ${watch.peak} bytes for a peer that does not read, over ${perStream + 64 * 1024}`)
  }
  // 3. The HTTP server: pipelined GETs of a large resource, in one write (the same amplification).
  {
    const body = 'b'.repeat(options.answerSize)
    const router = demoRouter().get('/big', () => ({ headers: { 'Content-Type': 'text/plain' }, body }))
    const { server, watch, port } = await watched(HttpConnection.factory({ handler: router.handle, date: null }))
    watch.sampleEvery(5)
    const peer = new RawPeer(port, { read: false, keepTail: 2 * options.answerSize })
    try {
      await peer.connected
      await peer.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(options.requests))
      await stalled(options.stall)
      watch.sample()
      peer.read()
      const answer = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`
      const expected = options.requests * answer.length
      await peer.until((p) => p.receivedBytes >= expected)
      if (peer.receivedBytes !== expected || !peer.received.endsWith(answer)) {
        problems.add(`HTTP: got ${peer.receivedBytes} of ${expected} bytes of answers (closed ${peer.isClosed}, ${peer.error?.code})`)
        bytesLost += Math.max(0, expected - peer.receivedBytes)
      }
    } finally {
      peer.destroy()
      watch.stop()
      await server.close({ timeout: 0 })
    }
    peak = Math.max(peak, watch.peak)
    if (watch.peak > perStream + 64 * 1024)
      problems.add(`HTTP: the server held ${watch.peak} bytes for a peer that does not read, over ${perStream + 64 * 1024}`)
  }
  return {
    name: 'peer that never reads (pushback)',
    unit: 'peers',
    cases: options.peers + 2,
    faults: options.peers + 2,
    errors: problems.count,
    bytesLost,
    notes: `held ≤ ${(peak / 2 ** 20).toFixed(2)} MiB per stream (answers ${(options.requests * options.answerSize) / 2 ** 20} MiB per peer)`,
    samples: problems.samples,
  }
}

/** The peer's stall: it does not read for `ms` (a peer's behaviour, not a wait for an event). */
function stalled(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
