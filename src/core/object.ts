/**
 * A BPF object file as the CO-RE engine sees it: its ELF, its own (local) BTF, its
 * `.BTF.ext`, its programs and its CO-RE relocation records placed in those programs.
 */
import type {Btf} from '../btf/btf.js'
import {parseBtf} from '../btf/decode.js'
import {readInput} from '../btf/load.js'
import {type BpfProgram, type BtfExt, type PlacedCoreRelo, bpfPrograms, parseBtfExt, placeCoreRelos} from '../elf/btf-ext.js'
import {ElfFile, isElf} from '../elf/elf.js'
import {InputError, KcompatError} from '../errors.js'
import {setPointerSize} from './btf-util.js'

export interface BpfObject {
  /** File name (or the name given), for messages. */
  source: string
  elf: ElfFile
  /** The object's `.BTF`. */
  btf: Btf
  /** The object's `.BTF.ext`, if it has one. */
  ext: BtfExt | undefined
  programs: BpfProgram[]
  /** Every CO-RE relocation record, in libbpf's processing order. */
  relos: PlacedCoreRelo[]
  littleEndian: boolean
}

/**
 * Parses a BPF object (ELF with `.BTF`, usually `.BTF.ext`), of either byte order.
 * @throws InputError `INPUT_UNKNOWN_FORMAT` (not ELF), `INPUT_NO_BTF` (no `.BTF`); ElfError,
 *   BtfError (including `BTF_EXT_*`) for corrupt content, with the source named.
 */
export function parseBpfObject(bytes: Uint8Array, source = '<object>'): BpfObject {
  if (!isElf(bytes)) throw new InputError('INPUT_UNKNOWN_FORMAT', `${source}: not an ELF file (a BPF object is needed)`)
  try {
    const elf = ElfFile.parse(bytes)
    const btfSec = elf.section('.BTF')
    if (!btfSec) throw new InputError('INPUT_NO_BTF', `${source}: ELF file has no .BTF section`)
    const btf = parseBtf(elf.sectionData(btfSec))
    // libbpf fixes the pointer size of BPF object BTF at 8 (btf__set_pointer_size).
    setPointerSize(btf, 8)
    const extSec = elf.section('.BTF.ext')
    const ext = extSec ? parseBtfExt(elf.sectionData(extSec)) : undefined
    const programs = bpfPrograms(elf)
    const relos = ext ? placeCoreRelos(elf, btf, ext, programs) : []
    return {source, elf, btf, ext, programs, relos, littleEndian: elf.littleEndian}
  } catch (e) {
    if (e instanceof KcompatError && !e.message.startsWith(`${source}:`)) {
      const Ctor = e.constructor as new (code: string, message: string, o: {offset?: number; cause?: unknown}) => KcompatError
      throw new Ctor(e.code, `${source}: ${e.message.replace(/ \(at byte offset \d+\)$/, '')}`, {offset: e.offset, cause: e})
    }
    throw e
  }
}

/** Reads and parses a BPF object file. */
export async function loadBpfObject(path: string): Promise<BpfObject> {
  return parseBpfObject(await readInput(path), path)
}
