/**
 * The release matrix's cache in the index database (migrations 002 to 004):
 *
 * - cells: one row per (kernel key, object sha256), where the kernel key also carries
 *   the tool key, so a new kcompat, a changed object or a changed kernel never reads an
 *   old row. Putting a row drops older rows of the same object file name on the same
 *   kernel name. Rows are keyed kernel first (by the key's sha256): one range read gives
 *   a kernel's cells for every object.
 * - cells texts: stored once per distinct text, compressed (see {@link CELLS_LEVEL} for
 *   why and how much), and deleted with the last row that names them (triggers of
 *   migration 004). A text that does not inflate is a miss, and the next put of that
 *   text writes it again for every row that names it.
 * - kernel identities: a --btf kernel's row labels under its kernel key, dropped like
 *   cells when the same kernel name gets a new key.
 * - file hashes: sha256 of files by absolute path and stat (see {@link
 *   CachedCells.fileSha256}).
 *
 * A kernel's rows are written together in one transaction: puts are held until one for
 * another kernel key comes, a kernel is read ({@link CachedCells.getKernel}), or the
 * cache is closed.
 */
import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {deflateSync, inflateSync} from 'node:zlib'
import {sha256} from '../archive/archive.js'
import {type ObservedHash, statKey} from '../matrix/file-hash.js'
import type {KernelIdentity} from '../matrix/matrix.js'
import {openDb, type Db} from './db.js'

export interface CachedCells<I> {
  /** The cached cells (as the matrix encoded them) of these objects (by sha256) on this kernel key, and its identity if recorded. */
  getKernel(kernelKey: string, objectShas: readonly string[]): {cells: Map<string, string>; identity?: I}
  put(objectSha: string, kernelKey: string, info: {object: string; kernel: string}, cells: string): void
  putIdentity(kernelKey: string, kernelName: string, identity: I): void
  /**
   * The sha256 of a file's content. Answered from the database while the file's size,
   * mtime and ctime (ns), inode and device are those recorded with the hash; otherwise
   * the file is read and hashed, and the hash recorded (one statement, its own
   * transaction) unless the file changed while it was read or was changed too
   * recently to trust its times (see {@link RACY_MS}).
   */
  fileSha256(path: string): string
  /** The remembered hash of an unchanged file, without reading it; undefined when there is none. */
  knownFileSha256(path: string): string | undefined
  /** Remembers a hash taken elsewhere (a worker thread), under the same rules as fileSha256. */
  rememberFileSha256(path: string, seen: ObservedHash): void
  close(): void
}

/**
 * A file whose mtime or ctime is less than this many ms before the hash started is not
 * memoized: a write within the same timestamp tick (1-2 s on coarse file systems)
 * could otherwise change it without changing its recorded stat.
 */
export const RACY_MS = 3000

/**
 * How cells texts are stored, and why. Measured with bench/matrix-sim.mjs (200
 * simulated --btf kernels, the 61 libbpf-tools objects: 10,400 rows) on a shared
 * 2-core machine.
 *
 * As plain text (schema 3) the rows held 109 MB, every row's text distinct (cells name
 * their kernel's BTF file), in a 129 MB database: 12 MB of it the unique index, whose
 * entries (kernel keys of a few hundred bytes) spilled out of the 1 KiB pages.
 * - Each row's text compressed (zlib level 1-3) is 9 times smaller; with the kernel key
 *   hashed, that alone made an 18 MB database (7 times smaller).
 * - With the BTF path a token in the text (cell format 5, src/matrix/matrix.ts), 4,706
 *   texts are distinct, 70 MB, and are stored once each: 7 MB compressed, a 12.9 MB
 *   database (10 times smaller). On the shipped archive's 16 kernels, whose texts also
 *   differ in release strings and BTF type ids, bodies are not shared and the database
 *   goes from 9.5 MB to 1.5 MB (6 times).
 * - Level 6 saves another 5% of the database for 40% more compressing; levels 1 to 3
 *   cost about the same, 3 is the smallest of them.
 * - A text whose characters all fit in a byte (nearly all: '§' is the usual non-ASCII
 *   one) is stored as Latin-1, which decodes about 5 times faster than UTF-8 (20 ms
 *   instead of 100 ms for the 109 MB of a warm run).
 * - Keeping recently inflated texts, so that kernels sharing a body inflate it once,
 *   saved about as much time as its garbage collection cost (and kept 60 MB more
 *   alive): not done.
 *
 * The price is CPU on the main thread: a put hashes its text (sha256, 0.13 s for every
 * row) and compresses the texts not stored yet (0.3 s); making the paths tokens takes
 * 0.15 s more; a read inflates (0.15 s for every row). Against those, far fewer pages
 * are written and read. Cold runs took 0 to 2% longer (medians of 8 and 4 runs: 9.24 s
 * before, 9.44 s after; 9.61 s, 9.63 s), warm runs 5 to 6% (medians of 15: 2.60 s,
 * 2.76 s; 2.47 s, 2.60 s); with the shipped archive, 2% and 4%.
 *
 * zlib rather than raw deflate for its adler32 check: a damaged body fails to inflate
 * instead of reading as wrong cells, and is a cache miss (see getKernel).
 */
