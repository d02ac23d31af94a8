/**
 * Bad input must give a BtfError with a stable code and a byte offset: never a crash,
 * a hang or an unbounded allocation.
 */
import {describe, expect, it} from 'vitest'
import {Btf} from '../../src/btf/btf.js'
import {parseBtf} from '../../src/btf/decode.js'
import {BtfBuilder, encodeBtf} from '../../src/btf/encode.js'
import {dumpRawString} from '../../src/btf/rawdump.js'
import {Kind} from '../../src/btf/wire.js'
import {BtfError} from '../../src/errors.js'
import {kernelFixtures, moduleFixtures, sysVmlinux} from '../helpers/fixtures.js'
import {mulberry32} from '../helpers/random.js'

/** A small BTF using every kind. */
function sample(): Uint8Array {
  const b = new BtfBuilder()
  const int = b.add({kind: Kind.INT, name: 'int', nameOff: 0, kindFlag: false, size: 4, encoding: 1, bitOffset: 0, bits: 32})
  const ptr = b.add({kind: Kind.PTR, name: '', nameOff: 0, kindFlag: false, type: int})
  const arr = b.add({kind: Kind.ARRAY, name: '', nameOff: 0, kindFlag: false, type: int, indexType: int, nelems: 4})
  const st = b.add({
    kind: Kind.STRUCT, name: 's', nameOff: 0, kindFlag: false, size: 24,
    members: [
      {name: 'a', nameOff: 0, type: int, bitOffset: 0, bitfieldSize: 0},
      {name: 'p', nameOff: 0, type: ptr, bitOffset: 64, bitfieldSize: 0},
      {name: 'v', nameOff: 0, type: arr, bitOffset: 128, bitfieldSize: 0},
    ],
  })
  b.add({kind: Kind.UNION, name: 'u', nameOff: 0, kindFlag: true, size: 4, members: [{name: 'x', nameOff: 0, type: int, bitOffset: 0, bitfieldSize: 5}]})
  b.add({kind: Kind.ENUM, name: 'e', nameOff: 0, kindFlag: true, size: 4, values: [{name: 'A', nameOff: 0, value: -1}]})
  b.add({kind: Kind.FWD, name: 'f', nameOff: 0, kindFlag: false})
  const td = b.add({kind: Kind.TYPEDEF, name: 't', nameOff: 0, kindFlag: false, type: st})
  b.add({kind: Kind.VOLATILE, name: '', nameOff: 0, kindFlag: false, type: td})
  const c = b.add({kind: Kind.CONST, name: '', nameOff: 0, kindFlag: false, type: int})
  b.add({kind: Kind.RESTRICT, name: '', nameOff: 0, kindFlag: false, type: ptr})
  const proto = b.add({kind: Kind.FUNC_PROTO, name: '', nameOff: 0, kindFlag: false, returnType: int, params: [{name: 'x', nameOff: 0, type: c}]})
  const fn = b.add({kind: Kind.FUNC, name: 'fn', nameOff: 0, kindFlag: false, type: proto, linkage: 1})
  const v = b.add({kind: Kind.VAR, name: 'gv', nameOff: 0, kindFlag: false, type: int, linkage: 1})
  b.add({kind: Kind.DATASEC, name: '.data', nameOff: 0, kindFlag: false, size: 4, vars: [{type: v, offset: 0, size: 4}]})
  b.add({kind: Kind.FLOAT, name: 'float', nameOff: 0, kindFlag: false, size: 4})
  b.add({kind: Kind.DECL_TAG, name: 'tag', nameOff: 0, kindFlag: false, type: fn, componentIdx: 0})
  b.add({kind: Kind.TYPE_TAG, name: 'user', nameOff: 0, kindFlag: false, type: int})
  b.add({kind: Kind.ENUM64, name: 'e64', nameOff: 0, kindFlag: false, size: 8, values: [{name: 'B', nameOff: 0, value: 1n << 63n}]})
  return b.encode()
}

function expectCode(bytes: Uint8Array, code: string): BtfError {
  try {
    parseBtf(bytes)
  } catch (e) {
    expect(e).toBeInstanceOf(BtfError)
    expect((e as BtfError).code).toBe(code)
    return e as BtfError
  }
  throw new Error(`expected ${code}, parsed fine`)
}

const u32 = (b: Uint8Array, off: number, v: number): Uint8Array => {
  const c = Uint8Array.from(b)
  new DataView(c.buffer).setUint32(off, v, true)
  return c
}

