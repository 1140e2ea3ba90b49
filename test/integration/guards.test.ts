/**
 * The guarantees of the README under hostile use, over real sockets: a spinning handler ends
 * only its own connection and is reported, a sleeping connection notices its peer leaving, a
 * Persistent client waiting for work reconnects at once, output after halfClose() is refused,
 * and the async API is asked for explicitly.
 */
import assert from 'node:assert/strict'
import type { EventEmitter } from 'node:events'
import net from 'node:net'
import { describe, test } from 'node:test'
import {
  type Connection,
  type Exception,
  expectFrame,
  type HandlerError,
  handleAsync,
  Intent,
  lines,
  open,
  Persistent,
  type Protocol,
  type Scope,
  type Server,
  Stream,
  serve,
  type Transport,
} from 'rotor-stream'
import { LineEcho } from '../../examples/line-echo.js'

const T = { timeout: 20_000 }
const LOCALHOST = '127.0.0.1'

/**
 * Connects, sends `request` (then FIN unless `keepOpen`), resolves with everything received
 * until the server closes.
 */
function exchange(port: number, request: string, keepOpen = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, LOCALHOST)
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()))
    if (keepOpen) socket.write(request)
    else socket.end(request)
  })
}

/** The next `event` of `emitter`; bounded by the test's timeout. */
function next<A extends unknown[]>(emitter: EventEmitter, event: string): Promise<A> {
  return new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as A)))
}

/** Echoes lines; the line "spin" turns it into a wakeup that keeps calling its own notifier. */
class MaybeSpinner implements Protocol {
  static create(): Intent<MaybeSpinner> {
    return new MaybeSpinner().#read()
  }
  bytesRead(t: Transport, end: number, scope: Scope): Intent<MaybeSpinner> {
    const line = t.input.toString('latin1', 0, end)
    t.input.consume(end + 1)
    if (line === 'spin') {
      scope.notifier()()
      return Intent.of(this).sleep()
    }
    t.output.write(`${line}\n`)
    return this.#read()
  }
  wakeup(_t: Transport, scope: Scope): Intent<MaybeSpinner> {
    scope.notifier()() // "look again soon", forever
    return Intent.of(this).sleep()
  }
  #read(): Intent<MaybeSpinner> {
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
}

describe('a handler that spins or throws', () => {
  test('ends only the spinning connection, reports it to onError, and serves the others meanwhile', T, async (t) => {
    const errors: HandlerError[] = []
    const server = await serve({ host: LOCALHOST, port: 0, onError: (e) => errors.push(e) }, MaybeSpinner.create)
    t.after(() => server.close({ timeout: 0 }))
    const { port } = server.address as { port: number }
    const spinning = exchange(port, 'spin\n', true) // no FIN: a sleeping stream would hear of it and end
    // While it spins (one wakeup per turn of the event loop), another client is answered.
    assert.equal(await exchange(port, 'hello\n'), 'hello\n')
    assert.equal(await spinning, '', 'the spinner is closed without an answer')
    assert.equal(errors.length, 1)
    assert.equal(errors[0]?.handler, 'wakeup')
    assert.match(String((errors[0]?.cause as Error | undefined)?.message), /wakeup ran 10000 times in a row/)
  })

  test('prints a handler error to stderr by default, one entry with the code, handler and stack', T, async (t) => {
    const printed: string[] = []
    const original = console.error
    console.error = (...args: unknown[]) => printed.push(args.join(' '))
    t.after(() => {
      console.error = original
    })
    const boom: Protocol = {
      bytesRead() {
        throw new Error('boom in the protocol')
      },
    }
    const server = await serve({ host: LOCALHOST, port: 0 }, () => Intent.of(boom).expectBytes(1))
    t.after(() => server.close({ timeout: 0 }))
    await exchange((server.address as { port: number }).port, 'x')
    await new Promise((resolve) => setImmediate(resolve))
    console.error = original
    assert.equal(printed.length, 1, printed.join('\n'))
    assert.match(printed[0] as string, /^rotor-stream: RS_ERR_HANDLER in bytesRead \(peer 127\.0\.0\.1:\d+\): Error: boom in the protocol\n\s+at /)
  })

  test('refuses an async function as a factory at serve(), naming handleAsync', T, () => {
    assert.throws(
      () => serve({ host: LOCALHOST, port: 0 }, (async () => {}) as never),
      (err: Error & { code?: string }) => err.code === 'RS_ERR_INVALID_ARG' && /handleAsync/.test(err.message),
    )
  })

  test('ends only the connection when a plain function returns a promise, and says to use handleAsync', T, async (t) => {
    const errors: HandlerError[] = []
    const promising = ((conn: Connection) => Promise.resolve(conn)) as never
    const server = await serve({ host: LOCALHOST, port: 0, onError: (e) => errors.push(e) }, promising)
    t.after(() => server.close({ timeout: 0 }))
    assert.equal(await exchange((server.address as { port: number }).port, 'x'), '')
    assert.equal(errors.length, 1)
    assert.equal(errors[0]?.handler, 'factory')
    assert.match(String((errors[0]?.cause as Error | undefined)?.message), /handleAsync/)
  })

  test('serves other connections while an async handler retries its reads in a loop after the end', T, async (t) => {
    let stop = false
    let retries = 0
    const server = await serve(
      { host: LOCALHOST, port: 0 },
      handleAsync(async (conn) => {
        const first = await conn.readUntil('\n', { max: 100 })
        if (first.toString() === 'echo') {
          conn.write('echo\n')
          return
        }
        while (!stop) {
          try {
            await conn.readExactly(1) // rejects at once: the peer has ended
          } catch {
            retries++ // and try again, forever: a bug, but it must not hang the process
          }
        }
      }),
    )
    t.after(() => server.close({ timeout: 0 }))
    const { port } = server.address as { port: number }
    const looping = exchange(port, 'loop\n')
    while (retries === 0) await new Promise((resolve) => setTimeout(resolve, 5)) // bounded by the test's timeout
    assert.equal(await exchange(port, 'echo\n'), 'echo\n')
    stop = true
    await looping
  })

  test('reports an async handler that throws to onError as a HandlerError, cause kept', T, async (t) => {
    const errors: HandlerError[] = []
    const thrown = new Error('async boom')
    const server = await serve(
      { host: LOCALHOST, port: 0, onError: (e) => errors.push(e) },
      handleAsync(async (conn) => {
        await conn.readExactly(1)
        throw thrown
      }),
    )
    t.after(() => server.close({ timeout: 0 }))
    await exchange((server.address as { port: number }).port, 'x')
    assert.equal(errors.length, 1)
    assert.equal(errors[0]?.handler, 'async handler')
    assert.equal(errors[0]?.cause, thrown)
  })
})

