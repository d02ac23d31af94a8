/**
 * The ELF reader against llvm-readelf, on real objects: BPF objects compiled here for both
 * byte orders, 32/64-bit objects for other architectures of both byte orders, the kernel
 * module fixtures, this machine's own executables, and GNU as / llvm-mc output with more
 * than 0xff00 sections (extended numbering).
 */
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {describe, expect, it} from 'vitest'
import {
  EM_386,
  EM_AARCH64,
  EM_ARM,
  EM_BPF,
  EM_PPC,
  EM_PPC64,
  EM_S390,
  EM_X86_64,
  R_BPF_64_32,
  R_BPF_64_64,
  SHN_ABS,
  SHN_COMMON,
  SHN_UNDEF,
  SHT_REL,
  SHT_RELA,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_LOCAL,
  STT_FUNC,
  STT_OBJECT,
  STT_SECTION,
} from '../../src/elf/constants.js'
import {ElfFile, isElf, type ElfSymbol} from '../../src/elf/elf.js'
import {FIXTURES, scratchDir} from '../helpers/fixtures.js'
import {findTool, firstDifference, requireTool, run} from '../helpers/tools.js'

// ---------------------------------------------------------------------------------------
// llvm-readelf output parsing (GNU style, --wide)

interface OracleSection {
  index: number
  name: string
  type: string
  addr: bigint
  offset: number
  size: number
  entsize: number
  flags: string
  link: number
  info: number
  addralign: number
}

const SECTION_RE =
  /^\s*\[\s*(\d+)\]\s(.*?)\s+(SYMTAB SECTION INDICES|\S+)\s+([0-9a-f]{8}|[0-9a-f]{16})\s([0-9a-f]{6,})\s([0-9a-f]{6,})\s([0-9a-f]{2,})\s(.*?)\s+(\d+)\s+(\d+)\s+(\d+)$/

function oracleSections(file: string): OracleSection[] {
  const out: OracleSection[] = []
  for (const line of run('llvm-readelf', ['-S', '--wide', file]).toString().split('\n')) {
    const m = SECTION_RE.exec(line)
    if (!m) continue
    out.push({
      index: Number(m[1]),
      name: m[2]!,
      type: m[3]!,
      addr: BigInt(`0x${m[4]}`),
      offset: parseInt(m[5]!, 16),
      size: parseInt(m[6]!, 16),
      entsize: parseInt(m[7]!, 16),
      flags: m[8]!.trim(),
      link: Number(m[9]),
      info: Number(m[10]),
      addralign: Number(m[11]),
    })
  }
  return out
}

/** Section type names as llvm-readelf prints them. */
const TYPE_NAMES: Record<string, number> = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  HASH: 5,
  DYNAMIC: 6,
  NOTE: 7,
  NOBITS: 8,
  REL: 9,
  DYNSYM: 11,
  INIT_ARRAY: 14,
  FINI_ARRAY: 15,
  PREINIT_ARRAY: 16,
  GROUP: 17,
  'SYMTAB SECTION INDICES': 18,
  RELR: 19,
  LLVM_ADDRSIG: 0x6fff4c03,
  // Processor-specific names (the same number means different things per machine).
  X86_64_UNWIND: 0x70000001,
  ARM_EXIDX: 0x70000001,
  ARM_ATTRIBUTES: 0x70000003,
  GNU_HASH: 0x6ffffff6,
  VERDEF: 0x6ffffffd,
  VERNEED: 0x6ffffffe,
  VERSYM: 0x6fffffff,
}

/** Flag letters llvm-readelf prints and the SHF_* bits they stand for. */
const FLAG_BITS: Record<string, bigint> = {
  W: 0x1n,
  A: 0x2n,
  X: 0x4n,
  M: 0x10n,
  S: 0x20n,
  I: 0x40n,
  L: 0x80n,
  O: 0x100n,
  G: 0x200n,
  T: 0x400n,
  C: 0x800n,
  R: 0x200000n,
  E: 0x80000000n,
}
const KNOWN_FLAG_MASK = Object.values(FLAG_BITS).reduce((a, b) => a | b, 0n)

interface OracleSymbol {
  index: number
  value: bigint
  size: bigint
  type: string
  bind: string
  vis: string
  ndx: string
  name: string
}

