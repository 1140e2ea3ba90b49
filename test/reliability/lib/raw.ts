/**
 * A raw TCP peer for hostile scenarios: it writes what it is told, collects what it receives,
 * and lets a test await what it needs (some text received, the close) instead of sleeping.
 */
import net from 'node:net'

/** Someone waiting for a condition on what a peer received. */
interface Waiter {
  readonly test: (peer: RawPeer) => boolean
  readonly resolve: () => void
}

export class RawPeer {
  readonly socket: net.Socket
  /** Everything received, latin1 (one char per byte); only the last `keepTail` chars with that option. */
  received = ''
  /** The first 1,024 chars received (also with `keepTail`). */
  head = ''
  /** Bytes received. */
  receivedBytes = 0
  /** The socket's error, if any (a reset shows here, then 'close'). */
  error: NodeJS.ErrnoException | null = null
  readonly connected: Promise<void>
  readonly closed: Promise<void>
  isClosed = false
  #waiters: Waiter[] = []

  readonly #keepTail: number

  /**
   * `read: false` starts without reading (see `read()`); `keepTail` bounds `received` to the
   * last that many chars, for peers that receive hundreds of megabytes.
   */
  constructor(port: number, options: { read?: boolean; keepTail?: number } = {}) {
    this.#keepTail = options.keepTail ?? Number.POSITIVE_INFINITY
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.setNoDelay(true)
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()))
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.isClosed = true
        this.#check(true)
        resolve()
      }),
    )
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err
    })
    if (options.read !== false) this.read()
  }

  /** Starts (or resumes) reading and collecting. */
  read(): void {
    if (this.socket.listenerCount('data') === 0) {
      this.socket.on('data', (chunk: Buffer) => {
        const text = chunk.toString('latin1')
        if (this.head.length < 1024) this.head += text.slice(0, 1024 - this.head.length)
        this.received += text
        if (this.received.length > 2 * this.#keepTail) this.received = this.received.slice(-this.#keepTail)
        this.receivedBytes += chunk.length
        this.#check(false)
      })
    }
    this.socket.resume()
  }

  /**
   * Resolves once `test` holds (checked on every arrival) or the socket closed: `true`; after
   * `within` ms without either: `false` (a safety net against a hang, not a way to wait).
   */
  until(test: (peer: RawPeer) => boolean, within = 20_000): Promise<boolean> {
    if (test(this) || this.isClosed) return Promise.resolve(true)
    return new Promise((resolve) => {
      const waiter = {
        test,
        resolve: () => {
          clearTimeout(timer)
          resolve(true)
        },
      }
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        resolve(false)
      }, within)
      this.#waiters.push(waiter)
    })
  }

  /** Writes `data` unless the socket is gone; resolves once the socket can take more (backpressure). */
  write(data: string | Buffer): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve()
    if (this.socket.write(data)) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.removeListener('drain', done)
        this.socket.removeListener('close', done)
        resolve()
      }
      this.socket.once('drain', done)
      this.socket.once('close', done)
    })
  }

  /** Whether writing more makes sense: connected, not closed, nothing received (an answer means the server is done). */
  get isListening(): boolean {
    return !this.socket.destroyed && !this.socket.writableEnded && !this.isClosed && this.error === null
  }

  destroy(): void {
    this.socket.destroy()
  }

  #check(all: boolean): void {
    if (this.#waiters.length === 0) return
    const still: Waiter[] = []
    for (const w of this.#waiters) {
      if (all || w.test(this)) w.resolve()
      else still.push(w)
    }
    this.#waiters = still
  }
}

/** Opens `count` peers, `batch` connections at a time (so the accept queue does not overflow). */
export async function openPeers(port: number, count: number, options: { read?: boolean; batch?: number } = {}): Promise<RawPeer[]> {
  const peers: RawPeer[] = []
  const batch = options.batch ?? 200
  for (let i = 0; i < count; i += batch) {
    const some = Array.from({ length: Math.min(batch, count - i) }, () => new RawPeer(port, options))
    await Promise.all(some.map((p) => p.connected))
    peers.push(...some)
  }
  return peers
}
