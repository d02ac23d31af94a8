/**
 * The rules `check` applies to one program section on one kernel. Each rule gives one
 * {@link Reason}: its status, a message, the evidence (version, config line, BTF lookup,
 * archive entry, machine file) and the source of the deciding fact.
 *
 * Order of authority for every fact, strongest first:
 *   1. the kernel itself: the running machine, the archived kernel's BTF (its
 *      `enum bpf_prog_type` / `enum bpf_attach_type` list what the kernel knows; its
 *      FUNCs and TYPEDEFs are the attach targets) and config;
 *   2. distro facts from facts.json (RHEL 7.6 is tracing-only, UEK6 has no fentry, ...);
 *   3. mainline version rules from facts.json. On kernels whose distro backports BPF
 *      heavily (RHEL and rebuilds, UEK, SLES) a feature newer than the base version is
 *      `unknown`, not `unsupported`, unless a fact settles it.
 *
 * Doubtful facts never give a firm `unsupported`: where such a fact is the one that
 * fails, the rule is `unknown`. A doubtful mainline version that the kernel meets
 * passes: those versions were inferred from when libbpf gained support, which is at or
 * after the kernel release that made it possible.
 */
import {atLeast, compareVersions, formatVersion, parseVersion} from '../kernel/facts/version.js'
import type {ConfigRequirement, FeatureKey, ValueFact, VersionFact} from '../kernel/facts/index.js'
import {DEPRECATED_SECTIONS, type ParsedTarget, type SectionDef, matchSection, parseTarget, btfTargetName, sectionSpellings} from '../kernel/sections.js'
import type {KernelProfile} from './kernel.js'
import type {ModuleSet} from '../btf/module-set.js'
import type {KernelSymbols} from './symbols.js'
import {siblingBtfState, siblingTargetRule} from './siblings.js'
import {type NearName, boundedDistance, countGlobMatches, findTarget, hasTracepointTypedefs, kernelKnows, nearNames} from './targets.js'
import type {Evidence, Reason, ReasonStatus} from './types.js'

export interface Evaluation {
  section: string
  def?: SectionDef
  target?: ParsedTarget
  reasons: Reason[]
  /** Near names found for a missing target, or near section names for an unknown section (used for suggestions). */
  nearTargets: string[]
  /** The current name of a deprecated section. */
  replacement?: string
}

type Tri = true | false | null

interface FactState {
  state: Tri
  message: string
  evidence: Evidence[]
  source: string
  doubtful?: boolean
}

const EXT_SOURCE = 'this kernel (archive / machine)'

function reason(rule: string, status: ReasonStatus, message: string, evidence: Evidence[], source: string, extra: Partial<Reason> = {}): Reason {
  return {rule, status, message, evidence, source, ...extra}
}

function kernelText(k: KernelProfile): string {
  const r = k.release
  const distro = r.distro === 'mainline' || r.distro === 'unknown' ? '' : ` (${r.distroName}${r.distroRelease ? ` ${r.distroRelease}` : ''})`
  return `kernel ${r.upstream}${distro}`
}

function versionEvidence(k: KernelProfile, what: string, since: string | null): Evidence {
  return {kind: 'version', text: `${kernelText(k)}; ${what}${since ? ` since mainline ${since}` : ': not in a released kernel'}`}
}

function isHeavy(k: KernelProfile): boolean {
  return k.distro.facts.backports?.value === 'heavy'
}

function distroLabel(k: KernelProfile): string {
  const r = k.release
  const uek = r.distro === 'oracle' && r.flavor ? ` ${r.flavor}` : ''
  return `${r.distroName}${r.distroRelease ? ` ${r.distroRelease}` : ''}${uek}`
}

function distroEvidence(k: KernelProfile, fact: object): Evidence {
  const profile = (fact as {profile?: string}).profile
  const how = k.release.inferred ? ', identified by inference' : ''
  return {kind: 'distro', text: `${k.release.input} is ${distroLabel(k)}${how}; facts.json distro profile ${profile ?? '?'}`}
}

function beyondKnown(k: KernelProfile): boolean {
  return compareVersions(k.release.upstreamVersion, parseVersion(k.facts.latestKnownMainline.value)) > 0
}

// ---------------------------------------------------------------- config lookups

interface ConfigLookup {
  known: boolean
  value: string | null
  evidence?: Evidence
  source: string
}

function configLine(symbol: string, value: string | null): string {
  if (value === null) return `# ${symbol} is not set`
  return /^[ymn]$|^-?\d+$|^0x[0-9a-f]+$/i.test(value) ? `${symbol}=${value}` : `${symbol}="${value}"`
}

export function configValue(k: KernelProfile, symbol: string): ConfigLookup {
  const c = k.config
  if (c && (c.values.has(symbol) || c.complete)) {
    const value = c.values.get(symbol) ?? null
    const absent = !c.values.has(symbol)
    return {
      known: true,
      value,
      evidence: {kind: 'config', text: `${absent ? `${symbol} absent` : configLine(symbol, value)} (${c.origin})`},
      source: EXT_SOURCE,
    }
  }
  const d = k.distro.facts.config?.[symbol]
  if (d) {
    return {known: true, value: d.value, evidence: {kind: 'distro', text: `${configLine(symbol, d.value)} (${distroLabel(k)}: ${d.source})`}, source: d.source}
  }
  return {known: false, value: null, source: ''}
}

// ---------------------------------------------------------------- kernel-wide facts

