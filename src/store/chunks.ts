/**
 * The record stores: sorted lines `key TAB kset-id TAB content`, cut into chunks of
 * about {@link CHUNK_TARGET} bytes, each stored in one `chunk` row with the first and
 * last key it holds (see migrations/001_init.sql).
 *
 * A chunk's blob holds two Brotli streams: the record heads (`key TAB kset-id` lines)
 * and the contents (one line per record, same order), preceded by the compressed size
 * of the first as a little-endian u32. Looking a key up decompresses the heads, and the
 * contents only when the key is there; scanning names (for suggestions) decompresses
 * heads only, a quarter of the data. Splitting costs about 1% of size.
 *
 * A lookup reads the few chunks whose [first_key, last_key] range holds the key
 * (usually one) through the (store, last_key) index: about half a millisecond.
 */
import {brotliCompressSync, brotliDecompressSync, constants} from 'node:zlib'
import type {Db} from './db.js'
import {IndexError} from './errors.js'
import type {StoreName} from './extract.js'

/**
 * Uncompressed bytes per chunk; a chunk is closed at the first record past this.
 * Measured on the fixture archive: 256 KiB chunks compress 6-8% better than 64 KiB ones
 * and still decompress in about half a millisecond.
 */
export const CHUNK_TARGET = 256 * 1024

/**
 * Brotli qualities. Measured on the fixture archive's records: quality 6 compresses a
 * store in about a tenth of a second and within 1% of quality 9; quality 10 is 8%
 * smaller again but about 20 times slower. Builds merge kernels at FAST_QUALITY and
 * recompress the result once at SMALL_QUALITY. Decompression speed is the same for all.
 */
export const FAST_QUALITY = 6
export const SMALL_QUALITY = 10

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

/** Compresses a chunk given as its record lines joined by newlines. */
export function compressChunk(text: string, quality: number): Buffer {
  const heads: string[] = []
  const contents: string[] = []
  for (const line of text === '' ? [] : text.split('\n')) {
    const t1 = line.indexOf('\t')
    const t2 = line.indexOf('\t', t1 + 1)
    heads.push(line.slice(0, t2))
    contents.push(line.slice(t2 + 1))
  }
  const a = brotli(heads.join('\n'), quality)
  const b = brotli(contents.join('\n'), quality)
  const len = Buffer.alloc(4)
  len.writeUInt32LE(a.length)
  return Buffer.concat([len, a, b])
}

