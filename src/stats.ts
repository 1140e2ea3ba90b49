/**
 * Counters read on demand: one {@link StreamStats} per stream (made on its first byte in or
 * out, so an idle connection carries none), and one {@link ServerStats} per server.
 *
 * Assumptions: counting is a few number increments on paths that already run (a read, a write,
 * the start and end of a pushback); nothing is allocated per event and nothing is published
 * per event. Numbers stay exact up to 2^53 (9 PB).
 */

/** `closed` of a stream and its resolver. @internal */
export interface ClosedWaiter {
  readonly promise: Promise<Error | undefined>
  readonly resolve: (reason: Error | undefined) => void
}

/**
 * What one stream has done so far (`t.stats`, `stream.stats`, and the `stream:close` tracing
 * message). Bytes are those the protocol saw: after TLS decryption, before encryption.
 */
export class StreamStats {
  /** Bytes received (appended to `input`). */
  bytesIn = 0
  /** Bytes handed to the socket (taken from `output`), written or still queued. */
  bytesOut = 0
  /** Chunks received from the socket (one per socket read). */
  reads = 0
  /** Writes made to the socket (all output of one round is one write). */
  writes = 0
  /**
   * Milliseconds spent with input processing stopped by the automatic pushback (more than
   * `outputHighWaterMark` unwritten because the peer does not read), on the stream's clock.
   * A pushback still under way is counted up to the last event of the stream.
   */
  pushbackMs = 0
  /** When the pushback under way started (the stream's clock); NaN when none. @internal */
  pushbackSince = Number.NaN
  /** The stream's `closed` promise and its resolver, kept here to spare the stream a field. */
  #closedWaiter: ClosedWaiter | null = null

  /** @internal */
  get closedWaiter(): ClosedWaiter | null {
    return this.#closedWaiter
  }
  /** @internal */
  set closedWaiter(waiter: ClosedWaiter | null) {
    this.#closedWaiter = waiter
  }

  /** @internal */
  pushbackStarted(now: number): void {
    if (Number.isNaN(this.pushbackSince)) this.pushbackSince = now
  }

  /** @internal */
  pushbackEnded(now: number): void {
    if (Number.isNaN(this.pushbackSince)) return
    this.pushbackMs += Math.max(0, now - this.pushbackSince)
    this.pushbackSince = Number.NaN
  }

  /** A plain object of the counters (for JSON and logs). */
  toJSON(): { bytesIn: number; bytesOut: number; reads: number; writes: number; pushbackMs: number } {
    return { bytesIn: this.bytesIn, bytesOut: this.bytesOut, reads: this.reads, writes: this.writes, pushbackMs: this.pushbackMs }
  }
}

/**
 * What a server has done since it started listening (`server.stats`). A snapshot: every read
 * of `server.stats` makes a new object, and adds up the bytes of the live streams (a loop over
 * them: read it per scrape, not per request).
 */
export interface ServerStats {
  /** Connections accepted (TLS ones counted before their handshake). */
  readonly accepted: number
  /** Connections open now, TLS handshakes in progress included (`server.connections`). */
  readonly active: number
  /**
   * Connections closed at once because `maxConnections` were open (Node's `'drop'` event; a
   * runtime without it counts none: see docs/compatibility.md).
   */
  readonly refused: number
  /** TLS handshakes that failed or timed out (`handshakeTimeout`); 0 without TLS. */
  readonly tlsHandshakeFailures: number
  /** Bytes received by the streams of the server, closed and live. */
  readonly bytesIn: number
  /** Bytes sent by the streams of the server, closed and live. */
  readonly bytesOut: number
}

/** A stream whose counters may not exist yet (nothing sent or received): not made by reading them. @internal */
export interface StatsSource {
  readonly statsIfAny: StreamStats | null
}

/** The counters behind `server.stats`. @internal */
export class ServerCounters {
  accepted = 0
  refused = 0
  tlsHandshakeFailures = 0
  /** Bytes of the streams already closed. */
  #bytesIn = 0
  #bytesOut = 0

  /** A stream of the server closed: its bytes move to the totals. */
  closed(stream: StatsSource | null | undefined): void {
    const stats = stream?.statsIfAny
    if (stats === null || stats === undefined) return
    this.#bytesIn += stats.bytesIn
    this.#bytesOut += stats.bytesOut
  }

  /** The totals plus the live streams'. */
  snapshot(active: number, live: Iterable<StatsSource | null>): ServerStats {
    let bytesIn = this.#bytesIn
    let bytesOut = this.#bytesOut
    for (const stream of live) {
      const stats = stream?.statsIfAny
      if (stats === null || stats === undefined) continue
      bytesIn += stats.bytesIn
      bytesOut += stats.bytesOut
    }
    return { accepted: this.accepted, active, refused: this.refused, tlsHandshakeFailures: this.tlsHandshakeFailures, bytesIn, bytesOut }
  }
}
