export type { Address } from './address.js'
export { Connection, type FramesOptions, handleAsync, type OpenOptions, open, type ReadUntilOptions, type WaitOptions } from './async/index.js'
export { type BackoffOptions, backoffDelay, backoffOptions, type ReconnectPolicy } from './backoff.js'
export { MemoryBudget } from './budget.js'
export { Buf } from './buf.js'
export {
  type ClientOptions,
  type ConnectOptions,
  type ConnectTlsOptions,
  connect,
  connectTls,
  DEFAULT_CONNECT_TIMEOUT,
  type OptionsArgument,
  type SeedOption,
} from './connect.js'
export type { Detached } from './detach.js'
export {
  type ClientConnectMessage,
  type ClientReconnectMessage,
  channels,
  type ServerAcceptMessage,
  type ServerErrorMessage,
  type ServerRefusedMessage,
  type StreamCloseMessage,
  type StreamExceptionMessage,
  type StreamFatalMessage,
  type StreamOpenMessage,
} from './diagnostics.js'
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
  ListenError,
  PoolUnavailableError,
  ProtocolError,
  ProxyProtocolError,
  ReadError,
  RotorStreamError,
  TimeoutError,
  TlsUpgradeError,
  TooSlowError,
  UnsupportedError,
  WriteError,
} from './errors.js'
export {
  type DelimitedOptions,
  delimited,
  expectFrame,
  type Framer,
  fixed,
  type LengthPrefixedOptions,
  type LinesOptions,
  lengthPrefixed,
  lines,
  type NetstringOptions,
  netstring,
  type Scan,
  type TooLongPolicy,
} from './framing/index.js'
export { type DelimiterOptions, Intent, type IntentBuilder, type MinRate } from './intent.js'
export {
  DEFAULT_LINGER_TIMEOUT,
  DEFAULT_MAX_BUFFER_SIZE,
  DEFAULT_OUTPUT_HIGH_WATER_MARK,
  SLEEP_READ_LIMIT,
  type StreamLimits,
  type StreamOptions,
} from './limits.js'
export { Persistent, type PersistentEvents, type PersistentOptions, type PersistentState } from './persistent.js'
export {
  DEFAULT_HEALTH_CHECK_INTERVAL,
  DEFAULT_HEALTH_CHECK_TIMEOUT,
  DEFAULT_POOL_MAX_WAITING,
  DEFAULT_POOL_WAIT_TIMEOUT,
  Pool,
  type PoolChoice,
  type PoolClock,
  type PoolConnection,
  type PoolEvents,
  type PoolHealthCheck,
  type PoolLease,
  type PoolMember,
  type PoolMemberInfo,
  type PoolOptions,
  type PoolWaitOptions,
} from './pool.js'
export type { Factory, Protocol, Scope, SeedArgument, Transport } from './protocol.js'
export {
  DEFAULT_PROXY_HEADER_TIMEOUT,
  DEFAULT_PROXY_MAX_HEADER_SIZE,
  type ProxyAddress,
  type ProxyHeader,
  type ProxyParse,
  type ProxyProtocolOptions,
  type ProxySsl,
  type ProxyTlv,
  parseProxyHeader,
} from './proxy-protocol.js'
export { RequestDeadlines, type RequestDeadlinesOptions } from './request-deadlines.js'
export {
  type CloseOptions,
  DEFAULT_BACKLOG,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_MAX_CONNECTIONS,
  type ListenAddress,
  type ServeOptions,
  Server,
  type ServerOptions,
  serve,
} from './server.js'
export type { IdlePolicy } from './shutdown.js'
export type { KeepAliveOptions, ListenOptions, SocketOptions } from './socket-options.js'
export { TlsUpgrade, type TlsUpgradeOptions, type UnconsumedInput } from './starttls.js'
export { type ServerStats, StreamStats } from './stats.js'
export { Stream } from './stream.js'
export {
  DEFAULT_HANDSHAKE_TIMEOUT,
  type KeyMaterial,
  type PemMaterial,
  type TlsClientOptions,
  type TlsHostOptions,
  type TlsServerOptions,
} from './tls.js'
export { type TlsCipher, TlsInfo } from './tls-info.js'
