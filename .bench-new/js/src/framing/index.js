export { fixed } from './fixed.js';
export { expectFrame } from './framer.js';
export { lengthPrefixed } from './length-prefixed.js';
export { lines } from './lines.js';
export { netstring } from './netstring.js';
