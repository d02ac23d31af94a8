/**
 * Malformed ELF input: truncation at every length, a table of targeted corruptions of
 * real objects (each must throw ElfError with the expected code and a byte offset), and
 * seeded random mutation. Nothing may escape as a RangeError/TypeError, read out of
 * bounds or hang.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {describe, expect, it} from 'vitest'
import {ElfError} from '../../src/errors.js'
import {SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB} from '../../src/elf/constants.js'
import {ElfFile, isElf, type ElfSection} from '../../src/elf/elf.js'
import {FIXTURES, scratchDir} from '../helpers/fixtures.js'
import {mulberry32} from '../helpers/random.js'
import {findTool} from '../helpers/tools.js'

// ---------------------------------------------------------------------------------------
// Samples: real objects only (compiled here when clang is available, plus the committed
// kernel module fixtures, which need no tools).

interface Sample {
  name: string
  bytes: Uint8Array
}

function compileSample(target: string): Sample | undefined {
  const clang = findTool('clang')
  if (!clang) return undefined
  const dir = scratchDir()
  const src = join(dir, 'elf-malformed.c')
  writeFileSync(
    src,
    [
      'int counter = 3;',
      'static __attribute__((noinline)) int helper(int x) { return x * 2 + counter; }',
      '__attribute__((section("xdp"), used)) int prog(void *ctx) { counter = helper((int)(long)ctx); return 2; }',
      '',
    ].join('\n'),
  )
  const out = join(dir, `elf-malformed-${target}.o`)
  const r = spawnSync(clang, ['-target', target, '-g', '-O2', '-c', src, '-o', out], {encoding: 'utf8'})
  if (r.status !== 0) {
    console.warn(`no ${target} sample: clang failed: ${r.stderr}`)
    return undefined
  }
  return {name: `clang -target ${target}`, bytes: new Uint8Array(readFileSync(out))}
}

function moduleSample(): Sample | undefined {
  const dir = join(FIXTURES, 'kernels')
  const f = existsSync(dir) ? readdirSync(dir).find((x) => x.endsWith('.ko.xz')) : undefined
  if (!f) return undefined
  return {name: f.slice(0, -3), bytes: new Uint8Array(decompressSync(readFileSync(join(dir, f))))}
}

if (!findTool('clang')) console.warn('clang is not installed: malformed-input tests use the kernel module fixture only')
const samples = [compileSample('bpfel'), compileSample('powerpc-linux-gnu'), moduleSample()].filter(
  (s): s is Sample => s !== undefined,
)

// ---------------------------------------------------------------------------------------
// Helpers

/** Parses and touches everything the API offers, so lazy paths are exercised too. */
function touchAll(bytes: Uint8Array): ElfFile {
  isElf(bytes)
  const elf = ElfFile.parse(bytes)
  for (const s of elf.sections) {
    elf.sectionData(s)
    elf.section(s.name)
    elf.relocationSectionsFor(s)
  }
  elf.symbols()
  for (const s of elf.sections) if (s.type === SHT_REL || s.type === SHT_RELA) elf.relocations(s)
  return elf
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn()
  } catch (e) {
    return e
  }
  return undefined
}

/** Asserts that `fn` throws an ElfError with `code` and a byte offset within [0, len]. */
function expectElfError(fn: () => unknown, code: string, len: number, offset?: number | [number, number]): ElfError {
  const e = errorOf(fn)
  expect(e, `expected ElfError ${code}, got ${String(e)}`).toBeInstanceOf(ElfError)
  const err = e as ElfError
  expect(err.code, err.message).toBe(code)
  expect(typeof err.offset, err.message).toBe('number')
  expect(err.offset!).toBeGreaterThanOrEqual(0)
  expect(err.offset!).toBeLessThanOrEqual(len)
  if (typeof offset === 'number') expect(err.offset, err.message).toBe(offset)
  else if (offset !== undefined) {
    expect(err.offset!, err.message).toBeGreaterThanOrEqual(offset[0])
    expect(err.offset!, err.message).toBeLessThan(offset[1])
  }
  return err
}

