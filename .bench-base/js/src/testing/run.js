import { checkBoolean, checkBytes, checkFunction, checkNumber, checkOptions, invalid } from '../validate.js';
import { Harness } from './harness.js';
import { describeSplit, splits } from './splits.js';
/** Runs a protocol over scripted input chunks (each one socket read) on a virtual clock. */
export function runScripted(factory, chunks, options) {
    return runChunks('runScripted', factory, chunks, checkRunOptions('runScripted', factory, options));
}
/** Checks what {@link runScripted} and {@link checkSplits} share. */
function checkRunOptions(where, factory, options) {
    checkFunction(where, 'factory', factory, 'a function (transport, seed, scope) => Intent');
    const o = checkOptions(where, 'options', options);
    if (o.end !== undefined)
        checkBoolean(where, 'options.end', o.end);
    if (o.advanceClock !== undefined)
        checkNumber(where, 'options.advanceClock', o.advanceClock, { min: 0 });
    return o;
}
function runChunks(where, factory, chunks, options) {
    if (typeof chunks?.[Symbol.iterator] !== 'function') {
        throw invalid(where, 'chunks', 'an iterable of strings or Uint8Arrays (one per read)', chunks);
    }
    const harness = new Harness(factory, options);
    for (const chunk of chunks) {
        if (harness.closed !== 'open')
            break;
        harness.feed(chunk);
    }
    if (options.end && harness.closed === 'open')
        harness.end();
    if (options.advanceClock)
        harness.advance(options.advanceClock);
    return {
        output: harness.output,
        events: harness.events,
        exceptions: harness.exceptions,
        closed: harness.closed,
        error: harness.error,
        harness,
    };
}
/**
 * Runs `factory` over every split of `input` that {@link splits} yields and checks that each
 * gives exactly the output, handler calls and end of the unsplit run. Throws an Error naming
 * the first split that differs (its chunk lengths); returns the unsplit run otherwise.
 */
export function checkSplits(factory, input, options) {
    const o = checkRunOptions('checkSplits', factory, options);
    checkBytes('checkSplits', 'input', input);
    if (o.compareEvents !== undefined)
        checkBoolean('checkSplits', 'options.compareEvents', o.compareEvents);
    let reference;
    for (const chunks of splits(input, o)) {
        const run = runChunks('checkSplits', factory, chunks, o);
        if (reference === undefined) {
            reference = run;
            continue;
        }
        const where = describeSplit(chunks);
        if (!run.output.equals(reference.output)) {
            throw new Error(`split ${where}: output differs\n  unsplit: ${JSON.stringify(reference.output.toString('latin1'))}\n  split:   ${JSON.stringify(run.output.toString('latin1'))}`);
        }
        if (o.compareEvents !== false && run.events.join('\n') !== reference.events.join('\n')) {
            throw new Error(`split ${where}: handler calls differ\n  unsplit: ${reference.events.join(', ')}\n  split:   ${run.events.join(', ')}`);
        }
        if (run.closed !== reference.closed) {
            throw new Error(`split ${where}: ended ${run.closed}, unsplit ended ${reference.closed}`);
        }
    }
    return reference;
}
