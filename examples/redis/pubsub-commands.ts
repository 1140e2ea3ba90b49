/**
 * SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB, with Redis 7's replies:
 * one confirmation per channel (`subscribe`, channel, count of this connection's subscriptions),
 * pushed (`>`) in RESP3. A RESP2 connection with a subscription is in subscribed mode (see
 * dispatch.ts); in RESP3 any command may be sent meanwhile.
 */
import type { Args } from './args.js'
import { IN_SUBSCRIBED, isWord, type ServerCommand } from './command.js'
import { globMatch } from './glob.js'
import { type Reply, writeArrayHeader, writeBulk, writeInteger, writeNull, writePushHeader } from './reply.js'
import type { Session } from './session.js'

/** One confirmation: kind, channel or pattern (null: none was subscribed), remaining count. */
function confirm(s: Session, out: Reply, kind: string, name: string | null): void {
  writePushHeader(out, s.resp, 3)
  writeBulk(out, kind)
  if (name === null) writeNull(out, s.resp)
  else writeBulk(out, name)
  writeInteger(out, s.subscriptions)
}

function subscribe(s: Session, a: Args, out: Reply, pattern: boolean): void {
  const ps = s.server.pubsub
  const mine = pattern ? s.patterns : s.channels
  for (let i = 1; i < a.count; i++) {
    const name = a.string(i)
    if (!mine.has(name)) {
      mine.add(name)
      ps.add(pattern ? ps.patterns : ps.channels, name, s)
    }
    confirm(s, out, pattern ? 'psubscribe' : 'subscribe', name)
  }
  s.update()
}

function unsubscribe(s: Session, a: Args, out: Reply, pattern: boolean): void {
  const ps = s.server.pubsub
  const mine = pattern ? s.patterns : s.channels
  const kind = pattern ? 'punsubscribe' : 'unsubscribe'
  // Without arguments: every subscription of that kind, or one confirmation with a null name if none.
  const names = a.count > 1 ? Array.from({ length: a.count - 1 }, (_, i) => a.string(i + 1)) : [...mine]
  if (names.length === 0) confirm(s, out, kind, null)
  for (const name of names) {
    if (mine.delete(name)) ps.remove(pattern ? ps.patterns : ps.channels, name, s)
    confirm(s, out, kind, name)
  }
  s.update()
}

function pubsub(s: Session, a: Args, out: Reply): void {
  const ps = s.server.pubsub
  if (isWord(a, 1, 'CHANNELS')) {
    if (a.count > 3) return void out.write("-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n")
    const pattern = a.count === 3 ? a.string(2) : null
    const names = [...ps.channels.keys()].filter((c) => pattern === null || globMatch(pattern, c))
    writeArrayHeader(out, names.length)
    for (const name of names) writeBulk(out, name)
  } else if (isWord(a, 1, 'NUMSUB')) {
    writeArrayHeader(out, (a.count - 2) * 2)
    for (let i = 2; i < a.count; i++) {
      const name = a.string(i)
      writeBulk(out, name)
      writeInteger(out, ps.channels.get(name)?.size ?? 0)
    }
  } else if (isWord(a, 1, 'NUMPAT')) {
    writeInteger(out, ps.patterns.size)
  } else {
    writeArrayHeader(out, HELP.length)
    for (const line of HELP) out.write(`+${line}\r\n`)
  }
}

/** Our own help text (PUBSUB HELP). */
const HELP = [
  'PUBSUB <subcommand> [<arg> ...], where the subcommand is one of:',
  'CHANNELS [<pattern>]: the channels with a subscriber, all or those matching <pattern>.',
  'NUMSUB [<channel> ...]: each channel and its number of subscribers (patterns not counted).',
  'NUMPAT: the number of pattern subscriptions.',
  'HELP: this text.',
]

export const PUBSUB_COMMANDS: readonly ServerCommand<Session>[] = [
  { name: 'SUBSCRIBE', arity: -2, flags: IN_SUBSCRIBED, run: (s, a, out) => subscribe(s, a, out, false) },
  { name: 'PSUBSCRIBE', arity: -2, flags: IN_SUBSCRIBED, run: (s, a, out) => subscribe(s, a, out, true) },
  { name: 'UNSUBSCRIBE', arity: -1, flags: IN_SUBSCRIBED, run: (s, a, out) => unsubscribe(s, a, out, false) },
  { name: 'PUNSUBSCRIBE', arity: -1, flags: IN_SUBSCRIBED, run: (s, a, out) => unsubscribe(s, a, out, true) },
  { name: 'PUBLISH', arity: 3, run: (s, a, out) => writeInteger(out, s.server.pubsub.publish(a.string(1), a.view(2))) },
  {
    name: 'PUBSUB',
    arity: -2,
    subcommands: [
      { name: 'CHANNELS', arity: -2 },
      { name: 'NUMSUB', arity: -2 },
      { name: 'NUMPAT', arity: 2 },
      { name: 'HELP', arity: 2 },
    ],
    run: pubsub,
  },
]

/** Leaves every channel and pattern without confirmations (RESET, a closed connection). */
export function unsubscribeAll(s: Session): void {
  const ps = s.server.pubsub
  for (const c of s.channels) ps.remove(ps.channels, c, s)
  for (const p of s.patterns) ps.remove(ps.patterns, p, s)
  s.channels.clear()
  s.patterns.clear()
  s.update()
}
