import { InvalidArgumentError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { checkInput, payloadBytes } from './framer.js';
/** Frames of exactly `size` bytes each, a positive safe integer (Netty's FixedLengthFrameDecoder). */
export function fixed(size) {
    checkInteger('fixed', 'size', size, { min: 1 });
    const wait = { kind: 'bytes', n: size };
    const frame = { kind: 'frame', start: 0, end: size, size };
    return {
        scan(input) {
            checkInput('fixed.scan', input);
            return input.length >= size ? frame : wait;
        },
        encode(output, payload) {
            const bytes = payloadBytes('fixed.encode', output, payload);
            if (bytes.length !== size)
                throw new InvalidArgumentError(`fixed: payload of ${bytes.length} bytes, frames are ${size}`);
            output.write(bytes);
        },
    };
}
