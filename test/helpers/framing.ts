/**
 * Framing test helpers: one transcript of what a framer made of an input, the same whichever
 * way it is read — `scan()` on a Buf, `expectFrame()` through the engine (test kit), or
 * `conn.frames()` on the async API — so that the three can be compared with each other and
 * across every split of the input.
 *
 * Transcript lines: `F <payload hex>` a frame, `D <code> <limit>` a reported discard, `E <code>`
 * an error (the last line), `EOF` a clean end, `X <code>` an exception from the stream.
 */
import { Buf, type Connection, type Exception, expectFrame, type Framer, handleAsync, Intent, type Protocol, type Scan, type Transport } from 'rotor-stream'
import { Harness } from 'rotor-stream/testing'

/** What one scan result adds to a transcript; true when the transcript ends there. */
function note(lines: string[], scan: Scan, payload: () => Buffer): boolean {
  switch (scan.kind) {
    case 'frame':
      lines.push(`F ${payload().toString('hex')}`)
      return false
    case 'discard':
      if (scan.error !== null) lines.push(`D ${scan.error.code} ${scan.error.limit}`)
      return false
    case 'error':
      lines.push(`E ${scan.error.code}`)
      return true
    default:
      return false
  }
}

/** Reads the frames of `chunks` with `framer.scan` on one Buf (a chunk at a time), then the end if `end`. */
export function scanAll(framer: Framer, chunks: readonly Uint8Array[], end: boolean): string[] {
  const input = new Buf()
  const lines: string[] = []
  const drain = (): boolean => {
    for (let guard = 0; guard < 1_000_000; guard++) {
      const scan = framer.scan(input)
      if (scan.kind === 'bytes' || scan.kind === 'delimiter') return false
      const done = note(lines, scan, () => input.copy(scan.kind === 'frame' ? scan.start : 0, scan.kind === 'frame' ? scan.end : 0))
      if (scan.kind === 'frame') input.consume(scan.size)
      if (done) return true
    }
    throw new Error('scan did not settle')
  }
  for (const chunk of chunks) {
    input.write(chunk)
    if (drain()) return lines
  }
  if (!end) return lines
  atEnd(framer, input, lines)
  return lines
}

/**
 * The peer has ended: frames still in view, then what the framer's `scanEnd` makes of the
 * rest (a last frame, a drop, an error), or an end inside a frame.
 */
function atEnd(framer: Framer, input: Buf, lines: string[]): void {
  for (let guard = 0; guard < 1_000_000; guard++) {
    if (input.length === 0) {
      lines.push('EOF')
      return
    }
    let scan: Scan | null = framer.scan(input)
    if (scan.kind === 'bytes' || scan.kind === 'delimiter') scan = framer.scanEnd?.(input) ?? null
    if (scan === null || scan.kind === 'bytes' || scan.kind === 'delimiter') {
      lines.push('X RS_ERR_END_OF_STREAM')
      return
    }
    const s = scan
    if (note(lines, s, () => input.copy(s.kind === 'frame' ? s.start : 0, s.kind === 'frame' ? s.end : 0))) return
    if (s.kind === 'frame') input.consume(s.size)
  }
  throw new Error('scanEnd did not settle')
}

/**
 * A protocol (factory) that writes the transcript to its output: frames through `scan` and
 * `expectFrame`, the end of the stream through `scanEnd`.
 */
export function frameLog(framer: Framer): (t: Transport) => Intent<Protocol> {
  const log: Protocol = {
    bytesRead(t: Transport): Intent<Protocol> {
      for (;;) {
        const scan = framer.scan(t.input)
        if (scan.kind === 'bytes' || scan.kind === 'delimiter') return expectFrame(Intent.of(log), framer, t.input)
        const lines: string[] = []
        const done = note(lines, scan, () => Buffer.from(t.input.view(scan.kind === 'frame' ? scan.start : 0, scan.kind === 'frame' ? scan.end : 0)))
        if (scan.kind === 'frame') t.input.consume(scan.size)
        for (const line of lines) t.output.write(`${line}\n`)
        if (done) return Intent.done()
      }
    },
    exception(t: Transport, reason: Exception): Intent<Protocol> {
      if (reason.code === 'RS_ERR_END_OF_STREAM') {
        const lines: string[] = []
        atEnd(framer, t.input, lines)
        for (const line of lines) t.output.write(`${line}\n`)
        return Intent.done()
      }
      t.output.write(`X ${reason.code}\n`)
      return Intent.done()
    },
  }
  return (t) => expectFrame(Intent.of(log), framer, t.input)
}

/** The transcript of `frameLog` on the test kit, one chunk per read. */
export function engineAll(framer: Framer, chunks: readonly Uint8Array[], end: boolean): string[] {
  const h = new Harness(frameLog(framer))
  for (const chunk of chunks) if (h.state === 'running') h.feed(chunk)
  if (end && h.state === 'running') h.end()
  return transcript(h.output)
}

/** An async handler writing the transcript of `conn.frames(framer)`. */
export function asyncFrameLog(framer: Framer): ReturnType<typeof handleAsync> {
  return handleAsync(async (conn: Connection) => {
    try {
      const onDiscard = (e: { code: string; limit: number }): void => conn.write(`D ${e.code} ${e.limit}\n`)
      for await (const frame of conn.frames(framer, { onDiscard })) conn.write(`F ${frame.toString('hex')}\n`)
      conn.write('EOF\n')
    } catch (err) {
      const code = (err as { code?: string }).code
      conn.write(code === 'RS_ERR_END_OF_STREAM' ? 'X RS_ERR_END_OF_STREAM\n' : `E ${code}\n`)
    }
  })
}

/** Lets the async handler run to its next wait, then runs the wakeup it asked for. */
export async function settle(h: Harness): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve))
    if (h.state === 'running') h.wakeup()
  }
}

/** The transcript of `conn.frames()` on the test kit, one chunk per read. */
export async function asyncAll(framer: Framer, chunks: readonly Uint8Array[], end: boolean): Promise<string[]> {
  const h = new Harness(asyncFrameLog(framer))
  await settle(h)
  for (const chunk of chunks) {
    if (h.state !== 'running') break
    h.feed(chunk)
    await settle(h)
  }
  if (end && h.state === 'running') {
    h.end()
    await settle(h)
  }
  return transcript(h.output)
}

function transcript(output: Buffer): string[] {
  const text = output.toString('latin1')
  return text === '' ? [] : text.replace(/\n$/, '').split('\n')
}

/** `input` one byte per chunk. */
export function bytewise(input: Uint8Array): Buffer[] {
  return Array.from(input, (b) => Buffer.from([b]))
}

/**
 * How many bytes (fed one at a time) it takes before `lines` first shows an error line, or -1.
 * `feed(n)` must return the transcript after the first n bytes.
 */
export function firstError(lines: (n: number) => string[], length: number): number {
  for (let n = 0; n <= length; n++) if (lines(n).some((l) => l.startsWith('E '))) return n
  return -1
}
