/**
 * --btf kernels whose file hash the memo does not know are hashed by the job that
 * checks them (from the bytes it reads anyway), and the hash goes back to the memo; a
 * second run finds every cell in the cache. Runs inline (from the sources the pool
 * starts no workers), which is the same task code the workers run.
 */
import {createHash} from 'node:crypto'
import {cpSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import Database from 'better-sqlite3'
import {decompressSync} from '@napi-rs/lzma/xz'
import {buildMatrix} from '../../src/matrix/matrix.js'
import {openMatrixCache} from '../../src/store/matrix-cache.js'
import {fixtureArchive} from '../check/fixture-archive.js'
import {FIXTURES} from '../helpers/fixtures.js'

const OBJECTS = ['core_fields.bpfel.o', 'progs.bpfel.o'].map((o) => join(FIXTURES, 'bpf', o))

describe('matrix: --btf file hashes taken by the checking job', () => {
  it('are remembered, keyed like hashes taken up front, and make the next run all cache hits', async () => {
    const archive = await fixtureArchive()
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-matrix-filehash-'))
    const files = ['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64'].map((k) => {
      const f = join(dir, `${k}.btf`)
      writeFileSync(f, decompressSync(readFileSync(join(FIXTURES, 'kernels', `${k}.btf.xz`))))
      return f
    })
    const db = join(dir, 'index.sqlite')
    const run = async () => {
      // racyMs -1000: the files were just written; let the memo keep their hashes anyway
      const c = openMatrixCache(db, {racyMs: -1000})
      try {
        const memo = {known: (f: string) => c.knownFileSha256(f), remember: (f: string, seen: Parameters<typeof c.rememberFileSha256>[1]) => c.rememberFileSha256(f, seen)}
        return await buildMatrix({objects: OBJECTS, archive, btf: files, noArchive: true, cache: c, hashFile: (f) => c.fileSha256(f), fileHashMemo: memo})
      } finally {
        c.close()
      }
    }
    const first = await run()
    expect(first.cache).toEqual({hits: 0, misses: files.length * OBJECTS.length})
    const d = new Database(db, {readonly: true})
    const rows = d.prepare('SELECT path, sha256 FROM file_hash').all() as Array<{path: string; sha256: string}>
    d.close()
    for (const f of files) expect(rows.find((r) => r.path === f)?.sha256, f).toBe(createHash('sha256').update(readFileSync(f)).digest('hex'))
    const second = await run()
    expect(second.cache).toEqual({hits: files.length * OBJECTS.length, misses: 0})
    expect(JSON.stringify(second.cells)).toBe(JSON.stringify(first.cells))
    // without the memo's answer the hash is taken up front: same key, so the cache still hits
    const c = openMatrixCache(db)
    try {
      const third = await buildMatrix({objects: OBJECTS, archive, btf: files, noArchive: true, cache: c})
      expect(third.cache).toEqual({hits: files.length * OBJECTS.length, misses: 0})
    } finally {
      c.close()
    }
  })

  it('two objects with the same bytes share cached cells, and each still names its own path', async () => {
    const archive = await fixtureArchive()
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-matrix-samebytes-'))
    const objs = ['a.bpf.o', 'b.bpf.o'].map((n) => {
      const f = join(dir, n)
      writeFileSync(f, readFileSync(OBJECTS[1]!))
      return f
    })
    const db = join(dir, 'index.sqlite')
    const run = async () => {
      const c = openMatrixCache(db)
      try {
        return await buildMatrix({objects: objs, archive, cache: c, kernels: 'debian/12/x86_64/6.1*'})
      } finally {
        c.close()
      }
    }
    const cold = await run()
    const warm = await run()
    expect(warm.cache!.misses).toBe(0)
    expect(JSON.stringify(warm.cells)).toBe(JSON.stringify(cold.cells))
    const seen = {a: 0, b: 0}
    for (const c of warm.cells) {
      const texts = c.reasons.flatMap((r) => r.evidence.map((e) => e.text)).filter((t) => t.includes('.bpf.o'))
      for (const t of texts) expect(t, `${c.object} ${c.program}`).toContain(join(dir, c.object))
      seen[c.object === 'a.bpf.o' ? 'a' : 'b'] += texts.length
    }
    expect(seen.a).toBeGreaterThan(0)
    expect(seen.b).toBe(seen.a)
  })

  it('a --btf kernel\'s cells are recomputed when the archive\'s manifest changes (its facts may come from there)', async () => {
    const archive = mkdtempSync(join(tmpdir(), 'kcompat-matrix-archive-'))
    cpSync(await fixtureArchive(), archive, {recursive: true})
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-matrix-manifest-'))
    const f = join(dir, '6.1.0-56-cloud-amd64.btf')
    writeFileSync(f, decompressSync(readFileSync(join(FIXTURES, 'kernels', '6.1.0-56-cloud-amd64.btf.xz'))))
    const db = join(dir, 'index.sqlite')
    const run = async () => {
      const c = openMatrixCache(db)
      try {
        return await buildMatrix({objects: OBJECTS, archive, btf: [f], noArchive: true, cache: c})
      } finally {
        c.close()
      }
    }
    expect((await run()).cache).toEqual({hits: 0, misses: OBJECTS.length})
    expect((await run()).cache).toEqual({hits: OBJECTS.length, misses: 0})
    const m = join(archive, 'manifest.json')
    writeFileSync(m, `${JSON.stringify(JSON.parse(readFileSync(m, 'utf8')))}\n`)
    expect((await run()).cache).toEqual({hits: 0, misses: OBJECTS.length})
  })
})
