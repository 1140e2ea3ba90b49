/**
 * The protocol of one Redis client connection: writes queued commands, parses replies, settles
 * the commands in order, delivers pub/sub messages. A new one is made for every connection of
 * the client's `Persistent`; it starts by saying `HELLO 3` (with `protocol: 3`) and subscribing
 * again to every channel and pattern the client wants.
 */
import {
  ClosedError,
  type Exception,
  Intent,
  type IntentBuilder,
  type Protocol,
  RequestDeadlines,
  type Scope,
  TimeoutError,
  type Transport,
} from 'rotor-stream'
import { Encoder } from './encoder.js'
import { CommandTimeoutError, HelloError, type ReplyTooLargeError } from './errors.js'
import { MAX_LINE, ReplyError, type ReplyItem, ReplyParser } from './parser.js'
import type { Subscriptions } from './pubsub.js'
import type { Command, CommandQueue } from './queue.js'

/** What a connection needs of its client's options. */
export interface ConnectionOptions {
  /** Commands written and awaiting replies at most; more wait in the queue. */
  readonly maxInFlight: number
  /** How long a written command may wait for its reply, in ms; Infinity: as long as it takes. */
  readonly commandTimeout: number
  /** `'fail-command'`: a timeout fails that command alone; `'reconnect'`: it fails the connection. */
  readonly onCommandTimeout: 'fail-command' | 'reconnect'
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
  /**
   * With `onCommandTimeout: 'fail-command'`: the deadline of every command written and not yet
   * completed, in the queue's order (the queue holds the commands; this, their deadlines and
   * which ones timed out). Null with `'reconnect'`, and without a command timeout (Infinity):
   * then the hot path pays nothing for it.
   */
  readonly #deadlines: RequestDeadlines<Command> | null
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
  /** The reply-line expectation, kept and returned again: no Intent is allocated per round. */
  readonly #line: Intent<RedisConnection>
  /** A builder for the bulk-payload expectation (its size changes), kept likewise. */
  readonly #bytes: IntentBuilder<RedisConnection>

  constructor(context: ConnectionContext) {
    this.#context = context
    this.#queue = context.queue
    this.#subscriptions = context.subscriptions
    this.#options = context.options
    this.#parser = new ReplyParser(context.options, this.#onReply)
    // A server silent for another commandTimeout after a command timed out is stuck: reconnect.
    const { onCommandTimeout, commandTimeout } = context.options
    const isTimed = onCommandTimeout === 'fail-command' && commandTimeout !== Number.POSITIVE_INFINITY
    this.#deadlines = isTimed ? new RequestDeadlines({ giveUpAfter: commandTimeout }) : null
    this.#line = Intent.of(this).expectDelimiter(LF, LINE)
    this.#bytes = Intent.of(this)
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
    this.#writeQueued(t, scope)
    return this.#next(scope)
  }

  wakeup(t: Transport, scope: Scope): Intent<RedisConnection> {
    this.#writeQueued(t, scope)
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
    if (needBytes !== null) return this.#expect(this.#bytes.expectBytes(needBytes), scope)
    // Replies freed room in the window: top it up.
    if (this.#queue.waiting > 0) this.#writeQueued(t, scope)
    return this.#next(scope)
  }

  timeout(_t: Transport, scope: Scope): Intent<RedisConnection> {
    this.#deadline = Number.NaN
    const deadlines = this.#deadlines
    if (deadlines !== null) {
      const timeout = this.#options.commandTimeout
      if (deadlines.expire(scope.now(), (command) => command.reject(new CommandTimeoutError(timeout)))) {
        return Intent.error(new TimeoutError(`no reply within ${2 * timeout} ms: the server stopped answering`))
      }
      if (this.#failure !== null) return Intent.error(this.#failure) // HELLO timed out
      return this.#next(scope)
    }
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
    return this.#settle(reply)
  }

  /** Gives `reply` to the oldest command in flight; a command that timed out has its late reply dropped. */
  #settle(reply: ReplyItem | ReplyTooLargeError): boolean {
    const deadlines = this.#deadlines
    if (deadlines === null || deadlines.size === 0 || !this.#queue.completes(reply)) return this.#queue.settle(reply)
    return this.#queue.settle(reply, deadlines.shift() === undefined)
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
    if (head !== undefined && (head.kind === 'pubsub' || head.kind === 'resubscribe')) this.#settle(frame as ReplyItem)
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
  #writeQueued(t: Transport, scope: Scope): void {
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
    const deadlines = this.#deadlines
    if (deadlines !== null && i > queue.writeHead) {
      const deadline = scope.now() + this.#options.commandTimeout
      for (let j = queue.writeHead; j < i; j++) deadlines.add(items[j] as Command, deadline)
    }
    queue.writeHead = i
    // What did not fit waits; replies to what was sent will make room (see bytesRead).
  }

  /** Wait for a reply line. */
  #next(scope: Scope): Intent<RedisConnection> {
    return this.#expect(this.#line, scope)
  }

  /** Adds the command deadline while replies are owed; keeps the last one while idle (see `#deadline`). */
  #expect(intent: Intent<RedisConnection>, scope: Scope): Intent<RedisConnection> {
    const deadlines = this.#deadlines
    if (deadlines !== null) {
      // The earliest deadline pending; while none is, the last one stays armed (see `#deadline`).
      const next = deadlines.deadline
      if (next !== Number.POSITIVE_INFINITY) this.#deadline = next
    } else if (this.#queue.inFlight > 0) this.#deadline = scope.now() + this.#options.commandTimeout
    // Infinity and NaN alike: no deadline (the kept Intents may carry the last one).
    return intent.deadline(Number.isNaN(this.#deadline) ? Number.POSITIVE_INFINITY : this.#deadline)
  }
}
