/**
 * A small, zero-copy ELF reader.
 *
 * kcompat reads three kinds of ELF file: a kernel image (`vmlinux`, ET_EXEC), kernel
 * modules (`.ko`, ET_REL) and BPF objects (`clang -target bpfel|bpfeb -c`, ET_REL). From
 * them it needs the `.BTF` / `.BTF.ext` section bytes, the symbol table and relocation
 * entries (which map CO-RE relocations to BPF programs). This module reads exactly that:
 * the ELF header, the section header table, section names, `.symtab` and REL/RELA
 * sections, for 32- and 64-bit files of either byte order. Program headers, dynamic
 * linking data and compressed sections are not interpreted.
 *
 * Design rules:
 *
 * - Zero copy: section data is returned as a `subarray` view of the caller's buffer.
 * - Every multi-byte read goes through a `DataView` over exactly the caller's bytes
 *   (`buffer`, `byteOffset`, `byteLength`, so a pooled Node `Buffer` works) with the
 *   file's byte order passed explicitly.
 * - Every offset and count taken from the file is checked against the buffer length
 *   before it is used, so a corrupt file produces an {@link ElfError} with a stable code
 *   and the byte offset of the offending structure, never a `RangeError`, a read past
 *   the end, a huge allocation or an unbounded loop.
 *
 * Error codes: `ELF_TRUNCATED` (a header or header table runs past the end of the
 * input), `ELF_BAD_MAGIC`, `ELF_BAD_CLASS` (neither 32- nor 64-bit),
 * `ELF_BAD_BYTE_ORDER`, `ELF_BAD_VERSION`, `ELF_BAD_HEADER` (inconsistent ELF header
 * fields), `ELF_BAD_SECTION` (a section header whose data lies outside the file, or a
 * section that is not what its use requires), `ELF_BAD_STRING` (a name offset outside its
 * string table, a name without a terminating NUL, or a string table referenced for far
 * more bytes than it holds) and `ELF_BAD_SYMBOL` (a symbol or relocation that refers to a
 * section or symbol that does not exist).
 */
import {ElfError} from '../errors.js'
import {
  EI_CLASS,
  EI_DATA,
  EI_NIDENT,
  EI_VERSION,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  EV_CURRENT,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHN_XINDEX,
  SHT_DYNSYM,
  SHT_NOBITS,
  SHT_NULL,
  SHT_REL,
  SHT_RELA,
  SHT_STRTAB,
  SHT_SYMTAB,
  SHT_SYMTAB_SHNDX,
} from './constants.js'

/** One entry of the section header table, with its name resolved. */
export interface ElfSection {
  /** Position in the section header table; what `sh_link`, `sh_info` and `st_shndx` refer to. */
  index: number
  /** Name from the section header string table; `''` for unnamed sections or when the file has none. */
  name: string
  /** `sh_type` (`SHT_*`). */
  type: number
  /** `sh_flags` (`SHF_*`); a bigint because it is a 64-bit field in ELF64. */
  flags: bigint
  /** `sh_addr`: the virtual address in a linked image, 0 in relocatable objects. */
  addr: bigint
  /** `sh_offset`: file offset of the data. */
  offset: number
  /** `sh_size`: size in bytes. For `SHT_NOBITS` (`.bss`) this is the run-time size; the file holds no bytes. */
  size: number
  /** `sh_link`: a section index whose meaning depends on `type` (e.g. the string table of a symbol table). */
  link: number
  /** `sh_info`: type-dependent; for REL/RELA sections, the index of the section the relocations apply to. */
  info: number
  /** `sh_addralign`. */
  addralign: number
  /** `sh_entsize`: size of one entry for table sections, else 0. */
  entsize: number
}

/** One entry of `.symtab`. */
export interface ElfSymbol {
  /** Position in the symbol table; what relocations refer to. */
  index: number
  /** Name from the symbol string table; `''` when `st_name` is 0. Section symbols (`STT_SECTION`) are usually unnamed. */
  name: string
  /** `st_value`: section-relative offset in relocatable objects, an address in linked images. */
  value: bigint
  /** `st_size`. */
  size: bigint
  /** `STT_*`, the low four bits of `st_info`. */
  type: number
  /** `STB_*`, the high four bits of `st_info`. */
  bind: number
  /** `STV_*`, the low two bits of `st_other`. */
  visibility: number
  /**
   * The section the symbol is defined in. `SHN_UNDEF` (0), or a reserved value such as
   * `SHN_ABS` / `SHN_COMMON`, is returned as is. `SHN_XINDEX` is resolved through the
   * `SHT_SYMTAB_SHNDX` section, so this is always a real index or a reserved value,
   * never `SHN_XINDEX`.
   */
  shndx: number
}

