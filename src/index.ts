export { Buf } from './buf.js'
export { type Address, type ConnectOptions, connect, DEFAULT_CONNECT_TIMEOUT } from './connect.js'
export { LIMIT_DEFAULTS, type StreamLimits } from './engine.js'
export {
  ClosedError,
  ConnectError,
  codes,
  EndOfStreamError,
  type ErrorCode,
  type Exception,
  HandlerError,
  InvalidArgumentError,
  LimitReachedError,
  ProtocolError,
  ReadError,
  RotorStreamError,
  TimeoutError,
  WriteError,
} from './errors.js'
export { type DelimiterOptions, Intent, type IntentBuilder } from './intent.js'
export type { Factory, Protocol, Scope, Transport } from './protocol.js'
export { Stream, type StreamOptions } from './stream.js'
