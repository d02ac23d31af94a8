/**
 * `archive merge` on small archives of real kernel BTF (the committed Debian fixtures and
 * their modules' real split BTF): what is copied, which entry wins, conflicts (BTF and
 * module BTF), bad inputs, a tarball that does not match its manifest — and that a refused
 * merge writes nothing. Expected bytes are the fixtures' own (sha256 by the system tool).
 */
import {cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {addKernel, readKernelBtf} from '../../src/archive/archive.js'
import {type KernelEntry, readManifest} from '../../src/archive/manifest.js'
import {mergeArchives} from '../../src/archive/merge.js'
import {addKernelModules, readModuleBtfs} from '../../src/archive/modules.js'
import {kernelFixtures, moduleFixtures} from '../helpers/fixtures.js'
import {run} from '../helpers/tools.js'

const kernels = kernelFixtures().filter((k) => k.release.endsWith('amd64'))
const modules = moduleFixtures()
const tmp = (): string => mkdtempSync(join(tmpdir(), 'kcompat-merge-'))
const sha = (file: string): string => run('sha256sum', [file]).toString().split(' ')[0]!

async function archiveOf(list: {release: string; btf: Uint8Array; withModules?: boolean}[]): Promise<string> {
  const root = tmp()
  for (const k of list) {
    await addKernel(root, {release: k.release, distro: 'ubuntu', version: '22.04', arch: 'x86_64', flavor: 'generic', btf: 'in-kernel', config: null, source: {method: 'kernel-image'}, added: '2026-01-01'}, k.btf)
    if (k.withModules) {
      const e = readManifest(root).kernels.find((x) => x.release === k.release)!
      await addKernelModules(root, e, new Map(modules.filter((m) => m.release === k.release).map((m) => [m.module, m.btf])))
    }
  }
  return root
}

describe.skipIf(kernels.length < 2 || modules.length === 0)('archive merge', () => {
  const [a, b] = kernels as [(typeof kernels)[0], (typeof kernels)[0]]
  const keyA = `ubuntu/22.04/x86_64/${a.release}`
  const keyB = `ubuntu/22.04/x86_64/${b.release}`
  // built once (each BTF tarball is an xz -9 of megabytes), copied where a test changes one
  let aMods = ''
  let aBare = ''
  let bOnly = ''
  let aOneMod = '' // a's BTF with one module fewer
  let bAsA = '' // a's BTF filed under b's release
  const copy = (dir: string): string => {
    const to = tmp()
    cpSync(dir, to, {recursive: true})
    return to
  }
  beforeAll(async () => {
    aMods = await archiveOf([{release: a.release, btf: a.btf, withModules: true}])
    aBare = await archiveOf([{release: a.release, btf: a.btf}])
    bOnly = await archiveOf([{release: b.release, btf: b.btf}])
    bAsA = await archiveOf([{release: b.release, btf: a.btf}])
    aOneMod = copy(aBare)
    const mod = modules.find((m) => m.release === a.release)!
    await addKernelModules(aOneMod, readManifest(aOneMod).kernels[0]!, new Map([[mod.module, mod.btf]]))
  }, 600_000)

  it('copies every kernel and its module BTF; the output equals the inputs; a second merge adds nothing', async () => {
    const out = tmp()
    const r = await mergeArchives(out, [aMods, bOnly])
    expect(r.added.map((x) => x.key).sort()).toEqual([keyA, keyB].sort())
    const m = readManifest(out)
    expect(m.kernels).toHaveLength(2)
    for (const [src, k] of [[aMods, a], [bOnly, b]] as const) {
      const e = m.kernels.find((x) => x.release === k.release)!
      expect(e).toEqual(readManifest(src).kernels[0])
      expect(sha(join(out, e.path!))).toBe(sha(join(src, e.path!)))
      expect(Buffer.compare(Buffer.from(await readKernelBtf(out, e, {cache: false})), k.btf)).toBe(0)
    }
    const got = await readModuleBtfs(out, m.kernels.find((x) => x.release === a.release)!)
    for (const f of modules.filter((x) => x.release === a.release)) expect(Buffer.compare(Buffer.from(got.get(f.module)!), f.btf)).toBe(0)
    const again = await mergeArchives(out, [aMods, bOnly])
    expect(again.added).toEqual([])
    expect(again.same.sort()).toEqual([keyA, keyB].sort())
  })

  it('the same kernel with and without module BTF: the one with it wins, whatever the order', async () => {
    for (const order of [[aBare, aMods], [aMods, aBare]]) {
      const out = tmp()
      await mergeArchives(out, order)
      expect(readManifest(out).kernels[0]!.modules).toEqual(readManifest(aMods).kernels[0]!.modules)
    }
  })

  it('conflicts (other BTF, other module BTF) are all listed and nothing is written; an existing output keeps its manifest', async () => {
    const out = tmp()
    const err = await mergeArchives(out, [aMods, bOnly, aOneMod, bAsA]).catch((x: unknown) => x)
    expect(err).toMatchObject({code: 'MERGE_CONFLICT'})
    expect((err as {conflicts: {key: string}[]}).conflicts.map((c) => c.key).sort()).toEqual([keyA, keyB].sort())
    expect(readdirSync(out)).toEqual([])
    // into an archive that holds one of them: refused too, its manifest byte for byte as it was
    const target = copy(aMods)
    const before = readFileSync(join(target, 'manifest.json'))
    await expect(mergeArchives(target, [aOneMod])).rejects.toMatchObject({code: 'MERGE_CONFLICT'})
    expect(Buffer.compare(readFileSync(join(target, 'manifest.json')), before)).toBe(0)
  })

  it('bad inputs: no archive, the output as an input, a tarball that does not match its manifest (nothing written)', async () => {
    await expect(mergeArchives(tmp(), [tmp()])).rejects.toMatchObject({code: 'MERGE_NO_INPUT'})
    await expect(mergeArchives(aBare, [aBare])).rejects.toMatchObject({code: 'MERGE_SAME_DIR'})
    await expect(mergeArchives(tmp(), [])).rejects.toMatchObject({code: 'MERGE_NO_INPUT'})
    const two = copy(bOnly)
    const e = readManifest(two).kernels[0] as KernelEntry
    writeFileSync(join(two, e.path!), readFileSync(join(aBare, readManifest(aBare).kernels[0]!.path!))) // another kernel's tarball
    const out = tmp()
    await expect(mergeArchives(out, [aBare, two])).rejects.toMatchObject({code: expect.stringMatching(/^ARCHIVE_(CHECKSUM|BAD_TARBALL)$/)})
    expect(run('find', [out, '-type', 'f']).toString()).toBe('') // the tarball copied before the bad one is gone again
  })
})
