/**
 * One *unit* of the pack: a kernel's vmlinux BTF or one module's split BTF, stored as the
 * list of its types' records (record.ts) plus what it takes to rebuild its exact bytes.
 *
 * Writing (packUnit). Records are hash-consed children first: an iterative post-order
 * walk from each id up, following record references only (name references are not
 * followed, which is what makes the walk terminate: with nominal edges cut, C's type
 * graph has no cycles). A type's identity is its fields plus its references as record
 * indexes or keys; an identity already in the tables gives the existing record, else a
 * new record is appended. The unit's *list* is its types' record indexes in id order.
 *
 * Resolving references back to ids. A record reference only says "a type with record r",
 * a name reference "the type with key k". The reader resolves either to the *lowest id in
 * scope* with that record (key): the unit's own types and, for split BTF, its vmlinux's
 * types, which come first. Where the writer sees that the actual target is another id
 * (BTF that keeps two `struct foo`, or two types with equal records), it writes an
 * *exception* (id, slot, target id) into the list.
 *
 * String table. The records keep names, not offsets, so the rebuild must lay out the
 * unit's string section exactly as the original did. Walking the types in id order and
 * each type's names in wire order (name, then member / enumerator / parameter names)
 * gives every name in *first-reference order*; for split BTF a name the vmlinux string
 * section holds is taken from there (libbpf's dedup does the same) and the rest form the
 * module's own section. libbpf's btf_dedup_strings lays out the section in nearly this
 * order, but not exactly (strings pahole added before dedup keep their place), so a unit
 * records its section as the rank in first-reference order of each string, in section
 * order, delta-coded against the previous rank + 1: a run of zeros where the orders
 * agree. Nothing is recorded when they agree throughout.
 *
 * Byte identity. packUnit rebuilds the unit's bytes from the types and the recorded
 * string layout (canonical header, types, strings) and compares them with the original;
 * a unit that does not come back byte for byte (another header size, a name pointing into
 * the middle of a string, a string the types do not use, a reference cycle through
 * anonymous types) is kept *raw*: its bytes verbatim in the segment. Counted, never
 * silent (the writer reports how many).
 */
import {parseHeader} from '../../btf/decode.js'
import type {Btf} from '../../btf/btf.js'
import {encodeBtfWith} from '../../btf/encode.js'
import {type BtfType, forEachTypeRef} from '../../btf/types.js'
import {Kind} from '../../btf/wire.js'
import {InputError} from '../../errors.js'
import {keyOf, recordHead, setRefs, writeFields} from './record.js'
import type {PackTables} from './tables.js'
import {type ByteReader, ByteWriter} from './varint.js'

export interface PackedUnit {
  littleEndian: boolean
  /** Record index of each own type, in id order (empty for a raw unit that has none). */
  rec: Int32Array
  /** Exceptions, flat triples: (id - start id, reference slot, target id). */
  exceptions: number[]
  /** String section as first-reference ranks in section order; null = first-reference order. */
  strRanks: Int32Array | null
  /**
   * Strings of the section that no type names (global string indexes), ranked after the
   * first-reference order in that order; absent when there are none. pahole 1.28 and later
   * leave some in vmlinux BTF (Debian 13's and 14's kernels: about 140, names of
   * optimized-out parameters and locals).
   */
  extra?: number[]
  /** The unit's bytes verbatim, when it cannot be rebuilt from records. */
  raw?: Uint8Array
}

/** What a module's split BTF sees of its vmlinux: ids, records, keys and strings. */
export interface BaseScope {
  lastId: number
  /** Length of the vmlinux string section: where a module's own string offsets begin. */
  strEnd: number
  strOff: Map<string, number>
  rec: Int32Array
  lowRec: Map<number, number>
  lowKey: Map<string, number>
}

function refsOf(t: BtfType): number[] {
  const out: number[] = []
  forEachTypeRef(t, (id) => out.push(id))
  return out
}

