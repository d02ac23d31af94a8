/**
 * `kcompat btf dump --kernel R [--module M]` on an archive holding real Debian kernels
 * (6.1 and 6.12 cloud amd64) and the BTF of their real modules, against bpftool:
 * `bpftool btf dump file vmlinux.btf` and `bpftool -B vmlinux.btf btf dump file
 * module.btf`, raw and C, byte for byte. The module BTF is put in the archive as
 * llvm-objcopy takes it from the `.ko` (so this test does not rest on kcompat's extraction).
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {addKernel} from '../../src/archive/archive.js'
import {addKernelModules} from '../../src/archive/modules.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {firstDifference, requireTool, run} from '../helpers/tools.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const KDIR = join(FIXTURES, 'kernels')
const MODULES: Record<string, string[]> = {
  '6.1.0-56-cloud-amd64': ['nf_conntrack_h323', 'nft_ct'],
  '6.12.117+deb12-cloud-amd64': ['nft_ct'],
}
const tmp = (): string => mkdtempSync(join(tmpdir(), 'kcompat-dump-module-'))

function kcompat(args: string[]): {stdout: string; stderr: string; status: number | null} {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 30})
  return {stdout: r.stdout, stderr: r.stderr, status: r.status}
}

const ok = (): boolean => ['bpftool', 'llvm-objcopy', 'xz'].every((t) => requireTool(t, 'btf dump --module'))

describe('btf dump --kernel/--module', () => {
  const root = tmp()
  const files = new Map<string, string>() // release or release/module → raw BTF file for bpftool
  beforeAll(async () => {
    if (!ok()) return
    for (const k of kernelFixtures().filter((f) => f.release in MODULES)) {
      const r = await addKernel(
        root,
        {
          release: k.release, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'cloud', btf: 'in-kernel',
          config: {CONFIG_DEBUG_INFO_BTF_MODULES: 'y'}, source: {method: 'kernel-image'},
        },
        k.btf,
      )
      files.set(k.release, k.path)
      const mods = new Map<string, Uint8Array>()
      for (const m of MODULES[k.release]!) {
        const ko = join(tmp(), `${m}.ko`)
        writeFileSync(ko, run('xz', ['-dc', join(KDIR, `${k.release}__${m}.ko.xz`)]))
        const btf = join(tmp(), `${m}.btf`)
        run('llvm-objcopy', ['--dump-section', `.BTF=${btf}`, ko, join(tmp(), 'discard.o')])
        files.set(`${k.release}/${m}`, btf)
        mods.set(m, run('cat', [btf]))
      }
      await addKernelModules(root, r.entry, mods)
    }
  }, 600_000)

  for (const [release, modules] of Object.entries(MODULES)) {
    for (const module of modules) {
      for (const format of ['raw', 'c']) {
        it(`${release} ${module} --format ${format} equals bpftool -B`, () => {
          if (!ok()) return
          const got = kcompat(['btf', 'dump', '--archive', root, '--kernel', release, '--module', module, '--format', format])
          expect(got.stderr).toBe('')
          expect(got.status).toBe(0)
          const want = run('bpftool', ['-B', files.get(release)!, 'btf', 'dump', 'file', files.get(`${release}/${module}`)!, 'format', format]).toString()
          expect(firstDifference(got.stdout, want)).toBeUndefined()
        })
      }
    }
    it(`${release} without --module equals bpftool's dump of its vmlinux BTF`, () => {
      if (!ok()) return
      const got = kcompat(['btf', 'dump', '--archive', root, '--kernel', release])
      expect(got.status).toBe(0)
      expect(firstDifference(got.stdout, run('bpftool', ['btf', 'dump', 'file', files.get(release)!, 'format', 'raw']).toString())).toBeUndefined()
    })
  }

  it('an unknown module or kernel is an error with near names; bad flag combinations are usage errors', () => {
    if (!ok()) return
    const m = kcompat(['btf', 'dump', '--archive', root, '--kernel', '6.1.0-56-cloud-amd64', '--module', 'nft_cx'])
    expect(m.status).toBe(1)
    expect(m.stderr).toMatch(/^kcompat: error \[MODULE_NOT_FOUND\]: .*nft_ct/)
    const k = kcompat(['btf', 'dump', '--archive', root, '--kernel', '6.1.0-56-cloud-amd4', '--module', 'nft_ct'])
    expect(k.status).toBe(1)
    expect(k.stderr).toMatch(/^kcompat: error \[ARCHIVE_UNKNOWN_KERNEL\]: .*6\.1\.0-56-cloud-amd64/)
    expect(kcompat(['btf', 'dump', '--archive', root, '--module', 'nft_ct']).status).toBe(2)
    expect(kcompat(['btf', 'dump', files.get('6.1.0-56-cloud-amd64')!, '--kernel', '6.1.0-56-cloud-amd64']).status).toBe(2)
    expect(kcompat(['btf', 'dump', '--kernel', '6.1.0-56-cloud-amd64', '--base-btf', files.get('6.1.0-56-cloud-amd64')!]).status).toBe(2)
  })
})
