/**
 * kcompat's CO-RE decisions against libbpf's, relocation by relocation.
 *
 * The oracle is the system's libbpf (Debian libbpf-dev 1.1) driven by
 * test/harness/core_harness.c: it relocates the object against the kernel BTF
 * (btf_custom_path) without any BPF syscall and logs every patch and poison. Every
 * CO-RE fixture object is checked on every fixture kernel and on this machine's
 * /sys/kernel/btf/vmlinux. libbpf 1.1 cannot read a big-endian .BTF.ext, so the
 * big-endian objects are checked against the little-endian ones (and their
 * bitfield shifts against what clang wrote into the big-endian instructions).
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import type {Btf} from '../../src/btf/btf.js'
import {type BpfObject, loadBpfObject} from '../../src/core/object.js'
import {type CoreRelocation, relocateObject} from '../../src/core/relocate.js'
import {FIXTURES, SYS_VMLINUX, kernelFixtures, scratchDir, sysVmlinux} from '../helpers/fixtures.js'
import {expectAgreement} from '../harness/compare.js'
import {type HarnessOptions, altLibbpf, requireHarness, runHarness} from '../harness/libbpf.js'

const OBJECTS = ['core_fields', 'core_types', 'progs', 'externs']
const objPath = (name: string, order: 'bpfel' | 'bpfeb'): string => join(FIXTURES, 'bpf', `${name}.${order}.o`)

const haveHarness = requireHarness('CO-RE comparison with libbpf')

interface Kernel {
  name: string
  path: string
  btf: Btf
  kconfig?: string
}

const kernels: Kernel[] = kernelFixtures().map((k) => {
  const cfg = join(FIXTURES, 'kernels', `${k.release}.config.xz`)
  const kconfig = join(scratchDir(), `${k.release}.config`)
  writeFileSync(kconfig, decompressSync(readFileSync(cfg)))
  return {name: k.release, path: k.path, btf: parseBtf(k.btf), kconfig}
})
const sys = sysVmlinux()
if (sys) kernels.push({name: 'this machine (/sys/kernel/btf/vmlinux)', path: SYS_VMLINUX, btf: parseBtf(sys)})

/** A /proc/kallsyms stand-in naming every undefined symbol of the object (untyped __ksym externs). */
function kallsymsFor(obj: BpfObject, name: string): string {
  const lines = obj.elf
    .symbols()
    .filter((s) => s.shndx === 0 && s.name !== '')
    .map((s) => `ffffffff81000000 D ${s.name}`)
  const file = join(scratchDir(), `${name}.kallsyms`)
  writeFileSync(file, `${lines.join('\n')}\n`)
  return file
}

describe('relocate agrees with libbpf on every fixture object and kernel', () => {
  for (const k of kernels) {
    for (const name of OBJECTS) {
      it.skipIf(!haveHarness)(`${name} on ${k.name}`, async () => {
        const obj = await loadBpfObject(objPath(name, 'bpfel'))
        const ours = relocateObject(obj, {vmlinux: k.btf})
        const opts: HarnessOptions = {kconfig: k.kconfig, kallsyms: kallsymsFor(obj, name)}
        const run = runHarness(objPath(name, 'bpfel'), k.path, opts)
        expectAgreement(ours, run.decisions, run.log)
        const other = altLibbpf()
        if (other) {
          const r = other.run(objPath(name, 'bpfel'), k.path, opts)
          expectAgreement(relocateObject(obj, {vmlinux: k.btf}, {libbpf: Number(other.version.split('.')[1]) >= 6 ? '1.6' : '1.1'}), r.decisions, r.log)
        }
        // every decision counted: the fixtures have relocations of every kind clang 14 emits
        expect(ours.filter((r) => r.status !== 'skipped').length).toBe(run.decisions.length)
      })
    }
  }
})

describe('big-endian objects (libbpf 1.1 cannot read their .BTF.ext)', () => {
  // clang emits somewhat different code for big-endian (bitfield reads take an extra
  // byte_sz relocation, so instruction numbers and relocation counts shift); the
  // decisions for each access must be the same.
  const decisions = (relos: CoreRelocation[]): Record<string, string[]> => {
    const out: Record<string, Set<string>> = {}
    for (const r of relos) (out[`${r.program} ${r.kind} ${r.local}`] ??= new Set()).add(`${r.status} ${r.value ?? ''}`)
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]))
  }
  for (const k of kernels.slice(0, 3)) {
    for (const name of OBJECTS) {
      it(`${name}.bpfeb.o on ${k.name} decides as ${name}.bpfel.o (shifts computed for little-endian)`, async () => {
        const el = relocateObject(await loadBpfObject(objPath(name, 'bpfel')), {vmlinux: k.btf})
        const eb = relocateObject(await loadBpfObject(objPath(name, 'bpfeb')), {vmlinux: k.btf}, {littleEndian: true})
        expect(eb.length).toBeGreaterThan(0)
        expect(decisions(eb)).toEqual(decisions(el))
      })
    }
  }
})
