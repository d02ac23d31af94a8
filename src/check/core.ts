/**
 * The CO-RE hook of `check` ({@link CheckOptions.core}): runs the CO-RE engine
 * (src/core, libbpf 1.1 semantics) on an object against the kernel's BTF and turns its
 * decisions into reasons (rule `core`) for each program.
 *
 * - The kernel BTF: the archived kernel's own BTF; for a kernel without in-kernel BTF
 *   whose archive entry holds generated BTF, that BTF (it serves as libbpf's
 *   `btf_custom_path`); a `--btf FILE`; this machine's `/sys/kernel/btf/vmlinux`.
 *   Without any, CO-RE is `unknown`.
 * - A program's relocations are its own and those of every subprogram it calls
 *   (libbpf appends called `.text` functions to the program before loading it).
 * - `patched`: fine. `failed`: libbpf refuses to load the object (`fail`).
 * - `poisoned`: libbpf replaces the instruction by a call to an invalid helper, which
 *   fails verification only if it is executed. Reachability is not decided statically:
 *   a poisoned relocation in a function that tests bpf_core_field_exists /
 *   type_exists / enum_value_exists / type_matches before it is taken as guarded
 *   (`possible`, naming the check); an unguarded one is `fail`, naming what the kernel
 *   lacks (`struct task_struct.state: no such member on this kernel (task_struct has
 *   __state)`).
 */
import {type Btf, essentialName} from '../btf/btf.js'
import type {BtfType, Member, TypeId} from '../btf/types.js'
import {parseBtf} from '../btf/decode.js'
import {Kind} from '../btf/wire.js'
import {setPointerSize} from '../core/btf-util.js'
import type {BpfObject} from '../core/object.js'
import {type CoreRelocation, needsModuleCandidates, relocateObject} from '../core/relocate.js'
import {isEnumValBased, isFieldBased} from '../core/relo.js'
import {type CoreSpec, parseSpec} from '../core/spec.js'
import {bpfPrograms as extPrograms, parseBtfExt, placeCoreRelos} from '../elf/btf-ext.js'
import type {ElfFile} from '../elf/elf.js'
import type {ModuleSet} from '../btf/module-set.js'
import type {CoreCheck} from './check.js'
import type {KernelProfile} from './kernel.js'
import type {Evidence, Reason} from './types.js'

const SOURCE = 'kcompat CO-RE engine (libbpf 1.1 bpf_core_calc_relo_insn semantics)'
const GUARD_KINDS = new Set(['field_exists', 'type_exists', 'enumval_exists', 'type_matches'])

interface ObjectFacts {
  obj: BpfObject | undefined
  /** function name -> names of the functions it calls (directly). */
  calls: Map<string, Set<string>>
  /** Per kernel BTF: the engine's decisions. */
  relos: WeakMap<Btf, CoreRelocation[]>
}

const objects = new WeakMap<ElfFile, ObjectFacts>()

function objectFacts(elf: ElfFile, path: string): ObjectFacts {
  let f = objects.get(elf)
  if (f) return f
  let obj: BpfObject | undefined
  const btfSec = elf.section('.BTF')
  const extSec = elf.section('.BTF.ext')
  if (btfSec && extSec) {
    const btf = parseBtf(elf.sectionData(btfSec))
    setPointerSize(btf, 8)
    const ext = parseBtfExt(elf.sectionData(extSec))
    const programs = extPrograms(elf)
    obj = {source: path, elf, btf, ext, programs, relos: placeCoreRelos(elf, btf, ext, programs), littleEndian: elf.littleEndian}
  }
  f = {obj, calls: obj ? callGraph(obj) : new Map(), relos: new WeakMap()}
  objects.set(elf, f)
  return f
}

