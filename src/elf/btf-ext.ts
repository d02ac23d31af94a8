/**
 * `.BTF.ext`: the per-instruction BTF records a BPF object carries next to its `.BTF`,
 * and the mapping of CO-RE relocation records to the programs libbpf loads.
 *
 * Layout (include/uapi/linux/btf.h and libbpf's btf.c), every field in the object's byte
 * order:
 *
 *   struct btf_ext_header {
 *     u16 magic = 0xeb9f; u8 version = 1; u8 flags = 0; u32 hdr_len;
 *     u32 func_info_off; u32 func_info_len;   // offsets relative to the end of the header
 *     u32 line_info_off; u32 line_info_len;
 *     u32 core_relo_off; u32 core_relo_len;   // optional: present when hdr_len >= 32
 *   }
 *
 * Each of the three info blocks is `u32 record_size` followed by one group per ELF
 * section: `u32 sec_name_off` (a string of the object's `.BTF`), `u32 num_info`, then
 * `num_info` records of `record_size` bytes. A record may be longer than the fields
 * known here (a newer compiler); only the known leading fields are read:
 *
 *   func_info: { u32 insn_off; u32 type_id; }                       (8 bytes)
 *   line_info: { u32 insn_off; u32 file_name_off; u32 line_off; u32 line_col; }  (16)
 *   core_relo: { u32 insn_off; u32 type_id; u32 access_str_off; u32 kind; }      (16)
 *
 * In an object file `insn_off` is a byte offset into the named section (libbpf divides
 * by 8 to get an instruction index).
 *
 * The checks are libbpf's (btf_ext_parse_hdr, btf_ext_setup_info), each reported as a
 * {@link BtfError} with a stable code and the byte offset within `.BTF.ext`:
 * `BTF_EXT_TRUNCATED` (header, block, group or record past the end), `BTF_EXT_BAD_MAGIC`,
 * `BTF_EXT_BAD_VERSION`, `BTF_EXT_BAD_FLAGS`, `BTF_EXT_BAD_HEADER` (hdr_len too short, or
 * no data after the header), `BTF_EXT_BAD_SECTION` (a block not 4-byte aligned, without
 * a record size or without records, or a group with no records), `BTF_EXT_BAD_RECORD_SIZE`
 * (smaller than the known fields or not a multiple of 4) and `BTF_EXT_BAD_RECORD` (a
 * CO-RE record whose instruction offset is not a multiple of 8); placing relocations adds
 * `BTF_EXT_BAD_PROGRAM` (a function symbol that is not whole instructions). Unlike libbpf 1.1,
 * big-endian data is read as well as little-endian. Allocation is bounded by the input:
 * every count is checked against the bytes that remain before records are decoded.
 */
import type {Btf} from '../btf/btf.js'
import {BtfError} from '../errors.js'
import {SHF_EXECINSTR, SHT_PROGBITS, STT_FUNC} from './constants.js'
import type {ElfFile} from './elf.js'

export const BTF_EXT_MAGIC = 0xeb9f
/** Header up to and including line_info_len (the part every .BTF.ext has). */
export const BTF_EXT_MIN_HEADER = 24
/** Header including core_relo_off/len. */
export const BTF_EXT_CORE_HEADER = 32
/** Size of a BPF instruction; CO-RE and func/line offsets are multiples of it. */
export const BPF_INSN_SIZE = 8

export interface BtfExtHeader {
  magic: number
  version: number
  flags: number
  hdrLen: number
  funcInfoOff: number
  funcInfoLen: number
  lineInfoOff: number
  lineInfoLen: number
  /** Absent when hdr_len < 32 (objects from compilers before CO-RE). */
  coreReloOff?: number
  coreReloLen?: number
}

export interface FuncInfo {
  /** Byte offset of the function's first instruction in its section. */
  insnOff: number
  /** BTF id of the FUNC. */
  typeId: number
}

export interface LineInfo {
  insnOff: number
  fileNameOff: number
  lineOff: number
  /** line_col as stored: line << 10 | column. */
  lineCol: number
  line: number
  column: number
}

export interface CoreRelo {
  /** Byte offset of the instruction to patch in its section. */
  insnOff: number
  /** Local BTF id of the root type. */
  typeId: number
  /** String offset of the access string ("0:1:2") in the object's .BTF. */
  accessStrOff: number
  /** bpf_core_relo_kind (see src/core/relo.ts). */
  kind: number
  /** Byte offset of this record within .BTF.ext (for messages). */
  offset: number
}