/** One entry of a REL or RELA section. */
export interface ElfRelocation {
  /** `r_offset`: offset in the target section (relocatable objects) or a virtual address (linked images). */
  offset: bigint
  /** Relocation type, machine-specific (e.g. `R_BPF_64_64`). */
  type: number
  /**
   * Symbol index, into the symbol table named by the relocation section's `sh_link`. For
   * relocatable objects (BPF objects, modules) that is `.symtab`, i.e. an index into
   * {@link ElfFile.symbols}. 0 means "no symbol".
   */
  symbol: number
  /** `r_addend` (signed) for RELA; `undefined` for REL, where the addend is stored in the relocated field. */
  addend: bigint | undefined
}

/** Returns true when `bytes` starts with the ELF magic `\x7fELF` (it may still be truncated or corrupt). */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46
}

/** Sizes of the fixed structures for one ELF class. */
interface Layout {
  ehsize: number
  shentsize: number
  symentsize: number
  relentsize: number
  relaentsize: number
}

const LAYOUT32: Layout = {ehsize: 52, shentsize: 40, symentsize: 16, relentsize: 8, relaentsize: 12}
const LAYOUT64: Layout = {ehsize: 64, shentsize: 64, symentsize: 24, relentsize: 16, relaentsize: 24}

const MAGIC = [0x7f, 0x45, 0x4c, 0x46]

function fail(code: string, message: string, offset: number): never {
  throw new ElfError(code, message, {offset})
}

/**
 * Bounds-free primitive reads for one file. Callers check bounds first; these only
 * centralise the byte order and the ELF32/ELF64 field widths.
 */
class Reader {
  readonly view: DataView
  constructor(
    bytes: Uint8Array,
    readonly le: boolean,
    readonly is64: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  u8(off: number): number {
    return this.view.getUint8(off)
  }
  u16(off: number): number {
    return this.view.getUint16(off, this.le)
  }
  u32(off: number): number {
    return this.view.getUint32(off, this.le)
  }
  /**
   * An address-sized unsigned field (u32 in ELF32, u64 in ELF64) as a JS number. Values
   * above 2^53 lose precision, but they are still larger than any buffer, which is all a
   * bounds check needs; use {@link safeWord} where the exact value is kept.
   */
  word(off: number): number {
    if (!this.is64) return this.u32(off)
    const lo = this.le ? this.u32(off) : this.u32(off + 4)
    const hi = this.le ? this.u32(off + 4) : this.u32(off)
    return hi * 0x1_0000_0000 + lo
  }
  /** Like {@link word}, but throws `code` when the value cannot be represented exactly. */
  safeWord(off: number, code: string, what: string): number {
    const v = this.word(off)
    if (v > Number.MAX_SAFE_INTEGER) fail(code, `${what} ${this.bigWord(off)} is too large`, off)
    return v
  }
  /** An address-sized unsigned field as a bigint. */
  bigWord(off: number): bigint {
    return this.is64 ? this.view.getBigUint64(off, this.le) : BigInt(this.u32(off))
  }
}

const utf8 = new TextDecoder('utf-8', {fatal: false})

/** Node's Buffer, when present: its native `toString('utf8', start, end)` is the fastest decoder. */
const NodeBuffer = (globalThis as {Buffer?: typeof Buffer}).Buffer

/** Names at most this long are decoded on every lookup; longer ones are cached and counted against a budget. */
const SHORT_STRING = 256

/**
 * A string table section (`SHT_STRTAB`): NUL-terminated UTF-8 strings addressed by byte
 * offset.
 *
 * Finding and decoding a string costs its length, and nothing stops a corrupt file from
 * pointing many symbols at one huge string (or at successive offsets inside it), which
 * would make the total work and the memory held by the names quadratic in the file
 * size. Short names (the normal case) are cheap by definition; long ones are cached by
 * offset and the bytes decoded for them are charged against a budget proportional to
 * the table size, far above what any real file needs. Exceeding it is `ELF_BAD_STRING`.
 */
class StringTable {
  private readonly long = new Map<number, string>()
  private budget: number
  private readonly buf: Buffer | undefined

