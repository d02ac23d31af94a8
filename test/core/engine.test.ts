/**
 * Rules of the CO-RE engine on hand-built BTF: bitfield extraction in both byte orders
 * (checked by actually extracting the bits from memory laid out as the compiler lays it
 * out), the compatibility and matching relations (in both directions), module
 * candidates, instruction checks, and corrupt input.
 */
import {describe, expect, it} from 'vitest'
import type {Btf} from '../../src/btf/btf.js'
import {parseBtf} from '../../src/btf/decode.js'
import {BtfBuilder} from '../../src/btf/encode.js'
import type {BtfType, Member} from '../../src/btf/types.js'
import {Kind} from '../../src/btf/wire.js'
import {findCandidates} from '../../src/core/candidates.js'
import {fieldsAreCompatible, typesAreCompatible, typesMatch} from '../../src/core/compat.js'
import {CoreError} from '../../src/core/errors.js'
import {type InsnView, patchInsn} from '../../src/core/insn.js'
import {CoreReloKind} from '../../src/core/relo.js'
import {resolveRelo} from '../../src/core/relocate.js'
import {parseSpec} from '../../src/core/spec.js'
import {moduleFixtures} from '../helpers/fixtures.js'

const T = (t: Partial<BtfType> & {kind: number}): BtfType => ({name: '', nameOff: 0, kindFlag: false, ...t}) as BtfType
const int = (name: string, size: number, signed = false): BtfType => T({kind: Kind.INT, name, size, encoding: signed ? 1 : 0, bitOffset: 0, bits: size * 8})
const mem = (name: string, type: number, bitOffset: number, bitfieldSize = 0): Member => ({name, nameOff: 0, type, bitOffset, bitfieldSize})

describe('bitfields: the computed load and shifts extract the field in either byte order', () => {
  // Target struct: integer types 1..4 are u8, u16, u32, u64; 5 is s32; 6 the struct.
  const fields: [string, number, number, number][] = [
    // name, type id, bit offset, bits
    ['a', 1, 3, 4],
    ['b', 3, 7, 20],
    ['c', 4, 30, 33],
    ['d', 2, 100, 9],
    ['e', 5, 64, 17],
    ['f', 4, 128, 64],
    ['g', 1, 199, 1],
    ['h', 5, 140, 31],
  ]
  const build = (): Btf => {
    const b = new BtfBuilder()
    b.add(int('unsigned char', 1))
    b.add(int('unsigned short', 2))
    b.add(int('unsigned int', 4))
    b.add(int('unsigned long long', 8))
    b.add(int('int', 4, true))
    b.add(T({kind: Kind.STRUCT, name: 'bits', size: 32, kindFlag: true, members: fields.map(([n, t, o, s]) => mem(n, t, o, s))}))
    return b.build()
  }
  const target = build()
  // the local struct has the same fields in another order and layout
  const lb = new BtfBuilder()
  lb.add(int('unsigned int', 4))
  lb.add(T({kind: Kind.STRUCT, name: 'bits', size: 64, kindFlag: true, members: [...fields].reverse().map(([n], i) => mem(n, 1, i * 32, 5))}))
  const local = lb.build()

  const rand = (() => {
    let s = 7
    return (): bigint => {
      s = (s * 1103515245 + 12345) >>> 0
      const hi = s
      s = (s * 1103515245 + 12345) >>> 0
      return (BigInt(hi) << 32n) | BigInt(s)
    }
  })()

  for (const le of [true, false]) {
    it(`${le ? 'little' : 'big'}-endian`, () => {
      for (const [name, typeId, bitOff, bits] of fields) {
        const idx = [...fields].reverse().findIndex((f) => f[0] === name)
        const value = (kind: number): bigint => {
          const cands = {list: findCandidates(local, 2, {vmlinux: target})}
          const r = resolveRelo(local, {typeId: 2, accessStr: `0:${idx}`, kind}, cands, le)
          expect(r.result.poison).toBe(false)
          return r.result.newVal
        }
        const byteOff = Number(value(CoreReloKind.FIELD_BYTE_OFFSET))
        const byteSz = Number(value(CoreReloKind.FIELD_BYTE_SIZE))
        const lshift = value(CoreReloKind.FIELD_LSHIFT_U64)
        const rshift = value(CoreReloKind.FIELD_RSHIFT_U64)
        const signed = value(CoreReloKind.FIELD_SIGNED) === 1n
        expect(signed).toBe(typeId === 5)
        expect([1, 2, 4, 8]).toContain(byteSz)
        expect(byteOff % byteSz).toBe(0)
        for (let trial = 0; trial < 20; trial++) {
          const v = rand() & ((1n << BigInt(bits)) - 1n)
          // lay the field out in memory as the compiler does
          const mem = new Uint8Array(40)
          for (let j = 0; j < bits; j++) {
            if (((v >> BigInt(j)) & 1n) === 0n) continue
            const k = le ? bitOff + j : bitOff + bits - 1 - j
            mem[k >> 3]! |= le ? 1 << (k & 7) : 0x80 >> (k & 7)
          }
          // what the BPF program does: load byteSz bytes, shift left, shift right
          let x = 0n
          for (let i = 0; i < byteSz; i++) {
            const byte = BigInt(mem[byteOff + (le ? byteSz - 1 - i : i)]!)
            x = (x << 8n) | byte
          }
          x = BigInt.asUintN(64, x << lshift)
          const got = signed ? BigInt.asIntN(64, x) >> rshift : x >> rshift
          const want = signed ? BigInt.asIntN(bits, v) : v
          expect(got, `${name}: value ${v}`).toBe(want)
        }
      }
    })
  }
})

