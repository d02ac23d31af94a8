/**
 * The release matrix's cache in the index database (migrations 002 and 003):
 *
 * - cells: one row per (kernel key, object sha256), where the kernel key also carries
 *   the tool key, so a new kcompat, a changed object or a changed kernel never reads an
 *   old row. Putting a row drops older rows of the same object file name on the same
 *   kernel name. Rows are keyed kernel first: one range read gives a kernel's cells for
 *   every object.
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

/** The stat fields a memoized hash is valid under, as stored. */

/**
 * Opens (creating and migrating if needed) the index database at `path` for the
 * matrix cache. `racyMs` replaces {@link RACY_MS} (tests).
 * @throws IndexError as openDb does.
 */
export function openMatrixCache<I = KernelIdentity>(path: string, options: {racyMs?: number} = {}): CachedCells<I> {
  const racyNs = BigInt(options.racyMs ?? RACY_MS) * 1_000_000n
  const db: Db = openDb(path)
  // Checkpoint the write-ahead log every 8 MiB rather than every 1,000 pages (1 MiB with
  // the index's 1 KiB pages): a cold matrix writes hundreds of KiB of cells per kernel.
  db.pragma('wal_autocheckpoint = 8192')
  const byKernel = db.prepare('SELECT object_sha256, cells FROM matrix_cache WHERE kernel_key = ?')
  const identityOf = db.prepare('SELECT identity FROM matrix_kernel WHERE kernel_key = ?')
  const del = db.prepare('DELETE FROM matrix_cache WHERE object_name = ? AND kernel_name = ? AND NOT (object_sha256 = ? AND kernel_key = ?)')
  const put = db.prepare('INSERT OR REPLACE INTO matrix_cache (kernel_key, object_sha256, object_name, kernel_name, cells, created) VALUES (?, ?, ?, ?, ?, ?)')
  const delIdentity = db.prepare('DELETE FROM matrix_kernel WHERE kernel_name = ? AND kernel_key <> ?')
  const putIdentity = db.prepare('INSERT OR REPLACE INTO matrix_kernel (kernel_key, kernel_name, identity, created) VALUES (?, ?, ?, ?)')
  const hashOf = db.prepare('SELECT stat, sha256 FROM file_hash WHERE path = ?')
  const putHash = db.prepare('INSERT OR REPLACE INTO file_hash (path, stat, sha256, created) VALUES (?, ?, ?, ?)')
  const pending: Array<{o: string; k: string; on: string; kn: string; cells: string}> = []
  const pendingIdentity: Array<[string, string, string]> = []
  // A kernel's rows in one transaction, in put order: each put first drops the older
  // rows of its object name on its kernel name, then writes its row. When several puts
  // have the same (kernel key, object sha256) (one object file given under several
  // names), only the last one's row survives whatever happens in between (a later
  // INSERT OR REPLACE overwrites it, a DELETE in between is undone by it), so the
  // earlier ones only delete: their cells are not written.
  const flush = db.transaction(() => {
    const now = new Date().toISOString()
    const last = new Map<string, number>()
    pending.forEach((p, i) => last.set(`${p.k}\u0000${p.o}`, i))
    pending.forEach((p, i) => {
      del.run(p.on, p.kn, p.o, p.k)
      if (last.get(`${p.k}\u0000${p.o}`) === i) put.run(p.k, p.o, p.on, p.kn, p.cells, now)
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
      for (const row of byKernel.all(k) as Array<{object_sha256: string; cells: string}>) {
        if (wanted.has(row.object_sha256)) cells.set(row.object_sha256, row.cells)
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
