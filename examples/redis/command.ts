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

/** A subcommand of a container command (CLIENT GETNAME): checked by the dispatcher before the command runs. */
export interface Subcommand {
  /** Upper-case name. */
  readonly name: string
  /** Arity counting the container's name too (CLIENT GETNAME: 2), as in Redis' command table. */
  readonly arity: number
}

/** Runs even inside MULTI instead of being queued (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET). */
export const NO_QUEUE = 1
/** Allowed to a RESP2 connection in subscribed mode ((P)(UN)SUBSCRIBE, PING, QUIT, RESET). */
export const IN_SUBSCRIBED = 2

/** A server command: a command with, optionally, subcommands and the flags above. */
export interface ServerCommand<C extends CommandContext = CommandContext> extends Command<C> {
  readonly subcommands?: readonly Subcommand[]
  readonly flags?: number
}

/**
 * Is argument `i` the upper-case word `word` (letters, digits, `-`, `:`…), in any case? Unlike
 * `Args.is`, which folds every byte and so only compares letters, this folds only a–z.
 */
export function isWord(a: Args, i: number, word: string): boolean {
  if (i >= a.count || a.length(i) !== word.length) return false
  const data = a.data
  const start = a.starts[i] as number
  for (let k = 0; k < word.length; k++) {
    const c = data[start + k] as number
    if ((c >= 0x61 && c <= 0x7a ? c - 0x20 : c) !== word.charCodeAt(k)) return false
  }
  return true
}
