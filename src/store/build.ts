/**
 * Building and updating the index of an archive.
 *
 * The build is incremental: the manifest is compared with the kernels already indexed
 * (each row keeps the manifest entry it was built from), and only the difference is
 * applied: a new kernel, or one whose BTF changed (sha256), is (re)indexed; one whose
 * entry changed otherwise (config facts, provenance) has its row updated without
 * reading its BTF; a kernel no longer in the manifest is dropped. Each kernel is one
 * IMMEDIATE transaction, so an error (a corrupt tarball, a checksum mismatch) leaves
 * every kernel done before it in place and nothing of the failing one.
 *
 * BTF is read and parsed before the transaction starts, so other processes can read the
 * index meanwhile (WAL) and are blocked only while the merge is written.
 */
import {accessSync, constants as fsConstants, existsSync, mkdirSync, readFileSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {readKernelBtf, sha256} from '../archive/archive.js'
import {type KernelEntry, MANIFEST_FILE, kernelKey, readManifest, sortKernels} from '../archive/manifest.js'
import {parseBtf} from '../btf/decode.js'
import {KcompatError} from '../errors.js'
import {type Db, openDb} from './db.js'
import {IndexBuildError, IndexError} from './errors.js'
import {type KernelRecords, extractRecords, withModuleRecords} from './extract.js'
import {archiveModuleBytes, archiveModuleUnits, moduleIdentity} from '../archive/module-btf.js'
import type {PackTables} from '../archive/pack/tables.js'
import {PackRecordReader} from './extract-pack.js'
import {type StoreCache, mergeKernel} from './merge.js'
import {KernelIndex} from './query.js'
import {FAST_QUALITY, MERGE_QUALITY, SMALL_QUALITY, recompressChunks} from './chunks.js'

/**
 * Version of what the records hold and how they are encoded. A database built with
 * another version is emptied and rebuilt by the next build (the schema version, by
 * contrast, is handled by migrations).
 */
export const RECORD_FORMAT = '3'

export const INDEX_FILE = 'index.sqlite'

export type BuildAction = 'index' | 'update' | 'remove'

export interface BuildProgress {
  /** 1-based position of this kernel among the kernels to process. */
  index: number
  total: number
  action: BuildAction
  /** `<distro>/<version>/<arch>/<release>` */
  kernel: string
}

export interface BuildOptions {
  onProgress?: (p: BuildProgress) => void
  /**
   * How chunks are compressed once the kernels are merged: `small` (default) at the
   * smallest setting (about 2-3 s per 1.5 MB of index); `fast` in a tenth of that time,
   * about 8% larger. A later `small` build upgrades a `fast` index.
   */
  compression?: 'small' | 'fast'
  /**
   * Called inside each kernel's transaction just before it commits; throwing aborts
   * (rolls back) that kernel. For tests of the rollback; not for general use.
   */
  beforeCommit?: (kernel: string) => void
}

export interface BuildResult {
  dbPath: string
  /** Kernels in the manifest (and now in the index). */
  kernels: number
  /** Kernels whose BTF was (re)indexed. */
  indexed: string[]
  /** Kernels whose manifest entry changed but not their BTF (row updated only). */
  updated: string[]
  removed: string[]
  unchanged: number
  /** Distinct records and kernel sets after the build. */
  records: number
  ksets: number
  /** Size of the index file after the build. */
  indexBytes: number
  /** Total size of the archive's `.btf.tar.xz` files. */
  archiveBytes: number
  ms: number
}

interface KernelRow {
  id: number
  distro: string
  version: string
  arch: string
  release: string
  sha256: string | null
  modules_sha256: string | null
  entry: string
}

/** The manifest entry as stored and compared: JSON with sorted keys. */
export function canonicalEntry(e: KernelEntry): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys)
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
      )
    }
    return v
  }
  return JSON.stringify(sortKeys(e))
}

/** sha256 of `<archive>/manifest.json`, '' when there is none. */
export function manifestHash(archiveRoot: string): string {
  try {
    return sha256(readFileSync(join(archiveRoot, MANIFEST_FILE)))
  } catch {
    return ''
  }
}

/** Size, modification and change times (ns) and inode of `<archive>/manifest.json`, '' when there is none. */
function manifestStat(archiveRoot: string): string {
  const st = statSync(join(archiveRoot, MANIFEST_FILE), {bigint: true, throwIfNoEntry: false})
  return st ? `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}` : ''
}

function getMeta(db: Db, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as {value: string} | undefined
  return row?.value
}

function setMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value)
}

/**
 * Builds or updates the index of the archive at `archiveRoot` in the SQLite file
 * `dbPath` (created if missing).
 * @throws IndexBuildError with the archive/BTF error's code when a kernel cannot be
 *   read (kernels before it stay indexed); IndexError for database problems.
 */
