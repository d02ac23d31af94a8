/**
 * Matching a local access spec against one candidate target type
 * (libbpf's bpf_core_spec_match), producing the target spec when it matches.
 */
import type {Btf} from '../btf/btf.js'
import {essentialName} from '../btf/btf.js'
import type {TypeId} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {addU32, mulU32, resolveSize, skipModsAndTypedefs} from './btf-util.js'
import {fieldsAreCompatible, typesAreCompatible, typesMatch} from './compat.js'
import {E2BIG, EINVAL, ReloFailure} from './errors.js'
import {CoreReloKind, isEnumValBased, isFieldBased, isTypeBased} from './relo.js'
import {CORE_SPEC_MAX_LEN, type CoreSpec, emptySpec, isFlexArray} from './spec.js'

export interface MatchResult {
  matched: boolean
  /** The target spec; partial (as far as matching got) when `matched` is false. */
  spec: CoreSpec
}

/**
 * Tries to match `local` against candidate `targId` of `targ`:
 *
 * - type-based kinds: the candidate matches when the types are compatible (or, for
 *   TYPE_MATCHES, when they match); the target spec is just the root;
 * - enum-value kinds: the candidate (typedefs skipped) must be an enum with an
 *   enumerator of the same essential name as the local one;
 * - field kinds: every local accessor is found in turn in the target: a named member by
 *   name (searching through anonymous members, see {@link matchMember}) with a
 *   compatible type, an array index within the target array's bounds (any index for a
 *   flexible array). The raw spec and bit offset are rebuilt for the target on the way.
 *
 * @throws ReloFailure where libbpf returns an error (nesting past 64 levels, a size that
 *   cannot be resolved, recursion too deep): the relocation fails.
 */
export function matchSpec(local: CoreSpec, targ: Btf, targId: TypeId): MatchResult {
  const spec = emptySpec(targ, targId, local.kind)
  if (isTypeBased(local.kind)) {
    const matched =
      local.kind === CoreReloKind.TYPE_MATCHES
        ? typesMatch(local.btf, local.rootTypeId, targ, targId)
        : typesAreCompatible(local.btf, local.rootTypeId, targ, targId)
    return {matched, spec}
  }

  if (isEnumValBased(local.kind)) {
    const id = skipModsAndTypedefs(targ, targId)
    const t = targ.typeById(id)
    if (t.kind !== Kind.ENUM && t.kind !== Kind.ENUM64) return {matched: false, spec}
    const want = essentialName(local.accessors[0]!.name!)
    for (let i = 0; i < t.values.length; i++) {
      const name = t.values[i]!.name
      if (essentialName(name) === want) {
        spec.accessors.push({typeId: id, idx: i, name})
        spec.raw.push(i)
        return {matched: true, spec}
      }
    }
    return {matched: false, spec}
  }

  if (!isFieldBased(local.kind)) throw new ReloFailure('CORE_BAD_KIND', `unknown relocation kind ${local.kind}`, EINVAL)

  let id = targId
  for (let i = 0; i < local.accessors.length; i++) {
    const lacc = local.accessors[i]!
    id = skipModsAndTypedefs(targ, id)
    if (lacc.name !== undefined) {
      const next = matchMember(local.btf, lacc.typeId, lacc.idx, targ, id, spec)
      if (next === undefined) return {matched: false, spec}
      id = next
      continue
    }
    // An array index. For i = 0 the root itself plays the element type.
    if (i > 0) {
      const t = targ.typeById(id)
      if (t.kind !== Kind.ARRAY) return {matched: false, spec}
      const flex = isFlexArray(targ, spec.accessors[i - 1], t.nelems)
      if (!flex && lacc.idx >= t.nelems) return {matched: false, spec}
      id = skipModsAndTypedefs(targ, t.type)
    }
    if (spec.raw.length === CORE_SPEC_MAX_LEN) tooLong()
    spec.accessors.push({typeId: id, idx: lacc.idx})
    spec.raw.push(lacc.idx)
    spec.bitOffset = addU32(spec.bitOffset, mulU32(mulU32(lacc.idx, resolveSize(targ, id)), 8))
  }
  return {matched: true, spec}
}

function tooLong(): never {
  throw new ReloFailure('CORE_TOO_DEEP', `access nests deeper than ${CORE_SPEC_MAX_LEN} levels`, E2BIG)
}

/**
 * Finds the local member (member `idx` of local composite `localId`) by name in target
 * composite `targId` (libbpf's bpf_core_match_member). Members are tried in order; an
 * anonymous member (an embedded anonymous struct or union) is searched recursively,
 * depth first, before moving on, so the first match in declaration order wins. A
 * member with the same name but an incompatible type (see fieldsAreCompatible) ends
 * the search as "no match". On the way the target spec's raw indices and bit offset
 * are extended speculatively and rolled back on a miss; on a hit the named accessor is
 * appended.
 *
 * Returns the id of the matched member's type, or undefined for no match.
 */
function matchMember(local: Btf, localId: TypeId, idx: number, targ: Btf, targId: TypeId, spec: CoreSpec): TypeId | undefined {
  const tid = skipModsAndTypedefs(targ, targId)
  const tt = targ.typeById(tid)
  if (tt.kind !== Kind.STRUCT && tt.kind !== Kind.UNION) return undefined
  const lt = local.typeById(localId) as {members: {name: string; type: TypeId}[]}
  const lm = lt.members[idx]!
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i]!
    if (spec.raw.length === CORE_SPEC_MAX_LEN) tooLong()
    const saved = spec.bitOffset
    spec.bitOffset = addU32(spec.bitOffset, m.bitOffset)
    spec.raw.push(i)
    if (m.name === '') {
      const found = matchMember(local, localId, idx, targ, m.type, spec)
      if (found !== undefined) return found
    } else if (m.name === lm.name) {
      if (fieldsAreCompatible(local, lm.type, targ, m.type)) {
        spec.accessors.push({typeId: tid, idx: i, name: m.name})
        return m.type
      }
      // Same name, incompatible type: no match, and the raw step stays (as in libbpf,
      // the partial spec is only printed).
      return undefined
    }
    spec.bitOffset = saved
    spec.raw.pop()
  }
  return undefined
}
