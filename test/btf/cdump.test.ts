/**
 * The C dumper against bpftool on real BTF: this machine's vmlinux, the Debian kernel
 * fixtures, module (split) BTF over its base, and the BPF object fixtures in both byte
 * orders. Every comparison is exact string equality with `bpftool btf dump ... format
 * c` (or, without bpftool, the committed golden files it produced).
 */
import {describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import {CDumper, VMLINUX_H_FOOTER, VMLINUX_H_HEADER, dumpC} from '../../src/btf/cdump/index.js'
import {basename} from 'node:path'
import {BtfBuilder} from '../../src/btf/encode.js'
import {Kind} from '../../src/btf/wire.js'
import {SYS_VMLINUX, bpfObjectFixtures, kernelFixtures, moduleFixtures, sysVmlinux} from '../helpers/fixtures.js'
import {findTool, firstDifference} from '../helpers/tools.js'
import {type Expectation, bpftoolC, expectations, extractBtf} from '../helpers/cdump.js'

const kernels = kernelFixtures()
const modules = moduleFixtures()
const objects = bpfObjectFixtures()
const sys = sysVmlinux()
const hasBpftool = findTool('bpftool') !== undefined

function expectSameText(actual: string, expected: string, what: string): void {
  const diff = firstDifference(actual, expected)
  expect(diff, `${what}: ${diff}`).toBeUndefined()
}

function skipBecause(reason: string): boolean {
  console.warn(`skipping: ${reason}`)
  return true
}

function noOracle(name: string, exps: Expectation[]): boolean {
  return exps.length === 0 && skipBecause(`${name}: no bpftool and no fixtures/golden/${name}.h.xz`)
}

function expectAll(actual: string, exps: Expectation[], name: string): void {
  for (const e of exps) expectSameText(actual, e.text(), `${name} vs ${e.source}`)
}

describe('dumpC is byte-identical to bpftool on this machine', () => {
  const why = !sys ? `${SYS_VMLINUX} is not readable` : !hasBpftool ? 'bpftool is not installed (no golden for a live kernel)' : ''
  it.skipIf(why !== '' && skipBecause(why))('/sys/kernel/btf/vmlinux', () => {
    const out = dumpC(parseBtf(sys!))
    expectSameText(out, bpftoolC(SYS_VMLINUX), SYS_VMLINUX)
  })
})

describe('dumpC on Debian kernel fixtures', () => {
  it.skipIf(kernels.length === 0 && skipBecause('no fixtures/kernels/*.btf.xz yet'))('has kernel fixtures', () => {
    expect(kernels.length).toBeGreaterThan(0)
  })
  for (const k of kernels) {
    const exps = expectations(k.release, k.path)
    it.skipIf(noOracle(k.release, exps))(k.release, () => {
      // parsed lazily, as `btf dump` does: the dumper decodes each type where it meets it
      expectAll(dumpC(parseBtf(k.btf, {lazy: true})), exps, k.release)
    })
  }
})

describe('dumpC on module split BTF (bpftool -B base: every id from 1, base included)', () => {
  it.skipIf(modules.length === 0 && skipBecause('no fixtures/kernels/*__*.btf.xz yet'))('has module fixtures', () => {
    expect(modules.length).toBeGreaterThan(0)
  })
  for (const m of modules) {
    const name = `${m.release}__${m.module}`
    const exps = expectations(name, m.path, m.base.path)
    it.skipIf(noOracle(name, exps))(name, () => {
      const base = parseBtf(m.base.btf)
      const btf = parseBtf(m.btf, {base, lazy: true})
      expectAll(dumpC(btf), exps, name)
    })
  }
})

describe('dumpC on BPF object fixtures (bpfel and bpfeb)', () => {
  const noObjcopy = findTool('llvm-objcopy') === undefined
  it.skipIf(objects.length === 0 && skipBecause('no fixtures/bpf/*.o yet'))('has BPF object fixtures', () => {
    expect(objects.length).toBeGreaterThan(0)
  })
  for (const o of objects) {
    const name = basename(o, '.o')
    const exps = expectations(name, o)
    it.skipIf((noObjcopy && skipBecause(`${name}: llvm-objcopy is not installed`)) || noOracle(name, exps))(name, () => {
      expectAll(dumpC(parseBtf(extractBtf(o))), exps, name)
    })
  }
})

describe('API', () => {
  /** 1 int, 2 struct node { int v; struct node *next; }, 3 struct node *, 4 node_t. */
  function tiny() {
    const b = new BtfBuilder()
    const int = b.add({kind: Kind.INT, name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32})
    const node = b.add({
      kind: Kind.STRUCT,
      name: 'node',
      nameOff: 0,
      kindFlag: false,
      size: 16,
      members: [
        {name: 'v', nameOff: 0, type: int, bitOffset: 0, bitfieldSize: 0},
        {name: 'next', nameOff: 0, type: 3, bitOffset: 64, bitfieldSize: 0},
      ],
    })
    b.add({kind: Kind.PTR, name: '', nameOff: 0, kindFlag: false, type: node})
    b.add({kind: Kind.TYPEDEF, name: 'node_t', nameOff: 0, kindFlag: false, type: node})
    return parseBtf(b.encode())
  }

  it('dumpC without the vmlinux.h wrapper', () => {
    const text = dumpC(tiny(), {header: false})
    expect(text).toBe('struct node {\n\tint v;\n\tstruct node *next;\n};\n\ntypedef struct node node_t;\n\n')
    expect(dumpC(tiny())).toBe(VMLINUX_H_HEADER + text + VMLINUX_H_FOOTER)
  })

  it('CDumper keeps state across dumpType calls, like btf_dump__dump_type', () => {
    const chunks: string[] = []
    const d = new CDumper(tiny(), (s) => chunks.push(s))
    d.dumpType(4) // node_t pulls in struct node
    d.dumpType(2) // already printed: nothing
    d.dumpType(1) // int: nothing to print
    expect(chunks).toEqual(['struct node {\n\tint v;\n\tstruct node *next;\n};\n\ntypedef struct node node_t;\n\n'])
  })

  it('rootIds dumps only what those ids need', () => {
    expect(dumpC(tiny(), {header: false, rootIds: [2]})).toBe('struct node {\n\tint v;\n\tstruct node *next;\n};\n\n')
  })

  it('rejects ids outside the BTF', () => {
    const d = new CDumper(tiny(), () => {})
    expect(() => d.dumpType(5)).toThrow(expect.objectContaining({code: 'BTF_BAD_TYPE_ID'}))
    expect(() => d.dumpType(-1)).toThrow(expect.objectContaining({code: 'BTF_BAD_TYPE_ID'}))
  })

  it('reports a cycle C cannot express (struct embedding itself) as BTF_CYCLE', () => {
    const b = new BtfBuilder()
    const int = b.add({kind: Kind.INT, name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32})
    b.add({
      kind: Kind.STRUCT,
      name: 'loop',
      nameOff: 0,
      kindFlag: false,
      size: 8,
      members: [
        {name: 'a', nameOff: 0, type: int, bitOffset: 0, bitfieldSize: 0},
        {name: 'self', nameOff: 0, type: int + 1, bitOffset: 32, bitfieldSize: 0},
      ],
    })
    const btf = parseBtf(b.encode())
    expect(() => dumpC(btf)).toThrow(expect.objectContaining({code: 'BTF_CYCLE'}))
  })
})
