/**
 * The record stores: records (key, kernel-set id, content) sorted by key then content,
 * cut into chunks of about {@link CHUNK_TARGET} bytes, each stored in one `chunk` row
 * with the first and last key it holds (see migrations/001_init.sql).
 *
 * A chunk's blob holds two Brotli streams, preceded by the compressed size of the first
 * as a little-endian u32: the record heads (`key TAB kset-id` lines) and the contents
 * (one line per record, same order). Looking a key up decompresses the heads, and the
 * contents only when the key is there; scanning names (for suggestions) decompresses
 * heads only, a quarter of the data. Splitting costs about 1% of size.
 *
 * A lookup reads the few chunks whose [first_key, last_key] range holds the key
 * (usually one) through the (store, last_key) index: about a millisecond.
 */
import {availableParallelism} from 'node:os'
import {promisify} from 'node:util'
import {type BrotliOptions, brotliCompress, brotliCompressSync, brotliDecompressSync, constants} from 'node:zlib'
import type {Db} from './db.js'
import {IndexError} from './errors.js'
import type {StoreName} from './extract.js'

/**
 * Uncompressed bytes per chunk; a chunk is closed at the first record past this.
 * Measured on the fixture archive (at SMALL_QUALITY): against 64 KiB chunks, 256 KiB
 * ones are 8% smaller, 512 KiB 12%, 1 MiB 15%; decompressing one takes about 0.5, 1
 * and 2 ms. 512 KiB keeps lookups near a millisecond.
 */
export const CHUNK_TARGET = 512 * 1024

/**
 * Brotli qualities. Measured on the records of a 12-kernel archive: quality 1
 * compresses them 4 times faster than quality 6 but 23% larger; quality 6 is within 1%
 * of quality 9; quality 10 is 8% smaller again but about 15 times slower than 6.
 * A build merges kernel after kernel at MERGE_QUALITY (each merge rewrites most
 * chunks), then recompresses every chunk once, at FAST_QUALITY or SMALL_QUALITY.
 * Decompression speed is about the same for all.
 */
export const MERGE_QUALITY = 1
export const FAST_QUALITY = 6
export const SMALL_QUALITY = 10

/** Records as parallel columns, sorted by key, then content. */
export interface Records {
  keys: string[]
  ksets: number[]
  contents: string[]
}

/** One record. */
export interface RecordLine {
  key: string
  kset: number
  content: string
}

function brotli(text: string, quality: number): Buffer {
  const raw = Buffer.from(text, 'utf8')
  return brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_QUALITY]: quality,
      [constants.BROTLI_PARAM_LGWIN]: 20,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  })
}

function corrupt(store: string, seq: number, cause?: unknown): IndexError {
  return new IndexError('INDEX_CORRUPT', `index chunk ${store}#${seq} cannot be decoded; rebuild the index`, {cause})
}

/** Compresses records [from, to) of `r` into a chunk blob. */
export function encodeChunk(r: Records, from: number, to: number, quality: number): Buffer {
  const heads = new Array<string>(to - from)
  for (let i = from; i < to; i++) heads[i - from] = `${r.keys[i]!}\t${r.ksets[i]!}`
  const a = brotli(heads.join('\n'), quality)
  const b = brotli(r.contents.slice(from, to).join('\n'), quality)
  const len = Buffer.alloc(4)
  len.writeUInt32LE(a.length)
  return Buffer.concat([len, a, b])
}

function split(data: Uint8Array, store: string, seq: number): [Uint8Array, Uint8Array] {
  if (data.length < 4) throw corrupt(store, seq)
  const n = Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUInt32LE(0)
  if (4 + n > data.length) throw corrupt(store, seq)
  return [data.subarray(4, 4 + n), data.subarray(4 + n)]
}

function unbrotli(data: Uint8Array, store: string, seq: number): string {
  try {
    return brotliDecompressSync(data).toString('utf8')
  } catch (e) {
    throw corrupt(store, seq, e)
  }
}

/** The `key TAB kset-id` lines of a chunk. */
export function decodeHeads(data: Uint8Array, store: string, seq: number): string {
  return unbrotli(split(data, store, seq)[0], store, seq)
}

