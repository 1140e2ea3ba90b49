/**
 * One connection's state between commands: what a command runs against (`CommandContext`: the
 * selected database and the RESP version) and what server commands change: its name, the
 * transaction being queued, the keys it WATCHes, its subscriptions and the messages waiting
 * for it.
 *
 * `isSlow` keeps the common case cheap: a command goes through the dispatcher's slow path
 * (queueing, subscribed mode, suppressed replies) only while it is set.
 */
import type { CommandContext, RespVersion } from './command.js'
import type { Keyspace } from './keyspace.js'
import type { Subscriber } from './pubsub.js'
import type { Reply } from './reply.js'
import type { ServerState } from './server-state.js'

/** A command queued by MULTI: its arguments copied out of the input (one buffer, with spans). */
export interface Queued {
  readonly data: Buffer
  readonly starts: readonly number[]
  readonly ends: readonly number[]
}

/** Where the connection is, for CLIENT LIST. */
export interface Endpoint {
  readonly addr: string
  readonly laddr: string
  /** Connected through a Unix socket (flag U in CLIENT LIST). */
  readonly isUnix: boolean
}

export class Session implements CommandContext, Subscriber {
  readonly id: number
  readonly server: ServerState
  /** The connection's output Buf: replies that must not be suppressed (CLIENT REPLY ON), messages to self. */
  readonly out: Reply
  readonly endpoint: Endpoint
  /** Runs the connection's `wakeup` (a queued message, a forced close). */
  readonly notify: () => void
  /** Server clock (ms) when the connection was made, and when its last command ran. */
  readonly createdAt: number
  lastActive: number
  /** Name of the last command run, lower case (`client|list` for a subcommand), for CLIENT LIST. */
  lastCommand = 'NULL'
  /** Commands this connection ran (INFO's total_commands_processed sums them). */
  commands = 0

  db: Keyspace
  dbIndex = 0
  resp: RespVersion = 2
  /** CLIENT SETNAME / HELLO SETNAME, latin1; '' for none. */
  name = ''
  libName = ''
  libVer = ''

  /** Commands queued since MULTI, or null outside a transaction. */
  multi: Queued[] | null = null
  /** A command could not be queued: EXEC answers EXECABORT. */
  multiFailed = false
  /** Bytes of arguments queued since MULTI, against `ServerState.maxQueuedBytes`. */
  multiBytes = 0
  /** Watched keys by `<db>:<key>`: the db index, the latin1 key, whether the key existed then; null when none. */
  watched: Map<string, { db: number; key: string; existed: boolean }> | null = null
  /** A watched key was modified since WATCH: EXEC answers the null array. */
  isDirty = false

  /** Subscribed channels and patterns, in subscription order (latin1). */
  readonly channels = new Set<string>()
  readonly patterns = new Set<string>()

  /** CLIENT REPLY OFF: replies are dropped. */
  isReplyOff = false
  /** CLIENT REPLY SKIP: replies of this many more commands are dropped. */
  skipReplies = 0

  /** Messages for this subscriber not yet written to the output, and their size. */
  readonly pending: (string | Buffer)[] = []
  pendingBytes = 0
  /** Bytes of messages written to the output and not yet known to be flushed. */
  inFlight = 0
  /** Server clock when the queued bytes first passed the soft limit; NaN while below. */
  softSince = Number.NaN
  /** Over its output limit: the connection is closed at its next wakeup; nothing more is queued. */
  isKilled = false
  /** The connection's own handler is running: a message to it is written at once, in order with the replies. */
  isRunning = false
  /** QUIT (or CLIENT KILL of itself): close once the replies are flushed. */
  isQuitting = false
  /** An HTTP request (POST, Host:): close at once, dropping unsent replies. */
  isDropped = false
  /** Any of: in MULTI, subscribed in RESP2, replies suppressed. */
  isSlow = false

  constructor(id: number, server: ServerState, out: Reply, endpoint: Endpoint, notify: () => void) {
    this.id = id
    this.server = server
    this.out = out
    this.endpoint = endpoint
    this.notify = notify
    this.db = server.databases[0] as Keyspace
    this.createdAt = this.lastActive = server.now()
  }

  get subscriptions(): number {
    return this.channels.size + this.patterns.size
  }

  /** Recomputes `isSlow` after a change of mode. */
  update(): void {
    this.isSlow = this.multi !== null || (this.resp === 2 && this.subscriptions > 0) || this.isReplyOff || this.skipReplies > 0
  }

  select(index: number): void {
    this.dbIndex = index
    this.db = this.server.databases[index] as Keyspace
  }

  rebind(index: number): void {
    this.select(index)
  }

  touched(): void {
    this.isDirty = true
  }

  watch(key: string): void {
    this.watched ??= new Map()
    const id = `${this.dbIndex}:${key}`
    if (this.watched.has(id)) return
    this.watched.set(id, { db: this.dbIndex, key, existed: this.db.findKey(key) !== undefined })
    this.server.watch(this, this.dbIndex, key)
  }

  /**
   * EXEC's last check (Redis 7): a watched key that existed at WATCH and is gone now expired
   * meanwhile (any other removal touched it already), which breaks the transaction too.
   */
  checkWatchedExpiry(): void {
    if (this.watched === null || this.isDirty) return
    for (const w of this.watched.values()) if (w.existed && (this.server.databases[w.db] as Keyspace).findKey(w.key) === undefined) this.isDirty = true
  }

  /** Leaves MULTI and forgets the watched keys (DISCARD, EXEC, RESET). */
  discard(): void {
    this.multi = null
    this.multiFailed = false
    this.multiBytes = 0
    this.unwatchAll()
    this.update()
  }

  unwatchAll(): void {
    if (this.watched !== null) for (const w of this.watched.values()) this.server.unwatch(this, w.db, w.key)
    this.watched = null
    this.isDirty = false
  }

  deliver(header: string, body: Buffer): void {
    if (this.isKilled) return
    if (this.isRunning && this.pending.length === 0) {
      // Published by this very connection: the message goes before PUBLISH's own reply, as in Redis.
      this.out.write(header)
      this.out.write(body)
      return
    }
    this.pending.push(header, body)
    this.pendingBytes += header.length + body.length
    const held = this.pendingBytes + this.inFlight
    const limits = this.server.pubsubLimits
    if (held > limits.softBytes) {
      const now = this.server.now()
      if (Number.isNaN(this.softSince)) this.softSince = now
      if (held > limits.hardBytes || now - this.softSince >= limits.softMs) this.kill()
    } else {
      this.softSince = Number.NaN
    }
    this.notify()
  }

  /** Over the output limit: drop what is queued and close at the next wakeup (Redis closes such a client asynchronously too). */
  kill(): void {
    this.isKilled = true
    this.pending.length = 0
    this.pendingBytes = 0
  }

  /** Moves the queued messages into `out`; returns the bytes moved. */
  flushPending(out: Reply): number {
    const moved = this.pendingBytes
    for (const part of this.pending) out.write(part)
    this.pending.length = 0
    this.pendingBytes = 0
    this.inFlight += moved
    return moved
  }

  /** The connection is gone: leaves every registry. Safe to call more than once. */
  close(): void {
    this.unwatchAll()
    const ps = this.server.pubsub
    for (const c of this.channels) ps.remove(ps.channels, c, this)
    for (const p of this.patterns) ps.remove(ps.patterns, p, this)
    this.channels.clear()
    this.patterns.clear()
    this.pending.length = 0
    this.pendingBytes = 0
    this.server.unregister(this)
    this.server.closedCommands += this.commands
    this.commands = 0
  }
}
