/**
 * `Btf`: a parsed BTF blob with an id-addressed index.
 *
 * Ids are dense: a base BTF holds ids 1..N (0 is void); a split BTF (kernel module)
 * holds ids base.lastId+1 .. and resolves lower ids through its base, exactly as
 * libbpf's `start_id` does. `typeById` therefore works across the base/split chain.
 *
 * Name indexes are built lazily on first use, so a pure dump pays nothing for them.
 */
import {BtfError} from '../errors.js'
import {NameIndex} from './name-index.js'
import {elementAt, ensureAllLoaded} from './paged.js'
import type {StringTable} from './strings.js'
import {Kind, KIND_NAMES} from './wire.js'
import {type BtfType, type TypeId, VOID, isModifier} from './types.js'

/** libbpf caps every walk through typedefs/modifiers/arrays at this depth (MAX_RESOLVE_DEPTH). */
export const MAX_RESOLVE_DEPTH = 32

/**
 * The essential name of a CO-RE type, field or enumerator: the name without its
 * `___flavor` suffix, so that a BPF program may define `struct task_struct___old` next
 * to `struct task_struct` and have both match the kernel's `task_struct`.
 *
 * The rule (libbpf's bpf_core_essential_name_len): find the *last* place where a
 * character other than `_` is followed by exactly three underscores and then another
 * character other than `_`; the essential name ends just before those underscores.
 * `a___b` → `a`, `x___y___z` → `x___y`, `a____b` (four underscores) and `___x` are
 * their own essential names.
 */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== 0x5f &&
      name.charCodeAt(i + 1) === 0x5f &&
      name.charCodeAt(i + 2) === 0x5f &&
      name.charCodeAt(i + 3) === 0x5f &&
      name.charCodeAt(i + 4) !== 0x5f
    ) {
      return name.slice(0, i + 1)
    }
  }
  return name
}

const U32_MAX = 0xffffffff

/** Why a type has no size: none (void, functions, forwards), a chain too deep, or over 32 bits. */
export type SizeFailure = {fail: 'no-size'; kind: number} | {fail: 'too-deep'} | {fail: 'overflow'}

/**
 * libbpf's btf__resolve_size, the one walk every size question here goes through (the
 * C dumper, the CO-RE engine and {@link Btf.sizeOf} differ only in how they report a
 * failure): follow typedefs, modifiers, VARs and DECL_TAGs, multiply array dimensions,
 * and end at a sized type (a pointer is `pointerSize` bytes). Void and other kinds have
 * no size; libbpf gives up after MAX_RESOLVE_DEPTH steps, and refuses element counts or
 * totals that do not fit in 32 bits.
 */
export function resolveSize(typeById: (id: TypeId) => BtfType, id: TypeId, pointerSize: number): number | SizeFailure {
  let nelems = 1
  let cur = id
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    if (cur === 0) return {fail: 'no-size', kind: Kind.UNKN}
    const t = typeById(cur)
    let size: number
    switch (t.kind) {
      case Kind.INT:
      case Kind.STRUCT:
      case Kind.UNION:
      case Kind.ENUM:
      case Kind.ENUM64:
      case Kind.DATASEC:
      case Kind.FLOAT:
        size = t.size
        break
      case Kind.PTR:
        size = pointerSize
        break
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.VAR:
      case Kind.DECL_TAG:
      case Kind.TYPE_TAG:
        cur = t.type
        continue
      case Kind.ARRAY:
        if (nelems !== 0 && t.nelems > Math.floor(U32_MAX / nelems)) return {fail: 'overflow'}
        nelems *= t.nelems
        cur = t.type
        continue
      default:
        return {fail: 'no-size', kind: t.kind}
    }
    if (nelems !== 0 && size > Math.floor(U32_MAX / nelems)) return {fail: 'overflow'}
    return nelems * size
  }
  return {fail: 'too-deep'}
}

/** How deeply composites may nest in an alignment question before it is given up (0). */
export const MAX_ALIGN_NESTING = 1000