/** Direct BPF-to-BPF calls (and bpf_loop-style function pointers) of every function. */
function callGraph(obj: BpfObject): Map<string, Set<string>> {
  const {elf, programs} = obj
  const out = new Map<string, Set<string>>()
  const symbols = elf.symbols()
  const relocCache = new Map<number, Map<number, number>>()
  const relocsOf = (secIndex: number): Map<number, number> => {
    let m = relocCache.get(secIndex)
    if (m) return m
    m = new Map()
    const sec = elf.sections[secIndex]!
    for (const rs of elf.relocationSectionsFor(sec)) for (const r of elf.relocations(rs)) m.set(Number(r.offset), r.symbol)
    relocCache.set(secIndex, m)
    return m
  }
  const at = (sec: number, insn: number): string | undefined =>
    programs.find((p) => p.sectionIndex === sec && insn >= p.sectionInsnOffset && insn < p.sectionInsnOffset + p.insnCount)?.name
  for (const p of programs) {
    const callees = new Set<string>()
    out.set(p.name, callees)
    const data = elf.sectionData(elf.sections[p.sectionIndex]!)
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength)
    for (let i = p.sectionInsnOffset; i < p.sectionInsnOffset + p.insnCount; i++) {
      const code = data[i * 8]!
      const regs = data[i * 8 + 1]!
      const src = obj.littleEndian ? regs >> 4 : regs & 0xf
      const isCall = code === 0x85 && src === 1
      const isFunc = code === 0x18 && src === 4
      if (!isCall && !isFunc) continue
      const imm = dv.getInt32(i * 8 + 4, obj.littleEndian)
      const sym = relocsOf(p.sectionIndex).get(i * 8)
      const targets: Array<[number, number]> = []
      if (sym !== undefined && symbols[sym]) {
        const s = symbols[sym]!
        const base = Number(s.value) / 8
        targets.push([s.shndx, base + imm + 1])
        if (isFunc) targets.push([s.shndx, base + imm / 8], [s.shndx, base])
      } else targets.push([p.sectionIndex, i + imm + 1])
      for (const [sec, insn] of targets) {
        const name = at(sec, insn)
        if (name !== undefined) callees.add(name)
      }
    }
  }
  return out
}

/** The program and every function it calls, transitively. */
function reachable(calls: Map<string, Set<string>>, entry: string): Set<string> {
  const seen = new Set<string>([entry])
  const todo = [entry]
  while (todo.length > 0) {
    for (const c of calls.get(todo.pop()!) ?? []) {
      if (!seen.has(c)) {
        seen.add(c)
        todo.push(c)
      }
    }
  }
  return seen
}

interface KernelSide {
  btf: Btf | undefined
  /** The kernel's module BTF, searched when vmlinux has no candidate (never for a custom BTF, as libbpf). */
  modules?: ModuleSet
  /** How the BTF serves CO-RE, for messages. */
  label: string
  evidence: Evidence
  /** The BTF is not the kernel's own: it serves as btf_custom_path. */
  custom: boolean
}

function kernelSide(k: KernelProfile): KernelSide {
  const btf = k.fullBtf()
  const e = k.archive?.entry
  const where = e ? `${e.distro}/${e.version}/${e.arch}/${e.release}` : k.release.input
  switch (k.btfKind) {
    case 'in-kernel': {
      // parsed only when loaded (modulesMatter decided they can matter)
      const modules = k.moduleSet()
      const mods = modules && modules.size > 0 ? ` and its ${modules.size} modules' BTF (${k.modulesOrigin ?? ''})` : ''
      return {
        btf,
        modules,
        custom: false,
        label: `the kernel's own BTF${modules && modules.size > 0 ? ` (vmlinux, then its ${modules.size} modules where vmlinux has no candidate)` : ''}`,
        evidence: {kind: 'archive', text: `${where}: in-kernel BTF (${k.btfOrigin ?? ''})${mods}`},
      }
    }
    case 'generated':
      return {
        btf,
        custom: true,
        label: 'the archived BTF generated for this kernel, which serves as btf_custom_path (the kernel has no BTF of its own)',
        evidence: {kind: 'archive', text: `${where}: generated BTF (${k.btfOrigin ?? ''}), to ship as btf_custom_path`},
      }
    case 'file':
      return {btf, custom: true, label: `the BTF file ${k.btfOrigin ?? ''} (as btf_custom_path)`, evidence: {kind: 'btf', text: `--btf ${k.btfOrigin ?? ''}`}}
    case 'running': {
      const modules = k.moduleSet()
      return {btf, modules, custom: false, label: "this machine's BTF", evidence: {kind: 'machine', text: k.btfOrigin ?? '/sys/kernel/btf/vmlinux'}}
    }
    default:
      return {btf: undefined, custom: false, label: 'no BTF', evidence: {kind: e ? 'archive' : 'release', text: e ? `${where}: btf ${e.btf}` : `${where}: not in the archive, no --btf`}}
  }
}

