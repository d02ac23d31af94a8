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
import type {StringTable} from '../strings.js'
import type {TypeId} from '../types.js'
import {Kind} from '../wire.js'
import type {DumpState} from './state.js'

/** libbpf formats renamed names into a 256-byte buffer: at most 255 bytes survive. */
const MAX_NAME_BYTES = 255

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/**
 * Occurrence counts of names in one C namespace, keyed by the names' bytes in the BTF
 * string section (libbpf's btf_dump keeps C strings in a hashmap: byte equality too).
 *
 * A kernel's headers count ~50,000 distinct names; a `Map<string, number>` over them
 * held a string and a map entry each (~3 MB of the C dump's peak RSS, measured). This is
 * an open-addressing hash table in two typed arrays: `offs[slot]` is the string offset
 * of the first name seen with that content + 1 (0 = empty slot), `counts[slot]` its
 * count. A name hashes by FNV-1a over its bytes; slots are probed linearly, comparing
 * bytes up to the NUL; the table doubles at half full.
 */
export class NameCounter {
  private offs = new Int32Array(1 << 12)
  private counts = new Int32Array(1 << 12)
  private used = 0
  private readonly strings: StringTable

  constructor(strings: StringTable) {
    this.strings = strings
  }

  /** Counts one more occurrence of the name at string offset `off` and returns the new count. */
  add(off: number): number {
    if (2 * (this.used + 1) > this.offs.length) this.grow()
    const slot = this.find(off)
    if (this.offs[slot] === 0) {
      this.offs[slot] = off + 1
      this.used++
    }
    return ++this.counts[slot]!
  }

  /** The slot holding the name at `off`, or the empty slot where it belongs. */
  private find(off: number): number {
    const [bytes, at] = this.bytesAt(off)
    let h = FNV_OFFSET
    for (let i = at; bytes[i] !== 0; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME)
    const mask = this.offs.length - 1
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const o = this.offs[slot]!
      if (o === 0 || o - 1 === off || this.sameName(off, o - 1)) return slot
    }
  }

  private sameName(a: number, b: number): boolean {
    const [ba, ia] = this.bytesAt(a)
    const [bb, ib] = this.bytesAt(b)
    for (let k = 0; ; k++) {
      const c = ba[ia + k]!
      if (c !== bb[ib + k]) return false
      if (c === 0) return true
    }
  }

  /** The string section holding offset `off` (own or a base's) and the offset in it. */
  private bytesAt(off: number): [Uint8Array, number] {
    let t = this.strings
    while (off < t.startOffset && t.base) t = t.base
    return [t.bytes, off - t.startOffset]
  }

  private grow(): void {
    const oldOffs = this.offs
    const oldCounts = this.counts
    this.offs = new Int32Array(oldOffs.length * 2)
    this.counts = new Int32Array(oldOffs.length * 2)
    for (let i = 0; i < oldOffs.length; i++) {
      if (oldOffs[i] === 0) continue
      const slot = this.find(oldOffs[i]! - 1)
      this.offs[slot] = oldOffs[i]!
      this.counts[slot] = oldCounts[i]!
    }
  }
}

/** Counts one more occurrence of the name at string offset `nameOff` in `names` and returns the new count. */
export function nameDups(names: NameCounter, nameOff: number): number {
  return names.add(nameOff)
}

/** `name___n`, truncated to what libbpf's fixed buffer keeps. */
function suffixed(name: string, n: number): string {
  const s = `${name}___${n}`
  if (s.length <= MAX_NAME_BYTES / 4) return s
  const bytes = Buffer.from(s, 'utf8')
  return bytes.length <= MAX_NAME_BYTES ? s : bytes.subarray(0, MAX_NAME_BYTES).toString('utf8')
}

function resolveName(st: DumpState, id: TypeId, names: NameCounter): string {
  const t = st.typeOf(id)
  if (t.nameOff === 0) return ''
  if (st.nameResolved[id] === 1) return st.cachedNames.get(id) ?? t.name
  st.nameResolved[id] = 1
  if (t.kind === Kind.FWD || (t.kind === Kind.ENUM && t.values.length === 0)) return t.name
  const n = nameDups(names, t.nameOff)
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