/** Does the kernel ship its own vmlinux BTF? */
export function kernelBtfState(k: KernelProfile): FactState {
  if (k.running) {
    const present = k.running.btf !== undefined
    return {
      state: present,
      message: present ? 'this machine has in-kernel BTF' : 'this machine has no in-kernel BTF',
      evidence: [{kind: 'machine', text: `${k.running.btfPath}: ${present ? 'present' : (k.running.btfMissing ?? 'not present')}`}],
      source: EXT_SOURCE,
    }
  }
  if (k.archive) {
    const e = k.archive.entry
    const present = e.btf === 'in-kernel'
    return {
      state: present,
      message: present ? 'the archived kernel ships BTF' : `the archived kernel ships no BTF (archive records btf: ${e.btf})`,
      evidence: [{kind: 'archive', text: `${e.distro}/${e.version}/${e.arch}/${e.release}: btf ${e.btf}`}],
      source: EXT_SOURCE,
    }
  }
  if (k.siblings) {
    const s = siblingBtfState(k.siblings)
    if (s.state !== null) return s
  }
  const cfg = configValue(k, 'CONFIG_DEBUG_INFO_BTF')
  if (cfg.known && cfg.evidence) {
    const present = cfg.value === 'y'
    return {state: present, message: present ? 'built with CONFIG_DEBUG_INFO_BTF' : 'built without CONFIG_DEBUG_INFO_BTF', evidence: [cfg.evidence], source: cfg.source}
  }
  const d = k.distro.facts.kernelBtf
  if (d && d.value !== null) {
    return {
      state: d.doubtful && d.value === false ? null : d.value,
      message: d.value ? `${distroLabel(k)} kernels ship BTF` : `${distroLabel(k)} kernels ship no BTF`,
      evidence: [distroEvidence(k, d)],
      source: d.source,
      doubtful: d.doubtful,
    }
  }
  if (k.btfKind === 'file') {
    return {
      state: true,
      message: `the BTF file given (${k.btfOrigin}) is taken as the kernel's own`,
      evidence: [{kind: 'btf', text: `--btf ${k.btfOrigin}`}],
      source: 'command line',
    }
  }
  const f = k.facts.features.kernelBtfConfig
  if (!isHeavy(k) && f.since && !atLeast(k.release.upstreamVersion, f.since)) {
    return {
      state: false,
      message: `CONFIG_DEBUG_INFO_BTF does not exist before ${f.since}`,
      evidence: [versionEvidence(k, 'vmlinux BTF (CONFIG_DEBUG_INFO_BTF)', f.since)],
      source: f.source,
    }
  }
  const missing = d?.note ? ` (${d.note})` : ''
  return {
    state: null,
    message: `whether this kernel was built with CONFIG_DEBUG_INFO_BTF is not known${missing}`,
    evidence: d ? [distroEvidence(k, d)] : [{kind: 'release', text: `no archive entry, config or distro fact for ${k.release.input}`}],
    source: d?.source ?? 'kernel lib/Kconfig.debug (CONFIG_DEBUG_INFO_BTF is a build option, Linux 5.2 and later)',
    doubtful: d?.doubtful,
  }
}

/** Does the kernel have module BTF (/sys/kernel/btf/<module>)? */
export function moduleBtfState(k: KernelProfile): FactState {
  if (k.running && k.running.moduleBtf !== undefined) {
    const n = k.running.moduleBtf.length
    return {
      state: n > 0,
      message: n > 0 ? `this machine has module BTF (${n} modules)` : 'this machine has no module BTF',
      evidence: [{kind: 'machine', text: `/sys/kernel/btf: ${n} module entries`}],
      source: EXT_SOURCE,
    }
  }
  const cfg = configValue(k, 'CONFIG_DEBUG_INFO_BTF_MODULES')
  if (cfg.known && cfg.evidence) {
    return {state: cfg.value === 'y', message: cfg.value === 'y' ? 'built with module BTF' : 'built without module BTF', evidence: [cfg.evidence], source: cfg.source}
  }
  const d = k.distro.facts.moduleBtf
  if (d && d.value !== null) {
    return {state: d.value, message: d.value ? 'module BTF' : 'no module BTF', evidence: [distroEvidence(k, d)], source: d.source, doubtful: d.doubtful}
  }
  const f = k.facts.features.moduleBtf
  if (!isHeavy(k) && f.since && !atLeast(k.release.upstreamVersion, f.since)) {
    return {state: false, message: `module BTF does not exist before ${f.since}`, evidence: [versionEvidence(k, 'module BTF', f.since)], source: f.source}
  }
  return {state: null, message: 'whether this kernel has module BTF is not known', evidence: [], source: f.source}
}

// ---------------------------------------------------------------- version gates

function bpfEquivalentCovers(k: KernelProfile, since: string): ValueFact<string> | undefined {
  const eq = k.distro.facts.bpfEquivalent
  return eq && atLeast(parseVersion(eq.value), since) ? eq : undefined
}

/** A mainline version gate (a feature of facts.json `features`), with distro backports considered. */
export function versionGate(k: KernelProfile, rule: string, what: string, fact: VersionFact): Reason {
  const up = k.release.upstreamVersion
  const ev = versionEvidence(k, what, fact.since)
  if (fact.since === null) {
    if (beyondKnown(k)) {
      return reason(rule, 'unknown', `${what}: not in any kernel release kcompat's facts cover (up to ${k.facts.latestKnownMainline.value}); this kernel is newer`, [ev], fact.source, {doubtful: fact.doubtful})
    }
    return reason(rule, 'fail', `${what}: not in any released kernel`, [ev], fact.source)
  }
  if (atLeast(up, fact.since)) return reason(rule, 'pass', `${what}: mainline ${fact.since}`, [ev], fact.source, {doubtful: fact.doubtful})
  const eq = bpfEquivalentCovers(k, fact.since)
  if (eq) {
    return reason(rule, 'pass', `${what} (mainline ${fact.since}): ${distroLabel(k)}'s BPF matches mainline ${eq.value}`, [ev, distroEvidence(k, eq)], eq.source, {doubtful: eq.doubtful})
  }
  if (isHeavy(k)) {
    return reason(
      rule,
      'unknown',
      `${what}: mainline ${fact.since}; ${distroLabel(k)} backports BPF features, and whether it has this one is not established`,
      [ev],
      fact.source,
      {check: rule === 'prog-type' ? `bpftool feature probe kernel | grep 'program_type ${what.replace('BPF_PROG_TYPE_', '').toLowerCase()}' on such a machine` : 'bpftool feature probe kernel, or a test load, on such a machine'},
    )
  }
  if (fact.doubtful) {
    return reason(rule, 'unknown', `${what}: mainline ${fact.since} (inferred, not verified); this kernel is older`, [ev], fact.source, {doubtful: true})
  }
  return reason(rule, 'fail', `${what}: needs mainline ${fact.since}`, [ev], fact.source)
}