/** All records of a chunk. @throws IndexError `INDEX_CORRUPT`. */
export function decodeChunk(data: Uint8Array, store: string, seq: number): Records {
  const [a, b] = split(data, store, seq)
  const heads = unbrotli(a, store, seq)
  const out: Records = {keys: [], ksets: [], contents: []}
  if (heads === '') return out
  const contents = unbrotli(b, store, seq).split('\n')
  let at = 0
  while (at <= heads.length) {
    let nl = heads.indexOf('\n', at)
    if (nl < 0) nl = heads.length
    const tab = heads.indexOf('\t', at)
    const kset = tab < 0 || tab > nl ? NaN : Number(heads.slice(tab + 1, nl))
    if (!Number.isSafeInteger(kset) || kset <= 0) throw corrupt(store, seq)
    out.keys.push(heads.slice(at, tab))
    out.ksets.push(kset)
    at = nl + 1
  }
  if (contents.length !== out.keys.length) throw corrupt(store, seq)
  out.contents = contents
  return out
}

export interface StoredChunk {
  seq: number
  quality: number
  records: Records
}

/** Every chunk of a store, decoded, in key order. */
export function loadStore(db: Db, store: StoreName): StoredChunk[] {
  const rows = db.prepare('SELECT seq, quality, data FROM chunk WHERE store = ? ORDER BY seq').all(store) as {
    seq: number
    quality: number
    data: Buffer
  }[]
  return rows.map((r) => ({seq: r.seq, quality: r.quality, records: decodeChunk(r.data, store, r.seq)}))
}

function sameRecords(old: Records, r: Records, from: number, to: number): boolean {
  if (old.keys.length !== to - from) return false
  for (let i = from; i < to; i++) {
    const o = i - from
    if (old.ksets[o] !== r.ksets[i] || old.keys[o] !== r.keys[i] || old.contents[o] !== r.contents[i]) return false
  }
  return true
}

/**
 * Replaces a store's records by `r` (sorted), rewriting only the chunks that changed.
 * `old` is what {@link loadStore} returned. Returns the number of chunks written and the
 * store's chunks as loadStore would now return them.
 */
export function writeStore(db: Db, store: StoreName, r: Records, old: readonly StoredChunk[], quality: number): {written: number; chunks: StoredChunk[]} {
  const bounds: [number, number, number][] = [] // [from, to, raw size]
  let start = 0
  let size = 0
  for (let i = 0; i < r.keys.length; i++) {
    // key, TAB, a few digits, newline; content, newline
    size += r.keys[i]!.length + r.contents[i]!.length + 8
    if (size >= CHUNK_TARGET) {
      bounds.push([start, i + 1, size])
      start = i + 1
      size = 0
    }
  }
  if (start < r.keys.length) bounds.push([start, r.keys.length, size])

  const oldBySeq = new Map(old.map((c) => [c.seq, c.records]))
  const upsert = db.prepare(
    'INSERT OR REPLACE INTO chunk (store, seq, first_key, last_key, n, raw_size, quality, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  )
  const oldQuality = new Map(old.map((c) => [c.seq, c.quality]))
  let written = 0
  const chunks: StoredChunk[] = []
  bounds.forEach(([from, to, raw], seq) => {
    const prev = oldBySeq.get(seq)
    if (prev && sameRecords(prev, r, from, to)) {
      chunks.push({seq, quality: oldQuality.get(seq)!, records: prev})
      return
    }
    upsert.run(store, seq, r.keys[from]!, r.keys[to - 1]!, to - from, raw, quality, encodeChunk(r, from, to, quality))
    chunks.push({seq, quality, records: {keys: r.keys.slice(from, to), ksets: r.ksets.slice(from, to), contents: r.contents.slice(from, to)}})
    written++
  })
  db.prepare('DELETE FROM chunk WHERE store = ? AND seq >= ?').run(store, bounds.length)
  return {written, chunks}
}

// made on first use: reading zlib's brotliCompress at load loaded node:zlib (and Node's
// stream modules with it) in every query command, which only ever decompress
let brotliPromised: ((b: Buffer, o: BrotliOptions) => Promise<Buffer>) | undefined
const brotliAsync = (b: Buffer, o: BrotliOptions): Promise<Buffer> => (brotliPromised ??= promisify(brotliCompress))(b, o)

/** {@link encodeChunk} on libuv's thread pool (both streams at once), so chunks compress in parallel. */
async function encodeChunkAsync(r: Records, quality: number): Promise<Buffer> {
  const n = r.keys.length
  const heads = new Array<string>(n)
  for (let i = 0; i < n; i++) heads[i] = `${r.keys[i]!}\t${r.ksets[i]!}`
  const opts = (raw: Buffer) => ({
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_QUALITY]: quality,
      [constants.BROTLI_PARAM_LGWIN]: 20,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  })
  const h = Buffer.from(heads.join('\n'), 'utf8')
  const c = Buffer.from(r.contents.join('\n'), 'utf8')
  const [a, b] = await Promise.all([brotliAsync(h, opts(h)), brotliAsync(c, opts(c))])
  const len = Buffer.alloc(4)
  len.writeUInt32LE(a.length)
  return Buffer.concat([len, a, b])
}

