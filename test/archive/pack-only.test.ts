/**
 * Archives that keep kernels in the BTF pack only (manifest `pack.tarballs: false`):
 * `repackModules` with `vmlinux`/`packOnly`, reading vmlinux BTF back from the pack when
 * the btfhub-layout tarball is absent, and `archive publish` writing that tarball again.
 *
 * Oracles: the fixture kernels' own BTF bytes (sha256 of the committed fixtures, which
 * the pack writer never sees again once a segment is written), and GNU tar + xz-utils
 * unpacking the published tarball (the btfhub layout other tools read).
 */
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {addKernel, readKernelBtf} from '../../src/archive/archive.js'
import {type KernelEntry, readManifest} from '../../src/archive/manifest.js'
import {archiveModuleBytes} from '../../src/archive/module-btf.js'
import {addKernelModules, repackModules} from '../../src/archive/modules.js'
import {decodePack, findGroup, rebuildVmlinux} from '../../src/archive/pack/pack.js'
import {publishArchive} from '../../src/archive/publish.js'
import {kernelFixtures, moduleFixtures} from '../helpers/fixtures.js'
import {setEnvForFile} from '../helpers/env.js'
import {requireTool, run} from '../helpers/tools.js'

const A = '6.1.0-56-cloud-amd64'
const B = '6.12.117+deb12-cloud-amd64'
const C = '6.1.0-56-cloud-arm64'
const tmp = (): string => mkdtempSync(join(tmpdir(), 'kcompat-pack-only-'))
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const fixture = (release: string): Buffer => kernelFixtures().find((k) => k.release === release)!.btf

setEnvForFile({KCOMPAT_BTF_CACHE: 'off'})

async function add(root: string, release: string): Promise<void> {
  const arch = release.endsWith('arm64') ? 'arm64' : 'x86_64'
  await addKernel(
    root,
    {release, distro: 'debian', version: '12', arch, flavor: 'cloud', btf: 'in-kernel', config: {CONFIG_DEBUG_INFO_BTF: 'y'}, source: {method: 'kernel-image'}},
    fixture(release),
  )
}

const entryOf = (root: string, release: string): KernelEntry => readManifest(root).kernels.find((k) => k.release === release)!