/** Program type or attach type availability. */
function typeRule(k: KernelProfile, what: 'prog' | 'attach', name: string): Reason {
  const rule = what === 'prog' ? 'prog-type' : 'attach-type'
  const label = what === 'prog' ? `BPF_PROG_TYPE_${name}` : name
  const fact = what === 'prog' ? k.facts.progTypes[name] : k.facts.attachTypes[name]
  if (!fact) return reason(rule, 'unknown', `${label}: no fact in kcompat's data`, [], 'facts.json')
  const enumName = what === 'prog' ? 'bpf_prog_type' : 'bpf_attach_type'
  const known = k.symbols ? kernelKnows(k.symbols, what, label) : undefined
  const btfEv: Evidence | undefined =
    known === undefined ? undefined : {kind: 'btf', text: `enum ${enumName} ${known ? 'has' : 'lacks'} ${label} (${k.btfOrigin})`}
  if (known === false && !fact.doubtful) {
    return reason(rule, 'fail', `this kernel does not know ${label}: its BTF enum ${enumName} lacks it`, [btfEv!], `${EXT_SOURCE}; falcosecurity/falco#2792 (reads the enum the same way)`)
  }
  const d = what === 'prog' ? k.distro.facts.progTypes?.[name] : k.distro.facts.attachTypes?.[name]
  if (d) {
    const ev = [distroEvidence(k, d), ...(btfEv ? [btfEv] : [])]
    if (d.value === true) return reason(rule, 'pass', `${label}: available on ${distroLabel(k)}${d.note ? ` (${d.note})` : ''}`, ev, d.source, {doubtful: d.doubtful})
    if (d.value === false) {
      return d.doubtful
        ? reason(rule, 'unknown', `${label}: probably not on ${distroLabel(k)} (doubtful fact)`, ev, d.source, {doubtful: true})
        : reason(rule, 'fail', `${label} is not available on ${distroLabel(k)}`, ev, d.source)
    }
    return reason(rule, 'unknown', `${label} on ${distroLabel(k)}: not established${d.note ? ` (${d.note})` : ''}`, ev, d.source, {doubtful: d.doubtful})
  }
  const only = what === 'prog' ? k.distro.facts.onlyProgTypes : undefined
  if (only && !only.value.includes(name)) {
    return reason(rule, 'fail', `${distroLabel(k)} enables BPF only for ${only.value.join(', ')}: ${label} is not among them`, [distroEvidence(k, only)], only.source)
  }
  if (known === true) {
    const since = fact.since ? ` (mainline ${fact.since})` : ''
    return reason(rule, 'pass', `${label}${since}: this kernel's BTF enum ${enumName} has it`, [btfEv!], EXT_SOURCE)
  }
  const r = versionGate(k, rule, label, fact)
  if (known === false && r.status === 'fail') r.evidence.push(btfEv!)
  return r
}

function featureRule(k: KernelProfile, rule: string, key: FeatureKey, what: string): Reason {
  return versionGate(k, rule, what, k.facts.features[key])
}

// ---------------------------------------------------------------- trampoline

function trampolineRule(k: KernelProfile): Reason {
  const d = k.distro.facts.trampoline
  if (d && d.value !== null) {
    if (d.value) return reason('trampoline', 'pass', `BPF trampoline available on ${distroLabel(k)}`, [distroEvidence(k, d)], d.source, {doubtful: d.doubtful})
    return reason('trampoline', d.doubtful ? 'unknown' : 'fail', `no BPF trampoline on ${distroLabel(k)}`, [distroEvidence(k, d)], d.source, {doubtful: d.doubtful})
  }
  const t = k.facts.trampoline
  const fact = t[k.arch] ?? t.other!
  const archEv: Evidence = {kind: 'arch', text: `${k.arch}${k.archAssumed ? ' (assumed)' : ''}: BPF trampoline ${fact.since ? `since mainline ${fact.since}` : 'not implemented'}`}
  if (fact.since === null) {
    if (beyondKnown(k)) return reason('trampoline', 'unknown', `no BPF trampoline on ${k.arch} as of mainline ${k.facts.latestKnownMainline.value}; this kernel is newer`, [archEv], fact.source)
    return reason('trampoline', 'fail', `${k.arch} has no BPF trampoline (fentry/fexit/fmod_ret/lsm/freplace need one)`, [archEv], fact.source)
  }
  const ev = [archEv, {kind: 'version' as const, text: kernelText(k)}]
  if (atLeast(k.release.upstreamVersion, fact.since)) return reason('trampoline', 'pass', `BPF trampoline on ${k.arch}: mainline ${fact.since}`, ev, fact.source)
  if (isHeavy(k)) {
    const dc = configValue(k, 'CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS')
    const hint = dc.known && dc.value === 'y' ? ' (CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y suggests a backport)' : ''
    return reason(
      'trampoline',
      'unknown',
      `BPF trampolines on ${k.arch} came in mainline ${fact.since}; whether ${distroLabel(k)} backported them is not established${hint}`,
      dc.evidence ? [...ev, dc.evidence] : ev,
      fact.source,
      {check: 'bpftool feature probe | grep -i tracing'},
    )
  }
  return reason('trampoline', 'fail', `no BPF trampoline: ${k.arch} gained it in mainline ${fact.since}`, ev, fact.source)
}

// ---------------------------------------------------------------- config

const LSM_TARGET = /^(security_|bpf_lsm_)/

function configRule(k: KernelProfile, req: ConfigRequirement): Reason {
  const rule = `config:${req.id}`
  const evidence: Evidence[] = []
  const unknown: string[] = []
  const bad: string[] = []
  let source = req.source
  for (const sym of req.symbols) {
    const v = configValue(k, sym)
    if (!v.known) {
      unknown.push(sym)
      continue
    }
    if (v.evidence) evidence.push(v.evidence)
    if (v.source !== EXT_SOURCE) source = `${req.source}; ${v.source}`
    if (v.value === null || !req.accept.includes(v.value)) bad.push(sym)
  }
  const want = `${req.symbols.join(', ')}=${req.accept.join('|')}`
  if (bad.length > 0) return reason(rule, 'fail', `needs ${bad.map((s) => `${s}=${req.accept.join('|')}`).join(', ')}; this kernel does not have it`, evidence, source)
  if (unknown.length === 0) return reason(rule, 'pass', `${want}`, evidence, source)
  const common = req.common || (req.commonOn?.includes(k.arch) ?? false)
  if (common) {
    evidence.push({kind: 'config', text: `${unknown.join(', ')}: not known for this kernel`})
    return reason(rule, 'pass', `needs ${want}: assumed (no config known for this kernel; distro kernels set it)`, evidence, source)
  }
  evidence.push({kind: 'config', text: `${unknown.join(', ')}: not known for this kernel`})
  return reason(rule, 'unknown', `needs ${unknown.join(', ')}; this kernel's config is not known`, evidence, source, {
    check: `grep -E '${unknown.join('|')}' /boot/config-$(uname -r)  (or zcat /proc/config.gz)`,
  })
}

