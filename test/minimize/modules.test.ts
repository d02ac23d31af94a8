/**
 * btfgen with module BTF: for an object whose relocations resolve in module BTF
 * (fixtures/bpf/modules.c on the real nft_ct / nf_conntrack_h323 split BTF of Debian 6.1
 * and 6.12), the minimized file must let libbpf, which searches only that file when it
 * is btf_custom_path, decide every relocation as it does on the machine with the full
 * vmlinux BTF and the modules' BTF (served to it through bpf(2) by the harness).
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {Btf} from '../../src/btf/btf.js'
import {parseBtf} from '../../src/btf/decode.js'
import {ModuleSet} from '../../src/btf/module-set.js'
import {loadBpfObject} from '../../src/core/object.js'
import {minimizeBtf, needsModuleCandidates} from '../../src/minimize/btfgen.js'
import {FIXTURES, type ModuleFixture, kernelFixtures, moduleFixtures, scratchDir} from '../helpers/fixtures.js'
import {show} from '../harness/compare.js'
import {type LibbpfDecision, requireHarness, runHarness} from '../harness/libbpf.js'

const OBJ = join(FIXTURES, 'bpf', 'modules.bpfel.o')
const haveHarness = requireHarness('btfgen with module BTF against libbpf')

const byRelease = new Map<string, ModuleFixture[]>()
for (const m of moduleFixtures()) byRelease.set(m.release, [...(byRelease.get(m.release) ?? []), m])

describe('btfgen puts what libbpf needs from module BTF into the minimized file', () => {
  for (const k of kernelFixtures().filter((x) => byRelease.has(x.release))) {
    const mods = [...byRelease.get(k.release)!].sort((a, b) => (a.module < b.module ? -1 : 1))
    for (const compact of [false, true]) {
      it.skipIf(!haveHarness)(`modules.bpfel.o on ${k.release}${compact ? ' (--compact)' : ''}: same libbpf decisions as with vmlinux + modules`, async () => {
        const vmlinux = parseBtf(k.btf)
        const set = ModuleSet.parse(vmlinux, new Map(mods.map((m) => [m.module, m.btf])))
        const obj = await loadBpfObject(OBJ)
        expect(needsModuleCandidates(vmlinux, [obj])).toBe(true)
        const r = minimizeBtf(vmlinux, [obj], {compact, modules: set.modules})
        expect(r.failures).toEqual([])
        const min = join(scratchDir(), `modules-min-${k.release}-${compact}.btf`)
        writeFileSync(min, r.bytes)

        const full = runHarness(OBJ, k.path, {noCustom: true, modules: mods.map((m) => ({name: m.module, path: m.path})), noAutoload: ['ct_typo']})
        const small = runHarness(OBJ, min, {vmlinux: k.path, noAutoload: ['ct_typo']})
        expect(full.decisions.length, full.log.slice(-2000)).toBeGreaterThan(20)
        const minBtf = parseBtf(r.bytes)
        const btfOf = (d: LibbpfDecision): Btf => (d.target?.source && d.target.source !== 'vmlinux' ? set.module(d.target.source)!.btf : vmlinux)
        const byKey = new Map(small.decisions.map((d) => [`${d.program}#${d.index}`, d]))
        expect(small.decisions.length).toBe(full.decisions.length)
        for (const d of full.decisions) {
          const m = byKey.get(`${d.program}#${d.index}`)!
          expect(m, `${d.program}#${d.index}`).toBeDefined()
          if (d.insnClass === 'LDIMM64' && d.status === 'patched' && d.value !== m.value && d.value !== 0n) {
            // a target type id: compare what the ids name
            const a = btfOf(d).typeById(Number(d.value))
            const b = minBtf.typeById(Number(m.value))
            expect(`${b.kind} ${b.name}`).toBe(`${a.kind} ${a.name}`)
            continue
          }
          expect(show({...m, original: undefined, target: undefined}), `${d.program}#${d.index}`).toBe(
            show({...d, original: undefined, target: undefined}),
          )
        }
        // without the modules, the module relocations cannot resolve: what bpftool's min_core_btf gives
        const plain = minimizeBtf(vmlinux, [obj], {compact})
        const plainFile = join(scratchDir(), `modules-plain-${k.release}-${compact}.btf`)
        writeFileSync(plainFile, plain.bytes)
        const without = runHarness(OBJ, plainFile, {vmlinux: k.path, noAutoload: ['ct_typo']})
        expect(without.decisions.filter((d) => d.status === 'poisoned').length).toBeGreaterThan(
          full.decisions.filter((d) => d.status === 'poisoned').length,
        )
      })
    }
  }
})
