/**
 * Numeric constants from the ELF specification (System V gABI) that the ELF reader and
 * its users need: identification bytes, object file types, machines, section types and
 * flags, special section indices, symbol types/bindings/visibilities and the BPF
 * relocation types. Only the values kcompat looks at are listed; everything else is
 * passed through as a plain number.
 */

// --- e_ident -----------------------------------------------------------------------

/** Size of `e_ident`, the identification bytes at the start of every ELF file. */
export const EI_NIDENT = 16
/** Index of the class byte (32- or 64-bit) in `e_ident`. */
export const EI_CLASS = 4
/** Index of the data-encoding (byte order) byte in `e_ident`. */
export const EI_DATA = 5
/** Index of the identification version byte in `e_ident`. */
export const EI_VERSION = 6

export const ELFCLASS32 = 1
export const ELFCLASS64 = 2
/** Two's complement, little-endian. */
export const ELFDATA2LSB = 1
/** Two's complement, big-endian. */
export const ELFDATA2MSB = 2
export const EV_CURRENT = 1

// --- e_type ------------------------------------------------------------------------

export const ET_NONE = 0
/** Relocatable object: BPF objects (`clang -target bpf -c`) and kernel modules (`.ko`). */
export const ET_REL = 1
/** Executable: a `vmlinux`. */
export const ET_EXEC = 2
export const ET_DYN = 3
export const ET_CORE = 4

// --- e_machine ---------------------------------------------------------------------

export const EM_NONE = 0
export const EM_386 = 3
export const EM_MIPS = 8
export const EM_PPC = 20
export const EM_PPC64 = 21
export const EM_S390 = 22
export const EM_ARM = 40
export const EM_X86_64 = 62
export const EM_AARCH64 = 183
export const EM_RISCV = 243
export const EM_BPF = 247
export const EM_LOONGARCH = 258

// --- section header indices ----------------------------------------------------------

/** Undefined section; also "no section name string table" as `e_shstrndx`. */
export const SHN_UNDEF = 0
/** First reserved index: real sections are numbered below this in 16-bit fields. */
export const SHN_LORESERVE = 0xff00
/** Absolute symbol value, not relative to any section. */
export const SHN_ABS = 0xfff1
/** Common (tentative) symbol, allocated by the linker. */
export const SHN_COMMON = 0xfff2
/**
 * Escape value: the real index does not fit in 16 bits and is stored elsewhere (for
 * `e_shstrndx`: in section 0's `sh_link`; for `st_shndx`: in `SHT_SYMTAB_SHNDX`).
 */
export const SHN_XINDEX = 0xffff

// --- sh_type -------------------------------------------------------------------------

export const SHT_NULL = 0
export const SHT_PROGBITS = 1
export const SHT_SYMTAB = 2
export const SHT_STRTAB = 3
/** Relocations with explicit addends. */
export const SHT_RELA = 4
export const SHT_HASH = 5
export const SHT_DYNAMIC = 6
export const SHT_NOTE = 7
/** Occupies no space in the file (`.bss`): data is all zero at run time. */
export const SHT_NOBITS = 8
/** Relocations whose addend is stored in the relocated field itself. */
export const SHT_REL = 9
export const SHT_DYNSYM = 11
export const SHT_INIT_ARRAY = 14
export const SHT_FINI_ARRAY = 15
export const SHT_PREINIT_ARRAY = 16
export const SHT_GROUP = 17
/** Extended section indices for the symbol table named by this section's `sh_link`. */
export const SHT_SYMTAB_SHNDX = 18

// --- sh_flags ------------------------------------------------------------------------

export const SHF_WRITE = 0x1n
export const SHF_ALLOC = 0x2n
export const SHF_EXECINSTR = 0x4n
export const SHF_MERGE = 0x10n
export const SHF_STRINGS = 0x20n
/** `sh_info` holds a section index (set on REL/RELA sections). */
export const SHF_INFO_LINK = 0x40n
export const SHF_LINK_ORDER = 0x80n
export const SHF_OS_NONCONFORMING = 0x100n
export const SHF_GROUP = 0x200n
export const SHF_TLS = 0x400n
/** Data starts with an `Elf*_Chdr` and is zlib/zstd compressed (only debug sections in practice). */
export const SHF_COMPRESSED = 0x800n
/** GNU/LLVM extension: drop from the linked output. */
export const SHF_EXCLUDE = 0x80000000n

// --- symbols -------------------------------------------------------------------------

export const STT_NOTYPE = 0
export const STT_OBJECT = 1
export const STT_FUNC = 2
export const STT_SECTION = 3
export const STT_FILE = 4
export const STT_COMMON = 5
export const STT_TLS = 6
export const STT_GNU_IFUNC = 10

export const STB_LOCAL = 0
export const STB_GLOBAL = 1
export const STB_WEAK = 2
export const STB_GNU_UNIQUE = 10

export const STV_DEFAULT = 0
export const STV_INTERNAL = 1
export const STV_HIDDEN = 2
export const STV_PROTECTED = 3

// --- BPF relocation types (r_type when e_machine == EM_BPF) ---------------------------

export const R_BPF_NONE = 0
/** 64-bit immediate of an `ld_imm64` instruction (map or global variable address). */
export const R_BPF_64_64 = 1
export const R_BPF_64_ABS64 = 2
export const R_BPF_64_ABS32 = 3
/** 32-bit absolute value that the dynamic loader must not touch (.BTF, .BTF.ext). */
export const R_BPF_64_NODYLD32 = 4
/** `call` instruction immediate (BPF-to-BPF call); counted in instructions. */
export const R_BPF_64_32 = 10
