/**
 * Published archives: `archive publish` writes an archive (two real kernels of the
 * shipped archive, one with module BTF) as static files; a loopback HTTP server serves
 * them; `syncRemote` takes SHA256SUMS, the manifest and the index first, and each
 * kernel's BTF on first use. Oracles: `sha256sum -c` over the published tree, the
 * shipped files' own bytes, and the server's request log (what was fetched, when).
 */
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createHash} from 'node:crypto'
import {spawnSync} from 'node:child_process'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {archiveKernels, readKernelBtf} from '../../src/archive/archive.js'
import {type KernelEntry, type Manifest, readManifest, writeManifest} from '../../src/archive/manifest.js'
import {readModuleBtfs} from '../../src/archive/modules.js'
import {publishArchive} from '../../src/archive/publish.js'
import {remoteCacheDir, syncRemote} from '../../src/archive/remote.js'
import {kernelBtfFromArchive} from '../../src/core/target.js'
import {ensureIndex} from '../../src/store/index.js'
import {type StaticSite as Static, serveSite as serve} from '../helpers/static-site.js'
import {requireTool} from '../helpers/tools.js'

const SHIPPED = join(import.meta.dirname, '..', '..', 'archive')
const RELEASES = ['6.1.0-50-s390x', '6.1.0-56-cloud-amd64']
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

let work: string
let src: string
let pub: string
let entries: KernelEntry[]

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kcompat-remote-'))
  src = join(work, 'archive')
  const shipped = readManifest(SHIPPED)
  entries = shipped.kernels.filter((k) => RELEASES.includes(k.release))
  expect(entries.length).toBe(2)
  for (const p of [...(shipped.pack?.segments.map((x) => x.path) ?? []), ...entries.flatMap((k) => [k.path, k.modules?.path])]) {
    if (!p || existsSync(join(src, p))) continue
    mkdirSync(join(src, p, '..'), {recursive: true})
    copyFileSync(join(SHIPPED, p), join(src, p))
  }
  writeManifest(src, {version: shipped.version, pack: shipped.pack, kernels: entries} as Manifest)
  const {dbPath} = await ensureIndex(src, {db: join(work, 'index.sqlite')})
  pub = join(work, 'pub')
  await publishArchive(src, pub, {index: dbPath})
})

afterAll(() => {
  if (work) rmSync(work, {recursive: true, force: true})
})

describe('archive publish', () => {
  it('writes manifest, index, tarballs and a SHA256SUMS that sha256sum -c accepts', () => {
    const files = readFileSync(join(pub, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => l.slice(66))
    const segments = readManifest(src).pack?.segments.map((x) => x.path) ?? []
    const expected = [...new Set(['index.sqlite', 'manifest.json', ...segments, ...entries.flatMap((k) => [k.path!, k.modules?.path].filter((p): p is string => !!p))])]
    expect(files.sort()).toEqual(expected.sort())
    expect(readFileSync(join(pub, 'manifest.json'))).toEqual(readFileSync(join(src, 'manifest.json')))
    if (requireTool('sha256sum', 'published archive checksums')) {
      const r = spawnSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], {cwd: pub, encoding: 'utf8'})
      expect(r.status, r.stdout + r.stderr).toBe(0)
      expect(r.stdout.trim().split('\n').length).toBe(expected.length)
    }
    expect(readdirSync(pub).some((n) => n.includes('.tmp-'))).toBe(false)
  })

  it('refuses to publish an archive into itself', async () => {
    await expect(publishArchive(src, src)).rejects.toThrow(expect.objectContaining({code: 'REMOTE_OUT_IS_ARCHIVE'}))
  })
})

