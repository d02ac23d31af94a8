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
 * Module BTF (`modules`): libbpf on a machine takes a relocation's candidates from
 * vmlinux BTF first and, only where vmlinux has none, from the BTF of loaded modules;
 * with btf_custom_path it searches that one file and nothing else. So a relocation that
 * resolves in a module on the real kernel resolves against the minimized file only if
 * the module's types are in it: candidates are found as libbpf finds them (vmlinux,
 * then modules), and what a module candidate needs is marked in that module's BTF and
 * copied into the single output after the vmlinux types (module by module, in id
 * order), its references to vmlinux types pointing at their copies. Types are tracked
 * by a global key: vmlinux ids as they are, then each module's own ids after the
 * previous module's. (bpftool's `gen min_core_btf` reads one BTF file and knows nothing
 * of modules.) Without modules the output is bpftool's, byte for byte.
 *
 * Where bpftool gives up (a kind it does not expect on a marked path: FWD outside
 * TYPE_MATCHES, TYPE_TAG), kcompat marks the type and carries on. Where libbpf fails a
 * relocation (ambiguous candidates, an impossible bitfield) bpftool aborts; kcompat
 * reports the relocation and leaves the rest of the output as it would be without it,
 * so the caller decides (`kcompat btfgen` writes nothing for such a kernel).
 */
import type {Btf} from '../btf/btf.js'
import type {ModuleBtf} from '../btf/module-set.js'
import {BtfBuilder} from '../btf/encode.js'
import type {BtfType, TypeId} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {CandidateCache, needsModuleCandidates, resolveRelo} from '../core/relocate.js'

export {needsModuleCandidates}
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

/**
 * vmlinux and its modules as one space of global keys: vmlinux ids as they are, then
 * each module's own ids (from its startId) after the previous module's. A module's
 * reference to an id below its startId is a vmlinux type.
 */
class Universe {
  readonly sources: Btf[]
  /** Global key of each source's first own id. */
  private readonly firsts: number[]
  readonly lastKey: number

  constructor(vmlinux: Btf, modules: readonly ModuleBtf[]) {
    this.sources = [vmlinux, ...modules.map((m) => m.btf)]
    this.firsts = [1]
    let next = vmlinux.lastId + 1
    for (const m of modules) {
      this.firsts.push(next)
      next += m.btf.ownCount
    }
    this.lastKey = next - 1
  }

  /** The global key of id `id` as source `src` sees it. */
  key(src: number, id: TypeId): number {
    if (src === 0 || id === 0) return id
    const b = this.sources[src]!
    return id < b.startId ? id : this.firsts[src]! + (id - b.startId)
  }

  /** Source and local id of a global key. */
  locate(key: number): {src: number; id: TypeId} {
    for (let src = this.sources.length - 1; src > 0; src--) {
      if (key >= this.firsts[src]!) return {src, id: this.sources[src]!.startId + (key - this.firsts[src]!)}
    }
    return {src: 0, id: key}
  }

  typeOf(key: number): BtfType {
    const {src, id} = this.locate(key)
    return this.sources[src]!.typeById(id)
  }
}

/** The marks: used types, and for structs/unions which members are used (by global key). */
class Marks {
  readonly types: Uint8Array
  readonly members = new Map<TypeId, Set<number>>()
  /** compact: enumerators used per enum, and enums needed whole. */
  readonly enumerators = new Map<TypeId, Set<number>>()
  readonly wholeEnums = new Set<TypeId>()
  constructor(
    readonly u: Universe,
    readonly compact: boolean,
  ) {
    this.types = new Uint8Array(u.lastKey + 1)
  }