/** Calls fn for each name of a type in wire order: its name, then member/enumerator/parameter names. */
function forEachName(t: BtfType, fn: (name: string) => void): void {
  fn(t.name)
  switch (t.kind) {
    case Kind.STRUCT:
    case Kind.UNION:
      for (const m of t.members) fn(m.name)
      break
    case Kind.ENUM:
    case Kind.ENUM64:
      for (const v of t.values) fn(v.name)
      break
    case Kind.FUNC_PROTO:
      for (const p of t.params) fn(p.name)
      break
    default:
  }
}

/** The unit's own strings in first-reference order, and each one's rank. */
function firstReference(types: readonly BtfType[], base: BaseScope | undefined): {order: string[]; rank: Map<string, number>} {
  const order: string[] = []
  const rank = new Map<string, number>()
  if (!base) {
    order.push('')
    rank.set('', 0)
  }
  const visit = (n: string): void => {
    if (base?.strOff.has(n) || rank.has(n)) return
    rank.set(n, order.length)
    order.push(n)
  }
  for (const t of types) forEachName(t, visit)
  return {order, rank}
}

/** Encodes types with their own string section holding `table` in that order. */
function encodeLayout(types: readonly BtfType[], table: readonly string[], base: BaseScope | undefined, le: boolean): Uint8Array {
  const own = new Map<string, number>()
  let off = base ? base.strEnd : 0
  const parts: Buffer[] = []
  for (const s of table) {
    const b = Buffer.from(`${s}\0`, 'utf8')
    if (!own.has(s)) own.set(s, off)
    off += b.length
    parts.push(b)
  }
  const strBytes = Buffer.concat(parts)
  return encodeBtfWith(types, strBytes, le, (n) => base?.strOff.get(n) ?? own.get(n)!)
}

/** The strings of a string section, in order (it ends in NUL or is empty). */
function splitStrings(sec: Uint8Array): string[] | undefined {
  if (sec.length === 0) return []
  if (sec[sec.length - 1] !== 0) return undefined
  return Buffer.from(sec.buffer, sec.byteOffset, sec.length - 1).toString('utf8').split('\0')
}

/** string -> offset of its first occurrence in a (vmlinux) string section. */
export function stringOffsets(rawBtf: Uint8Array): {strOff: Map<string, number>; strEnd: number} {
  const {header} = parseHeader(rawBtf)
  const start = header.hdrLen + header.strOff
  const sec = rawBtf.subarray(start, start + header.strLen)
  const strOff = new Map<string, number>()
  let p = 0
  for (const s of splitStrings(sec) ?? []) {
    if (!strOff.has(s)) strOff.set(s, p)
    p += Buffer.byteLength(s, 'utf8') + 1
  }
  return {strOff, strEnd: header.strLen}
}

/** The base scope of a vmlinux unit whose raw bytes are `raw` (writer and reader alike). */
export function baseScope(tables: PackTables, rec: Int32Array, raw: Uint8Array): BaseScope {
  const lowRec = new Map<number, number>()
  const lowKey = new Map<string, number>()
  for (let i = 0; i < rec.length; i++) {
    const r = rec[i]!
    if (lowRec.has(r)) continue
    lowRec.set(r, i + 1)
    const h = recordHead(tables.reader(r))
    const k = keyOf(h.kind, h.kindFlag, tables.strings[h.name]!)
    if (k !== undefined && !lowKey.has(k)) lowKey.set(k, i + 1)
  }
  return {lastId: rec.length, ...stringOffsets(raw), rec, lowRec, lowKey}
}

/**
 * Adds one BTF (`btf`, fully parsed from `raw`; split BTF on `base`'s vmlinux) to the
 * tables and returns its unit. A BTF with a cycle through record references (impossible
 * for C) comes back raw with an empty list.
 */
