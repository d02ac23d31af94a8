/**
 * kallsyms read from the archived kernels' own images (src/archive/kallsyms.ts), against
 * two oracles that do not come from kcompat:
 * - the image's export table: every `__ksymtab` / `__ksymtab_gpl` entry (struct
 *   kernel_symbol with 32-bit relative offsets on x86-64: value, name, namespace) names an
 *   exported symbol, and kallsyms lists every exported symbol;
 * - the booted kernel: a kprobe is created by name (kernel/trace/trace_kprobe.c
 *   validate_probe_symbol), so on 6.12.117+deb12 `kcompat verify --prog kprobe/NAME`
 *   attaches for names kallsyms lists once and fails with ENOENT for a function kallsyms
 *   has only as a renamed clone (`name.isra.0`, `name.part.0`, `name.constprop.0`): the
 *   case of Debian 13's 6.12.118, whose BTF has FUNC blk_account_io_merge_bio while its
 *   kallsyms has only blk_account_io_merge_bio.part.0 (its kprobe was ENOENT when booted;
 *   6.1 and 6.12.117 have a symbol for every FUNC of their BTF).
 * The images are fetched from the mirror apt's sources name (cached); without network the
 * tests skip with the reason.
 */
import {readFileSync} from 'node:fs'
import {beforeAll, describe, expect, it} from 'vitest'
import {readKallsyms, type Kallsyms} from '../../src/archive/kallsyms.js'
import {extractKernelBtf, type KernelBtf} from '../../src/archive/kernel-image.js'
import {parseBtf} from '../../src/btf/decode.js'
import {Kind} from '../../src/btf/wire.js'
import {verifyKernel, type VerifyReport} from '../../src/verify/verify.js'
import {requireTool} from '../helpers/tools.js'
import {archivedKernelImagePath} from '../verify/kernel-image.js'

const KERNELS = ['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64'] as const

async function image(release: string): Promise<string | undefined> {
  const img = await archivedKernelImagePath(release)
  if ('skip' in img) {
    if (process.env.CI === 'true') throw new Error(`cannot get the ${release} image: ${img.skip}`)
    console.warn(`skipping kallsyms of ${release}: ${img.skip}`)
    return undefined
  }
  return img.path
}

/** The names of the exported symbols, from the image's __ksymtab and __ksymtab_gpl. */
function exportedNames(k: KernelBtf): string[] {
  const elf = k.elf!
  const strSec = elf.section('__ksymtab_strings')!
  const strs = elf.sectionData(strSec)
  const out: string[] = []
  for (const name of ['__ksymtab', '__ksymtab_gpl']) {
    const sec = elf.section(name)!
    const d = elf.sectionData(sec)
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength)
    for (let o = 0; o + 12 <= d.length; o += 12) {
      // struct kernel_symbol { int value_offset; int name_offset; int namespace_offset; }
      const at = sec.addr + BigInt(o + 4) + BigInt(dv.getInt32(o + 4, true)) - strSec.addr
      let e = Number(at)
      while (strs[e] !== 0) e++
      out.push(Buffer.from(strs.subarray(Number(at), e)).toString('latin1'))
    }
  }
  return out
}

const loaded = new Map<string, {k: KernelBtf; ks: Kallsyms}>()
for (const release of KERNELS) {
  const path = await image(release)
  describe.skipIf(!path)(`kallsyms of ${release}`, () => {
    beforeAll(() => {
      const k = extractKernelBtf(readFileSync(path!))
      loaded.set(release, {k, ks: readKallsyms(k.vmlinux)})
    }, 120_000)

    it('lists every symbol the export table names, with a type letter', () => {
      const {k, ks} = loaded.get(release)!
      const names = new Set(ks.symbols.map((s) => s.name))
      const exported = exportedNames(k)
      expect(exported.length).toBeGreaterThan(8000)
      expect(exported.filter((n) => !names.has(n))).toEqual([])
      for (const s of ks.symbols) expect(s.type, s.name).toMatch(/^[A-Za-z]$/)
      expect(ks.symbols.find((s) => s.name === 'vfs_read')?.type).toBe('T')
    })
  })
}

const BOOT = '6.12.117+deb12-cloud-amd64'
const bootImage = (await image(BOOT)) && ['qemu-system-x86_64', 'gcc'].every((t) => requireTool(t, `booting ${BOOT} for the kallsyms oracle`)) ? await image(BOOT) : undefined
describe.skipIf(!bootImage)(`kprobes on the booted ${BOOT} follow its kallsyms`, () => {
  let present: string[]
  let absent: string[]
  let report: VerifyReport
  beforeAll(async () => {
    const k = extractKernelBtf(readFileSync(bootImage!))
    const ks = readKallsyms(k.vmlinux)
    const count = new Map<string, number>()
    for (const s of ks.symbols) count.set(s.name, (count.get(s.name) ?? 0) + 1)
    const btf = parseBtf(k.btf!)
    const funcs = new Set<string>()
    for (let id = 1; id <= btf.lastId; id++) {
      const t = btf.typeById(id)
      if (t.kind === Kind.FUNC) funcs.add(t.name)
    }
    // functions kallsyms has only as a renamed clone, under no name of their own
    const clones = ks.symbols.filter((s) => s.type === 't' && /^[a-z_]\w*\.(isra|part|constprop)\.\d+$/.test(s.name)).map((s) => s.name.split('.')[0]!)
    absent = [...new Set(clones)].filter((f) => !count.has(f)).sort().slice(0, 3)
    // a global function, and two static ones (one of them biosnoop's target), each a FUNC of the BTF
    present = ['vfs_read', 'do_unlinkat', 'blk_account_io_merge_bio'].filter((f) => count.get(f) === 1 && funcs.has(f))
    report = await verifyKernel({image: bootImage!, kernel: BOOT, progs: [...present, ...absent].map((f) => `kprobe/${f}`), accel: 'tcg', attach: true, timeoutMs: 600_000})
  }, 900_000)

  it('a kprobe attaches on a name kallsyms lists, and is ENOENT on a function it has only as a clone', () => {
    expect(absent).toHaveLength(3)
    expect(present).toHaveLength(3)
    for (const f of present) {
      const p = report.programs.find((x) => x.section === `kprobe/${f}`)!
      expect(p.outcome, `${f}: ${p.attach.message ?? ''}`).toBe('loads')
    }
    for (const f of absent) {
      const p = report.programs.find((x) => x.section === `kprobe/${f}`)!
      expect(p.attach.errnoName, `${f}: ${p.attach.message ?? ''}`).toBe('ENOENT')
    }
  })
})
