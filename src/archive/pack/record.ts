/**
 * The canonical record form of one BTF type, as the pack (pack.ts) stores it.
 *
 * A record is a type with its ids taken out: kind, kind_flag and linkage, name (an index
 * in the pack's global string table), the type's own fields (INT encoding and bits; size;
 * ARRAY nelems; member names, bit offsets (delta-coded against the previous member) and
 * bitfield sizes; enumerator names and values; parameter names; DATASEC var offsets and
 * sizes; DECL_TAG component index), then one *reference* per type id the type refers to,
 * in wire order (forEachTypeRef's order):
 *
 *   0            void (id 0);
 *   1 + 2*z      another record; in the record's identity z is the target's record index,
 *                in the stored form zigzag(own index - target index) (children are written
 *                just before their parents, so the delta is small);
 *   2 + 2*k      a *name reference* to key k (below).
 *
 * Name references cut cycles. Every edge to a named STRUCT, UNION, FWD, TYPEDEF, ENUM or
 * ENUM64 (libbpf's nominal kinds, by value or through a pointer) names its target by the
 * key (kind, kind_flag, name) instead of pointing at its record, and the reader resolves
 * the key inside the BTF being rebuilt (unit.ts). C can only close a cycle through a tag
 * or typedef name, so with these edges cut the remaining graph is acyclic and records can
 * be hash-consed children first: two types of any two kernels share a record exactly when
 * they have the same kind, name, fields and referenced records or keys. libbpf's dedup
 * splits the same way (libbpf src/btf.c, btf_hash_struct hashes a struct's name, size and
 * member names and offsets, ignoring referenced type ids; btf_dedup_is_equiv settles
 * those by walking both graphs); here a name lookup in the kernel being rebuilt does.
 */
import type {BtfType} from '../../btf/types.js'
import {Kind} from '../../btf/wire.js'
import {type ByteReader, ByteWriter} from './varint.js'

/** Kinds whose named types are referred to by key (a name reference), never by record. */
const NOMINAL = new Set<number>([Kind.STRUCT, Kind.UNION, Kind.FWD, Kind.TYPEDEF, Kind.ENUM, Kind.ENUM64])

/** A name-reference key, as a string (kind|kind_flag|name), or undefined when `t` cannot be named. */
export function keyOf(kind: number, kindFlag: boolean, name: string): string | undefined {
  return NOMINAL.has(kind) && name !== '' ? `${kind}|${kindFlag ? 1 : 0}|${name}` : undefined
}

/** Writes a record's own fields (not its references); `str` interns a string. */
export function writeFields(w: ByteWriter, t: BtfType, str: (s: string) => number): void {
  w.u(t.kind)
  w.u((t.kindFlag ? 1 : 0) | (t.kind === Kind.FUNC || t.kind === Kind.VAR ? t.linkage << 1 : 0))
  w.u(str(t.name))
  switch (t.kind) {
    case Kind.INT:
      w.u(t.size)
      w.u(t.encoding)
      w.u(t.bitOffset)
      w.u(t.bits)
      break
    case Kind.ARRAY:
      w.u(t.nelems)
      break
    case Kind.STRUCT:
    case Kind.UNION: {
      w.u(t.size)
      w.u(t.members.length)
      let prev = 0
      for (const m of t.members) {
        w.u(str(m.name))
        w.s(m.bitOffset - prev)
        prev = m.bitOffset
        if (t.kindFlag) w.u(m.bitfieldSize)
      }
      break
    }
    case Kind.ENUM:
      w.u(t.size)
      w.u(t.values.length)
      for (const v of t.values) {
        w.u(str(v.name))
        w.s(v.value)
      }
      break
    case Kind.ENUM64:
      w.u(t.size)
      w.u(t.values.length)
      for (const v of t.values) {
        w.u(str(v.name))
        w.big(v.value)
      }
      break
    case Kind.FUNC_PROTO:
      w.u(t.params.length)
      for (const p of t.params) w.u(str(p.name))
      break
    case Kind.DATASEC:
      w.u(t.size)
      w.u(t.vars.length)
      for (const v of t.vars) {
        w.u(v.offset)
        w.u(v.size)
      }
      break
    case Kind.FLOAT:
      w.u(t.size)
      break
    case Kind.DECL_TAG:
      w.u(t.componentIdx + 1)
      break
    default:
  }
}

/**
 * A decoded record: the type with references still unresolved (ids 0), and its
 * references: 0 void, r + 1 for record r, -(k + 1) for key k.
 */
export interface DecodedRecord {
  t: BtfType
  refs: number[]
  /** Where the references begin (the record's fields end) in the reader's buffer. */
  fieldsEnd: number
}

/** The kind, kind_flag and name index at the head of a record (what its key is made of). */
export function recordHead(r: ByteReader): {kind: number; kindFlag: boolean; name: number} {
  const kind = r.u()
  const fl = r.u()
  return {kind, kindFlag: (fl & 1) === 1, name: r.u()}
}

/**
 * Decodes the record at r.p, whose index is `index` (stored references are relative to
 * it). `strs` is the global string table, `keyCount` and `index` bound the references.
 */
