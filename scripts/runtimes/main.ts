/**
 * The portable suite's entry point, run by each runtime from the packed and installed package
 * (see run.ts): imports every test file, runs them, exits 1 on a failure.
 * RS_TEST_FILTER runs only the tests whose name contains it.
 */
import { run } from './kit.js'
import './tests/core.js'
import './tests/sockets.js'
import './tests/server.js'
import './tests/persistent.js'
import './tests/tls.js'
import './tests/tls-info.js'
import './tests/resp.js'
import './tests/starttls.js'
import './tests/deployment.js'
import './tests/pool.js'

const summary = await run(process.env.RS_TEST_FILTER ?? '')
// Exit at once: a runtime that keeps a handle open after the last test must not hang the run.
process.exit(summary.failed > 0 ? 1 : 0)