function reason(status: Reason['status'], message: string, evidence: Evidence[], extra: Partial<Reason> = {}): Reason {
  return {rule: 'core', status, message, evidence, source: SOURCE, ...extra}
}

function reloEvidence(r: CoreRelocation): Evidence {
  return {kind: 'object', text: `${r.program ?? r.section} insn #${r.insn}: <${r.kind}> ${r.local} (relo #${r.index} of ${r.section}): ${r.status}${r.reason ? ` (${r.reason})` : ''}`}
}

/** Whether some CO-RE relocation of the object finds no candidate in `vmlinux` (libbpf would search module BTF). */
export function objectNeedsModules(elf: ElfFile, path: string, vmlinux: Btf): boolean {
  const obj = objectFacts(elf, path).obj
  return obj !== undefined && needsModuleCandidates(vmlinux, [obj])
}

/** The default CO-RE hook of `check`. */
export const coreCheck: CoreCheck = ({object, objectPath, program, kernel}) => {
  const facts = objectFacts(object, objectPath)
  const obj = facts.obj
  const funcs = reachable(facts.calls, program.name)
  const mine = (r: {program?: {name: string} | undefined}): boolean => r.program !== undefined && funcs.has(r.program.name)
  const placed = obj ? obj.relos.filter(mine) : []
  if (!obj || placed.length === 0) {
    return [reason('info', 'no CO-RE relocations in this program (or the subprograms it calls)', [{kind: 'object', text: `${objectPath}: ${program.name}`}])]
  }
  const side = kernelSide(kernel)
  if (!side.btf) {
    return [
      reason(
        'unknown',
        `${placed.length} CO-RE relocation${placed.length === 1 ? '' : 's'} cannot be checked: kcompat has no BTF for this kernel, and libbpf needs one (the kernel's own, or a custom BTF given as btf_custom_path) to relocate them`,
        [side.evidence],
        {check: 'ls /sys/kernel/btf/vmlinux, or ship a custom BTF for this kernel (kcompat btfgen)'},
      ),
    ]
  }
  let relos = facts.relos.get(side.btf)
  if (!relos) {
    relos = relocateObject(obj, side.modules && side.modules.size > 0 ? {vmlinux: side.btf, modules: [...side.modules.modules]} : {vmlinux: side.btf})
    facts.relos.set(side.btf, relos)
  }
  const all = relos.filter((r) => r.program !== undefined && funcs.has(r.program))
  const out: Reason[] = []
  const counted = all.filter((r) => r.status !== 'skipped')
  const patched = counted.filter((r) => r.status === 'patched').length
  for (const r of all) {
    const mods = (r.candidateSources ?? []).filter((x) => x !== 'vmlinux')
    if (r.status === 'failed' && r.code === 'CORE_AMBIGUOUS' && mods.length > 1) {
      // libbpf sees the BTF of loaded modules only: the candidates disagree only where
      // several of these modules are loaded together
      out.push(
        reason(
          'possible',
          `${r.local}: candidates in modules ${mods.join(', ')} disagree (${r.reason ?? 'ambiguous'}); libbpf takes candidates only from loaded modules, so it refuses the object only where more than one of them is loaded`,
          [reloEvidence(r), side.evidence],
          {check: `lsmod | grep -wE '${mods.join('|')}'  (at most one of them loaded)`},
        ),
      )
    } else if (r.status === 'failed') {
      out.push(reason('fail', `${r.local}: libbpf cannot relocate <${r.kind}> on this kernel and refuses to load the object: ${r.reason ?? r.code ?? 'failed'}`, [reloEvidence(r), side.evidence]))
    } else if (r.status === 'poisoned') {
      const why = whyPoisoned(obj, r, side.btf, side.modules?.modules.map((m) => m.btf))
      const guards = all.filter((g) => g.program === r.program && GUARD_KINDS.has(g.kind) && g.insn < r.insn && g.status === 'patched')
      if (guards.length === 0) {
        out.push(reason('fail', `${why}; the access is not behind a bpf_core_*_exists() check, so libbpf's poisoned instruction is reached and the verifier rejects the program`, [reloEvidence(r), side.evidence]))
      } else {
        const g = bestGuard(guards, r)
        const more = guards.length > 1 ? ` (and ${guards.length - 1} other check${guards.length > 2 ? 's' : ''})` : ''
        out.push(
          reason(
            'possible',
            `${why}; libbpf poisons the instruction, which fails verification only if executed: ${r.program} tests ${guardText(g)} = ${String(g.value)} on this kernel before it${more}, so the access is taken to be guarded`,
            [reloEvidence(r), reloEvidence(g), side.evidence],
            {check: `that ${r.local} is only reached when ${guardText(g)} allows it (the guard must cover the access)`},
          ),
        )
      }
    }
  }
  if (out.length === 0) {
    const skipped = all.length - counted.length
    out.push(
      reason(
        'pass',
        `${counted.length} CO-RE relocation${counted.length === 1 ? '' : 's'} resolve${counted.length === 1 ? 's' : ''} against ${side.label}${skipped ? ` (${skipped} skipped: not autoloaded)` : ''}`,
        [side.evidence],
      ),
    )
  } else if (patched > 0) {
    out.push(reason('info', `${patched} other CO-RE relocation${patched === 1 ? '' : 's'} resolve against ${side.label}`, [side.evidence]))
  }
  if (side.custom && !out.some((r) => r.status === 'info')) {
    out.push(reason('info', `CO-RE is checked against ${side.label}`, [side.evidence]))
  }
  return out
}