/** Field locations of one ELF file, read independently of the reader under test. */
class Fields {
  readonly view: DataView
  readonly is64: boolean
  readonly le: boolean
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.is64 = bytes[4] === 2
    this.le = bytes[5] === 1
  }
  get shoffAt(): number {
    return this.is64 ? 40 : 32
  }
  get shentsizeAt(): number {
    return this.is64 ? 58 : 46
  }
  get shnumAt(): number {
    return this.is64 ? 60 : 48
  }
  get shstrndxAt(): number {
    return this.is64 ? 62 : 50
  }
  get shoff(): number {
    return this.is64 ? Number(this.view.getBigUint64(40, this.le)) : this.view.getUint32(32, this.le)
  }
  get shentsize(): number {
    return this.is64 ? 64 : 40
  }
  get symentsize(): number {
    return this.is64 ? 24 : 16
  }
  /** File offset of a field of section header `index`. */
  sh(index: number, field: 'name' | 'type' | 'offset' | 'size' | 'link' | 'info' | 'entsize'): number {
    const at64 = {name: 0, type: 4, offset: 24, size: 32, link: 40, info: 44, entsize: 56}
    const at32 = {name: 0, type: 4, offset: 16, size: 20, link: 24, info: 28, entsize: 36}
    return this.shoff + index * this.shentsize + (this.is64 ? at64 : at32)[field]
  }
  isWord(field: string): boolean {
    return this.is64 && (field === 'offset' || field === 'size' || field === 'entsize')
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, this.le)
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v, this.le)
  }
  /** Writes an address-sized field (u32 or u64); values too big for ELF32 saturate. */
  word(at: number, v: bigint): void {
    if (this.is64) this.view.setBigUint64(at, v, this.le)
    else this.view.setUint32(at, Number(v > 0xffffffffn ? 0xffffffffn : v), this.le)
  }
  setSh(index: number, field: 'name' | 'type' | 'offset' | 'size' | 'link' | 'info' | 'entsize', v: bigint): void {
    const at = this.sh(index, field)
    if (this.isWord(field)) this.word(at, v)
    else this.u32(at, Number(v > 0xffffffffn ? 0xffffffffn : v))
  }
}

interface Case {
  name: string
  code: string
  /**
   * Mutates a copy of the sample; returns the expected error offset (or a [from, to)
   * range) if known, or 'skip' when the sample lacks what the case needs.
   */
  mutate: (f: Fields, elf: ElfFile) => number | [number, number] | undefined | 'skip'
  /** Which call must throw (default: touchAll). */
  call?: (elf: ElfFile, f: Fields, pristine: ElfFile) => unknown
}

function dataSection(elf: ElfFile): ElfSection {
  return elf.sections.filter((s) => s.type === SHT_PROGBITS && s.size > 0).sort((a, b) => b.size - a.size)[0]!
}
function symtabOf(elf: ElfFile): ElfSection | undefined {
  return elf.sections.find((s) => s.type === SHT_SYMTAB)
}
function relSectionOf(elf: ElfFile): ElfSection | undefined {
  return elf.sections.find((s) => (s.type === SHT_REL || s.type === SHT_RELA) && s.size > 0)
}