/** One group of records: those of one ELF section. */
export interface BtfExtSection<R> {
  /** String offset of the ELF section name in the object's .BTF. */
  secNameOff: number
  /** Byte offset of the group header within .BTF.ext. */
  offset: number
  records: R[]
}

export interface BtfExtInfo<R> {
  /** The record size declared by the block (0 when the block is empty). */
  recordSize: number
  sections: BtfExtSection<R>[]
}

export interface BtfExt {
  littleEndian: boolean
  header: BtfExtHeader
  funcInfo: BtfExtInfo<FuncInfo>
  lineInfo: BtfExtInfo<LineInfo>
  coreRelos: BtfExtInfo<CoreRelo>
}

function fail(code: string, message: string, offset: number): never {
  throw new BtfError(code, `.BTF.ext: ${message}`, {offset})
}

/**
 * Parses `.BTF.ext` bytes of either byte order.
 * @throws BtfError with one of the `BTF_EXT_*` codes listed in the module comment.
 */
export function parseBtfExt(bytes: Uint8Array): BtfExt {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const size = bytes.length
  if (size < 8) fail('BTF_EXT_TRUNCATED', `${size} bytes is too short for a header`, 0)
  let le: boolean
  if (dv.getUint16(0, true) === BTF_EXT_MAGIC) le = true
  else if (dv.getUint16(0, false) === BTF_EXT_MAGIC) le = false
  else fail('BTF_EXT_BAD_MAGIC', `bad magic 0x${dv.getUint16(0, true).toString(16).padStart(4, '0')}`, 0)
  const version = dv.getUint8(2)
  if (version !== 1) fail('BTF_EXT_BAD_VERSION', `unsupported version ${version}`, 2)
  const flags = dv.getUint8(3)
  if (flags !== 0) fail('BTF_EXT_BAD_FLAGS', `unsupported flags 0x${flags.toString(16)}`, 3)
  const hdrLen = dv.getUint32(4, le)
  if (hdrLen > size) fail('BTF_EXT_TRUNCATED', `header length ${hdrLen} is past the end of the data (${size})`, 4)
  if (hdrLen < BTF_EXT_MIN_HEADER) fail('BTF_EXT_BAD_HEADER', `header length ${hdrLen} is shorter than ${BTF_EXT_MIN_HEADER}`, 4)
  if (hdrLen === size) fail('BTF_EXT_BAD_HEADER', 'no data after the header', 4)
  const header: BtfExtHeader = {
    magic: BTF_EXT_MAGIC,
    version,
    flags,
    hdrLen,
    funcInfoOff: dv.getUint32(8, le),
    funcInfoLen: dv.getUint32(12, le),
    lineInfoOff: dv.getUint32(16, le),
    lineInfoLen: dv.getUint32(20, le),
  }
  if (hdrLen >= BTF_EXT_CORE_HEADER) {
    header.coreReloOff = dv.getUint32(24, le)
    header.coreReloLen = dv.getUint32(28, le)
  }
  const u32 = (off: number): number => dv.getUint32(off, le)
  const funcInfo = parseInfo(dv, le, hdrLen, 'func_info', 8, header.funcInfoOff, header.funcInfoLen, 8, (p) => ({
    insnOff: u32(p),
    typeId: u32(p + 4),
  }))
  const lineInfo = parseInfo(dv, le, hdrLen, 'line_info', 16, header.lineInfoOff, header.lineInfoLen, 16, (p) => {
    const lineCol = u32(p + 12)
    return {insnOff: u32(p), fileNameOff: u32(p + 4), lineOff: u32(p + 8), lineCol, line: lineCol >>> 10, column: lineCol & 0x3ff}
  })
  const coreRelos =
    header.coreReloOff === undefined
      ? {recordSize: 0, sections: []}
      : parseInfo(dv, le, hdrLen, 'core_relo', 16, header.coreReloOff, header.coreReloLen!, 24, (p) => {
          const insnOff = u32(p)
          if (insnOff % BPF_INSN_SIZE !== 0) {
            fail('BTF_EXT_BAD_RECORD', `CO-RE relocation instruction offset ${insnOff} is not a multiple of ${BPF_INSN_SIZE}`, p)
          }
          return {insnOff, typeId: u32(p + 4), accessStrOff: u32(p + 8), kind: u32(p + 12), offset: p}
        })
  return {littleEndian: le, header, funcInfo, lineInfo, coreRelos}
}

