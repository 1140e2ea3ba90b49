/**
 * The commands of one Redis client, shared by the client (which adds them) and the protocol of
 * its live connection (which writes them and settles them with their replies, in order).
 */
import { type RedisReply, ReplyError } from './parser.js'

/** A command issued by `command()`, from the queue until its reply settles it. */
export interface Command {
  readonly args: readonly (string | Buffer | number)[]
  readonly resolve: (reply: RedisReply) => void
  readonly reject: (err: Error) => void
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

  /** Settles the oldest command in flight with `reply`; false if none was in flight (a protocol error). */
  settle(reply: RedisReply | ReplyError): boolean {
    const command = this.replyHead < this.writeHead ? this.items[this.replyHead++] : undefined
    if (command === undefined) return false
    if (this.replyHead === this.items.length) {
      this.items = []
      this.replyHead = 0
      this.writeHead = 0
    } else if (this.replyHead >= COMPACT_AFTER && this.replyHead * 2 >= this.items.length) {
      this.items = this.items.slice(this.replyHead)
      this.writeHead -= this.replyHead
      this.replyHead = 0
    }
    if (reply instanceof ReplyError) command.reject(reply)
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

  /** Removes and returns the commands not written yet. */
  dropWaiting(): Command[] {
    const waiting = this.items.slice(this.writeHead)
    this.items.length = this.writeHead
    return waiting
  }
}