describe('type relations, both directions', () => {
  // one BTF holding pairs of types to compare with each other
  const b = new BtfBuilder()
  const id = {
    s32: b.add(int('int', 4, true)), // 1
    u64: b.add(int('unsigned long', 8)), // 2
    structA: b.add(T({kind: Kind.STRUCT, name: 'a', size: 4, members: [mem('x', 1, 0)]})), // 3
    unionA: b.add(T({kind: Kind.UNION, name: 'a', size: 4, members: [mem('x', 1, 0)]})), // 4
    fwdA: b.add(T({kind: Kind.FWD, name: 'a'})), // 5 (struct fwd)
    ptrStruct: b.add(T({kind: Kind.PTR, type: 3})), // 6
    ptrFwd: b.add(T({kind: Kind.PTR, type: 5})), // 7
    arr4: b.add(T({kind: Kind.ARRAY, type: 1, indexType: 1, nelems: 4})), // 8
    arr9: b.add(T({kind: Kind.ARRAY, type: 1, indexType: 1, nelems: 9})), // 9
    enumE: b.add(T({kind: Kind.ENUM, name: 'e', size: 4, values: [{name: 'A', nameOff: 0, value: 1}]})), // 10
    enum64E: b.add(T({kind: Kind.ENUM64, name: 'e', size: 8, values: [{name: 'A', nameOff: 0, value: 1n}]})), // 11
    proto1: b.add(T({kind: Kind.FUNC_PROTO, returnType: 1, params: [{name: '', nameOff: 0, type: 6}]})), // 12
    proto2: b.add(T({kind: Kind.FUNC_PROTO, returnType: 1, params: [{name: '', nameOff: 0, type: 6}, {name: '', nameOff: 0, type: 1}]})), // 13
    tdStruct: b.add(T({kind: Kind.TYPEDEF, name: 't', type: 3})), // 14
    constS32: b.add(T({kind: Kind.CONST, type: 1})), // 15
    flt: b.add(T({kind: Kind.FLOAT, name: 'float', size: 4})), // 16
    enumAnon: b.add(T({kind: Kind.ENUM, name: '', size: 4, values: [{name: 'B', nameOff: 0, value: 1}]})), // 17
    enumOther: b.add(T({kind: Kind.ENUM, name: 'other', size: 4, values: [{name: 'A', nameOff: 0, value: 1}]})), // 18
  }
  const btf = b.build()
  const compat = (x: number, y: number): boolean => typesAreCompatible(btf, x, btf, y)
  const field = (x: number, y: number): boolean => fieldsAreCompatible(btf, x, btf, y)
  const match = (x: number, y: number): boolean => typesMatch(btf, x, btf, y)

  it('type compatibility (type-based relocations)', () => {
    const yes: [number, number][] = [
      [id.s32, id.u64], // ints of any size and sign
      [id.structA, id.structA],
      [id.enumE, id.enum64E], // ENUM vs ENUM64
      [id.arr4, id.arr9], // dimensions ignored
      [id.tdStruct, id.tdStruct],
      [id.proto1, id.proto1],
    ]
    const no: [number, number][] = [
      [id.structA, id.unionA],
      [id.proto1, id.proto2], // parameter count
      [id.s32, id.structA],
      [id.tdStruct, id.structA], // kinds are compared before typedefs are skipped...
      [id.constS32, id.s32], // ...and before modifiers are
      [id.ptrStruct, id.ptrFwd], // struct and fwd are different kinds, behind pointers too
    ]
    for (const [x, y] of yes) expect([compat(x, y), compat(y, x)], `${x} ~ ${y}`).toEqual([true, true])
    for (const [x, y] of no) expect([compat(x, y), compat(y, x)], `${x} !~ ${y}`).toEqual([false, false])
  })

  it('field compatibility (field relocations)', () => {
    expect(field(id.structA, id.unionA)).toBe(true) // composites mix
    expect(field(id.s32, id.u64)).toBe(true)
    expect(field(id.ptrStruct, id.ptrFwd)).toBe(true) // any two pointers
    expect(field(id.flt, id.flt)).toBe(true)
    expect(field(id.enumE, id.enumAnon)).toBe(true) // one anonymous
    expect([field(id.enumE, id.enumOther), field(id.enumOther, id.enumE)]).toEqual([false, false])
    expect(field(id.arr4, id.arr9)).toBe(true)
    expect([field(id.s32, id.structA), field(id.structA, id.s32)]).toEqual([false, false])
  })

  it('type matching (TYPE_MATCHES)', () => {
    expect(match(id.structA, id.structA)).toBe(true)
    expect(match(id.s32, id.constS32)).toBe(true)
    expect([match(id.s32, id.u64), match(id.u64, id.s32)]).toEqual([false, false]) // size and sign count
    expect([match(id.arr4, id.arr9), match(id.arr9, id.arr4)]).toEqual([false, false]) // element counts count
    expect([match(id.ptrStruct, id.ptrFwd), match(id.ptrFwd, id.ptrStruct)]).toEqual([true, true]) // fwd behind a pointer
    expect([match(id.structA, id.fwdA), match(id.fwdA, id.structA)]).toEqual([false, false]) // but not directly
    expect([match(id.enumE, id.enum64E)]).toEqual([false]) // sizes differ
    expect(match(id.flt, id.flt)).toBe(false) // libbpf has no rule for FLOAT
    expect([match(id.proto1, id.proto2), match(id.proto2, id.proto1)]).toEqual([false, false])
  })
})