  /** The global key of what type `key` refers to by local id `ref`. */
  private ref(key: number, ref: TypeId): number {
    return this.u.key(this.u.locate(key).src, ref)
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
      const t = this.u.typeOf(id)
      switch (t.kind) {
        case Kind.PTR:
          if (!followPointers) return
          id = this.ref(id, t.type)
          continue
        case Kind.CONST:
        case Kind.VOLATILE:
        case Kind.RESTRICT:
        case Kind.TYPEDEF:
        case Kind.TYPE_TAG: // bpftool: "unsupported kind"
          id = this.ref(id, t.type)
          continue
        case Kind.ARRAY:
          this.type(this.ref(id, t.type), followPointers)
          id = this.ref(id, t.indexType)
          continue
        case Kind.FUNC_PROTO:
          this.type(this.ref(id, t.returnType), followPointers)
          for (const p of t.params) this.type(this.ref(id, p.type), followPointers)
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
    const t = this.u.typeOf(id)
    switch (t.kind) {
      case Kind.STRUCT:
      case Kind.UNION:
        if (behindPtr) return
        t.members.forEach((m, i) => {
          this.member(id, i)
          this.typeMatch(this.ref(id, m.type), false, depth + 1)
        })
        return
      case Kind.CONST:
      case Kind.VOLATILE:
      case Kind.RESTRICT:
      case Kind.TYPEDEF:
      case Kind.TYPE_TAG:
        this.typeMatch(this.ref(id, t.type), behindPtr, depth + 1)
        return
      case Kind.PTR:
        this.typeMatch(this.ref(id, t.type), true, depth + 1)
        return
      case Kind.ARRAY:
        this.typeMatch(this.ref(id, t.type), false, depth + 1)
        this.typeMatch(this.ref(id, t.indexType), false, depth + 1)
        return
      case Kind.FUNC_PROTO:
        this.typeMatch(this.ref(id, t.returnType), false, depth + 1)
        for (const p of t.params) this.typeMatch(this.ref(id, p.type), false, depth + 1)
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
  field(spec: CoreSpec, src: number): void {
    // local ids of the candidate's BTF (a module resolves vmlinux ids through its base)
    const btf = this.u.sources[src]!
    let id = spec.rootTypeId
    this.type(this.u.key(src, id), false)
    for (let i = 1; i < spec.raw.length; i++) {
      id = btf.skipTypedefsAndModifiers(id)
      const t = btf.typeById(id)
      if (t.kind === Kind.STRUCT || t.kind === Kind.UNION) {
        const idx = spec.raw[i]!
        this.member(this.u.key(src, id), idx)
        id = t.members[idx]!.type
        this.type(this.u.key(src, id), false)
      } else if (t.kind === Kind.ARRAY) {
        id = t.type
      } else {
        return
      }
    }
  }

  /** What one resolved relocation needs (btfgen_record_reloc); `src` is the candidate's BTF. */
  record(kind: number, target: CoreSpec | undefined, src: number): void {
    if (!target) return
    const root = this.u.key(src, target.rootTypeId)
    switch (kind) {
      case CoreReloKind.FIELD_BYTE_OFFSET:
      case CoreReloKind.FIELD_BYTE_SIZE:
      case CoreReloKind.FIELD_EXISTS:
      case CoreReloKind.FIELD_SIGNED:
      case CoreReloKind.FIELD_LSHIFT_U64:
      case CoreReloKind.FIELD_RSHIFT_U64:
        this.field(target, src)
        return
      case CoreReloKind.TYPE_ID_TARGET:
      case CoreReloKind.TYPE_EXISTS:
      case CoreReloKind.TYPE_SIZE:
        this.type(root, true)
        return
      case CoreReloKind.TYPE_MATCHES:
        this.typeMatch(root, false)
        return
      case CoreReloKind.ENUMVAL_EXISTS:
      case CoreReloKind.ENUMVAL_VALUE: {
        this.type(root, false)
        const acc = target.accessors[0]
        if (acc) this.enumerator(this.u.key(src, acc.typeId), acc.idx)
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
function recordObject(marks: Marks, obj: BpfObject, modules: readonly ModuleBtf[]): MinimizeFailure[] {
  const failures: MinimizeFailure[] = []
  const cache = new CandidateCache(obj.btf, modules.length > 0 ? {vmlinux: marks.u.sources[0]!, modules: [...modules]} : {vmlinux: marks.u.sources[0]!})
  const srcOf = new Map(modules.map((m, i) => [m.name, i + 1]))
  for (const placed of obj.relos) {
    const {relo} = placed
    const accessStr = obj.btf.strings.get(relo.accessStrOff)
    try {
      const cands = relo.kind === CoreReloKind.TYPE_ID_LOCAL ? undefined : cache.get(relo.typeId)
      const r = resolveRelo(obj.btf, {typeId: relo.typeId, accessStr, kind: relo.kind}, cands, obj.littleEndian)
      marks.record(relo.kind, r.target, r.targetSource === undefined ? 0 : (srcOf.get(r.targetSource) ?? 0))
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
  const u = marks.u
  const b = new BtfBuilder()
  const newId = new Uint32Array(u.lastKey + 1)
  const added: {t: BtfType; src: number}[] = []
  for (let id = 1; id <= u.lastKey; id++) {
    if (!marks.types[id]) continue
    const t = u.typeOf(id)
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
    added.push({t: copy, src: u.locate(id).src})
  }
  for (const {t, src} of added) remapRefs(t, (id) => newId[u.key(src, id)] ?? 0)
  return {bytes: b.encode({littleEndian}), types: added.length}
}

export interface MinimizeOptions {
  /** Byte order of the output (default: the kernel BTF's). */
  littleEndian?: boolean
  /** Drop enumerators no relocation needs (see the module comment). Default false: bpftool's output. */
  compact?: boolean
  /**
   * The kernel's module BTF (split on `target`): candidates come from it where vmlinux
   * has none, as libbpf takes them on the machine, and what they need goes into the
   * output (see the module comment).
   */
  modules?: readonly ModuleBtf[]
}

/**
 * Minimized BTF of `target` for `objects` (see the module comment). Relocations libbpf
 * cannot resolve are returned in `failures`; the BTF is built from the others.
 * @throws CoreError / BtfError for corrupt objects.
 */
export function minimizeBtf(target: Btf, objects: BpfObject[], options: MinimizeOptions = {}): MinimizeResult {
  const modules = options.modules ?? []
  const marks = new Marks(new Universe(target, modules), options.compact ?? false)
  const failures: MinimizeFailure[] = []
  for (const obj of objects) failures.push(...recordObject(marks, obj, modules))
  const {bytes, types} = build(marks, options.littleEndian ?? target.littleEndian)
  return {bytes, types, failures}
}
