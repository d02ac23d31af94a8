import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {describe, expect, it} from 'vitest'
import {essentialName} from '../../src/btf/btf.js'
import {parseBtf} from '../../src/btf/decode.js'
import {BtfBuilder, encodeBtf} from '../../src/btf/encode.js'
import {dumpRawString} from '../../src/btf/rawdump.js'
import {Kind} from '../../src/btf/wire.js'
import {FIXTURES, SYS_VMLINUX, bpfObjectFixtures, kernelFixtures, moduleFixtures, scratchDir, sysVmlinux} from '../helpers/fixtures.js'
import {loadBtf} from '../../src/btf/load.js'
import {findTool, firstDifference, requireTool, run} from '../helpers/tools.js'
import {writeFileSync, existsSync} from 'node:fs'

const kernels = kernelFixtures()
const modules = moduleFixtures()
const sys = sysVmlinux()

function expectSameText(actual: string, expected: string): void {
  const diff = firstDifference(actual, expected)
  expect(diff, diff).toBeUndefined()
}

describe('parse -> encode is byte-identical on real kernel BTF', () => {
  it.skipIf(!sys)('this machine: /sys/kernel/btf/vmlinux', () => {
    const btf = parseBtf(sys!)
    expect(btf.typeCount).toBeGreaterThan(10_000)
    expect(Buffer.compare(Buffer.from(encodeBtf(btf)), sys!)).toBe(0)
  })
  it('has at least two Debian kernel fixtures (6.1 and 6.12)', () => {
    expect(kernels.map((k) => k.release).join(' ')).toMatch(/6\.1\.0-.*6\.12\./)
  })
  for (const k of kernels) {
    it(`Debian ${k.release}`, () => {
      const btf = parseBtf(k.btf)
      expect(Buffer.compare(Buffer.from(encodeBtf(btf)), k.btf)).toBe(0)
    })
  }
  for (const m of modules) {
    it(`module ${m.module} (split BTF on ${m.release})`, () => {
      const base = parseBtf(m.base.btf)
      const btf = parseBtf(m.btf, {base})
      expect(btf.startId).toBe(base.lastId + 1)
      expect(Buffer.compare(Buffer.from(encodeBtf(btf)), m.btf)).toBe(0)
    })
  }
})

describe('lazy parse: each type decoded on first use, the same model', () => {
  const strip = (t: unknown): string => JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))
  for (const k of kernels) {
    it(`Debian ${k.release}: every id, kind and name agree with the eager parse; writes back the same bytes`, () => {
      const eager = parseBtf(k.btf)
      const lazy = parseBtf(k.btf, {lazy: true})
      expect(lazy.lastId).toBe(eager.lastId)
      // names and kinds first, before anything is decoded
      for (let id = 1; id <= eager.lastId; id += 13) {
        expect(lazy.kindOf(id)).toBe(eager.typeById(id).kind)
        expect(lazy.nameOf(id)).toBe(eager.typeById(id).name)
      }
      // the byte-level name index against a plain map of the decoded names
      const byName = new Map<string, number[]>()
      eager.types.forEach((t, i) => {
        if (t.name !== '') byName.set(t.name, [...(byName.get(t.name) ?? []), i + 1])
      })
      const names = [...byName.keys()].filter((_n, i) => i % 31 === 0)
      for (const n of [...names, 'task_struct', 'sk_buff', 'bpf_prog_type', 'do_sys_open', 'no_such_name', 'task_struc', 'task_struct_']) {
        expect(lazy.idsByName(n), n).toEqual(byName.get(n) ?? [])
        expect(eager.idsByName(n), n).toEqual(byName.get(n) ?? [])
        const funcs = (byName.get(n) ?? []).filter((id) => eager.typeById(id).kind === Kind.FUNC)
        expect(lazy.idsByName(n, 'funcs'), n).toEqual(funcs)
        expect(lazy.idsByName(n, 'types'), n).toEqual((byName.get(n) ?? []).filter((id) => !funcs.includes(id)))
      }
      for (let id = 1; id <= eager.lastId; id += 17) {
        const n = eager.typeById(id).name
        expect(lazy.nameStartsWith(id, n.slice(0, 5))).toBe(true)
        expect(lazy.nameStartsWith(id, `${n}x`)).toBe(false)
      }
      for (let id = 1; id <= eager.lastId; id += 7) expect(strip(lazy.typeById(id))).toBe(strip(eager.typeById(id)))
      expect(Buffer.compare(Buffer.from(encodeBtf(lazy)), k.btf)).toBe(0)
      expect(strip(lazy.types)).toBe(strip(eager.types))
    })
  }
  for (const m of modules) {
    it(`module ${m.module}: split BTF on a lazily parsed base`, () => {
      const base = parseBtf(m.base.btf, {lazy: true})
      const btf = parseBtf(m.btf, {base, lazy: true})
      const eagerBase = parseBtf(m.base.btf)
      const eager = parseBtf(m.btf, {base: eagerBase})
      expect(btf.startId).toBe(eager.startId)
      for (let id = 1; id <= eager.lastId; id += 11) {
        expect(btf.kindOf(id)).toBe(eager.kindOf(id))
        expect(strip(btf.typeById(id))).toBe(strip(eager.typeById(id)))
      }
      expect(Buffer.compare(Buffer.from(encodeBtf(btf)), m.btf)).toBe(0)
    })
  }
})

