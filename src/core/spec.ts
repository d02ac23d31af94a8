/**
 * CO-RE access specs: turning a relocation's access string into libbpf's two views of
 * the access, and printing specs as libbpf does.
 *
 * The compiler records every CO-RE access as a root type id plus an access string of
 * indices, e.g. "0:1:2:3". The first index is an array index applied to the root (a
 * pointer dereference `p->x` is `p[0].x`), every further index is a member index (for a
 * struct or union) or an element index (for an array), walking down from the root.
 *
 * From it libbpf (bpf_core_parse_spec) builds:
 * - the *raw* spec, the indices themselves, one per nesting level, anonymous struct and
 *   union members included;
 * - the *high-level* spec of accessors, only the semantically meaningful steps: the
 *   initial array index, each *named* member (with its name, which is what matching
 *   against another BTF looks for), and each array element;
 * - the bit offset of the accessed field from the start of the root.
 *
 * Example (libbpf's):
 *
 *   struct sample { int __unimportant; struct { int __1; int __2; int a[7]; }; };
 *   &s->a[3]  ->  access string "0:1:2:3"
 *   raw [0, 1, 2, 3]; high-level: [0] (root index), .a (member 2 of the anonymous
 *   struct; the anonymous member 1 itself is not an accessor), [3].
 *
 * Type-based relocations must have the access string "0" and keep both specs empty.
 * Enum-value relocations have a single index, the enumerator, recorded with its name.
 */
import type {Btf} from '../btf/btf.js'
import type {TypeId} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {addU32, kindStr, mulU32, resolveSize} from './btf-util.js'
import {CoreError, ReloFailure} from './errors.js'
import {isEnumValBased, isFieldBased, isTypeBased, coreReloKindName} from './relo.js'

/** libbpf's limit on nesting (BPF_CORE_SPEC_MAX_LEN). */
export const CORE_SPEC_MAX_LEN = 64

/** One high-level step: a named member, or an array index (no name). */
export interface Accessor {
  /** The struct/union holding the member, or the array element type (typedefs skipped). */
  typeId: TypeId
  /** Member index, or array index. */
  idx: number
  /** Member (or enumerator) name; undefined for an array index. */
  name?: string
}

export interface CoreSpec {
  btf: Btf
  /** The root type as recorded (typedefs and modifiers not skipped). */
  rootTypeId: TypeId
  kind: number
  /** The high-level spec. */
  accessors: Accessor[]
  /** The raw spec. */
  raw: number[]
  /** Bit offset of the field from the start of the root, modulo 2^32 as libbpf keeps it. */
  bitOffset: number
}

export function emptySpec(btf: Btf, rootTypeId: TypeId, kind: number): CoreSpec {
  return {btf, rootTypeId, kind, accessors: [], raw: [], bitOffset: 0}
}

const ACCESS_RE = /^[0-9]+(?::[0-9]+)*$/

/**
 * Parses the access string of a relocation against the local (object) BTF
 * (bpf_core_parse_spec).
 * @throws CoreError `CORE_BAD_ACCESS` when the string is malformed or does not fit the
 *   root type (libbpf refuses such an object whatever the kernel), `CORE_BAD_TYPE_ID`
 *   when the root type does not exist.
 */
export function parseSpec(btf: Btf, rootTypeId: TypeId, accessStr: string, kind: number): CoreSpec {
  const bad = (why: string): never => {
    throw new CoreError('CORE_BAD_ACCESS', `${coreReloKindName(kind)} relocation of [${rootTypeId}] with access string "${accessStr}": ${why}`)
  }
  if (!btf.hasId(rootTypeId)) {
    throw new CoreError('CORE_BAD_TYPE_ID', `relocation root type id ${rootTypeId} is not in the object's BTF (last id ${btf.lastId})`)
  }
  if (!ACCESS_RE.test(accessStr)) bad('not a list of indices separated by ":"')
  const spec = emptySpec(btf, rootTypeId, kind)
  if (isTypeBased(kind)) {
    if (accessStr !== '0') bad('a type relocation must have the access string "0"')
    return spec
  }
  const raw = accessStr.split(':').map(Number)
  if (raw.some((n) => n > 0x7fffffff)) bad('index does not fit in an int')
  if (raw.length > CORE_SPEC_MAX_LEN) bad(`more than ${CORE_SPEC_MAX_LEN} levels`)
  spec.raw = raw

  let id = btf.skipTypedefsAndModifiers(rootTypeId)
  let t = btf.typeById(id)
  const first = raw[0]!
  spec.accessors.push({typeId: id, idx: first})

  if (isEnumValBased(kind)) {
    if ((t.kind !== Kind.ENUM && t.kind !== Kind.ENUM64) || raw.length > 1 || first >= t.values.length) {
      bad('not an enumerator of an enum')
    }
    spec.accessors[0]!.name = (t as {values: {name: string}[]}).values[first]!.name
    return spec
  }
  if (!isFieldBased(kind)) bad(`unknown relocation kind ${kind}`)

  spec.bitOffset = mulU32(mulU32(first, sizeOrFail(btf, id, bad)), 8)
  for (let i = 1; i < raw.length; i++) {
    id = btf.skipTypedefsAndModifiers(id)
    t = btf.typeById(id)
    const idx = raw[i]!
    if (t.kind === Kind.STRUCT || t.kind === Kind.UNION) {
      if (idx >= t.members.length) bad(`member ${idx} of ${kindStr(t.kind)} [${id}] does not exist`)
      const m = t.members[idx]!
      spec.bitOffset = addU32(spec.bitOffset, m.bitOffset)
      if (m.nameOff !== 0) {
        if (m.name === '') bad(`member ${idx} of [${id}] has an empty name`)
        spec.accessors.push({typeId: id, idx, name: m.name})
      }
      id = m.type
    } else if (t.kind === Kind.ARRAY) {
      id = btf.skipTypedefsAndModifiers(t.type)
      const flex = isFlexArray(btf, spec.accessors[spec.accessors.length - 1]!, t.nelems)
      if (!flex && idx >= t.nelems) bad(`index ${idx} is past the ${t.nelems} elements of array [${id}]`)
      spec.accessors.push({typeId: id, idx})
      spec.bitOffset = addU32(spec.bitOffset, mulU32(mulU32(idx, sizeOrFail(btf, id, bad)), 8))
    } else {
      bad(`step ${i} reaches [${id}], a ${kindStr(t.kind)}, which has no members or elements`)
    }
  }
  return spec
}