describe('archive sync --from URL', () => {
  let srv: Static
  beforeAll(async () => {
    srv = await serve(pub)
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('takes SHA256SUMS, manifest and index first, and no BTF', async () => {
    const dir = join(work, 'lazy')
    srv.log.length = 0
    const r = await syncRemote(srv.url, {dir})
    expect(srv.log).toEqual(['SHA256SUMS', 'manifest.json', 'index.sqlite'])
    expect(r).toMatchObject({kernels: 2, local: 0, index: true, dropped: []})
    expect(readFileSync(join(dir, 'manifest.json'))).toEqual(readFileSync(join(pub, 'manifest.json')))
    expect(existsSync(join(dir, 'debian'))).toBe(false)
    // the published index is current for the manifest: queries need no BTF
    const e = await ensureIndex(dir)
    expect(e.build).toBeUndefined()
    expect(srv.log.length).toBe(3)
  })

  it("fetches one kernel's BTF on first use, checked, and keeps it", async () => {
    const dir = join(work, 'lazy')
    const entry = readManifest(dir).kernels.find((k) => k.release === '6.1.0-50-s390x')!
    srv.log.length = 0
    const btf = await readKernelBtf(dir, entry, {cache: false})
    expect(srv.log).toEqual([entry.path])
    expect(sha(btf)).toBe(entry.sha256)
    expect(readFileSync(join(dir, entry.path!))).toEqual(readFileSync(join(SHIPPED, entry.path!)))
    await readKernelBtf(dir, entry, {cache: false})
    expect(srv.log).toEqual([entry.path]) // not fetched again
    expect(readdirSync(join(dir, entry.path!, '..'))).toEqual([`${entry.release}.btf.tar.xz`])
  })

  it('module BTF too, on first use', async () => {
    const dir = join(work, 'lazy')
    const entry = readManifest(dir).kernels.find((k) => k.release === '6.1.0-56-cloud-amd64')!
    srv.log.length = 0
    const mods = await readModuleBtfs(dir, entry)
    // the pack's segments, then the kernel's vmlinux BTF (the modules' base) unless fetched before
    const segments = readManifest(dir).pack?.segments.map((x) => x.path) ?? []
    expect(srv.log.slice(0, segments.length)).toEqual(segments)
    expect(srv.log.slice(segments.length).every((p) => p === entry.path)).toBe(true)
    expect(srv.log).toContain(entry.modules!.path)
    expect(mods.size).toBe(entry.modules!.count)
    expect(readFileSync(join(dir, entry.modules!.path!))).toEqual(readFileSync(join(SHIPPED, entry.modules!.path!)))
  }, 600_000) // decodes the whole pack and rebuilds the kernel's 1,121 modules

  it('a tarball that differs from SHA256SUMS (tampered or truncated): REMOTE_CHECKSUM, nothing kept', async () => {
    const dir = join(work, 'lazy-bad')
    await syncRemote(srv.url, {dir})
    const entry = readManifest(dir).kernels.find((k) => k.release === '6.1.0-56-cloud-amd64')!
    const good = readFileSync(join(pub, entry.path!))
    for (const bad of [Buffer.concat([good.subarray(0, 1000), Buffer.from([good[1000]! ^ 1]), good.subarray(1001)]), good.subarray(0, good.length - 4096)]) {
      srv.override.set(entry.path!, bad)
      await expect(readKernelBtf(dir, entry, {cache: false})).rejects.toMatchObject({code: 'REMOTE_CHECKSUM'})
      expect(readdirSync(join(dir, entry.path!, '..'))).toEqual([])
    }
    srv.override.clear()
    expect(sha(await readKernelBtf(dir, entry, {cache: false}))).toBe(entry.sha256)
  })

  it("a tarball whose BTF is not the manifest's: REMOTE_CHECKSUM, nothing kept", async () => {
    // a publisher whose manifest and tarballs disagree, with SHA256SUMS consistent with both
    const pub2 = join(work, 'pub2')
    spawnSync('cp', ['-r', pub, pub2])
    const m = JSON.parse(readFileSync(join(pub2, 'manifest.json'), 'utf8')) as Manifest
    const s390 = m.kernels.find((k) => k.release === '6.1.0-50-s390x')!
    const amd = m.kernels.find((k) => k.release === '6.1.0-56-cloud-amd64')!
    copyFileSync(join(pub, amd.path!), join(pub2, s390.path!)) // another kernel's tarball under this name
    const manifest = readFileSync(join(pub2, 'manifest.json'))
    const sums = readFileSync(join(pub2, 'SHA256SUMS'), 'utf8')
      .split('\n')
      .map((l) => (l.endsWith(`  ${s390.path}`) ? `${sha(readFileSync(join(pub2, s390.path!)))}  ${s390.path}` : l))
    writeFileSync(join(pub2, 'SHA256SUMS'), sums.join('\n'))
    expect(sha(manifest)).toBe(sha(readFileSync(join(pub, 'manifest.json'))))
    const srv2 = await serve(pub2)
    try {
      const dir = join(work, 'lazy-2')
      await syncRemote(srv2.url, {dir})
      await expect(readKernelBtf(dir, readManifest(dir).kernels.find((k) => k.release === s390.release)!, {cache: false})).rejects.toMatchObject({
        code: 'REMOTE_CHECKSUM',
        message: expect.stringContaining('manifest'),
      })
      expect(readdirSync(join(dir, s390.path!, '..'))).toEqual([])
    } finally {
      await srv2.close()
    }
  })

  it('a manifest that differs from SHA256SUMS is refused before anything is written', async () => {
    const dir = join(work, 'lazy-m')
    const m = readFileSync(join(pub, 'manifest.json'), 'utf8')
    srv.override.set('manifest.json', Buffer.from(m.replace('"s390x"', '"s390"')))
    try {
      await expect(syncRemote(srv.url, {dir})).rejects.toMatchObject({code: 'REMOTE_CHECKSUM'})
      expect(existsSync(join(dir, 'manifest.json'))).toBe(false)
      expect(existsSync(join(dir, 'remote.json'))).toBe(false)
    } finally {
      srv.override.clear()
    }
  })

  it('a server without a published archive, and a directory with an archive of its own, are refused', async () => {
    srv.override.set('SHA256SUMS', 404)
    try {
      await expect(syncRemote(srv.url, {dir: join(work, 'lazy-404')})).rejects.toMatchObject({code: 'REMOTE_NOT_PUBLISHED'})
    } finally {
      srv.override.clear()
    }
    await expect(syncRemote(srv.url, {dir: src})).rejects.toMatchObject({code: 'REMOTE_TARGET_NOT_EMPTY'})
  })

  it('a re-sync drops local copies of tarballs the publisher changed', async () => {
    const dir = join(work, 'lazy')
    const entry = readManifest(dir).kernels.find((k) => k.release === '6.1.0-50-s390x')!
    expect(existsSync(join(dir, entry.path!))).toBe(true)
    const sums = readFileSync(join(pub, 'SHA256SUMS'), 'utf8')
    srv.override.set('SHA256SUMS', Buffer.from(sums.replace(new RegExp(`^[0-9a-f]{64}(?=  ${entry.path!.replace(/[.+]/g, '\\$&')}$)`, 'm'), '0'.repeat(64))))
    try {
      const r = await syncRemote(srv.url, {dir})
      expect(r.dropped).toEqual([entry.path])
      expect(existsSync(join(dir, entry.path!))).toBe(false)
    } finally {
      srv.override.clear()
    }
    await syncRemote(srv.url, {dir})
  })

  it('KCOMPAT_REMOTE: kernels the default archive lacks come from the remote, fetched on use', async () => {
    const saved = {archive: process.env.KCOMPAT_ARCHIVE, remote: process.env.KCOMPAT_REMOTE, cache: process.env.XDG_CACHE_HOME}
    // the default archive holds the s390x kernel only
    const local = join(work, 'local')
    mkdirSync(join(local, entries[0]!.path!, '..'), {recursive: true})
    const s390 = entries.find((k) => k.release === '6.1.0-50-s390x')!
    copyFileSync(join(SHIPPED, s390.path!), join(local, s390.path!))
    writeManifest(local, {version: 1, kernels: [s390]})
    process.env.KCOMPAT_ARCHIVE = local
    process.env.KCOMPAT_REMOTE = srv.url
    process.env.XDG_CACHE_HOME = join(work, 'xdg')
    try {
      expect(() => archiveKernels(local)).toThrow(expect.objectContaining({code: 'REMOTE_NOT_SYNCED'}))
      expect(() => archiveKernels(local, '6.1.0-56-cloud-amd64')).toThrow(expect.objectContaining({code: 'REMOTE_NOT_SYNCED'}))
      // a release the default archive has needs no remote
      expect(archiveKernels(local, '6.1.0-50-s390x').map((k) => k.release)).toEqual(['6.1.0-50-s390x'])
      const r = await syncRemote(srv.url)
      expect(r.dir).toBe(remoteCacheDir(srv.url))
      expect(archiveKernels(local).map((k) => k.release).sort()).toEqual(RELEASES)
      // another archive given explicitly is not widened
      expect(archiveKernels(src).length).toBe(2)
      expect(archiveKernels(join(work, 'lazy')).length).toBe(2)
      srv.log.length = 0
      const k = await kernelBtfFromArchive('6.1.0-56-cloud-amd64', {noModules: true})
      expect(k.btf.types.length).toBeGreaterThan(1000)
      expect(srv.log).toEqual([entries.find((e) => e.release === '6.1.0-56-cloud-amd64')!.path])
      expect(existsSync(join(r.dir, srv.log[0]!))).toBe(true)
      // the default archive's own kernel is read from it, not fetched
      srv.log.length = 0
      await kernelBtfFromArchive('6.1.0-50-s390x', {noModules: true})
      expect(srv.log).toEqual([])
    } finally {
      for (const [k, v] of [['KCOMPAT_ARCHIVE', saved.archive], ['KCOMPAT_REMOTE', saved.remote], ['XDG_CACHE_HOME', saved.cache]] as const) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  })
})