describe('byte order', () => {
  for (const k of kernels.slice(0, 1)) {
    it(`${k.release} written big-endian parses to the same types`, () => {
      const le = parseBtf(k.btf)
      const beBytes = encodeBtf(le, {littleEndian: false})
      expect(beBytes[0]).toBe(0xeb)
      const be = parseBtf(beBytes)
      expect(be.littleEndian).toBe(false)
      expect(dumpRawString(be)).toBe(dumpRawString(le))
      // and back again, to the original bytes
      expect(Buffer.compare(Buffer.from(encodeBtf(be, {littleEndian: true})), k.btf)).toBe(0)
    })
  }
})

describe('raw dump is identical to bpftool format raw', () => {
  const haveBpftool = requireTool('bpftool', 'raw dump comparison with bpftool')
  it.skipIf(!haveBpftool || !sys)('this machine: /sys/kernel/btf/vmlinux', () => {
    const expected = run('bpftool', ['btf', 'dump', 'file', SYS_VMLINUX, 'format', 'raw']).toString()
    expectSameText(dumpRawString(parseBtf(sys!)), expected)
  })
  for (const k of kernels) {
    it.skipIf(!haveBpftool)(`Debian ${k.release}`, () => {
      const expected = run('bpftool', ['btf', 'dump', 'file', k.path, 'format', 'raw']).toString()
      expectSameText(dumpRawString(parseBtf(k.btf)), expected)
    })
  }
  for (const m of modules) {
    it.skipIf(!haveBpftool)(`module ${m.module} over ${m.release}`, () => {
      const expected = run('bpftool', ['-B', m.base.path, 'btf', 'dump', 'file', m.path, 'format', 'raw']).toString()
      const base = parseBtf(m.base.btf)
      expectSameText(dumpRawString(parseBtf(m.btf, {base})), expected)
    })
  }
})

describe('raw dump matches committed bpftool golden output (for machines without bpftool)', () => {
  for (const k of kernels) {
    const golden = join(FIXTURES, 'golden', `${k.release}.raw.txt.xz`)
    it.skipIf(!existsSync(golden))(`Debian ${k.release}`, () => {
      const expected = decompressSync(readFileSync(golden)).toString()
      expectSameText(dumpRawString(parseBtf(k.btf)), expected)
    })
  }
})

describe('model: lookups, resolution, size and alignment', () => {
  const k = kernels[0]
  it.skipIf(!k)('finds named types by kind and resolves typedef chains', () => {
    const btf = parseBtf(k!.btf)
    const ts = btf.findByName('task_struct', Kind.STRUCT)
    expect(ts).toBeDefined()
    const t = btf.typeById(ts!)
    expect(t.kind).toBe(Kind.STRUCT)
    // u32 -> __u32 -> unsigned int
    const u32 = btf.findByName('u32', Kind.TYPEDEF)!
    const resolved = btf.typeById(btf.skipTypedefsAndModifiers(u32))
    expect(resolved).toMatchObject({kind: Kind.INT, name: 'unsigned int', size: 4})
    expect(btf.sizeOf(u32)).toBe(4)
    expect(btf.alignOf(u32)).toBe(4)
    // every struct's size is what sizeOf reports
    expect(btf.sizeOf(ts!)).toBe((t as {size: number}).size)
  })
  it.skipIf(!k)('sizes of arrays multiply through typedefs', () => {
    const btf = parseBtf(k!.btf)
    for (let id = 1; id <= btf.lastId; id++) {
      const t = btf.typeById(id)
      if (t.kind !== Kind.ARRAY) continue
      expect(btf.sizeOf(id)).toBe(t.nelems * btf.sizeOf(t.type))
    }
  })
})