/**
 * libbpf's btf__align_of, shared by the C dumper and {@link Btf.alignOf}: ints, enums
 * and floats align to their size capped at the pointer size; pointers to the pointer
 * size; typedefs, modifiers and arrays to what they wrap; a struct or union to its most
 * aligned member, unless its layout proves it packed (a plain member off its own
 * alignment, or a size that is not a multiple of the member alignment): then 1. 0 means
 * no alignment (void, functions, forward declarations, a composite with such a member;
 * also a composite met again inside itself, or nested past MAX_ALIGN_NESTING).
 *
 * `cache` memoizes alignment + 1 by id (0 = not known yet; sized past the last id):
 * a dump asks for the alignment of every member of every struct.
 */
export function alignOfType(typeById: (id: TypeId) => BtfType, id: TypeId, pointerSize: number, cache: Int32Array, depth = 0): number {
  const cached = cache[id]!
  if (cached !== 0) return cached - 1
  if (depth > MAX_ALIGN_NESTING) return 0
  const t = typeById(id)
  let align: number
  switch (t.kind) {
    case Kind.INT:
    case Kind.ENUM:
    case Kind.ENUM64:
    case Kind.FLOAT:
      align = Math.min(pointerSize, t.size)
      break
    case Kind.PTR:
      align = pointerSize
      break
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
    case Kind.ARRAY:
      // parsed BTF has no loops through these kinds
      align = alignOfType(typeById, t.type, pointerSize, cache, depth + 1)
      break
    case Kind.STRUCT:
    case Kind.UNION: {
      // met again inside itself (malformed): no alignment, rather than endless recursion
      cache[id] = 1
      align = 1
      const members = t.members
      let maxAlign = 1
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!
        const a = alignOfType(typeById, m.type, pointerSize, cache, depth + 1)
        if (a <= 0) {
          align = a
          break
        }
        if (a > maxAlign) maxAlign = a
        if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) {
          maxAlign = 1
          break
        }
      }
      if (align > 0) align = t.size % maxAlign !== 0 ? 1 : maxAlign
      break
    }
    default:
      align = 0
  }
  cache[id] = align + 1
  return align
}

/** Merges two ascending id lists (no duplicates between them). */
function mergeSorted(a: TypeId[], b: TypeId[]): TypeId[] {
  const out: TypeId[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) out.push(a[i++]!)
    else out.push(b[j++]!)
  }
  return out
}

/** Names libbpf accepts as the C `long` type when it infers the pointer size. */
const LONG_NAMES = new Set([
  'long',
  'long int',
  'int long',
  'unsigned long',
  'long unsigned',
  'unsigned long int',
  'unsigned int long',
  'long unsigned int',
  'long int unsigned',
  'int unsigned long',
  'int long unsigned',
])

/**
 * The pointer size a BTF implies, as libbpf's determine_ptr_size() infers it: the size
 * of the first 4- or 8-byte INT whose name spells `long` (in any word order), looking
 * at the base's types first for split BTF; 8 (a 64-bit host's) when there is none.
 */
export function guessPointerSize(btf: Btf): number {
  const chain: Btf[] = []
  for (let b: Btf | undefined = btf; b; b = b.base) chain.unshift(b)
  for (const b of chain) {
    for (let id = b.startId; id <= b.lastId; id++) {
      if (b.kindOf(id) !== Kind.INT) continue
      const t = b.typeById(id) as {size: number; name: string}
      if ((t.size === 4 || t.size === 8) && LONG_NAMES.has(t.name)) return t.size
    }
  }
  return 8
}

export interface BtfHeaderInfo {
  magic: number
  version: number
  flags: number
  hdrLen: number
  typeOff: number
  typeLen: number
  strOff: number
  strLen: number
  /** Header bytes past the 24 this code knows, kept so a write reproduces them. */
  extra: Uint8Array
}

/**
 * Types not decoded yet (a lazily parsed Btf, see parseBtf's `lazy`): their count, kinds
 * and name offsets from the validating scan, and a decoder for one type by index.
 */
export interface LazyTypes {
  decode(index: number): BtfType
}

/** What the parser's scan recorded per type (by index): kind and name offset. */
export interface ScannedTypes {
  kinds: Uint8Array
  nameOffs: Uint32Array
}

