/**
 * The TLS settings of a running server and their replacement (`server.setTls()`): the default
 * certificate through Node's `setSecureContext`, the per-host ones through an SNI callback that
 * reads the current map on every handshake.
 *
 * Assumptions: a handshake uses the contexts in force when it starts, so connections already up
 * keep their certificate; Node reads `requestCert`, `rejectUnauthorized`, `handshakeTimeout` and
 * the ALPN list once, when the server is made, so those cannot change.
 */
import type tls from 'node:tls'
import { InvalidArgumentError } from './errors.js'
import { FIXED_SERVER_SETTINGS } from './tls.js'

type SniCallback = NonNullable<tls.TlsOptions['SNICallback']>

/** @internal */
export class TlsReloader {
  #options: tls.TlsOptions
  /** The per-host callback of the options in force; null when they list no `hosts`. */
  #sni: SniCallback | null

  constructor(options: tls.TlsOptions) {
    this.#options = options
    this.#sni = options.SNICallback ?? null
  }

  /**
   * The options for `tls.createServer`: those given, with an SNI callback that asks the current
   * per-host one (so that `hosts` can be added or changed later) or keeps the default context.
   */
  serverOptions(): tls.TlsOptions {
    return {
      ...this.#options,
      SNICallback: (servername, callback) => {
        if (this.#sni === null) callback(null, undefined)
        else this.#sni(servername, callback)
      },
    }
  }

  /** Puts `next` (validated already) in force on `server`, or throws and keeps the old. */
  replace(where: string, next: tls.TlsOptions, server: tls.Server): void {
    for (const setting of FIXED_SERVER_SETTINGS) {
      const before = this.#options[setting]
      const after = next[setting]
      const same = Array.isArray(before) && Array.isArray(after) ? before.join('\0') === after.join('\0') : before === after
      if (!same) {
        const name = setting === 'ALPNProtocols' ? 'alpnProtocols' : setting
        throw new InvalidArgumentError(
          `${where}: options.${name} cannot change on a running server (it was ${describe(before)}, got ${describe(after)}); only key, cert, ca and hosts are replaced`,
        )
      }
    }
    // Validated: building the context cannot fail on the material; if it does anyway, nothing changed yet.
    server.setSecureContext({ key: next.key, cert: next.cert, ...(next.ca !== undefined && { ca: next.ca }) })
    this.#options = next
    this.#sni = next.SNICallback ?? null
  }
}

function describe(value: unknown): string {
  return value === undefined ? 'not set' : JSON.stringify(value)
}