describe('sizes fail as libbpf\'s btf__resolve_size does (-EINVAL, -E2BIG), in each caller\'s convention', () => {
  const b = new BtfBuilder()
  const int = b.add({kind: Kind.INT, name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32})
  // 2^29 ints (2 GiB) fit in 32 bits; 2^30 ints (exactly 2^32 bytes) do not
  const fits = b.add({kind: Kind.ARRAY, name: '', nameOff: 0, kindFlag: false, type: int, indexType: int, nelems: 2 ** 29})
  const tooBig = b.add({kind: Kind.ARRAY, name: '', nameOff: 0, kindFlag: false, type: int, indexType: int, nelems: 2 ** 30})
  const nested = b.add({kind: Kind.ARRAY, name: '', nameOff: 0, kindFlag: false, type: fits, indexType: int, nelems: 16})
  const fn = b.add({kind: Kind.FUNC_PROTO, name: '', nameOff: 0, kindFlag: false, returnType: int, params: []})
  // libbpf follows at most 32 steps (MAX_RESOLVE_DEPTH): 31 typedefs over int resolve, 32 do not
  let chain = int
  const chains: number[] = []
  for (let i = 1; i <= 32; i++) chains.push((chain = b.add({kind: Kind.TYPEDEF, name: `t${i}`, nameOff: 0, kindFlag: false, type: chain})))
  const btf = b.build()
  it('Btf.sizeOf: the size, or BTF_NO_SIZE / BTF_SIZE_OVERFLOW / BTF_CYCLE', () => {
    expect(btf.sizeOf(fits)).toBe(2 ** 31)
    expect(() => btf.sizeOf(tooBig)).toThrow(expect.objectContaining({code: 'BTF_SIZE_OVERFLOW'}))
    expect(() => btf.sizeOf(nested)).toThrow(expect.objectContaining({code: 'BTF_SIZE_OVERFLOW'}))
    expect(() => btf.sizeOf(fn)).toThrow(expect.objectContaining({code: 'BTF_NO_SIZE'}))
    expect(() => btf.sizeOf(0)).toThrow(expect.objectContaining({code: 'BTF_NO_SIZE'}))
    expect(btf.sizeOf(chains[30]!)).toBe(4)
    expect(() => btf.sizeOf(chains[31]!)).toThrow(expect.objectContaining({code: 'BTF_CYCLE'}))
  })
  it('Btf.alignOf: natural, packed (1), or BTF_NO_SIZE / BTF_CYCLE', () => {
    const a = new BtfBuilder()
    const i32 = a.add({kind: Kind.INT, name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32})
    const i64 = a.add({kind: Kind.INT, name: 'long', nameOff: 0, kindFlag: false, size: 8, encoding: 1, bitOffset: 0, bits: 64})
    const ch = a.add({kind: Kind.INT, name: 'char', nameOff: 0, kindFlag: false, size: 1, encoding: 1, bitOffset: 0, bits: 8})
    const m = (name: string, type: number, bitOffset: number) => ({name, nameOff: 0, type, bitOffset, bitfieldSize: 0})
    const natural = a.add({kind: Kind.STRUCT, name: 'n', nameOff: 0, kindFlag: false, size: 16, members: [m('a', i64, 0), m('b', i32, 64)]})
    const shortTail = a.add({kind: Kind.STRUCT, name: 'p', nameOff: 0, kindFlag: false, size: 5, members: [m('a', i32, 0), m('b', ch, 32)]})
    const offAlign = a.add({kind: Kind.STRUCT, name: 'q', nameOff: 0, kindFlag: false, size: 12, members: [m('a', ch, 0), m('b', i64, 8)]})
    const proto = a.add({kind: Kind.FUNC_PROTO, name: '', nameOff: 0, kindFlag: false, returnType: i32, params: []})
    const withFn = a.add({kind: Kind.STRUCT, name: 'f', nameOff: 0, kindFlag: false, size: 8, members: [m('fn', proto, 0)]})
    // a struct that holds itself (malformed, but valid BTF records)
    const selfId = a.nextId
    a.add({kind: Kind.STRUCT, name: 's', nameOff: 0, kindFlag: false, size: 8, members: [m('me', selfId, 0)]})
    const arr = a.add({kind: Kind.ARRAY, name: '', nameOff: 0, kindFlag: false, type: natural, indexType: i32, nelems: 3})
    const x = a.build()
    expect(x.alignOf(natural)).toBe(8)
    expect(x.alignOf(arr)).toBe(8)
    expect(x.alignOf(natural, 4)).toBe(4) // a 32-bit target caps long at 4
    expect(x.alignOf(shortTail)).toBe(1)
    expect(x.alignOf(offAlign)).toBe(1)
    expect(() => x.alignOf(proto)).toThrow(expect.objectContaining({code: 'BTF_NO_SIZE'}))
    expect(() => x.alignOf(withFn)).toThrow(expect.objectContaining({code: 'BTF_NO_SIZE'}))
    expect(() => x.alignOf(selfId)).toThrow(expect.objectContaining({code: 'BTF_CYCLE'}))
    expect(() => x.alignOf(9999)).toThrow(expect.objectContaining({code: 'BTF_BAD_TYPE_ID'}))
  })
  it('the CO-RE engine: E2BIG for overflow, EINVAL otherwise', async () => {
    const {resolveSize} = await import('../../src/core/btf-util.js')
    expect(resolveSize(btf, fits)).toBe(2 ** 31)
    expect(() => resolveSize(btf, tooBig)).toThrow(expect.objectContaining({errno: -7}))
    expect(() => resolveSize(btf, fn)).toThrow(expect.objectContaining({errno: -22}))
    expect(() => resolveSize(btf, chains[31]!)).toThrow(expect.objectContaining({errno: -22}))
    expect(resolveSize(btf, chains[30]!)).toBe(4)
  })
})

