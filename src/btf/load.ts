/**
 * Opening BTF from wherever users keep it. One entry point, {@link loadBtf}, takes a
 * path (or bytes) and recognises the format by content, never by file name:
 *
 * - raw BTF (`/sys/kernel/btf/vmlinux`, a `.btf` file), either byte order;
 * - an ELF file with a `.BTF` section (vmlinux, a kernel module `.ko`, a BPF object),
 *   32- or 64-bit, either byte order; its `.BTF.ext` comes along when present;
 * - xz or gzip around any of these, and BTFHub's `<release>.btf.tar.xz` (a tar with
 *   one `.btf` file).
 *
 * Module BTF is split BTF: pass the vmlinux it was built against as `base`.
 */
import {readFileSync} from 'node:fs'
import {DEFAULT_MAX_OUTPUT, GZIP_MAGIC, XZ_MAGIC, gzipDecompress, startsWith, xzDecompress} from '../archive/compress.js'
import {looksLikeTar, readTar} from '../archive/tar.js'
import {ElfFile, isElf} from '../elf/elf.js'
import {InputError, KcompatError} from '../errors.js'
import type {Btf} from './btf.js'
import {looksLikeBtf, parseBtf} from './decode.js'

export type BtfContainer = 'raw' | 'elf' | 'tar'

export interface BtfBytes {
  /** The raw `.BTF` bytes. */
  btf: Uint8Array
  /** The raw `.BTF.ext` bytes, for ELF objects that have them. */
  ext?: Uint8Array
  /** What held the BTF, outermost compression aside. */
  container: BtfContainer
  /** Compression layers peeled off, outermost first. */
  compression: ('xz' | 'gzip')[]
  /** The ELF file, when the BTF came from one. */
  elf?: ElfFile
}

export interface LoadedBtf extends BtfBytes {
  parsed: Btf
  source: string
}

/**
 * Finds the BTF inside `bytes`.
 * @throws InputError `INPUT_UNKNOWN_FORMAT` when the content is none of the supported
 *   formats, `INPUT_NO_BTF` for an ELF file or tar without BTF, plus decompression errors.
 */
export async function extractBtf(bytes: Uint8Array, source = '<input>', depth = 0): Promise<BtfBytes> {
  if (depth > 3) throw new InputError('INPUT_UNKNOWN_FORMAT', `${source}: too many nested containers`)
  if (looksLikeBtf(bytes)) return {btf: bytes, container: 'raw', compression: []}
  if (isElf(bytes)) {
    const elf = ElfFile.parse(bytes)
    const sec = elf.section('.BTF')
    if (!sec) throw new InputError('INPUT_NO_BTF', `${source}: ELF file has no .BTF section`)
    const extSec = elf.section('.BTF.ext')
    return {
      btf: elf.sectionData(sec),
      ext: extSec ? elf.sectionData(extSec) : undefined,
      container: 'elf',
      compression: [],
      elf,
    }
  }
  if (startsWith(bytes, XZ_MAGIC)) {
    const inner = await extractBtf(xzDecompress(bytes, DEFAULT_MAX_OUTPUT), source, depth + 1)
    return {...inner, compression: ['xz', ...inner.compression]}
  }
  if (startsWith(bytes, GZIP_MAGIC)) {
    const inner = await extractBtf(gzipDecompress(bytes, DEFAULT_MAX_OUTPUT), source, depth + 1)
    return {...inner, compression: ['gzip', ...inner.compression]}
  }
  if (looksLikeTar(bytes)) {
    const files = (await readTar(bytes)).filter((e) => e.type === 'file')
    const btfFiles = files.filter((e) => e.name.endsWith('.btf'))
    const pick = btfFiles.length === 1 ? btfFiles[0] : files.length === 1 ? files[0] : undefined
    if (!pick) {
      throw new InputError(
        'INPUT_NO_BTF',
        `${source}: expected a tar with one .btf file (BTFHub layout), found ${files.length} files${btfFiles.length > 1 ? ` (${btfFiles.length} .btf)` : ''}`,
      )
    }
    const inner = await extractBtf(pick.data, `${source}:${pick.name}`, depth + 1)
    return {...inner, container: 'tar'}
  }
  throw new InputError(
    'INPUT_UNKNOWN_FORMAT',
    `${source}: not raw BTF, an ELF file, or a (xz/gzip-compressed) tar of BTF`,
  )
}

/**
 * Reads a file, turning a missing or unreadable file into an InputError. Synchronously:
 * the commands read one input at a time, and node:fs/promises (with the readline module
 * it loads) costs a query command's start-up ~3 ms more than the read.
 */
export async function readInput(path: string): Promise<Buffer> {
  try {
    return readFileSync(path)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new InputError('INPUT_NOT_FOUND', `${path}: no such file`)
    if (code === 'EISDIR') throw new InputError('INPUT_IS_DIRECTORY', `${path}: is a directory`)
    throw new InputError('INPUT_UNREADABLE', `${path}: ${(e as Error).message}`, {cause: e})
  }
}

/**
 * Loads and parses BTF from a file path (or bytes), optionally as split BTF on `base`.
 * Errors from the BTF parser keep their code and gain the source name.
 */
export async function loadBtf(input: string | Uint8Array, options: {base?: Btf; name?: string; lazy?: boolean} = {}): Promise<LoadedBtf> {
  const source = typeof input === 'string' ? input : (options.name ?? '<input>')
  const bytes = typeof input === 'string' ? await readInput(input) : input
  const found = await extractBtf(bytes, source)
  try {
    return {...found, parsed: parseBtf(found.btf, {base: options.base, lazy: options.lazy}), source}
  } catch (e) {
    if (e instanceof KcompatError) {
      const Ctor = e.constructor as new (code: string, message: string, o: {offset?: number; cause?: unknown}) => KcompatError
      // keep the code and the offset (within the BTF data) and name the file
      throw new Ctor(e.code, `${source}: ${e.message.replace(/ \(at byte offset \d+\)$/, '')}`, {offset: e.offset, cause: e})
    }
    throw e
  }
}
