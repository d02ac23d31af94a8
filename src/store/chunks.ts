/**
 * The record stores: sorted lines `key TAB kset-id TAB content`, cut into chunks of
 * about {@link CHUNK_TARGET} bytes, each Brotli-compressed into one `chunk` row with the
 * first and last key it holds (see migrations/001_init.sql).
 *
 * Looking a key up reads the few chunks whose [first_key, last_key] range holds it
 * (usually one) through the (store, last_key) index and decompresses them: well under a
 * millisecond per 64 KiB chunk.
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

export function compressChunk(text: string, quality: number): Buffer {
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

export function decompressChunk(data: Uint8Array, store: string, seq: number): string {
  try {
    return brotliDecompressSync(data).toString('utf8')
  } catch (e) {
    throw new IndexError('INDEX_CORRUPT', `index chunk ${store}#${seq} cannot be decompressed; rebuild the index`, {cause: e})
  }
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
    const text = decompressChunk(row.data, store, row.seq)
    let at = text.startsWith(prefix) ? 0 : text.indexOf(`\n${prefix}`)
    if (at < 0) continue
    if (at > 0) at++
    while (at < text.length && text.startsWith(prefix, at)) {
      const end = text.indexOf('\n', at)
      out.push(parseLine(text.slice(at, end < 0 ? text.length : end)))
      at = end < 0 ? text.length : end + 1
    }
  }
  return out
}

/** Calls `fn` with the key of every record of a store, in order (keys repeat for variants). */
export function forEachKey(db: Db, store: StoreName, fn: (key: string) => void): void {
  const stmt = db.prepare('SELECT seq, data FROM chunk WHERE store = ? ORDER BY seq')
  for (const row of stmt.iterate(store) as Iterable<{seq: number; data: Buffer}>) {
    const text = decompressChunk(row.data, store, row.seq)
    let at = 0
    while (at < text.length) {
      const tab = text.indexOf('\t', at)
      const nl = text.indexOf('\n', at)
      if (tab < 0) break
      fn(text.slice(at, tab))
      if (nl < 0) break
      at = nl + 1
    }
  }
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