describe('builder', () => {
  it('builds BTF that bpftool reads back as intended', () => {
    const b = new BtfBuilder()
    const int = b.add({kind: Kind.INT, name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32})
    const ptr = b.add({kind: Kind.PTR, name: '', nameOff: 0, kindFlag: false, type: 0})
    const s = b.add({
      kind: Kind.STRUCT,
      name: 'pair',
      nameOff: 0,
      kindFlag: true,
      size: 16,
      members: [
        {name: 'a', nameOff: 0, type: int, bitOffset: 0, bitfieldSize: 3},
        {name: 'next', nameOff: 0, type: ptr, bitOffset: 64, bitfieldSize: 0},
      ],
    })
    b.add({kind: Kind.TYPEDEF, name: 'pair_t', nameOff: 0, kindFlag: false, type: s})
    b.add({
      kind: Kind.ENUM64,
      name: 'big',
      nameOff: 0,
      kindFlag: true,
      size: 8,
      values: [
        {name: 'NEG', nameOff: 0, value: -5n},
        {name: 'HUGE', nameOff: 0, value: 1n << 40n},
      ],
    })
    b.add({kind: Kind.TYPEDEF, name: 'int', nameOff: 0, kindFlag: false, type: int}) // name reuse -> one string
    const bytes = b.encode()
    const btf = parseBtf(bytes)
    expect(btf.typeCount).toBe(6)
    // 'int' stored once: "\0int\0pair\0a\0next\0pair_t\0big\0NEG\0HUGE\0"
    expect(btf.strings.bytes.length).toBe('\0int\0pair\0a\0next\0pair_t\0big\0NEG\0HUGE\0'.length)
    const text = dumpRawString(btf)
    expect(text).toContain("[3] STRUCT 'pair' size=16 vlen=2\n\t'a' type_id=1 bits_offset=0 bitfield_size=3")
    if (findTool('bpftool')) {
      const path = join(scratchDir(), 'built.btf')
      writeFileSync(path, bytes)
      expectSameText(text, run('bpftool', ['btf', 'dump', 'file', path, 'format', 'raw']).toString())
    }
  })
})

describe('essential names (libbpf ___flavor rule)', () => {
  // Cases from the rule in libbpf's bpf_core_essential_name_len (relo_core.c):
  // the last "X___Y" with X and Y not underscores splits off the flavor.
  it.each([
    ['task_struct___old', 'task_struct'],
    ['task_struct', 'task_struct'],
    ['a___b', 'a'],
    ['x___y___z', 'x___y'],
    ['a____b', 'a____b'],
    ['___x', '___x'],
    ['a___', 'a___'],
    ['a___b_', 'a'],
    ['__a___b', '__a'],
    ['', ''],
  ])('%s -> %s', (name, expected) => {
    expect(essentialName(name)).toBe(expected)
  })
  const k = kernels[0]
  it.skipIf(!k)('indexes a kernel by essential name', () => {
    const btf = parseBtf(k!.btf)
    const ids = btf.idsByEssentialName('task_struct')
    expect(ids.map((id) => btf.typeById(id).name)).toContain('task_struct')
  })
})

describe('BPF objects of both byte orders', () => {
  for (const obj of bpfObjectFixtures()) {
    it(`${obj.split('/').pop()}: .BTF round-trips and reads the same as its other-endian twin`, async () => {
      const {btf: raw, parsed, elf} = await loadBtf(obj)
      expect(parsed.littleEndian).toBe(elf!.littleEndian)
      expect(Buffer.compare(Buffer.from(encodeBtf(parsed)), Buffer.from(raw))).toBe(0)
      const twinPath = obj.includes('.bpfel.') ? obj.replace('.bpfel.', '.bpfeb.') : obj.replace('.bpfeb.', '.bpfel.')
      if (existsSync(twinPath)) {
        const twin = (await loadBtf(twinPath)).parsed
        expect(twin.littleEndian).toBe(!parsed.littleEndian)
        expect(dumpRawString(twin)).toBe(dumpRawString(parsed))
      }
    })
  }
})
