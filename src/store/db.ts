/**
 * Opening the index database and migrating its schema. The only module (with the rest
 * of src/store) that touches better-sqlite3.
 *
 * Migrations are the files `migrations/NNN_name.sql` at the package root, applied in
 * number order, forward only. `PRAGMA user_version` is the schema version: migration N
 * runs when user_version < N, inside one IMMEDIATE transaction together with
 * `PRAGMA user_version = N`, so it is applied entirely or not at all and two processes
 * cannot both apply it. A database whose user_version is higher than the newest
 * migration was written by a newer kcompat and is refused (`INDEX_TOO_NEW`), never
 * modified.
 *
 * Connections use WAL journaling (readers do not block the writer), foreign keys on,
 * and a busy timeout so a second process waits for a running build instead of failing.
 */
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import Database from 'better-sqlite3'
import {IndexError} from './errors.js'

export type Db = Database.Database

/** How long a connection waits for another process's write transaction, in ms. */
export const BUSY_TIMEOUT_MS = 30_000

/**
 * SQLite page size of new databases. Small pages waste less space at the end of each
 * compressed chunk's overflow chain (about half a page per chunk).
 */
export const PAGE_SIZE = 1024

/** `migrations/` at the package root: from src/store/db.ts and from dist/store/db.js alike. */
export function defaultMigrationsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations')
}

export interface Migration {
  version: number
  name: string
  sql: string
}

const MIGRATION_FILE = /^(\d{3})_([a-z0-9_-]+)\.sql$/

/**
 * The migrations in `dir`, in order (each one's `sql` read on first use). Numbers must
 * run 1, 2, 3, … without gaps or duplicates; other files are ignored.
 * @throws IndexError `INDEX_BAD_MIGRATIONS`.
 */
export function readMigrations(dir = defaultMigrationsDir()): Migration[] {
  let files: string[]
  try {
    files = readdirSync(dir)
  } catch (e) {
    throw new IndexError('INDEX_BAD_MIGRATIONS', `cannot read the migrations directory ${dir}: ${(e as Error).message}`)
  }
  const out: Migration[] = []
  for (const f of files) {
    const m = MIGRATION_FILE.exec(f)
    if (!m) continue
    // The SQL is read when a migration runs: an index at the newest schema (every
    // query's case) needs only the numbers, and reading the files cost ~1 ms a start.
    const file = join(dir, f)
    let sql: string | undefined
    out.push({
      version: Number(m[1]),
      name: m[2]!,
      get sql() {
        return (sql ??= readFileSync(file, 'utf8'))
      },
    })
  }
  out.sort((a, b) => a.version - b.version)
  out.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new IndexError('INDEX_BAD_MIGRATIONS', `${dir}: migration ${String(i + 1).padStart(3, '0')} is missing or duplicated`)
    }
  })
  if (out.length === 0) throw new IndexError('INDEX_BAD_MIGRATIONS', `${dir} holds no migrations`)
  return out
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', {simple: true}) as number
}

/**
 * Brings the schema up to the newest migration; returns the versions applied.
 * @throws IndexError `INDEX_TOO_NEW` (database newer than the code; left untouched),
 *   `INDEX_MIGRATION_FAILED` (that migration rolled back; earlier ones stay applied).
 */
