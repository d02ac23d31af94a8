/**
 * Sizes, alignments and packed-struct inference, with libbpf's exact rules
 * (btf__resolve_size, btf__align_of, btf_is_struct_packed), because the padding the
 * dumper prints depends on them bit for bit.
 *
 * The walks are the ones {@link Btf.sizeOf}/{@link Btf.alignOf} use (btf.ts); here they
 * fail as libbpf does, without throwing: 0 (alignment) or -1 (size), and the dumper
 * carries on with that value. Alignment is memoized per id in the dump state since
 * every struct definition asks for the alignment of each of its members.
 */
import {alignOfType, resolveSize as resolveSizeWalk} from '../btf.js'
import type {CompositeType, TypeId} from '../types.js'
import type {DumpState} from './state.js'

/**
 * Byte size of a value of type `id` (libbpf's btf__resolve_size, the shared walk in
 * btf.ts), or -1 when it has none (void, functions, forward declarations, chains deeper
 * than libbpf follows) or when the size does not fit in 32 bits.
 */
export function resolveSize(st: DumpState, id: TypeId): number {
  const r = resolveSizeWalk(st.typeOf, id, st.ptrSize)
  return typeof r === 'number' ? r : -1
}

/**
 * Natural alignment of type `id` in bytes, 0 when it has none: libbpf's btf__align_of,
 * the shared walk in btf.ts (alignOfType), memoized in the dump state.
 */
export function alignOf(st: DumpState, id: TypeId): number {
  const cached = st.alignCache[id]!
  if (cached !== 0) return cached - 1
  return alignOfType(st.typeOf, id, st.ptrSize, st.alignCache)
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
