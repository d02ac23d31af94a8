/**
 * Building the index incrementally: nothing is redone when nothing changed, only the
 * changed kernel is re-indexed, removed kernels are dropped, a bad tarball or a failing
 * transaction writes nothing and leaves earlier kernels intact, and ensureIndex builds
 * on first use and when the manifest changes.
 */
import {readFileSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {beforeAll, describe, expect, it} from 'vitest'
import {readManifest, writeManifest} from '../../src/archive/manifest.js'
import {INDEX_FILE, buildIndex, ensureIndex, resolveIndexPath} from '../../src/store/build.js'
import {openDb} from '../../src/store/db.js'
import {IndexBuildError} from '../../src/store/errors.js'
import {mergeKernel} from '../../src/store/merge.js'
import {KernelIndex, type KernelRef} from '../../src/store/query.js'
import {
  type FixtureKernel,
  NO_BTF,
  addFixtureKernel,
  configFacts,
  copyArchive,
  fixtureArchive,
  fixtureKernels,
  tempDb,
} from './helpers.js'

const kernels = fixtureKernels()
/** Size is not under test here: skip the slow final recompression. */
const FAST = {compression: 'fast'} as const
const keyOf = (k: KernelRef): string => `${k.distro}/${k.version}/${k.arch}/${k.release}`

/** Everything the index stores, for before/after comparisons. */
function snapshot(dbPath: string): unknown {
  const db = new Database(dbPath, {readonly: true})
  try {
    return {
      kernels: db.prepare('SELECT * FROM kernel ORDER BY id').all(),
      ksets: db.prepare('SELECT * FROM kset ORDER BY id').all(),
      chunks: db.prepare('SELECT store, seq, first_key, last_key, n, raw_size, hex(data) AS data FROM chunk ORDER BY store, seq').all(),
    }
  } finally {
    db.close()
  }
}

function funcKernels(dbPath: string, name: string): string[] {
  const index = KernelIndex.open(dbPath)
  try {
    return index.findFunc(name).kernels.map(keyOf).sort()
  } finally {
    index.close()
  }
}

/** A function that `k` has and no other fixture kernel has (from the index of the full archive). */
function onlyIn(dbPath: string, k: FixtureKernel): string {
  const index = KernelIndex.open(dbPath)
  try {
    const mine = index.kernelFuncs(k)
    const others = kernels.filter((o) => o !== k).map((o) => index.kernelFuncs(o))
    const name = [...mine.keys()].sort().find((n) => others.every((o) => !o.has(n)))
    if (!name) throw new Error(`no function unique to ${k.release}`)
    return name
  } finally {
    index.close()
  }
}

describe.skipIf(kernels.length < 2)('incremental index build', () => {
  let base: string
  beforeAll(async () => {
    base = await fixtureArchive()
  })

  it('a second build changes nothing; a changed kernel alone is re-indexed; metadata-only changes re-read no BTF', async () => {
    const root = copyArchive(base)
    const dbPath = tempDb()
    const first = await buildIndex(root, dbPath, FAST)
    expect(first.indexed.length).toBe(kernels.length + 1)

    const before = snapshot(dbPath)
    const progress: string[] = []
    const again = await buildIndex(root, dbPath, {...FAST, onProgress: (p) => progress.push(p.kernel)})
    expect(again).toMatchObject({indexed: [], updated: [], removed: [], unchanged: kernels.length + 1})
    expect(progress).toEqual([])
    expect(snapshot(dbPath)).toEqual(before)

    // Replace one kernel's BTF by another kernel's: only it is re-indexed.
    const [a, b] = [kernels[0]!, kernels[1]!]
    const onlyA = onlyIn(dbPath, a)
    const onlyB = onlyIn(dbPath, b)
    await addFixtureKernel(root, a, b.btf)
    const seen: {index: number; total: number; kernel: string}[] = []
    const changed = await buildIndex(root, dbPath, {...FAST, onProgress: (p) => seen.push(p)})
    expect(changed.indexed).toEqual([a.key])
    expect(changed.updated).toEqual([])
    expect(changed.unchanged).toBe(kernels.length)
    expect(seen).toEqual([{index: 1, total: 1, action: 'index', kernel: a.key}])
    expect(funcKernels(dbPath, onlyA)).toEqual([])
    expect(funcKernels(dbPath, onlyB)).toEqual([a.key, b.key].sort())

    // Config facts change, BTF does not: the row is updated, no BTF is read.
    const facts = {...configFacts(b.release), CONFIG_BPF_LSM: 'y', CONFIG_EXTRA: 'm'}
    await addFixtureKernel(root, b, b.btf, facts)
    const meta = await buildIndex(root, dbPath, FAST)
    expect(meta).toMatchObject({indexed: [], updated: [b.key]})
    const index = KernelIndex.open(dbPath)
    expect(index.listKernels({release: b.release})[0]!.config).toEqual(facts)
    index.close()
  })

  it('a kernel removed from the manifest is dropped with the records only it had', async () => {
    const root = copyArchive(base)
    const dbPath = tempDb()
    await buildIndex(root, dbPath, FAST)
    const gone = kernels[kernels.length - 1]!
    const unique = onlyIn(dbPath, gone)
    const m = readManifest(root)
    writeManifest(root, {...m, kernels: m.kernels.filter((e) => e.release !== gone.release)})
    const r = await buildIndex(root, dbPath, FAST)
    expect(r.removed).toEqual([gone.key])
    const index = KernelIndex.open(dbPath)
    try {
      expect(index.listKernels().map(keyOf)).not.toContain(gone.key)
      const f = index.findFunc(unique)
      expect(f.kernels).toEqual([])
      expect(f.absent.map(keyOf)).not.toContain(gone.key)
      // the records of the others are intact
      expect(index.findFunc('do_sys_open').kernels.length).toBe(kernels.length - 1)
    } finally {
      index.close()
    }
    // dropped records leave no kernel set behind that names the kernel
    const db = new Database(dbPath, {readonly: true})
    const used = db.prepare('SELECT COUNT(*) AS n FROM kset').get() as {n: number}
    expect(used.n).toBeGreaterThan(0)
    db.close()
  })

  it('a corrupt .btf.tar.xz is refused with its code; kernels before it stay, nothing of it is written', async () => {
    const root = copyArchive(base)
    const dbPath = tempDb()
    const entries = readManifest(root).kernels
    // The build goes in manifest order (distro, version, arch, release): corrupt the last one with BTF.
    const victim = [...entries].filter((e) => e.path).sort((x, y) => (keyOf(x) < keyOf(y) ? -1 : 1)).pop()!
    writeFileSync(join(root, victim.path!), Buffer.from('this is not xz data at all'))
    let err: unknown
    try {
      await buildIndex(root, dbPath, FAST)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(IndexBuildError)
    expect(err).toMatchObject({code: 'INPUT_CORRUPT_XZ', kernel: keyOf(victim)})
    const index = KernelIndex.open(dbPath)
    try {
      const listed = index.listKernels().map(keyOf)
      expect(listed).not.toContain(keyOf(victim))
      expect(listed.length).toBe(entries.length - 1)
      expect(index.findFunc('do_sys_open').kernels.map(keyOf)).not.toContain(keyOf(victim))
      expect(index.findFunc('do_sys_open').kernels.length).toBe(kernels.length - 1)
    } finally {
      index.close()
    }
    // the manifest is not marked as indexed: the next ensureIndex tries again
    await expect(ensureIndex(root, {db: dbPath})).rejects.toMatchObject({code: 'INPUT_CORRUPT_XZ'})
  })

  it('a tarball that does not match the manifest checksum is ARCHIVE_CHECKSUM', async () => {
    const root = copyArchive(base)
    const withBtf = readManifest(root).kernels.filter((e) => e.path)
    const [x, y] = [withBtf[0]!, withBtf[1]!]
    writeFileSync(join(root, x.path!), (await import('node:fs')).readFileSync(join(root, y.path!)))
    await expect(buildIndex(root, tempDb(), FAST)).rejects.toMatchObject({code: 'ARCHIVE_CHECKSUM'})
  })

  it('a kernel whose transaction fails leaves the database exactly as before', async () => {
    const root = copyArchive(base)
    const dbPath = tempDb()
    const [a, b] = [kernels[0]!, kernels[1]!]
    await buildIndex(root, dbPath, FAST)
    const before = snapshot(dbPath)
    await addFixtureKernel(root, a, b.btf)
    await expect(
      buildIndex(root, dbPath, {
        ...FAST,
        beforeCommit: (k) => {
          if (k === a.key) throw new Error('simulated failure inside the transaction')
        },
      }),
    ).rejects.toThrow('simulated failure')
    expect(snapshot(dbPath)).toEqual(before)
    // and the next build does the work
    expect((await buildIndex(root, dbPath, FAST)).indexed).toEqual([a.key])
  })

  it('two builds of the same index at once: each kernel is indexed once, the result is complete', async () => {
    const root = copyArchive(base)
    const dbPath = tempDb()
    const [x, y] = await Promise.all([buildIndex(root, dbPath, FAST), buildIndex(root, dbPath, FAST)])
    expect([...x.indexed, ...y.indexed].sort()).toEqual([...kernels.map((k) => k.key), NO_BTF.key].sort())
    expect(x.unchanged + y.unchanged).toBe(kernels.length + 1)
    expect(funcKernels(dbPath, 'do_sys_open')).toEqual(kernels.map((k) => k.key).sort())
    expect((await buildIndex(root, dbPath, FAST)).indexed).toEqual([])
  })

  it('a build notices another writer between two of its kernels: the next merge re-reads the stores it had kept decoded', async () => {
    // merge.ts keeps the stores decoded from one kernel's merge to the next; here another
    // connection drops an indexed kernel in between, as a build of a manifest without it
    // would. A merge on the stale stores would bring that kernel's records back.
    const root = copyArchive(base)
    const dbPath = tempDb()
    const steps: string[] = []
    let dropped: number | undefined
    await buildIndex(root, dbPath, {
      ...FAST,
      onProgress: (p) => {
        steps.push(p.kernel)
        if (p.index !== 3) return
        const victim = steps[1]!
        expect(victim).not.toBe(NO_BTF.key)
        const other = openDb(dbPath)
        try {
          const [distro, version, arch, ...rest] = victim.split('/')
          const row = other.prepare('SELECT id FROM kernel WHERE distro = ? AND version = ? AND arch = ? AND release = ?').get(distro, version, arch, rest.join('/')) as {id: number}
          dropped = row.id
          other
            .transaction(() => {
              mergeKernel(other, row.id, null, 1)
              other.prepare('DELETE FROM kernel WHERE id = ?').run(row.id)
            })
            .immediate()
        } finally {
          other.close()
        }
      },
    })
    expect(steps.length).toBeGreaterThan(3)
    expect(dropped).toBeDefined()
    // a function only the dropped kernel has is gone (its kernel id may be reused by a
    // later kernel, which must not inherit it); the others are all there
    const full = tempDb()
    await buildIndex(base, full, FAST)
    const victim = kernels.find((k) => k.key === steps[1])!
    expect(funcKernels(dbPath, onlyIn(full, victim))).toEqual([])
    expect(funcKernels(dbPath, 'do_sys_open')).toEqual(kernels.filter((k) => k !== victim).map((k) => k.key).sort())
    // the manifest still has it: the next build indexes it again, alone
    expect((await buildIndex(root, dbPath, FAST)).indexed).toEqual([steps[1]])
  })

  it('ensureIndex builds on first use, then only when the manifest changes', async () => {
    const root = copyArchive(base)
    const first = await ensureIndex(root, {})
    expect(first.dbPath).toBe(join(root, INDEX_FILE))
    expect(first.build?.indexed.length).toBe(kernels.length + 1)
    expect((await ensureIndex(root)).build).toBeUndefined()
    const m = readManifest(root)
    writeManifest(root, {...m, kernels: m.kernels.filter((e) => e.release !== NO_BTF.release)})
    const after = await ensureIndex(root)
    expect(after.build?.removed).toEqual([NO_BTF.key])
    expect((await ensureIndex(root)).build).toBeUndefined()
  })

  it('ensureIndex notices a manifest rewritten in place with the same size and modification time', async () => {
    const root = copyArchive(base)
    const file = join(root, 'manifest.json')
    const when = 1_700_000_000 // a whole second: utimes sets it exactly
    utimesSync(file, when, when)
    await ensureIndex(root)
    expect((await ensureIndex(root)).build).toBeUndefined() // hashes the manifest once, notes its stat
    expect((await ensureIndex(root)).build).toBeUndefined() // trusts the stat
    const text = readFileSync(file, 'utf8')
    const edited = text.replace('"flavor": "cloud"', '"flavor": "cl0ud"')
    expect(edited.length).toBe(text.length)
    writeFileSync(file, edited)
    utimesSync(file, when, when)
    expect(statSync(file, {bigint: true}).mtimeNs).toBe(BigInt(when) * 1_000_000_000n)
    expect((await ensureIndex(root)).build).toBeDefined()
    // the same bytes with a new modification time: hashed again, equal, no build
    utimesSync(file, new Date(), new Date())
    expect((await ensureIndex(root)).build).toBeUndefined()
    expect((await ensureIndex(root)).build).toBeUndefined()
  })

  it('an index of another record format is rebuilt from scratch', async () => {
    const root = copyArchive(base)
    const dbPath = tempDb()
    await buildIndex(root, dbPath, FAST)
    const db = new Database(dbPath)
    db.prepare("UPDATE meta SET value = '0' WHERE key = 'record_format'").run()
    db.close()
    expect((await buildIndex(root, dbPath, FAST)).indexed.length).toBe(kernels.length + 1)
  })

  it('the index path: --db, then $KCOMPAT_INDEX, then <archive>/index.sqlite', () => {
    const saved = process.env.KCOMPAT_INDEX
    try {
      delete process.env.KCOMPAT_INDEX
      expect(resolveIndexPath('/tmp/some-archive', '/tmp/x.sqlite')).toBe('/tmp/x.sqlite')
      expect(resolveIndexPath(base)).toBe(join(base, INDEX_FILE))
      process.env.KCOMPAT_INDEX = '/tmp/env.sqlite'
      expect(resolveIndexPath(base)).toBe('/tmp/env.sqlite')
      expect(resolveIndexPath(base, '/tmp/flag.sqlite')).toBe('/tmp/flag.sqlite')
    } finally {
      if (saved === undefined) delete process.env.KCOMPAT_INDEX
      else process.env.KCOMPAT_INDEX = saved
    }
  })

  it('a missing archive directory is INDEX_NO_ARCHIVE', async () => {
    await expect(buildIndex('/nonexistent/archive', tempDb())).rejects.toMatchObject({code: 'INDEX_NO_ARCHIVE'})
    await expect(ensureIndex('/nonexistent/archive')).rejects.toMatchObject({code: 'INDEX_NO_ARCHIVE'})
  })
})