describe('a sleeping connection notices its peer', () => {
  /** Sleeps forever; records the exceptions it hears of. */
  function sleeper(heard: Exception[], done: () => void) {
    const p: Protocol = {
      bytesRead: () => assert.fail('bytesRead must not run'),
      exception(_t: Transport, reason: Exception) {
        heard.push(reason)
        done()
        return reason.code === 'RS_ERR_END_OF_STREAM' ? Intent.done() : Intent.error(reason)
      },
    }
    return () => Intent.of(p).sleep()
  }

  for (const how of ['FIN', 'reset'] as const) {
    test(`hears of the peer's ${how} while asleep, with bytes sent before it kept`, T, async (t) => {
      const heard: Exception[] = []
      let buffered = ''
      let resolveHeard: () => void = () => {}
      const wasHeard = new Promise<void>((resolve) => {
        resolveHeard = resolve
      })
      const server = net.createServer((socket) => {
        const stream = Stream.attach(
          socket,
          sleeper(heard, () => {
            buffered = stream.input.toString()
            resolveHeard()
          }),
        )
      })
      await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve))
      t.after(() => server.close())
      const client = net.connect((server.address() as net.AddressInfo).port, LOCALHOST)
      await new Promise((resolve) => client.once('connect', resolve))
      client.write('unsolicited')
      await new Promise((resolve) => setTimeout(resolve, 50))
      if (how === 'FIN') client.end()
      else client.resetAndDestroy()
      await wasHeard
      client.destroy()
      assert.equal(heard.length, 1)
      assert.equal(heard[0]?.code, how === 'FIN' ? 'RS_ERR_END_OF_STREAM' : 'RS_ERR_READ')
      assert.equal(buffered, 'unsolicited')
    })
  }
})

/** A client that sleeps until asked, then sends "ping <n>" and waits for the echo. */
class Requester implements Protocol {
  static pending: ((reply: string) => void)[] = []
  static sent = 0
  static create(): Intent<Requester> {
    return Intent.of(new Requester()).sleep()
  }
  wakeup(t: Transport): Intent<Requester> {
    if (Requester.pending.length === 0) return Intent.of(this).sleep()
    t.output.write(`ping ${++Requester.sent}\n`)
    return Intent.of(this).expectDelimiter('\n', { max: 100 })
  }
  bytesRead(t: Transport, end: number): Intent<Requester> {
    const reply = t.input.toString('latin1', 0, end)
    t.input.consume(end + 1)
    Requester.pending.shift()?.(reply)
    return Intent.of(this).sleep()
  }
}

