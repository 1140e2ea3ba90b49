/**
 * The protocol of one Redis client connection: writes queued commands, parses replies, settles
 * the commands in order. A new one is made for every connection of the client's `Persistent`.
 */
import { ClosedError, type Exception, Intent, type Protocol, type Scope, TimeoutError, type Transport } from 'rotor-stream'
import { Encoder } from './encoder.js'
import { MAX_LINE, ReplyParser } from './parser.js'
import type { Command, CommandQueue } from './queue.js'

/** What a connection needs of its client's options. */
export interface ConnectionOptions {
  /** Commands written and awaiting replies at most; more wait in the queue. */
  readonly maxInFlight: number
  /** A reply that takes longer than this (ms) fails the connection (and its commands). */
  readonly commandTimeout: number
  /** Bulk replies as Buffers instead of utf8 strings. */
  readonly returnBuffers: boolean
}

const LF = Buffer.from('\n')
/** Options of every reply-line expectation (one object, not one per round). */
const LINE = { max: MAX_LINE } as const
/** Stop adding commands to one round's output beyond this many bytes. */
const MAX_BATCH_BYTES = 256 * 1024
/** Shared by every connection: a round's encoding runs to its end synchronously. */
const ENCODER = new Encoder()

/** One connection's protocol: writes queued commands, parses replies, settles them in order. */
export class RedisConnection implements Protocol {
  readonly #parser: ReplyParser
  /**
   * The command deadline (ms, `scope.now()` clock) set when replies were last owed, kept while
   * idle so that the stream's timer stays armed instead of being cleared and re-created for
   * every command; NaN when none is armed.
   */
  #deadline = Number.NaN
  readonly #queue: CommandQueue
  readonly #options: ConnectionOptions

  constructor(queue: CommandQueue, options: ConnectionOptions) {
    this.#queue = queue
    this.#options = options
    this.#parser = new ReplyParser(options.returnBuffers, (reply) => queue.settle(reply))
  }

  /** On a new connection: the commands queued while disconnected go out in the first write. */
  start(t: Transport, scope: Scope): Intent<RedisConnection> {
    this.#writeQueued(t)
    return this.#next(scope)
  }

  wakeup(t: Transport, scope: Scope): Intent<RedisConnection> {
    this.#writeQueued(t)
    return this.#next(scope)
  }

  /**
   * Parses every complete reply of the input in one pass over one view and consumes once at the
   * end: a partial reply is left for the next read, its parse state kept (see ReplyParser).
   */
  bytesRead(t: Transport, end: number, scope: Scope): Intent<RedisConnection> {
    const input = t.input
    const parsed = this.#parser.parse(input.view(), end) // the view is not kept past the call
    if (typeof parsed !== 'number') return Intent.error(parsed)
    input.consume(parsed)
    const bulkBytes = this.#parser.bulkBytes
    if (bulkBytes !== null) return this.#expect(Intent.of(this).expectBytes(bulkBytes), scope)
    // Replies freed room in the window: top it up.
    if (this.#queue.waiting > 0) this.#writeQueued(t)
    return this.#next(scope)
  }

  timeout(_t: Transport, scope: Scope): Intent<RedisConnection> {
    this.#deadline = Number.NaN
    if (this.#queue.inFlight === 0) return this.#next(scope) // the deadline kept while idle ran out: the timer stops
    return Intent.error(new TimeoutError(`no reply within ${this.#options.commandTimeout} ms`))
  }

  exception(_t: Transport, reason: Exception): Intent<RedisConnection> {
    return Intent.error(reason) // end of stream, read error, a line over MAX_LINE: the connection is lost
  }

  fatal(reason: Error): void {
    // The commands already written may or may not have run: reject them, never resend them.
    for (const command of this.#queue.dropInFlight()) {
      command.reject(new ClosedError(`connection lost before the reply: ${reason.message}`, { cause: reason }))
    }
  }

  /** Writes queued commands into this round's output, within the in-flight window and MAX_BATCH_BYTES. */
  #writeQueued(t: Transport): void {
    const queue = this.#queue
    const room = this.#options.maxInFlight - queue.inFlight
    if (room <= 0) return
    const out = t.output
    const items = queue.items
    const stop = Math.min(items.length, queue.writeHead + room)
    let i = queue.writeHead
    const encoder = ENCODER
    encoder.begin()
    while (i < stop) {
      encoder.encode((items[i++] as Command).args, out) // i < stop <= items.length
      if (encoder.size > MAX_BATCH_BYTES) break
    }
    encoder.flush(out)
    queue.writeHead = i
    // What did not fit waits; replies to what was sent will make room (see bytesRead).
  }

  /** Wait for a reply line. */
  #next(scope: Scope): Intent<RedisConnection> {
    return this.#expect(Intent.of(this).expectDelimiter(LF, LINE), scope)
  }

  /** Adds the command deadline while replies are owed; keeps the last one while idle (see `#deadline`). */
  #expect(intent: Intent<RedisConnection>, scope: Scope): Intent<RedisConnection> {
    if (this.#queue.inFlight > 0) this.#deadline = scope.now() + this.#options.commandTimeout
    return Number.isNaN(this.#deadline) ? intent : intent.deadline(this.#deadline)
  }
}