/**
 * The bytes a parsed Btf came from: `view` over them, in the BTF's byte order, and the
 * byte offset of each own type's record (by index), as the validating scan found them.
 */
export interface RawRecords {
  view: DataView
  littleEndian: boolean
  offsets: Uint32Array
}

/** Which names a lookup searches: all, FUNCs only, or every kind but FUNC. */
export type NameClass = 'all' | 'funcs' | 'types'

export class Btf {
  readonly strings: StringTable
  readonly base: Btf | undefined
  /** First id held by this BTF (1 for base BTF). */
  readonly startId: number
  readonly littleEndian: boolean
  readonly header: BtfHeaderInfo
  /** Number of types in this BTF only. */
  readonly ownCount: number
  /** Decoded types by index (id - startId); sparse while `lazy` is set. */
  private readonly decoded: BtfType[]
  private lazy: LazyTypes | undefined
  /** The records this Btf was parsed from (absent for a Btf made from a type list). */
  private readonly records: RawRecords | undefined
  /** Kinds and name offsets from the parser (absent for a Btf made from a type list). */
  private readonly scanned: ScannedTypes | undefined
  private nameIndex: Map<string, TypeId[]> | undefined
  private readonly rawNameIndex: {funcs?: NameIndex; types?: NameIndex} = {}
  private readonly flavors: {funcs?: Map<string, TypeId[]>; types?: Map<string, TypeId[]>} = {}
  /** alignOf's memo per pointer size: alignment + 1 by id, 0 = not known yet. */
  private readonly alignCaches = new Map<number, Int32Array>()

  constructor(init: {
    types?: BtfType[]
    /** With `scanned`: decode types on demand (parseBtf's lazy mode). */
    lazy?: LazyTypes
    scanned?: ScannedTypes
    /** The parsed bytes and each own type's record offset in them (parseBtf sets it). */
    records?: RawRecords
    /** With `scanned`: name indexes built before (a stored scan, see scan-cache.ts). */
    nameIndexes?: {funcs: NameIndex; types: NameIndex}
    strings: StringTable
    base?: Btf
    littleEndian: boolean
    header: BtfHeaderInfo
  }) {
    this.strings = init.strings
    this.base = init.base
    this.startId = init.base ? init.base.lastId + 1 : 1
    this.littleEndian = init.littleEndian
    this.header = init.header
    this.scanned = init.scanned
    this.records = init.records
    if (init.nameIndexes && init.scanned) {
      this.rawNameIndex.funcs = init.nameIndexes.funcs
      this.rawNameIndex.types = init.nameIndexes.types
    }
    if (init.types) {
      this.decoded = init.types
      this.ownCount = init.types.length
    } else if (init.lazy && init.scanned) {
      this.lazy = init.lazy
      this.ownCount = init.scanned.kinds.length
      this.decoded = new Array<BtfType>(this.ownCount)
    } else {
      throw new TypeError('Btf needs types, or a lazy decoder and the scan')
    }
  }

  /**
   * Types of this BTF only, index 0 = id `startId`. On a lazily parsed Btf the first
   * call decodes every type; code that visits a few types should use {@link typeById},
   * {@link kindOf} and the name lookups instead.
   */
  get types(): BtfType[] {
    const lazy = this.lazy
    if (lazy) {
      for (let i = 0; i < this.ownCount; i++) this.decoded[i] ??= lazy.decode(i)
      this.lazy = undefined
    }
    return this.decoded
  }

  /**
   * The validated records of this BTF's own types, for readers that format them
   * straight from the bytes (the raw dump); undefined for a Btf made from a type list.
   */
  rawRecords(): RawRecords | undefined {
    if (this.records) {
      // bytes (and a stored scan) read on demand (paged.ts): all of them
      ensureAllLoaded(this.records.view)
      ensureAllLoaded(this.records.offsets)
    }
    return this.records
  }

  /** Highest valid type id (including the base). */
  get lastId(): number {
    return this.startId + this.ownCount - 1
  }

  /** Number of types in this BTF and its base, not counting void. */
  get typeCount(): number {
    return this.lastId
  }

  hasId(id: TypeId): boolean {
    return Number.isInteger(id) && id >= 0 && id <= this.lastId
  }

