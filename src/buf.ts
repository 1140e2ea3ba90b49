import { invalid } from './validate.js'

/**
 * A contiguous, growable byte buffer: the input and the output of every stream.
 *
 * Readable bytes live in `storage[start, end)`. An empty Buf holds no storage at all, so an
 * idle connection costs no buffer memory. When the Buf is empty and a whole chunk arrives
 * (a socket read), the chunk itself becomes the storage: parsing happens in place and only an
 * unconsumed tail is ever copied.
 */
export class Buf {
  /** Backing memory, or `null` while empty. Bytes outside `[#start, #end)` are garbage. */
  #storage: Buffer | null = null
  /** Offset of the first readable byte in `#storage`. */
  #start = 0
  /** Offset just past the last readable byte in `#storage`. */
  #end = 0
  /**
   * True when `#storage` was adopted from outside (a socket chunk): it is never written into,
   * since another Buffer may share its memory, and it is exactly as long as the data it held.
   */
  #adopted = false

  /**
   * Smallest storage allocated when growing, in bytes. Below 4 KiB, `Buffer.allocUnsafe` slices
   * Node's shared pool instead of creating an ArrayBuffer: a round of small replies costs no
   * allocation worth the name.
   */
  static readonly MIN_CAPACITY = 1024

  /** Number of readable bytes. */
  get length(): number {
    return this.#end - this.#start
  }

  /** Bytes of storage currently held (0 when empty). */
  get capacity(): number {
    return this.#storage === null ? 0 : this.#storage.length
  }

