/**
 * Pub/sub: who listens to which channel or pattern, and how a message reaches them.
 *
 * A message is encoded once per publish (per pattern for pattern messages) and shared by every
 * subscriber: only its first line differs between RESP2 (`*3`) and RESP3 (`>3`). A subscriber
 * that is the publishing connection itself gets it written at once, before PUBLISH's reply, as
 * Redis does; the others queue it and are woken up (`Subscriber.deliver`), each bounded by the
 * output limits below.
 */
import { globMatch } from './glob.js'

/** Redis' `client-output-buffer-limit pubsub 32mb 8mb 60`: what a subscriber may hold unread. */
export interface PubSubLimits {
  /** Past this many bytes queued or unflushed, the subscriber is disconnected at once. @default 33554432 (32 MiB) */
  hardBytes: number
  /** Past this many bytes for `softMs` in a row, the subscriber is disconnected. @default 8388608 (8 MiB) */
  softBytes: number
  /** @default 60000 */
  softMs: number
}

export const PUBSUB_DEFAULTS: Readonly<PubSubLimits> = Object.freeze({ hardBytes: 32 * 1024 * 1024, softBytes: 8 * 1024 * 1024, softMs: 60_000 })

/** A connection that subscribed. */
export interface Subscriber {
  /**
   * A message for this subscriber: `header` is `*3`/`>3` (`*4`/`>4` for a pattern message) with
   * its CRLF, `body` the rest, shared with the other subscribers (never modified).
   */
  deliver(header: string, body: Buffer): void
  readonly resp: 2 | 3
}

/** Channel and pattern subscriptions of the whole server; channels and patterns are latin1 strings. */
export class PubSub {
  readonly channels = new Map<string, Set<Subscriber>>()
  readonly patterns = new Map<string, Set<Subscriber>>()

  /** Adds `s` to `name`'s listeners; false if it was one already. */
  add(table: Map<string, Set<Subscriber>>, name: string, s: Subscriber): boolean {
    let set = table.get(name)
    if (set === undefined) {
      set = new Set()
      table.set(name, set)
    }
    if (set.has(s)) return false
    set.add(s)
    return true
  }

  /** Removes `s` from `name`'s listeners; false if it was not one. */
  remove(table: Map<string, Set<Subscriber>>, name: string, s: Subscriber): boolean {
    const set = table.get(name)
    if (set === undefined || !set.delete(s)) return false
    if (set.size === 0) table.delete(name)
    return true
  }

  /** Sends `payload` on `channel` to every listener; returns how many received it (Redis' PUBLISH reply). */
  publish(channel: string, payload: Uint8Array): number {
    let receivers = 0
    const listeners = this.channels.get(channel)
    if (listeners !== undefined) {
      const body = encode(['message', channel], payload)
      for (const s of listeners) {
        s.deliver(s.resp === 3 ? '>3\r\n' : '*3\r\n', body)
        receivers++
      }
    }
    for (const [pattern, set] of this.patterns) {
      if (!globMatch(pattern, channel)) continue
      const body = encode(['pmessage', pattern, channel], payload)
      for (const s of set) {
        s.deliver(s.resp === 3 ? '>4\r\n' : '*4\r\n', body)
        receivers++
      }
    }
    return receivers
  }
}

/** The bulk strings `words` (latin1) and `payload`, one after the other. */
function encode(words: readonly string[], payload: Uint8Array): Buffer {
  const parts: Buffer[] = []
  for (const w of words) parts.push(Buffer.from(`$${w.length}\r\n${w}\r\n`, 'latin1'))
  parts.push(Buffer.from(`$${payload.length}\r\n`), Buffer.from(payload), Buffer.from('\r\n'))
  return Buffer.concat(parts)
}