  constructor(
    /** The table's bytes. */
    private readonly data: Uint8Array,
    /** File offset of `data[0]`, for error offsets. */
    private readonly fileOffset: number,
    /** Section name, for messages. */
    private readonly what: string,
  ) {
    // 8x the table plus 1 MiB: real tables are decoded about once (suffix sharing such as
    // `.rela.text`/`.text` adds little), so only a corrupt file gets near this.
    this.budget = 8 * data.length + (1 << 20)
    this.buf = NodeBuffer?.from(data.buffer, data.byteOffset, data.byteLength)
  }

  /**
   * The string at `off`. Offset 0 is the empty string by definition (gABI: index 0 of a
   * string table holds NUL; `st_name == 0` means "no name"). `refOffset` is the file
   * offset of the field that holds `off`, reported when `off` is outside the table.
   */
  get(off: number, refOffset: number): string {
    if (off === 0) return ''
    const data = this.data
    if (off >= data.length) {
      fail('ELF_BAD_STRING', `name offset ${off} is outside ${this.what} (${data.length} bytes)`, refOffset)
    }
    // A long name seen before is not even scanned again.
    const hit = this.long.size === 0 ? undefined : this.long.get(off)
    if (hit !== undefined) return hit
    // The search is confined to the table (a subarray), so it cannot run past it; an
    // unterminated string throws at its first use, so that scan is never repeated.
    const end = data.indexOf(0, off)
    if (end < 0) fail('ELF_BAD_STRING', `string in ${this.what} is not NUL-terminated`, this.fileOffset + off)
    if (end - off <= SHORT_STRING) return this.decode(off, end)
    // Scanning and decoding a long name are both charged to the budget.
    this.budget -= end - off
    if (this.budget < 0) {
      fail('ELF_BAD_STRING', `${this.what} is referenced for far more string bytes than it holds`, this.fileOffset + off)
    }
    const s = this.decode(off, end)
    this.long.set(off, s)
    return s
  }

  private decode(start: number, end: number): string {
    return this.buf ? this.buf.toString('utf8', start, end) : utf8.decode(this.data.subarray(start, end))
  }
}

/**
 * A parsed ELF file. {@link ElfFile.parse} validates the ELF header, the whole section
 * header table and all section names up front; symbols and relocations are decoded on
 * request. The object keeps a reference to (never a copy of) the input bytes, which must
 * not be modified while it is in use.
 */
export class ElfFile {
  /** ELF class: 32- or 64-bit. */
  readonly bits: 32 | 64
  /** Byte order of every multi-byte field (and of the BTF inside, in practice). */
  readonly littleEndian: boolean
  /** `e_type` (`ET_REL` for objects and modules, `ET_EXEC` for vmlinux). */
  readonly type: number
  /** `e_machine` (`EM_BPF` = 247, `EM_X86_64` = 62, `EM_AARCH64` = 183, ...). */
  readonly machine: number
  /** All sections, in header table order, so `sections[i].index === i` (section 0 is the null section). */
  readonly sections: readonly ElfSection[]

  private readonly bytes: Uint8Array
  private readonly r: Reader
  private readonly layout: Layout
  /** File offset of the section header table. */
  private readonly shoff: number
  private byName: Map<string, ElfSection> | undefined
  private relocsByTarget: Map<number, ElfSection[]> | undefined
  private symbolCache: ElfSymbol[] | undefined

  private constructor(bytes: Uint8Array, r: Reader, type: number, machine: number, shoff: number, sections: ElfSection[]) {
    this.bytes = bytes
    this.r = r
    this.layout = r.is64 ? LAYOUT64 : LAYOUT32
    this.bits = r.is64 ? 64 : 32
    this.littleEndian = r.le
    this.type = type
    this.machine = machine
    this.shoff = shoff
    this.sections = Object.freeze(sections)
  }

