/**
 * What a command is and what it runs against. Commands are split by concern: the data commands
 * (one database: strings, lists, hashes, sets, keys) and the server commands (connection state,
 * databases, transactions, pub/sub); a connection's dispatcher looks both up by name.
 */
import type { Args } from './args.js'
import type { Keyspace } from './keyspace.js'
import type { Reply } from './reply.js'

/** The wire format a connection answers in: RESP2 (the default) or RESP3 after `HELLO 3`. */
export type RespVersion = 2 | 3

/** What a command runs against: the connection's selected database and its wire format. */
export interface CommandContext {
  /** The database the connection selected (`SELECT`, 0 by default). */
  readonly db: Keyspace
  /** RESP3 replies maps, sets, nulls, doubles and booleans with their own types; RESP2 flattens them. */
  readonly resp: RespVersion
}

export type Handler<C extends CommandContext = CommandContext> = (ctx: C, args: Args, out: Reply) => void

export interface Command<C extends CommandContext = CommandContext> {
  /** Upper-case name. */
  readonly name: string
  /** Argument count including the name; negative means "at least -arity" (Redis' convention). */
  readonly arity: number
  readonly run: Handler<C>
}
