/**
 * The protocol of one Redis client connection: writes queued commands, parses replies, settles
 * the commands in order, delivers pub/sub messages. A new one is made for every connection of
 * the client's `Persistent`; it starts by saying `HELLO 3` (with `protocol: 3`) and subscribing
 * again to every channel and pattern the client wants.
 */
import { ClosedError, type Exception, Intent, type Protocol, type Scope, TimeoutError, type Transport } from 'rotor-stream'
import { Encoder } from './encoder.js'
import { HelloError, type ReplyTooLargeError } from './errors.js'
import { MAX_LINE, ReplyError, type ReplyItem, ReplyParser } from './parser.js'
import type { Subscriptions } from './pubsub.js'
import type { Command, CommandQueue } from './queue.js'

/** What a connection needs of its client's options. */
export interface ConnectionOptions {
  /** Commands written and awaiting replies at most; more wait in the queue. */
  readonly maxInFlight: number
  /** A reply that takes longer than this (ms) fails the connection (and its commands). */
  readonly commandTimeout: number
  /** Bulk replies as Buffers instead of utf8 strings. */
  readonly returnBuffers: boolean
  /** Most bytes of one reply. */
  readonly maxReplySize: number
  /** The RESP version: 3 says `HELLO 3` first on every connection. */
  readonly protocol: 2 | 3
}

/** What a connection shares with its client. */
export interface ConnectionContext {
  readonly queue: CommandQueue
  readonly subscriptions: Subscriptions
  readonly options: ConnectionOptions
  /** Called when a connection starts and when it ends, so that the client knows whether it is offline. */
  readonly onLive: (live: boolean) => void
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
  readonly #subscriptions: Subscriptions
  readonly #context: ConnectionContext
  readonly #options: ConnectionOptions
  /**
   * RESP2: channels and patterns the server has this connection subscribed to, from the last
   * confirmation. While above 0 the server is in subscribed mode, and an array reply
   * `message`/`pmessage` is a message, not a reply.
   */
  #subscribed = 0
  /** The server refused HELLO 3: the connection ends after the current read. */
  #failure: HelloError | null = null

  constructor(context: ConnectionContext) {
    this.#context = context
    this.#queue = context.queue
    this.#subscriptions = context.subscriptions
    this.#options = context.options
    this.#parser = new ReplyParser(context.options, this.#onReply)
  }

  /**
   * On a new connection: HELLO 3 and the subscriptions first, then the commands queued while
   * disconnected, all in the first write.
   */
  start(t: Transport, scope: Scope): Intent<RedisConnection> {
    this.#context.onLive(true)
    const first = this.#subscriptions.isUsed ? this.#subscriptions.resubscribe(this.#queue.items.slice(this.#queue.writeHead)) : []
    if (this.#options.protocol === 3) first.unshift(this.#hello())
    this.#queue.prepend(first)
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
    if (this.#failure !== null) return Intent.error(this.#failure)
    if (typeof parsed !== 'number') return Intent.error(parsed)
    input.consume(parsed)
    const needBytes = this.#parser.needBytes
    if (needBytes !== null) return this.#expect(Intent.of(this).expectBytes(needBytes), scope)
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
    const queue = this.#queue
    const again: Command[] = []
    for (const command of queue.dropInFlight()) {
      switch (command.kind) {
        case 'command': // it may or may not have run: rejected, never sent again
          command.reject(new ClosedError(`connection lost before the reply: ${reason.message}`, { cause: reason }))
          break
        case 'pubsub': // idempotent: sent again on the next connection
          command.replies = command.args.length - 1
          again.push(command)
          break
        case 'hello':
        case 'resubscribe': // the next connection writes its own
          break
      }
    }
    queue.dropInternal()
    queue.prepend(again)
    this.#context.onLive(false)
  }

  /** The parser's sink: routes pushes and pub/sub frames, gives the rest to the oldest command. */
  readonly #onReply = (reply: ReplyItem | ReplyTooLargeError, push: boolean): boolean => {
    if (push) {
      if (Array.isArray(reply) && this.#subscriptions.classify(reply) === 'confirmation') this.#confirm(reply)
      return true // pushes are never replies; one too large to read is dropped
    }
    if (this.#subscriptions.isUsed && this.#options.protocol === 2 && this.#isPubsubFrame(reply)) return true
    return this.#queue.settle(reply)
  }

  /**
   * RESP2, once the client has used pub/sub: a message (only while the server says we are
   * subscribed: before that, an array starting with "message" is an ordinary reply) or the
   * confirmation awaited by the oldest command. True if `reply` was taken as such.
   */
  #isPubsubFrame(reply: ReplyItem | ReplyTooLargeError): boolean {
    const head = this.#queue.head
    const awaitsConfirmation = head !== undefined && (head.kind === 'pubsub' || head.kind === 'resubscribe')
    if (this.#subscribed === 0 && !awaitsConfirmation) return false
    // Not a frame: an error reply settles the oldest command; while subscribed, anything else is
    // a message too large to read (see maxReplySize), dropped.
    if (!Array.isArray(reply)) return this.#subscribed > 0 && !(reply instanceof ReplyError)
    switch (this.#subscriptions.classify(reply)) {
      case 'message':
        return this.#subscribed > 0
      case 'confirmation':
        if (!awaitsConfirmation) return false
        this.#confirm(reply)
        return true
      case 'other':
        return false
    }
  }

  /** A (P)(UN)SUBSCRIBE confirmation `[kind, name, count]`: counts for the oldest command if it awaits one. */
  #confirm(frame: readonly unknown[]): void {
    const count = frame[2]
    if (typeof count === 'number') this.#subscribed = count
    const head = this.#queue.head
    if (head !== undefined && (head.kind === 'pubsub' || head.kind === 'resubscribe')) this.#queue.settle(frame as ReplyItem)
  }

  /** `HELLO 3`, whose error reply fails the connection (see `#failure`). */
  #hello(): Command {
    return {
      args: ['HELLO', '3'],
      resolve: () => {},
      reject: (err) => {
        this.#failure ??= new HelloError(err)
      },
      kind: 'hello',
      replies: 1,
      offlineSince: 0,
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