describe('candidates', () => {
  it('fall back to module BTF only when vmlinux has none, and only module-own types', () => {
    const m = moduleFixtures().find((x) => x.module === 'nft_ct')
    if (!m) return
    const base = parseBtf(m.base.btf)
    const mod = parseBtf(m.btf, {base})
    const lb = new BtfBuilder()
    lb.add(T({kind: Kind.STRUCT, name: 'nft_ct___mine', size: 0, members: []}))
    lb.add(T({kind: Kind.STRUCT, name: 'task_struct', size: 0, members: []}))
    const local = lb.build()
    const inModule = findCandidates(local, 1, {vmlinux: base, modules: [{name: 'nft_ct', btf: mod}]})
    expect(inModule.length).toBeGreaterThan(0)
    expect(inModule.every((c) => c.source === 'nft_ct' && c.id > base.lastId && mod.typeById(c.id).name === 'nft_ct')).toBe(true)
    expect(findCandidates(local, 1, {vmlinux: base})).toEqual([]) // btf_custom_path: no modules
    const inVmlinux = findCandidates(local, 2, {vmlinux: base, modules: [{name: 'nft_ct', btf: mod}]})
    expect(inVmlinux.map((c) => c.source)).toEqual(['vmlinux'])
  })
})

describe('instructions', () => {
  const view = (insns: [number, number, number, number][]): InsnView => ({
    count: insns.length,
    code: (i) => insns[i]![0],
    dstReg: () => 1,
    srcReg: (i) => insns[i]![1],
    off: (i) => insns[i]![2],
    imm: (i) => insns[i]![3],
  })
  const res = {origVal: 8n, newVal: 40000n, poison: false, validate: true, failMemszAdjust: false, origSize: 4, newSize: 4, origTypeId: 0, newTypeId: 0}
  it('libbpf refuses: ALU with a register operand, a value that does not match, an offset past 32767', () => {
    expect(() => patchInsn(view([[0x0f, 2, 0, 8]]), 0, res, '')).toThrow(/immediate/) // BPF_ALU64 | BPF_X | BPF_ADD
    expect(() => patchInsn(view([[0x07, 0, 0, 9]]), 0, res, '')).toThrow(/unexpected insn/)
    expect(() => patchInsn(view([[0x61, 2, 8, 0]]), 0, res, '')).toThrow(/too big/) // LDX W
    expect(patchInsn(view([[0x07, 0, 0, 8]]), 0, res, '')).toMatchObject({kind: 'patched', value: 40000n})
  })
  it('a poisoned ld_imm64 loses both slots', () => {
    const p = patchInsn(view([[0x18, 0, 0, 1], [0, 0, 0, 0]]), 0, {...res, poison: true}, 'gone')
    expect(p).toEqual({kind: 'poisoned', insnClass: 'ld_imm64', reason: 'gone', insns: [0, 1]})
  })
})

