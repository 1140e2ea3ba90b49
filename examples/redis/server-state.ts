/**
 * What the connections of one server share: the 16 databases, the registry of connected clients
 * (CLIENT LIST, ids), the WATCHed keys and the pub/sub subscriptions.
 *
 * WATCH relies on the Keyspace calling `onTouch(key)` after each modification (see
 * Keyspace.onTouch). A database's hook is set only while some connection watches one of its
 * keys: with nobody watching, a write builds no key string and calls nothing.
 */
import { Keyspace } from './keyspace.js'
import { PUBSUB_DEFAULTS, PubSub, type PubSubLimits } from './pubsub.js'
import type { Session } from './session.js'

/** Number of databases (Redis' `databases` default). */
export const DATABASES = 16

export interface ServerOptions {
  /** Clock of the keyspaces (expiry) and of the client registry (age, idle), ms. @default Date.now */
  now?: () => number
  pubsub?: Partial<PubSubLimits>
  /**
   * Most bytes of arguments one transaction may queue (Redis has no such bound; a demo that holds
   * what a peer sends keeps it finite): past it a command is refused and EXEC answers EXECABORT.
   * @default 67108864 (64 MiB)
   */
  maxQueuedBytes?: number
}

export class ServerState {
  readonly databases: Keyspace[]
  readonly clients = new Map<number, Session>()
  readonly pubsub = new PubSub()
  readonly pubsubLimits: PubSubLimits
  readonly maxQueuedBytes: number
  /** Commands run by connections that have closed (INFO adds the live ones). */
  closedCommands = 0
  readonly now: () => number
  /** Watchers per database: key → clients watching it. */
  readonly #watched: Map<string, Set<Session>>[]
  /** Each database index's touch hook, made once (the hook is set and cleared as watchers come and go). */
  readonly #touchers: ((key: string | null) => void)[]
  #nextId = 1

  /** Connections accepted since the start (INFO's total_connections_received). */
  get connectionsReceived(): number {
    return this.#nextId - 1
  }

  constructor(options: ServerOptions = {}) {
    this.now = options.now ?? Date.now
    const now = this.now
    this.databases = Array.from({ length: DATABASES }, () => new Keyspace(now))
    this.#watched = Array.from({ length: DATABASES }, () => new Map())
    this.#touchers = Array.from({ length: DATABASES }, (_, db) => (key: string | null) => this.touch(db, key))
    this.pubsubLimits = { ...PUBSUB_DEFAULTS, ...options.pubsub }
    this.maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024
  }

  /** Registers a new connection; returns its id (1, 2, …: never reused). */
  register(client: (id: number) => Session): Session {
    const c = client(this.#nextId++)
    this.clients.set(c.id, c)
    return c
  }

  unregister(c: Session): void {
    this.clients.delete(c.id)
  }

  /** `c` watches `key` of database `db`. */
  watch(c: Session, db: number, key: string): void {
    const table = this.#watched[db] as Map<string, Set<Session>>
    let set = table.get(key)
    if (set === undefined) {
      set = new Set()
      table.set(key, set)
    }
    set.add(c)
    this.#hook(db)
  }

  unwatch(c: Session, db: number, key: string): void {
    const table = this.#watched[db] as Map<string, Set<Session>>
    const set = table.get(key)
    if (set === undefined) return
    set.delete(c)
    if (set.size === 0) table.delete(key)
    this.#hook(db)
  }

  /** Every watcher of `key` in database `db` (null: of every key of it) must fail its EXEC. */
  touch(db: number, key: string | null): void {
    const table = this.#watched[db] as Map<string, Set<Session>>
    if (key === null) {
      for (const set of table.values()) for (const c of set) c.touched()
    } else {
      const set = table.get(key)
      if (set !== undefined) for (const c of set) c.touched()
    }
  }

  /**
   * Touches the watched keys of `db` that exist in it or in `other` (Redis' rule for FLUSHALL and
   * SWAPDB: watching a key that exists nowhere is not broken by emptying a database).
   */
  touchExisting(db: number, other: number | null): void {
    const table = this.#watched[db] as Map<string, Set<Session>>
    for (const [key, set] of table) {
      const exists =
        (this.databases[db] as Keyspace).findKey(key) !== undefined || (other !== null && (this.databases[other] as Keyspace).findKey(key) !== undefined)
      if (exists) for (const c of set) c.touched()
    }
  }

  /** Empties every database, touching the watchers of keys that existed. */
  flushAll(): void {
    for (let db = 0; db < DATABASES; db++) {
      this.touchExisting(db, null)
      const ks = this.databases[db] as Keyspace
      const hook = ks.onTouch
      ks.onTouch = null // touched precisely above, not every watched key
      ks.clear()
      ks.onTouch = hook
    }
  }

  /** Swaps databases `a` and `b` (SWAPDB): the clients that selected one now see the other's data. */
  swap(a: number, b: number): void {
    if (a === b) return
    this.touchExisting(a, b)
    this.touchExisting(b, a)
    const first = this.databases[a] as Keyspace
    this.databases[a] = this.databases[b] as Keyspace
    this.databases[b] = first
    this.#hook(a)
    this.#hook(b)
    for (const c of this.clients.values()) if (c.dbIndex === a || c.dbIndex === b) c.rebind(c.dbIndex)
  }

  /** Sets or clears the touch hook of database `db`, to match whether anyone watches it. */
  #hook(db: number): void {
    ;(this.databases[db] as Keyspace).onTouch = (this.#watched[db] as Map<string, Set<Session>>).size === 0 ? null : (this.#touchers[db] ?? null)
  }
}