export function packUnit(tables: PackTables, btf: Btf, raw: Uint8Array, base?: BaseScope): PackedUnit {
  const start = btf.startId
  const own = btf.ownCount
  const types = btf.types
  const le = btf.littleEndian
  const typeOf = (id: number): BtfType => btf.typeById(id)
  const rec = new Int32Array(own).fill(-1) // -1: not built, -2: on the walk's stack
  const recOf = (id: number): number => (id < start ? base!.rec[id - 1]! : rec[id - start]!)
  const cuts: Int32Array[] = new Array(own)
  const refLists: number[][] = new Array(own)
  const cutOf = (target: number): number => {
    if (target === 0) return -1
    const tt = typeOf(target)
    const k = keyOf(tt.kind, tt.kindFlag, tt.name)
    return k === undefined ? -1 : tables.key(k)
  }
  const ident = new ByteWriter(1 << 12)
  const enc = new ByteWriter(1 << 12)
  const str = (s: string): number => tables.str(s)
  const rawUnit = (): PackedUnit => ({littleEndian: le, rec: new Int32Array(0), exceptions: [], strRanks: null, raw})

  for (let root = start; root < start + own; root++) {
    if (rec[root - start] !== -1) continue
    const stack = [root]
    while (stack.length > 0) {
      const id = stack[stack.length - 1]!
      const i = id - start
      if (rec[i] === -1) {
        // first visit: classify the edges, push the children not built yet
        rec[i] = -2
        const refs = refsOf(types[i]!)
        const ks = Int32Array.from(refs, cutOf)
        refLists[i] = refs
        cuts[i] = ks
        for (let s = refs.length - 1; s >= 0; s--) {
          const r = refs[s]!
          if (ks[s] !== -1 || r < start) continue
          if (rec[r - start] === -1) stack.push(r)
          else if (rec[r - start] === -2) return rawUnit() // a cycle through record references
        }
        continue
      }
      stack.pop()
      if (rec[i] !== -2) continue // built through another path already
      const t = types[i]!
      const refs = refLists[i]!
      const ks = cuts[i]!
      ident.n = 0
      writeFields(ident, t, str)
      const fieldsLen = ident.n
      for (let s = 0; s < refs.length; s++) {
        const r = refs[s]!
        if (ks[s] !== -1) ident.u(2 + 2 * ks[s]!)
        else if (r === 0) ident.u(0)
        else {
          const target = recOf(r)
          if (target < 0) return rawUnit() // a child not built: a cycle
          ident.u(1 + 2 * target)
        }
      }
      let r = tables.findRecord(ident.bytes())
      if (r === undefined) {
        const self = tables.recordCount
        enc.n = 0
        enc.raw(ident.b.subarray(0, fieldsLen))
        for (let s = 0; s < refs.length; s++) {
          if (ks[s] !== -1) enc.u(2 + 2 * ks[s]!)
          else if (refs[s] === 0) enc.u(0)
          else {
            const d = self - recOf(refs[s]!) // > 0: children are built first
            enc.u(1 + 2 * (d >= 0 ? d * 2 : -d * 2 - 1))
          }
        }
        r = tables.appendRecord(enc.bytes())
        tables.noteRecord(ident.bytes(), r)
      }
      rec[i] = r
    }
  }

  // Exceptions: references whose target is not the lowest id in scope with its record / key.
  const lowRec = new Map<number, number>()
  const lowKey = new Map<string, number>()
  for (let i = 0; i < own; i++) {
    if (!lowRec.has(rec[i]!)) lowRec.set(rec[i]!, start + i)
    const t = types[i]!
    const k = keyOf(t.kind, t.kindFlag, t.name)
    if (k !== undefined && !lowKey.has(k)) lowKey.set(k, start + i)
  }
  const exceptions: number[] = []
  for (let i = 0; i < own; i++) {
    const refs = refLists[i]!
    const ks = cuts[i]!
    for (let s = 0; s < refs.length; s++) {
      const target = refs[s]!
      if (target === 0) continue
      const implicit =
        ks[s] !== -1
          ? (base?.lowKey.get(tables.keys[ks[s]!]!) ?? lowKey.get(tables.keys[ks[s]!]!))
          : (base?.lowRec.get(recOf(target)) ?? lowRec.get(recOf(target)))
      if (implicit !== target) exceptions.push(i, s, target)
    }
  }

  // The string layout, and the byte-identity check.
  const h = btf.header
  if (h.hdrLen !== 24 || h.typeOff !== 0 || h.strOff !== h.typeLen || h.flags !== 0) return {...rawUnit(), rec}
  const table = splitStrings(raw.subarray(h.hdrLen + h.strOff, h.hdrLen + h.strOff + h.strLen))
  const {order, rank} = firstReference(types, base)
  if (!table) return {...rawUnit(), rec}
  // a string no type names ranks after the first-reference order, as an *extra* string
  const extra: string[] = []
  const ranks = new Int32Array(table.length)
  let inOrder = true
  const used = new Uint8Array(table.length)
  for (let i = 0; i < table.length; i++) {
    let r = rank.get(table[i]!)
    if (r === undefined) {
      r = order.length + extra.length
      extra.push(table[i]!)
    }
    if (r >= table.length || used[r]) return {...rawUnit(), rec}
    used[r] = 1
    ranks[i] = r
    if (r !== i) inOrder = false
  }
  if (table.length !== order.length + extra.length) return {...rawUnit(), rec}
  const rebuilt = encodeLayout(types, table, base, le)
  if (!Buffer.from(rebuilt.buffer, rebuilt.byteOffset, rebuilt.length).equals(Buffer.from(raw.buffer, raw.byteOffset, raw.length))) return {...rawUnit(), rec}
  const unit: PackedUnit = {littleEndian: le, rec, exceptions, strRanks: inOrder && extra.length === 0 ? null : ranks}
  if (extra.length > 0) unit.extra = extra.map((x) => tables.str(x))
  return unit
}