const CASES: Case[] = [
  {name: 'bad magic', code: 'ELF_BAD_MAGIC', mutate: (f) => ((f.bytes[1] = 0x46), 1)},
  {name: 'class 0', code: 'ELF_BAD_CLASS', mutate: (f) => ((f.bytes[4] = 0), 4)},
  {name: 'class 3', code: 'ELF_BAD_CLASS', mutate: (f) => ((f.bytes[4] = 3), 4)},
  {name: 'byte order 0', code: 'ELF_BAD_BYTE_ORDER', mutate: (f) => ((f.bytes[5] = 0), 5)},
  {name: 'ident version 2', code: 'ELF_BAD_VERSION', mutate: (f) => ((f.bytes[6] = 2), 6)},
  {name: 'e_shentsize 0', code: 'ELF_BAD_HEADER', mutate: (f) => (f.u16(f.shentsizeAt, 0), f.shentsizeAt)},
  {name: 'e_shentsize + 8', code: 'ELF_BAD_HEADER', mutate: (f) => (f.u16(f.shentsizeAt, f.shentsize + 8), f.shentsizeAt)},
  {name: 'e_shoff 0 with e_shnum > 0', code: 'ELF_BAD_HEADER', mutate: (f) => (f.word(f.shoffAt, 0n), f.shnumAt)},
  {name: 'e_shoff all ones', code: 'ELF_TRUNCATED', mutate: (f) => (f.word(f.shoffAt, 0xffffffffffffffffn), f.shoffAt)},
  {name: 'e_shoff = file length - 1', code: 'ELF_TRUNCATED', mutate: (f) => (f.word(f.shoffAt, BigInt(f.bytes.length - 1)), f.shoffAt)},
  {
    name: 'e_shoff moved so the table runs past the end',
    code: 'ELF_TRUNCATED',
    mutate: (f) => (f.word(f.shoffAt, BigInt(f.bytes.length - 3 * f.shentsize)), f.shnumAt),
  },
  {name: 'e_shnum 0xffff', code: 'ELF_TRUNCATED', mutate: (f) => (f.u16(f.shnumAt, 0xffff), f.shnumAt)},
  {
    name: 'extended count (e_shnum 0, section 0 sh_size huge)',
    code: 'ELF_TRUNCATED',
    mutate: (f) => (f.u16(f.shnumAt, 0), f.setSh(0, 'size', 1n << 40n), f.sh(0, 'size')),
  },
  {name: 'e_shstrndx out of range', code: 'ELF_BAD_SECTION', mutate: (f, e) => (f.u16(f.shstrndxAt, e.sections.length), f.shstrndxAt)},
  {
    name: 'e_shstrndx SHN_XINDEX with a bad sh_link in section 0',
    code: 'ELF_BAD_SECTION',
    mutate: (f) => (f.u16(f.shstrndxAt, 0xffff), f.setSh(0, 'link', 123456n), f.sh(0, 'link')),
  },
  {
    name: 'sh_offset at the end of the file',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => {
      const s = dataSection(e)
      f.setSh(s.index, 'offset', BigInt(f.bytes.length))
      return f.shoff + s.index * f.shentsize
    },
  },
  {
    name: 'sh_size larger than the file',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => {
      const s = dataSection(e)
      f.setSh(s.index, 'size', BigInt(f.bytes.length))
      return f.shoff + s.index * f.shentsize
    },
  },
  {
    name: 'sh_offset + sh_size wraps around 2^32 / 2^64',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => {
      const s = dataSection(e)
      f.setSh(s.index, 'offset', 16n)
      f.setSh(s.index, 'size', f.is64 ? (1n << 64n) - 8n : 0xfffffff8n)
      return undefined
    },
  },
  {
    name: 'sh_offset 2^60 (not a safe integer)',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => (f.is64 ? (f.setSh(dataSection(e).index, 'offset', 1n << 60n), f.sh(dataSection(e).index, 'offset')) : 'skip'),
  },
  {
    name: 'sh_name outside the section name table',
    code: 'ELF_BAD_STRING',
    mutate: (f, e) => (f.setSh(dataSection(e).index, 'name', 0x7fffffffn), f.sh(dataSection(e).index, 'name')),
  },
  {
    name: 'section name not NUL-terminated',
    code: 'ELF_BAD_STRING',
    mutate: (f, e) => {
      // Overwrite the table's final NUL and point a section name at it. The error names the
      // start of the first unterminated name looked up, which may be another one that
      // shared the final NUL.
      const shstrndx = f.view.getUint16(f.shstrndxAt, f.le)
      const t = e.sections[shstrndx]!
      f.bytes[t.offset + t.size - 1] = 0x78
      f.setSh(dataSection(e).index, 'name', BigInt(t.size - 1))
      return [t.offset, t.offset + t.size]
    },
  },
  {
    name: 'shstrtab size 0 with named sections',
    code: 'ELF_BAD_STRING',
    mutate: (f) => (f.setSh(f.view.getUint16(f.shstrndxAt, f.le), 'size', 0n), undefined),
  },
  {
    name: '.symtab sh_entsize wrong',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => {
      const s = symtabOf(e)
      if (!s) return 'skip'
      f.setSh(s.index, 'entsize', BigInt(f.symentsize + 1))
      return f.shoff + s.index * f.shentsize
    },
    call: (elf) => elf.symbols(),
  },
  {
    name: '.symtab size not a multiple of the entry size',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => {
      const s = symtabOf(e)
      if (!s) return 'skip'
      f.setSh(s.index, 'size', BigInt(s.size - 1))
      return f.shoff + s.index * f.shentsize
    },
    call: (elf) => elf.symbols(),
  },
  {
    name: '.symtab sh_link is not a string table',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => {
      const s = symtabOf(e)
      if (!s) return 'skip'
      f.setSh(s.index, 'link', BigInt(s.index))
      return f.shoff + s.index * f.shentsize
    },
    call: (elf) => elf.symbols(),
  },
  {
    name: '.symtab sh_link out of range',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => {
      const s = symtabOf(e)
      if (!s) return 'skip'
      f.setSh(s.index, 'link', 0xfffffn)
      return f.shoff + s.index * f.shentsize
    },
    call: (elf) => elf.symbols(),
  },
  {
    name: 'symbol st_name outside the string table',
    code: 'ELF_BAD_STRING',
    mutate: (f, e) => {
      const s = symtabOf(e)
      if (!s) return 'skip'
      const at = s.offset + 1 * f.symentsize
      f.u32(at, 0x7ffffff0)
      return at
    },
    call: (elf) => elf.symbols(),
  },
  {
    name: 'symbol string not NUL-terminated',
    code: 'ELF_BAD_STRING',
    mutate: (f, e) => {
      const s = symtabOf(e)
      if (!s) return 'skip'
      const str = e.sections[s.link]!
      f.bytes[str.offset + str.size - 1] = 0x78
      f.u32(s.offset + f.symentsize, str.size - 1)
      return [str.offset, str.offset + str.size]
    },
    call: (elf) => elf.symbols(),
  },
  {
    name: 'symbol st_shndx beyond the section count',
    code: 'ELF_BAD_SYMBOL',
    mutate: (f, e) => {
      const s = symtabOf(e)
      if (!s) return 'skip'
      const at = s.offset + 1 * f.symentsize
      f.u16(at + (f.is64 ? 6 : 14), e.sections.length + 5)
      return at
    },
    call: (elf) => elf.symbols(),
  },
  {
    name: 'symbol st_shndx SHN_XINDEX without SHT_SYMTAB_SHNDX',
    code: 'ELF_BAD_SYMBOL',
    mutate: (f, e) => {
      const s = symtabOf(e)
      if (!s) return 'skip'
      f.u16(s.offset + f.symentsize + (f.is64 ? 6 : 14), 0xffff)
      return f.shoff + s.index * f.shentsize
    },
    call: (elf) => elf.symbols(),
  },
  {
    name: 'relocation symbol index beyond the symbol table',
    code: 'ELF_BAD_SYMBOL',
    mutate: (f, e) => {
      const r = relSectionOf(e)
      if (!r) return 'skip'
      // r_info's symbol part: high 32 bits (ELF64) or high 24 bits (ELF32).
      if (f.is64) f.u32(r.offset + (f.le ? 12 : 8), 0x00ffffff)
      else f.u32(r.offset + 4, (0xffffff << 8) >>> 0)
      return r.offset
    },
    call: (elf, _f, p) => elf.relocations(relSectionOf(p)!),
  },
  {
    name: 'relocation section sh_link is a string table',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => {
      const r = relSectionOf(e)
      const str = e.sections.find((s) => s.type === SHT_STRTAB)
      if (!r || !str) return 'skip'
      f.setSh(r.index, 'link', BigInt(str.index))
      return f.shoff + r.index * f.shentsize
    },
    call: (elf, _f, p) => elf.relocations(relSectionOf(p)!),
  },
  {
    name: 'relocation section sh_entsize wrong',
    code: 'ELF_BAD_SECTION',
    mutate: (f, e) => {
      const r = relSectionOf(e)
      if (!r) return 'skip'
      f.setSh(r.index, 'entsize', 3n)
      return f.shoff + r.index * f.shentsize
    },
    call: (elf, _f, p) => elf.relocations(relSectionOf(p)!),
  },
  {
    name: 'relocations() of a section that is not REL/RELA',
    code: 'ELF_BAD_SECTION',
    mutate: () => undefined,
    call: (elf) => elf.relocations(elf.sections.find((s) => s.type === SHT_SYMTAB || s.type === SHT_PROGBITS)!),
  },
  {
    name: 'relocations() of a section from another file',
    code: 'ELF_BAD_SECTION',
    mutate: () => undefined,
    call: (elf, _f, p) => elf.relocations({...relSectionOf(p)!, offset: relSectionOf(p)!.offset + 1}),
  },
  {
    name: 'sectionData() of a forged section outside the input',
    code: 'ELF_BAD_SECTION',
    mutate: () => undefined,
    call: (elf, f) => elf.sectionData({...dataSection(elf), offset: f.bytes.length - 1}),
  },
]