function guardText(g: CoreRelocation): string {
  const fn =
    g.kind === 'field_exists' ? 'bpf_core_field_exists' : g.kind === 'type_exists' ? 'bpf_core_type_exists' : g.kind === 'enumval_exists' ? 'bpf_core_enum_value_exists' : 'bpf_core_type_matches'
  return `${fn}(${g.local})`
}

function rootName(local: string): string {
  const m = /^(?:struct|union|enum|typedef|enum64|int|fwd)?\s*([A-Za-z0-9_]+)/.exec(local)
  return essentialName(m?.[1] ?? local)
}

/** The check closest to the access: same essential type first, then the nearest before it. */
function bestGuard(guards: CoreRelocation[], r: CoreRelocation): CoreRelocation {
  const root = rootName(r.local)
  const exact = guards.filter((g) => g.local === r.local)
  const same = guards.filter((g) => rootName(g.local) === root)
  const pool = exact.length > 0 ? exact : same.length > 0 ? same : guards
  return pool.reduce((a, b) => (b.insn > a.insn ? b : a))
}

// ------------------------------------------------------------------------------------
// Why a relocation found nothing on this kernel, in the kernel's terms.

function kindWord(t: BtfType): string {
  switch (t.kind) {
    case Kind.STRUCT:
      return 'struct'
    case Kind.UNION:
      return 'union'
    case Kind.ENUM:
    case Kind.ENUM64:
      return 'enum'
    case Kind.TYPEDEF:
      return 'typedef'
    default:
      return 'type'
  }
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99
  const d = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!
    d[0] = i
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = t
    }
  }
  return d[b.length]!
}

function near(name: string, names: Iterable<string>): string[] {
  const strip = (s: string): string => s.replace(/^_+|_+$/g, '')
  const list = [...new Set(names)].filter((n) => n !== '' && n !== name)
  const same = list.filter((n) => strip(n) === strip(name))
  if (same.length > 0) return same
  const typo = list.filter((n) => editDistance(n, name) <= Math.min(2, name.length >> 2))
  if (typo.length > 0) return typo.slice(0, 4)
  return list.filter((n) => name.length >= 4 && n.length >= 4 && (n.includes(name) || name.includes(n))).slice(0, 4)
}

/** Named members of a struct/union, anonymous members flattened (C's view). */
function memberNames(btf: Btf, id: TypeId, out: string[] = []): string[] {
  const t = btf.typeById(btf.skipTypedefsAndModifiers(id))
  if (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) return out
  for (const m of t.members) {
    if (m.name === '') memberNames(btf, m.type, out)
    else out.push(m.name)
  }
  return out
}