function lsmActiveRule(k: KernelProfile): Reason {
  const f = k.facts.lsmList
  if (k.running?.lsm) {
    const has = k.running.lsm.includes(f.entry)
    const ev: Evidence = {kind: 'machine', text: `/sys/kernel/security/lsm: ${k.running.lsm.join(',')}`}
    if (has) return reason('lsm-active', 'pass', `the bpf LSM is active on this machine`, [ev], EXT_SOURCE)
    return reason('lsm-active', 'fail', `the bpf LSM is not active on this machine (boot with lsm=${[...k.running.lsm, f.entry].join(',')})`, [ev], EXT_SOURCE)
  }
  const cfg = configValue(k, f.symbol)
  if (cfg.known && cfg.value !== null) {
    const has = cfg.value.split(',').includes(f.entry)
    if (has) {
      return reason('lsm-active', 'pass', `"${f.entry}" is in the built-in LSM list (active unless the lsm= boot parameter overrides it)`, [cfg.evidence!], `${f.source}`)
    }
    return reason('lsm-active', 'possible', `"${f.entry}" is not in the built-in LSM list: lsm programs load only where the machine boots with lsm=...,${f.entry}`, [cfg.evidence!], f.source, {
      check: f.check,
    })
  }
  const d = k.distro.facts.lsmHasBpf
  if (d) {
    if (d.value) return reason('lsm-active', 'pass', `"${f.entry}" is in ${distroLabel(k)}'s built-in LSM list`, [distroEvidence(k, d)], d.source, {doubtful: d.doubtful})
    return reason('lsm-active', 'possible', `"${f.entry}" is not in ${distroLabel(k)}'s built-in LSM list: lsm programs load only where the machine boots with lsm=...,${f.entry}`, [distroEvidence(k, d)], d.source, {
      check: f.check,
    })
  }
  return reason('lsm-active', 'unknown', `whether "${f.entry}" is in this kernel's LSM list (CONFIG_LSM) is not known`, [], f.source, {check: f.check})
}

// ---------------------------------------------------------------- targets

const SYSCALL_PREFIX: Record<string, string> = {
  x86_64: 'x64',
  i686: 'ia32',
  arm64: 'arm64',
  armv7l: 'arm',
  armv6l: 'arm',
  armv5tel: 'arm',
  s390x: 's390x',
  riscv64: 'riscv',
  ppc64le: 'powerpc',
  mips64: 'mips',
  mips: 'mips',
}

function btfTargetRule(k: KernelProfile, def: SectionDef, target: ParsedTarget, nearOut: string[]): Reason | undefined {
  const spec = def.btfTarget!
  if (spec.kind === 'program') {
    return reason('target', 'info', `freplace replaces ${target.name || 'a function'} in another BPF program (attach_prog_fd): checked at load time against that program's BTF`, [], 'libbpf src/libbpf.c (freplace: the target program is given with bpf_program__set_attach_target)')
  }
  if (target.name === '') {
    return reason('target', 'unknown', 'no attach target in the section name: the program must set it at run time (bpf_program__set_attach_target()), so kcompat cannot check it', [], 'libbpf src/libbpf.c section_defs (SEC_ATTACH_BTF sections without a target need bpf_program__set_attach_target)')
  }
  const btfName = btfTargetName(def, target)!
  const what = `${spec.kind} ${btfName}`
  const mods = k.moduleSet()
  if (target.module && target.module !== 'vmlinux') {
    const m = moduleBtfState(k)
    if (m.state === false) {
      return reason('target', m.doubtful ? 'unknown' : 'fail', `${target.module}:${target.name} is a module target, and this kernel has no module BTF`, m.evidence, `${m.source}; libbpf src/libbpf.c find_kernel_btf_id (module targets are looked up in module BTF)`)
    }
    if (mods && mods.size > 0) return namedModuleTarget(k, mods, def, spec.kind, target.module, btfName, what, nearOut)
    return reason('target', 'possible', `${what} is looked up in module ${target.module}'s BTF, which kcompat does not hold: it loads where ${target.module} is loaded and defines it`, m.evidence, 'libbpf src/libbpf.c find_kernel_btf_id (module:func targets)', {
      check: `ls /sys/kernel/btf/${target.module} && bpftool btf dump file /sys/kernel/btf/${target.module} | grep "'${btfName}'"`,
    })
  }
  if (!k.symbols) {
    return reason('target', 'unknown', `${what} cannot be looked up: kcompat has no BTF for this kernel (add it to the archive, or pass --btf)`, [], 'libbpf src/libbpf.c btf_get_kernel_prefix_kind, find_kernel_btf_id')
  }
  const id = findTarget(k.symbols, spec.kind, btfName)
  const src = 'libbpf src/libbpf.c btf_get_kernel_prefix_kind, find_kernel_btf_id'
  if (id !== undefined) {
    return reason('target', 'pass', `${what} is in this kernel's BTF`, [{kind: 'btf', text: `${what} (id ${id}) in ${k.btfOrigin}`}], src)
  }
  if (mods && mods.size > 0) return moduleTarget(k, mods, def, spec.kind, spec.prefix, target.name, btfName, what, nearOut)
  const near = nearNames(k.symbols, spec.kind, spec.prefix, target.name)
  nearOut.push(...near.map((n) => n.target))
  const nearText = near.length > 0 ? `; near: ${near.map((n) => n.name).join(', ')}` : ''
  const ev: Evidence[] = [{kind: 'btf', text: `no ${what} in ${k.btfOrigin}${nearText}`}]
  const typo = near.find((n) => n.why === 'spelling')
  if (def.family === 'lsm' || def.family === 'lsm_cgroup') {
    return reason('target', 'fail', `${what} is not in this kernel's BTF: ${target.name} is not an LSM hook of this kernel`, ev, src)
  }
  if (typo) {
    return reason('target', 'fail', `${what} is not in this kernel's BTF; ${typo.name} is (${typo.distance} edit${typo.distance > 1 ? 's' : ''} away): misspelled, or renamed on this kernel`, ev, src)
  }
  const m = moduleBtfState(k)
  if (m.state === false) {
    return reason('target', 'fail', `${what} is not in this kernel's BTF (and the kernel has no module BTF to search)`, [...ev, ...m.evidence], src)
  }
  if (def.family === 'iter' || def.family === 'tp_btf' || def.family === 'fentry' || def.family === 'fmod_ret') {
    return reason(
      'target',
      'possible',
      `${what} is not in this kernel's vmlinux BTF; libbpf also searches the BTF of loaded modules, so it loads only if a module defines it`,
      [...ev, ...m.evidence],
      src,
      {check: `bpftool btf dump file /sys/kernel/btf/vmlinux | grep "'${btfName}'"; then each /sys/kernel/btf/<module>`},
    )
  }
  return reason('target', 'fail', `${what} is not in this kernel's BTF`, ev, src)
}

