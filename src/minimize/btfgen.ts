/**
 * BTF minimization for CO-RE ("BTFGen", `bpftool gen min_core_btf`): from a kernel's
 * full BTF keep only what the CO-RE relocations of a set of BPF objects need, so that
 * the result can be shipped with an application and handed to libbpf through
 * `bpf_object_open_opts.btf_custom_path` on kernels that have no BTF of their own.
 *
 * The rules are BTFGen's (bpftool src/gen.c), so the output is the same as bpftool's,
 * byte for byte:
 *
 * 1. Record. Every CO-RE relocation record of every object (all of them, including
 *    those libbpf would skip at load time) is resolved against the kernel BTF exactly
 *    as libbpf resolves it (src/core, with one candidate cache per object). The spec of
 *    the first matching candidate, the one libbpf keeps, says what is used; a
 *    relocation without a match needs nothing. What gets marked depends on the kind:
 *    - field relocations: the root type, then along the target's raw access path each
 *      struct/union member actually traversed (only that member of its parent) and the
 *      member's type; arrays lead to their element type. Pointers are not followed, so
 *      a struct reached only through a pointer field stays without members unless
 *      another access needs them.
 *    - TYPE_ID_TARGET, TYPE_EXISTS, TYPE_SIZE: the root type following pointers, with
 *      structs and unions kept as empty shells (name and size).
 *    - TYPE_MATCHES: the root type and, recursively, all members and their types, except
 *      that composites reached through a pointer are kept without members.
 *    - ENUMVAL_EXISTS, ENUMVAL_VALUE: the whole enum.
 *    - TYPE_ID_LOCAL: nothing (it does not look at the kernel).
 *    Marking a type marks what it cannot exist without: typedef and modifier targets,
 *    array element and index types, function prototype return and parameter types,
 *    and pointer targets only where pointers are followed.
 * 2. Build. Marked types are copied in id order into a new BTF; a struct or union keeps
 *    its name and size but only its marked members, with their original bit offsets
 *    and bitfield sizes (its kind flag is set when one of them is a bitfield or not
 *    byte aligned, as libbpf's btf__add_field does). Every type reference is renumbered;
 *    a reference to a type that was not kept becomes `void` (id 0), so a pointer to a
 *    struct nobody accessed becomes `void *`.
 *
 * With `compact`, enums lose the enumerators no relocation needs: an enum keeps only
 * the enumerators that ENUMVAL relocations matched (its first one, when none did), and
 * all of them when a TYPE_MATCHES relocation reaches it (matching compares enumerator
 * names). No other rule looks at enumerators (field and type compatibility compare
 * enum names and sizes only), so libbpf decides every relocation the same way while
 * the output shrinks, often by most of its size (kernel enums such as `bpf_func_id`
 * have hundreds of long names).
 *
 * Where bpftool gives up (a kind it does not expect on a marked path: FWD outside
 * TYPE_MATCHES, TYPE_TAG), kcompat marks the type and carries on. Where libbpf fails a
 * relocation (ambiguous candidates, an impossible bitfield) bpftool aborts; kcompat
 * reports the relocation and leaves the rest of the output as it would be without it,
 * so the caller decides (`kcompat btfgen` writes nothing for such a kernel).
 */
import type {Btf} from '../btf/btf.js'
import {BtfBuilder} from '../btf/encode.js'
import type {BtfType, TypeId} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {CandidateCache, resolveRelo} from '../core/relocate.js'
import type {BpfObject} from '../core/object.js'
import {CoreReloKind, coreReloKindName} from '../core/relo.js'
import {ReloFailure} from '../core/errors.js'
import type {CoreSpec} from '../core/spec.js'
import {describeSpec, parseSpec} from '../core/spec.js'

/** A relocation that libbpf cannot resolve on this kernel (the object would not load). */
export interface MinimizeFailure {
  object: string
  section: string
  /** libbpf's relo #N within the section. */
  index: number
  kind: string
  local: string
  code: string
  reason: string
}

export interface MinimizeResult {
  /** The minimized BTF, raw, in the kernel BTF's byte order (or the one asked for). */
  bytes: Uint8Array
  /** Number of types kept. */
  types: number
  /** Relocations that do not resolve; empty when every object loads. */
  failures: MinimizeFailure[]
}

/** The marks: used types, and for structs/unions which members are used. */
class Marks {
  readonly types: Uint8Array
  readonly members = new Map<TypeId, Set<number>>()
  /** compact: enumerators used per enum, and enums needed whole. */
  readonly enumerators = new Map<TypeId, Set<number>>()
  readonly wholeEnums = new Set<TypeId>()
  constructor(
    readonly btf: Btf,
    readonly compact: boolean,
  ) {
    this.types = new Uint8Array(btf.lastId + 1)
  }

  enumerator(id: TypeId, idx: number): void {
    let set = this.enumerators.get(id)
    if (!set) this.enumerators.set(id, (set = new Set()))
    set.add(idx)
  }

  member(id: TypeId, idx: number): void {
    let set = this.members.get(id)
    if (!set) this.members.set(id, (set = new Set()))
    set.add(idx)
  }