/**
 * Rebuilds a unit's raw BTF from the tables (its raw bytes as stored, for a raw unit).
 * @throws InputError `ARCHIVE_BAD_PACK` when a reference cannot be resolved or the
 *   string layout does not fit the types.
 */
export function rebuildUnit(tables: PackTables, u: PackedUnit, what: string, base?: BaseScope): Uint8Array {
  if (u.raw) return u.raw
  const start = base ? base.lastId + 1 : 1
  const n = u.rec.length
  const decoded = new Array<{t: BtfType; refs: number[]}>(n)
  const lowRec = new Map<number, number>()
  const lowKey = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const r = u.rec[i]!
    const d = tables.record(r)
    decoded[i] = d
    if (!lowRec.has(r)) lowRec.set(r, start + i)
    const k = keyOf(d.t.kind, d.t.kindFlag, d.t.name)
    if (k !== undefined && !lowKey.has(k)) lowKey.set(k, start + i)
  }
  const exc = new Map<number, number>()
  for (let e = 0; e < u.exceptions.length; e += 3) exc.set((start + u.exceptions[e]!) * 0x20000 + u.exceptions[e + 1]!, u.exceptions[e + 2]!)
  const fail = (why: string): never => {
    throw new InputError('ARCHIVE_BAD_PACK', `${what}: ${why}`)
  }
  const types = new Array<BtfType>(n)
  const ids: number[] = []
  for (let i = 0; i < n; i++) {
    const {t, refs} = decoded[i]!
    const id = start + i
    ids.length = refs.length
    for (let s = 0; s < refs.length; s++) {
      const e = exc.get(id * 0x20000 + s)
      const ref = refs[s]!
      let target: number | undefined
      if (e !== undefined) target = e
      else if (ref === 0) target = 0
      else if (ref < 0) {
        const k = tables.keys[-ref - 1]!
        target = base?.lowKey.get(k) ?? lowKey.get(k)
      } else target = base?.lowRec.get(ref - 1) ?? lowRec.get(ref - 1)
      if (target === undefined || target >= start + n) fail(`type ${id}: reference ${s} resolves to no type`)
      ids[s] = target!
    }
    setRefs(t, ids)
    types[i] = t
  }
  const {order} = firstReference(types, base)
  if (u.extra) for (const i of u.extra) order.push(tables.strings[i]!)
  let table: string[] = order
  if (u.strRanks) {
    if (u.strRanks.length !== order.length) fail(`string layout has ${u.strRanks.length} entries for ${order.length} strings`)
    const seen = new Uint8Array(order.length)
    table = Array.from(u.strRanks, (r) => {
      if (r < 0 || r >= order.length || seen[r]) fail(`string layout rank ${r} is out of range or repeated`)
      seen[r] = 1
      return order[r]!
    })
  }
  return encodeLayout(types, table, base, u.littleEndian)
}