export async function buildIndex(archiveRoot: string, dbPath: string, options: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now()
  const root = resolve(archiveRoot)
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new IndexError('INDEX_NO_ARCHIVE', `archive directory ${root} does not exist`)
  }
  const hashBefore = manifestHash(root)
  const manifest = readManifest(root)
  if (dbPath !== ':memory:') mkdirSync(dirname(resolve(dbPath)), {recursive: true})
  const db = openDb(dbPath)
  try {
    if (getMeta(db, 'record_format') !== RECORD_FORMAT) {
      db.transaction(() => {
        db.exec('DELETE FROM chunk; DELETE FROM kset; DELETE FROM kernel;')
        setMeta(db, 'record_format', RECORD_FORMAT)
      }).immediate()
    }
    const rows = db.prepare('SELECT id, distro, version, arch, release, sha256, modules_sha256, entry FROM kernel').all() as KernelRow[]
    const byKey = new Map(rows.map((r) => [kernelKey(r), r]))
    const wanted = new Set(manifest.kernels.map((e) => kernelKey(e)))

    const plan: {action: BuildAction; key: string; entry?: KernelEntry}[] = []
    for (const r of rows) if (!wanted.has(kernelKey(r))) plan.push({action: 'remove', key: kernelKey(r)})
    let unchanged = 0
    for (const entry of sortKernels(manifest.kernels)) {
      const key = kernelKey(entry)
      const row = byKey.get(key)
      if (!row) plan.push({action: 'index', key, entry})
      else if (row.entry === canonicalEntry(entry)) unchanged++
      else if (row.sha256 === entry.sha256 && row.modules_sha256 === moduleIdentity(entry)) plan.push({action: 'update', key, entry})
      else plan.push({action: 'index', key, entry})
    }

    const result: BuildResult = {
      dbPath,
      kernels: manifest.kernels.length,
      indexed: [],
      updated: [],
      removed: [],
      unchanged,
      records: 0,
      ksets: 0,
      indexBytes: 0,
      archiveBytes: archiveBytes(root, manifest.kernels),
      ms: 0,
    }
    const packs: PackReaders = {readers: new Map()}
    // the stores as the last merge left them (merge.ts); dropped when a transaction fails
    const stores: StoreCache = {}
    for (let i = 0; i < plan.length; i++) {
      const step = plan[i]!
      options.onProgress?.({index: i + 1, total: plan.length, action: step.action, kernel: step.key})
      // Each transaction re-reads the kernel's row: another process may have done the
      // step meanwhile, in which case it does nothing.
      if (step.action === 'remove') {
        const done = immediate(db, stores, () => {
          const row = findRow(db, step.key)
          if (!row) return false
          mergeKernel(db, row.id, null, MERGE_QUALITY, stores)
          db.prepare('DELETE FROM kernel WHERE id = ?').run(row.id)
          options.beforeCommit?.(step.key)
          return true
        })
        if (done) result.removed.push(step.key)
        continue
      }
      const entry = step.entry!
      const records = step.action === 'index' ? await kernelRecords(root, entry, packs) : undefined
      const done = immediate(db, stores, () => {
        const row = findRow(db, step.key)
        const canonical = canonicalEntry(entry)
        if (row && row.entry === canonical) return false
        // A metadata-only update planned against a row whose BTF has changed since: leave
        // it to the next build (the manifest changed too, so it will not be recorded).
        if (records === undefined && (row?.sha256 !== entry.sha256 || row?.modules_sha256 !== moduleIdentity(entry))) return false
        const id = upsertKernel(db, row?.id, entry, canonical, records)
        if (records !== undefined) mergeKernel(db, id, records, MERGE_QUALITY, stores)
        options.beforeCommit?.(step.key)
        return true
      })
      if (!done) result.unchanged++
      else (step.action === 'index' ? result.indexed : result.updated).push(step.key)
    }

    const hashAfter = manifestHash(root)
    // Record the manifest only if it did not change while we worked.
    if (hashAfter === hashBefore) setMeta(db, 'manifest_sha256', hashAfter)
    // Kernels were merged with quick compression; compress every chunk once, properly.
    const quality = (options.compression ?? 'small') === 'small' ? SMALL_QUALITY : FAST_QUALITY
    const recompressed = await recompressChunks(db, quality)
    if (plan.length > 0 || recompressed > 0) compact(db)
    const stats = db.prepare('SELECT (SELECT COALESCE(SUM(n), 0) FROM chunk) AS records, (SELECT COUNT(*) FROM kset) AS ksets').get() as {
      records: number
      ksets: number
    }
    result.records = stats.records
    result.ksets = stats.ksets
    db.close()
    result.indexBytes = dbPath === ':memory:' ? 0 : statSync(dbPath).size
    result.ms = Math.round(performance.now() - started)
    return result
  } finally {
    if (db.open) db.close()
  }
}

