/**
 * The hand-written pipelined client of the RESP client scenario, without its socket (so that
 * bench/micro/resp-client.ts runs the very same code): a batch is encoded into one string and
 * handed to `write` at once; replies are parsed from one accumulated buffer with `indexOf`, and
 * one promise per batch settles with all its replies.
 */
export interface HandPipeline {
  /** Bytes from the server. */
  onData(chunk: Buffer): void
  /** SETs every key to `value` in one write; resolves with the replies. */
  sets(keys: readonly string[], value: string): Promise<unknown[]>
  /** GETs every key in one write; resolves with the replies. */
  gets(keys: readonly string[]): Promise<unknown[]>
}

export function handPipeline(write: (commands: string) => void): HandPipeline {
  /** Batches written and awaiting replies, oldest first. */
  const waiting: { count: number; replies: unknown[]; resolve: (replies: unknown[]) => void }[] = []
  let pending: Buffer | null = null
  const onData = (chunk: Buffer): void => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk])
    let pos = 0
    for (;;) {
      const head = waiting[0]
      if (head === undefined) break
      const lf = buf.indexOf(0x0a, pos)
      if (lf < 0) break
      const type = buf[pos]
      let reply: unknown
      let next = lf + 1
      if (type === 0x24) {
        const length = Number(buf.toString('latin1', pos + 1, lf - 1))
        if (length < 0) reply = null
        else {
          if (next + length + 2 > buf.length) break
          reply = buf.toString('utf8', next, next + length)
          next += length + 2
        }
      } else if (type === 0x2b) reply = buf.toString('latin1', pos + 1, lf - 1)
      else if (type === 0x3a) reply = Number(buf.toString('latin1', pos + 1, lf - 1))
      else reply = new Error(buf.toString('latin1', pos + 1, lf - 1))
      pos = next
      head.replies.push(reply)
      if (head.replies.length === head.count) {
        waiting.shift()
        head.resolve(head.replies)
      }
    }
    pending = pos < buf.length ? buf.subarray(pos) : null
  }
  const send = (commands: string, count: number): Promise<unknown[]> =>
    new Promise((resolve) => {
      waiting.push({ count, replies: [], resolve })
      write(commands)
    })
  const encode = (args: readonly string[]): string => {
    let s = `*${args.length}\r\n`
    for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
    return s
  }
  return {
    onData,
    sets: (keys, value) => {
      let s = ''
      for (const k of keys) s += encode(['SET', k, value])
      return send(s, keys.length)
    },
    gets: (keys) => {
      let s = ''
      for (const k of keys) s += encode(['GET', k])
      return send(s, keys.length)
    },
  }
}