  /**
   * The type with `id`; id 0 is void.
   * @throws BtfError `BTF_BAD_TYPE_ID` when no such type exists.
   */
  typeById(id: TypeId): BtfType {
    if (id >= this.startId) {
      const i = id - this.startId
      const t = this.decoded[i]
      if (t !== undefined) return t
      if (this.lazy && i < this.ownCount && Number.isInteger(i)) return (this.decoded[i] = this.lazy.decode(i))
    } else if (id === 0) {
      return VOID
    } else if (id > 0 && this.base) {
      return this.base.typeById(id)
    }
    throw new BtfError('BTF_BAD_TYPE_ID', `type id ${id} does not exist (last id is ${this.lastId})`)
  }

  /**
   * Type `id` like {@link typeById}, but on a lazily parsed Btf a type not decoded yet
   * is decoded without being kept: for one pass over every type (a raw dump) that
   * leaves nothing for the garbage collector to promote.
   */
  peekType(id: TypeId): BtfType {
    if (id >= this.startId && this.lazy) {
      const i = id - this.startId
      if (i < this.ownCount && Number.isInteger(i)) return this.decoded[i] ?? this.lazy.decode(i)
    }
    return this.typeById(id)
  }

  /** The kind of type `id` without decoding it (0 for void). */
  kindOf(id: TypeId): number {
    if (id >= this.startId) {
      const i = id - this.startId
      if (this.scanned && i < this.ownCount) return elementAt(this.scanned.kinds, i)
    } else if (id > 0 && this.base) {
      return this.base.kindOf(id)
    }
    return this.typeById(id).kind
  }

  /** The name of type `id` without decoding the rest of it. */
  nameOf(id: TypeId): string {
    if (id >= this.startId) {
      const i = id - this.startId
      if (this.scanned && i < this.ownCount && this.decoded[i] === undefined) {
        const off = elementAt(this.scanned.nameOffs, i)
        return off === 0 ? '' : this.strings.get(off)
      }
    } else if (id > 0 && this.base) {
      return this.base.nameOf(id)
    }
    return this.typeById(id).name
  }

  /**
   * Whether type `id`'s name starts with `prefix` (ASCII), compared on the string
   * section's bytes when the type is not decoded.
   */
  nameStartsWith(id: TypeId, prefix: string): boolean {
    if (id >= this.startId) {
      const i = id - this.startId
      if (this.scanned && i < this.ownCount && this.decoded[i] === undefined) {
        return this.strings.startsWithAt(elementAt(this.scanned.nameOffs, i), prefix)
      }
    } else if (id > 0 && this.base) {
      return this.base.nameStartsWith(id, prefix)
    }
    return this.typeById(id).name.startsWith(prefix)
  }

  /**
   * All ids named `name`, in id order, this BTF's base first. `which` narrows the
   * search to FUNCs (`funcs`) or to every other kind (`types`): a kernel's names are
   * more than half FUNCs, and type lookups (CO-RE candidates) never want them, so each
   * half is indexed on its own, on first use.
   */
  idsByName(name: string, which: NameClass = 'all'): TypeId[] {
    const own = this.ownIdsByName(name, which)
    if (!this.base) return own
    const inBase = this.base.idsByName(name, which)
    return inBase.length === 0 ? own : [...inBase, ...own]
  }

  /** The first id named `name` of `kind`, or undefined. */
  findByName(name: string, kind: number): TypeId | undefined {
    for (const id of this.idsByName(name, kind === Kind.FUNC ? 'funcs' : 'types')) if (this.kindOf(id) === kind) return id
    return undefined
  }