// ---------------------------------------------------------------- targets in module BTF

const MODULE_ATTACH_SOURCE =
  'kernel commit 290248a5b7d8 (bpf: Allow to specify kernel module BTFs when attaching BPF programs, v5.11); libbpf src/libbpf.c find_kernel_btf_id (vmlinux BTF first, then load_module_btfs: the BTF of every loaded module)'

/** KernelSymbols over the FUNC and TYPEDEF names of every module (for near names); one per module set. */
function moduleSymbols(mods: ModuleSet): KernelSymbols {
  let sym = moduleSymbolMemo.get(mods)
  if (!sym) {
    const index = (m: ReadonlyMap<string, string[]>): Map<string, number> => new Map([...m.keys()].map((n, i) => [n, i]))
    sym = {funcs: index(mods.nameMap('FUNC')), typedefs: index(mods.nameMap('TYPEDEF')), hasBtfTraceTypedefs: mods.nameMap('TYPEDEF').size > 0}
    moduleSymbolMemo.set(mods, sym)
  }
  return sym
}

const moduleSymbolMemo = new WeakMap<ModuleSet, KernelSymbols>()

/** The module names to show for a near name: `name (vmlinux)` or `name (module nf_conntrack)`. */
function nearWithOrigin(mods: ModuleSet, kind: 'FUNC' | 'TYPEDEF', n: NearName, inVmlinux: boolean): string {
  const where = inVmlinux ? ['vmlinux'] : mods.modulesDefining(kind, n.name).map((m) => `module ${m}`)
  return `${n.name} (${where.slice(0, 3).join(', ')}${where.length > 3 ? ', ...' : ''})`
}

/**
 * A BTF-attached program whose target is in no module's BTF, or in some: what libbpf
 * and the kernel do with it. libbpf looks the name up in vmlinux BTF, then in the BTF of
 * every loaded module, and passes the module's BTF object as attach_btf_obj_fd; the
 * kernel accepts that since 5.11, with module BTF (CONFIG_DEBUG_INFO_BTF_MODULES).
 * Found in module M only: `possible` (it loads where M is loaded), naming M and how to
 * check; in no module and not in vmlinux: `unsupported`, with near names from vmlinux
 * and every module.
 */
function moduleTarget(
  k: KernelProfile,
  mods: ModuleSet,
  def: SectionDef,
  kind: 'FUNC' | 'TYPEDEF',
  prefix: string,
  name: string,
  btfName: string,
  what: string,
  nearOut: string[],
): Reason {
  const defining = mods.modulesDefining(kind, btfName)
  if (defining.length > 0) return inModules(k, mods, def, kind, btfName, what, defining)
  const nearV = nearNames(k.symbols!, kind, prefix, name)
  const nearM = nearNames(moduleSymbols(mods), kind, prefix, name).filter((n) => !nearV.some((v) => v.name === n.name))
  const near = [...nearV.map((n) => ({n, v: true})), ...nearM.map((n) => ({n, v: false}))]
    .sort((a, b) => a.n.distance - b.n.distance || a.n.target.length - b.n.target.length || (a.n.target < b.n.target ? -1 : 1))
    .slice(0, 5)
  nearOut.push(...near.map((x) => x.n.target))
  const nearText = near.length > 0 ? `; near: ${near.map((x) => nearWithOrigin(mods, kind, x.n, x.v)).join(', ')}` : ''
  const ev: Evidence[] = [
    {kind: 'btf', text: `no ${what} in ${k.btfOrigin} nor in the BTF of its ${mods.size} modules (${k.modulesOrigin ?? 'module BTF'})${nearText}`},
  ]
  const typo = near.find((x) => x.n.why === 'spelling')
  const typoText = typo ? `; ${nearWithOrigin(mods, kind, typo.n, typo.v)} is ${typo.n.distance} edit${typo.n.distance > 1 ? 's' : ''} away: misspelled, or renamed on this kernel` : ''
  if (k.btfKind === 'running') {
    // this machine's module BTF is that of its loaded modules: one not loaded now may define it
    return reason(
      'target',
      'possible',
      `${what} is neither in this machine's vmlinux BTF nor in the BTF of its ${mods.size} loaded modules${typoText}; it loads only if a module not loaded now defines it`,
      ev,
      MODULE_ATTACH_SOURCE,
      {check: `modprobe the module that should define ${btfName}, then ls /sys/kernel/btf/`},
    )
  }
  return reason(
    'target',
    'fail',
    `${what} is neither in this kernel's vmlinux BTF nor in the BTF of any of its ${mods.size} modules${typoText}`,
    ev,
    MODULE_ATTACH_SOURCE,
  )
}

