export { Connection, type FramesOptions, handleAsync, type OpenOptions, open, type ReadUntilOptions, type WaitOptions } from './connection.js'
