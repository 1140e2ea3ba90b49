import { Buf } from '../buf.js';
import { checkBytes, invalid } from '../validate.js';
/**
 * Turns what a framer waits for into the Intent's expectation, for a protocol that reads frames:
 *
 * ```ts
 * bytesRead(t: Transport): Intent<Echo> {
 *   const scan = FRAMER.scan(t.input)
 *   if (scan.kind === 'frame') { handle(t.input.view(scan.start, scan.end)); t.input.consume(scan.size) }
 *   if (scan.kind === 'error') return Intent.of(this).reject(scan.error) // exception() answers it
 *   return expectFrame(Intent.of(this), FRAMER, t.input)
 * }
 * ```
 * When a whole frame is already buffered it returns `expectBytes(0)`, so `bytesRead` runs again at once.
 */
export function expectFrame(builder, framer, input) {
    if (typeof builder?.expectBytes !== 'function' || typeof builder.expectDelimiter !== 'function') {
        throw invalid('expectFrame', 'builder', 'an IntentBuilder (Intent.of(state))', builder);
    }
    if (typeof framer?.scan !== 'function')
        throw invalid('expectFrame', 'framer', 'a Framer (lines(), lengthPrefixed()...)', framer);
    checkInput('expectFrame', input);
    const scan = framer.scan(input);
    switch (scan.kind) {
        case 'frame':
            return builder.expectBytes(0);
        case 'bytes':
            return builder.expectBytes(scan.n);
        case 'delimiter':
            return builder.expectDelimiter(scan.delimiter, { max: scan.max, offset: scan.offset });
        case 'error':
            // exception() hears of it after the replies to the frames before it: the same under every split.
            return builder.reject(scan.error);
    }
}
/** Throws unless `input` is a Buf (what `scan` and `expectFrame` read). @internal */
export function checkInput(where, input) {
    if (!(input instanceof Buf))
        throw invalid(where, 'input', 'a Buf (transport.input)', input);
}
/** Checks `encode`'s arguments and returns the payload's bytes. @internal */
export function payloadBytes(where, output, payload) {
    if (!(output instanceof Buf))
        throw invalid(where, 'output', 'a Buf (transport.output)', output);
    const bytes = checkBytes(where, 'payload', payload);
    return typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
}
