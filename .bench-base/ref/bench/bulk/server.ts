/**
 * Sinks of the bulk scenario, one process each. A transfer is an 8-byte big-endian length, then
 * that many bytes; the server answers `OK\n` once it has them all, then waits for the next one.
 *
 * - `rotor`: a small state machine on Stream.attach: `expectBytes(8)` for the header, then
 *   `expectBytes(min(CHUNK, remaining))` for every chunk of the body (CHUNK from argv[3]). With
 *   `all` (the default mode, argv[4]) each call takes every body byte buffered, as a streaming
 *   sink (hash, file) would: a read is then adopted and dropped whole, never copied. With `exact`
 *   it consumes exactly CHUNK bytes, so the tail of each read is joined with the next one (a copy).
 * - `plain`: a plain socket into a sink: count the bytes of every 'data' event.
 *
 * Prints `listening <port>`.   node server.ts <rotor|plain> [chunkBytes] [all|exact]
 */
import net from 'node:net'
import { type Exception, Intent, type Protocol, Stream, type Transport } from 'rotor-stream'

const kind = process.argv[2] ?? 'rotor'
/** Bytes per bytesRead call of the body. */
const CHUNK = Number(process.argv[3] ?? 64 * 1024)
/** Whether a body bytesRead takes every buffered byte of the body or exactly `end`. */
const TAKE_ALL = (process.argv[4] ?? 'all') === 'all'
/** Length of the transfer header: a u64, big-endian. */
const HEADER = 8
const OK = Buffer.from('OK\n')

class BulkSink implements Protocol {
  /** `header`: waiting for a transfer's length; `body`: `remaining` bytes of it still to come. */
  phase: 'header' | 'body' = 'header'
  /** Body bytes not yet received (phase `body`). */
  remaining = 0

  /** Waits for the first transfer; no deadline: an idle sink is fine. */
  static create(): Intent<BulkSink> {
    return Intent.of(new BulkSink()).expectBytes(HEADER)
  }

  bytesRead(t: Transport, end: number): Intent<BulkSink> {
    switch (this.phase) {
      case 'header':
        this.remaining = Number(t.input.view(0, HEADER).readBigUInt64BE(0))
        t.input.consume(HEADER)
        this.phase = 'body'
        return this.next(t)
      case 'body': {
        // The sink: a real protocol would hash or store view(0, n) here.
        const n = TAKE_ALL ? Math.min(t.input.length, this.remaining) : end
        t.input.consume(n)
        this.remaining -= n
        return this.next(t)
      }
    }
  }

  exception(_t: Transport, reason: Exception): Intent<BulkSink> {
    return reason.code === 'RS_ERR_END_OF_STREAM' ? Intent.done() : Intent.error(reason)
  }

  private next(t: Transport): Intent<BulkSink> {
    if (this.remaining > 0) return Intent.of(this).expectBytes(Math.min(CHUNK, this.remaining))
    t.output.write(OK)
    this.phase = 'header'
    return Intent.of(this).expectBytes(HEADER)
  }
}

/** The baseline: count bytes as they come, in whatever chunks the socket delivers. */
function plainSink(socket: net.Socket): void {
  let header: Buffer | null = null
  let remaining = -1
  socket.on('data', (chunk: Buffer) => {
    let data = chunk
    while (data.length > 0) {
      if (remaining < 0) {
        header = header === null ? data : Buffer.concat([header, data])
        if (header.length < HEADER) return
        remaining = Number(header.readBigUInt64BE(0))
        data = header.subarray(HEADER)
        header = null
      }
      const n = Math.min(remaining, data.length)
      remaining -= n
      data = data.subarray(n)
      if (remaining === 0) {
        socket.write(OK)
        remaining = -1
      }
    }
  })
  socket.on('end', () => socket.end())
  socket.on('error', () => socket.destroy())
}

const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  if (kind === 'plain') plainSink(socket)
  else Stream.attach(socket, BulkSink.create)
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
