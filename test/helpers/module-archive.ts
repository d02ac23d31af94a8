/**
 * An archive of the fixture kernels that have module fixtures (Debian 6.1 and 6.12
 * cloud-amd64), each with its modules' real split BTF (nft_ct, nf_conntrack_h323)
 * stored through the archive's own module storage (src/archive/modules.ts). Built once
 * per test process; callers must not modify it.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {addKernel} from '../../src/archive/archive.js'
import {readManifest} from '../../src/archive/manifest.js'
import {addKernelModules} from '../../src/archive/modules.js'
import {type ModuleFixture, kernelFixtures, moduleFixtures} from './fixtures.js'
import {configFacts} from '../store/helpers.js'

export interface ModuleArchive {
  root: string
  /** release → its module fixtures, by module name order. */
  modules: Map<string, ModuleFixture[]>
}

const built = new Map<'pack' | 'tar', Promise<ModuleArchive>>()

/**
 * The archive, its modules stored in the BTF pack (the default) or, with `tar`, in
 * the legacy per-kernel `.modules.tar.xz` layout (each is built once per process).
 */
export function moduleArchive(format: 'pack' | 'tar' = 'pack'): Promise<ModuleArchive> {
  let p = built.get(format)
  if (p) return p
  p = (async () => {
    const root = mkdtempSync(join(tmpdir(), 'kcompat-module-archive-'))
    const modules = new Map<string, ModuleFixture[]>()
    for (const m of moduleFixtures()) modules.set(m.release, [...(modules.get(m.release) ?? []), m])
    for (const list of modules.values()) list.sort((a, b) => (a.module < b.module ? -1 : 1))
    for (const k of kernelFixtures().filter((x) => modules.has(x.release))) {
      await addKernel(
        root,
        {
          release: k.release,
          distro: 'debian',
          version: '12',
          arch: 'x86_64',
          flavor: 'cloud',
          btf: 'in-kernel',
          config: configFacts(k.release),
          source: {method: 'kernel-image', package: `linux-image-${k.release}`},
          added: '2026-01-01',
        },
        k.btf,
      )
      const entry = readManifest(root).kernels.find((e) => e.release === k.release)!
      await addKernelModules(root, entry, new Map(modules.get(k.release)!.map((m) => [m.module, m.btf])), {format})
    }
    return {root, modules}
  })()
  built.set(format, p)
  return p
}