/** Total size of the kernels' BTF tarballs that exist. */
export function archiveBytes(root: string, kernels: readonly KernelEntry[]): number {
  let total = 0
  for (const k of kernels) {
    if (!k.path) continue
    try {
      total += statSync(join(root, k.path)).size
    } catch {
      // missing files are reported when the kernel is indexed
    }
  }
  return total
}

/** One pack reader per build and pack: a record's index records are rendered once per build. */
interface PackReaders {
  readers: Map<PackTables, PackRecordReader>
}

/**
 * Reads and parses a kernel's BTF, and takes its modules' records: from the pack's
 * record lists when its modules are in the pack (extract-pack.ts; a raw unit, and a
 * legacy tarball, are parsed as split BTF on vmlinux); null records for a kernel without
 * BTF.
 */
async function kernelRecords(root: string, entry: KernelEntry, packs: PackReaders): Promise<KernelRecords | null> {
  if (entry.btf === 'none' || entry.path === null) return null
  try {
    const bytes = await readKernelBtf(root, entry)
    const vmlinux = parseBtf(bytes)
    const own = extractRecords(vmlinux)
    const units = await archiveModuleUnits(root, entry)
    if (units) {
      let reader = packs.readers.get(units.tables)
      if (!reader) {
        packs.readers.clear() // another pack (the archive changed meanwhile): start over
        packs.readers.set(units.tables, (reader = new PackRecordReader(units.tables)))
      }
      const r = reader
      const modules = units.units.map(([name, u]) =>
        u.raw ? {name, stores: extractRecords(parseBtf(u.raw, {base: vmlinux})).stores} : r.moduleRecords(name, u),
      )
      return withModuleRecords(own, modules)
    }
    const mods = await archiveModuleBytes(root, entry)
    if (!mods) return own
    const modules = [...mods.bytes].map(([name, raw]) => ({name, stores: extractRecords(parseBtf(raw, {base: vmlinux})).stores}))
    return withModuleRecords(own, modules)
  } catch (e) {
    if (e instanceof KcompatError) throw new IndexBuildError(kernelKey(entry), e)
    throw e
  }
}

/** Runs `fn` in an IMMEDIATE transaction; when it does not commit, the store cache is dropped. */
function immediate<T>(db: Db, stores: StoreCache, fn: () => T): T {
  try {
    return db.transaction(fn).immediate()
  } catch (e) {
    stores.stores = undefined
    stores.version = undefined
    throw e
  }
}

function findRow(db: Db, key: string): KernelRow | undefined {
  const [distro, version, arch, ...rest] = key.split('/')
  return db
    .prepare('SELECT id, distro, version, arch, release, sha256, modules_sha256, entry FROM kernel WHERE distro = ? AND version = ? AND arch = ? AND release = ?')
    .get(distro, version, arch, rest.join('/')) as KernelRow | undefined
}

function upsertKernel(
  db: Db,
  id: number | undefined,
  e: KernelEntry,
  canonical: string,
  records: KernelRecords | null | undefined,
): number {
  const values = {
    distro: e.distro,
    version: e.version,
    arch: e.arch,
    release: e.release,
    flavor: e.flavor ?? '',
    btf: e.btf,
    sha256: e.sha256,
    size: e.size,
    path: e.path,
    config: e.config == null ? null : JSON.stringify(e.config),
    source: JSON.stringify(e.source ?? {}),
    added: e.added ?? '',
    entry: canonical,
  }
  const none = {n_funcs: null, n_tracepoints: null, n_structs: null, n_enums: null, n_modules: null, modules_sha256: null}
  const counts =
    records === undefined
      ? undefined
      : records === null
        ? none
        : {
            n_funcs: records.counts.funcs,
            n_tracepoints: records.counts.tracepoints,
            n_structs: records.counts.structs,
            n_enums: records.counts.enums,
            n_modules: records.modules ?? null,
            modules_sha256: records.modules === undefined ? null : moduleIdentity(e),
          }
  if (id === undefined) {
    const all = {...values, ...(counts ?? none)}
    const cols = Object.keys(all)
    const info = db.prepare(`INSERT INTO kernel (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`).run(all)
    return Number(info.lastInsertRowid)
  }
  const all = {...values, ...(counts ?? {})}
  const cols = Object.keys(all)
  db.prepare(`UPDATE kernel SET ${cols.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`).run({...all, id})
  return id
}

/** Returns freed pages to the file system and empties the WAL after a build changed something. */
function compact(db: Db): void {
  // VACUUM copies the whole file; the index is small enough that this takes milliseconds.
  if ((db.pragma('freelist_count', {simple: true}) as number) > 0) db.exec('VACUUM')
  db.pragma('wal_checkpoint(TRUNCATE)')
}

