import { InvalidArgumentError, LimitReachedError, ProtocolError } from '../errors.js';
import { checkBoolean, checkInteger, checkOneOf, checkOptions } from '../validate.js';
import { checkInput, payloadBytes } from './framer.js';
/**
 * Frames announced by a length field (Netty's LengthFieldBasedFrameDecoder, tokio's
 * LengthDelimitedCodec): `[lengthOffset bytes][length][payload of length + adjustment bytes]`.
 */
export function lengthPrefixed(options = {}) {
    const where = 'lengthPrefixed';
    const o = checkOptions(where, 'options', options);
    const { lengthSize = 4, endian = 'big', lengthOffset = 0, adjustment = 0, maxFrameLength = 1024 * 1024, keepHeader = false } = o;
    checkOneOf(where, 'options.lengthSize', lengthSize, [1, 2, 4, 'varint']);
    checkOneOf(where, 'options.endian', endian, ['big', 'little']);
    checkInteger(where, 'options.lengthOffset', lengthOffset);
    checkInteger(where, 'options.adjustment', adjustment, { min: Number.MIN_SAFE_INTEGER });
    checkInteger(where, 'options.maxFrameLength', maxFrameLength);
    checkBoolean(where, 'options.keepHeader', keepHeader);
    const fixedHeader = lengthSize === 'varint' ? 0 : lengthOffset + lengthSize;
    const tooLong = (n) => ({
        kind: 'error',
        error: new LimitReachedError(maxFrameLength, `frame of ${n} bytes exceeds maxFrameLength ${maxFrameLength}`),
    });
    /** Reads the length field: [value, header size], or a Scan saying what is missing or wrong. */
    function readLength(input) {
        if (lengthSize === 'varint') {
            let value = 0;
            for (let i = 0; i < 5; i++) {
                const byte = input.byte(lengthOffset + i);
                if (byte === undefined)
                    return { kind: 'bytes', n: lengthOffset + i + 1 };
                value += (byte & 0x7f) * 2 ** (7 * i);
                if ((byte & 0x80) === 0)
                    return [value, lengthOffset + i + 1];
            }
            return { kind: 'error', error: new ProtocolError('lengthPrefixed: varint longer than 5 bytes') };
        }
        if (input.length < fixedHeader)
            return { kind: 'bytes', n: fixedHeader };
        const field = input.view(lengthOffset, fixedHeader);
        const value = lengthSize === 1 ? field[0] : endian === 'big' ? field.readUIntBE(0, lengthSize) : field.readUIntLE(0, lengthSize);
        return [value, fixedHeader];
    }
    return {
        scan(input) {
            checkInput('lengthPrefixed.scan', input);
            const read = readLength(input);
            if (!Array.isArray(read))
                return read;
            const [value, header] = read;
            const length = value + adjustment;
            if (length < 0)
                return { kind: 'error', error: new ProtocolError(`lengthPrefixed: length ${value} with adjustment ${adjustment} is negative`) };
            if (length > maxFrameLength)
                return tooLong(length);
            const size = header + length;
            if (input.length < size)
                return { kind: 'bytes', n: size };
            return { kind: 'frame', start: keepHeader ? 0 : header, end: size, size };
        },
        encode(output, payload) {
            const bytes = payloadBytes('lengthPrefixed.encode', output, payload);
            if (lengthOffset > 0)
                throw new InvalidArgumentError('lengthPrefixed: encode cannot invent the bytes before the length field; write them yourself');
            if (bytes.length > maxFrameLength)
                throw new InvalidArgumentError(`frame of ${bytes.length} bytes exceeds maxFrameLength ${maxFrameLength}`);
            const value = bytes.length - adjustment;
            if (value < 0)
                throw new InvalidArgumentError(`lengthPrefixed: cannot encode length ${bytes.length} with adjustment ${adjustment}`);
            if (lengthSize === 'varint') {
                const field = [];
                let rest = value;
                do {
                    field.push((rest % 128) | (rest >= 128 ? 0x80 : 0));
                    rest = Math.floor(rest / 128);
                } while (rest > 0);
                output.write(Uint8Array.from(field));
            }
            else {
                if (value >= 2 ** (8 * lengthSize))
                    throw new InvalidArgumentError(`lengthPrefixed: length ${value} does not fit in ${lengthSize} bytes`);
                const field = Buffer.allocUnsafe(lengthSize);
                if (endian === 'big')
                    field.writeUIntBE(value, 0, lengthSize);
                else
                    field.writeUIntLE(value, 0, lengthSize);
                output.write(field);
            }
            output.write(bytes);
        },
    };
}
