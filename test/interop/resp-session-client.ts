/**
 * A raw RESP connection for the differential tests: sends bytes, waits for a number of whole
 * replies (RESP2 or RESP3, push messages included) and keeps every byte received, so that two
 * servers can be compared byte for byte.
 */
import net from 'node:net'

/** Length of the complete reply at `at` in `b`, or -1 if it is not all there yet. */
export function replyLength(b: Buffer, at: number): number {
  const lf = b.indexOf(0x0a, at)
  if (lf < 0) return -1
  const type = String.fromCharCode(b[at] as number)
  const head = b.toString('latin1', at + 1, lf - 1)
  let end = lf + 1
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return end - at
    case '$':
    case '=':
    case '!': {
      const n = Number(head)
      if (n < 0) return end - at
      return b.length >= end + n + 2 ? end + n + 2 - at : -1
    }
    case '*':
    case '~':
    case '>':
    case '%': {
      const n = Number(head) * (type === '%' ? 2 : 1)
      for (let i = 0; i < n; i++) {
        const inner = replyLength(b, end)
        if (inner < 0) return -1
        end += inner
      }
      return end - at
    }
    default:
      throw new Error(`not a RESP reply at ${at}: ${JSON.stringify(b.toString('latin1', at, at + 40))}`)
  }
}

/** Encodes a command as an array of bulk strings. */
export function encode(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const bytes = typeof a === 'string' ? Buffer.from(a, 'latin1') : a
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

export class RawConnection {
  readonly socket: net.Socket
  /** Every byte received. */
  received = Buffer.alloc(0)
  /** Offset of the first reply not yet waited for. */
  #parsed = 0
  isClosed = false
  #waiter: (() => void) | null = null

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d])
      this.#waiter?.()
    })
    socket.on('close', () => {
      this.isClosed = true
      this.#waiter?.()
    })
    socket.on('error', () => {})
  }

  /** Connects to 127.0.0.1:`where`, or to the Unix socket at path `where`. */
  static open(where: number | string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const done = (): void => resolve(new RawConnection(socket))
      const socket = typeof where === 'number' ? net.connect(where, '127.0.0.1', done) : net.connect(where, done)
      socket.once('error', reject)
    })
  }

  send(data: Buffer | string): void {
    this.socket.write(data)
  }

  /** Waits until `n` more whole replies arrived (or the connection closed); returns them as text. */
  async replies(n: number): Promise<string> {
    const start = this.#parsed
    for (let got = 0; got < n; ) {
      const length = replyLength(this.received, this.#parsed)
      if (length >= 0) {
        this.#parsed += length
        got++
        continue
      }
      if (this.isClosed) break
      await new Promise<void>((resolve) => {
        this.#waiter = resolve
      })
      this.#waiter = null
    }
    return this.received.toString('latin1', start, this.#parsed)
  }

  /** Waits for the peer to close. */
  async closed(): Promise<void> {
    while (!this.isClosed) {
      await new Promise<void>((resolve) => {
        this.#waiter = resolve
      })
      this.#waiter = null
    }
  }

  close(): void {
    this.socket.destroy()
  }
}