/** `fentry/MODULE:func`: the target is looked up in that module only. */
function namedModuleTarget(
  k: KernelProfile,
  mods: ModuleSet,
  def: SectionDef,
  kind: 'FUNC' | 'TYPEDEF',
  module: string,
  btfName: string,
  what: string,
  nearOut: string[],
): Reason {
  const m = mods.module(module)
  if (!m) {
    const near = mods.modules
      .map((x) => ({name: x.name, d: boundedDistance(x.name, module, 2)}))
      .filter((x) => x.d <= 2)
      .sort((a, b) => a.d - b.d)
      .slice(0, 3)
      .map((x) => x.name)
    return reason(
      'target',
      'fail',
      `${module}:${btfName}: this kernel has no module ${module} with BTF (${mods.size} modules have BTF)${near.length ? `; near: ${near.join(', ')}` : ''}`,
      [{kind: 'btf', text: `no /sys/kernel/btf/${module} on this kernel (${k.modulesOrigin ?? 'module BTF'})`}],
      MODULE_ATTACH_SOURCE,
    )
  }
  if (mods.findOwn(module, kind, btfName) !== undefined) return inModules(k, mods, def, kind, btfName, what, [module])
  const near = nearNames(symbolsOfModule(mods, module), kind, '', btfName)
  nearOut.push(...near.map((n) => n.target))
  return reason(
    'target',
    'fail',
    `${what} is not in module ${module}'s BTF${near.length ? `; near: ${near.map((n) => n.name).join(', ')}` : ''}`,
    [{kind: 'btf', text: `no ${what} among module ${module}'s own types (${k.modulesOrigin ?? 'module BTF'})`}],
    MODULE_ATTACH_SOURCE,
  )
}

function symbolsOfModule(mods: ModuleSet, module: string): KernelSymbols {
  const names = (kind: 'FUNC' | 'TYPEDEF'): Map<string, number> =>
    new Map([...mods.nameMap(kind)].filter(([, ms]) => ms.includes(module)).map(([n], i) => [n, i]))
  return {funcs: names('FUNC'), typedefs: names('TYPEDEF'), hasBtfTraceTypedefs: false}
}

/** The target is defined by module(s) `defining`: possible where one of them is loaded, if the kernel attaches to module BTF. */
function inModules(k: KernelProfile, mods: ModuleSet, def: SectionDef, kind: 'FUNC' | 'TYPEDEF', btfName: string, what: string, defining: string[]): Reason {
  const list = defining.join(', ')
  const ids = defining.map((m) => `${m} (id ${mods.findOwn(m, kind, btfName) ?? '?'})`).join(', ')
  const ev: Evidence[] = [{kind: 'btf', text: `${what} not in ${k.btfOrigin}; in the BTF of module ${ids} (${k.modulesOrigin ?? 'module BTF'})`}]
  const mb = moduleBtfState(k)
  if (mb.state === false) {
    return reason('target', 'fail', `${what} is defined by module ${list} only, and this kernel has no module BTF: ${mb.message}`, [...ev, ...mb.evidence], `${mb.source}; ${MODULE_ATTACH_SOURCE}`)
  }
  const gate = versionGate(k, 'target', 'attaching BPF programs to module BTF functions (attach_btf_obj_fd)', k.facts.features.moduleBtfAttach)
  if (gate.status === 'fail' || gate.status === 'unknown') {
    return {...gate, message: `${what} is defined by module ${list} only: ${gate.message}`, evidence: [...ev, ...gate.evidence]}
  }
  const first = defining[0]!
  const several = defining.length > 1 ? ` (any of ${list})` : ''
  return reason(
    'target',
    'possible',
    `${what} is not in this kernel's vmlinux BTF but in module ${list}'s: it loads where ${first}${several} is loaded (libbpf searches the BTF of loaded modules after vmlinux)`,
    [...ev, ...mb.evidence],
    MODULE_ATTACH_SOURCE,
    {check: `lsmod | grep -w ${first}  (or ls /sys/kernel/btf/${first})`},
  )
}

function kprobeTargetRule(k: KernelProfile, name: string, nearOut: string[]): Reason {
  const src = 'kernel kernel/kprobes.c (the target must be in kallsyms and not on the kprobe blacklist)'
  if (!k.symbols) {
    return reason('target', 'info', `${name} not checked: no BTF for this kernel (kprobes attach by kallsyms name, not BTF)`, [], src)
  }
  const id = findTarget(k.symbols, 'FUNC', name)
  if (id !== undefined) return reason('target', 'pass', `FUNC ${name} is in this kernel's BTF`, [{kind: 'btf', text: `FUNC ${name} (id ${id}) in ${k.btfOrigin}`}], src)
  const mods = k.moduleSet()
  const defining = mods ? mods.modulesDefining('FUNC', name) : []
  if (defining.length > 0) {
    return reason(
      'target',
      'possible',
      `${name} is not in this kernel's vmlinux BTF but in module ${defining.join(', ')}'s: a kprobe attaches where ${defining[0]} is loaded`,
      [{kind: 'btf', text: `FUNC ${name} in the BTF of module ${defining.join(', ')} (${k.modulesOrigin ?? 'module BTF'})`}],
      src,
      {check: `lsmod | grep -w ${defining[0]}  (or grep -w ${name} /proc/kallsyms)`},
    )
  }
  const near = nearNames(k.symbols, 'FUNC', '', name)
  nearOut.push(...near.map((n) => n.target))
  const nearText = near.length > 0 ? `; near: ${near.map((n) => n.name).join(', ')}` : ''
  return reason(
    'target',
    'possible',
    `${name} is not in this kernel's BTF; it may still be in kallsyms (static, inlined-elsewhere and module functions are often missing from BTF)`,
    [{kind: 'btf', text: `no FUNC ${name} in ${k.btfOrigin}${nearText}`}],
    src,
    {check: `grep -w ${name} /proc/kallsyms`},
  )
}

