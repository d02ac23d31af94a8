/**
 * What a BPF object's programs need from the kernel, read from their instructions.
 *
 * A program is linked as libbpf links it (bpf_object__reloc_code): its own instructions,
 * then every subprogram it reaches through BPF-to-BPF calls (`call` with src_reg
 * BPF_PSEUDO_CALL) or takes the address of (an `ld_imm64` relocated against a `.text`
 * symbol: a callback for bpf_loop, bpf_for_each_map_elem, timers), each once. Where a
 * call is relocated (R_BPF_64_32 against a symbol), the target instruction in the
 * symbol's section is `sym.value / 8 + imm + 1`; a subprogram-address load gives
 * `(sym.value + imm) / 8`; an unrelocated call targets `call index + imm + 1` in the
 * caller's own section. A call relocated against an undefined (extern) symbol is a
 * kfunc call (libbpf's RELO_EXTERN_CALL; it sets src_reg BPF_PSEUDO_KFUNC_CALL).
 *
 * Every instruction (8 bytes: `u8 code; u8 dst:4, src:4; s16 off; s32 imm`, in the
 * object's byte order) is classified by `code & 7` (LD, LDX, ST, STX, ALU, JMP, JMP32,
 * ALU64), its operation (`code & 0xf0`) and mode (`code & 0xe0` for loads and stores).
 * Collected per linked program:
 *
 * - helper calls: `call` with src_reg 0, imm = the `enum bpf_func_id` value;
 * - kfunc calls and BPF-to-BPF calls (above); tail calls are calls of bpf_tail_call;
 * - map references: `ld_imm64` relocated against a symbol of `.maps` (BTF-defined maps)
 *   or `maps` (legacy `struct bpf_map_def`), which libbpf turns into BPF_PSEUDO_MAP_FD;
 * - global data: `ld_imm64` relocated against `.data*`, `.rodata*`, `.bss*` (libbpf's
 *   internal maps, BPF_PSEUDO_MAP_VALUE) or an extern of `.kconfig`;
 * - back-edges: a jump whose target is at or before itself (a loop the verifier must
 *   bound; `gotol` counts too);
 * - instructions of newer ISA levels: JLT/JLE/JSLT/JSLE (v2), the JMP32 class (v3),
 *   atomic operations other than the classic add (`lock *(u64 *)(r + off) += r`), and
 *   the cpu v4 instructions: sign-extending loads (LDX mode MEMSX), sign-extending moves
 *   (MOV with off 8/16/32), unconditional byte swap (END in the ALU64 class), `gotol`
 *   (JA in the JMP32 class) and signed division and modulo (DIV/MOD with off 1);
 * - the size after linking (an `ld_imm64` counts two slots, as the kernel counts);
 * - whether `.BTF.ext` has func info and line info for the program's section.
 */
import {parseBtf} from '../btf/decode.js'
import type {Btf} from '../btf/btf.js'
import {Kind} from '../btf/wire.js'
import {SHN_UNDEF, STB_WEAK, STT_FUNC, STT_SECTION} from '../elf/constants.js'
import type {ElfFile, ElfSymbol} from '../elf/elf.js'
import {type BpfProgram, type BtfExt, bpfPrograms, btfExtSectionName, parseBtfExt, placeCoreRelos} from '../elf/btf-ext.js'
import {helperName} from './enums.js'
import {type MapDef, readMapDefs} from './maps.js'

/** ISA features beyond the original eBPF instruction set. */
export type IsaFeature = 'jmp-v2' | 'jmp32' | 'atomics' | 'ldsx' | 'movsx' | 'bswap' | 'gotol' | 'sdiv-smod'

export const ISA_FEATURES: readonly IsaFeature[] = ['jmp-v2', 'jmp32', 'atomics', 'ldsx', 'movsx', 'bswap', 'gotol', 'sdiv-smod']

export interface HelperUse {
  id: number
  /** `probe_read_kernel` (without `bpf_`), or `#<id>` for an id kcompat does not know. */
  name: string
  /** How many call sites. */
  calls: number
}