  /**
   * Ids whose essential name is `name` (see {@link essentialName}), base first, in id
   * order: the candidate set libbpf starts from when it relocates a CO-RE access
   * (`which` as for {@link idsByName}).
   *
   * Kernel BTF hardly ever has flavored names, so this is the name lookup for `name`
   * (when `name` is itself essential) merged with the few flavored names whose
   * essential name is `name`. Only names containing `___` can be flavored; those are
   * found once per Btf (by the byte index while it hashes, or by a look at each
   * distinct name), not by computing every type's essential name.
   */
  idsByEssentialName(name: string, which: NameClass = 'all'): TypeId[] {
    let own: TypeId[]
    if (which === 'all') own = mergeSorted(this.ownIdsByEssentialName(name, 'funcs'), this.ownIdsByEssentialName(name, 'types'))
    else own = this.ownIdsByEssentialName(name, which)
    if (!this.base) return own
    const inBase = this.base.idsByEssentialName(name, which)
    return inBase.length === 0 ? own : [...inBase, ...own]
  }

  private ownIdsByEssentialName(name: string, which: 'funcs' | 'types'): TypeId[] {
    const flavors = this.flavorIndex(which)
    const exact = essentialName(name) === name ? this.ownIdsByName(name, which) : []
    const flavored = flavors.get(name)
    return flavored ? mergeSorted(exact, flavored) : exact
  }

  /** Essential name → ids, for the names of one class that carry a `___flavor`. */
  private flavorIndex(which: 'funcs' | 'types'): Map<string, TypeId[]> {
    const memo = this.flavors[which]
    if (memo) return memo
    const flavors = new Map<string, TypeId[]>()
    const add = (n: string, id: TypeId): void => {
      const e = essentialName(n)
      if (e === n) return
      const list = flavors.get(e)
      if (list) list.push(id)
      else flavors.set(e, [id])
    }
    const raw = this.ownRawNameIndex(which)
    if (raw) {
      for (const i of raw.flavoredCandidates) add(this.nameOf(this.startId + i), this.startId + i)
    } else {
      for (const [n, ids] of this.ownNameIndex()) {
        if (!n.includes('___')) continue
        for (const id of ids) if ((this.kindOf(id) === Kind.FUNC) === (which === 'funcs')) add(n, id)
      }
    }
    this.flavors[which] = flavors
    return flavors
  }

  private ownIdsByName(name: string, which: NameClass): TypeId[] {
    if (which === 'all') return mergeSorted(this.ownIdsByName(name, 'funcs'), this.ownIdsByName(name, 'types'))
    const raw = this.ownRawNameIndex(which)
    if (raw) {
      const found = raw.lookup(name)
      for (let k = 0; k < found.length; k++) found[k] = found[k]! + this.startId
      return found
    }
    const all = this.ownNameIndex().get(name) ?? []
    return all.filter((id) => (this.kindOf(id) === Kind.FUNC) === (which === 'funcs'))
  }

  /**
   * The named types of one class of this (base) BTF with a 53-bit key of each name
   * (see NameIndex.keys): for telling names seen before from new ones without
   * decoding them. Undefined for split BTF and for a Btf made from a type list.
   */
  nameKeys(which: 'funcs' | 'types'): {ids: Int32Array; keys: Float64Array} | undefined {
    if (this.base) return undefined
    const raw = this.ownRawNameIndex(which)
    if (!raw) return undefined
    const idx = raw.indexes()
    const ids = new Int32Array(idx.length)
    for (let k = 0; k < idx.length; k++) ids[k] = idx[k]! + this.startId
    return {ids, keys: raw.keys()}
  }

  /** The byte-level name index of one class of a parsed Btf (see name-index.ts). */
  private ownRawNameIndex(which: 'funcs' | 'types'): NameIndex | undefined {
    if (!this.scanned) return undefined
    const scanned = this.scanned
    // hashes every name: a stored scan read on demand (paged.ts) is read whole
    if (this.rawNameIndex[which] === undefined) ensureAllLoaded(scanned.kinds)
    this.rawNameIndex[which] ??= new NameIndex(scanned.nameOffs, this.strings, (i) => (scanned.kinds[i] === Kind.FUNC) === (which === 'funcs'))
    return this.rawNameIndex[which]
  }

  /** Name → ids over decoded types, for a Btf made from a type list (builder, tests). */
  private ownNameIndex(): Map<string, TypeId[]> {
    if (this.nameIndex) return this.nameIndex
    const idx = new Map<string, TypeId[]>()
    const types = this.types
    for (let i = 0; i < types.length; i++) {
      const name = types[i]!.name
      if (name === '') continue
      const list = idx.get(name)
      if (list) list.push(this.startId + i)
      else idx.set(name, [this.startId + i])
    }
    this.nameIndex = idx
    return idx
  }

