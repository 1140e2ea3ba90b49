/**
 * The guide's key-value server with async/await, on the same engine and limits.
 *
 *     npx tsx --conditions=rotor-stream-source examples/kv/async.ts   # listens on 127.0.0.1:7071
 */
import { pathToFileURL } from 'node:url'
import { type Connection, handleAsync, RotorStreamError } from 'rotor-stream'
import { runServer } from '../cli.js'
import { apply, MAX_LINE } from './store.js'

/** A client silent this long (ms) is disconnected. */
const IDLE_TIMEOUT = 60_000

/** Serves one connection: read a line, answer it, until QUIT or the client leaves. */
export function kvHandler(store: Map<string, string>) {
  return async (conn: Connection): Promise<void> => {
    for (;;) {
      let line: Buffer
      try {
        line = await conn.readUntil('\n', { max: MAX_LINE, timeout: IDLE_TIMEOUT })
      } catch (err) {
        // End of stream, idle timeout, line too long, read error: end() follows. Anything else is
        // a bug: thrown on, handleAsync reports it (onError) and ends the connection.
        if (!(err instanceof RotorStreamError)) throw err
        if (err.code === 'RS_ERR_LIMIT_REACHED') conn.write('ERROR line too long\n')
        return
      }
      const answer = apply(store, line.toString())
      conn.write(answer.reply)
      if (answer.close) return
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runServer({ file: 'examples/kv/async.ts', port: 7071 }, handleAsync(kvHandler(new Map())), 'key-value server, async')
}