export interface ProgramNeeds {
  /** libbpf's program name (the function symbol). */
  program: string
  /** The ELF section (SEC() name, without a leading `?`). */
  section: string
  /** Instructions after linking the subprograms (ld_imm64 counts 2). */
  insnCount: number
  helpers: HelperUse[]
  /** Extern functions called (kfuncs), by name. */
  kfuncs: string[]
  /** Those of `kfuncs` declared `__weak` (libbpf resolves a missing one to 0 instead of failing). */
  weakKfuncs: string[]
  /** Maps of `.maps`/`maps` the instructions reference, by name. */
  maps: string[]
  /** Global data sections referenced (`.rodata`, `.bss`, `.kconfig`, ...). */
  globalData: string[]
  /** Subprograms linked in, by name. */
  subprograms: string[]
  /** The program calls bpf_tail_call. */
  tailCalls: boolean
  /** Back-edges (loops), as `function+insn` of the jump. */
  backEdges: string[]
  /** ISA features used, with the first instruction using each (`function+insn`). */
  isa: Partial<Record<IsaFeature, string>>
  funcInfo: boolean
  lineInfo: boolean
  /**
   * The highest 8-byte context slot the program loads (`ctx[i]` of a BPF_PROG program:
   * argument i), with where; null when it loads none. Followed from r1 at entry through
   * register copies and constant additions, into subprograms called with the context
   * in r1, in instruction order (branches are not followed).
   */
  ctxSlot: {index: number; at: string} | null
  /**
   * The highest context slot loaded on the path every run takes: reached from the entry
   * through conditional jumps that all compare known constants (never a value a CO-RE
   * relocation patches, never an unknown `.kconfig` value). The verifier walks that path,
   * so a slot the kernel refuses here is refused whatever the object's other checks say.
   */
  ctxSureSlot: {index: number; at: string} | null
  /** Every context load the same walk finds: byte offset, size in bytes, where (first of each offset and size). */
  ctxLoads: CtxLoad[]
  /**
   * Loads and stores through a context pointer that arithmetic moved (`r1 += 8`,
   * `r1 += r2`): the verifier refuses every one, whatever the offset, before it asks
   * what the context holds there. Found by the same walk; not counted in ctxSlot or ctxLoads.
   */
  ctxMoved: CtxMovedAccess[]
  /**
   * The checks this program's own code (its function and linked subprograms) makes to
   * choose a path per kernel: CO-RE existence relocations, `.kconfig` loads. A call or map
   * use behind one may be dead code on a given kernel.
   */
  guards: string[]
}

export interface ObjectNeeds {
  programs: ProgramNeeds[]
  /** Every map the object defines (libbpf creates them all unless told otherwise). */
  maps: MapDef[]
  /** Data sections libbpf makes internal maps of. */
  dataSections: string[]
  /**
   * The object carries checks that let one binary pick its path per kernel: CO-RE
   * existence relocations (field/type/enum value exists, type matches) or `.kconfig`
   * externs. A call or map behind such a check may be dead code on a given kernel.
   */
  guards: string[]
  /** The `.kconfig` externs the object reads (`LINUX_KERNEL_VERSION`, `CONFIG_...`). */
  kconfigExterns: string[]
  /** {@link ProgramNeeds.ctxSlot} on the paths a kernel with these `.kconfig` values takes. */
  ctxSlotOn(program: ProgramNeeds, values: ReadonlyMap<string, bigint>): {index: number; at: string} | null
  /** {@link ProgramNeeds.ctxSureSlot} on the path a kernel with these `.kconfig` values takes. */
  ctxSureSlotOn(program: ProgramNeeds, values: ReadonlyMap<string, bigint>): {index: number; at: string} | null
  /** {@link ProgramNeeds.ctxLoads} on the paths a kernel with these `.kconfig` values takes. */
  ctxLoadsOn(program: ProgramNeeds, values: ReadonlyMap<string, bigint>): CtxLoad[]
  /** {@link ProgramNeeds.ctxMoved} on the paths a kernel with these `.kconfig` values takes. */
  ctxMovedOn(program: ProgramNeeds, values: ReadonlyMap<string, bigint>): CtxMovedAccess[]
}

