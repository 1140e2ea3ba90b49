import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { handleAsync, open, serve } from 'rotor-stream'
import { checkSplits } from 'rotor-stream/testing'
import { kvHandler } from '../../examples/kv/async.js'
import { KvConnection } from '../../examples/kv/state-machine.js'

const T = { timeout: 15_000 }
const SESSION = 'SET a 1\nGET a\nGET b\nDEL a\nGET a\nHELLO\nQUIT\n'
const REPLIES = 'OK\nVALUE 1\nNOT_FOUND\nDELETED\nNOT_FOUND\nERROR unknown command\nBYE\n'

describe('the "write your first protocol" guide', () => {
  test('the state-machine version answers identically for every split', T, () => {
    const run = checkSplits((t, s, scope) => KvConnection.factory(new Map())(t, s, scope), SESSION, { random: 200 })
    assert.equal(run.output.toString(), REPLIES)
    assert.equal(run.state, 'done')
  })

  for (const [name, factory] of [
    ['state-machine', KvConnection.factory(new Map())],
    ['async', handleAsync(kvHandler(new Map()))],
  ] as const) {
    test(`the ${name} version serves a real client`, T, async (t) => {
      const server = await serve({ host: '127.0.0.1', port: 0 }, factory)
      t.after(() => server.close({ timeout: 0 }))
      const conn = await open(server.address)
      conn.write(SESSION)
      const replies: string[] = []
      for (let i = 0; i < 7; i++) replies.push((await conn.readUntil('\n', { max: 100 })).toString())
      assert.equal(`${replies.join('\n')}\n`, REPLIES)
      await assert.rejects(conn.readExactly(1), { code: 'RS_ERR_END_OF_STREAM' }) // QUIT closed it
      await conn.end()
    })
  }
})
