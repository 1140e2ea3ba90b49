/** Redis 7's error replies for the data commands, word for word (checked against redis-server 7.0.15). */
import type { Args } from '../args.js'

export const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'
export const NOT_INTEGER = 'ERR value is not an integer or out of range'
export const NOT_FLOAT = 'ERR value is not a valid float'
export const SYNTAX = 'ERR syntax error'
export const NO_SUCH_KEY = 'ERR no such key'
export const OVERFLOW = 'ERR increment or decrement would overflow'
export const NAN_OR_INFINITY = 'ERR increment would produce NaN or Infinity'
export const MUST_BE_POSITIVE = 'ERR value is out of range, must be positive'
export const STRING_TOO_LONG = 'ERR string exceeds maximum allowed size (proto-max-bulk-len)'
export const INVALID_CURSOR = 'ERR invalid cursor'

/** `ERR invalid expire time in '<command>' command`, the command name in lower case. */
export function invalidExpireTime(command: string): string {
  return `ERR invalid expire time in '${command}' command`
}

/** Arity error for a command whose argument count is checked by the command itself (MSET's pairs). */
export function wrongArguments(command: string): string {
  return `ERR wrong number of arguments for '${command}' command`
}

/** Redis' text for an unknown command: its name and its first arguments, each quoted and followed by a space, up to 128 characters. */
export function unknownCommand(a: Args): string {
  let args = ''
  for (let i = 1; i < a.count && args.length < 128; i++) args += `'${a.string(i).slice(0, 128 - args.length)}' `
  return `ERR unknown command '${a.string(0).slice(0, 128)}', with args beginning with: ${args}`
}
