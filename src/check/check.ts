/**
 * `check`: will these programs load on that kernel, and why not.
 *
 * {@link checkSection} runs the rules (rules.ts) for one section on one kernel profile
 * (kernel.ts), combines the reasons into a verdict and proposes what would work instead,
 * each proposal itself checked on the same kernel. {@link check} is the whole command
 * without its rendering: resolve the kernel, then check `--prog` sections and the
 * programs of `--object` files.
 *
 * CO-RE relocations of an object's programs are checked by a separate engine; it plugs
 * in through {@link CheckOptions.core} and adds its reasons (rule `core`) to each program.
 */
import type {ElfFile} from '../elf/elf.js'
import {btfLocation, resolveArchiveDir} from '../archive/archive.js'
import {type KernelProfile, type ResolveOptions, resolveKernel} from './kernel.js'
import {type BpfObjectInfo, type BpfProgram, readBpfObject} from './object.js'
import {coreCheck, objectNeedsModules} from './core.js'
import {btfTargetName, matchSection, parseTarget} from '../kernel/sections.js'
import {findTarget} from './targets.js'
import {needsReasons} from './needs.js'
import {type Evaluation, evaluateSection, kernelBtfState} from './rules.js'
import {CheckUsageError} from './errors.js'
import {type CheckResult, type KernelSummary, type ProgramResult, type Reason, type Suggestion, type Verdict, combineVerdicts} from './types.js'

/** CO-RE relocation check of one program of an object on one kernel (the CO-RE engine's hook). */
export type CoreCheck = (input: {object: ElfFile; objectPath: string; program: BpfProgram; kernel: KernelProfile}) => Reason[]

export interface CheckOptions {
  /** Propose alternatives (default true). */
  suggest?: boolean
  /** The CO-RE check (default: the CO-RE engine, core.ts); `false` leaves CO-RE unchecked. */
  core?: CoreCheck | false
}

function verdictOf(ev: Evaluation): Verdict {
  return combineVerdicts(ev.reasons.map((r) => r.status))
}

function quickVerdict(section: string, k: KernelProfile): Verdict {
  return verdictOf(evaluateSection(section, k))
}

const GLOB = /[*?]/

const TRAMPOLINE_RULES = ['prog-type', 'attach-type', 'kernel-btf', 'trampoline', 'config:bpf-jit', 'config:ftrace-direct-calls']

/** The rules whose failure the family's alternative avoids (others: any rule but the target). */
const AVOIDED_BY_ALTERNATIVE: Partial<Record<string, string[]>> = {
  fentry: TRAMPOLINE_RULES,
  fmod_ret: TRAMPOLINE_RULES,
  lsm: [...TRAMPOLINE_RULES, 'config:bpf-lsm', 'lsm-active'],
  lsm_cgroup: [...TRAMPOLINE_RULES, 'config:bpf-lsm', 'lsm-active', 'config:cgroup-bpf'],
  tp_btf: ['prog-type', 'attach-type', 'kernel-btf', 'sleepable'],
  kprobe_multi: ['attach-type', 'config:fprobe'],
  uprobe_multi: ['attach-type', 'sleepable'],
  tcx: ['attach-type'],
  netkit: ['attach-type'],
  xdp: ['attach-type', 'xdp-frags'],
  sk_reuseport: ['attach-type'],
}

