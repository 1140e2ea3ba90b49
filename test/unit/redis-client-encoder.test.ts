import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Buf } from 'rotor-stream'
import { Encoder } from '../../examples/redis-client/encoder.js'

/** What RESP says a command is: an array of bulk strings. */
function resp(args: readonly (string | Buffer | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg))
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

describe('Encoder of the Redis client', () => {
  test('encodes arguments of every length up to 20000 bytes, ASCII, non-ASCII, numbers and Buffers', { timeout: 30_000 }, () => {
    const encoder = new Encoder()
    for (let n = 0; n <= 20_000; n += n < 300 ? 1 : 997) {
      const args = ['SET', 'a'.repeat(n), `é${'b'.repeat(n)}`, n, Buffer.alloc(n, 0xff)]
      const out = new Buf()
      encoder.begin()
      encoder.encode(args, out)
      encoder.flush(out)
      assert.deepEqual(out.view(), resp(args), `length ${n}`)
      assert.equal(encoder.size, out.length)
    }
  })

  test('encodes many commands of one round in order, across flushes of its staging buffer', { timeout: 10_000 }, () => {
    const encoder = new Encoder()
    const commands = Array.from({ length: 2000 }, (_, i) => ['SET', `key:${i}`, 'v'.repeat(i % 40)])
    const out = new Buf()
    encoder.begin()
    for (const args of commands) encoder.encode(args, out)
    encoder.flush(out)
    assert.deepEqual(out.view(), Buffer.concat(commands.map(resp)))
  })
})
