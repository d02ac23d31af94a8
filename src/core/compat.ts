/**
 * The three CO-RE relations between a local (BPF object) type and a target (kernel)
 * type, as libbpf defines them. None is symmetric in general and none looks at names
 * beyond what is said below; callers have already matched the root names (modulo
 * `___flavor`). Each returns `true`/`false`, and throws {@link ReloFailure} where libbpf
 * returns an error (recursion too deep), which fails the relocation.
 */
import type {Btf} from '../btf/btf.js'
import {essentialName} from '../btf/btf.js'
import type {BtfType, TypeId} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {isAnyEnum, kindsCoreCompatible, skipModsAndTypedefs} from './btf-util.js'
import {EINVAL, ReloFailure} from './errors.js'

/** libbpf's recursion budget for these walks. */
const MAX_DEPTH = 32

function tooDeep(what: string): never {
  throw new ReloFailure('CORE_TOO_DEEP', `${what}: type nesting deeper than ${MAX_DEPTH}`, EINVAL)
}

/**
 * Type compatibility for type-based relocations (bpf_core_types_are_compat), libbpf's
 * rule:
 *
 *   - any two STRUCTs/UNIONs/FWDs/ENUMs/INTs are compatible, but the kind must match
 *     (a STRUCT is not compatible with a UNION; ENUM and ENUM64 count as one kind);
 *   - for ENUMs, the size is ignored; for INTs, size and signedness are ignored (only
 *     legacy bitfield-like INTs, with a non-zero bit offset, are rejected);
 *   - ARRAYs: dimensionality is ignored, element types must be compatible;
 *   - CONST/VOLATILE/RESTRICT and TYPEDEFs are skipped;
 *   - PTRs are compatible when their pointees are;
 *   - FUNC_PROTOs when they have the same number of parameters and compatible return
 *     and parameter types.
 *
 * The kinds are compared once before skipping typedefs (so a local typedef only matches
 * a target typedef) and again after.
 */
export function typesAreCompatible(local: Btf, localId: TypeId, targ: Btf, targId: TypeId, level = MAX_DEPTH): boolean {
  if (!kindsCoreCompatible(local.typeById(localId), targ.typeById(targId))) return false
  let lid = localId
  let tid = targId
  for (let depth = MAX_DEPTH - 1; ; depth--) {
    if (depth < 0) tooDeep('type compatibility')
    lid = skipModsAndTypedefs(local, lid)
    tid = skipModsAndTypedefs(targ, tid)
    const lt = local.typeById(lid)
    const tt = targ.typeById(tid)
    if (!kindsCoreCompatible(lt, tt)) return false
    switch (lt.kind) {
      case Kind.UNKN:
      case Kind.STRUCT:
      case Kind.UNION:
      case Kind.ENUM:
      case Kind.ENUM64:
      case Kind.FWD:
        return true
      case Kind.INT:
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0
      case Kind.PTR:
        lid = lt.type
        tid = (tt as typeof lt).type
        continue
      case Kind.ARRAY:
        lid = lt.type
        tid = (tt as typeof lt).type
        continue
      case Kind.FUNC_PROTO: {
        const tp = tt as typeof lt
        if (lt.params.length !== tp.params.length) return false
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) tooDeep('type compatibility')
          const a = skipModsAndTypedefs(local, lt.params[i]!.type)
          const b = skipModsAndTypedefs(targ, tp.params[i]!.type)
          if (!typesAreCompatible(local, a, targ, b, level - 1)) return false
        }
        lid = skipModsAndTypedefs(local, lt.returnType)
        tid = skipModsAndTypedefs(targ, tp.returnType)
        continue
      }
      default:
        // libbpf warns "unexpected kind ... relocated" and treats it as incompatible.
        return false
    }
  }
}

/**
 * Field compatibility, for the type of a field found by name during a field-relocation
 * match (bpf_core_fields_are_compat), libbpf's rule:
 *
 *   - any two STRUCTs/UNIONs are compatible and can be mixed;
 *   - any two FWDs are compatible if their names match (modulo flavor suffix);
 *   - any two PTRs are always compatible;
 *   - ENUMs (and ENUM64s) match when their names do (modulo flavor) or one of them is
 *     anonymous; sizes are not checked;
 *   - INTs: size and signedness are ignored (legacy bitfield INTs are rejected);
 *   - any two FLOATs are compatible;
 *   - ARRAYs: dimensionality is ignored, element types are checked recursively;
 *   - typedefs and modifiers are skipped; everything else is incompatible.
 */
export function fieldsAreCompatible(local: Btf, localId: TypeId, targ: Btf, targId: TypeId): boolean {
  let lid = localId
  let tid = targId
  for (;;) {
    lid = skipModsAndTypedefs(local, lid)
    tid = skipModsAndTypedefs(targ, tid)
    const lt = local.typeById(lid)
    const tt = targ.typeById(tid)
    const composite = (t: BtfType): boolean => t.kind === Kind.STRUCT || t.kind === Kind.UNION
    if (composite(lt) && composite(tt)) return true
    if (!kindsCoreCompatible(lt, tt)) return false
    switch (lt.kind) {
      case Kind.PTR:
      case Kind.FLOAT:
        return true
      case Kind.FWD:
      case Kind.ENUM:
      case Kind.ENUM64: {
        const ln = essentialName(lt.name)
        const tn = essentialName(tt.name)
        return ln === '' || tn === '' || ln === tn
      }
      case Kind.INT:
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0
      case Kind.ARRAY:
        lid = lt.type
        tid = (tt as typeof lt).type
        continue
      default:
        return false
    }
  }
}