function suggestionsFor(ev: Evaluation, verdict: Verdict, k: KernelProfile): Suggestion[] {
  if (verdict === 'supported') return []
  const out: Suggestion[] = []
  const seen = new Set<string>([ev.section])
  const alt = (section: string, text: string, kind: Suggestion['kind'] = 'section'): void => {
    if (seen.has(section)) return
    seen.add(section)
    const v = quickVerdict(section, k)
    if (v !== 'unsupported') out.push({kind, section, text, verdict: v})
  }
  const {def, target} = ev
  if (!def || !target) {
    if (ev.replacement) alt(ev.replacement, `the current libbpf name`)
    const base = ev.section.split('/')[0]!
    for (const near of ev.nearTargets) alt(ev.section.replace(base, near), `libbpf spells this section ${near}`)
    return out
  }
  const failing = ev.reasons.filter((r) => r.status === 'fail' || r.status === 'unknown')
  const avoidable = AVOIDED_BY_ALTERNATIVE[def.family]
  const kernelSide = failing.some((r) => r.rule !== 'target' && (avoidable === undefined || avoidable.includes(r.rule)))
  const name = target.name
  const fn = name !== '' && !GLOB.test(name) ? name : ''
  const sleepFail = ev.reasons.some((r) => r.rule === 'sleepable' && r.status !== 'pass')
  if (sleepFail && def.flags.includes('SLEEPABLE') && def.family !== 'syscall') {
    const plain = def.base.replace(/\.s$/, '')
    alt(`${plain}${ev.section.slice(def.base.length)}`, 'the non-sleepable variant')
  }
  if (kernelSide) {
    switch (def.family) {
      case 'fentry':
        if (fn) {
          if (def.base.startsWith('fexit')) alt(`kretprobe/${fn}`, 'a kretprobe sees the same return without BTF or a BPF trampoline')
          else if (def.base.startsWith('fsession')) {
            alt(`kprobe/${fn}`, 'a kprobe (entry) and a kretprobe (return) need neither BTF nor a BPF trampoline')
            alt(`kretprobe/${fn}`, 'the return half of the session')
          } else alt(`kprobe/${fn}`, 'a kprobe attaches by kallsyms name and needs neither BTF nor a BPF trampoline')
        }
        break
      case 'fmod_ret':
        if (fn) alt(`kprobe/${fn}`, 'a kprobe with bpf_override_return() can change the return value (CONFIG_BPF_KPROBE_OVERRIDE; error-injection functions only)')
        break
      case 'tp_btf':
        if (fn) alt(`raw_tp/${fn}`, 'the same tracepoint as a raw tracepoint: untyped arguments, no BTF needed')
        break
      case 'lsm':
      case 'lsm_cgroup':
        if (fn) alt(`kprobe/security_${fn}`, 'a kprobe on the LSM hook observes it but cannot deny anything')
        break
      case 'kprobe_multi':
        if (fn) alt(`${def.base.startsWith('kret') ? 'kretprobe' : 'kprobe'}/${fn}`, 'one kprobe per function instead of a multi-kprobe link')
        else if (name) out.push({kind: 'section', text: `one kprobe/<function> program per function matching ${name} instead of a multi-kprobe link`})
        break
      case 'uprobe_multi':
        if (target.binary && fn) alt(`${def.base.startsWith('uret') ? 'uretprobe' : 'uprobe'}/${target.binary}:${fn}`, 'one uprobe per function instead of a multi-uprobe link')
        break
      case 'tcx':
      case 'netkit':
        alt('tc', 'legacy tc classifier (cls_bpf), attached with the tc tool or netlink on a clsact qdisc')
        break
      case 'xdp':
        if (def.flags.includes('XDP_FRAGS')) alt(def.base.replace('xdp.frags', 'xdp'), 'without multi-buffer (frags) support')
        break
      case 'sk_reuseport':
        if (def.base === 'sk_reuseport/migrate') alt('sk_reuseport', 'without socket migration')
        break
      default:
        break
    }
  }
  for (const near of ev.nearTargets) {
    const mod = target.module ? `${target.module}:` : ''
    const cat = target.category ? `${target.category}/` : ''
    alt(`${def.base}/${cat}${mod}${near}`, `this kernel has ${near}`, 'target')
  }
  if (kernelBtfState(k).state === false || ev.reasons.some((r) => r.rule === 'core' && r.status === 'unknown')) {
    const e = k.archive?.entry
    const archived = e && e.btf === 'generated' && e.path ? `${btfLocation(k.archive!.root, e)} in the archive (generated from debug info; \`kcompat btf export --kernel ${e.release} --out ${e.release}.btf\` writes it as a file, \`kcompat btfgen --kernel ${e.release} --object …\` trims it to what your objects need)` : undefined
    out.push({
      kind: 'btf',
      text: archived
        ? `this kernel has no BTF of its own: CO-RE programs can run with a custom BTF given to libbpf as btf_custom_path: ${archived}; that serves CO-RE only, never BTF attach targets (fentry/fexit/tp_btf/lsm/iter)`
        : 'this kernel has no BTF of its own: for CO-RE relocations give libbpf a BTF for it with btf_custom_path (BTFHub-style, e.g. from `kcompat btfgen`); that serves CO-RE only, never BTF attach targets',
    })
  }
  return out
}

/** Checks one section on one kernel. */
export function checkSection(section: string, k: KernelProfile, opts: CheckOptions = {}): ProgramResult {
  const ev = evaluateSection(section, k)
  return resultOf(ev, k, opts)
}

function resultOf(ev: Evaluation, k: KernelProfile, opts: CheckOptions, extra: Reason[] = [], program?: string): ProgramResult {
  const reasons = [...ev.reasons, ...extra]
  const verdict = combineVerdicts(reasons.map((r) => r.status))
  return {
    section: ev.section,
    ...(program === undefined ? {} : {program}),
    verdict,
    reasons,
    suggestions: opts.suggest === false ? [] : suggestionsFor({...ev, reasons}, verdict, k),
    ...(ev.def ? {libbpf: {entry: ev.def.name, progType: ev.def.progType, attachType: ev.def.attachType, family: ev.def.family}} : {}),
  }
}

/**
 * Whether an answer about these sections (and, with `objects`, their CO-RE relocations)
 * on kernel `k` can depend on its module BTF: a BTF attach target, kprobe function or
 * tracepoint that vmlinux BTF lacks (libbpf then searches the modules' BTF), a
 * `module:func` target, or a CO-RE relocation whose local type has no candidate in
 * vmlinux (libbpf then takes candidates from modules).
 */
