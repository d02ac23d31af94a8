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
 */
import type {StringTable} from './strings.js'

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

export class NameIndex {
  private readonly heads: Int32Array
  private readonly chain: Int32Array
  private readonly mask: number
  /** Indexes of the types whose name contains `___`, ascending. */
  readonly flavoredCandidates: number[] = []

  /**
   * @param nameOffs name offset of each type (0 = anonymous), by index
   * @param strings the BTF's string table (with its base, for split BTF)
   * @param include which type indexes to index (default all)
   */
  constructor(
    private readonly nameOffs: Uint32Array,
    private readonly strings: StringTable,
    include?: (index: number) => boolean,
  ) {
    const count = nameOffs.length
    let size = 1024
    while (size < count) size *= 2
    this.mask = size - 1
    this.heads = new Int32Array(size)
    this.chain = new Int32Array(count)
    const flavored: number[] = []
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
      if (triple) flavored.push(i)
    }
    this.flavoredCandidates = flavored.reverse()
  }

  /** Indexes (ascending) of the types named exactly `name`. */
  lookup(name: string): number[] {
    if (name === '') return []
    const want = Buffer.from(name, 'utf8')
    let h = FNV_OFFSET
    for (let k = 0; k < want.length; k++) h = Math.imul(h ^ want[k]!, FNV_PRIME)
    const out: number[] = []
    for (let e = this.heads[h & this.mask]!; e !== 0; e = this.chain[e - 1]!) {
      const i = e - 1
      const {bytes, at} = this.locate(this.nameOffs[i]!)
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