describe('malformed BTF gives a BtfError with a stable code and offset', () => {
  const good = sample()
  const typeLen = new DataView(good.buffer).getUint32(12, true)

  it('the sample itself is valid and has every kind', () => {
    const btf = parseBtf(good)
    expect(new Set(btf.types.map((t) => t.kind)).size).toBe(19)
  })
  it('empty and short input: BTF_TRUNCATED at 0', () => {
    expect(expectCode(new Uint8Array(0), 'BTF_TRUNCATED').offset).toBe(0)
    expect(expectCode(good.subarray(0, 23), 'BTF_TRUNCATED').offset).toBe(0)
  })
  it('wrong magic: BTF_BAD_MAGIC', () => {
    const c = Uint8Array.from(good)
    c[0] = 0x7f
    expect(expectCode(c, 'BTF_BAD_MAGIC').offset).toBe(0)
  })
  it('unknown version / flags', () => {
    const v = Uint8Array.from(good)
    v[2] = 2
    expectCode(v, 'BTF_BAD_VERSION')
    const f = Uint8Array.from(good)
    f[3] = 1
    expectCode(f, 'BTF_BAD_FLAGS')
  })
  it('header length shorter than 24 or past the end', () => {
    expectCode(u32(good, 4, 8), 'BTF_BAD_HEADER')
    expectCode(u32(good, 4, 1 << 30), 'BTF_TRUNCATED')
  })
  it('sections out of range, misaligned or overlapping', () => {
    expect(expectCode(u32(good, 12, typeLen + 10_000), 'BTF_TRUNCATED').offset).toBe(12)
    expect(expectCode(u32(good, 20, 1 << 31), 'BTF_TRUNCATED').offset).toBe(20)
    expectCode(u32(good, 8, 2), 'BTF_BAD_SECTION')
    expectCode(u32(good, 16, 4), 'BTF_BAD_SECTION')
  })
  it('truncated data: every cut point fails cleanly', () => {
    for (let len = 0; len < good.length; len++) {
      const cut = good.subarray(0, len)
      expect(() => parseBtf(cut)).toThrow(BtfError)
    }
  })
  it('string section not NUL-terminated or not starting with ""', () => {
    const c = Uint8Array.from(good)
    c[c.length - 1] = 0x41
    expect(expectCode(c, 'BTF_BAD_STRINGS').offset).toBe(c.length - 1)
    const d = Uint8Array.from(good)
    d[24 + typeLen] = 0x41
    expectCode(d, 'BTF_BAD_STRINGS')
  })
  it('name offset out of range: BTF_BAD_STRING_OFFSET at the record', () => {
    const e = expectCode(u32(good, 24, 0xffffff), 'BTF_BAD_STRING_OFFSET')
    expect(e.offset).toBe(24)
  })
  it('unknown kind: BTF_UNKNOWN_KIND', () => {
    const e = expectCode(u32(good, 28, (25 << 24) >>> 0), 'BTF_UNKNOWN_KIND')
    expect(e.offset).toBe(28)
    expectCode(u32(good, 28, 0), 'BTF_UNKNOWN_KIND')
  })
  it('absurd vlen: BTF_TRUNCATED before allocating', () => {
    // the 4th type (struct s) starts after INT(16) + PTR(12) + ARRAY(24)
    const at = 24 + 16 + 12 + 24
    const e = expectCode(u32(good, at + 4, ((Kind.STRUCT << 24) | 0xffff) >>> 0), 'BTF_TRUNCATED')
    expect(e.offset).toBe(at)
  })
  it('reserved INT bits: BTF_BAD_INT', () => {
    expectCode(u32(good, 24 + 12, 0x0000ff20), 'BTF_BAD_INT')
  })
  it('type id past the end: BTF_BAD_TYPE_ID', () => {
    // PTR (id 2) at 24+16 points to id 999
    expect(expectCode(u32(good, 24 + 16 + 8, 999), 'BTF_BAD_TYPE_ID').offset).toBe(24 + 16)
  })
  it('reference cycles: BTF_CYCLE', () => {
    // PTR (id 2) pointing at itself
    expectCode(u32(good, 24 + 16 + 8, 2), 'BTF_CYCLE')
    // const(10) -> typedef? make typedef t (id 8) point at volatile (id 9) which points at t
    const b = new BtfBuilder()
    b.add({kind: Kind.TYPEDEF, name: 'a', nameOff: 0, kindFlag: false, type: 2})
    b.add({kind: Kind.CONST, name: '', nameOff: 0, kindFlag: false, type: 3})
    b.add({kind: Kind.ARRAY, name: '', nameOff: 0, kindFlag: false, type: 1, indexType: 0, nelems: 1})
    expectCode(b.encode(), 'BTF_CYCLE')
  })
  it('split BTF refers into its base and rejects ids past its end', () => {
    const base = parseBtf(good)
    const b = new BtfBuilder({base})
    const id = b.add({kind: Kind.PTR, name: '', nameOff: 0, kindFlag: false, type: 4})
    expect(id).toBe(base.lastId + 1)
    b.add({kind: Kind.TYPEDEF, name: 's', nameOff: 0, kindFlag: false, type: id})
    const split = b.build()
    expect(split.typeById(id + 1).name).toBe('s')
    expect(split.typeById(4).name).toBe('s')
    expect(split.idsByName('s')).toEqual([4, id + 1])
    expect(() => split.typeById(id + 2)).toThrow(BtfError)
  })
})