/**
 * Writes a unit: flags (1 little-endian, 2 raw, 4 has string ranks, 8 has extra strings:
 * segment version 2 only), list, exceptions, ranks, extra strings, raw bytes.
 */
export function writeUnit(w: ByteWriter, u: PackedUnit): void {
  w.u((u.littleEndian ? 1 : 0) | (u.raw ? 2 : 0) | (u.strRanks ? 4 : 0) | (u.extra ? 8 : 0))
  w.u(u.rec.length)
  let prev = -1
  for (const r of u.rec) {
    w.s(r - prev - 1)
    prev = r
  }
  w.u(u.exceptions.length / 3)
  let prevId = 0
  for (let e = 0; e < u.exceptions.length; e += 3) {
    w.u(u.exceptions[e]! - prevId)
    prevId = u.exceptions[e]!
    w.u(u.exceptions[e + 1]!)
    w.u(u.exceptions[e + 2]!)
  }
  if (u.strRanks) {
    w.u(u.strRanks.length)
    let pr = -1
    for (const r of u.strRanks) {
      w.s(r - pr - 1)
      pr = r
    }
  }
  if (u.extra) {
    w.u(u.extra.length)
    for (const i of u.extra) w.u(i)
  }
  if (u.raw) {
    w.u(u.raw.length)
    w.raw(u.raw)
  }
}

/** Reads a unit; record indexes must be below `recordCount`, string indexes below `stringCount`; `version` is the segment's. */
export function readUnit(r: ByteReader, recordCount: number, stringCount: number, version: number): PackedUnit {
  const flags = r.u()
  if (flags > (version >= 2 ? 15 : 7)) r.fail(`unit flags ${flags} unknown`)
  const n = r.below(0x100000, 'type count')
  const rec = new Int32Array(n)
  // the list is most of a segment's unit bytes: its zigzag varints are decoded inline
  // (the reader's own u()/s() calls cost about twice as much over the shipped pack)
  const b = r.b
  const end = r.end
  let p = r.p
  let prev = -1
  for (let i = 0; i < n; i++) {
    let z = 0
    let m = 1
    for (let k = 0; ; k++) {
      if (p >= end) {
        r.p = p
        r.fail('truncated varint')
      }
      const x = b[p++]!
      z += (x & 0x7f) * m
      if (x < 0x80) break
      m *= 0x80
      if (k >= 7) {
        r.p = p
        r.fail('varint too long')
      }
    }
    prev = prev + 1 + (z % 2 === 0 ? z / 2 : -(z + 1) / 2)
    if (prev < 0 || prev >= recordCount) {
      r.p = p
      r.fail(`record index ${prev} out of range`)
    }
    rec[i] = prev
  }
  r.p = p
  const ne = r.below(0x1000000, 'exception count')
  const exceptions: number[] = new Array(ne * 3)
  let id = 0
  for (let e = 0; e < ne; e++) {
    id += r.u()
    exceptions[3 * e] = id
    exceptions[3 * e + 1] = r.u()
    exceptions[3 * e + 2] = r.u()
  }
  let strRanks: Int32Array | null = null
  if (flags & 4) {
    const m = r.below(0x1000000, 'string count')
    strRanks = new Int32Array(m)
    let pr = -1
    for (let i = 0; i < m; i++) strRanks[i] = pr = pr + 1 + r.s()
  }
  const u: PackedUnit = {littleEndian: (flags & 1) === 1, rec, exceptions, strRanks}
  if (flags & 8) {
    const m = r.below(0x1000000, 'extra string count')
    u.extra = Array.from({length: m}, () => r.below(stringCount, 'extra string'))
  }
  if (flags & 2) u.raw = r.raw(r.below(0x40000000, 'raw unit size'))
  return u
}