  /**
   * btfgen_mark_type: marks `id` and what it needs. `followPointers` decides whether a
   * pointer's target is needed. Iterative over typedef/modifier/pointer chains, so deep
   * chains cannot overflow the stack; arrays and prototypes recurse (bounded by the
   * decoder's acyclicity checks).
   */
  type(id: TypeId, followPointers: boolean): void {
    while (id !== 0) {
      this.types[id] = 1
      const t = this.btf.typeById(id)
      switch (t.kind) {
        case Kind.PTR:
          if (!followPointers) return
          id = t.type
          continue
        case Kind.CONST:
        case Kind.VOLATILE:
        case Kind.RESTRICT:
        case Kind.TYPEDEF:
        case Kind.TYPE_TAG: // bpftool: "unsupported kind"
          id = t.type
          continue
        case Kind.ARRAY:
          this.type(t.type, followPointers)
          id = t.indexType
          continue
        case Kind.FUNC_PROTO:
          this.type(t.returnType, followPointers)
          for (const p of t.params) this.type(p.type, followPointers)
          return
        default:
          // INT, FLOAT, ENUM, ENUM64, STRUCT, UNION: themselves only (members are marked
          // one by one). FWD and the rest: bpftool refuses; keeping them is harmless.
          return
      }
    }
  }

  /**
   * btfgen_mark_type_match: for TYPE_MATCHES, a type with all its members, recursively,
   * except composites behind a pointer, which stay empty.
   */
  typeMatch(id: TypeId, behindPtr: boolean, depth = 0): void {
    if (id === 0 || depth > 1000) return
    this.types[id] = 1
    const t = this.btf.typeById(id)
    switch (t.kind) {
      case Kind.STRUCT:
      case Kind.UNION:
        if (behindPtr) return
        t.members.forEach((m, i) => {
          this.member(id, i)
          this.typeMatch(m.type, false, depth + 1)
        })
        return
      case Kind.CONST:
      case Kind.VOLATILE:
      case Kind.RESTRICT:
      case Kind.TYPEDEF:
      case Kind.TYPE_TAG:
        this.typeMatch(t.type, behindPtr, depth + 1)
        return
      case Kind.PTR:
        this.typeMatch(t.type, true, depth + 1)
        return
      case Kind.ARRAY:
        this.typeMatch(t.type, false, depth + 1)
        this.typeMatch(t.indexType, false, depth + 1)
        return
      case Kind.FUNC_PROTO:
        this.typeMatch(t.returnType, false, depth + 1)
        for (const p of t.params) this.typeMatch(p.type, false, depth + 1)
        return
      case Kind.ENUM:
      case Kind.ENUM64:
        this.wholeEnums.add(id)
        return
      default:
        return
    }
  }

  /**
   * btfgen_record_field_relo: the root, then each member on the target's raw access
   * path and its type; array steps move to the element type.
   */
  field(spec: CoreSpec): void {
    let id = spec.rootTypeId
    this.type(id, false)
    for (let i = 1; i < spec.raw.length; i++) {
      id = this.btf.skipTypedefsAndModifiers(id)
      const t = this.btf.typeById(id)
      if (t.kind === Kind.STRUCT || t.kind === Kind.UNION) {
        const idx = spec.raw[i]!
        this.member(id, idx)
        id = t.members[idx]!.type
        this.type(id, false)
      } else if (t.kind === Kind.ARRAY) {
        id = t.type
      } else {
        return
      }
    }
  }

  /** What one resolved relocation needs (btfgen_record_reloc). */
  record(kind: number, target: CoreSpec | undefined): void {
    if (!target) return
    switch (kind) {
      case CoreReloKind.FIELD_BYTE_OFFSET:
      case CoreReloKind.FIELD_BYTE_SIZE:
      case CoreReloKind.FIELD_EXISTS:
      case CoreReloKind.FIELD_SIGNED:
      case CoreReloKind.FIELD_LSHIFT_U64:
      case CoreReloKind.FIELD_RSHIFT_U64:
        this.field(target)
        return
      case CoreReloKind.TYPE_ID_TARGET:
      case CoreReloKind.TYPE_EXISTS:
      case CoreReloKind.TYPE_SIZE:
        this.type(target.rootTypeId, true)
        return
      case CoreReloKind.TYPE_MATCHES:
        this.typeMatch(target.rootTypeId, false)
        return
      case CoreReloKind.ENUMVAL_EXISTS:
      case CoreReloKind.ENUMVAL_VALUE: {
        this.type(target.rootTypeId, false)
        const acc = target.accessors[0]
        if (acc) this.enumerator(acc.typeId, acc.idx)
        return
      }
      default:
        return
    }
  }
}

/**
 * Resolves every CO-RE relocation of `obj` against `marks.btf` and marks what each
 * needs. Returns the relocations libbpf would fail on.
 * @throws CoreError / BtfError for corrupt objects.
 */
