/**
 * Real-world objects: every CO-RE object embedded in Debian's libbpf-tools binaries,
 * relocated by kcompat and by libbpf (the harness) on every fixture kernel, and
 * minimized by kcompat and by bpftool. Skipped (with a reason) when the package is not
 * installed.
 */
import {createHash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {describe, expect, it} from 'vitest'
import type {Btf} from '../../src/btf/btf.js'
import {parseBtf} from '../../src/btf/decode.js'
import {loadBpfObject} from '../../src/core/object.js'
import {relocateObject} from '../../src/core/relocate.js'
import {minimizeBtf} from '../../src/minimize/btfgen.js'
import {FIXTURES, kernelFixtures, scratchDir} from '../helpers/fixtures.js'
import {findTool, run} from '../helpers/tools.js'
import {expectAgreement} from '../harness/compare.js'
import {altLibbpf, requireHarness, runHarness} from '../harness/libbpf.js'
import {type ToolObject, libbpfToolsObjects} from '../harness/libbpf-tools.js'

function distinct(objs: ToolObject[]): ToolObject[] {
  const seen = new Set<string>()
  return objs.filter((o) => {
    const h = createHash('sha256').update(readFileSync(o.path)).digest('hex')
    if (seen.has(h)) return false
    seen.add(h)
    return true
  })
}

const tools = distinct(libbpfToolsObjects())
// Not a reference tool but test data: a printed skip everywhere, CI included, until
// .ci/run installs the package.
if (tools.length === 0) console.warn('skipping libbpf-tools objects: the libbpf-tools package is not installed (apt-get install libbpf-tools)')
const haveHarness = tools.length > 0 && requireHarness('libbpf-tools objects vs libbpf')

interface Kernel {
  release: string
  path: string
  btf: Btf
  kconfig: string
}
const kernels: Kernel[] = kernelFixtures().map((k) => {
  const kconfig = join(scratchDir(), `${k.release}.tools.config`)
  writeFileSync(kconfig, decompressSync(readFileSync(join(FIXTURES, 'kernels', `${k.release}.config.xz`))))
  return {release: k.release, path: k.path, btf: parseBtf(k.btf), kconfig}
})

describe.skipIf(!haveHarness)('libbpf-tools objects: kcompat relocates as libbpf does', () => {
  for (const k of kernels) {
    it(`${tools.length} objects on ${k.release}`, async () => {
      let relos = 0
      const counts: Record<string, number> = {}
      for (const t of tools) {
        const obj = await loadBpfObject(t.path)
        if (obj.relos.length === 0) continue
        const kallsyms = join(scratchDir(), `${t.tool}.kallsyms`)
        writeFileSync(kallsyms, obj.elf.symbols().filter((s) => s.shndx === 0 && s.name).map((s) => `ffffffff81000000 D ${s.name}\n`).join(''))
        const ours = relocateObject(obj, {vmlinux: k.btf})
        const theirs = runHarness(t.path, k.path, {kconfig: k.kconfig, kallsyms})
        try {
          expectAgreement(ours, theirs.decisions, theirs.log)
          const other = altLibbpf()
          if (other) {
            const r = other.run(t.path, k.path, {kconfig: k.kconfig, kallsyms})
            expectAgreement(relocateObject(obj, {vmlinux: k.btf}, {libbpf: Number(other.version.split('.')[1]) >= 6 ? '1.6' : '1.1'}), r.decisions, r.log)
          }
        } catch (e) {
          throw new Error(`${t.tool}: ${(e as Error).message}`)
        }
        relos += ours.length
        if (process.env.CORE_DEBUG) for (const r of ours) counts[r.status] = (counts[r.status] ?? 0) + 1
      }
      if (process.env.CORE_DEBUG) console.log(k.release, relos, counts)
      expect(relos).toBeGreaterThan(100)
    })
  }
})

describe.skipIf(tools.length === 0 || !findTool('bpftool'))('libbpf-tools objects: btfgen output equals bpftool\'s', () => {
  for (const k of kernels) {
    it(`all objects at once on ${k.release}`, async () => {
      const withRelos = []
      for (const t of tools) if ((await loadBpfObject(t.path)).relos.length > 0) withRelos.push(t)
      const out = join(scratchDir(), `tools-min-${k.release}.btf`)
      run('bpftool', ['gen', 'min_core_btf', k.path, out, ...withRelos.map((t) => t.path)])
      const objs = await Promise.all(withRelos.map((t) => loadBpfObject(t.path)))
      const r = minimizeBtf(k.btf, objs)
      expect(r.failures).toEqual([])
      expect(Buffer.from(r.bytes).equals(readFileSync(out))).toBe(true)
    })
  }
})

/**
 * The archived kernels (when the archive has any), one per architecture: 32-bit
 * pointers (i686), big-endian BTF (s390x), ppc64le, arm64, x86_64. The minimized BTF is
 * compared with bpftool's in little-endian byte order (bpftool writes the host's).
 */
describe.skipIf(tools.length === 0)('libbpf-tools objects on one archived kernel per architecture', async () => {
  const {resolveArchiveDir, readKernelBtf} = await import('../../src/archive/archive.js')
  const {archivedKernels} = await import('../../src/minimize/archive.js')
  const root = resolveArchiveDir()
  const perArch = new Map<string, ReturnType<typeof archivedKernels>[number]>()
  for (const e of archivedKernels(root)) if (!perArch.has(e.arch)) perArch.set(e.arch, e)
  for (const entry of perArch.values()) {
    it(`${entry.release} (${entry.arch})`, async () => {
      const raw = await readKernelBtf(root, entry)
      const path = join(scratchDir(), `${entry.release}.archived.btf`)
      writeFileSync(path, raw)
      const btf = parseBtf(raw)
      const objs = []
      for (const t of tools) {
        const obj = await loadBpfObject(t.path)
        if (obj.relos.length === 0) continue
        objs.push(obj)
        if (!haveHarness) continue
        const kallsyms = join(scratchDir(), `${t.tool}.kallsyms`)
        writeFileSync(kallsyms, obj.elf.symbols().filter((s) => s.shndx === 0 && s.name).map((s) => `ffffffff81000000 D ${s.name}\n`).join(''))
        const theirs = runHarness(t.path, path, {kallsyms})
        try {
          expectAgreement(relocateObject(obj, {vmlinux: btf}), theirs.decisions, theirs.log)
        } catch (e) {
          throw new Error(`${t.tool}: ${(e as Error).message}`)
        }
      }
      if (!findTool('bpftool')) return
      const out = join(scratchDir(), `tools-min-${entry.release}.btf`)
      run('bpftool', ['gen', 'min_core_btf', path, out, ...objs.map((o) => o.source)])
      expect(Buffer.from(minimizeBtf(btf, objs, {littleEndian: true}).bytes).equals(readFileSync(out))).toBe(true)
      // by default the output keeps the kernel's byte order
      expect(parseBtf(minimizeBtf(btf, objs).bytes).littleEndian).toBe(btf.littleEndian)
    })
  }
})