  /**
   * A Buffer over readable bytes `[start, end)` (default: all of them), without copying.
   * The trap: it is valid only until the next `consume()`, `write()` or the handler returns,
   * since the Buf may move or reuse its storage. Copy (`Buffer.from(view)`) what you keep.
   * Positions are integers, clamped to the readable bytes.
   */
  view(start = 0, end: number = this.length): Buffer {
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end))) throw badRange('Buf.view', start, end)
    if (this.#storage === null) return EMPTY
    return this.#storage.subarray(this.#start + Math.max(start, 0), this.#start + Math.min(end, this.length))
  }

  /** The byte at integer `index` (0 = first readable byte), or `undefined` outside the readable bytes. */
  byte(index: number): number | undefined {
    if (!Number.isSafeInteger(index)) throw invalid('Buf.byte', 'index', 'an integer', index)
    if (index < 0 || index >= this.length || this.#storage === null) return undefined
    return this.#storage[this.#start + index]
  }

  /**
   * Drops the first `n` readable bytes, an integer within 0..length. Storage is released once
   * nothing is left, except large storage of its own (KEEP bytes or more, grown for a large
   * frame: see `append`), kept for the next frame (see `release`).
   */
  consume(n: number): void {
    // An integer first: a fraction or a string here would leave #start pointing between bytes, or concatenated.
    if (!(Number.isSafeInteger(n) && n >= 0 && n <= this.length)) {
      throw invalid('Buf.consume', 'n', `an integer within 0..${this.length} (the readable bytes)`, n)
    }
    this.#start += n
    if (this.#start !== this.#end) return
    const storage = this.#storage
    if (storage !== null && !this.#adopted && storage.length >= KEEP) {
      this.#start = 0
      this.#end = 0
    } else {
      this.clear()
    }
  }

  /**
   * Releases storage kept by `consume()` while nothing is readable, unless the reader waits for
   * `want` bytes, KEEP or more (0: none): an idle stream holds no buffer memory. The engine calls
   * this after every round.
   * @internal
   */
  release(want: number): void {
    if (this.#start === this.#end && this.#storage !== null && want < KEEP) this.clear()
  }

  /** Drops everything and releases the storage. */
  clear(): void {
    this.#storage = null
    this.#start = 0
    this.#end = 0
    this.#adopted = false
  }

  /**
   * Position of the first `needle` at or after `from`, relative to the first readable byte,
   * or -1. A one-byte needle is best passed as a number (a plain `memchr`): an integer within
   * 0..255. `from` is an integer, clamped.
   */
  indexOf(needle: Uint8Array | string | number, from = 0): number {
    if (!(typeof needle === 'number' ? needle >= 0 && needle <= 255 && Number.isInteger(needle) : typeof needle === 'string' || needle instanceof Uint8Array)) {
      throw invalid('Buf.indexOf', 'needle', 'a byte (an integer within 0..255), a string or a Uint8Array', needle)
    }
    if (!Number.isSafeInteger(from)) throw invalid('Buf.indexOf', 'from', 'an integer', from)
    const storage = this.#storage
    if (storage === null) return -1
    // Search only the readable region: past #end lies garbage that could hold a false match.
    const hay = this.#end === storage.length ? storage : storage.subarray(0, this.#end)
    const at = hay.indexOf(needle, this.#start + Math.max(from, 0))
    return at < 0 ? -1 : at - this.#start
  }

  /** Appends bytes (a Uint8Array), or a string in `encoding` (default utf8). Returns the number of bytes added. */
  write(data: Uint8Array | string, encoding: BufferEncoding = 'utf8'): number {
    if (typeof data === 'string') {
      if (data.length <= SHORT_STRING && (encoding === 'utf8' || encoding === 'latin1' || encoding === 'ascii')) {
        const n = this.#writeAscii(data)
        if (n >= 0) return n
      }
      // Checked off the short-string path only: there the encoding is one of three already.
      if (!Buffer.isEncoding(encoding)) throw invalid('Buf.write', 'encoding', 'a Buffer encoding (utf8, latin1, hex, base64...)', encoding)
      const n = Buffer.byteLength(data, encoding)
      if (n === 0) return 0
      const storage = this.#reserve(n)
      storage.write(data, this.#end, n, encoding)
      this.#end += n
      return n
    }
    // Anything else would make `#end` NaN (no length) or copy numbers mod 256 (a plain array).
    if (!(data instanceof Uint8Array)) throw invalid('Buf.write', 'data', 'a string or a Uint8Array', data)
    const n = data.length
    if (n === 0) return 0
    const storage = this.#reserve(n)
    const to = this.#end
    if (n <= SHORT_SET) {
      for (let i = 0; i < n; i++) storage[to + i] = data[i] as number
    } else {
      storage.set(data, to)
    }
    this.#end = to + n
    return n
  }

  /**
   * Appends readable bytes `[start, end)` of `source` (default: all, clamped to its readable
   * bytes), without making a view of them: the cheap way to echo or forward part of the input.
   * Positions are integers. Returns the number of bytes added.
   */
  writeFrom(source: Buf, start = 0, end?: number): number {
    if (!(source instanceof Buf)) throw invalid('Buf.writeFrom', 'source', 'a Buf', source)
    const stop = end === undefined ? source.length : end
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(stop))) throw badRange('Buf.writeFrom', start, stop)
    const from = Math.max(start, 0)
    const n = Math.min(stop, source.length) - from
    if (n <= 0) return 0
    const storage = this.#reserve(n) // may move source's bytes when source is this Buf: read its fields after
    const bytes = source.#storage as Buffer
    const at = source.#start + from
    const to = this.#end
    if (n <= SHORT_COPY) {
      for (let i = 0; i < n; i++) storage[to + i] = bytes[at + i] as number
    } else {
      storage.set(bytes.subarray(at, at + n), to)
    }
    this.#end = to + n
    return n
  }

  /**
   * A copy of readable bytes `[start, end)` (default: all, clamped to the readable bytes) in a
   * new Buffer: what to keep after `consume()`. Cheaper than `Buffer.from(view())`, which makes a
   * view first. Positions are integers.
   */
  copy(start = 0, end: number = this.length): Buffer {
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end))) throw badRange('Buf.copy', start, end)
    const from = Math.max(start, 0)
    const n = Math.min(end, this.length) - from
    if (n <= 0 || this.#storage === null) return Buffer.alloc(0)
    const out = Buffer.allocUnsafe(n) // small ones are slices of Node's pool
    const bytes = this.#storage
    const at = this.#start + from
    if (n <= SHORT_COPY) {
      for (let i = 0; i < n; i++) out[i] = bytes[at + i] as number
    } else {
      out.set(bytes.subarray(at, at + n))
    }
    return out
  }

  /** Decodes readable bytes `[start, end)` (integers; default: all, clamped to the readable bytes) without consuming them. */
  toString(encoding: BufferEncoding = 'utf8', start = 0, end: number = this.length): string {
    // The common encodings are compared, not looked up: this runs per request in text protocols.
    if (encoding !== 'utf8' && encoding !== 'latin1' && !Buffer.isEncoding(encoding)) {
      throw invalid('Buf.toString', 'encoding', 'a Buffer encoding (utf8, latin1, hex, base64...)', encoding)
    }
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end))) throw badRange('Buf.toString', start, end)
    if (this.#storage === null) return ''
    return this.#storage.toString(encoding, this.#start + Math.max(start, 0), this.#start + Math.min(end, this.length))
  }

  /**
   * Appends a chunk the caller gives away: when the Buf is empty the chunk becomes its storage
   * (no copy). The caller must not modify the chunk afterwards. `want` is how many readable
   * bytes the reader waits for (0: unknown): when the chunk has to be copied, the storage is
   * made that large at once, instead of doubling (and copying) its way up chunk by chunk.
   * @internal
   */
  append(chunk: Buffer, want = 0): void {
    const n = chunk.length
    // Kept storage is for frames that span chunks: one that fits in this chunk is read in place.
    if (this.#storage === null || (this.#start === this.#end && want <= n)) {
      if (n === 0) return
      this.#storage = chunk
      this.#start = 0
      this.#end = n
      this.#adopted = true
      return
    }
    if (n === 0) return
    const length = this.#end - this.#start
    // Growing for `want` now copies the bytes held once, where doubling would copy them again and
    // again; but for at most GROW_AHEAD times what arrived (at least 1 MiB), which the power-of-two
    // rounding of #grow keeps under 4x: a peer announcing a 16 MiB frame and sending two chunks
    // must not make every connection reserve 16 MiB.
    const ahead = Math.min(want, Math.max((length + n) * GROW_AHEAD, MIN_GROW_AHEAD))
    const storage = ahead > length + n && (this.#adopted || ahead > this.#storage.length) ? this.#grow(length, ahead) : this.#reserve(n)
    storage.set(chunk, this.#end)
    this.#end += n
  }

  /**
   * Hands all readable bytes to the caller (for a socket write) and empties the Buf.
   * The storage goes with them: the Buf never writes into memory it gave away.
   * @internal
   */
  take(): Buffer {
    const out = this.view()
    this.clear()
    return out
  }

  /**
   * Writes a short string byte by byte, if it is all ASCII (the same bytes in utf8, latin1 and
   * ascii): for replies like `+OK\r\n` this is several times cheaper than `Buffer#write`.
   * Returns the bytes written, or -1 (nothing written) at the first non-ASCII character.
   */
  #writeAscii(data: string): number {
    const n = data.length
    if (n === 0) return 0
    const storage = this.#reserve(n)
    const end = this.#end
    for (let i = 0; i < n; i++) {
      const c = data.charCodeAt(i)
      if (c > 0x7f) return -1 // the bytes past #end written so far are garbage, as before
      storage[end + i] = c
    }
    this.#end = end + n
    return n
  }

  /**
   * Makes room for `n` more bytes at `#end`: compacts when that is cheap enough, else grows.
   * Compaction moves the live bytes to the front: done only when the consumed head is at least as
   * large, so that no byte is moved more than once on average (a bulk read of exactly N bytes per
   * call then costs one copy plus at most one move of every byte, into the same storage).
   * Otherwise the storage at least doubles: allocating a fresh buffer of the same size would copy
   * as much as a move, and a large one is fresh memory from the kernel (page faults) every time.
   */
  #reserve(n: number): Buffer {
    const storage = this.#storage
    const length = this.#end - this.#start
    if (storage !== null && !this.#adopted) {
      if (this.#end + n <= storage.length) return storage
      if (length + n <= storage.length && this.#start >= length) {
        storage.copyWithin(0, this.#start, this.#end)
        this.#start = 0
        this.#end = length
        return storage
      }
      return this.#grow(length, Math.max(length + n, storage.length * 2))
    }
    return this.#grow(length, length + n)
  }

  /** Moves the live bytes (`length` of them) into new storage of at least `size` bytes (a power of two). */
  #grow(length: number, size: number): Buffer {
    const storage = this.#storage
    let capacity = Buf.MIN_CAPACITY
    while (capacity < size) capacity *= 2
    const grown = Buffer.allocUnsafe(capacity)
    if (storage !== null) storage.copy(grown, 0, this.#start, this.#end)
    this.#storage = grown
    this.#start = 0
    this.#end = length
    this.#adopted = false
    return grown
  }
}

/** The error for a bad `start` or `end` (whichever is not an integer). Out of line: the methods above are hot. */
function badRange(where: string, start: unknown, end: unknown): Error {
  return Number.isSafeInteger(start)
    ? invalid(where, 'end', 'an integer (clamped to the readable bytes)', end)
    : invalid(where, 'start', 'an integer (clamped to the readable bytes)', start)
}

const EMPTY = Buffer.alloc(0)
/**
 * Own storage at least this large is kept when drained, while the reader waits for frames as large: reading frames of
 * 1 MiB from 64 KiB reads would otherwise allocate a fresh 1 MiB per frame, and large fresh
 * allocations cost page faults and cold caches, several times the copy into reused memory.
 */
const KEEP = 64 * 1024
/** Storage grown for a large frame is for at most this many times the bytes it holds (rounded up to a power of two)... */
const GROW_AHEAD = 2
/** ...or this many bytes, whichever is more (frames up to it grow in one step). */
const MIN_GROW_AHEAD = 1024 * 1024
/** Strings up to this many characters are written by a JS loop (measured faster than `Buffer#write` up to ~64). */
const SHORT_STRING = 32
/** Ranges up to this many bytes are copied by a JS loop (measured faster than `subarray()` + `set()` up to ~40). */
const SHORT_COPY = 32
/** Byte arrays up to this many bytes are copied by a JS loop (measured faster than `set()` below ~16). */
const SHORT_SET = 12
