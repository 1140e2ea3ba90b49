/**
 * The client's subscriptions, shared by the client (which adds and removes listeners) and the
 * protocol of its live connection (which delivers messages and, on every new connection,
 * subscribes again to everything wanted). The listeners are the truth: the server's state is
 * made to follow them, also after a reconnect.
 */
import type { Command } from './queue.js'

/** A message's payload: a utf8 string, or a Buffer with `returnBuffers`. */
export type RedisMessage = string | Buffer

/** Receives the messages of a channel given to `subscribe()`. */
export type MessageListener = (message: RedisMessage, channel: string) => void

/** Receives the messages of the channels matching a pattern given to `psubscribe()`. */
export type PatternListener = (message: RedisMessage, channel: string, pattern: string) => void

/** What a pub/sub frame (RESP2 array or RESP3 push) is. */
export type FrameKind = 'message' | 'confirmation' | 'other'

/** The first element of a pub/sub frame that confirms a (P)(UN)SUBSCRIBE. */
const CONFIRMATIONS: ReadonlySet<string> = new Set(['subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe'])

function noop(): void {}

/** Channels and patterns with their listeners. */
export class Subscriptions {
  readonly channels = new Map<string, Set<MessageListener>>()
  readonly patterns = new Map<string, Set<PatternListener>>()
  /**
   * Set by the first `subscribe()`/`psubscribe()` and never cleared: until then a RESP2
   * connection does not look at replies for pub/sub frames (the fast path pays nothing).
   */
  isUsed = false

  /** No channel or pattern is wanted. */
  get isEmpty(): boolean {
    return this.channels.size === 0 && this.patterns.size === 0
  }

  /** Adds `listener` to each name; returns the names that were not wanted before (to subscribe). */
  add<L>(map: Map<string, Set<L>>, names: readonly string[], listener: L): string[] {
    this.isUsed = true
    const added: string[] = []
    for (const name of names) {
      const listeners = map.get(name)
      if (listeners !== undefined) listeners.add(listener)
      else {
        map.set(name, new Set([listener]))
        added.push(name)
      }
    }
    return added
  }

  /**
   * Removes `listener` (or every listener when undefined) from each name (every wanted name when
   * `names` is undefined); returns the names no longer wanted (to unsubscribe).
   */
  remove<L>(map: Map<string, Set<L>>, names: readonly string[] | undefined, listener: L | undefined): string[] {
    const removed: string[] = []
    for (const name of names ?? [...map.keys()]) {
      const listeners = map.get(name)
      if (listeners === undefined) continue
      if (listener !== undefined) listeners.delete(listener)
      if (listener === undefined || listeners.size === 0) {
        map.delete(name)
        removed.push(name)
      }
    }
    return removed
  }

  /**
   * The commands that subscribe a new connection to everything wanted (written before any
   * other). Names a waiting `subscribe()` will subscribe anyway are left out, so that a
   * subscription made before the first connection is not sent twice.
   */
  resubscribe(waiting: readonly Command[]): Command[] {
    const pending = new Set<string>()
    for (const command of waiting) {
      if (command.kind !== 'pubsub') continue
      const [name, ...names] = command.args
      if (name === 'SUBSCRIBE' || name === 'PSUBSCRIBE') for (const n of names) pending.add(`${name}:${String(n)}`)
    }
    const commands: Command[] = []
    const channels = [...this.channels.keys()].filter((c) => !pending.has(`SUBSCRIBE:${c}`))
    const patterns = [...this.patterns.keys()].filter((p) => !pending.has(`PSUBSCRIBE:${p}`))
    if (channels.length > 0) commands.push(internal('SUBSCRIBE', channels))
    if (patterns.length > 0) commands.push(internal('PSUBSCRIBE', patterns))
    return commands
  }

  /**
   * Looks at a pub/sub frame: delivers a message to its listeners, or tells the caller that the
   * frame confirms a (P)(UN)SUBSCRIBE (or is something else: an `invalidate` push, a RESP2
   * reply that only looks like a frame).
   */
  classify(frame: readonly unknown[]): FrameKind {
    const kind = text(frame[0])
    if (kind === 'message' && frame.length === 3) {
      const channel = text(frame[1])
      const listeners = this.channels.get(channel)
      if (listeners !== undefined) for (const listener of listeners) call(listener, frame[2], channel, '')
      return 'message'
    }
    if (kind === 'pmessage' && frame.length === 4) {
      const pattern = text(frame[1])
      const listeners = this.patterns.get(pattern)
      if (listeners !== undefined) for (const listener of listeners) call(listener, frame[3], text(frame[2]), pattern)
      return 'message'
    }
    return CONFIRMATIONS.has(kind) && frame.length === 3 ? 'confirmation' : 'other'
  }
}

/** A (P)SUBSCRIBE a connection writes for itself: one confirmation per name, nobody awaits it. */
function internal(name: string, names: readonly string[]): Command {
  return { args: [name, ...names], resolve: noop, reject: noop, kind: 'resubscribe', replies: names.length, offlineSince: 0 }
}

/** A frame element as text: channels and kinds are utf8 strings (Buffers with `returnBuffers`). */
export function text(value: unknown): string {
  return typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

/**
 * Calls a listener. One that throws must not end the connection (and every other listener's
 * messages): its error is thrown again outside, as an EventEmitter listener's would be.
 */
function call(listener: PatternListener, payload: unknown, channel: string, pattern: string): void {
  try {
    listener(payload as RedisMessage, channel, pattern) // a bulk string: string, or Buffer with returnBuffers
  } catch (err) {
    queueMicrotask(() => {
      throw err
    })
  }
}
