/**
 * A Redis (RESP2) client on a `Persistent` connection: promise-returning commands, automatic
 * pipelining, replies matched in order, reconnection with a bounded offline queue.
 *
 *     const redis = new RedisClient({ host: '127.0.0.1', port: 6379 })
 *     await redis.command('SET', 'greeting', 'hello')
 *     console.log(await redis.command('GET', 'greeting')) // 'hello'
 *     await redis.close()
 *
 * How it works: `command()` queues the command and wakes the protocol (`Persistent.wakeup()`).
 * Wakeups coalesce into one per microtask, so every command issued in the same tick goes out in
 * one socket write. The protocol keeps the commands it wrote, in order, and settles the oldest
 * each time a complete reply has been parsed. Replies are parsed incrementally and consumed as
 * they are parsed, so a reply split over many reads is never parsed twice.
 *
 * Failures: while disconnected, commands wait in the queue (at most `maxOfflineQueue`) and go
 * out after the reconnect. Commands already written when the connection drops are rejected with
 * a `ClosedError` — they may or may not have run, so they are never silently sent again.
 */
import {
  type Address,
  ClosedError,
  type Exception,
  Intent,
  LimitReachedError,
  Persistent,
  type PersistentOptions,
  type Protocol,
  ProtocolError,
  type Scope,
  TimeoutError,
  type Transport,
} from 'rotor-stream'

/** A RESP2 reply: simple string or bulk (string), integer, null, or an array of replies. */
export type RedisReply = string | number | Buffer | null | RedisReply[]

/** An error reply from the server (`-ERR ...`): the command ran and failed. */
export class ReplyError extends Error {
  override name = 'ReplyError'
  /** The first word of the error: `ERR`, `WRONGTYPE`, ... */
  readonly prefix: string
  constructor(message: string) {
    super(message)
    this.prefix = message.split(' ', 1)[0] ?? 'ERR'
  }
}

/** Options of a {@link RedisClient}. */
export interface RedisClientOptions extends Pick<PersistentOptions, 'connectTimeout' | 'reconnect' | 'tls' | 'stableAfter' | 'random'> {
  /** Commands allowed to wait while disconnected; more are rejected at once. @default 10000 */
  maxOfflineQueue?: number
  /** Commands written and awaiting replies at most; more wait in the queue. @default 4096 */
  maxInFlight?: number
  /** A reply that takes longer than this (ms) fails the connection (and its commands). @default 10000 */
  commandTimeout?: number
  /** Bulk replies as Buffers instead of utf8 strings. @default false */
  returnBuffers?: boolean
}

interface Pending {
  readonly args: readonly (string | Buffer | number)[]
  readonly resolve: (reply: RedisReply) => void
  readonly reject: (err: Error) => void
}

const LF = Buffer.from('\n')
const CR = 0x0d
/** Longest status, error or header line accepted from the server, in bytes. */
const MAX_LINE = 64 * 1024
/** Stop adding commands to one round's output beyond this many bytes. */
const MAX_BATCH_BYTES = 256 * 1024

export class RedisClient {
  readonly #persistent: Persistent
  /** Commands not written yet, oldest first. */
  #queue: Pending[] = []
  /** Index of the first unwritten command in `#queue` (shifting arrays is O(n)). */
  #queueHead = 0
  #closed = false
  readonly #maxOfflineQueue: number
  readonly options: Required<Pick<RedisClientOptions, 'maxInFlight' | 'commandTimeout' | 'returnBuffers'>>

  constructor(address: Address, options: RedisClientOptions = {}) {
    this.#maxOfflineQueue = options.maxOfflineQueue ?? 10_000
    this.options = { maxInFlight: options.maxInFlight ?? 4096, commandTimeout: options.commandTimeout ?? 10_000, returnBuffers: options.returnBuffers ?? false }
    const { maxOfflineQueue: _q, maxInFlight: _f, commandTimeout: _c, returnBuffers: _b, ...persistent } = options
    this.#persistent = new Persistent(address, (t, _seed, scope) => new RedisConnection(this).start(t, scope), persistent)
  }

