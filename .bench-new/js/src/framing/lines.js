import { InvalidArgumentError, LimitReachedError } from '../errors.js';
import { checkInteger, checkObject, checkOneOf } from '../validate.js';
import { checkInput, payloadBytes } from './framer.js';
const LF = Buffer.from('\n');
const CR = 0x0d;
/**
 * Lines ended by LF or CRLF (the CR is not part of the payload), like Netty's
 * LineBasedFrameDecoder and tokio's LinesCodec. `max` is required: a peer that never sends a
 * line ending must not fill the memory.
 */
export function lines(options) {
    const { max, ending = 'lf' } = checkObject('lines', 'options', options, 'an object { max, ending? }');
    checkInteger('lines', 'options.max', max);
    checkOneOf('lines', 'options.ending', ending, ['lf', 'crlf']);
    const end = ending === 'crlf' ? '\r\n' : '\n';
    // +1: the CR of a CRLF ending sits before the LF but is not payload.
    const wait = { kind: 'delimiter', delimiter: LF, max: max + 1, offset: 0 };
    return {
        scan(input) {
            checkInput('lines.scan', input);
            const at = input.indexOf(0x0a);
            if (at < 0)
                return wait;
            if (at > max + 1)
                return { kind: 'error', error: new LimitReachedError(max, `line longer than ${max} bytes`) };
            const stop = at > 0 && input.byte(at - 1) === CR ? at - 1 : at;
            if (stop > max)
                return { kind: 'error', error: new LimitReachedError(max, `line longer than ${max} bytes`) };
            return { kind: 'frame', start: 0, end: stop, size: at + 1 };
        },
        encode(output, payload) {
            const bytes = payloadBytes('lines.encode', output, payload);
            if (bytes.length > max)
                throw new InvalidArgumentError(`line of ${bytes.length} bytes exceeds max ${max}`);
            if (bytes.indexOf(0x0a) >= 0)
                throw new InvalidArgumentError('a line cannot contain LF');
            output.write(bytes);
            output.write(end);
        },
    };
}
