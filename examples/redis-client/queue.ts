/**
 * The commands of one Redis client, shared by the client (which adds them) and the protocol of
 * its live connection (which writes them and settles them with their replies, in order).
 */
import type { ReplyTooLargeError } from './errors.js'
import type { RedisReply, ReplyItem } from './parser.js'

/**
 * What a command is, for what happens to it when the connection is lost:
 * - `command`: `command()`; rejected with a `ClosedError` if in flight (it may have run).
 * - `pubsub`: `subscribe()` and its siblings; idempotent, so sent again on the next connection.
 * - `hello`, `resubscribe`: written by the connection itself when it starts; dropped with it.
 */
export type CommandKind = 'command' | 'pubsub' | 'hello' | 'resubscribe'

/** A command, from the queue until its reply settles it. */
export interface Command {
  readonly args: readonly (string | Buffer | number)[]
  readonly resolve: (reply: RedisReply) => void
  readonly reject: (err: Error) => void
  readonly kind: CommandKind
  /** Replies still to come: 1, or one confirmation per channel of a (P)(UN)SUBSCRIBE. */
  replies: number
  /**
   * When the client last lost its connection with this command unwritten, or when it was issued
   * while disconnected (ms, `performance.now()`); 0 while a connection can write it.
   */
  offlineSince: number
}

/**
 * Settled commands at the head of the queue are dropped in one slice once there are this many
 * and they are half the queue: shifting an array is O(n), so one at a time would be quadratic.
 */
const COMPACT_AFTER = 1024

/**
 * The commands of one client, oldest first, in one array with two cursors:
 * `items[replyHead, writeHead)` are written and await their replies, in order;
 * `items[writeHead, length)` wait to be written. Entries before `replyHead` are settled and
 * dropped in batches.
 */
export class CommandQueue {
  /** Every command not yet settled, oldest first (and settled ones before `replyHead`). */
  items: Command[] = []
  /** The oldest command awaiting its reply; `replyHead <= writeHead`. */
  replyHead = 0
  /** The oldest command not written yet; `writeHead <= items.length`. */
  writeHead = 0

  /** Commands written and awaiting replies. */
  get inFlight(): number {
    return this.writeHead - this.replyHead
  }

  /** Commands not written yet. */
  get waiting(): number {
    return this.items.length - this.writeHead
  }

  /** Whether `reply` completes the oldest command in flight (the last confirmation of a (P)SUBSCRIBE, or any other reply). */
  completes(reply: ReplyItem | ReplyTooLargeError): boolean {
    const command = this.replyHead < this.writeHead ? this.items[this.replyHead] : undefined
    return command !== undefined && (command.replies <= 1 || reply instanceof Error)
  }

  /** The oldest command in flight, if any. */
  get head(): Command | undefined {
    return this.replyHead < this.writeHead ? this.items[this.replyHead] : undefined
  }

  /**
   * Gives `reply` to the oldest command in flight: settles it, or counts one of its pub/sub
   * confirmations. False if none was in flight (a protocol error). With `isLate`, the oldest
   * command timed out and was already failed: the reply is dropped (see `RequestDeadlines`).
   */
  settle(reply: ReplyItem | ReplyTooLargeError, isLate = false): boolean {
    const command = this.replyHead < this.writeHead ? this.items[this.replyHead] : undefined
    if (command === undefined) return false
    if (command.replies > 1 && !(reply instanceof Error)) {
      command.replies-- // an error reply (NOPERM) is the only reply of a (P)SUBSCRIBE
      return true
    }
    this.replyHead++
    if (this.replyHead === this.items.length) {
      this.items = []
      this.replyHead = 0
      this.writeHead = 0
    } else if (this.replyHead >= COMPACT_AFTER && this.replyHead * 2 >= this.items.length) {
      this.items = this.items.slice(this.replyHead)
      this.writeHead -= this.replyHead
      this.replyHead = 0
    }
    if (isLate) return true
    if (reply instanceof Error) command.reject(reply)
    else command.resolve(reply)
    return true
  }

  /** Removes and returns the commands in flight (their connection is lost). */
  dropInFlight(): Command[] {
    const lost = this.items.slice(this.replyHead, this.writeHead)
    this.items = this.items.slice(this.writeHead)
    this.replyHead = 0
    this.writeHead = 0
    return lost
  }

  /** Puts `commands` first among those waiting, before any other is written. */
  prepend(commands: readonly Command[]): void {
    if (commands.length > 0) this.items.splice(this.writeHead, 0, ...commands)
  }

  /** Removes the waiting commands a connection wrote for itself (HELLO, resubscribe): the next one writes its own. */
  dropInternal(): void {
    const items = this.items
    let kept = this.writeHead
    for (let i = this.writeHead; i < items.length; i++) {
      const command = items[i] as Command
      if (command.kind === 'hello' || command.kind === 'resubscribe') continue
      items[kept++] = command
    }
    items.length = kept
  }

  /** Removes and returns the commands not written yet. */
  dropWaiting(): Command[] {
    const waiting = this.items.slice(this.writeHead)
    this.items.length = this.writeHead
    return waiting
  }

  /** Marks the waiting commands as offline since `now`, unless they already are. */
  markOffline(now: number): void {
    const items = this.items
    for (let i = this.writeHead; i < items.length; i++) {
      const command = items[i] as Command
      if (command.offlineSince === 0) command.offlineSince = now
    }
  }

  /** A connection can write the waiting commands again: none is offline. */
  markOnline(): void {
    const items = this.items
    for (let i = this.writeHead; i < items.length; i++) (items[i] as Command).offlineSince = 0
  }

  /**
   * Removes and returns the waiting commands offline since `before` or earlier. They are in
   * `offlineSince` order (marked at the same disconnect, or issued later), so they are a prefix.
   */
  expireOffline(before: number): Command[] {
    const items = this.items
    let i = this.writeHead
    for (; i < items.length; i++) {
      const since = (items[i] as Command).offlineSince
      if (since === 0 || since > before) break
    }
    return items.splice(this.writeHead, i - this.writeHead)
  }

  /** `offlineSince` of the oldest waiting command, or undefined if none waits. */
  get oldestOffline(): number | undefined {
    return this.items[this.writeHead]?.offlineSince
  }
}