/** A load or store through a moved context pointer (see {@link ProgramNeeds.ctxMoved}). */
export interface CtxMovedAccess {
  /** How far the pointer was moved, in bytes; null when kcompat does not know the amount (a register it does not follow, a constant a CO-RE relocation patches). */
  moved: number | null
  /** The register the access goes through. */
  reg: number
  access: 'load' | 'store'
  at: string
  /** On the path every run takes (as for ctxSureSlot). */
  sure: boolean
}

/** A load from the program's context (a BPF_PROG program's argument slots). */
export interface CtxLoad {
  /** Byte offset into the context (slot = off / 8). */
  off: number
  size: number
  at: string
}

const BPF_JMP = 0x05
const BPF_JMP32 = 0x06
const BPF_LDX = 0x01
const BPF_ST = 0x02
const BPF_STX = 0x03
const BPF_ALU = 0x04
const BPF_ALU64 = 0x07
const LD_IMM64 = 0x18
const BPF_CALL = 0x80
const BPF_EXIT = 0x90
const BPF_JA = 0x00
const BPF_MEMSX = 0x80
const BPF_ATOMIC = 0xc0
const BPF_MOV = 0xb0
const BPF_DIV = 0x30
const BPF_MOD = 0x90
const BPF_END = 0xd0
const PSEUDO_CALL = 1
const TAIL_CALL_ID = 12
/** CO-RE relocation kinds that test for existence (bpf_core_relo_kind). */
const EXISTENCE_KINDS = new Map([
  [2, 'field_exists'],
  [8, 'type_exists'],
  [10, 'enumval_exists'],
  [12, 'type_matches'],
])

/** Is `name` a section libbpf makes a global-data (internal) map of? */
export function isDataSection(name: string): boolean {
  return /^\.(data|rodata|bss)(\.|$)/.test(name)
}

export interface Func {
  name: string
  sectionIndex: number
  sectionName: string
  /** First instruction within the section, count. */
  start: number
  count: number
}

export interface Reloc {
  sym: ElfSymbol
}

/**
 * Reads what every program of a BPF object needs.
 * @throws what ElfFile, parseBtf and parseBtfExt throw for a malformed object.
 */