  /** The underlying connection manager (state, events `connect`, `disconnect`, `giveup`). */
  get connection(): Persistent {
    return this.#persistent
  }

  /** Sends a command; resolves with its reply, rejects with a `ReplyError` for an error reply. */
  command(...args: (string | Buffer | number)[]): Promise<RedisReply> {
    if (this.#closed) return Promise.reject(new ClosedError('client closed'))
    if (args.length === 0) return Promise.reject(new TypeError('command needs a name'))
    const waiting = this.#queue.length - this.#queueHead
    if (this.#persistent.state !== 'connected' && waiting >= this.#maxOfflineQueue) {
      return Promise.reject(new LimitReachedError(this.#maxOfflineQueue, `offline queue full (${this.#maxOfflineQueue} commands)`))
    }
    return new Promise<RedisReply>((resolve, reject) => {
      this.#queue.push({ args, resolve, reject })
      this.#persistent.wakeup() // coalesced: one wakeup, one write, for all commands of this tick
    })
  }

  /** Closes the connection; queued commands are rejected with a `ClosedError`. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#persistent.stop()
    for (const pending of this.#drainQueue()) pending.reject(new ClosedError('client closed'))
  }

  /** Takes queued commands to write, up to `max`. @internal */
  takeQueued(max: number): Pending[] {
    const end = Math.min(this.#queue.length, this.#queueHead + max)
    const taken = this.#queue.slice(this.#queueHead, end)
    this.#queueHead = end
    if (this.#queueHead === this.#queue.length) {
      this.#queue = []
      this.#queueHead = 0
    }
    return taken
  }

  /** Whether commands wait to be written. @internal */
  get hasQueued(): boolean {
    return this.#queue.length > this.#queueHead
  }

  #drainQueue(): Pending[] {
    return this.takeQueued(Number.POSITIVE_INFINITY)
  }
}

/** One connection's protocol: writes queued commands, parses replies, settles them in order. */
class RedisConnection implements Protocol {
  /** `header`: at a reply's (or array element's) type line; `bulk`: waiting for `bulkLength` bytes + CRLF. */
  phase: 'header' | 'bulk' = 'header'
  /** Length of the bulk string being read (phase `bulk`). */
  bulkLength = 0
  /** Arrays being filled, innermost last: nested replies without recursion or reparsing. */
  readonly stack: { items: RedisReply[]; remaining: number }[] = []
  /** Commands written and awaiting replies, oldest first (from `inFlightHead`). */
  inFlight: Pending[] = []
  inFlightHead = 0
  readonly #client: RedisClient

  constructor(client: RedisClient) {
    this.#client = client
  }

  /** On a new connection: the commands queued while disconnected go out in the first write. */
  start(t: Transport, scope: Scope): Intent<RedisConnection> {
    this.writeQueued(t)
    return this.next(scope)
  }

  wakeup(t: Transport, scope: Scope): Intent<RedisConnection> {
    this.writeQueued(t)
    return this.next(scope)
  }

  bytesRead(t: Transport, end: number, scope: Scope): Intent<RedisConnection> {
    const input = t.input
    let lf = end
    for (;;) {
      if (this.phase === 'bulk') {
        const need = this.bulkLength + 2
        if (input.length < need) return Intent.of(this).expectBytes(need).timeout(this.#client.options.commandTimeout)
        const bytes = input.view(0, this.bulkLength)
        const value = this.#client.options.returnBuffers ? Buffer.from(bytes) : bytes.toString()
        input.consume(need)
        this.phase = 'header'
        this.emit(value)
      } else {
        if (lf < 0) break
        if (lf < 1 || input.byte(lf - 1) !== CR) return Intent.error(new ProtocolError('reply line not ended by CRLF'))
        const type = input.byte(0)
        const line = input.toString('latin1', 1, lf - 1)
        input.consume(lf + 1)
        switch (type) {
          case 0x2b: // '+' simple string
            this.emit(line)
            break
          case 0x2d: // '-' error
            this.emit(new ReplyError(line) as unknown as RedisReply)
            break
          case 0x3a: // ':' integer
            this.emit(Number(line))
            break
          case 0x24: {
            // '$' bulk string
            const length = Number(line)
            if (!Number.isInteger(length) || length < -1) return Intent.error(new ProtocolError(`bad bulk length ${line}`))
            if (length === -1) this.emit(null)
            else {
              this.phase = 'bulk'
              this.bulkLength = length
            }
            break
          }
          case 0x2a: {
            // '*' array
            const count = Number(line)
            if (!Number.isInteger(count) || count < -1) return Intent.error(new ProtocolError(`bad array length ${line}`))
            if (count === -1) this.emit(null)
            else if (count === 0) this.emit([])
            else this.stack.push({ items: [], remaining: count })
            break
          }
          default:
            return Intent.error(new ProtocolError(`unexpected reply type ${String.fromCharCode(type ?? 0)}`))
        }
      }
      if (this.phase === 'header') lf = input.indexOf(0x0a)
    }
    // Replies freed room in the window: top it up.
    if (this.#client.hasQueued) this.writeQueued(t)
    return this.next(scope)
  }

  /** A complete value: fills the innermost open array, or settles the oldest command. */
  emit(value: RedisReply): void {
    let done = value
    for (;;) {
      const top = this.stack[this.stack.length - 1]
      if (top === undefined) break
      top.items.push(done)
      if (--top.remaining > 0) return
      this.stack.pop()
      done = top.items
    }
    const pending = this.inFlight[this.inFlightHead++]
    if (this.inFlightHead === this.inFlight.length) {
      this.inFlight = []
      this.inFlightHead = 0
    }
    if (pending === undefined) throw new ProtocolError('a reply arrived for no command')
    if (done instanceof ReplyError) pending.reject(done)
    else pending.resolve(done)
  }

  /** Writes queued commands into this round's output, within the in-flight window. */
  writeQueued(t: Transport): void {
    const room = this.#client.options.maxInFlight - (this.inFlight.length - this.inFlightHead)
    if (room <= 0) return
    const out = t.output
    for (const pending of this.#client.takeQueued(room)) {
      out.write(`*${pending.args.length}\r\n`)
      for (const arg of pending.args) {
        const bytes = typeof arg === 'string' ? arg : typeof arg === 'number' ? String(arg) : arg
        out.write(`$${typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length}\r\n`)
        out.write(bytes)
        out.write('\r\n')
      }
      this.inFlight.push(pending)
      if (out.length > MAX_BATCH_BYTES) break
    }
    // What did not fit waits; replies to what was sent will make room (see bytesRead).
  }

  /** Wait for a reply line; a deadline only while replies are owed. */
  next(_scope: Scope): Intent<RedisConnection> {
    const intent = Intent.of(this).expectDelimiter(LF, { max: MAX_LINE })
    return this.inFlight.length > this.inFlightHead ? intent.timeout(this.#client.options.commandTimeout) : intent
  }

  timeout(): Intent<RedisConnection> {
    return Intent.error(new TimeoutError(`no reply within ${this.#client.options.commandTimeout} ms`))
  }

  exception(_t: Transport, reason: Exception): Intent<RedisConnection> {
    return Intent.error(reason) // end of stream, read error, a line over MAX_LINE: the connection is lost
  }

  fatal(reason: Error): void {
    // The commands already written may or may not have run: reject them, never resend them.
    const lost = this.inFlight.slice(this.inFlightHead)
    this.inFlight = []
    this.inFlightHead = 0
    for (const pending of lost) pending.reject(new ClosedError(`connection lost before the reply: ${reason.message}`, { cause: reason }))
  }
}