  /**
   * Parses and validates the ELF header, the section header table and the section names.
   * Throws {@link ElfError} on any malformation (see the module comment for the codes).
   *
   * Handles extended section numbering: with 0xff00 or more sections, `e_shnum` is 0 and
   * the real count is in section 0's `sh_size`, and `e_shstrndx` is `SHN_XINDEX` with the
   * real index in section 0's `sh_link`.
   */
  static parse(bytes: Uint8Array): ElfFile {
    const len = bytes.length
    for (let i = 0; i < 4; i++) {
      if (i >= len) fail('ELF_TRUNCATED', `input ends after ${len} bytes, inside the ELF magic`, len)
      if (bytes[i] !== MAGIC[i]) fail('ELF_BAD_MAGIC', 'not an ELF file (no \\x7fELF magic)', i)
    }
    if (len < EI_NIDENT) fail('ELF_TRUNCATED', `input ends after ${len} bytes, inside e_ident`, len)
    const cls = bytes[EI_CLASS]!
    if (cls !== ELFCLASS32 && cls !== ELFCLASS64) fail('ELF_BAD_CLASS', `unknown ELF class ${cls}`, EI_CLASS)
    const data = bytes[EI_DATA]!
    if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) fail('ELF_BAD_BYTE_ORDER', `unknown ELF data encoding ${data}`, EI_DATA)
    const version = bytes[EI_VERSION]!
    if (version !== EV_CURRENT) fail('ELF_BAD_VERSION', `unknown ELF version ${version}`, EI_VERSION)

    const is64 = cls === ELFCLASS64
    const layout = is64 ? LAYOUT64 : LAYOUT32
    if (len < layout.ehsize) {
      fail('ELF_TRUNCATED', `input ends after ${len} bytes, inside the ${layout.ehsize}-byte ELF header`, len)
    }
    const r = new Reader(bytes, data === ELFDATA2LSB, is64)

    // ELF header field offsets for this class.
    const shoffAt = is64 ? 40 : 32
    const shentsizeAt = is64 ? 58 : 46
    const shnumAt = is64 ? 60 : 48
    const shstrndxAt = is64 ? 62 : 50
    const type = r.u16(16)
    const machine = r.u16(18)
    const shoff = r.word(shoffAt)
    const shentsize = r.u16(shentsizeAt)
    const eShnum = r.u16(shnumAt)
    const eShstrndx = r.u16(shstrndxAt)

    if (shoff === 0) {
      // No section header table (possible for linked images); nothing else to read.
      if (eShnum !== 0) fail('ELF_BAD_HEADER', `e_shnum is ${eShnum} but e_shoff is 0`, shnumAt)
      return new ElfFile(bytes, r, type, machine, 0, [])
    }
    const entsize = layout.shentsize
    if (shentsize !== entsize) {
      fail('ELF_BAD_HEADER', `e_shentsize is ${shentsize}, expected ${entsize} for ELF${layout === LAYOUT64 ? 64 : 32}`, shentsizeAt)
    }
    // Section 0 must be readable: with extended numbering it holds the real counts.
    if (shoff > len - entsize) {
      fail('ELF_TRUNCATED', `section header table at offset ${shoff} is beyond the end of the ${len}-byte input`, shoffAt)
    }
    // Field offsets inside a section header.
    const sh = is64
      ? {name: 0, type: 4, flags: 8, addr: 16, offset: 24, size: 32, link: 40, info: 44, addralign: 48, entsize: 56}
      : {name: 0, type: 4, flags: 8, addr: 12, offset: 16, size: 20, link: 24, info: 28, addralign: 32, entsize: 36}

    // Extended numbering: e_shnum == 0 means "see section 0's sh_size".
    const shnum = eShnum !== 0 ? eShnum : r.word(shoff + sh.size)
    // Reject counts that cannot fit before allocating anything for them.
    if (shnum > (len - shoff) / entsize) {
      fail(
        'ELF_TRUNCATED',
        `${shnum} section headers of ${entsize} bytes at offset ${shoff} do not fit in the ${len}-byte input`,
        eShnum !== 0 ? shnumAt : shoff + sh.size,
      )
    }
    const shstrndx = eShstrndx === SHN_XINDEX ? r.u32(shoff + sh.link) : eShstrndx
    if (shnum > 0 && shstrndx !== SHN_UNDEF && shstrndx >= shnum) {
      fail(
        'ELF_BAD_SECTION',
        `section name table index ${shstrndx} is out of range (${shnum} sections)`,
        eShstrndx === SHN_XINDEX ? shoff + sh.link : shstrndxAt,
      )
    }