export function readObjectNeeds(elf: ElfFile, programs: BpfProgram[] = bpfPrograms(elf)): ObjectNeeds {
  const symbols = elf.symbols()
  const btfSec = elf.section('.BTF')
  const btf: Btf | undefined = btfSec ? parseBtf(elf.sectionData(btfSec)) : undefined
  const extSec = elf.section('.BTF.ext')
  const ext: BtfExt | undefined = extSec && btf ? parseBtfExt(elf.sectionData(extSec)) : undefined

  const funcs: Func[] = programs.map((p) => ({name: p.name, sectionIndex: p.sectionIndex, sectionName: p.sectionName, start: p.sectionInsnOffset, count: p.insnCount}))
  const funcAt = (secIdx: number, insn: number): Func | undefined => funcs.find((f) => f.sectionIndex === secIdx && insn >= f.start && insn < f.start + f.count)

  // relocations by (section index, instruction index)
  const relocs = new Map<number, Map<number, Reloc>>()
  for (const sec of elf.sections) {
    if (!funcs.some((f) => f.sectionIndex === sec.index)) continue
    const m = new Map<number, Reloc>()
    for (const rs of elf.relocationSectionsFor(sec)) {
      for (const r of elf.relocations(rs)) {
        const sym = symbols[r.symbol]
        if (sym) m.set(Number(r.offset) / 8, {sym})
      }
    }
    relocs.set(sec.index, m)
  }
  const sectionName = (idx: number): string => elf.sections[idx]?.name ?? ''
  const dataSections = elf.sections.filter((s) => isDataSection(s.name) && s.size > 0).map((s) => s.name)

  // externs by the DATASEC that declares them (.kconfig / .ksyms)
  const kconfigExterns = new Set<string>()
  if (btf) {
    for (let id = 1; id <= btf.lastId; id++) {
      const t = btf.typeById(id)
      if (t.kind !== Kind.DATASEC || t.name !== '.kconfig') continue
      for (const v of t.vars) kconfigExterns.add(btf.nameOf(v.type))
    }
  }

  const guards: string[] = []
  /** Instructions a CO-RE relocation patches, by section index: their immediates are not the kernel's values. */
  const coreInsns = new Map<number, Set<number>>()
  /** Per function, the checks it makes (CO-RE existence relocations, .kconfig loads). */
  const funcGuards = new Map<Func, Set<string>>()
  const addGuard = (f: Func | undefined, what: string): void => {
    if (!f) return
    let g = funcGuards.get(f)
    if (!g) funcGuards.set(f, (g = new Set()))
    g.add(what)
  }
  if (btf && ext) {
    const seen = new Set<string>()
    for (const r of placeCoreRelos(elf, btf, ext, programs)) {
      let ci = coreInsns.get(r.sectionIndex)
      if (!ci) coreInsns.set(r.sectionIndex, (ci = new Set()))
      ci.add(r.sectionInsn)
      const k = EXISTENCE_KINDS.get(r.relo.kind)
      if (!k) continue
      if (!seen.has(k)) {
        seen.add(k)
        guards.push(`CO-RE ${k} relocation`)
      }
      if (r.program) addGuard(funcAt(r.sectionIndex, r.sectionInsn), `CO-RE ${k} relocation`)
    }
  }
  if (kconfigExterns.size > 0) guards.push(`.kconfig externs (${[...kconfigExterns].slice(0, 3).join(', ')}${kconfigExterns.size > 3 ? ', ...' : ''})`)

  const infoSections = (groups: {sections: Array<{secNameOff: number; records: unknown[]}>} | undefined): Set<string> =>
    new Set(btf && groups ? groups.sections.filter((g) => g.records.length > 0).map((g) => btfExtSectionName(btf, g.secNameOff)) : [])
  const funcInfoSecs = infoSections(ext?.funcInfo)
  const lineInfoSecs = infoSections(ext?.lineInfo)

  const out: ProgramNeeds[] = []
  const ctxScans = new Map<ProgramNeeds, (values: ReadonlyMap<string, bigint>) => CtxScan>()
  for (const p of programs) {
    if (p.isSubprogram) continue
    const main = funcs.find((f) => f.sectionIndex === p.sectionIndex && f.start === p.sectionInsnOffset)!
    const needs: ProgramNeeds = {
      program: p.name,
      section: p.sectionName,
      insnCount: 0,
      helpers: [],
      kfuncs: [],
      weakKfuncs: [],
      maps: [],
      globalData: [],
      subprograms: [],
      tailCalls: false,
      backEdges: [],
      isa: {},
      ctxSlot: null,
      ctxSureSlot: null,
      ctxLoads: [],
      ctxMoved: [],
      guards: [],
      funcInfo: funcInfoSecs.has(sectionName(p.sectionIndex)),
      lineInfo: lineInfoSecs.has(sectionName(p.sectionIndex)),
    }
    const helpers = new Map<number, HelperUse>()
    const kfuncs = new Set<string>()
    const weak = new Set<string>()
    const maps = new Set<string>()
    const data = new Set<string>()
    const queue: Func[] = [main]
    const linked = new Set<Func>([main])
    const link = (f: Func | undefined): void => {
      if (!f || linked.has(f)) return
      linked.add(f)
      queue.push(f)
      needs.subprograms.push(f.name)
    }
    while (queue.length > 0) {
      const f = queue.shift()!
      const sec = elf.sections[f.sectionIndex]!
      const bytes = elf.sectionData(sec)
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const le = elf.littleEndian
      const rel = relocs.get(f.sectionIndex) ?? new Map<number, Reloc>()
      const mark = (feat: IsaFeature, i: number): void => {
        needs.isa[feat] ??= `${f.name}+${i - f.start}`
      }
      for (let i = f.start; i < f.start + f.count; i++) {
        const at = i * 8
        const code = dv.getUint8(at)
        const regs = dv.getUint8(at + 1)
        const src = le ? regs >> 4 : regs & 0x0f
        const off = dv.getInt16(at + 2, le)
        const imm = dv.getInt32(at + 4, le)
        const cls = code & 0x07
        const op = code & 0xf0
        needs.insnCount++
        if (code === LD_IMM64) {
          const r = rel.get(i)
          if (r) {
            const s = r.sym
            const secName = s.shndx === SHN_UNDEF ? '' : sectionName(s.shndx)
            if (s.shndx === SHN_UNDEF) {
              if (kconfigExterns.has(s.name)) {
                data.add('.kconfig')
                addGuard(f, `.kconfig ${s.name}`)
              }
            } else if (secName === '.maps' || secName === 'maps') {
              maps.add(s.name)
            } else if (isDataSection(secName)) {
              data.add(secName)
            } else {
              const target = (Number(s.value) + imm) / 8
              if (Number.isInteger(target)) link(funcAt(s.shndx, target))
            }
          }
          i++
          needs.insnCount++
          continue
        }
        if (cls === BPF_JMP || cls === BPF_JMP32) {
          if (cls === BPF_JMP && op === BPF_CALL) {
            const r = rel.get(i)
            if (r && r.sym.shndx === SHN_UNDEF) {
              kfuncs.add(r.sym.name)
              if (r.sym.bind === STB_WEAK) weak.add(r.sym.name)
            } else if (src === PSEUDO_CALL) {
              const target = r ? (r.sym.type === STT_SECTION || r.sym.type === STT_FUNC ? Number(r.sym.value) / 8 : 0) + imm + 1 : i + imm + 1
              link(funcAt(r ? r.sym.shndx : f.sectionIndex, target))
            } else if (src === 0) {
              const h = helpers.get(imm)
              if (h) h.calls++
              else helpers.set(imm, {id: imm, name: helperName(imm), calls: 1})
              if (imm === TAIL_CALL_ID) needs.tailCalls = true
            }
            continue
          }
          if (op === BPF_EXIT) continue
          if (cls === BPF_JMP32) mark(op === BPF_JA ? 'gotol' : 'jmp32', i)
          if (op === 0xa0 || op === 0xb0 || op === 0xc0 || op === 0xd0) mark('jmp-v2', i)
          const delta = cls === BPF_JMP32 && op === BPF_JA ? imm : off
          if (delta < 0) needs.backEdges.push(`${f.name}+${i - f.start}`)
          continue
        }
        if (cls === BPF_LDX && (code & 0xe0) === BPF_MEMSX) mark('ldsx', i)
        else if (cls === BPF_STX && (code & 0xe0) === BPF_ATOMIC && imm !== 0) mark('atomics', i)
        else if (cls === BPF_ALU || cls === BPF_ALU64) {
          if (op === BPF_MOV && off !== 0) mark('movsx', i)
          else if ((op === BPF_DIV || op === BPF_MOD) && off === 1) mark('sdiv-smod', i)
          else if (op === BPF_END && cls === BPF_ALU64) mark('bswap', i)
        }
      }
    }
    const all = scanCtx(elf, main, relocs, funcAt, kconfigExterns, undefined, coreInsns)
    needs.ctxSlot = all.best
    needs.ctxSureSlot = all.sure
    needs.ctxLoads = all.loads
    needs.ctxMoved = all.moved
    const memo = new Map<string, CtxScan>()
    ctxScans.set(needs, (values) => {
      const key = [...values].map(([n, v]) => `${n}=${v}`).join(',')
      if (!memo.has(key)) memo.set(key, scanCtx(elf, main, relocs, funcAt, kconfigExterns, values, coreInsns))
      return memo.get(key)!
    })
    needs.helpers = [...helpers.values()].sort((a, b) => a.id - b.id)
    needs.guards = [...new Set([...linked].flatMap((g) => [...(funcGuards.get(g) ?? [])]))].sort()
    needs.kfuncs = [...kfuncs].sort()
    needs.weakKfuncs = [...weak].sort()
    needs.maps = [...maps].sort()
    needs.globalData = [...data].sort()
    out.push(needs)
  }
  return {
    programs: out,
    maps: btf ? readMapDefs(elf, btf) : [],
    dataSections,
    guards,
    kconfigExterns: [...kconfigExterns].sort(),
    ctxSlotOn: (program, values) => ctxScans.get(program)?.(values).best ?? null,
    ctxSureSlotOn: (program, values) => ctxScans.get(program)?.(values).sure ?? null,
    ctxLoadsOn: (program, values) => ctxScans.get(program)?.(values).loads ?? [],
    ctxMovedOn: (program, values) => ctxScans.get(program)?.(values).moved ?? [],
  }
}