function sizeOrFail(btf: Btf, id: TypeId, bad: (why: string) => never): number {
  try {
    return resolveSize(btf, id)
  } catch (e) {
    if (e instanceof ReloFailure) bad(e.message)
    throw e
  }
}

/**
 * A flexible array member (`T x[]`): an array of 0 elements that is the last member of
 * its struct, reached through a named member accessor (libbpf's is_flex_arr). Any index
 * into it is allowed.
 */
export function isFlexArray(btf: Btf, prev: Accessor | undefined, nelems: number): boolean {
  if (!prev || prev.name === undefined || nelems > 0) return false
  const t = btf.typeById(prev.typeId)
  return (t.kind === Kind.STRUCT || t.kind === Kind.UNION) && prev.idx === t.members.length - 1
}

/**
 * The C-like text of a spec, as libbpf's bpf_core_format_spec prints it without the
 * `<kind> [id]` prefix and the raw part: `struct task_struct.real_parent.pid`,
 * `struct signal_struct.rlim[7].rlim_cur`, `enum bpf_func_id::BPF_FUNC_loop`,
 * `typedef task_t`.
 */
export function describeSpec(spec: CoreSpec): string {
  const root = spec.btf.typeById(spec.rootTypeId)
  let s = `${kindStr(root.kind)} ${root.name === '' ? '<anon>' : root.name}`
  if (isTypeBased(spec.kind)) return s
  if (isEnumValBased(spec.kind)) {
    const acc = spec.accessors[0]
    return acc?.name === undefined ? s : `${s}::${acc.name}`
  }
  spec.accessors.forEach((acc, i) => {
    if (acc.name !== undefined) s += `.${acc.name}`
    else if (i > 0 || acc.idx > 0) s += `[${acc.idx}]`
  })
  return s
}

/**
 * The whole spec as libbpf logs it: `<byte_off> [14] struct task_struct.tgid (0:4 @
 * offset 20)`; bit offsets that are not whole bytes print as `offset 72.1`. Enum
 * values print as `::NAME = value` (signed when the enum is).
 */
export function formatSpec(spec: CoreSpec): string {
  const root = spec.btf.typeById(spec.rootTypeId)
  let s = `<${coreReloKindName(spec.kind)}> [${spec.rootTypeId}] ${kindStr(root.kind)} ${root.name === '' ? '<anon>' : root.name}`
  if (isTypeBased(spec.kind)) return s
  if (isEnumValBased(spec.kind)) {
    const t = spec.btf.typeById(spec.btf.skipTypedefsAndModifiers(spec.rootTypeId))
    // A candidate that did not match has an empty raw spec; libbpf then prints enumerator 0.
    const idx = spec.raw[0] ?? 0
    if ((t.kind !== Kind.ENUM && t.kind !== Kind.ENUM64) || idx >= t.values.length) return s
    let name: string
    let value: string
    if (t.kind === Kind.ENUM) {
      const v = t.values[idx]!
      name = v.name
      value = t.kindFlag ? String(v.value | 0) : String(v.value >>> 0)
    } else {
      const v = t.values[idx]!
      name = v.name
      value = t.kindFlag ? String(BigInt.asIntN(64, v.value)) : String(BigInt.asUintN(64, v.value))
    }
    return `${s}::${name} = ${value}`
  }
  spec.accessors.forEach((acc, i) => {
    if (acc.name !== undefined) s += `.${acc.name}`
    else if (i > 0 || acc.idx > 0) s += `[${acc.idx}]`
  })
  const off = spec.bitOffset % 8 === 0 ? `${spec.bitOffset / 8}` : `${Math.floor(spec.bitOffset / 8)}.${spec.bitOffset % 8}`
  return `${s} (${spec.raw.join(':')} @ offset ${off})`
}
