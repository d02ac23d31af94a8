/**
 * The programs of a compiled BPF object, as libbpf finds them: every STT_FUNC symbol
 * defined in an executable section other than `.text` (which holds subprograms) is a
 * program, named by the symbol, of the section it lives in.
 */
import {EM_BPF, SHF_EXECINSTR, STT_FUNC} from '../elf/constants.js'
import {ElfFile} from '../elf/elf.js'
import {InputError} from '../errors.js'
import {readInput} from '../btf/load.js'

export interface BpfProgram {
  /** libbpf's program name: the function symbol. */
  name: string
  /** The ELF section, i.e. the SEC() name. */
  section: string
}

export interface BpfObjectInfo {
  path: string
  elf: ElfFile
  programs: BpfProgram[]
  /** The object has `.BTF.ext` (func/line info and CO-RE relocations). */
  hasBtfExt: boolean
}

/** Programs of a parsed BPF object, in section order. */
export function bpfPrograms(elf: ElfFile): BpfProgram[] {
  const symbols = elf.symbols()
  const out: BpfProgram[] = []
  for (const sec of elf.sections) {
    if ((sec.flags & SHF_EXECINSTR) === 0n || sec.size === 0 || sec.name === '.text') continue
    const funcs = symbols.filter((s) => s.shndx === sec.index && s.type === STT_FUNC && s.name !== '')
    if (funcs.length === 0) out.push({name: sec.name, section: sec.name})
    for (const f of funcs) out.push({name: f.name, section: sec.name})
  }
  return out
}

/**
 * Reads a BPF object file.
 * @throws InputError `INPUT_NOT_FOUND`, `INPUT_NOT_BPF_OBJECT` (not an ELF file for
 *   EM_BPF), ElfError for a malformed ELF file.
 */
export async function readBpfObject(path: string): Promise<BpfObjectInfo> {
  const bytes = await readInput(path)
  const elf = ElfFile.parse(bytes)
  if (elf.machine !== EM_BPF) throw new InputError('INPUT_NOT_BPF_OBJECT', `${path}: not a BPF object (ELF machine ${elf.machine}, expected ${EM_BPF})`)
  return {path, elf, programs: bpfPrograms(elf), hasBtfExt: elf.section('.BTF.ext') !== undefined}
}