/**
 * One info block: validates its placement, its record size and every group header
 * (walking the groups once, as libbpf does, before any record is decoded), then decodes
 * the records. `fieldAt` is the header offset of the block's `_off` field, for messages.
 */
function parseInfo<R>(
  dv: DataView,
  le: boolean,
  hdrLen: number,
  desc: string,
  minRecordSize: number,
  off: number,
  len: number,
  fieldAt: number,
  decode: (at: number) => R,
): BtfExtInfo<R> {
  if (len === 0) return {recordSize: 0, sections: []}
  const size = dv.byteLength
  if (off % 4 !== 0) fail('BTF_EXT_BAD_SECTION', `${desc} block offset ${off} is not 4-byte aligned`, fieldAt)
  const start = hdrLen + off
  if (start > size || len > size - start) {
    fail('BTF_EXT_TRUNCATED', `${desc} block [${off}, ${off + len}) is past the end of the data (${size - hdrLen} after the header)`, fieldAt)
  }
  if (len < 4) fail('BTF_EXT_BAD_SECTION', `${desc} block has no record size`, start)
  const recordSize = dv.getUint32(start, le)
  if (recordSize < minRecordSize || recordSize % 4 !== 0) {
    fail('BTF_EXT_BAD_RECORD_SIZE', `${desc} record size ${recordSize} is invalid (at least ${minRecordSize}, a multiple of 4)`, start)
  }
  const end = start + len
  let p = start + 4
  if (p === end) fail('BTF_EXT_BAD_SECTION', `${desc} block has no records`, start)
  // First pass: group headers and counts only.
  const groups: {at: number; nameOff: number; count: number}[] = []
  while (p < end) {
    if (end - p < 8) fail('BTF_EXT_TRUNCATED', `${desc} section header is cut off`, p)
    const nameOff = dv.getUint32(p, le)
    const count = dv.getUint32(p + 4, le)
    if (count === 0) fail('BTF_EXT_BAD_SECTION', `${desc} section has no records`, p + 4)
    if (count > (end - p - 8) / recordSize) {
      fail('BTF_EXT_TRUNCATED', `${desc} section declares ${count} records of ${recordSize} bytes, more than the block holds`, p + 4)
    }
    groups.push({at: p, nameOff, count})
    p += 8 + count * recordSize
  }
  const sections: BtfExtSection<R>[] = groups.map((g) => {
    const records = new Array<R>(g.count)
    for (let i = 0, q = g.at + 8; i < g.count; i++, q += recordSize) records[i] = decode(q)
    return {secNameOff: g.nameOff, offset: g.at, records}
  })
  return {recordSize, sections}
}

/** The ELF section name of a `.BTF.ext` group: a string of the object's `.BTF`. */
export function btfExtSectionName(btf: Btf, secNameOff: number): string {
  return btf.strings.get(secNameOff)
}

// ---------------------------------------------------------------------------------------
// Programs and where each CO-RE relocation belongs.

/** A BPF program as libbpf sees it in an object file. */
export interface BpfProgram {
  /** libbpf's program name: the name of the function symbol. */
  name: string
  /** The ELF section holding it (e.g. `kprobe/do_exit`, `.text` for subprograms). */
  sectionName: string
  sectionIndex: number
  /** Index of its first instruction within the section. */
  sectionInsnOffset: number
  /** Number of instructions (st_size / 8). */
  insnCount: number
  /** libbpf loads a program unless its section name starts with `?` (SEC("?...")). */
  autoload: boolean
  /** Whether it lives in `.text` (a subprogram, appended to the programs that call it). */
  isSubprogram: boolean
}

/**
 * The programs of a BPF object in libbpf's order. libbpf (bpf_object__add_programs)
 * makes one program of every `STT_FUNC` symbol in every non-empty `SHT_PROGBITS`
 * section with `SHF_EXECINSTR`, named after the symbol, and sorts them by section index
 * and then by start offset. A program's instruction indices count from its own first
 * instruction, which is the symbol's value / 8 within the section.
 * @throws BtfError `BTF_EXT_BAD_PROGRAM` for a function symbol whose code is not whole
 *   instructions or lies outside its section (libbpf refuses such objects too).
 */