// ---------------------------------------------------------------------------------------

describe('malformed ELF input', () => {
  it('has real samples to corrupt', () => {
    expect(samples.length).toBeGreaterThan(0)
  })

  it('short prefixes: empty input and partial magic are truncated, anything else is not ELF', () => {
    expectElfError(() => ElfFile.parse(new Uint8Array(0)), 'ELF_TRUNCATED', 0, 0)
    expectElfError(() => ElfFile.parse(new Uint8Array([0x7f, 0x45])), 'ELF_TRUNCATED', 2, 2)
    expectElfError(() => ElfFile.parse(new Uint8Array([0x7f, 0x46])), 'ELF_BAD_MAGIC', 2, 1)
    expectElfError(() => ElfFile.parse(new TextEncoder().encode('#!/bin/sh\necho hi\n')), 'ELF_BAD_MAGIC', 18, 0)
    expect(isElf(new Uint8Array([0x7f, 0x45, 0x4c]))).toBe(false)
    expect(isElf(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]))).toBe(true)
  })

  for (const sample of samples) {
    describe(sample.name, () => {
      it('truncated at every length: ElfError, or success only when every header and section still fits', () => {
        const f = new Fields(sample.bytes)
        const pristine = ElfFile.parse(sample.bytes)
        const tableEnd = f.shoff + pristine.sections.length * f.shentsize
        const dataEnd = Math.max(...pristine.sections.filter((s) => s.type !== SHT_NOBITS && s.type !== 0).map((s) => s.offset + s.size))
        const codes = new Map<string, number>()
        let ok = 0
        for (let len = 0; len < sample.bytes.length; len++) {
          const e = errorOf(() => touchAll(sample.bytes.subarray(0, len)))
          if (e === undefined) {
            expect(len, `length ${len} parsed although the file needs ${Math.max(tableEnd, dataEnd)} bytes`).toBeGreaterThanOrEqual(
              Math.max(tableEnd, dataEnd),
            )
            ok++
            continue
          }
          expect(e, `length ${len}: ${String(e)}`).toBeInstanceOf(ElfError)
          const err = e as ElfError
          codes.set(err.code, (codes.get(err.code) ?? 0) + 1)
          expect(err.offset, err.message).toBeLessThanOrEqual(len + 64)
          if (len < tableEnd) expect(err.code, `length ${len}: ${err.message}`).toBe('ELF_TRUNCATED')
          else expect(err.code, `length ${len}: ${err.message}`).toBe('ELF_BAD_SECTION')
        }
        console.log(`${sample.name}: ${sample.bytes.length} truncations, ${ok} still parse (trailing bytes), errors ${JSON.stringify(Object.fromEntries(codes))}`)
      })

      for (const c of CASES) {
        it(`${c.name} → ${c.code}`, ({skip}) => {
          const bytes = sample.bytes.slice()
          const f = new Fields(bytes)
          const pristine = ElfFile.parse(sample.bytes)
          const offset = c.mutate(f, pristine)
          if (offset === 'skip') return skip(`${sample.name} has nothing this case corrupts`)
          const call = c.call ? () => c.call!(ElfFile.parse(bytes), f, pristine) : () => touchAll(bytes)
          expectElfError(call, c.code, bytes.length, offset)
        })
      }

      it('e_shstrndx 0 (no section name table) parses with empty names', () => {
        const bytes = sample.bytes.slice()
        const f = new Fields(bytes)
        f.u16(f.shstrndxAt, 0)
        const elf = touchAll(bytes)
        expect(elf.sections.every((s) => s.name === '')).toBe(true)
        expect(elf.sections.length).toBe(ElfFile.parse(sample.bytes).sections.length)
      })

      it('SHT_NOBITS sections are not bounds-checked and have no data', () => {
        const bytes = sample.bytes.slice()
        const f = new Fields(bytes)
        const s = dataSection(ElfFile.parse(sample.bytes))
        f.setSh(s.index, 'type', BigInt(SHT_NOBITS))
        f.setSh(s.index, 'offset', BigInt(bytes.length + 4096))
        const elf = touchAll(bytes)
        expect(elf.sectionData(elf.sections[s.index]!).length).toBe(0)
        expect(elf.sections[s.index]!.size).toBe(s.size)
      })
    })
  }

  describe('symbol names pointing into one huge string', () => {
    // A module has separate .shstrtab and .strtab, so .strtab can be replaced by a single
    // 256 KiB string appended to the file without disturbing the section names.
    const ko = moduleSample()
    const build = (nameOf: (i: number) => number): Uint8Array => {
      const RUN = 256 * 1024
      const bytes = new Uint8Array(ko!.bytes.length + RUN + 1)
      bytes.set(ko!.bytes)
      bytes.fill(0x61, ko!.bytes.length, ko!.bytes.length + RUN)
      const f = new Fields(bytes)
      const elf = ElfFile.parse(ko!.bytes)
      const symtab = symtabOf(elf)!
      f.setSh(symtab.link, 'offset', BigInt(ko!.bytes.length))
      f.setSh(symtab.link, 'size', BigInt(RUN + 1))
      for (let i = 1; i < symtab.size / f.symentsize; i++) f.u32(symtab.offset + i * f.symentsize, nameOf(i))
      return bytes
    }
    it.skipIf(!ko)('the same long name for every symbol is decoded once and shared', () => {
      const symbols = ElfFile.parse(build(() => 1)).symbols()
      expect(symbols.length).toBeGreaterThan(100)
      expect(symbols.slice(1).every((s) => s.name.length === 256 * 1024 - 1)).toBe(true)
    })
    it.skipIf(!ko)('successive offsets into it (quadratic output) are rejected, not decoded', () => {
      const bytes = build((i) => i)
      const t0 = performance.now()
      expectElfError(() => ElfFile.parse(bytes).symbols(), 'ELF_BAD_STRING', bytes.length)
      expect(performance.now() - t0).toBeLessThan(2000)
    })
  })

  describe('seeded random mutation: success or ElfError, nothing else', () => {
    const ROUNDS = [3000, 1000, 1000]
    samples.forEach((sample, k) => {
      const rounds = ROUNDS[k] ?? 1000
      it(`${sample.name}: ${rounds} mutated copies`, () => {
        const rand = mulberry32(0x5eed + k)
        const f = new Fields(sample.bytes)
        const pristine = ElfFile.parse(sample.bytes)
        // Regions where a flipped byte changes structure rather than just data.
        const hot: [number, number][] = [[0, f.is64 ? 64 : 52], [f.shoff, f.shoff + pristine.sections.length * f.shentsize]]
        for (const s of pristine.sections) {
          if (s.type === SHT_SYMTAB || s.type === SHT_REL || s.type === SHT_RELA || s.type === SHT_STRTAB) hot.push([s.offset, s.offset + s.size])
        }
        const outcomes = new Map<string, number>()
        const t0 = performance.now()
        let slowest = 0
        for (let i = 0; i < rounds; i++) {
          const bytes = sample.bytes.slice()
          const n = 1 + Math.floor(rand() * 4)
          for (let j = 0; j < n; j++) {
            let at: number
            if (rand() < 0.7) {
              const [a, b] = hot[Math.floor(rand() * hot.length)]!
              at = a + Math.floor(rand() * Math.max(1, b - a))
            } else {
              at = Math.floor(rand() * bytes.length)
            }
            const how = rand()
            bytes[at] = how < 0.4 ? Math.floor(rand() * 256) : how < 0.6 ? 0 : how < 0.75 ? 0xff : bytes[at]! ^ (1 << Math.floor(rand() * 8))
          }
          const t = performance.now()
          const e = errorOf(() => touchAll(bytes))
          slowest = Math.max(slowest, performance.now() - t)
          if (e !== undefined && !(e instanceof ElfError)) {
            throw new Error(`round ${i}: ${(e as Error)?.stack ?? String(e)}`)
          }
          const key = e === undefined ? 'ok' : (e as ElfError).code
          if (e !== undefined) {
            expect((e as ElfError).offset, (e as ElfError).message).toBeTypeOf('number')
          }
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
        }
        const ms = performance.now() - t0
        console.log(
          `${sample.name}: ${rounds} mutants in ${ms.toFixed(0)} ms (slowest ${slowest.toFixed(1)} ms): ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`,
        )
        expect(outcomes.get('ok') ?? 0).toBeGreaterThan(0)
        expect(outcomes.size).toBeGreaterThan(2)
      })
    })
  })
})