  /**
   * Follows typedefs and modifiers (const/volatile/restrict/type_tag) to the type
   * they stand for, like libbpf's btf__resolve_type without stopping at arrays.
   * @throws BtfError `BTF_CYCLE` past MAX_RESOLVE_DEPTH steps.
   */
  skipTypedefsAndModifiers(id: TypeId): TypeId {
    let cur = id
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      const t = this.typeById(cur)
      if (t.kind !== Kind.TYPEDEF && !isModifier(t.kind)) return cur
      cur = (t as {type: TypeId}).type
    }
    throw new BtfError('BTF_CYCLE', `type id ${id}: typedef/modifier chain deeper than ${MAX_RESOLVE_DEPTH}`)
  }

  /** Follows modifiers only (keeps typedefs). */
  skipModifiers(id: TypeId): TypeId {
    let cur = id
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      const t = this.typeById(cur)
      if (!isModifier(t.kind)) return cur
      cur = (t as {type: TypeId}).type
    }
    throw new BtfError('BTF_CYCLE', `type id ${id}: modifier chain deeper than ${MAX_RESOLVE_DEPTH}`)
  }

  /**
   * Size in bytes of a value of type `id`, following libbpf's btf__resolve_size (see
   * {@link resolveSize}), pointers being `pointerSize` bytes.
   * @throws BtfError `BTF_NO_SIZE` for sizeless types, `BTF_CYCLE` past libbpf's depth,
   *   `BTF_SIZE_OVERFLOW` when the size does not fit in 32 bits.
   */
  sizeOf(id: TypeId, pointerSize = 8): number {
    const r = resolveSize((i) => this.typeById(i), id, pointerSize)
    if (typeof r === 'number') return r
    if (r.fail === 'too-deep') throw new BtfError('BTF_CYCLE', `type id ${id}: reference chain deeper than ${MAX_RESOLVE_DEPTH}`)
    if (r.fail === 'overflow') throw new BtfError('BTF_SIZE_OVERFLOW', `type id ${id}: size does not fit in 32 bits`)
    throw new BtfError('BTF_NO_SIZE', `type id ${id} (${KIND_NAMES[r.kind]}) has no size`)
  }

  /**
   * Natural alignment in bytes, as libbpf's btf__align_of computes it (see
   * {@link alignOfType}), memoized per pointer size.
   * @throws BtfError `BTF_NO_SIZE` for a type without alignment (void, functions,
   *   forward declarations, a composite with such a member), `BTF_CYCLE` for a
   *   composite nested past {@link MAX_ALIGN_NESTING} levels (or inside itself).
   */
  alignOf(id: TypeId, pointerSize = 8): number {
    let cache = this.alignCaches.get(pointerSize)
    if (!cache) this.alignCaches.set(pointerSize, (cache = new Int32Array(this.lastId + 1)))
    if (!this.hasId(id)) this.typeById(id) // throws BTF_BAD_TYPE_ID
    const a = alignOfType((i) => this.typeById(i), id, pointerSize, cache)
    if (a > 0) return a
    const t = this.typeById(this.skipModifiers(id))
    if (t.kind === Kind.STRUCT || t.kind === Kind.UNION) {
      const bad = t.members.find((m) => alignOfType((i) => this.typeById(i), m.type, pointerSize, cache!) <= 0)
      const k = bad ? this.typeById(this.skipTypedefsAndModifiers(bad.type)).kind : Kind.UNKN
      if (k !== Kind.STRUCT && k !== Kind.UNION && bad) {
        throw new BtfError('BTF_NO_SIZE', `type id ${id}: member ${bad.name || '(anonymous)'} has no alignment`)
      }
      throw new BtfError('BTF_CYCLE', `type id ${id}: composite nested in itself or deeper than ${MAX_ALIGN_NESTING} levels`)
    }
    throw new BtfError('BTF_NO_SIZE', `type id ${id} (${KIND_NAMES[t.kind]}) has no alignment`)
  }
}