/**
 * What a register is known to hold during the context scan. `core`: the constant comes
 * from an instruction a CO-RE relocation patches (libbpf writes the kernel's value over
 * the object's), so a jump decided by it is followed as before but its path is not sure.
 */
type Val = {ctx: number; offUnknown?: boolean} | {kconfig: string} | {k: bigint; core?: boolean}

const U64 = (n: bigint): bigint => BigInt.asUintN(64, n)
const S64 = (n: bigint): bigint => BigInt.asIntN(64, n)

/** Does the conditional jump `op` hold for a and b (64-bit, or 32-bit for JMP32)? */
function jumpTaken(op: number, a: bigint, b: bigint, wide: boolean): boolean | undefined {
  const ua = wide ? U64(a) : BigInt.asUintN(32, a)
  const ub = wide ? U64(b) : BigInt.asUintN(32, b)
  const sa = wide ? S64(a) : BigInt.asIntN(32, a)
  const sb = wide ? S64(b) : BigInt.asIntN(32, b)
  switch (op) {
    case 0x10: return ua === ub
    case 0x20: return ua > ub
    case 0x30: return ua >= ub
    case 0x40: return (ua & ub) !== 0n
    case 0x50: return ua !== ub
    case 0x60: return sa > sb
    case 0x70: return sa >= sb
    case 0xa0: return ua < ub
    case 0xb0: return ua <= ub
    case 0xc0: return sa < sb
    case 0xd0: return sa <= sb
    default: return undefined
  }
}

