/**
 * Schema migrations: from an empty database to the newest, refusal of a database
 * written by a newer kcompat, atomicity of a failing migration, the migrations directory
 * being found from the sources.
 */
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {describe, expect, it} from 'vitest'
import {defaultMigrationsDir, migrate, openDb, readMigrations, schemaVersion} from '../../src/store/db.js'

const latest = readMigrations().length

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'kcompat-migrations-'))
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(d, name), sql)
  return d
}

function schema(db: Database.Database): string {
  const rows = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as {
    sql: string | null
  }[]
  return `${rows.map((r) => `${r.sql};`).join('\n')}\n`
}

describe('migrations', () => {
  it('are found at the package root from the sources, numbered from 001 without gaps', () => {
    expect(existsSync(join(defaultMigrationsDir(), '001_init.sql'))).toBe(true)
    expect(readMigrations().map((m) => m.version)).toEqual(Array.from({length: latest}, (_, i) => i + 1))
  })

  it('migrate an empty :memory: database from 0 to the latest; the schema matches the committed snapshot', async () => {
    const db = new Database(':memory:')
    expect(schemaVersion(db)).toBe(0)
    expect(migrate(db)).toEqual(Array.from({length: latest}, (_, i) => i + 1))
    expect(schemaVersion(db)).toBe(latest)
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as {name: string}[]).map((r) => r.name)
    expect(tables).toEqual(['chunk', 'file_hash', 'kernel', 'kset', 'matrix_cache', 'matrix_cells', 'matrix_kernel', 'meta'])
    const cols = (db.prepare('PRAGMA table_info(chunk)').all() as {name: string}[]).map((c) => c.name)
    expect(cols).toEqual(['store', 'seq', 'first_key', 'last_key', 'n', 'raw_size', 'quality', 'data'])
    await expect(schema(db)).toMatchFileSnapshot('./__snapshots__/schema.sql')
    // applying again does nothing
    expect(migrate(db)).toEqual([])
    db.close()
  })

  it('004 drops the cached cells of version 3 (derived data) and keeps the rest of the index', () => {
    const db = new Database(':memory:')
    expect(migrate(db, readMigrations().slice(0, 3))).toEqual([1, 2, 3])
    const now = new Date().toISOString()
    db.prepare('INSERT INTO matrix_cache (kernel_key, object_sha256, object_name, kernel_name, cells, created) VALUES (?, ?, ?, ?, ?, ?)').run('K', 's', 'a.o', 'k', '[]', now)
    db.prepare('INSERT INTO matrix_kernel (kernel_key, kernel_name, identity, created) VALUES (?, ?, ?, ?)').run('K', 'k', '{}', now)
    db.prepare('INSERT INTO file_hash (path, stat, sha256, created) VALUES (?, ?, ?, ?)').run('/x', '1:2:3:4:5', 'h', now)
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('m', 'v')
    expect(migrate(db)).toEqual(Array.from({length: latest - 3}, (_, i) => i + 4))
    const count = (t: string): number => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as {n: number}).n
    expect([count('matrix_cache'), count('matrix_cells'), count('matrix_kernel'), count('file_hash'), count('meta')]).toEqual([0, 0, 1, 1, 1])
    db.close()
  })

  it('a migration that frees most of the file gives the space back (004 dropping a large matrix cache)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kcompat-vacuum-')), 'i.sqlite')
    const old = new Database(file)
    old.pragma('journal_mode = WAL')
    migrate(old, readMigrations().slice(0, 3))
    const put = old.prepare('INSERT INTO matrix_cache (kernel_key, object_sha256, object_name, kernel_name, cells, created) VALUES (?, ?, ?, ?, ?, ?)')
    const cells = 'x'.repeat(100_000)
    old.transaction(() => {
      for (let i = 0; i < 100; i++) put.run(`K${i}`, 's', 'a.o', `k${i}`, cells, 'now')
    })()
    old.pragma('wal_checkpoint(TRUNCATE)')
    old.close()
    const pages = (db: Database.Database): {total: number; free: number; size: number} => ({
      total: db.pragma('page_count', {simple: true}) as number,
      free: db.pragma('freelist_count', {simple: true}) as number,
      size: db.pragma('page_size', {simple: true}) as number,
    })
    const probe = new Database(file, {readonly: true})
    const before = pages(probe)
    probe.close()
    expect(before.total * before.size).toBeGreaterThan(10_000_000)
    const db = openDb(file)
    expect(schemaVersion(db)).toBe(latest)
    const after = pages(db)
    expect(after.free).toBe(0)
    expect(after.total * after.size).toBeLessThan(1_000_000)
    db.close()
  })

  it('openDb sets WAL, foreign keys and a busy timeout on a file database', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'kcompat-db-')), 'i.sqlite')
    const db = openDb(path)
    expect(db.pragma('journal_mode', {simple: true})).toBe('wal')
    expect(db.pragma('foreign_keys', {simple: true})).toBe(1)
    expect(db.pragma('busy_timeout', {simple: true})).toBeGreaterThan(0)
    expect(schemaVersion(db)).toBe(latest)
    db.close()
  })

  it('a database newer than the code is refused with INDEX_TOO_NEW and left untouched', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'kcompat-db-')), 'new.sqlite')
    const raw = new Database(path)
    raw.exec('CREATE TABLE future (x)')
    raw.pragma(`user_version = ${latest + 1}`)
    raw.close()
    const before = readFileSync(path)
    expect(() => openDb(path)).toThrowError(expect.objectContaining({code: 'INDEX_TOO_NEW'}))
    expect(readFileSync(path).equals(before)).toBe(true)
    const mem = new Database(':memory:')
    mem.pragma(`user_version = ${latest + 5}`)
    expect(() => migrate(mem)).toThrowError(expect.objectContaining({code: 'INDEX_TOO_NEW'}))
    expect(schemaVersion(mem)).toBe(latest + 5)
  })

  it('a failing migration is rolled back whole; the ones before it stay', () => {
    const d = dir({
      '001_a.sql': 'CREATE TABLE a (x INTEGER);',
      '002_b.sql': 'CREATE TABLE b (x INTEGER); INSERT INTO no_such_table VALUES (1);',
    })
    const db = new Database(':memory:')
    expect(() => migrate(db, readMigrations(d))).toThrowError(expect.objectContaining({code: 'INDEX_MIGRATION_FAILED'}))
    expect(schemaVersion(db)).toBe(1)
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as {name: string}[]).map((r) => r.name)
    expect(tables).toEqual(['a'])
  })

  it('a gap or a duplicate in the numbering, or no migrations at all, is INDEX_BAD_MIGRATIONS', () => {
    expect(() => readMigrations(dir({'001_a.sql': '', '003_c.sql': ''}))).toThrowError(expect.objectContaining({code: 'INDEX_BAD_MIGRATIONS'}))
    expect(() => readMigrations(dir({'001_a.sql': '', '001_b.sql': ''}))).toThrowError(expect.objectContaining({code: 'INDEX_BAD_MIGRATIONS'}))
    expect(() => readMigrations(dir({'README.md': ''}))).toThrowError(expect.objectContaining({code: 'INDEX_BAD_MIGRATIONS'}))
    expect(() => readMigrations('/nonexistent/migrations')).toThrowError(expect.objectContaining({code: 'INDEX_BAD_MIGRATIONS'}))
  })

  it('a file that is not a database is INDEX_OPEN_FAILED', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'kcompat-db-')), 'junk.sqlite')
    writeFileSync(path, 'this is not a database, just some text long enough to have a header...'.repeat(20))
    expect(() => openDb(path)).toThrowError(expect.objectContaining({code: 'INDEX_OPEN_FAILED'}))
  })
})