/** Where the user's cache lives ($XDG_CACHE_HOME or ~/.cache). */
function cacheDir(): string {
  return process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
}

/**
 * The index file for an archive: `flag` (--db), else $KCOMPAT_INDEX, else
 * `<archive>/index.sqlite`; when the archive directory is not writable (a system-wide
 * install), `~/.cache/kcompat/index-<hash of the archive path>.sqlite` instead.
 */
export function resolveIndexPath(archiveRoot: string, flag?: string): string {
  if (flag) return resolve(flag)
  if (process.env.KCOMPAT_INDEX) return resolve(process.env.KCOMPAT_INDEX)
  const root = resolve(archiveRoot)
  const inArchive = join(root, INDEX_FILE)
  if (writable(inArchive) || !existsSync(root)) return inArchive
  return join(cacheDir(), 'kcompat', `index-${sha256(Buffer.from(root)).slice(0, 16)}.sqlite`)
}

function writable(file: string): boolean {
  try {
    accessSync(existsSync(file) ? file : resolve(file, '..'), fsConstants.W_OK)
    return true
  } catch {
    return false
  }
}

export interface EnsureOptions {
  /** --db FILE */
  db?: string
  /** Default `fast`: the first query should not wait for the smallest compression. */
  compression?: 'small' | 'fast'
  onProgress?: (p: BuildProgress) => void
}

export interface EnsureResult {
  dbPath: string
  /** Set when the index had to be built or updated. */
  build?: BuildResult
}

/**
 * Makes sure the index of `archiveRoot` exists and matches its manifest, building or
 * updating it when the manifest changed since the last build (compared by content, so
 * a fresh clone with arbitrary file times works), or when the index was built by a
 * kcompat with another record format. Returns the index path.
 */
export async function ensureIndex(archiveRoot: string, options: EnsureOptions = {}): Promise<EnsureResult> {
  const r = await freshIndex(archiveRoot, options)
  r.db?.close()
  return {dbPath: r.dbPath, ...(r.build ? {build: r.build} : {})}
}

/**
 * {@link ensureIndex}, for a caller that queries the index next: the connection that
 * found the index fresh is handed back open instead of being closed and opened again
 * (each open sets its pragmas and reads the schema version: a query opened the file
 * twice). When the index had to be built, `db` is undefined.
 */
async function freshIndex(archiveRoot: string, options: EnsureOptions): Promise<EnsureResult & {db?: Db}> {
  const root = resolve(archiveRoot)
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new IndexError('INDEX_NO_ARCHIVE', `archive directory ${root} does not exist`)
  }
  const dbPath = resolveIndexPath(root, options.db)
  if (existsSync(dbPath)) {
    const db = openDb(dbPath)
    let fresh = false
    try {
      const recorded = getMeta(db, 'manifest_sha256')
      if (getMeta(db, 'record_format') === RECORD_FORMAT && recorded !== undefined) {
        // The manifest's hash is checked only when the file changed since the last
        // check that found it equal: `manifest_stat` is that hash with the file's size,
        // times and inode then (a rewrite, even of the same size within the same
        // nanosecond, changes the ctime or the inode). Hashing loads node:crypto, about
        // 20 ms of a query's start-up.
        const stat = manifestStat(root)
        if (stat !== '' && getMeta(db, 'manifest_stat') === `${recorded} ${stat}`) {
          fresh = true
        } else {
          fresh = recorded === manifestHash(root)
          // the stat taken before hashing still holds after it: it describes the hashed bytes
          if (fresh && stat !== '' && manifestStat(root) === stat) setMeta(db, 'manifest_stat', `${recorded} ${stat}`)
        }
      }
    } finally {
      if (!fresh) db.close()
    }
    if (fresh) return {dbPath, db}
  }
  const build = await buildIndex(root, dbPath, {onProgress: options.onProgress, compression: options.compression ?? 'fast'})
  return {dbPath, build}
}

/**
 * The up-to-date index of `archiveRoot` (see {@link ensureIndex}), open; the caller
 * closes it.
 */
export async function openFreshIndex(archiveRoot: string, options: EnsureOptions = {}): Promise<KernelIndex> {
  const {dbPath, db} = await freshIndex(archiveRoot, options)
  return db ? KernelIndex.wrap(db) : KernelIndex.open(dbPath)
}

/**
 * Runs `fn` on the up-to-date index of `archiveRoot` (see {@link ensureIndex}) and
 * closes it: what the query commands do.
 */
export async function queryIndex<T>(archiveRoot: string, options: EnsureOptions, fn: (index: KernelIndex) => T): Promise<T> {
  const index = await openFreshIndex(archiveRoot, options)
  try {
    return fn(index)
  } finally {
    index.close()
  }
}