describe('Persistent with a protocol that sleeps between requests', () => {
  test('reconnects within its backoff each time the server closes while it sleeps, and the next request succeeds', T, async (t) => {
    let server: Server = await serve({ host: LOCALHOST, port: 0 }, LineEcho.create)
    const { port } = server.address as { port: number }
    const client = new Persistent({ host: LOCALHOST, port }, Requester.create, { reconnect: { initialDelay: 20, maxDelay: 200, jitter: 0 } })
    t.after(async () => {
      await client.stop()
      await server.close({ timeout: 0 })
    })
    await next(client, 'connect')
    for (let restart = 1; restart <= 5; restart++) {
      const reply = new Promise<string>((resolve) => Requester.pending.push(resolve))
      client.wakeup()
      assert.match(await reply, /^ping \d+$/)
      // The client is asleep now. The server goes away: the client must see it at once, not on
      // its next request.
      const disconnected = next<[Error | undefined]>(client, 'disconnect')
      await server.close({ timeout: 0 })
      await disconnected
      assert.notEqual(client.state, 'connected')
      const connected = next(client, 'connect')
      server = await serve({ host: LOCALHOST, port }, LineEcho.create)
      await connected
    }
    const last = new Promise<string>((resolve) => Requester.pending.push(resolve))
    client.wakeup()
    assert.match(await last, /^ping \d+$/)
  })
})

describe('output after halfClose() over a socket', () => {
  test('ends the stream with a WriteError, never a clean close that lost the output', T, async (t) => {
    let stream: Stream | undefined
    const server = net.createServer((socket) => {
      const p: Protocol = {
        bytesRead(tr: Transport, end: number) {
          tr.input.consume(end)
          tr.output.write('answer\n')
          tr.halfClose()
          tr.output.write('after the FIN\n')
          return Intent.done()
        },
      }
      stream = Stream.attach(socket, () => Intent.of(p).expectBytes(1), undefined, { onError: null })
    })
    await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve))
    t.after(() => server.close())
    const received = await exchange((server.address() as net.AddressInfo).port, 'x')
    assert.equal(received, 'answer\n')
    const reason = await (stream as Stream).closed
    assert.equal((reason as Error & { code?: string }).code, 'RS_ERR_WRITE')
    assert.equal(((reason as Error).cause as NodeJS.ErrnoException).code, 'ERR_STREAM_WRITE_AFTER_END')
  })
})

describe('a bad frame among good ones over a socket', () => {
  test('answers the frames before it whatever the split, then ends', T, async (t) => {
    const framer = lines({ max: 8 })
    const echo: Protocol = {
      bytesRead(tr: Transport) {
        const scan = framer.scan(tr.input)
        if (scan.kind === 'frame') {
          tr.output.write(`${tr.input.toString('latin1', scan.start, scan.end)}!\n`)
          tr.input.consume(scan.size)
        }
        return expectFrame(Intent.of(echo), framer, tr.input)
      },
    }
    const server = await serve({ host: LOCALHOST, port: 0 }, () => Intent.of(echo).expectBytes(0))
    t.after(() => server.close({ timeout: 0 }))
    const conn = await open(server.address)
    conn.write('one\ntwo\nmuch too long a line\n')
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'one!')
    assert.equal((await conn.readUntil('\n', { max: 100 })).toString(), 'two!')
    await assert.rejects(conn.readExactly(1), { code: 'RS_ERR_END_OF_STREAM' })
    await conn.end()
  })
})

describe('lingering close against a peer that never closes', () => {
  test('after Intent.done() a peer that keeps sending is cut off after lingerTimeout; the end stays clean', T, async (t) => {
    const bye: Protocol = {
      bytesRead(tr: Transport, end: number) {
        tr.input.consume(end)
        tr.output.write('bye\n')
        return Intent.done()
      },
    }
    let stream: Stream | undefined
    const server = net.createServer((socket) => {
      stream = Stream.attach(socket, () => Intent.of(bye).expectBytes(1), undefined, { lingerTimeout: 100 })
    })
    await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve))
    t.after(() => server.close())
    const client = net.connect((server.address() as net.AddressInfo).port, LOCALHOST)
    client.on('error', () => {}) // the cut may come as a reset while it writes
    let received = ''
    client.on('data', (c: Buffer) => {
      received += c.toString()
    })
    const drip = setInterval(() => client.write('still here\n'), 10)
    t.after(() => clearInterval(drip))
    client.write('x')
    await new Promise((resolve) => client.once('close', resolve))
    clearInterval(drip)
    assert.equal(received, 'bye\n')
    assert.equal(await (stream as Stream).closed, undefined)
  })
})
