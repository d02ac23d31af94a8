/**
 * A look at an ELF file on disk before handing it to pahole, without reading it whole
 * (a vmlinux with DWARF is 0.2-1 GB): the ELF header and section header table are read
 * with positioned reads, then only the small sections that tell what the file is.
 *
 * It answers: is this ELF at all, does it carry DWARF (`.debug_info`) to encode from, in
 * which DWARF version, does it already have `.BTF`, and which kernel is it — from the
 * `linux_banner` in `.rodata` ("Linux version 6.1.0-56-arm64 (…) (gcc-12 …) #1 SMP …")
 * for a vmlinux, or `vermagic=` in `.modinfo` for a module.
 *
 * Every offset from the file is checked against the file size; a malformed file gives an
 * {@link InputError} (`INPUT_NOT_ELF`, `INPUT_BAD_ELF`), never a read past the end.
 */
import {open, type FileHandle} from 'node:fs/promises'
import {InputError} from '../errors.js'

export interface ProbedSection {
  name: string
  type: number
  flags: bigint
  offset: number
  size: number
}

export interface ElfProbe {
  bits: 32 | 64
  littleEndian: boolean
  /** e_type: 1 REL (.o, .ko), 2 EXEC, 3 DYN (arm64/ppc64 vmlinux are ET_DYN). */
  type: number
  machine: number
  fileSize: number
  sections: ProbedSection[]
  hasDwarf: boolean
  /** Version of the first compilation unit's header in .debug_info (2-5), when readable. */
  dwarfVersion?: number
  /** .debug_info is SHF_COMPRESSED (or .zdebug_info): pahole/elfutils decompress it. */
  dwarfCompressed: boolean
  hasBtf: boolean
  /** `uname -r` of the kernel, from the banner or vermagic, when found. */
  kernelRelease?: string
  /** The whole `Linux version …` banner, when found (names the compiler). */
  banner?: string
  /** A kernel module (has .modinfo / .gnu.linkonce.this_module). */
  isModule: boolean
}

const SHF_COMPRESSED = 0x800n
const SHT_NOBITS = 8
/** Sections read whole to find the kernel release are capped (a vmlinux .rodata is a few MiB). */
const MAX_SCAN = 64 * 1024 * 1024

export const ELF_MACHINES: Readonly<Record<number, string>> = {
  3: 'i386',
  8: 'mips',
  20: 'ppc',
  21: 'ppc64',
  22: 's390',
  40: 'arm',
  62: 'x86_64',
  183: 'aarch64',
  243: 'riscv',
  247: 'bpf',
  258: 'loongarch',
}

async function readAt(fh: FileHandle, offset: number, length: number, fileSize: number, what: string): Promise<Buffer> {
  if (offset < 0 || length < 0 || offset + length > fileSize) {
    throw new InputError('INPUT_BAD_ELF', `${what} (${length} bytes at ${offset}) lies outside the file (${fileSize} bytes)`, {offset})
  }
  const b = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const {bytesRead} = await fh.read(b, done, length - done, offset + done)
    if (bytesRead === 0) throw new InputError('INPUT_BAD_ELF', `${what}: file ended early`, {offset: offset + done})
    done += bytesRead
  }
  return b
}

function cString(b: Buffer, at: number): string {
  if (at < 0 || at >= b.length) return ''
  const end = b.indexOf(0, at)
  return b.toString('latin1', at, end < 0 ? b.length : end)
}

/**
 * Reads the ELF header, the section table and the few sections that identify the file.
 * @throws InputError `INPUT_NOT_FOUND`, `INPUT_NOT_ELF`, `INPUT_BAD_ELF`.
 */