    const sections: ElfSection[] = new Array(shnum)
    const nameOffsets = new Array<number>(shnum)
    for (let i = 0; i < shnum; i++) {
      const h = shoff + i * entsize
      const stype = r.u32(h + sh.type)
      const offset = r.safeWord(h + sh.offset, 'ELF_BAD_SECTION', `section ${i} sh_offset`)
      const size = r.safeWord(h + sh.size, 'ELF_BAD_SECTION', `section ${i} sh_size`)
      // Only sections that occupy file bytes are bounds-checked; NOBITS (.bss) and NULL
      // headers (section 0 stores the extended count in sh_size) have no data, and an
      // empty section's offset is never used.
      if (stype !== SHT_NOBITS && stype !== SHT_NULL && size !== 0 && (offset > len || size > len - offset)) {
        fail('ELF_BAD_SECTION', `section ${i} data [${offset}, ${offset + size}) is outside the ${len}-byte input`, h)
      }
      nameOffsets[i] = r.u32(h + sh.name)
      sections[i] = {
        index: i,
        name: '',
        type: stype,
        flags: r.bigWord(h + sh.flags),
        addr: r.bigWord(h + sh.addr),
        offset,
        size,
        link: r.u32(h + sh.link),
        info: r.u32(h + sh.info),
        addralign: r.safeWord(h + sh.addralign, 'ELF_BAD_SECTION', `section ${i} sh_addralign`),
        entsize: r.safeWord(h + sh.entsize, 'ELF_BAD_SECTION', `section ${i} sh_entsize`),
      }
    }

    if (shnum > 0 && shstrndx !== SHN_UNDEF) {
      const strsec = sections[shstrndx]!
      const table = new StringTable(sectionBytes(bytes, strsec), strsec.offset, 'the section name table')
      for (let i = 0; i < shnum; i++) {
        sections[i]!.name = table.get(nameOffsets[i]!, shoff + i * entsize + sh.name)
      }
    }
    for (const s of sections) Object.freeze(s)
    return new ElfFile(bytes, r, type, machine, shoff, sections)
  }

  /** The first section called `name`, or undefined. */
  section(name: string): ElfSection | undefined {
    if (!this.byName) {
      this.byName = new Map()
      for (const s of this.sections) if (!this.byName.has(s.name)) this.byName.set(s.name, s)
    }
    return this.byName.get(name)
  }