/**
 * Recompresses every chunk stored below `quality` (records are unchanged). Returns the
 * number of chunks rewritten.
 *
 * The chunks are compressed outside any transaction, several at a time on libuv's
 * thread pool (zlib's asynchronous API; the final recompression is most of a fresh
 * build's time, and a 2-core machine does it in about half the wall time this way),
 * then written in one IMMEDIATE transaction, each only if its row still holds the bytes
 * that were read (another process may have rewritten it meanwhile; it is then left for
 * the next build). Byte for byte the same blobs as {@link encodeChunk}.
 */
export async function recompressChunks(db: Db, quality: number): Promise<number> {
  const rows = db.prepare('SELECT rowid AS id, store, seq, data FROM chunk WHERE quality < ?').all(quality) as {
    id: number
    store: string
    seq: number
    data: Buffer
  }[]
  const blobs = new Array<Buffer>(rows.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < rows.length) {
      const i = next++
      const row = rows[i]!
      blobs[i] = await encodeChunkAsync(decodeChunk(row.data, row.store, row.seq), quality)
    }
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(availableParallelism(), 4))}, worker))
  const update = db.prepare('UPDATE chunk SET data = ?, quality = ? WHERE rowid = ? AND data = ?')
  return db.transaction(() => {
    let n = 0
    rows.forEach((row, i) => {
      n += update.run(blobs[i]!, quality, row.id, row.data).changes
    })
    return n
  }).immediate()
}

/**
 * The records stored under `key`, in content order.
 * @throws IndexError `INDEX_CORRUPT`.
 */
export function recordsForKey(db: Db, store: StoreName, key: string): RecordLine[] {
  const stmt = db.prepare('SELECT seq, first_key, data FROM chunk WHERE store = ? AND last_key >= ? ORDER BY last_key, seq')
  const out: RecordLine[] = []
  const prefix = `${key}\t`
  for (const row of stmt.iterate(store, key) as Iterable<{seq: number; first_key: string; data: Buffer}>) {
    if (row.first_key > key) break
    const [a, b] = split(row.data, store, row.seq)
    const heads = unbrotli(a, store, row.seq).split('\n')
    let i = heads.findIndex((h) => h.startsWith(prefix))
    if (i < 0) continue
    const contents = unbrotli(b, store, row.seq).split('\n')
    if (contents.length !== heads.length) throw corrupt(store, row.seq)
    for (; i < heads.length && heads[i]!.startsWith(prefix); i++) {
      const kset = Number(heads[i]!.slice(prefix.length))
      if (!Number.isSafeInteger(kset) || kset <= 0) throw corrupt(store, row.seq)
      out.push({key, kset, content: contents[i]!})
    }
  }
  return out
}

/** The `key TAB kset-id` lines of every chunk of a store, in key order (for name scans). */
export function headTexts(db: Db, store: StoreName): string[] {
  const rows = db.prepare('SELECT seq, data FROM chunk WHERE store = ? ORDER BY seq').all(store) as {seq: number; data: Buffer}[]
  return rows.map((r) => decodeHeads(r.data, store, r.seq))
}

/** Calls `fn` with every record of a store, in order. */
export function forEachRecord(db: Db, store: StoreName, fn: (r: RecordLine) => void): void {
  for (const c of loadStore(db, store)) {
    const {keys, ksets, contents} = c.records
    for (let i = 0; i < keys.length; i++) fn({key: keys[i]!, kset: ksets[i]!, content: contents[i]!})
  }
}