export function readRecord(r: ByteReader, strs: readonly string[], index: number, keyCount: number): DecodedRecord {
  const kind = r.u()
  const fl = r.u()
  const name = (): string => strs[r.below(strs.length, 'string index')]!
  const kindFlag = (fl & 1) === 1
  const linkage = fl >> 1
  const n0 = name()
  let nrefs = 0
  let t: BtfType
  switch (kind) {
    case Kind.INT:
      t = {kind, kindFlag, name: n0, nameOff: 0, size: r.u(), encoding: r.u(), bitOffset: r.u(), bits: r.u()}
      break
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
      t = {kind, kindFlag, name: n0, nameOff: 0, type: 0} as BtfType
      nrefs = 1
      break
    case Kind.FUNC:
    case Kind.VAR:
      t = {kind, kindFlag, name: n0, nameOff: 0, type: 0, linkage} as BtfType
      nrefs = 1
      break
    case Kind.ARRAY:
      t = {kind, kindFlag, name: n0, nameOff: 0, type: 0, indexType: 0, nelems: r.u()}
      nrefs = 2
      break
    case Kind.STRUCT:
    case Kind.UNION: {
      const size = r.u()
      const n = r.below(0x10000, 'member count')
      const members = []
      let prev = 0
      for (let i = 0; i < n; i++) {
        const mn = name()
        prev += r.s()
        members.push({name: mn, nameOff: 0, type: 0, bitOffset: prev, bitfieldSize: kindFlag ? r.u() : 0})
      }
      t = {kind, kindFlag, name: n0, nameOff: 0, size, members}
      nrefs = n
      break
    }
    case Kind.ENUM: {
      const size = r.u()
      const n = r.below(0x10000, 'enumerator count')
      const values = []
      for (let i = 0; i < n; i++) values.push({name: name(), nameOff: 0, value: r.s()})
      t = {kind, kindFlag, name: n0, nameOff: 0, size, values}
      break
    }
    case Kind.ENUM64: {
      const size = r.u()
      const n = r.below(0x10000, 'enumerator count')
      const values = []
      for (let i = 0; i < n; i++) values.push({name: name(), nameOff: 0, value: r.big()})
      t = {kind, kindFlag, name: n0, nameOff: 0, size, values}
      break
    }
    case Kind.FUNC_PROTO: {
      const n = r.below(0x10000, 'parameter count')
      const params = []
      for (let i = 0; i < n; i++) params.push({name: name(), nameOff: 0, type: 0})
      t = {kind, kindFlag, name: n0, nameOff: 0, returnType: 0, params}
      nrefs = n + 1
      break
    }
    case Kind.DATASEC: {
      const size = r.u()
      const n = r.below(0x10000, 'var count')
      const vars = []
      for (let i = 0; i < n; i++) vars.push({type: 0, offset: r.u(), size: r.u()})
      t = {kind, kindFlag, name: n0, nameOff: 0, size, vars}
      nrefs = n
      break
    }
    case Kind.FLOAT:
      t = {kind, kindFlag, name: n0, nameOff: 0, size: r.u()}
      break
    case Kind.DECL_TAG:
      t = {kind, kindFlag, name: n0, nameOff: 0, type: 0, componentIdx: r.u() - 1}
      nrefs = 1
      break
    case Kind.FWD:
      t = {kind, kindFlag, name: n0, nameOff: 0}
      break
    default:
      return r.fail(`record ${index}: unknown kind ${kind}`)
  }
  const fieldsEnd = r.p
  const refs: number[] = new Array(nrefs)
  for (let i = 0; i < nrefs; i++) {
    const v = r.u()
    if (v === 0) refs[i] = 0
    else if (v % 2 === 1) {
      const z = (v - 1) / 2
      const target = index - (z % 2 === 0 ? z / 2 : -(z + 1) / 2)
      if (target < 0 || target >= index) r.fail(`record ${index}: reference to record ${target}, not an earlier one`)
      refs[i] = target + 1
    } else {
      const k = (v - 2) / 2
      if (k >= keyCount) r.fail(`record ${index}: key ${k} out of range`)
      refs[i] = -(k + 1)
    }
  }
  return {t, refs, fieldsEnd}
}

/** Sets a decoded type's references (ids, wire order): the inverse of forEachTypeRef. */
export function setRefs(t: BtfType, ids: readonly number[]): void {
  switch (t.kind) {
    case Kind.ARRAY:
      t.type = ids[0]!
      t.indexType = ids[1]!
      break
    case Kind.STRUCT:
    case Kind.UNION:
      for (let i = 0; i < t.members.length; i++) t.members[i]!.type = ids[i]!
      break
    case Kind.FUNC_PROTO:
      t.returnType = ids[0]!
      for (let i = 0; i < t.params.length; i++) t.params[i]!.type = ids[i + 1]!
      break
    case Kind.DATASEC:
      for (let i = 0; i < t.vars.length; i++) t.vars[i]!.type = ids[i]!
      break
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
    case Kind.FUNC:
    case Kind.VAR:
    case Kind.DECL_TAG:
      t.type = ids[0]!
      break
    default:
  }
}

export {ByteWriter}