  /**
   * The bytes of `section` as a view into the input (no copy). `SHT_NOBITS` and
   * `SHT_NULL` sections, which have no file bytes, give an empty array. The range is
   * checked again here, so a hand-made `ElfSection` cannot read outside the input.
   * `SHF_COMPRESSED` data is returned as stored (compressed).
   */
  sectionData(section: ElfSection): Uint8Array {
    const {offset, size} = section
    const len = this.bytes.length
    if (section.type === SHT_NOBITS || section.type === SHT_NULL || size === 0) return this.bytes.subarray(0, 0)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset > len || size > len - offset) {
      fail('ELF_BAD_SECTION', `section ${section.index} data [${offset}, ${offset + size}) is outside the ${len}-byte input`, this.headerOffset(section.index))
    }
    return this.bytes.subarray(offset, offset + size)
  }

  /**
   * The symbols of `.symtab` (the first `SHT_SYMTAB` section), including the null symbol
   * at index 0, so `symbols()[i].index === i` and relocation `symbol` fields index this
   * array directly. Empty when the file has no symbol table (a stripped image). Decoded
   * once and cached; each call returns a fresh array of the same frozen entries.
   */
  symbols(): ElfSymbol[] {
    if (this.symbolCache) return this.symbolCache.slice()
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB)
    if (!symtab) return []
    const {symentsize} = this.layout
    const count = this.tableCount(symtab, symentsize)
    const strsec = this.linkedSection(symtab, SHT_STRTAB, 'string table')
    const strings = new StringTable(this.sectionData(strsec), strsec.offset, `string table section ${strsec.index}`)
    const r = this.r
    const is64 = r.is64
    const nsections = this.sections.length
    let xindex: {at: number; count: number} | undefined
    const out = new Array<ElfSymbol>(count)
    for (let i = 0; i < count; i++) {
      const e = symtab.offset + i * symentsize
      // Elf32_Sym: name, value, size, info, other, shndx; Elf64_Sym: name, info, other, shndx, value, size.
      const nameOff = r.u32(e)
      const info = r.u8(is64 ? e + 4 : e + 12)
      const other = r.u8(is64 ? e + 5 : e + 13)
      let shndx = r.u16(is64 ? e + 6 : e + 14)
      if (shndx === SHN_XINDEX) {
        xindex ??= this.extendedIndexTable(symtab)
        if (i >= xindex.count) fail('ELF_BAD_SYMBOL', `symbol ${i} uses SHN_XINDEX but the SHT_SYMTAB_SHNDX section has no entry for it`, e)
        shndx = r.u32(xindex.at + i * 4)
        if (shndx >= nsections) fail('ELF_BAD_SYMBOL', `symbol ${i} extended section index ${shndx} is out of range (${nsections} sections)`, xindex.at + i * 4)
      } else if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= nsections) {
        fail('ELF_BAD_SYMBOL', `symbol ${i} section index ${shndx} is out of range (${nsections} sections)`, e)
      }
      out[i] = Object.freeze({
        index: i,
        name: strings.get(nameOff, e),
        value: is64 ? r.view.getBigUint64(e + 8, r.le) : BigInt(r.u32(e + 4)),
        size: is64 ? r.view.getBigUint64(e + 16, r.le) : BigInt(r.u32(e + 8)),
        type: info & 0xf,
        bind: info >> 4,
        visibility: other & 0x3,
        shndx,
      })
    }
    this.symbolCache = out
    return out.slice()
  }

  /**
   * Decodes a `SHT_REL` or `SHT_RELA` section (any other type throws `ELF_BAD_SECTION`).
   * Symbol indices are checked against the symbol table named by the section's
   * `sh_link` (`ELF_BAD_SYMBOL` when out of range). Not cached.
   *
   * `r_info` is split the standard way (ELF32: symbol = info >> 8, type = info & 0xff;
   * ELF64: symbol = info >> 32, type = info & 0xffffffff). MIPS64's different r_info
   * layout is not special-cased.
   */
  relocations(section: ElfSection): ElfRelocation[] {
    const own = this.sections[section.index]
    if (own === undefined || own.offset !== section.offset || own.size !== section.size || own.type !== section.type) {
      fail('ELF_BAD_SECTION', `section ${section.index} (${section.name}) is not a section of this file`, this.shoff)
    }
    const rela = own.type === SHT_RELA
    if (!rela && own.type !== SHT_REL) {
      fail('ELF_BAD_SECTION', `section ${own.index} (${own.name}) has type ${own.type}, not SHT_REL or SHT_RELA`, this.headerOffset(own.index))
    }
    const {relentsize, relaentsize, symentsize} = this.layout
    const entsize = rela ? relaentsize : relentsize
    const count = this.tableCount(own, entsize)
    // The symbol table the entries refer to; sh_link 0 means none (allowed for some dynamic relocations).
    let nsyms = -1
    if (own.link !== 0) {
      const symtab = this.sections[own.link]
      if (symtab === undefined || (symtab.type !== SHT_SYMTAB && symtab.type !== SHT_DYNSYM)) {
        fail('ELF_BAD_SECTION', `relocation section ${own.index} sh_link ${own.link} is not a symbol table`, this.headerOffset(own.index))
      }
      nsyms = this.tableCount(symtab, symentsize)
    }
    const r = this.r
    const is64 = r.is64
    const le = r.le
    const out = new Array<ElfRelocation>(count)
    for (let i = 0; i < count; i++) {
      const e = own.offset + i * entsize
      let offset: bigint
      let symbol: number
      let type: number
      let addend: bigint | undefined
      if (is64) {
        offset = r.view.getBigUint64(e, le)
        // r_info = (sym << 32) | type, read as two u32 halves to stay in number arithmetic.
        symbol = le ? r.u32(e + 12) : r.u32(e + 8)
        type = le ? r.u32(e + 8) : r.u32(e + 12)
        addend = rela ? r.view.getBigInt64(e + 16, le) : undefined
      } else {
        offset = BigInt(r.u32(e))
        const info = r.u32(e + 4)
        symbol = info >>> 8
        type = info & 0xff
        addend = rela ? BigInt(r.view.getInt32(e + 8, le)) : undefined
      }
      if (nsyms >= 0 && symbol >= nsyms) {
        fail('ELF_BAD_SYMBOL', `relocation ${i} of section ${own.index} refers to symbol ${symbol}, but the symbol table has ${nsyms}`, e)
      }
      out[i] = {offset, type, symbol, addend}
    }
    return out
  }

  /**
   * The REL/RELA sections that apply to `target` (those whose `sh_info` is
   * `target.index`), in header order. For a BPF object, `relocationSectionsFor(xdp)` is
   * `.relxdp`; for `.BTF.ext`, `.rel.BTF.ext`. Sections with `sh_info` 0 (dynamic
   * relocations in linked images) apply to no particular section and are never returned.
   */
  relocationSectionsFor(target: ElfSection): ElfSection[] {
    if (!this.relocsByTarget) {
      const map = new Map<number, ElfSection[]>()
      for (const s of this.sections) {
        if ((s.type !== SHT_REL && s.type !== SHT_RELA) || s.info === 0) continue
        const list = map.get(s.info)
        if (list) list.push(s)
        else map.set(s.info, [s])
      }
      this.relocsByTarget = map
    }
    return (this.relocsByTarget.get(target.index) ?? []).slice()
  }

  /** File offset of section `index`'s header (for error offsets). */
  private headerOffset(index: number): number {
    return index >= 0 && index < this.sections.length ? this.shoff + index * this.layout.shentsize : this.shoff
  }

  /**
   * Number of fixed-size entries in a table section (symbols, relocations). The section
   * must occupy file bytes, hold a whole number of entries, and, if it declares
   * `sh_entsize`, declare the size this class uses.
   */
  private tableCount(section: ElfSection, entsize: number): number {
    const at = this.headerOffset(section.index)
    if (section.type === SHT_NOBITS) fail('ELF_BAD_SECTION', `table section ${section.index} (${section.name}) has no file data`, at)
    if (section.entsize !== 0 && section.entsize !== entsize) {
      fail('ELF_BAD_SECTION', `section ${section.index} (${section.name}) has sh_entsize ${section.entsize}, expected ${entsize}`, at)
    }
    if (section.size % entsize !== 0) {
      fail('ELF_BAD_SECTION', `section ${section.index} (${section.name}) size ${section.size} is not a multiple of ${entsize}`, at)
    }
    this.sectionData(section) // bounds check
    return section.size / entsize
  }

  /** The section named by `section.link`, which must have type `type`. */
  private linkedSection(section: ElfSection, type: number, what: string): ElfSection {
    const linked = this.sections[section.link]
    if (section.link === 0 || linked === undefined || linked.type !== type) {
      fail('ELF_BAD_SECTION', `section ${section.index} (${section.name}) sh_link ${section.link} is not a ${what}`, this.headerOffset(section.index))
    }
    return linked
  }

  /** Location and entry count of the `SHT_SYMTAB_SHNDX` section that belongs to `symtab`. */
  private extendedIndexTable(symtab: ElfSection): {at: number; count: number} {
    const t = this.sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === symtab.index)
    if (!t) {
      fail('ELF_BAD_SYMBOL', `a symbol uses SHN_XINDEX but no SHT_SYMTAB_SHNDX section belongs to section ${symtab.index}`, this.headerOffset(symtab.index))
    }
    this.sectionData(t) // bounds check
    return {at: t.offset, count: Math.floor(t.size / 4)}
  }
}

/** Section bytes during parsing (bounds already validated), empty for sections without file data. */
function sectionBytes(bytes: Uint8Array, s: ElfSection): Uint8Array {
  if (s.type === SHT_NOBITS || s.type === SHT_NULL || s.size === 0) return bytes.subarray(0, 0)
  return bytes.subarray(s.offset, s.offset + s.size)
}