export const CELLS_LEVEL = 3

/** A character that does not fit in one byte: a text without any is stored as Latin-1. */
const BEYOND_LATIN1 = /[^\u0000-\u00ff]/

/**
 * Opens (creating and migrating if needed) the index database at `path` for the
 * matrix cache. `racyMs` replaces {@link RACY_MS} (tests).
 * @throws IndexError as openDb does.
 */
export function openMatrixCache<I = KernelIdentity>(path: string, options: {racyMs?: number} = {}): CachedCells<I> {
  const racyNs = BigInt(options.racyMs ?? RACY_MS) * 1_000_000n
  const db: Db = openDb(path)
  // Checkpoint the write-ahead log every 8 MiB rather than every 1,000 pages (1 MiB with
  // the index's 1 KiB pages): a cold matrix writes tens of KiB of cells, rows and index
  // entries per kernel.
  db.pragma('wal_autocheckpoint = 8192')
  const byKernel = db.prepare('SELECT r.object_sha256, c.id, c.latin1, c.body FROM matrix_cache r JOIN matrix_cells c ON c.id = r.cells WHERE r.kernel_hash = ?')
  const identityOf = db.prepare('SELECT identity FROM matrix_kernel WHERE kernel_key = ?')
  const del = db.prepare('DELETE FROM matrix_cache WHERE object_name = ? AND kernel_name = ? AND NOT (object_sha256 = ? AND kernel_hash = ?)')
  // In place, not INSERT OR REPLACE: the triggers that delete unnamed bodies see updates, not replaced rows.
  const put = db.prepare(
    'INSERT INTO matrix_cache (kernel_hash, object_sha256, object_name, kernel_name, cells, created) VALUES (?, ?, ?, ?, ?, ?) ' +
      'ON CONFLICT (kernel_hash, object_sha256) DO UPDATE SET object_name = excluded.object_name, kernel_name = excluded.kernel_name, cells = excluded.cells, created = excluded.created',
  )
  const bodyOf = db.prepare('SELECT id FROM matrix_cells WHERE sha = ?').pluck()
  const putBody = db.prepare('INSERT INTO matrix_cells (sha, latin1, body) VALUES (?, ?, ?)')
  const repairBody = db.prepare('UPDATE matrix_cells SET latin1 = ?, body = ? WHERE id = ?')
  const delIdentity = db.prepare('DELETE FROM matrix_kernel WHERE kernel_name = ? AND kernel_key <> ?')
  const putIdentity = db.prepare('INSERT OR REPLACE INTO matrix_kernel (kernel_key, kernel_name, identity, created) VALUES (?, ?, ?, ?)')
  const hashOf = db.prepare('SELECT stat, sha256 FROM file_hash WHERE path = ?')
  const putHash = db.prepare('INSERT OR REPLACE INTO file_hash (path, stat, sha256, created) VALUES (?, ?, ?, ?)')
  const pending: Array<{o: string; k: string; on: string; kn: string; cells: string}> = []
  const pendingIdentity: Array<[string, string, string]> = []
  /** Bodies read that did not inflate: a put of the same text writes them again. */
  const damaged = new Set<number>()
  const keyHash = (k: string): Buffer => Buffer.from(sha256(k), 'hex')
  // The body of a text: the stored one with the same sha256, else a new one. Looked up
  // only once the rows it may replace are gone, so it is never one their deletion drops.
  const bodyFor = (text: string): number => {
    const sha = Buffer.from(sha256(text), 'hex')
    const id = bodyOf.get(sha) as number | undefined
    if (id !== undefined && !damaged.has(id)) return id
    const latin1 = !BEYOND_LATIN1.test(text)
    const body = deflateSync(Buffer.from(text, latin1 ? 'latin1' : 'utf8'), {level: CELLS_LEVEL})
    if (id === undefined) return Number(putBody.run(sha, latin1 ? 1 : 0, body).lastInsertRowid)
    // the same text, so every row naming this body reads right again
    repairBody.run(latin1 ? 1 : 0, body, id)
    damaged.delete(id)
    return id
  }
  // A kernel's rows in one transaction, in put order: each put first drops the older
  // rows of its object name on its kernel name, then writes its row. When several puts
  // have the same (kernel key, object sha256) (one object file given under several
  // names), only the last one's row survives whatever happens in between (a later
  // upsert overwrites it, a DELETE in between is undone by it), so the earlier ones
  // only delete: their cells are not written.
  const flush = db.transaction(() => {
    const now = new Date().toISOString()
    const last = new Map<string, number>()
    pending.forEach((p, i) => last.set(`${p.k}\u0000${p.o}`, i))
    const hashes = new Map<string, Buffer>()
    pending.forEach((p, i) => {
      let kh = hashes.get(p.k)
      if (!kh) hashes.set(p.k, (kh = keyHash(p.k)))
      del.run(p.on, p.kn, p.o, kh)
      if (last.get(`${p.k}\u0000${p.o}`) === i) put.run(kh, p.o, p.on, p.kn, bodyFor(p.cells), now)
    })
    for (const [k, kn, identity] of pendingIdentity) {
      delIdentity.run(kn, k)
      putIdentity.run(k, kn, identity, now)
    }
    pending.length = 0
    pendingIdentity.length = 0
  })
  let pendingKey: string | undefined
  const flushPending = (): void => {
    if (pending.length > 0 || pendingIdentity.length > 0) flush.immediate()
    pendingKey = undefined
  }
  const holdFor = (k: string): void => {
    if (pendingKey !== undefined && pendingKey !== k) flushPending()
    pendingKey = k
  }
  return {
    getKernel(k, shas) {
      flushPending()
      const wanted = new Set(shas)
      const cells = new Map<string, string>()
      for (const row of byKernel.all(keyHash(k)) as Array<{object_sha256: string; id: number; latin1: number; body: Uint8Array}>) {
        if (!wanted.has(row.object_sha256)) continue
        let text: string
        try {
          text = inflateSync(row.body).toString(row.latin1 === 1 ? 'latin1' : 'utf8')
        } catch {
          // damaged (or not zlib at all): a miss, so the cells are computed and put again
          damaged.add(row.id)
          continue
        }
        cells.set(row.object_sha256, text)
      }
      const id = identityOf.get(k) as {identity: string} | undefined
      return id ? {cells, identity: JSON.parse(id.identity) as I} : {cells}
    },
    put(o, k, info, cells) {
      holdFor(k)
      pending.push({o, k, on: info.object, kn: info.kernel, cells})
    },
    putIdentity(k, kn, identity) {
      holdFor(k)
      pendingIdentity.push([k, kn, JSON.stringify(identity)])
    },
    fileSha256(file) {
      const abs = resolve(file)
      const started = BigInt(Date.now()) * 1_000_000n
      const before = statKey(abs)
      const row = hashOf.get(abs) as {stat: string; sha256: string} | undefined
      if (row && row.stat === before.key) return row.sha256
      const sha = sha256(readFileSync(abs))
      this.rememberFileSha256(abs, {sha256: sha, before, started: String(started)})
      return sha
    },
    knownFileSha256(file) {
      const abs = resolve(file)
      let now: string
      try {
        now = statKey(abs).key
      } catch {
        return undefined
      }
      const row = hashOf.get(abs) as {stat: string; sha256: string} | undefined
      return row && row.stat === now ? row.sha256 : undefined
    },
    rememberFileSha256(file, seen) {
      const abs = resolve(file)
      try {
        if (statKey(abs).key === seen.before.key && BigInt(seen.started) - BigInt(seen.before.newest) >= racyNs) {
          putHash.run(abs, seen.before.key, seen.sha256, new Date().toISOString())
        }
      } catch {
        // gone or unreadable since: nothing to remember
      }
    },
    close() {
      flushPending()
      db.close()
    },
  }
}
