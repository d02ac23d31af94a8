/**
 * Sizes, alignments and packed-struct inference, with libbpf's exact rules
 * (btf__resolve_size, btf__align_of, btf_is_struct_packed), because the padding the
 * dumper prints depends on them bit for bit.
 *
 * These differ from {@link Btf.sizeOf}/{@link Btf.alignOf} in how they fail: libbpf
 * does not throw, it answers 0 (alignment) or a negative size, and the dumper carries
 * on with that value. Alignment is memoized per id in the dump state since every
 * struct definition asks for the alignment of each of its members.
 */
import {resolveSize as resolveSizeWalk} from '../btf.js'
import type {CompositeType, TypeId} from '../types.js'
import {Kind} from '../wire.js'
import type {DumpState} from './state.js'


/**
 * Byte size of a value of type `id` (libbpf's btf__resolve_size, the shared walk in
 * btf.ts), or -1 when it has none (void, functions, forward declarations, chains deeper
 * than libbpf follows) or when the size does not fit in 32 bits.
 */
export function resolveSize(st: DumpState, id: TypeId): number {
  const r = resolveSizeWalk((i) => st.types[i]!, id, st.ptrSize)
  return typeof r === 'number' ? r : -1
}

/**
 * Natural alignment of type `id` in bytes, 0 when it has none.
 *
 * Scalars align to their size capped at the pointer size; pointers to the pointer
 * size; typedefs, modifiers and arrays to what they wrap. A struct or union aligns
 * to its most aligned member, unless its layout proves it was packed — a plain
 * (non-bitfield) member sitting off its own alignment, or a total size that is not a
 * multiple of the member alignment — in which case it aligns to 1.
 */
export function alignOf(st: DumpState, id: TypeId): number {
  const cached = st.alignCache[id]!
  if (cached !== 0) return cached - 1
  const t = st.types[id]!
  let align: number
  switch (t.kind) {
    case Kind.INT:
    case Kind.ENUM:
    case Kind.ENUM64:
    case Kind.FLOAT:
      align = Math.min(st.ptrSize, t.size)
      break
    case Kind.PTR:
      align = st.ptrSize
      break
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
    case Kind.ARRAY:
      // Parsed BTF has no loops through these kinds, so plain recursion ends.
      align = alignOf(st, t.type)
      break
    case Kind.STRUCT:
    case Kind.UNION:
      // A struct embedding itself is malformed; answer 0 instead of recursing forever.
      st.alignCache[id] = 1
      align = compositeAlign(st, t)
      break
    default:
      align = 0
  }
  st.alignCache[id] = align + 1
  return align
}

function compositeAlign(st: DumpState, t: CompositeType<number>): number {
  let maxAlign = 1
  const members = t.members
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!
    const a = alignOf(st, m.type)
    if (a <= 0) return a
    if (a > maxAlign) maxAlign = a
    if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1
  }
  return t.size % maxAlign !== 0 ? 1 : maxAlign
}

/**
 * Whether a struct must be printed with `__attribute__((packed))`: some non-bitfield
 * member is not at a multiple of its natural alignment, or the struct's size is not a
 * multiple of its largest member alignment (e.g. `{int a; char b;}` of size 5). A
 * struct declared packed whose layout happens to be naturally aligned is not
 * detected, and need not be: it compiles to the same layout without the attribute.
 */
export function isStructPacked(st: DumpState, t: CompositeType<number>): boolean {
  let maxAlign = 1
  const members = t.members
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!
    const a = alignOf(st, m.type)
    if (a !== 0 && m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return true
    if (a > maxAlign) maxAlign = a
  }
  return t.size % maxAlign !== 0
}