describe('corrupt input throws CoreError', () => {
  const b = new BtfBuilder()
  b.add(int('int', 4))
  b.add(T({kind: Kind.STRUCT, name: 's', size: 8, members: [mem('x', 1, 0), mem('arr', 3, 32)]}))
  b.add(T({kind: Kind.ARRAY, type: 1, indexType: 1, nelems: 1}))
  const btf = b.build()
  const cases: [string, number, number, string][] = [
    ['', 2, CoreReloKind.FIELD_BYTE_OFFSET, 'CORE_BAD_ACCESS'],
    ['0:', 2, CoreReloKind.FIELD_BYTE_OFFSET, 'CORE_BAD_ACCESS'],
    ['0::1', 2, CoreReloKind.FIELD_BYTE_OFFSET, 'CORE_BAD_ACCESS'],
    ['0:-1', 2, CoreReloKind.FIELD_BYTE_OFFSET, 'CORE_BAD_ACCESS'],
    ['0:2', 2, CoreReloKind.FIELD_BYTE_OFFSET, 'CORE_BAD_ACCESS'], // no member 2
    ['0:1:1', 2, CoreReloKind.FIELD_BYTE_OFFSET, 'CORE_BAD_ACCESS'], // past the array
    ['0:0:0', 2, CoreReloKind.FIELD_BYTE_OFFSET, 'CORE_BAD_ACCESS'], // into an int
    ['1', 2, CoreReloKind.TYPE_EXISTS, 'CORE_BAD_ACCESS'], // type relocations use "0"
    ['0', 2, CoreReloKind.ENUMVAL_VALUE, 'CORE_BAD_ACCESS'], // not an enum
    ['0', 99, CoreReloKind.TYPE_EXISTS, 'CORE_BAD_TYPE_ID'],
    [Array(65).fill('0').join(':'), 2, CoreReloKind.FIELD_BYTE_OFFSET, 'CORE_BAD_ACCESS'],
  ]
  for (const [access, typeId, kind, code] of cases) {
    it(`"${access.slice(0, 20)}" on [${typeId}] kind ${kind} -> ${code}`, () => {
      let err: unknown
      try {
        parseSpec(btf, typeId, access, kind)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(CoreError)
      expect((err as CoreError).code).toBe(code)
    })
  }
  it('a flexible array accepts any index', () => {
    const fb = new BtfBuilder()
    fb.add(int('int', 4))
    fb.add(T({kind: Kind.STRUCT, name: 'f', size: 4, members: [mem('n', 1, 0), mem('tail', 3, 32)]}))
    fb.add(T({kind: Kind.ARRAY, type: 1, indexType: 1, nelems: 0}))
    expect(parseSpec(fb.build(), 2, '0:1:1000', CoreReloKind.FIELD_BYTE_OFFSET).bitOffset).toBe(32 + 1000 * 32)
  })
})

describe('candidate lookup by essential name', () => {
  // Reference: the essential name of every type, computed one by one.
  const naive = (btf: ReturnType<typeof parseBtf>, name: string, essentialName: (n: string) => string): number[] => {
    const out: number[] = []
    for (let id = 1; id <= btf.lastId; id++) {
      const n = btf.typeById(id).name
      if (n !== '' && essentialName(n) === name) out.push(id)
    }
    return out
  }
  it('the name-index lookup (eager and lazy parse) equals a type-by-type essential-name scan', async () => {
    const {kernelFixtures} = await import('../helpers/fixtures.js')
    const {essentialName} = await import('../../src/btf/btf.js')
    const k = kernelFixtures()[0]
    if (!k) return
    const eager = parseBtf(k.btf)
    const lazy = parseBtf(k.btf, {lazy: true})
    const names = new Set<string>()
    eager.types.forEach((t, i) => {
      if (t.name !== '' && i % 97 === 0) names.add(essentialName(t.name))
    })
    for (const extra of ['task_struct', 'task_struct___x', 'a____b', 'x___', '___x', 'nope']) names.add(extra)
    const byId = new Map<string, number[]>()
    eager.types.forEach((t, i) => {
      if (t.name === '') return
      const e = essentialName(t.name)
      if (!names.has(e)) return
      const l = byId.get(e)
      if (l) l.push(i + 1)
      else byId.set(e, [i + 1])
    })
    for (const n of names) {
      expect(eager.idsByEssentialName(n), n).toEqual(byId.get(n) ?? [])
      expect(lazy.idsByEssentialName(n), n).toEqual(byId.get(n) ?? [])
    }
  })
  it('flavored names join their essential name in id order; four underscores and leading ___ do not', async () => {
    const {essentialName} = await import('../../src/btf/btf.js')
    const b = new BtfBuilder()
    const names = ['foo___b', 'foo', 'foo___a___c', 'foo____x', '___foo', 'foo___a', 'bar', 'foo___', 'foo', 'x___foo']
    for (const n of names) b.add(T({kind: Kind.STRUCT, name: n, size: 0, members: []}))
    const built = b.build()
    const lazy = parseBtf(b.encode(), {lazy: true})
    for (const q of ['foo', 'foo___a', 'foo____x', '___foo', 'bar', 'foo___', 'x']) {
      expect(built.idsByEssentialName(q), q).toEqual(naive(built, q, essentialName))
      expect(lazy.idsByEssentialName(q), q).toEqual(naive(built, q, essentialName))
    }
    // spot check against the rule itself: foo, foo___b and foo___a are foo; foo___a___c is foo___a
    expect(built.idsByEssentialName('foo')).toEqual([1, 2, 6, 9])
    expect(built.idsByEssentialName('foo___a')).toEqual([3])
  })
})