export async function probeElf(path: string): Promise<ElfProbe> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new InputError('INPUT_NOT_FOUND', `${path}: no such file`)
    throw new InputError('INPUT_UNREADABLE', `${path}: ${(e as Error).message}`, {cause: e})
  }
  try {
    const st = await fh.stat()
    if (st.isDirectory()) throw new InputError('INPUT_IS_DIRECTORY', `${path}: is a directory`)
    const fileSize = st.size
    const ident = Buffer.alloc(64)
    const {bytesRead} = await fh.read(ident, 0, 64, 0)
    if (bytesRead < 16 || ident.readUInt32BE(0) !== 0x7f454c46) {
      throw new InputError('INPUT_NOT_ELF', `${path}: not an ELF file (BTF is generated from an ELF vmlinux or .ko with DWARF debug info)`)
    }
    const cls = ident[4]
    const data = ident[5]
    if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) {
      throw new InputError('INPUT_BAD_ELF', `${path}: unknown ELF class ${cls} or data encoding ${data}`, {offset: 4})
    }
    const is64 = cls === 2
    const le = data === 1
    if (bytesRead < (is64 ? 64 : 52)) throw new InputError('INPUT_BAD_ELF', `${path}: ELF header is cut short`, {offset: bytesRead})
    const u16 = (b: Buffer, at: number): number => (le ? b.readUInt16LE(at) : b.readUInt16BE(at))
    const u32 = (b: Buffer, at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at))
    const u64 = (b: Buffer, at: number): bigint => (le ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at))
    const word = (b: Buffer, at: number): number => {
      const v = is64 ? u64(b, at) : BigInt(u32(b, at))
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError('INPUT_BAD_ELF', `${path}: offset or size ${v} is too large`, {offset: at})
      return Number(v)
    }
    const type = u16(ident, 16)
    const machine = u16(ident, 18)
    const shoff = word(ident, is64 ? 40 : 32)
    const shentsize = u16(ident, is64 ? 58 : 46)
    let shnum = u16(ident, is64 ? 60 : 48)
    let shstrndx = u16(ident, is64 ? 62 : 50)
    const entsize = is64 ? 64 : 40
    if (shoff === 0) {
      return {bits: is64 ? 64 : 32, littleEndian: le, type, machine, fileSize, sections: [], hasDwarf: false, dwarfCompressed: false, hasBtf: false, isModule: false}
    }
    if (shentsize !== entsize) throw new InputError('INPUT_BAD_ELF', `${path}: section header size ${shentsize}, expected ${entsize}`, {offset: is64 ? 58 : 46})
    const first = await readAt(fh, shoff, entsize, fileSize, 'section header 0')
    if (shnum === 0) shnum = word(first, is64 ? 32 : 20) // extended numbering: sh_size of section 0
    if (shstrndx === 0xffff) shstrndx = u32(first, is64 ? 40 : 24) // SHN_XINDEX: sh_link of section 0
    if (shnum > 1_000_000) throw new InputError('INPUT_BAD_ELF', `${path}: ${shnum} sections is implausible`, {offset: shoff})
    const table = await readAt(fh, shoff, shnum * entsize, fileSize, 'section header table')
    const raw = []
    for (let i = 0; i < shnum; i++) {
      const at = i * entsize
      raw.push({
        nameOff: u32(table, at),
        type: u32(table, at + 4),
        flags: is64 ? u64(table, at + 8) : BigInt(u32(table, at + 8)),
        offset: word(table, at + (is64 ? 24 : 16)),
        size: word(table, at + (is64 ? 32 : 20)),
      })
    }
    let names: Buffer = Buffer.alloc(0)
    const strSec = raw[shstrndx]
    if (strSec && strSec.type !== SHT_NOBITS) names = await readAt(fh, strSec.offset, Math.min(strSec.size, MAX_SCAN), fileSize, 'section name table')
    const sections: ProbedSection[] = raw.map((s) => ({name: cString(names, s.nameOff), type: s.type, flags: s.flags, offset: s.offset, size: s.size}))
    const find = (n: string): ProbedSection | undefined => sections.find((s) => s.name === n && s.type !== SHT_NOBITS && s.size > 0)

    const info = find('.debug_info')
    const zinfo = find('.zdebug_info')
    let dwarfVersion: number | undefined
    const dwarfCompressed = zinfo !== undefined || (info !== undefined && (info.flags & SHF_COMPRESSED) !== 0n)
    if (info && !dwarfCompressed && info.size >= 11) {
      const h = await readAt(fh, info.offset, Math.min(info.size, 16), fileSize, '.debug_info header')
      const unitLength = u32(h, 0)
      const at = unitLength === 0xffffffff ? 12 : 4
      if (h.length >= at + 2) {
        const v = u16(h, at)
        if (v >= 2 && v <= 5) dwarfVersion = v
      }
    }

    let kernelRelease: string | undefined
    let banner: string | undefined
    const modinfo = find('.modinfo')
    const isModule = modinfo !== undefined || find('.gnu.linkonce.this_module') !== undefined
    if (modinfo && modinfo.size <= MAX_SCAN) {
      const text = (await readAt(fh, modinfo.offset, modinfo.size, fileSize, '.modinfo')).toString('latin1')
      const m = /(?:^|\0)vermagic=([^\s\0]+)/.exec(text)
      if (m) kernelRelease = m[1]
    }
    if (!kernelRelease) {
      for (const name of ['.rodata', '.data']) {
        const s = find(name)
        if (!s || s.size > MAX_SCAN) continue
        const b = await readAt(fh, s.offset, s.size, fileSize, name)
        const at = b.indexOf('Linux version ')
        if (at < 0) continue
        const end = b.indexOf(0, at)
        banner = b.toString('latin1', at, end < 0 ? Math.min(b.length, at + 512) : Math.min(end, at + 512)).trim()
        const m = /^Linux version (\S+)/.exec(banner)
        if (m && !m[1]!.includes('%')) {
          kernelRelease = m[1]
          break
        }
        banner = undefined
      }
    }
    return {
      bits: is64 ? 64 : 32,
      littleEndian: le,
      type,
      machine,
      fileSize,
      sections,
      hasDwarf: info !== undefined || zinfo !== undefined,
      ...(dwarfVersion === undefined ? {} : {dwarfVersion}),
      dwarfCompressed,
      hasBtf: find('.BTF') !== undefined,
      ...(kernelRelease === undefined ? {} : {kernelRelease}),
      ...(banner === undefined ? {} : {banner}),
      isModule,
    }
  } finally {
    await fh.close()
  }
}