/**
 * The highest context slot loaded (see ProgramNeeds.ctxSlot), on the paths a kernel
 * with `kconfig` values (`LINUX_KERNEL_VERSION`, ...) takes; without values, on every
 * path.
 *
 * A walk over the instructions from the program's entry, each instruction visited once
 * with the first register state that reaches it. A register holds the context at a byte
 * offset (r1 at entry: offset 0; `rD = rS` copies it; `rD += K`, `rD -= K`, and `rD += rS`
 * or `rD -= rS` with a constant rS move it; any other rS moves it by an amount kcompat
 * does not know), the address of a `.kconfig` extern (an ld_imm64 relocated against it),
 * a constant (`rD = K`, a load through a `.kconfig` address when its value is given, then
 * shifts), or nothing known. A conditional jump comparing a constant with an immediate
 * follows only the edge the comparison takes, as the verifier does (it never checks dead
 * branches). A load `*(T *)(rS + off)` through a context register at offset 0 reads slot
 * off / 8. A load or store through a context register at any other offset, or an unknown
 * one, is a moved access (ProgramNeeds.ctxMoved), not a slot read: the verifier keeps a
 * register's offset (reg->off, var_off) apart from the instruction's, and
 * check_mem_access refuses a context access unless the register's is 0
 * (check_ptr_off_reg). A BPF-to-BPF call made while r1 holds the context at offset 0
 * walks the callee the same way; a call forgets r0-r5.
 *
 * The walk also marks the path every run takes (`sure`): it starts at the entry and stays
 * sure while each conditional jump is decided by constants none of which a CO-RE
 * relocation patched; an undecided jump makes both of its continuations unsure. A load
 * met on a sure path (in the program or a subprogram called from it) is one the verifier
 * checks on every kernel with these `.kconfig` values. Each instruction is still visited
 * once, with the first state that reaches it; the sure path is walked first (it never
 * waits in the work list), so a merge point only ever loses sureness, never gains it.
 */
export function scanCtxSlot(
  elf: ElfFile,
  main: Func,
  relocs: Map<number, Map<number, Reloc>>,
  funcAt: (secIdx: number, insn: number) => Func | undefined,
  kconfigExterns: Set<string>,
  kconfig: ReadonlyMap<string, bigint> | undefined,
): {index: number; at: string} | null {
  return scanCtx(elf, main, relocs, funcAt, kconfigExterns, kconfig).best
}

