/**
 * BTF string tables: the read side ({@link StringTable}) and the write side
 * ({@link StringTableBuilder}).
 *
 * A string section is a run of NUL-terminated strings that starts with the empty
 * string (offset 0 = ""). Names are referenced by byte offset. In split BTF (a kernel
 * module's BTF on top of vmlinux) offsets below the base's string length refer to the
 * base table, and the split table's own offsets continue after it.
 *
 * Like libbpf (and unlike cilium/ebpf) an offset may point into the middle of a
 * string; it then names the string's tail. Offsets past the end are errors.
 */
import {isAscii} from 'node:buffer'
import {BtfError} from '../errors.js'
import {ensureAllLoaded, ensureLoaded, loadedStringEnd} from './paged.js'

/** How many names StringTable.get decodes one by one before it copies the whole table. */
const DECODE_ONE_BY_ONE = 8192

export class StringTable {
  /** The raw section bytes, exactly as read (used to write the BTF back unchanged). */
  readonly bytes: Uint8Array
  /** Offset of this table's first byte in the combined (base + split) offset space. */
  readonly startOffset: number
  readonly base: StringTable | undefined
  private readonly buf: Buffer
  /**
   * The whole section as one latin1 string when it is pure ASCII (it always is for
   * kernel BTF): `get` then slices it without decoding, which is several times faster
   * than decoding each name. Non-ASCII tables decode per name as UTF-8 instead.
   */
  private ascii: string | undefined
  private checkedAscii = false
  /** Names read before the table was prepared (see get). */
  private gets = 0
  private readonly cache = new Map<number, string>()

  /**
   * Validates and wraps a string section.
   * @param fileOffset where the section starts in the input, for error offsets.
   * @throws BtfError `BTF_BAD_STRINGS` when the section is empty (for base BTF), does
   *   not start with "" (base BTF) or does not end in NUL.
   */
  constructor(bytes: Uint8Array, base?: StringTable, fileOffset = 0) {
    this.bytes = bytes
    this.base = base
    this.startOffset = base ? base.startOffset + base.bytes.length : 0
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    // bytes read on demand (paged.ts): the first and last byte, checked here
    ensureLoaded(bytes, 0, 1)
    ensureLoaded(bytes, bytes.length - 1, bytes.length)
    if (bytes.length === 0) {
      if (!base) throw new BtfError('BTF_BAD_STRINGS', 'BTF string section is empty', {offset: fileOffset})
      return
    }
    if (bytes[bytes.length - 1] !== 0) {
      throw new BtfError('BTF_BAD_STRINGS', 'BTF string section does not end with a NUL byte', {
        offset: fileOffset + bytes.length - 1,
      })
    }
    if (!base && bytes[0] !== 0) {
      throw new BtfError('BTF_BAD_STRINGS', 'BTF string section does not start with the empty string', {
        offset: fileOffset,
      })
    }
  }

  /** Total length of the offset space (base + this table). */
  get end(): number {
    return this.startOffset + this.bytes.length
  }

  /** Whether `off` names a string (in this table or its base). */
  has(off: number): boolean {
    return off >= 0 && off < this.end
  }

  /**
   * The string at `off`.
   * @throws BtfError `BTF_BAD_STRING_OFFSET` when `off` is outside the table.
   */
  get(off: number): string {
    if (off < this.startOffset) {
      if (this.base) return this.base.get(off)
      throw new BtfError('BTF_BAD_STRING_OFFSET', `string offset ${off} is out of range`)
    }
    const local = off - this.startOffset
    if (local >= this.bytes.length) {
      throw new BtfError('BTF_BAD_STRING_OFFSET', `string offset ${off} is past the end of the string section (${this.end})`)
    }
    if (!this.checkedAscii) {
      // The first names are decoded one by one: a caller that reads a few dozen names
      // (check's BPF enums) should not pay for the whole table (checking and copying a
      // kernel's 2 MB took 3-8 ms of `check`); one that reads many makes the copy.
      if (++this.gets <= DECODE_ONE_BY_ONE) return this.buf.toString('utf8', local, loadedStringEnd(this.bytes, local, this.buf))
      this.prepare()
    }
    const ascii = this.ascii
    if (ascii !== undefined) return ascii.slice(local, ascii.indexOf('\0', local))
    let s = this.cache.get(off)
    if (s !== undefined) return s
    s = this.buf.toString('utf8', local, this.buf.indexOf(0, local))
    this.cache.set(off, s)
    return s
  }

  /** Whether the string at `off` starts with `prefix` (ASCII only), without decoding it. */
  startsWithAt(off: number, prefix: string): boolean {
    if (off < this.startOffset) return this.base ? this.base.startsWithAt(off, prefix) : false
    const at = off - this.startOffset
    if (at + prefix.length >= this.bytes.length) return false
    ensureLoaded(this.bytes, at, at + prefix.length)
    for (let k = 0; k < prefix.length; k++) if (this.bytes[at + k] !== prefix.charCodeAt(k)) return false
    return true
  }

  private prepare(): void {
    this.checkedAscii = true
    ensureAllLoaded(this.bytes)
    if (!isAscii(this.bytes)) return
    this.ascii = this.buf.toString('latin1')
  }

  /**
   * Offset of `s` if it is present as a whole string, found by scanning (slow; meant
   * for occasional lookups, not for bulk writes).
   */
  find(s: string): number | undefined {
    if (s === '') return 0
    const needle = Buffer.from(`\0${s}\0`, 'utf8')
    ensureAllLoaded(this.bytes)
    const i = this.buf.indexOf(needle)
    if (i >= 0) return this.startOffset + i + 1
    return this.base?.find(s)
  }
}

/**
 * Builds a string section, storing each distinct string once. Offset 0 is "".
 * For split BTF, give the base's string table: strings already in the base are not
 * added again only when the caller looks them up there first (see Builder).
 */
export class StringTableBuilder {
  private readonly offsets = new Map<string, number>()
  private readonly chunks: Buffer[] = []
  private length = 0
  readonly startOffset: number

  constructor(startOffset = 0) {
    this.startOffset = startOffset
    this.add('')
  }

  /**
   * Adds `s` (once) and returns its offset in the combined offset space.
   * @throws BtfError `BTF_BAD_STRING` for strings containing NUL.
   */
  add(s: string): number {
    const known = this.offsets.get(s)
    if (known !== undefined) return known
    if (s.includes('\0')) throw new BtfError('BTF_BAD_STRING', `string ${JSON.stringify(s)} contains a NUL byte`)
    const off = this.startOffset + this.length
    const b = Buffer.from(`${s}\0`, 'utf8')
    this.chunks.push(b)
    this.length += b.length
    this.offsets.set(s, off)
    return off
  }

  get byteLength(): number {
    return this.length
  }

  toBytes(): Uint8Array {
    return Buffer.concat(this.chunks, this.length)
  }
}
