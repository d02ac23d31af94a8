/**
 * Module records read straight from the archive's BTF pack (src/archive/pack/), without
 * rebuilding and parsing each module's split BTF.
 *
 * A module is a *unit* of the pack: the list of its types' records, in id order
 * (unit.ts). Every record is content-addressed: two types share a record exactly when
 * they have the same kind, name and fields and refer to the same records, or, for edges
 * to a named struct, union, enum, typedef or forward declaration, to the same key (kind,
 * kind_flag, name) (record.ts). What the index keeps of a type is a function of exactly
 * that: a prototype or layout names the types it refers to and spells out only anonymous
 * ones (ctype.ts never looks inside a named type, codec.ts inlines only anonymous
 * structs/unions, which are record references). So a record gives the same index records
 * in every module and every kernel that has it, and the same records as extractRecords
 * gives for that type in the rebuilt BTF (the unit's exceptions only choose between ids
 * with the same record or key, so they change nothing here).
 *
 * The reader therefore renders each record once per build: it presents the pack's
 * records as one BTF whose type ids are record numbers (id r + 1 is record r, id 0 is
 * void), and whose name references are stub types that carry only kind, kind_flag and
 * name (ids after the last record, one per key); one C namer serves every kernel, and
 * each record's index records are kept by record number. A kernel's modules then cost a
 * walk over their record lists. The shipped archive's 36,896 modules are about 30,000
 * distinct units but far fewer distinct records, because the generic, rt and cloud
 * flavors and the two arches share most types.
 *
 * Integrity: the segments were checked against the manifest's sha256 when the pack was
 * decoded, and the writer rebuilt every unit byte for byte before it wrote the segment;
 * the module bytes themselves are not rebuilt here (that is what costs the time).
 */
import type {TypeId, BtfType} from '../btf/types.js'
import {VOID} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {setRefs} from '../archive/pack/record.js'
import type {PackTables} from '../archive/pack/tables.js'
import type {PackedUnit} from '../archive/pack/unit.js'
import {CTypeNamer, type TypeSource} from './ctype.js'
import {type KeyedContent, type ModuleRecords, type StoreName, typeRecords} from './extract.js'

/** A record's index records: [store, line] pairs; most records give none. */
type Lines = readonly (readonly [StoreName, KeyedContent])[]
const NONE: Lines = []

/** Decoded types kept at most; past this the cache starts over (memory stays bounded). */
const TYPE_CACHE_MAX = 200_000

export class PackRecordReader implements TypeSource {
  private readonly namer = new CTypeNamer(this)
  private readonly keyBase: number
  private readonly types = new Map<TypeId, BtfType>()
  private readonly lines: (Lines | undefined)[]
  private readonly templates = new Map<TypeId, string>()

  constructor(readonly tables: PackTables) {
    this.keyBase = tables.recordCount + 1
    this.lines = new Array<Lines | undefined>(tables.recordCount)
  }

  /** The type with virtual id `id` (see the file comment). */
  typeById(id: TypeId): BtfType {
    if (id === 0) return VOID
    let t = this.types.get(id)
    if (t !== undefined) return t
    if (id < this.keyBase) {
      const d = this.tables.record(id - 1)
      const kb = this.keyBase
      // record references (r + 1) are already virtual ids; key k is keyBase + k
      setRefs(
        d.t,
        d.refs.map((ref) => (ref >= 0 ? ref : kb - ref - 1)),
      )
      t = d.t
    } else {
      t = stub(this.tables.keys[id - this.keyBase])
    }
    if (this.types.size >= TYPE_CACHE_MAX) this.types.clear()
    this.types.set(id, t)
    return t
  }

  private template = (id: TypeId): string => {
    let s = this.templates.get(id)
    if (s === undefined) this.templates.set(id, (s = this.namer.template(id)))
    return s
  }

  /** The index records of pack record `r`, rendered on first use. */
  private recordLines(r: number): Lines {
    let l = this.lines[r]
    if (l === undefined) {
      let out: [StoreName, KeyedContent][] | undefined
      typeRecords(this, this.namer, this.typeById(r + 1), this.template, (store, line) => (out ??= []).push([store, line]))
      this.lines[r] = l = out ?? NONE
    }
    return l
  }

  /** A module unit's records (not a raw unit: those have no record list). */
  moduleRecords(name: string, u: PackedUnit): ModuleRecords {
    const stores: Record<StoreName, KeyedContent[]> = {fn: [], tp: [], st: [], en: []}
    for (let i = 0; i < u.rec.length; i++) {
      const l = this.recordLines(u.rec[i]!)
      for (let j = 0; j < l.length; j++) stores[l[j]![0]].push(l[j]![1])
    }
    return {name, stores}
  }
}

/** A stand-in for the named type a name reference points at: only what names it. */
function stub(key: string | undefined): BtfType {
  if (key === undefined) throw new RangeError('pack key out of range')
  const a = key.indexOf('|')
  const b = key.indexOf('|', a + 1)
  const kind = Number(key.slice(0, a))
  const kindFlag = key.slice(a + 1, b) === '1'
  const name = key.slice(b + 1)
  switch (kind) {
    case Kind.STRUCT:
    case Kind.UNION:
      return {kind, kindFlag, name, nameOff: 0, size: 0, members: []}
    case Kind.ENUM:
      return {kind, kindFlag, name, nameOff: 0, size: 0, values: []}
    case Kind.ENUM64:
      return {kind, kindFlag, name, nameOff: 0, size: 0, values: []}
    case Kind.TYPEDEF:
      return {kind, kindFlag, name, nameOff: 0, type: 0}
    case Kind.FWD:
      return {kind, kindFlag, name, nameOff: 0}
    default:
      throw new RangeError(`pack key ${key} is not of a nominal kind`)
  }
}