function recordObject(marks: Marks, obj: BpfObject): MinimizeFailure[] {
  const failures: MinimizeFailure[] = []
  const cache = new CandidateCache(obj.btf, {vmlinux: marks.btf})
  for (const placed of obj.relos) {
    const {relo} = placed
    const accessStr = obj.btf.strings.get(relo.accessStrOff)
    try {
      const cands = relo.kind === CoreReloKind.TYPE_ID_LOCAL ? undefined : cache.get(relo.typeId)
      const r = resolveRelo(obj.btf, {typeId: relo.typeId, accessStr, kind: relo.kind}, cands, obj.littleEndian)
      marks.record(relo.kind, r.target)
    } catch (e) {
      if (!(e instanceof ReloFailure)) throw e
      let local: string
      try {
        local = describeSpec(parseSpec(obj.btf, relo.typeId, accessStr, relo.kind))
      } catch {
        local = `[${relo.typeId}]`
      }
      failures.push({
        object: obj.source,
        section: placed.sectionName,
        index: placed.index,
        kind: coreReloKindName(relo.kind),
        local,
        code: e.code,
        reason: e.message,
      })
    }
  }
  return failures
}

/** Rewrites every type id a (copied) type refers to. */
function remapRefs(t: BtfType, map: (id: TypeId) => TypeId): void {
  switch (t.kind) {
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
    case Kind.FUNC:
    case Kind.VAR:
    case Kind.DECL_TAG:
      t.type = map(t.type)
      return
    case Kind.ARRAY:
      t.type = map(t.type)
      t.indexType = map(t.indexType)
      return
    case Kind.STRUCT:
    case Kind.UNION:
      for (const m of t.members) m.type = map(m.type)
      return
    case Kind.FUNC_PROTO:
      t.returnType = map(t.returnType)
      for (const p of t.params) p.type = map(p.type)
      return
    case Kind.DATASEC:
      for (const v of t.vars) v.type = map(v.type)
      return
    default:
      return
  }
}

/** A deep copy of a type record, so renumbering never touches the source BTF. */
function copyType(t: BtfType): BtfType {
  switch (t.kind) {
    case Kind.STRUCT:
    case Kind.UNION:
      return {...t, members: t.members.map((m) => ({...m}))}
    case Kind.ENUM:
      return {...t, values: t.values.map((v) => ({...v}))}
    case Kind.ENUM64:
      return {...t, values: t.values.map((v) => ({...v}))}
    case Kind.FUNC_PROTO:
      return {...t, params: t.params.map((p) => ({...p}))}
    case Kind.DATASEC:
      return {...t, vars: t.vars.map((v) => ({...v}))}
    default:
      return {...t}
  }
}

/** btfgen_get_btf: the marked types, in id order, renumbered. */
function build(marks: Marks, littleEndian: boolean): {bytes: Uint8Array; types: number} {
  const src = marks.btf
  const b = new BtfBuilder()
  const newId = new Uint32Array(src.lastId + 1)
  const added: BtfType[] = []
  for (let id = 1; id <= src.lastId; id++) {
    if (!marks.types[id]) continue
    const t = src.typeById(id)
    let copy: BtfType
    if (t.kind === Kind.STRUCT || t.kind === Kind.UNION) {
      const used = marks.members.get(id)
      const members = t.members.filter((_m, i) => used?.has(i)).map((m) => ({...m}))
      copy = {...t, kindFlag: members.some((m) => m.bitfieldSize > 0 || m.bitOffset % 8 !== 0), members}
    } else if ((t.kind === Kind.ENUM || t.kind === Kind.ENUM64) && marks.compact && !marks.wholeEnums.has(id)) {
      const used = marks.enumerators.get(id)
      const keep = (_v: unknown, i: number): boolean => (used ? used.has(i) : i === 0)
      copy = copyType(t)
      if (copy.kind === Kind.ENUM) copy.values = copy.values.filter(keep)
      else if (copy.kind === Kind.ENUM64) copy.values = copy.values.filter(keep)
    } else {
      copy = copyType(t)
    }
    newId[id] = b.add(copy)
    added.push(copy)
  }
  for (const t of added) remapRefs(t, (id) => newId[id] ?? 0)
  return {bytes: b.encode({littleEndian}), types: added.length}
}

export interface MinimizeOptions {
  /** Byte order of the output (default: the kernel BTF's). */
  littleEndian?: boolean
  /** Drop enumerators no relocation needs (see the module comment). Default false: bpftool's output. */
  compact?: boolean
}

/**
 * Minimized BTF of `target` for `objects` (see the module comment). Relocations libbpf
 * cannot resolve are returned in `failures`; the BTF is built from the others.
 * @throws CoreError / BtfError for corrupt objects.
 */
export function minimizeBtf(target: Btf, objects: BpfObject[], options: MinimizeOptions = {}): MinimizeResult {
  const marks = new Marks(target, options.compact ?? false)
  const failures: MinimizeFailure[] = []
  for (const obj of objects) failures.push(...recordObject(marks, obj))
  const {bytes, types} = build(marks, options.littleEndian ?? target.littleEndian)
  return {bytes, types, failures}
}