interface CtxScan {
  best: {index: number; at: string} | null
  /** the highest slot loaded on the sure path */
  sure: {index: number; at: string} | null
  loads: CtxLoad[]
  moved: CtxMovedAccess[]
}

/** {@link scanCtxSlot}, and every context load (offset, size) on the same paths. */
function scanCtx(
  elf: ElfFile,
  main: Func,
  relocs: Map<number, Map<number, Reloc>>,
  funcAt: (secIdx: number, insn: number) => Func | undefined,
  kconfigExterns: Set<string>,
  kconfig: ReadonlyMap<string, bigint> | undefined,
  coreInsns: ReadonlyMap<number, ReadonlySet<number>> = new Map(),
): CtxScan {
  let best: {index: number; at: string} | null = null
  let sureBest: {index: number; at: string} | null = null
  const loads = new Map<string, CtxLoad>()
  const moved: CtxMovedAccess[] = []
  const walked = new Set<Func>()
  const walk = (f: Func, entrySure: boolean): void => {
    if (walked.has(f)) return
    walked.add(f)
    const core = coreInsns.get(f.sectionIndex) ?? new Set<number>()
    const bytes = elf.sectionData(elf.sections[f.sectionIndex]!)
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const le = elf.littleEndian
    const rel = relocs.get(f.sectionIndex) ?? new Map<number, Reloc>()
    const end = f.start + f.count
    const visited = new Set<number>()
    const work: Array<[number, Map<number, Val>, boolean]> = [[f.start, new Map<number, Val>([[1, {ctx: 0}]]), entrySure]]
    while (work.length > 0) {
      let [i, regs, sure] = work.pop()!
      while (i >= f.start && i < end && !visited.has(i)) {
        visited.add(i)
        const at = i * 8
        const code = dv.getUint8(at)
        const r = dv.getUint8(at + 1)
        const dst = le ? r & 0x0f : r >> 4
        const src = le ? r >> 4 : r & 0x0f
        const off = dv.getInt16(at + 2, le)
        const imm = dv.getInt32(at + 4, le)
        const cls = code & 0x07
        const op = code & 0xf0
        if (code === LD_IMM64) {
          const rl = rel.get(i)
          if (rl && rl.sym.shndx === SHN_UNDEF && kconfigExterns.has(rl.sym.name)) regs.set(dst, {kconfig: rl.sym.name})
          else regs.delete(dst)
          i += 2
          continue
        }
        if (cls === BPF_LDX) {
          const base = regs.get(src)
          if (base && 'ctx' in base && (base.ctx !== 0 || base.offUnknown)) {
            moved.push({moved: base.offUnknown ? null : base.ctx, reg: src, access: 'load', at: `${f.name}+${i - f.start}`, sure})
            regs.delete(dst)
          } else if (base && 'ctx' in base) {
            const index = Math.floor((base.ctx + off) / 8)
            const where = `${f.name}+${i - f.start}`
            if (!best || index > best.index) best = {index, at: where}
            if (sure && (!sureBest || index > sureBest.index)) sureBest = {index, at: where}
            const size = [4, 2, 1, 8][(code & 0x18) >> 3]!
            const key = `${base.ctx + off}:${size}`
            if (!loads.has(key)) loads.set(key, {off: base.ctx + off, size, at: where})
            regs.delete(dst)
          } else if (base && 'kconfig' in base && off === 0 && kconfig?.has(base.kconfig)) {
            const size = [4, 2, 1, 8][(code & 0x18) >> 3]!
            regs.set(dst, {k: BigInt.asUintN(size * 8, kconfig.get(base.kconfig)!)})
          } else regs.delete(dst)
          i++
          continue
        }
        if (cls === BPF_ALU64 || cls === BPF_ALU) {
          const fromReg = (code & 0x08) !== 0
          const d = regs.get(dst)
          const sv = regs.get(src)
          let out: Val | undefined
          if (op === BPF_MOV && off === 0) {
            if (fromReg) out = cls === BPF_ALU64 ? sv : sv && 'k' in sv ? {k: BigInt.asUintN(32, sv.k)} : undefined
            else out = {k: cls === BPF_ALU64 ? U64(BigInt(imm)) : BigInt(imm >>> 0)}
          } else if (cls === BPF_ALU64 && d && 'ctx' in d && (op === 0x00 || op === 0x10)) {
            // pointer arithmetic on the context: add or subtract a constant, or a register
            // holding one; an amount a CO-RE relocation patches is not the kernel's
            const delta = core.has(i) ? undefined : !fromReg ? imm : sv && 'k' in sv && !sv.core ? Number(S64(sv.k)) : undefined
            out = delta === undefined ? {ctx: d.ctx, offUnknown: true} : {ctx: d.ctx + (op === 0x00 ? delta : -delta), ...(d.offUnknown ? {offUnknown: true} : {})}
          } else if (cls === BPF_ALU64 && !fromReg && d) {
            const K = BigInt(imm)
            if ('k' in d) {
              if (op === 0x00) out = {k: U64(d.k + K)}
              else if (op === 0x60) out = {k: U64(d.k << (K & 63n))}
              else if (op === 0x70) out = {k: U64(d.k) >> (K & 63n)}
              else if (op === 0xc0) out = {k: U64(S64(d.k) >> (K & 63n))}
              else if (op === 0x50) out = {k: U64(d.k & U64(K))}
            }
          }
          if (out && 'k' in out && (core.has(i) || (d && 'k' in d && d.core) || (fromReg && sv && 'k' in sv && sv.core))) out = {k: out.k, core: true}
          if (out) regs.set(dst, out)
          else regs.delete(dst)
          i++
          continue
        }
        if (cls === BPF_JMP || cls === BPF_JMP32) {
          if (cls === BPF_JMP && op === BPF_EXIT) break
          if (cls === BPF_JMP && op === BPF_CALL) {
            if (src === PSEUDO_CALL) {
              const c = regs.get(1)
              if (c && 'ctx' in c && c.ctx === 0 && !c.offUnknown) {
                const rl = rel.get(i)
                const target = rl ? (rl.sym.type === STT_SECTION || rl.sym.type === STT_FUNC ? Number(rl.sym.value) / 8 : 0) + imm + 1 : i + imm + 1
                const callee = funcAt(rl ? rl.sym.shndx : f.sectionIndex, target)
                if (callee && callee !== main) walk(callee, sure)
              }
            }
            for (let reg = 0; reg <= 5; reg++) regs.delete(reg)
            i++
            continue
          }
          const delta = cls === BPF_JMP32 && op === BPF_JA ? imm : off
          if (op === BPF_JA) {
            i += delta + 1
            continue
          }
          const a = regs.get(dst)
          const b: Val | undefined = (code & 0x08) !== 0 ? regs.get(src) : {k: BigInt(imm)}
          const taken = a && b && 'k' in a && 'k' in b ? jumpTaken(op, a.k, b.k, cls === BPF_JMP) : undefined
          if (taken === undefined || (a && 'k' in a && a.core) || (b && 'k' in b && b.core)) sure = false
          if (taken === true) {
            i += delta + 1
            continue
          }
          if (taken === undefined) work.push([i + delta + 1, new Map(regs), false])
          i++
          continue
        }
        if (cls === BPF_STX || cls === BPF_ST) {
          const base = regs.get(dst)
          if (base && 'ctx' in base && (base.ctx !== 0 || base.offUnknown)) moved.push({moved: base.offUnknown ? null : base.ctx, reg: dst, access: 'store', at: `${f.name}+${i - f.start}`, sure})
          // an atomic operation with BPF_FETCH writes its source register (cmpxchg: r0)
          if (cls === BPF_STX && (code & 0xe0) === BPF_ATOMIC && (imm & 0x01) !== 0) regs.delete(imm === 0xf1 ? 0 : src)
        }
        // other stores and anything else leave the registers as they are
        i++
      }
    }
  }
  walk(main, true)
  return {best, sure: sureBest, loads: [...loads.values()].sort((a, b) => a.off - b.off || a.size - b.size), moved}
}
