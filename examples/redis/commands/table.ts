/**
 * The data commands (one database) in one table, and their lookup by name. The connection
 * layer's dispatcher looks a command up here (and in its own table of server commands), checks
 * the arity, and runs it against the selected database.
 */
import type { Args } from '../args.js'
import type { Command } from '../command.js'
import { HASH_COMMANDS } from './hashes.js'
import { KEY_COMMANDS } from './keys.js'
import { LIST_COMMANDS } from './lists.js'
import { SET_COMMANDS } from './sets.js'
import { STRING_COMMANDS } from './strings.js'

export const DATA_COMMANDS: readonly Command[] = [...STRING_COMMANDS, ...KEY_COMMANDS, ...LIST_COMMANDS, ...HASH_COMMANDS, ...SET_COMMANDS]

/** Longest command name, bytes. */
const MAX_NAME = 15

/** A table of commands by name, looked up on the name's bytes (argument 0) in any case. */
export interface CommandTable<C extends Command = Command> {
  /** The command named by argument 0 of `a`, or undefined. Allocates nothing. */
  find(a: Args): C | undefined
}

/**
 * Indexes `commands` by name length and first letter (`(length << 5) | (letter & 0x1f)`): the
 * name is matched on its bytes, case-folded, with no string made; most slots hold one command.
 */
export function commandTable<C extends Command>(commands: readonly C[]): CommandTable<C> {
  const slots: (C[] | null)[] = Array.from({ length: (MAX_NAME + 1) << 5 }, () => null) // filled, not sparse: a fast array
  for (const command of commands) {
    if (command.name.length > MAX_NAME) throw new Error(`command name longer than ${MAX_NAME}: ${command.name}`)
    const slot = (command.name.length << 5) | (command.name.charCodeAt(0) & 0x1f)
    slots[slot] ??= []
    slots[slot].push(command)
  }
  return {
    find(a: Args): C | undefined {
      const n = a.length(0)
      if (n === 0 || n > MAX_NAME) return undefined
      const candidates = slots[(n << 5) | ((a.data[a.starts[0] as number] as number) & 0x1f)]
      if (candidates === null || candidates === undefined) return undefined
      for (let i = 0; i < candidates.length; i++) {
        const command = candidates[i] as C
        if (a.is(0, command.name)) return command
      }
      return undefined
    },
  }
}

const DATA_TABLE = commandTable(DATA_COMMANDS)

/** The data command named by argument 0 of `a` (any case), or undefined. Allocates nothing. */
export function findCommand(a: Args): Command | undefined {
  return DATA_TABLE.find(a)
}