const SYMBOL_RE = /^\s*(\d+):\s+([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s?(.*)$/

/** Entries of the `.symtab` table only (llvm-readelf -s also prints `.dynsym`); undefined when there is none. */
function oracleSymtab(file: string): OracleSymbol[] | undefined {
  let out: OracleSymbol[] | undefined
  let inSymtab = false
  for (const line of run('llvm-readelf', ['-s', '--wide', file]).toString().split('\n')) {
    if (line.startsWith('Symbol table ')) {
      inSymtab = line.startsWith("Symbol table '.symtab'")
      if (inSymtab) out = []
      continue
    }
    if (!inSymtab) continue
    const m = SYMBOL_RE.exec(line)
    if (!m) continue
    out!.push({
      index: Number(m[1]),
      value: BigInt(`0x${m[2]}`),
      size: BigInt(m[3]!),
      type: m[4]!,
      bind: m[5]!,
      vis: m[6]!,
      ndx: m[7]!,
      name: m[8]!,
    })
  }
  return out
}

interface OracleRelocation {
  offset: bigint
  symbol: number
  type: number
  name: string
  addend: bigint | undefined
}

interface OracleRelocSection {
  name: string
  offset: number
  entries: OracleRelocation[]
}

const RELOC_HEAD_RE = /^Relocation section '(.*)' at offset 0x([0-9a-f]+) contains (\d+) entr/

function oracleRelocations(file: string, bits: 32 | 64): OracleRelocSection[] {
  const out: OracleRelocSection[] = []
  let cur: OracleRelocSection | undefined
  for (const line of run('llvm-readelf', ['-r', '--wide', file]).toString().split('\n')) {
    const h = RELOC_HEAD_RE.exec(line)
    if (h) {
      cur = {name: h[1]!, offset: parseInt(h[2]!, 16), entries: []}
      out.push(cur)
      continue
    }
    if (!cur || line.trim() === '' || /^\s*Offset\s/.test(line)) continue
    const m = /^([0-9a-f]+)\s+([0-9a-f]+)\s+(\S+)\s*(.*)$/.exec(line)
    if (!m) continue
    const info = BigInt(`0x${m[2]}`)
    const symbol = Number(bits === 64 ? info >> 32n : info >> 8n)
    const type = Number(bits === 64 ? info & 0xffffffffn : info & 0xffn)
    const rest = m[4]!
    let name = ''
    let addend: bigint | undefined
    const withSym = /^([0-9a-f]+)\s+(.*?)\s*(?:([+-]) ([0-9a-f]+))?$/.exec(rest)
    if (symbol === 0) {
      // "Offset Info Type [Addend]": no symbol value or name.
      const a = /^(-?)([0-9a-f]+)$/.exec(rest.trim())
      if (a) addend = (a[1] === '-' ? -1n : 1n) * BigInt(`0x${a[2]}`)
    } else if (withSym) {
      name = withSym[2]!
      if (withSym[3]) addend = (withSym[3] === '-' ? -1n : 1n) * BigInt(`0x${withSym[4]}`)
    }
    cur.entries.push({offset: BigInt(`0x${m[1]}`), symbol, type, name, addend})
  }
  return out
}

// ---------------------------------------------------------------------------------------
// Comparison of ElfFile with the oracle

/**
 * Each comparison renders both sides as one line per entry and compares the texts, which
 * is fast for 100k symbols and reports the first differing entry with context.
 */
function expectSameLines(what: string, actual: string[], expected: string[]): void {
  const diff = firstDifference(actual.join('\n'), expected.join('\n'))
  expect(diff, `${what}: ${diff}`).toBeUndefined()
}

function compareSections(elf: ElfFile, file: string): void {
  const expected = oracleSections(file)
  expect(expected.length, 'llvm-readelf printed no sections').toBeGreaterThan(0)
  const unknown = expected.filter((e) => TYPE_NAMES[e.type] === undefined).map((e) => e.type)
  expect(unknown, "section type names missing from the test's table").toEqual([])
  const line = (index: number, name: string, type: number, addr: bigint, offset: number, size: number, entsize: number, flags: bigint, link: number, info: number, align: number) =>
    `[${index}] ${JSON.stringify(name)} type=${type} addr=${addr} off=${offset} size=${size} es=${entsize} flags=${flags} lk=${link} inf=${info} al=${align}`
  const want = expected.map((e) => {
    let flags = 0n
    for (const c of e.flags) flags |= FLAG_BITS[c] ?? 0n
    return line(e.index, e.name, TYPE_NAMES[e.type]!, e.addr, e.offset, e.size, e.entsize, flags, e.link, e.info, e.addralign)
  })
  const got = elf.sections.map((s) =>
    line(s.index, s.name, s.type, s.addr, s.offset, s.size, s.entsize, s.flags & KNOWN_FLAG_MASK, s.link, s.info, s.addralign),
  )
  expectSameLines('sections', got, want)
  // Data views line up with the headers.
  for (const s of elf.sections) {
    expect(elf.sectionData(s).length, s.name).toBe(s.type === 8 || s.type === 0 ? 0 : s.size)
  }
}

const STT_NAMES: Record<string, number> = {NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6, IFUNC: 10}
const STB_NAMES: Record<string, number> = {LOCAL: 0, GLOBAL: 1, WEAK: 2, UNIQUE: 10}
const STV_NAMES: Record<string, number> = {DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3}

function ndxOf(ndx: string): number {
  if (ndx === 'UND') return SHN_UNDEF
  if (ndx === 'ABS') return SHN_ABS
  if (ndx === 'COM') return SHN_COMMON
  const reserved = /\[0x([0-9a-f]+)\]/.exec(ndx)
  if (reserved) return parseInt(reserved[1]!, 16)
  return Number(ndx)
}

/** The name llvm-readelf shows for a symbol: a section symbol is shown by its section's name. */
function shownName(elf: ElfFile, s: ElfSymbol): string {
  return s.type === STT_SECTION && s.name === '' ? (elf.sections[s.shndx]?.name ?? '') : s.name
}

/** Compares symbols; returns how many were compared. */
function compareSymbols(elf: ElfFile, file: string): number {
  const expected = oracleSymtab(file)
  const symbols = elf.symbols()
  if (expected === undefined) {
    expect(elf.sections.some((s) => s.type === SHT_SYMTAB)).toBe(false)
    expect(symbols).toEqual([])
    return 0
  }
  const line = (index: number, value: bigint, size: bigint, type: number | undefined, bind: number | undefined, vis: number | undefined, shndx: number, name: string) =>
    `${index}: value=${value} size=${size} type=${type} bind=${bind} vis=${vis} ndx=${shndx} ${JSON.stringify(name)}`
  const want = expected.map((e) => line(e.index, e.value, e.size, STT_NAMES[e.type], STB_NAMES[e.bind], STV_NAMES[e.vis], ndxOf(e.ndx), e.name))
  const got = symbols.map((s) => line(s.index, s.value, s.size, s.type, s.bind, s.visibility, s.shndx, shownName(elf, s)))
  expectSameLines('symbols', got, want)
  return expected.length
}

/** Compares relocations; returns how many entries were compared. */
function compareRelocations(elf: ElfFile, file: string): number {
  const expected = oracleRelocations(file, elf.bits)
  const symtab = elf.sections.findIndex((s) => s.type === SHT_SYMTAB)
  const symbols = elf.symbols()
  const relSections = elf.sections.filter((s) => s.type === SHT_REL || s.type === SHT_RELA)
  // Every REL/RELA section is printed by llvm-readelf (plus possibly RELR ones, which we skip).
  const printed = expected.filter((e) => relSections.some((s) => s.name === e.name && s.offset === e.offset))
  expect(printed.length).toBe(relSections.length)
  let n = 0
  for (const e of printed) {
    const sec = relSections.find((s) => s.name === e.name && s.offset === e.offset)!
    // Names are only checked for relocations against .symtab (not .dynsym, which we do not read).
    const named = sec.link === symtab
    const line = (offset: bigint, symbol: number, type: number, addend: bigint | undefined, name: string) =>
      `off=${offset} sym=${symbol} type=${type} addend=${addend} ${named ? JSON.stringify(name) : ''}`
    const want = e.entries.map((w) => line(w.offset, w.symbol, w.type, sec.type === SHT_REL ? undefined : (w.addend ?? 0n), w.name))
    const got = elf.relocations(sec).map((r) => line(r.offset, r.symbol, r.type, r.addend, !named || r.symbol === 0 ? '' : shownName(elf, symbols[r.symbol]!)))
    expectSameLines(e.name, got, want)
    n += got.length
  }
  return n
}

function compareAll(file: string): ElfFile {
  const bytes = readFileSync(file)
  expect(isElf(bytes)).toBe(true)
  const elf = ElfFile.parse(bytes)
  compareSections(elf, file)
  compareSymbols(elf, file)
  compareRelocations(elf, file)
  return elf
}

// ---------------------------------------------------------------------------------------
// Test objects

const haveClang = requireTool('clang', 'ELF objects compiled at test time')
const haveReadelf = requireTool('llvm-readelf', 'ELF comparison with llvm-readelf')
const canCompile = haveClang && haveReadelf

const SOURCE = `
#define SEC(name) __attribute__((section(name), used))
int counter = 3;
long big_table[4] = {1, 2, 3, 4};
static __attribute__((noinline)) int helper(int x)
{
	return x * 2 + counter;
}
SEC("xdp") int prog(void *ctx)
{
	counter = helper((int)(long)ctx);
	return 2;
}
char _license[] SEC("license") = "GPL";
`

const compiled = new Map<string, string | undefined>()
/** Compiles SOURCE for a clang target; undefined (with a printed reason) if that fails. */
function compile(target: string): string | undefined {
  if (compiled.has(target)) return compiled.get(target)
  const dir = scratchDir()
  const src = join(dir, 'elf-test.c')
  if (!existsSync(src)) writeFileSync(src, SOURCE)
  const out = join(dir, `elf-test-${target}.o`)
  const r = spawnSync(findTool('clang')!, ['-target', target, '-g', '-O2', '-c', src, '-o', out], {encoding: 'utf8'})
  const ok = r.status === 0 && existsSync(out)
  if (!ok) console.warn(`skipping ${target}: clang -target ${target} -c failed: ${r.stderr || r.error}`)
  compiled.set(target, ok ? out : undefined)
  return ok ? out : undefined
}

const TARGETS: {target: string; bits: 32 | 64; littleEndian: boolean; machine: number}[] = [
  {target: 'bpfel', bits: 64, littleEndian: true, machine: EM_BPF},
  {target: 'bpfeb', bits: 64, littleEndian: false, machine: EM_BPF},
  {target: 'x86_64-linux-gnu', bits: 64, littleEndian: true, machine: EM_X86_64},
  {target: 'aarch64-linux-gnu', bits: 64, littleEndian: true, machine: EM_AARCH64},
  {target: 'powerpc64-linux-gnu', bits: 64, littleEndian: false, machine: EM_PPC64},
  {target: 's390x-linux-gnu', bits: 64, littleEndian: false, machine: EM_S390},
  {target: 'i386-linux-gnu', bits: 32, littleEndian: true, machine: EM_386},
  {target: 'armv7-linux-gnueabi', bits: 32, littleEndian: true, machine: EM_ARM},
  {target: 'powerpc-linux-gnu', bits: 32, littleEndian: false, machine: EM_PPC},
]

describe('objects compiled by clang, checked against llvm-readelf', () => {
  for (const t of TARGETS) {
    it.skipIf(!canCompile)(`${t.target} (ELF${t.bits} ${t.littleEndian ? 'LE' : 'BE'})`, ({skip}) => {
      const file = compile(t.target)
      if (!file) return skip(`clang cannot build for ${t.target}`)
      const elf = compareAll(file)
      expect(elf.bits).toBe(t.bits)
      expect(elf.littleEndian).toBe(t.littleEndian)
      expect(elf.machine).toBe(t.machine)
      expect(elf.type).toBe(1) // ET_REL
      // The source's symbols are all there with the right kinds.
      const byName = new Map(elf.symbols().map((s) => [s.name, s]))
      expect(byName.get('counter')).toMatchObject({type: STT_OBJECT, bind: STB_GLOBAL, size: 4n})
      expect(byName.get('big_table')).toMatchObject({type: STT_OBJECT, bind: STB_GLOBAL, size: BigInt(4 * (t.bits / 8))})
      expect(byName.get('prog')).toMatchObject({type: STT_FUNC, bind: STB_GLOBAL})
      // On ppc64 ELFv1 a function symbol names its descriptor in .opd, not the code.
      expect(elf.sections[byName.get('prog')!.shndx]!.name).toBe(t.machine === EM_PPC64 ? '.opd' : 'xdp')
      expect(elf.sections[byName.get('_license')!.shndx]!.name).toBe('license')
      expect(new TextDecoder().decode(elf.sectionData(elf.section('license')!))).toBe('GPL\0')
      // Every relocation section found by target agrees with sh_info.
      for (const s of elf.sections) {
        for (const rs of elf.relocationSectionsFor(s)) expect(rs.info).toBe(s.index)
      }
    })
  }

  for (const target of ['bpfel', 'bpfeb']) {
    it.skipIf(!canCompile)(`${target}: .BTF, .BTF.ext and the relocations of the program`, ({skip}) => {
      const file = compile(target)
      if (!file) return skip(`clang cannot build for ${target}`)
      const elf = ElfFile.parse(readFileSync(file))
      const le = target === 'bpfel'
      for (const name of ['.BTF', '.BTF.ext']) {
        const data = elf.sectionData(elf.section(name)!)
        // BTF magic 0xeb9f in the object's byte order.
        expect(new DataView(data.buffer, data.byteOffset, data.byteLength).getUint16(0, le), name).toBe(0xeb9f)
      }
      const xdp = elf.section('xdp')!
      const relSecs = elf.relocationSectionsFor(xdp)
      expect(relSecs.map((s) => s.name)).toEqual(['.relxdp'])
      const symbols = elf.symbols()
      const relocs = elf.relocations(relSecs[0]!)
      // The static function is called through a section symbol for .text (R_BPF_64_32), the
      // global variable is loaded by ld_imm64 (R_BPF_64_64).
      const call = relocs.find((r) => r.type === R_BPF_64_32)!
      expect(symbols[call.symbol]).toMatchObject({type: STT_SECTION, bind: STB_LOCAL})
      expect(elf.sections[symbols[call.symbol]!.shndx]!.name).toBe('.text')
      const load = relocs.filter((r) => r.type === R_BPF_64_64)
      expect(load.map((r) => symbols[r.symbol]!.name)).toContain('counter')
      for (const r of relocs) expect(r.addend).toBeUndefined()
      // .BTF.ext is relocated too (its section offsets are patched by the loader).
      expect(elf.relocationSectionsFor(elf.section('.BTF.ext')!).map((s) => s.name)).toEqual(['.rel.BTF.ext'])
      expect(elf.relocationSectionsFor(elf.sections[0]!)).toEqual([])
    })
  }

  it.skipIf(!canCompile)('parses from a Buffer at an odd byte offset inside a larger ArrayBuffer', () => {
    for (const target of ['bpfeb', 'powerpc-linux-gnu']) {
      const file = compile(target)
      if (!file) continue
      const original = readFileSync(file)
      const big = new Uint8Array(original.length + 11)
      big.set(original, 3)
      const view = big.subarray(3, 3 + original.length)
      const a = ElfFile.parse(original)
      const b = ElfFile.parse(view)
      expect(b.sections).toEqual(a.sections)
      expect(b.symbols()).toEqual(a.symbols())
      for (const s of a.sections) {
        expect(Buffer.compare(b.sectionData(s), a.sectionData(s))).toBe(0)
        if (s.type === SHT_REL || s.type === SHT_RELA) expect(b.relocations(s)).toEqual(a.relocations(s))
      }
      // Zero copy: the data is a view of the caller's buffer.
      const btf = b.section('.debug_str') ?? b.sections.find((s) => s.size > 0)!
      expect(b.sectionData(btf).buffer).toBe(big.buffer)
    }
  })
})

// ---------------------------------------------------------------------------------------
// Kernel modules (committed fixtures) and this machine's executables

function moduleFiles(): {name: string; path: string}[] {
  const dir = join(FIXTURES, 'kernels')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ko.xz'))
    .sort()
    .map((f) => {
      const path = join(scratchDir(), f.slice(0, -3))
      writeFileSync(path, decompressSync(readFileSync(join(dir, f))))
      return {name: f.slice(0, -'.ko.xz'.length), path}
    })
}

describe('kernel modules (fixtures), checked against llvm-readelf', () => {
  const modules = moduleFiles()
  it('has module fixtures', () => {
    expect(modules.length).toBeGreaterThan(0)
  })
  for (const m of modules) {
    it.skipIf(!haveReadelf)(m.name, () => {
      const elf = compareAll(m.path)
      expect(elf.bits).toBe(64)
      expect(elf.type).toBe(1)
      expect(elf.machine).toBe(EM_X86_64)
      // The .BTF section is exactly the committed raw BTF fixture of the module.
      const btfFixture = join(FIXTURES, 'kernels', `${m.name}.btf.xz`)
      if (existsSync(btfFixture)) {
        const btf = elf.sectionData(elf.section('.BTF')!)
        expect(Buffer.compare(btf, decompressSync(readFileSync(btfFixture)))).toBe(0)
      }
      expect(elf.symbols().length).toBeGreaterThan(10)
      expect(elf.relocationSectionsFor(elf.section('.text')!).map((s) => s.name)).toEqual(['.rela.text'])
    })
  }
})

describe("this machine's executables, checked against llvm-readelf", () => {
  const candidates = ['/usr/bin/bpftool', '/usr/sbin/bpftool', '/bin/ls', process.execPath]
  const present = candidates.filter((f) => {
    try {
      return isElf(readFileSync(f).subarray(0, 4))
    } catch {
      return false
    }
  })
  if (present.length === 0) console.warn('skipping executables: none of', candidates.join(', '), 'is a readable ELF file')
  for (const file of present) {
    it.skipIf(!haveReadelf)(file, () => {
      const bytes = readFileSync(file)
      const t0 = performance.now()
      const elf = ElfFile.parse(bytes)
      const parseMs = performance.now() - t0
      const t1 = performance.now()
      const symbolCount = elf.symbols().length
      const symbolsMs = performance.now() - t1
      expect(elf.type === 2 || elf.type === 3).toBe(true) // ET_EXEC or ET_DYN
      compareSections(elf, file)
      expect(compareSymbols(elf, file)).toBe(symbolCount)
      compareRelocations(elf, file)
      console.log(
        `${file}: ${elf.sections.length} sections parsed in ${parseMs.toFixed(2)} ms, ${symbolCount} .symtab symbols decoded in ${symbolsMs.toFixed(1)} ms`,
      )
    })
  }
})

// ---------------------------------------------------------------------------------------
// Extended section numbering

/** Assembly with `count` one-byte sections and a global symbol in the last one. */
function manySectionsSource(count: number): string {
  const lines: string[] = []
  for (let i = 0; i < count; i++) lines.push(`.section .s${i},"a"`, `.byte ${i & 0xff}`)
  lines.push('.globl lastsym', 'lastsym: .byte 1', '.data', '.globl early', 'early: .long 7')
  return `${lines.join('\n')}\n`
}

describe('extended section numbering (more than 0xff00 sections)', () => {
  const COUNT = 0xff00 + 100
  const haveGas = findTool('as') !== undefined
  const haveMc = findTool('llvm-mc') !== undefined
  if (!haveGas) console.warn("skipping GNU as extended-numbering test: 'as' is not installed")
  if (!haveMc) console.warn("skipping llvm-mc extended-numbering test: 'llvm-mc' is not installed")

  const assemble = (tool: 'as' | 'llvm-mc'): string | undefined => {
    const dir = scratchDir()
    const src = join(dir, 'many-sections.s')
    if (!existsSync(src)) writeFileSync(src, manySectionsSource(COUNT))
    const out = join(dir, `many-sections-${tool}.o`)
    const args = tool === 'as' ? ['--64', '-o', out, src] : ['-triple=x86_64-linux-gnu', '-filetype=obj', '-o', out, src]
    const r = spawnSync(findTool(tool)!, args, {encoding: 'utf8'})
    if (r.status !== 0) {
      console.warn(`skipping ${tool} extended-numbering test: ${tool} failed: ${r.stderr}`)
      return undefined
    }
    return out
  }

  // GNU as puts .shstrtab last, so e_shstrndx is SHN_XINDEX too; llvm-mc puts it at index 1.
  for (const tool of ['as', 'llvm-mc'] as const) {
    it.skipIf(!(tool === 'as' ? haveGas : haveMc) || !haveReadelf)(tool, ({skip}) => {
      const file = assemble(tool)
      if (!file) return skip(`${tool} failed`)
      const bytes = readFileSync(file)
      // e_shnum is 0: the count is in section 0's sh_size.
      expect(bytes.readUInt16LE(60)).toBe(0)
      if (tool === 'as') expect(bytes.readUInt16LE(62)).toBe(0xffff)
      const t0 = performance.now()
      const elf = ElfFile.parse(bytes)
      const ms = performance.now() - t0
      console.log(`${tool}: ${elf.sections.length} sections parsed in ${ms.toFixed(1)} ms`)
      expect(elf.sections.length).toBeGreaterThan(COUNT)
      expect(elf.sections[0]!.size).toBe(elf.sections.length)
      compareSections(elf, file)
      compareSymbols(elf, file)
      const last = elf.symbols().find((s) => s.name === 'lastsym')!
      // Beyond 0xff00, so stored as SHN_XINDEX and resolved through SHT_SYMTAB_SHNDX.
      expect(last.shndx).toBeGreaterThanOrEqual(0xff00)
      expect(elf.sections[last.shndx]!.name).toBe(`.s${COUNT - 1}`)
      expect(elf.sections[elf.symbols().find((s) => s.name === 'early')!.shndx]!.name).toBe('.data')
      expect(elf.section(`.s${COUNT - 1}`)!.index).toBe(last.shndx)
    })
  }
})