function findMember(btf: Btf, id: TypeId, name: string): Member | undefined {
  const t = btf.typeById(btf.skipTypedefsAndModifiers(id))
  if (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) return undefined
  for (const m of t.members) {
    if (m.name === name) return m
    if (m.name === '') {
      const inner = findMember(btf, m.type, name)
      if (inner) return inner
    }
  }
  return undefined
}

/** `struct task_struct.state: no such member on this kernel (task_struct has __state)`. */
export function whyPoisoned(obj: BpfObject, r: CoreRelocation, vmlinux: Btf, modules: readonly Btf[] = []): string {
  let spec: CoreSpec
  try {
    spec = parseSpec(obj.btf, r.localTypeId, r.accessString, kindNumber(r.kind))
  } catch {
    return `${r.local}: ${r.reason ?? 'poisoned'}`
  }
  const root = obj.btf.typeById(r.localTypeId)
  const ess = essentialName(root.name)
  const word = kindWord(root)
  // As libbpf: vmlinux first; a module's own types only where vmlinux has none.
  const candsIn = (btf: Btf): TypeId[] =>
    btf.idsByName(ess).filter((id) => {
      const t = btf.typeById(id)
      return word === 'type' || kindWord(t) === word || (word === 'typedef' && t.kind !== Kind.FUNC)
    })
  let kernel = vmlinux
  let cands = candsIn(vmlinux)
  for (const m of modules) {
    if (cands.length > 0) break
    kernel = m
    cands = candsIn(m)
  }
  if (cands.length === 0) return `${word} ${ess}: no such type on this kernel${modules.length > 0 ? ' (nor in its modules)' : ''}`
  if (r.target) return `${r.local}: ${r.reason ?? 'the field cannot be relocated'} (kernel: ${r.target.spec})`
  if (isEnumValBased(spec.kind)) {
    const v = spec.accessors[0]?.name
    if (v === undefined) return `${r.local}: no matching enum on this kernel`
    const ev = essentialName(v)
    const names = cands.flatMap((id) => {
      const t = kernel.typeById(id)
      return t.kind === Kind.ENUM || t.kind === Kind.ENUM64 ? t.values.map((x) => x.name) : []
    })
    const nn = near(ev, names)
    return `enum ${ess}::${ev}: no such enumerator on this kernel${nn.length ? ` (enum ${ess} has ${nn.join(', ')})` : ''}`
  }
  if (!isFieldBased(spec.kind)) return `${r.local}: ${r.reason ?? 'no matching type on this kernel'}`
  // Walk the access in the kernel's first candidate of the right kind.
  let cur: TypeId = cands[0]!
  let path = `${word} ${ess}`
  let holder = ess
  for (const acc of spec.accessors.slice(1)) {
    const t = kernel.typeById(kernel.skipTypedefsAndModifiers(cur))
    if (acc.name === undefined) {
      if (t.kind !== Kind.ARRAY) return `${path}[${acc.idx}]: not an array on this kernel (${kindWord(t)} ${t.name || '<anon>'})`
      path += `[${acc.idx}]`
      cur = t.type
      continue
    }
    if (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) {
      return `${path}.${acc.name}: ${path} is ${t.kind === Kind.ARRAY ? 'an array' : `${kindWord(t)} ${t.name || '<anon>'}`} on this kernel, not a struct or union`
    }
    const m = findMember(kernel, cur, acc.name)
    if (!m) {
      const nn = near(acc.name, memberNames(kernel, cur))
      return `${path}.${acc.name}: no such member on this kernel${nn.length ? ` (${holder} has ${nn.join(', ')})` : ''}`
    }
    path += `.${acc.name}`
    cur = m.type
    const next = kernel.typeById(kernel.skipTypedefsAndModifiers(cur))
    holder = next.name || `${holder}.${acc.name}`
  }
  return `${path}: present on this kernel, but its type is not compatible with the program's (${r.local})`
}

function kindNumber(name: string): number {
  const names = ['byte_off', 'byte_sz', 'field_exists', 'signed', 'lshift_u64', 'rshift_u64', 'local_type_id', 'target_type_id', 'type_exists', 'type_size', 'enumval_exists', 'enumval_value', 'type_matches']
  return names.indexOf(name)
}