function corrupt(store: string, seq: number, cause?: unknown): IndexError {
  return new IndexError('INDEX_CORRUPT', `index chunk ${store}#${seq} cannot be decompressed; rebuild the index`, {cause})
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
export function decompressHeads(data: Uint8Array, store: string, seq: number): string {
  return unbrotli(split(data, store, seq)[0], store, seq)
}

/** A chunk as its record lines joined by newlines. @throws IndexError `INDEX_CORRUPT`. */
export function decompressChunk(data: Uint8Array, store: string, seq: number): string {
  const [a, b] = split(data, store, seq)
  const heads = unbrotli(a, store, seq)
  if (heads === '') return ''
  const hs = heads.split('\n')
  const cs = unbrotli(b, store, seq).split('\n')
  if (hs.length !== cs.length) throw corrupt(store, seq)
  return hs.map((h, i) => `${h}\t${cs[i]!}`).join('\n')
}

/** One decoded record line. */
export interface RecordLine {
  key: string
  kset: number
  content: string
}

/** Splits `key TAB kset TAB content`. @throws IndexError `INDEX_CORRUPT`. */
export function parseLine(line: string): RecordLine {
  const t1 = line.indexOf('\t')
  const t2 = t1 < 0 ? -1 : line.indexOf('\t', t1 + 1)
  const kset = t2 < 0 ? NaN : Number(line.slice(t1 + 1, t2))
  if (!Number.isSafeInteger(kset) || kset <= 0) throw new IndexError('INDEX_CORRUPT', 'malformed index record; rebuild the index')
  return {key: line.slice(0, t1), kset, content: line.slice(t2 + 1)}
}

export interface StoredChunk {
  seq: number
  text: string
  quality: number
}

/** Every chunk of a store, decompressed, in key order. */
export function loadStore(db: Db, store: StoreName): StoredChunk[] {
  const rows = db.prepare('SELECT seq, quality, data FROM chunk WHERE store = ? ORDER BY seq').all(store) as {
    seq: number
    quality: number
    data: Buffer
  }[]
  return rows.map((r) => ({seq: r.seq, quality: r.quality, text: decompressChunk(r.data, store, r.seq)}))
}

/** The lines of a decompressed chunk (none for an empty text). */
export function chunkLines(text: string): string[] {
  return text === '' ? [] : text.split('\n')
}

/**
 * Replaces a store's records by `lines` (sorted), rewriting only the chunks whose text
 * changed. `old` is what {@link loadStore} returned. Returns the number of chunks written.
 */
export function writeStore(db: Db, store: StoreName, lines: readonly string[], old: readonly StoredChunk[], quality: number): number {
  const chunks: {text: string; first: string; last: string; n: number}[] = []
  let start = 0
  let size = 0
  const flush = (end: number): void => {
    if (end === start) return
    const slice = lines.slice(start, end)
    chunks.push({text: slice.join('\n'), first: keyOf(slice[0]!), last: keyOf(slice[slice.length - 1]!), n: slice.length})
    start = end
    size = 0
  }
  for (let i = 0; i < lines.length; i++) {
    size += lines[i]!.length + 1
    if (size >= CHUNK_TARGET) flush(i + 1)
  }
  flush(lines.length)

  const oldBySeq = new Map(old.map((c) => [c.seq, c.text]))
  const upsert = db.prepare(
    'INSERT OR REPLACE INTO chunk (store, seq, first_key, last_key, n, raw_size, quality, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  )
  let written = 0
  chunks.forEach((c, seq) => {
    if (oldBySeq.get(seq) === c.text) return
    upsert.run(store, seq, c.first, c.last, c.n, Buffer.byteLength(c.text), quality, compressChunk(c.text, quality))
    written++
  })
  db.prepare('DELETE FROM chunk WHERE store = ? AND seq >= ?').run(store, chunks.length)
  return written
}

function keyOf(line: string): string {
  const t = line.indexOf('\t')
  return t < 0 ? line : line.slice(0, t)
}

/**
 * The records stored under `key`, in content order.
 * @throws IndexError `INDEX_CORRUPT`.
 */
export function recordsForKey(db: Db, store: StoreName, key: string): RecordLine[] {
  const stmt = db.prepare(
    'SELECT seq, first_key, data FROM chunk WHERE store = ? AND last_key >= ? ORDER BY last_key, seq',
  )
  const out: RecordLine[] = []
  const prefix = `${key}\t`
  for (const row of stmt.iterate(store, key) as Iterable<{seq: number; first_key: string; data: Buffer}>) {
    if (row.first_key > key) break
    const [a, b] = split(row.data, store, row.seq)
    const heads = unbrotli(a, store, row.seq).split('\n')
    let first = heads.findIndex((h) => h.startsWith(prefix))
    if (first < 0) continue
    const contents = unbrotli(b, store, row.seq).split('\n')
    if (contents.length !== heads.length) throw corrupt(store, row.seq)
    for (; first < heads.length && heads[first]!.startsWith(prefix); first++) {
      out.push(parseLine(`${heads[first]!}\t${contents[first]!}`))
    }
  }
  return out
}

/** The `key TAB kset-id` lines of every chunk of a store, in key order (for name scans). */
export function headTexts(db: Db, store: StoreName): string[] {
  const rows = db.prepare('SELECT seq, data FROM chunk WHERE store = ? ORDER BY seq').all(store) as {seq: number; data: Buffer}[]
  return rows.map((r) => decompressHeads(r.data, store, r.seq))
}

/** Calls `fn` with every record of a store, in order. */
export function forEachRecord(db: Db, store: StoreName, fn: (r: RecordLine) => void): void {
  for (const c of loadStore(db, store)) for (const line of chunkLines(c.text)) fn(parseLine(line))
}

/**
 * Recompresses every chunk stored below `quality` (texts are unchanged). Returns the
 * number of chunks rewritten.
 */
export function recompressChunks(db: Db, quality: number): number {
  const rows = db.prepare('SELECT rowid AS id, store, seq, data FROM chunk WHERE quality < ?').all(quality) as {
    id: number
    store: string
    seq: number
    data: Buffer
  }[]
  const update = db.prepare('UPDATE chunk SET data = ?, quality = ? WHERE rowid = ?')
  for (const r of rows) update.run(compressChunk(decompressChunk(r.data, r.store, r.seq), quality), quality, r.id)
  return rows.length
}
