/**
 * C names for BTF types, made unique the way libbpf's btf_dump does it.
 *
 * BTF may hold several different types with the same name (two `struct foo` from
 * different compilation units that dedup could not merge, or a module defining its
 * own `struct foo` on top of vmlinux). C cannot, so the dumper renames every
 * occurrence after the first: the N-th distinct type named `foo` is printed as
 * `foo___N`. CO-RE ignores a `___suffix` when matching, so the renamed types still
 * relocate against the kernel's `foo`.
 *
 * C has separate namespaces, and so does the renaming:
 * - tags: struct, union and enum names (and, as libbpf does, INT names, which are
 *   looked up only to spot the few GCC built-ins that need an alias typedef);
 * - ordinary identifiers: typedef names and enumerator names.
 * A `struct foo` and a `typedef ... foo` therefore do not clash, while an enumerator
 * and a typedef of the same name do.
 *
 * A type's name is fixed the first time it is printed, so the numbering follows
 * emission order (not id order). Forward declarations and enum forward declarations
 * (no values) are never renamed: they may legitimately repeat. Enumerators are
 * counted every time their enum body is printed.
 */
import type {TypeId} from '../types.js'
import {Kind} from '../wire.js'
import type {DumpState} from './state.js'

/** libbpf formats renamed names into a 256-byte buffer: at most 255 bytes survive. */
const MAX_NAME_BYTES = 255

/** Counts one more occurrence of `name` in `names` and returns the new count. */
export function nameDups(names: Map<string, number>, name: string): number {
  const n = (names.get(name) ?? 0) + 1
  names.set(name, n)
  return n
}

/** `name___n`, truncated to what libbpf's fixed buffer keeps. */
function suffixed(name: string, n: number): string {
  const s = `${name}___${n}`
  if (s.length <= MAX_NAME_BYTES / 4) return s
  const bytes = Buffer.from(s, 'utf8')
  return bytes.length <= MAX_NAME_BYTES ? s : bytes.subarray(0, MAX_NAME_BYTES).toString('utf8')
}

function resolveName(st: DumpState, id: TypeId, names: Map<string, number>): string {
  const t = st.typeOf(id)
  if (t.nameOff === 0) return ''
  if (st.nameResolved[id] === 1) return st.cachedNames.get(id) ?? t.name
  st.nameResolved[id] = 1
  if (t.kind === Kind.FWD || (t.kind === Kind.ENUM && t.values.length === 0)) return t.name
  const n = nameDups(names, t.name)
  if (n > 1) {
    const renamed = suffixed(t.name, n)
    st.cachedNames.set(id, renamed)
    return renamed
  }
  return t.name
}

/** Name of a struct/union/enum/fwd (tag namespace); '' when anonymous. */
export function typeName(st: DumpState, id: TypeId): string {
  return resolveName(st, id, st.typeNames)
}

/** Name of a typedef (identifier namespace). */
export function identName(st: DumpState, id: TypeId): string {
  return resolveName(st, id, st.identNames)
}