function targetRule(k: KernelProfile, def: SectionDef, target: ParsedTarget, nearOut: string[]): Reason | undefined {
  if (def.btfTarget) return btfTargetRule(k, def, target, nearOut)
  switch (def.family) {
    case 'kprobe':
      if (target.name === '') return undefined
      return kprobeTargetRule(k, target.name, nearOut)
    case 'ksyscall': {
      if (target.name === '' || !k.symbols) return undefined
      const prefix = SYSCALL_PREFIX[k.arch]
      const names = [...(prefix ? [`__${prefix}_sys_${target.name}`] : []), `__se_sys_${target.name}`, `sys_${target.name}`]
      for (const n of names) {
        const id = findTarget(k.symbols, 'FUNC', n)
        if (id !== undefined) return reason('target', 'pass', `syscall ${target.name}: FUNC ${n} is in this kernel's BTF`, [{kind: 'btf', text: `FUNC ${n} (id ${id}) in ${k.btfOrigin}`}], 'libbpf src/libbpf.c attach_ksyscall (the arch syscall wrapper prefix is probed)')
      }
      return reason('target', 'possible', `no ${names.join(' / ')} in this kernel's BTF: check that syscall ${target.name} exists on this arch`, [{kind: 'btf', text: `none of ${names.join(', ')} in ${k.btfOrigin}`}], 'libbpf src/libbpf.c attach_ksyscall (the arch syscall wrapper prefix is probed)', {
        check: `grep -E '${names.join('|')}' /proc/kallsyms`,
      })
    }
    case 'tracepoint':
    case 'raw_tracepoint': {
      if (target.name === '' || target.category === 'syscalls' || !k.symbols || !hasTracepointTypedefs(k.symbols)) return undefined
      const n = `btf_trace_${target.name}`
      const id = findTarget(k.symbols, 'TYPEDEF', n)
      const src = 'kernel include/trace/bpf_probe.h (a btf_trace_<tp> typedef for every tracepoint, Linux 5.5 and later)'
      if (id !== undefined) return reason('target', 'pass', `tracepoint ${target.name}: TYPEDEF ${n} is in this kernel's BTF`, [{kind: 'btf', text: `TYPEDEF ${n} (id ${id}) in ${k.btfOrigin}`}], src)
      const tpMods = k.moduleSet()?.modulesDefining('TYPEDEF', n) ?? []
      if (tpMods.length > 0) {
        return reason(
          'target',
          'possible',
          `tracepoint ${target.name} is a tracepoint of module ${tpMods.join(', ')} (TYPEDEF ${n} is in its BTF): it exists where ${tpMods[0]} is loaded`,
          [{kind: 'btf', text: `TYPEDEF ${n} in the BTF of module ${tpMods.join(', ')} (${k.modulesOrigin ?? 'module BTF'})`}],
          src,
          {check: `lsmod | grep -w ${tpMods[0]}  (or ls /sys/kernel/tracing/events/${target.category ?? '*'}/${target.name})`},
        )
      }
      const near = nearNames(k.symbols, 'TYPEDEF', 'btf_trace_', target.name)
      nearOut.push(...near.map((x) => x.target))
      return reason(
        'target',
        'possible',
        `no tracepoint ${target.name} in this kernel's vmlinux BTF (no TYPEDEF ${n}); it may be a module's tracepoint`,
        [{kind: 'btf', text: `no TYPEDEF ${n} in ${k.btfOrigin}${near.length ? `; near: ${near.map((x) => x.target).join(', ')}` : ''}`}],
        src,
        {check: `ls /sys/kernel/tracing/events/${target.category ?? '*'}/${target.name}`},
      )
    }
    case 'kprobe_multi': {
      if (target.name === '' || !k.symbols) return undefined
      const {count, sample} = countGlobMatches(k.symbols, target.name)
      if (count > 0) return reason('target', 'pass', `${count} function${count > 1 ? 's' : ''} in this kernel's BTF match ${target.name}`, [{kind: 'btf', text: `${sample.join(', ')}${count > sample.length ? ', ...' : ''} in ${k.btfOrigin}`}], 'libbpf src/libbpf.c attach_kprobe_multi (glob patterns are matched against the kernel\'s functions)')
      return reason('target', 'possible', `no function in this kernel's BTF matches ${target.name} (kallsyms may still have some)`, [{kind: 'btf', text: `no FUNC matching ${target.name} in ${k.btfOrigin}`}], 'libbpf src/libbpf.c attach_kprobe_multi (glob patterns are matched against the kernel\'s functions)', {
        check: `grep -E '${target.name.replace(/\*/g, '.*')}' /proc/kallsyms`,
      })
    }
    default:
      return undefined
  }
}

// ---------------------------------------------------------------- the whole evaluation

export interface EvaluateOptions {
  /** Skip the target lookup (used when only kernel-level answers are wanted). */
  noTarget?: boolean
}