export function modulesMatter(k: KernelProfile, sections: readonly string[], objects: readonly {elf: ElfFile; path: string}[] = []): boolean {
  const sym = k.symbols
  if (!sym) return false
  for (const section of sections) {
    const m = matchSection(section)
    if (!m) continue
    const target = parseTarget(m.def, m.target)
    if (target.name === '') continue
    const bt = m.def.btfTarget
    if (bt && bt.kind !== 'program') {
      if (target.module && target.module !== 'vmlinux') return true
      if (findTarget(sym, bt.kind, btfTargetName(m.def, target)!) === undefined) return true
    } else if (m.def.family === 'kprobe') {
      if (findTarget(sym, 'FUNC', target.name) === undefined) return true
    } else if (m.def.family === 'tracepoint' || m.def.family === 'raw_tracepoint') {
      if (findTarget(sym, 'TYPEDEF', `btf_trace_${target.name}`) === undefined) return true
    }
  }
  const btf = k.btfKind === 'in-kernel' || k.btfKind === 'running' ? k.fullBtf() : undefined
  return btf !== undefined && objects.some((o) => objectNeedsModules(o.elf, o.path, btf))
}

/** Checks every program of a BPF object file. */
export async function checkObject(path: string, k: KernelProfile, opts: CheckOptions = {}, info?: BpfObjectInfo): Promise<ProgramResult[]> {
  const obj = info ?? (await readBpfObject(path))
  const core = opts.core === undefined ? coreCheck : opts.core
  if (modulesMatter(k, obj.programs.map((p) => p.section), core ? [{elf: obj.elf, path}] : [])) await k.loadModules()
  return obj.programs.map((p) => {
    const ev = evaluateSection(p.section, k)
    const extra: Reason[] = []
    if (core) {
      extra.push(...core({object: obj.elf, objectPath: path, program: p, kernel: k}))
    } else if (obj.hasBtfExt) {
      extra.push({
        rule: 'core',
        status: 'info',
        message: 'CO-RE relocations are not checked here (no CO-RE engine plugged in)',
        evidence: [{kind: 'object', text: `${path} has .BTF.ext`}],
        source: 'kcompat',
      })
    }
    const needs = needsReasons(obj, p.name, p.section, k)
    extra.push(...needs.reasons)
    const r = resultOf(ev, k, opts, extra, p.name)
    if (opts.suggest !== false && r.verdict !== 'supported') r.suggestions.push(...needs.suggestions)
    return r
  })
}

/** The kernel as check --json reports it. */
export function summarizeKernel(k: KernelProfile): KernelSummary {
  const r = k.release
  const btf = kernelBtfState(k)
  const e = k.archive?.entry
  return {
    input: k.input,
    release: r.input,
    distro: r.distro,
    distroName: r.distroName,
    distroRelease: r.distroRelease,
    alternatives: r.alternatives,
    upstream: r.upstream,
    flavor: r.flavor,
    arch: k.arch,
    archAssumed: k.archAssumed,
    inferred: r.inferred,
    notes: r.notes,
    origin: k.origin,
    archive: e ? {root: k.archive!.root, path: e.path, distro: e.distro, version: e.version, btf: e.btf} : null,
    ...(k.siblings
      ? {
          siblings: {
            releases: k.siblings.chosen.map((s) => s.entry.release),
            distro: k.siblings.chosen[0]!.entry.distro,
            version: k.siblings.chosen[0]!.entry.version,
            arch: k.siblings.chosen[0]!.entry.arch,
            total: k.siblings.total,
          },
        }
      : {}),
    btf: {state: btf.state === true ? 'present' : btf.state === false ? 'absent' : 'unknown', data: k.btfOrigin ?? null},
    config: k.config ? {origin: k.config.origin, complete: k.config.complete} : null,
    facts: {dataVersion: k.facts.dataVersion, profiles: k.distro.profiles},
  }
}

export interface CheckRequest {
  kernel: string
  progs?: string[]
  objects?: string[]
  /** --archive DIR (default: resolveArchiveDir()). */
  archive?: string
  btf?: string
  arch?: string
  options?: CheckOptions
  /** For tests: what `--kernel running` reads. */
  running?: ResolveOptions['running']
}

/**
 * The whole check: resolve the kernel, check every --prog section and every program of
 * every --object.
 * @throws CheckUsageError `CHECK_NO_PROGRAMS` when there is nothing to check, plus what
 *   {@link resolveKernel} and {@link checkObject} throw.
 */
export async function check(req: CheckRequest): Promise<CheckResult> {
  const progs = req.progs ?? []
  const objects = req.objects ?? []
  if (progs.length === 0 && objects.length === 0) {
    throw new CheckUsageError('CHECK_NO_PROGRAMS', 'nothing to check: give --prog SECTION or --object FILE.bpf.o')
  }
  const kernel = await resolveKernel({
    kernel: req.kernel,
    archive: req.kernel === 'running' ? undefined : resolveArchiveDir(req.archive),
    btf: req.btf,
    arch: req.arch,
    running: req.running,
  })
  if (modulesMatter(kernel, progs)) await kernel.loadModules()
  const programs: ProgramResult[] = progs.map((s) => checkSection(s, kernel, req.options))
  for (const o of objects) programs.push(...(await checkObject(o, kernel, req.options)))
  return {kernel: summarizeKernel(kernel), programs}
}