export function migrate(db: Db, migrations: Migration[] = readMigrations()): number[] {
  const latest = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version
  const applied: number[] = []
  for (const m of migrations) {
    const step = db.transaction(() => {
      // Re-read inside the transaction: another process may have migrated meanwhile.
      const current = schemaVersion(db)
      if (current > latest) throw tooNew(db, current, latest)
      if (current >= m.version) return false
      if (current !== m.version - 1) {
        throw new IndexError('INDEX_MIGRATION_FAILED', `schema version ${current} cannot be migrated to ${m.version}`)
      }
      try {
        db.exec(m.sql)
      } catch (e) {
        throw new IndexError('INDEX_MIGRATION_FAILED', `migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, {cause: e})
      }
      // The version cannot be a bound parameter; it is a validated integer.
      db.pragma(`user_version = ${Math.trunc(m.version)}`)
      return true
    })
    if (step.immediate()) applied.push(m.version)
  }
  const current = schemaVersion(db)
  if (current > latest) throw tooNew(db, current, latest)
  if (applied.length > 0) reclaimFreePages(db)
  return applied
}

/**
 * Gives the pages a migration freed back to the file system. A migration that drops a
 * table of derived data (004 drops the old matrix cache, up to hundreds of MB) leaves its
 * pages on SQLite's free list: reused by later writes, but the file keeps its size.
 * VACUUM rewrites the file without them; it cannot run inside the migrations'
 * transactions, so it runs once after them, and only when the free pages are at least
 * 1 MiB and a quarter of the file (a new database has next to none). It is a best
 * effort: if another connection holds the database past the busy timeout, the pages
 * stay free and are reused as before.
 */
function reclaimFreePages(db: Db): void {
  if (db.memory) return
  const free = db.pragma('freelist_count', {simple: true}) as number
  const total = db.pragma('page_count', {simple: true}) as number
  const pageSize = db.pragma('page_size', {simple: true}) as number
  if (free * pageSize < 1 << 20 || free * 4 < total) return
  try {
    db.exec('VACUUM')
  } catch {
    // busy or out of space: the free pages stay, which is where things were before
  }
}

function tooNew(db: Db, current: number, latest: number): IndexError {
  return new IndexError(
    'INDEX_TOO_NEW',
    `${db.name}: index schema version ${current} is newer than this kcompat supports (${latest}); upgrade kcompat or delete the index to rebuild it`,
  )
}

const requireHere = createRequire(import.meta.url)
let addonPath: string | null | undefined

/**
 * better-sqlite3's compiled addon, handed to it as `nativeBinding`: without it,
 * better-sqlite3 finds the addon through the `bindings` package, which reads the call
 * stack and tries a dozen paths, ~25 ms of every query's start-up. Undefined (and
 * better-sqlite3's own lookup) when the package keeps it elsewhere.
 */
function nativeBinding(): string | undefined {
  if (addonPath === undefined) {
    const addon = ['build', 'Release', 'better_sqlite3.node']
    // the package's own node_modules, where Node's resolution from here looks first
    // (dist/store and dist hold none); else wherever Node resolves the package (hoisted)
    const own = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', 'better-sqlite3', ...addon)
    try {
      const p = existsSync(own) ? own : join(dirname(requireHere.resolve('better-sqlite3/package.json')), ...addon)
      addonPath = existsSync(p) ? p : null
    } catch {
      addonPath = null
    }
  }
  return addonPath ?? undefined
}

export interface OpenOptions {
  /** Directory of the migration files (tests point this at their own). */
  migrationsDir?: string
  /** Open without creating or migrating (queries on an existing index). */
  readonly?: boolean
}

/**
 * Opens (creating if needed) the index database at `path` (`:memory:` works) and
 * migrates it to the newest schema.
 * @throws IndexError `INDEX_OPEN_FAILED`, `INDEX_TOO_NEW`, `INDEX_MIGRATION_FAILED`,
 *   `INDEX_BAD_MIGRATIONS`.
 */
export function openDb(path: string, options: OpenOptions = {}): Db {
  const migrations = readMigrations(options.migrationsDir)
  const isNew = path === ':memory:' || path === '' || !existsSync(path)
  let db: Db
  try {
    const addon = nativeBinding()
    db = new Database(path, {readonly: options.readonly === true, fileMustExist: options.readonly === true, ...(addon ? {nativeBinding: addon} : {})})
  } catch (e) {
    throw new IndexError('INDEX_OPEN_FAILED', `cannot open the index ${path}: ${(e as Error).message}`, {cause: e})
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    // Refuse a newer database before any pragma below could change its file.
    const current = schemaVersion(db)
    const latest = migrations[migrations.length - 1]!.version
    if (current > latest) throw tooNew(db, current, latest)
    if (options.readonly) {
      if (current < latest) {
        throw new IndexError('INDEX_OPEN_FAILED', `${path}: index schema version ${current} is older than ${latest}; open it writable to migrate`)
      }
      return db
    }
    if (isNew) db.pragma(`page_size = ${PAGE_SIZE}`)
    db.pragma('journal_mode = WAL')
    db.pragma('foreign_keys = ON')
    db.pragma('synchronous = NORMAL')
    // an index at the newest schema (every query's case) needs no migration transactions
    if (current < latest) migrate(db, migrations)
    return db
  } catch (e) {
    db.close()
    if (e instanceof IndexError) throw e
    throw new IndexError('INDEX_OPEN_FAILED', `cannot use the index ${path}: ${(e as Error).message}`, {cause: e})
  }
}
