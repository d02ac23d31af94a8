/**
 * Name lookups over a BTF's types without turning every name into a JavaScript string.
 *
 * A kernel has ~100,000 named types. A `Map<string, id[]>` over them costs one string
 * and one map entry each (about 10 ms and most of the garbage of a matrix run, per
 * kernel), although a CO-RE pass or a `check` asks for a few hundred names. This index
 * works on the string section's bytes instead:
 *
 * - Build: hash each type's name bytes (FNV-1a, 32 bit) into a bucket of an open hash
 *   table kept in typed arrays: `heads[bucket]` is the first type index + 1 (0 = empty)
 *   and `chain[i]` the next type in the same bucket. Types are inserted from the last to
 *   the first, so every chain lists types in ascending id order. While hashing, a name
 *   that contains `___` is noted: only those can carry a CO-RE `___flavor` suffix.
 * - Lookup: hash the wanted name's UTF-8 bytes the same way and walk its bucket's
 *   chain, comparing bytes; collisions cost a byte comparison, never a wrong answer.
 *
 * Name offsets are validated by the parser (inside the string section, which ends in
 * NUL), so the byte loops always stop at a NUL.
 *
 * The tables are plain typed arrays, so they can be kept across processes: {@link
 * NameIndex.parts} gives them and the constructor takes them back instead of hashing
 * (see scan-cache.ts, which stores them beside an archived kernel's raw BTF).
 */
import {elementAt, ensureAllLoaded, ensureLoaded} from './paged.js'
import type {StringTable} from './strings.js'

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/**
 * A built index's tables. `chain` may be shared by indexes over disjoint sets of types
 * (a type is in one chain only, so each index reads only its own types' entries).
 */
export interface NameIndexParts {
  heads: Int32Array
  chain: Int32Array
  members: Int32Array
  flavored: Int32Array
}

export class NameIndex {
  private readonly heads: Int32Array
  private readonly chain: Int32Array
  private readonly mask: number
  /** Indexes of the types whose name contains `___`, ascending. */
  readonly flavoredCandidates: number[]
  /** Indexes of the indexed (named, included) types, ascending. */
  private readonly members: Int32Array
  private keyMemo: Float64Array | undefined

  /**
   * @param nameOffs name offset of each type (0 = anonymous), by index
   * @param strings the BTF's string table (with its base, for split BTF)
   * @param include which type indexes to index (default all)
   * @param stored the tables of an index built before over the same types and strings
   *   ({@link parts}): taken as they are, nothing is hashed
   */
  constructor(
    private readonly nameOffs: Uint32Array,
    private readonly strings: StringTable,
    include?: (index: number) => boolean,
    stored?: NameIndexParts,
  ) {
    if (stored) {
      ensureLoaded(stored.flavored, 0, stored.flavored.byteLength) // a stored scan read on demand (paged.ts)
      this.heads = stored.heads
      this.chain = stored.chain
      this.mask = stored.heads.length - 1
      this.members = stored.members
      this.flavoredCandidates = Array.from(stored.flavored)
      return
    }
    const count = nameOffs.length
    let size = 1024
    while (size < count) size *= 2
    this.mask = size - 1
    this.heads = new Int32Array(size)
    this.chain = new Int32Array(count)
    const flavored: number[] = []
    const members = new Int32Array(count)
    let m = count
    // every name is hashed: all of the string tables, when read on demand (paged.ts)
    for (let t: StringTable | undefined = strings; t; t = t.base) ensureAllLoaded(t.bytes)
    const own = strings.bytes
    const ownStart = strings.startOffset
    for (let i = count - 1; i >= 0; i--) {
      const off = nameOffs[i]!
      if (off === 0 || (include && !include(i))) continue
      let bytes = own
      let at = off - ownStart
      if (at < 0) ({bytes, at} = this.locate(off))
      let h = FNV_OFFSET
      let run = 0
      let triple = false
      for (let p = at; ; p++) {
        const c = bytes[p]!
        if (c === 0) break
        h = Math.imul(h ^ c, FNV_PRIME)
        if (c === 0x5f) {
          if (++run === 3) triple = true
        } else run = 0
      }
      if (bytes[at] === 0) continue // an offset at a NUL names "": anonymous
      const b = h & this.mask
      this.chain[i] = this.heads[b]!
      this.heads[b] = i + 1
      members[--m] = i
      if (triple) flavored.push(i)
    }
    this.flavoredCandidates = flavored.reverse()
    this.members = members.subarray(m)
  }

  /** The index's tables, for {@link constructor}'s `stored`. */
  parts(): NameIndexParts {
    return {heads: this.heads, chain: this.chain, members: this.members, flavored: Int32Array.from(this.flavoredCandidates)}
  }

  /** Indexes of the named types this index holds, ascending. */
  indexes(): Int32Array {
    ensureLoaded(this.members, 0, this.members.byteLength) // a stored scan read on demand (paged.ts)
    return this.members
  }

  /**
   * A 53-bit key of each name in {@link indexes}' order: a second, independent hash
   * (FNV-1a with another basis and multiplier) joined to the first, exact in a double.
   * Equal names have equal keys; two different names share one with probability
   * about 2^-53, so a set of keys tells "seen before" without decoding the names.
   */
  keys(): Float64Array {
    if (this.keyMemo) return this.keyMemo
    const out = new Float64Array(this.members.length)
    for (let t: StringTable | undefined = this.strings; t; t = t.base) ensureAllLoaded(t.bytes)
    ensureAllLoaded(this.members) // and the stored scan, every name offset
    ensureAllLoaded(this.nameOffs)
    const own = this.strings.bytes
    const ownStart = this.strings.startOffset
    for (let k = 0; k < this.members.length; k++) {
      const off = this.nameOffs[this.members[k]!]!
      let bytes = own
      let at = off - ownStart
      if (at < 0) ({bytes, at} = this.locate(off))
      let h1 = FNV_OFFSET
      let h2 = 0x2f1b3c5d
      for (let p = at; ; p++) {
        const c = bytes[p]!
        if (c === 0) break
        h1 = Math.imul(h1 ^ c, FNV_PRIME)
        h2 = Math.imul(h2 ^ c, 0x5bd1e995)
      }
      out[k] = (h1 >>> 0) * 0x200000 + (h2 >>> 11)
    }
    return (this.keyMemo = out)
  }

  /** Indexes (ascending) of the types named exactly `name`. */
  lookup(name: string): number[] {
    if (name === '') return []
    const want = Buffer.from(name, 'utf8')
    let h = FNV_OFFSET
    for (let k = 0; k < want.length; k++) h = Math.imul(h ^ want[k]!, FNV_PRIME)
    const out: number[] = []
    // (elementAt: a stored scan read on demand, paged.ts)
    for (let e = elementAt(this.heads, h & this.mask); e !== 0; e = elementAt(this.chain, e - 1)) {
      const i = e - 1
      const {bytes, at} = this.locate(elementAt(this.nameOffs, i))
      ensureLoaded(bytes, at, at + want.length + 1) // bytes read on demand (paged.ts)
      let k = 0
      while (k < want.length && bytes[at + k] === want[k]) k++
      if (k === want.length && bytes[at + k] === 0) out.push(i)
    }
    return out
  }

  /** The table holding offset `off` (own or base, for split BTF) and the offset within it. */
  private locate(off: number): {bytes: Uint8Array; at: number} {
    let t: StringTable | undefined = this.strings
    while (t && off < t.startOffset) t = t.base
    // the parser checked every offset, so some table holds it
    return {bytes: t!.bytes, at: off - t!.startOffset}
  }
}