/** Touches everything a consumer would: names, sizes, resolution and the raw dump. */
function exercise(btf: Btf): void {
  dumpRawString(btf)
  for (let id = btf.startId; id <= btf.lastId; id++) {
    try {
      btf.sizeOf(id)
      btf.alignOf(id)
      btf.skipTypedefsAndModifiers(id)
    } catch (e) {
      if (!(e instanceof BtfError)) throw e
    }
  }
  encodeBtf(btf)
}

function fuzz(input: Uint8Array, rounds: number, seed: number, base?: Btf): {ok: number; rejected: Map<string, number>} {
  const rnd = mulberry32(seed)
  const rejected = new Map<string, number>()
  let ok = 0
  for (let i = 0; i < rounds; i++) {
    const c = Uint8Array.from(input)
    const edits = 1 + Math.floor(rnd() * 4)
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rnd() * c.length)
      const r = rnd()
      if (r < 0.5) c[at] = Math.floor(rnd() * 256)
      else if (r < 0.8) c[at]! ^= 1 << Math.floor(rnd() * 8)
      else c[at] = [0, 0xff, 0x7f, 0x80][Math.floor(rnd() * 4)]!
    }
    const bytes = rnd() < 0.1 ? c.subarray(0, Math.floor(rnd() * c.length)) : c
    // The lazy parse validates the same way up front: same verdict, same code and offset.
    let lazyOutcome: string
    try {
      exercise(parseBtf(bytes, {base, lazy: true}))
      lazyOutcome = 'ok'
    } catch (e) {
      if (!(e instanceof BtfError)) throw new Error(`seed ${seed} round ${i} (lazy): ${(e as Error).stack}`)
      lazyOutcome = `${e.code}@${e.offset}`
    }
    try {
      exercise(parseBtf(bytes, {base}))
      ok++
      expect(lazyOutcome, `seed ${seed} round ${i}`).toBe('ok')
    } catch (e) {
      if (!(e instanceof BtfError)) throw new Error(`seed ${seed} round ${i}: ${(e as Error).stack}`)
      expect(e.code).toMatch(/^BTF_[A-Z_]+$/)
      expect(lazyOutcome, `seed ${seed} round ${i}`).toBe(`${e.code}@${e.offset}`)
      rejected.set(e.code, (rejected.get(e.code) ?? 0) + 1)
    }
  }
  return {ok, rejected}
}

describe('fuzz: thousands of mutations of real BTF never crash', () => {
  it('every-kind sample: 5000 mutations', () => {
    const r = fuzz(sample(), 5000, 1)
    expect(r.ok + [...r.rejected.values()].reduce((a, b) => a + b, 0)).toBe(5000)
    expect(r.rejected.size).toBeGreaterThan(3)
  })
  const mods = moduleFixtures()
  for (const m of mods.slice(0, 1)) {
    it(`module ${m.module} split on ${m.release}: 2000 mutations`, () => {
      const base = parseBtf(m.base.btf)
      fuzz(m.btf, 2000, 2, base)
    })
  }
  const k = kernelFixtures()[0]
  const sys = sysVmlinux()
  const big = k?.btf ?? sys
  it.skipIf(!big)('kernel BTF header and first types: 50 mutations of the first 4 KiB', () => {
    // Mutate only the header and the first records of a whole kernel's BTF (parsing
    // 100k+ types per round would take too long for thousands of rounds).
    const rnd = mulberry32(3)
    for (let i = 0; i < 50; i++) {
      const c = Uint8Array.from(big!)
      for (let e = 0; e < 3; e++) c[Math.floor(rnd() * 4096)] = Math.floor(rnd() * 256)
      try {
        parseBtf(c)
      } catch (e) {
        if (!(e instanceof BtfError)) throw e
      }
    }
  })
})