/** Applies every rule to one section on one kernel. */
export function evaluateSection(section: string, k: KernelProfile, opts: EvaluateOptions = {}): Evaluation {
  const m = matchSection(section)
  if (!m) {
    const base = section.split('/')[0]!
    const replacement = DEPRECATED_SECTIONS[base]
    if (replacement) {
      return {
        section,
        reasons: [
          reason('section', 'fail', `libbpf 0.7 deprecated and libbpf 1.0 removed "${base}/" in favour of "${replacement}"`, [{kind: 'section', text: `${section}: not in libbpf's SEC() table`}], 'libbpf git history (github.com/libbpf/libbpf: deprecated in v0.7, removed in v1.0)'),
        ],
        nearTargets: [],
        replacement,
      }
    }
    const near = sectionSpellings()
      .map((s) => ({s, d: boundedDistance(s, base, 2)}))
      .filter((x) => x.d <= 2)
      .sort((a, b) => a.d - b.d)
      .slice(0, 3)
      .map((x) => x.s)
    return {
      section,
      reasons: [
        reason(
          'section',
          'fail',
          `libbpf does not know section "${section}": it cannot tell the program type (unless the application registers a custom handler with libbpf_register_prog_handler())`,
          [{kind: 'section', text: `no match in libbpf's SEC() table${near.length ? `; near: ${near.join(', ')}` : ''}`}],
          'libbpf src/libbpf.c section_defs, sec_def_matches',
        ),
      ],
      nearTargets: near,
    }
  }
  const {def} = m
  const target = parseTarget(def, m.target)
  const reasons: Reason[] = []
  const nearTargets: string[] = []
  const d = k.distro.facts
  const up = k.release.upstreamVersion

  // bpf() at all
  if (d.bpf?.value === false) {
    reasons.push(reason('bpf', 'fail', `${distroLabel(k)} has no usable BPF`, [distroEvidence(k, d.bpf)], d.bpf.source))
  } else if (!isHeavy(k) && !atLeast(up, k.facts.features.bpfSyscall.since!)) {
    reasons.push(featureRule(k, 'bpf', 'bpfSyscall', 'the bpf() syscall'))
  }

  const progRule = typeRule(k, 'prog', def.progType)
  reasons.push(progRule)
  // Rules about the program type's details are moot when the type itself is missing.
  const progOk = progRule.status !== 'fail'
  const optAttach = def.flags.includes('EXP_ATTACH_OPT')
  if (progOk && def.attachType && !optAttach) {
    reasons.push(typeRule(k, 'attach', def.attachType))
    const f = k.facts.features.expectedAttachType
    if (f.since && !atLeast(up, f.since)) reasons.push(featureRule(k, 'expected-attach-type', 'expectedAttachType', 'the expected_attach_type load attribute'))
  }
  if (progOk && (def.family === 'uprobe' || def.family === 'usdt')) reasons.push(featureRule(k, 'uprobe', 'uprobe', 'BPF programs on uprobes'))
  if (progOk && def.sleepableFeature) {
    // BPF_F_SLEEPABLE itself (5.10) is firm; the later per-hook gates are partly inferred.
    const flag = featureRule(k, 'sleepable', 'sleepable', 'BPF_F_SLEEPABLE')
    reasons.push(flag.status === 'fail' ? flag : featureRule(k, 'sleepable', def.sleepableFeature, `sleepable ${def.base} programs (BPF_F_SLEEPABLE)`))
    if (def.family === 'fentry' || def.family === 'fmod_ret' || def.family === 'lsm') {
      reasons.push(
        reason(
          'sleepable-hook',
          'possible',
          def.family === 'lsm'
            ? 'sleepable LSM programs load only on hooks of the kernel\'s sleepable-hook list'
            : 'sleepable fentry/fexit/fmod_ret programs load only on functions that may sleep (ALLOW_ERROR_INJECTION functions)',
          [],
          'docs.ebpf.io BPF_PROG_LOAD (BPF_F_SLEEPABLE: sleepable programs attach only to hooks that may sleep); kernel kernel/bpf/bpf_lsm.c (sleepable LSM hooks are an allow-list)',
          {check: def.family === 'lsm' ? 'the kernel\'s bpf_lsm sleepable hook list (kernel/bpf/bpf_lsm.c)' : `grep -w ${target.name || '<func>'} /sys/kernel/debug/error_injection/list`},
        ),
      )
    }
  }
  if (progOk && def.flags.includes('XDP_FRAGS')) reasons.push(featureRule(k, 'xdp-frags', 'xdpFrags', 'XDP frags (BPF_F_XDP_HAS_FRAGS)'))

  let kernelBtfFails = false
  if (def.needsKernelBtf) {
    const s = kernelBtfState(k)
    kernelBtfFails = s.state === false
    const note = 'BTF-attached programs need the kernel\'s own BTF; a custom BTF (btf_custom_path) only serves CO-RE relocations and cannot stand in for it'
    if (s.state === true) reasons.push(reason('kernel-btf', 'pass', s.message, s.evidence, s.source, {doubtful: s.doubtful}))
    else if (s.state === false) reasons.push(reason('kernel-btf', 'fail', `no in-kernel BTF: ${s.message}. ${note}`, s.evidence, s.source))
    else reasons.push(reason('kernel-btf', 'unknown', `${s.message}. ${note}`, s.evidence, s.source, {doubtful: s.doubtful, check: 'ls /sys/kernel/btf/vmlinux'}))
  }
  let trampolineFails = false
  if (def.trampoline) {
    const t = trampolineRule(k)
    trampolineFails = t.status === 'fail'
    reasons.push(t)
  }
  // Config the trampoline would need is moot without one.
  const trampolineConfig = new Set(['bpf-jit', 'ftrace-direct-calls'])

  for (const req of k.facts.configRequirements) {
    if (!req.families.includes('*') && !req.families.includes(def.family)) continue
    if (trampolineFails && trampolineConfig.has(req.id)) continue
    if (req.targetPrefix && !(target.category !== undefined ? `${target.category}/` : '').startsWith(req.targetPrefix)) continue
    if (req.nonLsmTargetOnly && (target.name === '' || LSM_TARGET.test(target.name))) continue
    reasons.push(configRule(k, req))
  }
  if (k.facts.lsmList.families.includes(def.family)) reasons.push(lsmActiveRule(k))
  if (progOk && def.family === 'fmod_ret' && target.name !== '' && !LSM_TARGET.test(target.name)) {
    reasons.push(
      reason('error-injection', 'possible', `fmod_ret attaches only to LSM hooks and ALLOW_ERROR_INJECTION functions: ${target.name} must be on the kernel's error-injection list`, [], 'kernel kernel/bpf/verifier.c check_attach_btf_id (fmod_ret: LSM hooks and ALLOW_ERROR_INJECTION functions only); docs.ebpf.io program type BPF_PROG_TYPE_TRACING', {
        check: `grep -w ${target.name} /sys/kernel/debug/error_injection/list`,
      }),
    )
  }

  // A BTF target cannot be looked up without BTF, and does not matter when the kernel has none.
  const targetMoot = def.btfTarget !== null && kernelBtfFails && !k.symbols
  if (!opts.noTarget && progOk && !targetMoot) {
    const t = k.siblings ? siblingTargetRule(k, (p) => targetRule(p, def, target, nearTargets)) : targetRule(k, def, target, nearTargets)
    if (t) reasons.push(t)
  }

  // Notes that never change the verdict.
  if (def.progType === 'KPROBE') {
    const f = k.facts.features.kprobeKernVersionDropped
    if (!atLeast(up, f.since!)) {
      reasons.push(reason('kern-version', 'info', `kernels before ${f.since} check kern_version against LINUX_VERSION_CODE at load; libbpf fills it from uname (Ubuntu /proc/version_signature, Debian uname -v)`, [versionEvidence(k, 'kern_version check dropped', f.since)], f.source))
    }
  }
  if (def.family === 'usdt' && !atLeast(up, k.facts.features.uprobeRefCtr.since!)) {
    const f = k.facts.features.uprobeRefCtr
    reasons.push(reason('usdt-semaphores', 'info', `USDT semaphores need uprobe ref_ctr_offset (mainline ${f.since})`, [versionEvidence(k, 'ref_ctr_offset', f.since)], f.source))
  }
  const mem = k.facts.features.memcgAccounting
  if (!isHeavy(k) && !atLeast(up, mem.since!)) {
    reasons.push(reason('memlock', 'info', `on kernels before ${mem.since} BPF memory counts against RLIMIT_MEMLOCK (memcg accounting came in ${mem.since}): raise the limit`, [versionEvidence(k, 'memcg accounting', mem.since)], mem.source))
  }
  return {section, def, target, reasons, nearTargets}
}

/** Formats a version list for messages. */
export function versionText(v: readonly number[]): string {
  return formatVersion(v)
}