/**
 * Names equal modulo `___flavor`; an anonymous target matches only an anonymous local
 * (bpf_core_names_match).
 */
function namesMatch(localName: string, targName: string): boolean {
  if (targName === '') return localName === ''
  return essentialName(localName) === essentialName(targName)
}

/**
 * The type-matching relation of TYPE_MATCHES relocations (bpf_core_types_match), stricter
 * than compatibility. libbpf's definition:
 *
 *   - modifiers and typedefs are stripped (and hence effectively ignored), but at every
 *     level the names of what remains must match (modulo flavor);
 *   - the kinds must be the same, except that a struct/union behind a pointer may match
 *     a forward declaration of the same kind (and vice versa), and ENUM may match ENUM64;
 *   - INTs match when size and signedness match;
 *   - PTRs and ARRAYs (which must have the same element count) match when their targets
 *     match;
 *   - STRUCTs/UNIONs: every local member must exist in the target by name with a
 *     matching type, unless the composite is already behind a pointer, where only its
 *     name and kind count;
 *   - ENUMs: sizes equal, every local enumerator exists in the target by name (values
 *     are not compared);
 *   - FUNC_PROTOs: same number of parameters, each and the return type matching.
 */
export function typesMatch(local: Btf, localId: TypeId, targ: Btf, targId: TypeId, behindPtr = false, level = MAX_DEPTH): boolean {
  if (level <= 0) tooDeep('type match')
  let lid = localId
  let tid = targId
  let behind = behindPtr
  for (let depth = MAX_DEPTH - 1; ; depth--) {
    if (depth < 0) tooDeep('type match')
    lid = skipModsAndTypedefs(local, lid)
    tid = skipModsAndTypedefs(targ, tid)
    const lt = local.typeById(lid)
    const tt = targ.typeById(tid)
    if (!namesMatch(lt.name, tt.name)) return false
    switch (lt.kind) {
      case Kind.UNKN:
        return tt.kind === Kind.UNKN
      case Kind.FWD:
        if (behind) {
          if (tt.kind === Kind.FWD) return lt.kindFlag === tt.kindFlag
          // kind_flag of a FWD says union (set) or struct (clear)
          return (tt.kind === Kind.STRUCT && !lt.kindFlag) || (tt.kind === Kind.UNION && lt.kindFlag)
        }
        return tt.kind === Kind.FWD && lt.kindFlag === tt.kindFlag
      case Kind.ENUM:
      case Kind.ENUM64:
        if (!isAnyEnum(tt)) return false
        return enumsMatch(lt, tt as typeof lt)
      case Kind.STRUCT:
      case Kind.UNION:
        if (behind) {
          if (lt.kind === tt.kind) return true
          if (tt.kind !== Kind.FWD) return false
          return (lt.kind === Kind.UNION) === tt.kindFlag
        }
        if (lt.kind !== tt.kind) return false
        return compositesMatch(local, lt, targ, tt as typeof lt, behind, level)
      case Kind.INT: {
        if (tt.kind !== Kind.INT) return false
        const signed = (e: number): number => e & 1
        return lt.size === tt.size && signed(lt.encoding) === signed(tt.encoding)
      }
      case Kind.PTR:
        if (tt.kind !== Kind.PTR) return false
        behind = true
        lid = lt.type
        tid = tt.type
        continue
      case Kind.ARRAY:
        if (tt.kind !== Kind.ARRAY) return false
        if (lt.nelems !== tt.nelems) return false
        lid = lt.type
        tid = tt.type
        continue
      case Kind.FUNC_PROTO: {
        if (tt.kind !== Kind.FUNC_PROTO) return false
        if (lt.params.length !== tt.params.length) return false
        for (let i = 0; i < lt.params.length; i++) {
          if (!typesMatch(local, lt.params[i]!.type, targ, tt.params[i]!.type, behind, level - 1)) return false
        }
        lid = lt.returnType
        tid = tt.returnType
        continue
      }
      default:
        // libbpf: "unexpected kind ... relocated", no match (FLOAT included).
        return false
    }
  }
}

function enumsMatch(lt: BtfType & {size: number; values: {name: string}[]}, tt: BtfType & {size: number; values: {name: string}[]}): boolean {
  if (lt.size !== tt.size) return false
  if (lt.values.length > tt.values.length) return false
  return lt.values.every((lv) => tt.values.some((tv) => namesMatch(lv.name, tv.name)))
}

function compositesMatch(
  local: Btf,
  lt: BtfType & {members: {name: string; type: TypeId}[]},
  targ: Btf,
  tt: BtfType & {members: {name: string; type: TypeId}[]},
  behind: boolean,
  level: number,
): boolean {
  if (lt.members.length > tt.members.length) return false
  for (const lm of lt.members) {
    let matched = false
    for (const tm of tt.members) {
      if (!namesMatch(lm.name, tm.name)) continue
      if (typesMatch(local, lm.type, targ, tm.type, behind, level - 1)) {
        matched = true
        break
      }
    }
    if (!matched) return false
  }
  return true
}