export function bpfPrograms(elf: ElfFile): BpfProgram[] {
  const execSections = new Map<number, {name: string; size: number}>()
  for (const s of elf.sections) {
    if (s.type === SHT_PROGBITS && s.size > 0 && (s.flags & SHF_EXECINSTR) !== 0n) execSections.set(s.index, {name: s.name, size: s.size})
  }
  const out: BpfProgram[] = []
  for (const sym of elf.symbols()) {
    if (sym.type !== STT_FUNC) continue
    const sec = execSections.get(sym.shndx)
    if (!sec) continue
    const off = Number(sym.value)
    const size = Number(sym.size)
    if (size === 0 || size % BPF_INSN_SIZE !== 0 || off % BPF_INSN_SIZE !== 0 || off + size > sec.size) {
      throw new BtfError(
        'BTF_EXT_BAD_PROGRAM',
        `program '${sym.name}' in section '${sec.name}' at offset ${off} (${size} bytes) is not whole instructions inside its ${sec.size}-byte section`,
      )
    }
    out.push({
      name: sym.name,
      sectionName: sec.name.startsWith('?') ? sec.name.slice(1) : sec.name,
      sectionIndex: sym.shndx,
      sectionInsnOffset: off / BPF_INSN_SIZE,
      insnCount: size / BPF_INSN_SIZE,
      autoload: !sec.name.startsWith('?'),
      isSubprogram: sec.name === '.text',
    })
  }
  out.sort((a, b) => a.sectionIndex - b.sectionIndex || a.sectionInsnOffset - b.sectionInsnOffset)
  return out
}

/** A CO-RE relocation record placed in its program. */
export interface PlacedCoreRelo {
  /** libbpf's `relo #N`: the record's index within its section group. */
  index: number
  /** The ELF section named by the group. */
  sectionName: string
  /** That section's index, or 0 when the object has no section of that name. */
  sectionIndex: number
  /** Instruction index within the section (insn_off / 8). */
  sectionInsn: number
  /**
   * The program holding the instruction, or undefined when none does (libbpf skips
   * such a record: it belonged to a `__weak` subprogram the linker dropped).
   */
  program: BpfProgram | undefined
  /** Instruction index within the program, as libbpf numbers it (-1 without a program). */
  insn: number
  relo: CoreRelo
}

/**
 * Places every CO-RE relocation record of `ext` in its program, in libbpf's processing
 * order (groups in `.BTF.ext` order, records in order within each group). The group's
 * section name is looked up among the ELF sections (the first of that name, as libbpf's
 * elf_sec_by_name does); the program is the one whose instruction range holds
 * `insn_off / 8` (find_prog_by_sec_insn); and the instruction index is taken relative
 * to that program's start, which is how libbpf's log and patching number it.
 */
export function placeCoreRelos(elf: ElfFile, btf: Btf, ext: BtfExt, programs: BpfProgram[] = bpfPrograms(elf)): PlacedCoreRelo[] {
  const bySection = new Map<number, BpfProgram[]>()
  for (const p of programs) {
    const list = bySection.get(p.sectionIndex)
    if (list) list.push(p)
    else bySection.set(p.sectionIndex, [p])
  }
  const out: PlacedCoreRelo[] = []
  for (const group of ext.coreRelos.sections) {
    const sectionName = btfExtSectionName(btf, group.secNameOff)
    // libbpf refuses the object (relocate_core: -EINVAL) when a group names no section.
    if (sectionName === '') throw new BtfError('BTF_EXT_BAD_SECTION', '.BTF.ext: core_relo section has an empty name', {offset: group.offset})
    const sectionIndex = elf.section(sectionName)?.index ?? 0
    const progs = bySection.get(sectionIndex) ?? []
    group.records.forEach((relo, index) => {
      const sectionInsn = relo.insnOff / BPF_INSN_SIZE
      const program = progs.find((p) => sectionInsn >= p.sectionInsnOffset && sectionInsn < p.sectionInsnOffset + p.insnCount)
      out.push({
        index,
        sectionName,
        sectionIndex,
        sectionInsn,
        program,
        insn: program ? sectionInsn - program.sectionInsnOffset : -1,
        relo,
      })
    })
  }
  return out
}
