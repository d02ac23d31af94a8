/**
 * CO-RE candidates and attach targets from module BTF, against libbpf itself.
 *
 * The oracle is the system's libbpf (Debian libbpf-dev 1.1) in the harness, opened
 * without btf_custom_path: the fixture kernel's BTF stands in for
 * /sys/kernel/btf/vmlinux and the fixture modules' split BTF (real nft_ct and
 * nf_conntrack_h323 of Debian 6.1 and 6.12) is served through bpf(2) as loaded modules'
 * BTF, so libbpf's own load_module_btfs finds them and libbpf decides which candidates
 * win (vmlinux first, modules only where vmlinux has none). fixtures/bpf/modules.c
 * relocates against types that exist only in modules, in two modules, in vmlinux and a
 * module, and nowhere; its ct_get_eval attaches to a module function.
 */
import {describe, expect, it} from 'vitest'
import {join} from 'node:path'
import {parseBtf} from '../../src/btf/decode.js'
import {ModuleSet} from '../../src/btf/module-set.js'
import {loadBpfObject} from '../../src/core/object.js'
import {type CoreRelocation, relocateObject} from '../../src/core/relocate.js'
import {FIXTURES, type ModuleFixture, kernelFixtures, moduleFixtures} from '../helpers/fixtures.js'
import {expectAgreement, show} from '../harness/compare.js'
import {requireHarness, runHarness} from '../harness/libbpf.js'

const haveHarness = requireHarness('module BTF comparison with libbpf')
const obj = (order: 'bpfel' | 'bpfeb'): string => join(FIXTURES, 'bpf', `modules.${order}.o`)

const byRelease = new Map<string, ModuleFixture[]>()
for (const m of moduleFixtures()) byRelease.set(m.release, [...(byRelease.get(m.release) ?? []), m])

const kernels = kernelFixtures()
  .filter((k) => byRelease.has(k.release))
  .map((k) => {
    const btf = parseBtf(k.btf)
    // name order, as ModuleSet keeps them; the harness serves them in the same order
    const mods = [...byRelease.get(k.release)!].sort((a, b) => (a.module < b.module ? -1 : 1))
    const set = ModuleSet.parse(btf, new Map(mods.map((m) => [m.module, m.btf])))
    return {k, btf, mods, set}
  })

describe('module BTF fixtures', () => {
  it('cover 6.1 and 6.12', () => {
    expect(kernels.map((x) => x.k.release).sort()).toEqual(['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64'])
  })
})

describe('CO-RE candidates from module BTF agree with libbpf, relocation by relocation', () => {
  for (const {k, btf, mods, set} of kernels) {
    it.skipIf(!haveHarness)(`modules.bpfel.o on ${k.release} with ${mods.map((m) => m.module).join(', ')}`, async () => {
      const o = await loadBpfObject(obj('bpfel'))
      const ours = relocateObject(o, {vmlinux: btf, modules: [...set.modules]})
      const run = runHarness(obj('bpfel'), k.path, {
        noCustom: true,
        modules: mods.map((m) => ({name: m.module, path: m.path})),
        noAutoload: ['ct_typo'],
      })
      expectAgreement(ours, run.decisions, run.log)
      // and the same candidate won: same type id, same BTF (vmlinux or which module)
      const theirs = new Map(run.decisions.map((d) => [`${d.program}#${d.index}`, d.target ?? null]))
      for (const r of ours) {
        if (r.status !== 'patched' || r.kind === 'type_exists' && r.value === 0n) continue
        expect(show(r.target ? {id: r.target.id, source: r.target.source} : null), `${r.program}#${r.index} ${r.local}`).toBe(
          show(theirs.get(`${r.program}#${r.index}`) ?? null),
        )
      }
      // the fixture exercises every case: module-only, vmlinux beside a module copy, and none
      const sources = new Set(ours.map((r) => r.target?.source).filter(Boolean))
      expect(sources.has('vmlinux')).toBe(true)
      expect(sources.has('nft_ct')).toBe(true)
      // libbpf attached ct_get_eval to nft_ct's FUNC nft_ct_get_eval: the id kcompat's module set names
      expect(run.attaches.find((a) => a.program === 'ct_get_eval')).toEqual({
        program: 'ct_get_eval',
        attachBtfId: set.findOwn('nft_ct', 'FUNC', 'nft_ct_get_eval'),
        btf: 'nft_ct',
      })
    })

    it.skipIf(!haveHarness)(`libbpf refuses ct_typo on ${k.release}: its target is in no BTF (kcompat: unsupported)`, () => {
      const run = runHarness(obj('bpfel'), k.path, {noCustom: true, modules: mods.map((m) => ({name: m.module, path: m.path}))})
      expect(run.log).toMatch(/prog 'ct_typo': failed to find kernel BTF type ID of 'nft_ct_get_evl': -3/)
      expect(run.loadResult).toBeLessThan(0)
      expect(set.modulesDefining('FUNC', 'nft_ct_get_evl')).toEqual([])
      expect(btf.findByName('nft_ct_get_evl', 12 /* FUNC */)).toBeUndefined()
    })

    it.skipIf(!haveHarness)(`with btf_custom_path libbpf searches no module on ${k.release}, and neither does kcompat`, async () => {
      const o = await loadBpfObject(obj('bpfel'))
      const ours = relocateObject(o, {vmlinux: btf})
      const run = runHarness(obj('bpfel'), k.path, {noAutoload: ['ct_typo']})
      expectAgreement(ours, run.decisions, run.log)
      expect(ours.some((r) => r.target && r.target.source !== 'vmlinux')).toBe(false)
      expect(ours.filter((r) => r.status === 'poisoned').length).toBeGreaterThan(10)
      // and without module BTF the module function is no attach target either
      expect(run.log).toMatch(/prog 'ct_get_eval': failed to find kernel BTF type ID of 'nft_ct_get_eval': -3/)
    })

    it(`modules.bpfeb.o on ${k.release} decides as modules.bpfel.o (libbpf 1.1 cannot read a big-endian .BTF.ext)`, async () => {
      const decisions = (relos: CoreRelocation[]): Record<string, string[]> => {
        const out: Record<string, Set<string>> = {}
        for (const r of relos) (out[`${r.program} ${r.kind} ${r.local}`] ??= new Set()).add(`${r.status} ${r.value ?? ''} ${r.target?.source ?? ''}`)
        return Object.fromEntries(Object.entries(out).map(([key, v]) => [key, [...v].sort()]))
      }
      const target = {vmlinux: btf, modules: [...set.modules]}
      const el = relocateObject(await loadBpfObject(obj('bpfel')), target)
      const eb = relocateObject(await loadBpfObject(obj('bpfeb')), target, {littleEndian: true})
      expect(eb.length).toBeGreaterThan(0)
      expect(decisions(eb)).toEqual(decisions(el))
    })
  }
})
