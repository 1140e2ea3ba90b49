import type { Factory } from '../protocol.js'
import { checkBoolean, checkBytes, checkFunction, checkNumber, checkOptions, invalid } from '../validate.js'
import { type Closed, Harness, type HarnessOptions } from './harness.js'
import { describeSplit, type SplitOptions, splits } from './splits.js'

/** Options of {@link runScripted}. */
export interface RunOptions<S = unknown> extends HarnessOptions<S> {
  /** Send end of stream after the last chunk: `true` or `false`. @default false */
  end?: boolean
  /** Advance the virtual clock by this many ms (a finite number >= 0) after the input (and end). @default 0 */
  advanceClock?: number
}

/** Options of {@link checkSplits}. */
export interface CheckOptions<S = unknown> extends RunOptions<S>, SplitOptions {
  /**
   * Also require the same sequence of handler calls. Turn it off for a protocol that parses
   * everything buffered in one `bytesRead` (how many calls it gets depends on the reads, its
   * output does not). `true` or `false`.
   * @default true
   */
  compareEvents?: boolean
}

/** What a scripted run produced. */
export interface Run {
  /** Everything the protocol wrote. */
  readonly output: Buffer
  /** Handler calls in order (see `Harness.events`). */
  readonly events: readonly string[]
  /** Exception reasons, in order. */
  readonly exceptions: Harness['exceptions']
  /** How the stream ended. */
  readonly closed: Closed
  /** The error it ended with, if any. */
  readonly error: Error | undefined
  /** The harness, to go on driving it. */
  readonly harness: Harness
}

/** Runs a protocol over scripted input chunks (each one socket read) on a virtual clock. */
export function runScripted<S>(factory: Factory<S>, chunks: Iterable<Uint8Array | string>, options?: RunOptions<S>): Run {
  return runChunks('runScripted', factory, chunks, checkRunOptions('runScripted', factory, options))
}

/** Checks what {@link runScripted} and {@link checkSplits} share. */
function checkRunOptions<S, O extends RunOptions<S>>(where: string, factory: Factory<S>, options: O | undefined): O {
  checkFunction(where, 'factory', factory, 'a function (transport, seed, scope) => Intent')
  const o = checkOptions<O>(where, 'options', options)
  if (o.end !== undefined) checkBoolean(where, 'options.end', o.end)
  if (o.advanceClock !== undefined) checkNumber(where, 'options.advanceClock', o.advanceClock, { min: 0 })
  return o
}

function runChunks<S>(where: string, factory: Factory<S>, chunks: Iterable<Uint8Array | string>, options: RunOptions<S>): Run {
  if (typeof (chunks as Partial<Iterable<unknown>> | null)?.[Symbol.iterator] !== 'function') {
    throw invalid(where, 'chunks', 'an iterable of strings or Uint8Arrays (one per read)', chunks)
  }
  const harness = new Harness(factory, options)
  for (const chunk of chunks) {
    if (harness.closed !== 'open') break
    harness.feed(chunk)
  }
  if (options.end && harness.closed === 'open') harness.end()
  if (options.advanceClock) harness.advance(options.advanceClock)
  return {
    output: harness.output,
    events: harness.events,
    exceptions: harness.exceptions,
    closed: harness.closed,
    error: harness.error,
    harness,
  }
}

/**
 * Runs `factory` over every split of `input` that {@link splits} yields and checks that each
 * gives exactly the output, handler calls and end of the unsplit run. Throws an Error naming
 * the first split that differs (its chunk lengths); returns the unsplit run otherwise.
 */
export function checkSplits<S>(factory: Factory<S>, input: Uint8Array | string, options?: CheckOptions<S>): Run {
  const o = checkRunOptions('checkSplits', factory, options)
  checkBytes('checkSplits', 'input', input)
  if (o.compareEvents !== undefined) checkBoolean('checkSplits', 'options.compareEvents', o.compareEvents)
  let reference: Run | undefined
  for (const chunks of splits(input, o)) {
    const run = runChunks('checkSplits', factory, chunks, o)
    if (reference === undefined) {
      reference = run
      continue
    }
    const where = describeSplit(chunks)
    if (!run.output.equals(reference.output)) {
      throw new Error(
        `split ${where}: output differs\n  unsplit: ${JSON.stringify(reference.output.toString('latin1'))}\n  split:   ${JSON.stringify(run.output.toString('latin1'))}`,
      )
    }
    if (o.compareEvents !== false && run.events.join('\n') !== reference.events.join('\n')) {
      throw new Error(`split ${where}: handler calls differ\n  unsplit: ${reference.events.join(', ')}\n  split:   ${run.events.join(', ')}`)
    }
    if (run.closed !== reference.closed) {
      throw new Error(`split ${where}: ended ${run.closed}, unsplit ended ${reference.closed}`)
    }
  }
  return reference as Run
}
