import { InvalidArgumentError, LimitReachedError, ProtocolError } from '../errors.js';
import { checkInteger, checkObject } from '../validate.js';
import { checkInput, payloadBytes } from './framer.js';
const COLON = Buffer.from(':');
const COMMA = 0x2c;
/** D. J. Bernstein's netstrings: `<length>:<payload>,` with a decimal length (https://cr.yp.to/proto/netstrings.txt). */
export function netstring(options) {
    const { max } = checkObject('netstring', 'options', options, 'an object { max }');
    checkInteger('netstring', 'options.max', max);
    const digitsMax = String(max).length;
    const waitHeader = { kind: 'delimiter', delimiter: COLON, max: digitsMax, offset: 0 };
    return {
        scan(input) {
            checkInput('netstring.scan', input);
            const colon = input.indexOf(COLON);
            if (colon < 0) {
                // Reject a non-digit or a leading zero as soon as it arrives, not after max digits.
                for (let i = 0; i < Math.min(input.length, digitsMax + 1); i++) {
                    const c = input.byte(i);
                    if (c < 0x30 || c > 0x39 || (i === 1 && input.byte(0) === 0x30))
                        return { kind: 'error', error: new ProtocolError('netstring: bad length') };
                }
                return waitHeader;
            }
            const text = input.toString('latin1', 0, colon);
            if (!/^(0|[1-9]\d*)$/.test(text))
                return { kind: 'error', error: new ProtocolError(`netstring: bad length ${JSON.stringify(text.slice(0, 32))}`) };
            const length = Number(text);
            if (length > max)
                return { kind: 'error', error: new LimitReachedError(max, `netstring of ${length} bytes exceeds max ${max}`) };
            const size = colon + 1 + length + 1;
            if (input.length < size)
                return { kind: 'bytes', n: size };
            if (input.byte(size - 1) !== COMMA)
                return { kind: 'error', error: new ProtocolError('netstring: missing trailing comma') };
            return { kind: 'frame', start: colon + 1, end: colon + 1 + length, size };
        },
        encode(output, payload) {
            const bytes = payloadBytes('netstring.encode', output, payload);
            if (bytes.length > max)
                throw new InvalidArgumentError(`netstring of ${bytes.length} bytes exceeds max ${max}`);
            output.write(`${bytes.length}:`);
            output.write(bytes);
            output.write(',');
        },
    };
}