describe('pack-only archives', () => {
  let root: string
  beforeAll(async () => {
    root = tmp()
    await add(root, A)
    await add(root, B)
  })

  it('--vmlinux packs every kernel without a group and keeps the tarballs; --pack-only then needs no new segment', async () => {
    const r = await repackModules(root, {vmlinux: true})
    expect(r).toMatchObject({kernels: 2, modules: 0, removed: [], packOnly: false})
    const m = readManifest(root)
    expect(m.version).toBe(2)
    for (const rel of [A, B]) {
      const e = entryOf(root, rel)
      expect(e.vmlinux).toEqual({path: r.segment!.path, unit: expect.any(Number)})
      expect(existsSync(join(root, e.path!))).toBe(true)
    }
    const again = await repackModules(root, {packOnly: true})
    expect(again).toMatchObject({kernels: 0, packOnly: true, removed: []})
    const m2 = readManifest(root)
    expect(m2.version).toBe(3)
    expect(m2.pack).toEqual({segments: m.pack!.segments, tarballs: false})
    // tarballs that were there stay, and are what a read takes
    for (const rel of [A, B]) expect(existsSync(join(root, entryOf(root, rel).path!))).toBe(true)
  })

  it('a kernel added afterwards is staged as a tarball, then kept in the pack only; its BTF reads back byte for byte', async () => {
    await add(root, C)
    const staged = entryOf(root, C)
    expect(staged.vmlinux).toBeUndefined()
    expect(existsSync(join(root, staged.path!))).toBe(true)
    const r = await repackModules(root)
    expect(r).toMatchObject({kernels: 1, packOnly: true, removed: [staged.path]})
    const e = entryOf(root, C)
    expect(e.vmlinux?.path).toBe(r.segment!.path)
    expect(existsSync(join(root, e.path!))).toBe(false)
    const btf = await readKernelBtf(root, e)
    expect(sha256(btf)).toBe(sha256(fixture(C)))
    // re-adding the same kernel writes no tarball and changes nothing
    const before = readFileSync(join(root, 'manifest.json'))
    await add(root, C)
    expect(existsSync(join(root, e.path!))).toBe(false)
    expect(readFileSync(join(root, 'manifest.json')).equals(before)).toBe(true)
  })

  it("adding a kernel's modules (archive add --deb) keeps the archive pack-only and drops the kernel's staged tarball", async () => {
    const r2 = tmp()
    await add(r2, A)
    await repackModules(r2, {packOnly: true})
    await add(r2, B)
    const staged = entryOf(r2, B)
    expect(existsSync(join(r2, staged.path!))).toBe(true)
    const mods = new Map(moduleFixtures().filter((m) => m.release === B).map((m) => [m.module, m.btf]))
    expect(mods.size).toBeGreaterThan(0)
    const e = await addKernelModules(r2, staged, mods)
    const m = readManifest(r2)
    expect(m.pack?.tarballs).toBe(false)
    expect(e.vmlinux?.path).toBe(e.modules?.path)
    expect(existsSync(join(r2, staged.path!))).toBe(false)
    expect(sha256(await readKernelBtf(r2, entryOf(r2, B)))).toBe(sha256(fixture(B)))
    const back = (await archiveModuleBytes(r2, entryOf(r2, B)))!.bytes
    for (const [name, bytes] of mods) expect(sha256(back.get(name)!), name).toBe(sha256(bytes))
  })

  it('reads through the raw BTF cache: the first read rebuilds from the pack, the next one takes the cached copy', async () => {
    const cache = tmp()
    process.env.KCOMPAT_BTF_CACHE = cache
    try {
      const e = entryOf(root, C)
      const first = await readKernelBtf(root, e)
      expect(existsSync(join(cache, `${e.sha256}.btf`))).toBe(true)
      // a cached copy that is not the BTF is never taken: its size no longer matches the manifest
      writeFileSync(join(cache, `${e.sha256}.btf`), Buffer.from('not btf'))
      expect(sha256(await readKernelBtf(root, e))).toBe(sha256(first))
      expect(sha256(first)).toBe(sha256(fixture(C)))
    } finally {
      process.env.KCOMPAT_BTF_CACHE = 'off'
    }
  })

  it("caches each segment's expanded body: a later decode reads it, a damaged one is replaced", async () => {
    const cache = tmp()
    process.env.KCOMPAT_BTF_CACHE = cache
    try {
      const segments = readManifest(root).pack!.segments
      const first = await decodePack(root, segments)
      const bodies = segments.map((s) => join(cache, `${s.sha256}.kcbody`))
      for (const b of bodies) expect(existsSync(b)).toBe(true)
      // the body is the xz stream after the 12-byte header, as xz-utils expands it, behind a copy of that header
      const seg0 = readFileSync(join(root, segments[0]!.path))
      expect(readFileSync(bodies[0]!).subarray(0, 12).equals(seg0.subarray(0, 12))).toBe(true)
      if (requireTool('xz', 'expanding a segment')) expect(readFileSync(bodies[0]!).subarray(12).equals(run('xz', ['-dc'], {input: seg0.subarray(12)}))).toBe(true)
      writeFileSync(bodies[0]!, readFileSync(bodies[0]!).subarray(0, 1000))
      const again = await decodePack(root, segments)
      expect(again.tables.recordCount).toBe(first.tables.recordCount)
      expect(readFileSync(bodies[0]!).length).toBeGreaterThan(1000)
      const e = entryOf(root, C)
      expect(sha256(rebuildVmlinux(again, findGroup(again, e, e.vmlinux!.path, e.vmlinux!.unit)))).toBe(sha256(fixture(C)))
    } finally {
      process.env.KCOMPAT_BTF_CACHE = 'off'
    }
  })

  it('archive publish writes the btfhub-layout tarball of a pack-only kernel: tar and xz unpack the kernel BTF', async () => {
    if (!requireTool('tar', 'unpacking a published tarball') || !requireTool('xz', 'unpacking a published tarball')) return
    const out = tmp()
    const p = await publishArchive(root, out)
    expect(p.kernels).toBe(3)
    const e = entryOf(root, C)
    const dir = tmp()
    run('tar', ['-xJf', join(out, e.path!), '-C', dir])
    expect(sha256(readFileSync(join(dir, `${C}.btf`)))).toBe(sha256(fixture(C)))
    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8')
    expect(sums).toContain(`${sha256(readFileSync(join(out, e.path!)))}  ${e.path}\n`)
  })

  it('a damaged or missing segment is a clear error, never wrong BTF', async () => {
    // a copy: a process decodes an archive's pack once, so the damage must be seen first
    const copy = tmp()
    cpSync(root, copy, {recursive: true})
    const e = entryOf(copy, C)
    const seg = join(copy, e.vmlinux!.path)
    const bad = readFileSync(seg)
    bad[bad.length - 100]! ^= 0xff
    writeFileSync(seg, bad)
    await expect(readKernelBtf(copy, e)).rejects.toMatchObject({code: 'ARCHIVE_CHECKSUM'})
    rmSync(seg)
    await expect(readKernelBtf(copy, e)).rejects.toMatchObject({code: 'ARCHIVE_MISSING_FILE', message: expect.stringContaining(e.vmlinux!.path)})
  })
})
