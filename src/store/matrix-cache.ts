/**
 * The release matrix's cell cache in the index database (migration 002): one row per
 * (object sha256, kernel key), where the kernel key also carries the tool key, so a
 * new kcompat, a changed object or a changed kernel never reads an old row. Putting a
 * row drops older rows of the same object file name on the same kernel name.
 */
import {openDb, type Db} from './db.js'

export interface CachedCells<C> {
  get(objectSha: string, kernelKey: string): C[] | undefined
  put(objectSha: string, kernelKey: string, info: {object: string; kernel: string}, cells: C[]): void
  close(): void
}

/**
 * Opens (creating and migrating if needed) the index database at `path` for the
 * matrix cache. Writes are batched in one transaction per {@link CachedCells.close}.
 * @throws IndexError as openDb does.
 */
export function openMatrixCache<C>(path: string): CachedCells<C> {
  const db: Db = openDb(path)
  const get = db.prepare('SELECT cells FROM matrix_cache WHERE object_sha256 = ? AND kernel_key = ?')
  const del = db.prepare('DELETE FROM matrix_cache WHERE object_name = ? AND kernel_name = ? AND NOT (object_sha256 = ? AND kernel_key = ?)')
  const put = db.prepare('INSERT OR REPLACE INTO matrix_cache (object_sha256, kernel_key, object_name, kernel_name, cells, created) VALUES (?, ?, ?, ?, ?, ?)')
  const pending: Array<[string, string, string, string, string]> = []
  const flush = db.transaction(() => {
    const now = new Date().toISOString()
    for (const [o, k, on, kn, cells] of pending) {
      del.run(on, kn, o, k)
      put.run(o, k, on, kn, cells, now)
    }
    pending.length = 0
  })
  return {
    get(o, k) {
      const row = get.get(o, k) as {cells: string} | undefined
      return row ? (JSON.parse(row.cells) as C[]) : undefined
    },
    put(o, k, info, cells) {
      pending.push([o, k, info.object, info.kernel, JSON.stringify(cells)])
      if (pending.length >= 256) flush()
    },
    close() {
      if (pending.length > 0) flush()
      db.close()
    },
  }
}
