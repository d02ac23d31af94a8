/**
 * The rules about what a program's instructions need (src/insn/decode.ts reads them):
 * helpers, map types, global data, BPF-to-BPF calls, tail calls, loops, program size,
 * instruction-set level, kfuncs, and the func/line info libbpf may leave out.
 *
 * Authority, strongest first, as for the section rules (rules.ts):
 *   1. the kernel's own BTF: its `enum bpf_func_id` and `enum bpf_map_type` list every
 *      helper and map type it has, its FUNCs (and `bpf_kfunc` tags) its kfuncs;
 *   2. mainline versions from facts.json (`helpers`, `mapTypes`, `insnFeatures`), through
 *      the same version gate as the section rules: distros that backport BPF make a
 *      newer feature `unknown`, doubtful versions never fail.
 *
 * libbpf's own fix-ups count: bpf_probe_read_{kernel,user}[_str] become
 * bpf_probe_read[_str] where the kernel lacks them (libbpf.c bpf_object__sanitize_prog),
 * global-data maps are skipped and only a program that references one fails
 * (bpf_object__create_maps, poison_map_ldimm64), func/line info is left out where the
 * kernel has no BTF_KIND_FUNC (bpf_program_reloc_btf_ext).
 *
 * What the instructions name is not always what runs: objects built to run on many
 * kernels guard newer calls with CO-RE existence checks or `.kconfig` values, and the
 * branch not taken is dead code the verifier never checks. kcompat does not follow
 * branches, so in such objects a missing helper, map type or kfunc is `unknown`, with
 * the guard named, instead of `unsupported`.
 */
import type {KernelProfile} from './kernel.js'
import type {BpfObjectInfo} from './object.js'
import type {Evidence, Reason, ReasonStatus, Suggestion} from './types.js'
import {kernelBtfState, moduleBtfState, versionGate} from './rules.js'
import {type ObjectNeeds, type ProgramNeeds, readObjectNeeds} from '../insn/decode.js'
import {kernelBpf, type KernelBpf} from '../insn/kernel.js'
import {HELPER_NAMES} from '../insn/enums.js'
import type {InsnFeatureKey} from '../kernel/facts/index.js'
import {acrossSeries, helperForType, helperWithoutSleep, loadHelperProtos, type SeriesAnswer} from '../kernel/facts/helper-protos.js'
import {btfTargetName, matchSection, parseTarget, type SectionMatch} from '../kernel/sections.js'
import {Kind, KIND_NAMES} from '../btf/wire.js'
import {compareVersions} from '../kernel/facts/version.js'

const KERNEL_SOURCE = 'this kernel (archive / machine)'
const LIBBPF_SANITIZE = 'libbpf src/libbpf.c bpf_object__sanitize_prog (bpf_probe_read_{kernel,user}[_str] fall back to bpf_probe_read[_str])'
/** Helpers libbpf rewrites for kernels without them, and what to. */
const PROBE_READ_FALLBACK: Record<string, string> = {
  probe_read_kernel: 'probe_read',
  probe_read_user: 'probe_read',
  probe_read_kernel_str: 'probe_read_str',
  probe_read_user_str: 'probe_read_str',
}
/** Older equivalents worth naming when a helper is missing. */
const OLDER_HELPER: Record<string, string> = {
  ringbuf_output: 'bpf_perf_event_output() on a BPF_MAP_TYPE_PERF_EVENT_ARRAY map (4.4)',
  ringbuf_reserve: 'bpf_perf_event_output() on a BPF_MAP_TYPE_PERF_EVENT_ARRAY map (4.4), with a per-CPU array as scratch space',
  ringbuf_submit: 'bpf_perf_event_output() on a BPF_MAP_TYPE_PERF_EVENT_ARRAY map (4.4)',
  ringbuf_discard: 'bpf_perf_event_output() on a BPF_MAP_TYPE_PERF_EVENT_ARRAY map (4.4)',
  get_current_task_btf: 'bpf_get_current_task() (4.8) with BPF_CORE_READ',
  ktime_get_boot_ns: 'bpf_ktime_get_ns() (4.1), which does not count suspend',
  ktime_get_coarse_ns: 'bpf_ktime_get_ns() (4.1)',
  probe_read_kernel: 'bpf_probe_read() (4.1)',
  probe_read_user: 'bpf_probe_read() (4.1)',
  get_func_ip: 'PT_REGS_IP(ctx) in a kprobe',
  loop: 'a bounded loop (5.3) or an unrolled one',
  for_each_map_elem: 'iterating the keys with bpf_map_get_next_key from user space',
}
const OLDER_MAP: Record<string, string> = {
  RINGBUF: 'a perf buffer: BPF_MAP_TYPE_PERF_EVENT_ARRAY with bpf_perf_event_output() (4.4); libbpf-tools switch at run time (compat.bpf.h, bpf_buffer__new)',
  BLOOM_FILTER: 'a BPF_MAP_TYPE_HASH keyed by the value',
  TASK_STORAGE: 'a BPF_MAP_TYPE_HASH keyed by pid',
  CGRP_STORAGE: 'a BPF_MAP_TYPE_HASH keyed by cgroup id',
  LRU_HASH: 'a BPF_MAP_TYPE_HASH',
}

/** uapi bpf.h map flag bits that have a version fact. */
const MAP_FLAG_BITS: Record<string, number> = {NO_PREALLOC: 1 << 0, RDONLY_PROG: 1 << 7, WRONLY_PROG: 1 << 8, MMAPABLE: 1 << 10, INNER_MAP: 1 << 12}

const needsMemo = new WeakMap<BpfObjectInfo, ObjectNeeds>()

/** The object's needs, read once per object. */
export function objectNeeds(obj: BpfObjectInfo): ObjectNeeds {
  let n = needsMemo.get(obj)
  if (!n) needsMemo.set(obj, (n = readObjectNeeds(obj.elf)))
  return n
}

function reason(rule: string, status: ReasonStatus, message: string, evidence: Evidence[], source: string, extra: Partial<Reason> = {}): Reason {
  return {rule, status, message, evidence, source, ...extra}
}

function kernelVocabulary(k: KernelProfile): KernelBpf | undefined {
  const btf = k.fullBtf()
  return btf ? kernelBpf(btf) : undefined
}

function gate(k: KernelProfile, rule: string, key: InsnFeatureKey, what: string): Reason {
  return versionGate(k, rule, what, k.facts.insnFeatures[key])
}

/** Relaxes a firm failure when the object guards its newer code paths. */
function guarded(r: Reason, guards: string[]): Reason {
  if (r.status !== 'fail' || guards.length === 0) return r
  return {
    ...r,
    status: 'unknown',
    message: `${r.message} — unless that code is dead on this kernel: the object chooses its path with ${guards.join(', ')}, and kcompat does not follow branches`,
    check: 'a test load on such a machine (the verifier skips dead branches)',
  }
}

function helperRules(k: KernelProfile, p: ProgramNeeds, vocab: KernelBpf | undefined, guards: string[], suggest: Suggestion[], sec: SectionMatch | undefined): Reason[] {
  const out: Reason[] = []
  const passed: string[] = []
  /** Helpers the kernel has (or libbpf calls instead), to check against the program type. */
  const called: Array<{name: string; id: number; as?: string}> = []
  const btfEv = (has: boolean, name: string): Evidence => ({kind: 'btf', text: `enum bpf_func_id ${has ? 'has' : 'lacks'} BPF_FUNC_${name} (${k.btfOrigin})`})
  for (const h of p.helpers) {
    const fact = k.facts.helpers[h.name]
    const label = `bpf_${h.name}()`
    const fallback = PROBE_READ_FALLBACK[h.name]
    let r: Reason
    if (vocab?.helpers) {
      const has = vocab.helpers.has(h.name)
      r = has
        ? reason('helper', 'pass', `${label} is in this kernel's enum bpf_func_id`, [btfEv(true, h.name)], KERNEL_SOURCE)
        : reason('helper', 'fail', `this kernel has no ${label}${fact?.since ? ` (mainline ${fact.since})` : ''}: its enum bpf_func_id lacks it`, [btfEv(false, h.name)], KERNEL_SOURCE)
    } else if (!fact) {
      r = reason('helper', 'unknown', `${label} (helper id ${h.id}): kcompat has no fact about it`, [], 'facts.json')
    } else {
      r = versionGate(k, 'helper', label, fact)
    }
    if (r.status !== 'pass' && fallback) {
      const base = vocab?.helpers ? vocab.helpers.has(fallback) : true
      if (base) {
        out.push(
          reason('helper', 'pass', `${label} is missing, and libbpf calls bpf_${fallback}() instead on kernels without it`, r.evidence, `${LIBBPF_SANITIZE}; ${r.source}`),
        )
        called.push({name: fallback, id: HELPER_NAMES.indexOf(fallback), as: h.name})
        continue
      }
    }
    if (r.status === 'pass') {
      passed.push(h.name)
      called.push({name: h.name, id: h.id})
      continue
    }
    const older = OLDER_HELPER[h.name]
    if (older) suggest.push({kind: 'code', text: `instead of ${label}: ${older}`})
    out.push(guarded(r, guards))
  }
  if (passed.length > 0) {
    const src = vocab?.helpers ? KERNEL_SOURCE : 'facts.json helpers (BCC docs/kernel-versions.md)'
    out.unshift(reason('helper', 'pass', `${passed.length} helper${passed.length > 1 ? 's' : ''} available: ${passed.map((n) => `bpf_${n}`).join(', ')}`, [], src))
  }
  if (sec) out.push(...helperTypeRules(k, called, sec, guards, suggest))
  return out
}

const VERIFIER_HELPER = 'kernel/bpf/verifier.c check_helper_call (a helper the program type\'s get_func_proto does not return: "unknown func bpf_<name>#<id>", EINVAL)'
/** Helpers of the shared base (kernel/bpf/helpers.c bpf_base_func_proto) to name instead. */
const TYPE_ALTERNATIVE: Record<string, string> = {
  perf_event_output: 'bpf_ringbuf_output() on a BPF_MAP_TYPE_RINGBUF map: every program type may call it (bpf_base_func_proto, 5.8)',
  probe_read: 'bpf_probe_read_kernel() or bpf_probe_read_user(): in bpf_base_func_proto (privileged loaders) on 6.1',
  probe_read_str: 'bpf_probe_read_kernel_str() or bpf_probe_read_user_str(): in bpf_base_func_proto (privileged loaders) on 6.1',
  get_current_task: 'bpf_get_current_task_btf(), in bpf_base_func_proto on 6.1 (privileged loaders)',
}

/**
 * Per-program-type helper allow-lists. A helper the kernel has may still be refused for
 * the program type: the verifier asks the type's get_func_proto (kprobe_prog_func_proto,
 * sk_filter_func_proto, xdp_func_proto, ...) and refuses a helper it does not return.
 * Two helpers are checked further, as check_helper_call does: bpf_d_path only where its
 * `allowed` callback agrees (a tracing program on a function of btf_allowlist_d_path, an
 * iterator, an lsm program on a sleepable hook), bpf_get_func_ip only in the program
 * types check_get_func_ip accepts (tracing ones with a trampoline). The lists are read
 * from the kernel source of the series kcompat has (src/kernel/facts/helper-protos.ts
 * says how a kernel between or outside them is judged); a distro that backports BPF may
 * have widened them, so there a refusal is `unknown`.
 */
function helperTypeRules(k: KernelProfile, called: Array<{name: string; id: number; as?: string}>, sec: SectionMatch, guards: string[], suggest: Suggestion[]): Reason[] {
  if (called.length === 0) return []
  const progType = sec.def.progType
  const data = loadHelperProtos()
  const out: Reason[] = []
  const heavy = k.distro.facts.backports?.value === 'heavy'
  const up = k.release.upstreamVersion
  const allowed: string[] = []
  const refuse = (a: Exclude<SeriesAnswer, {state: 'allowed' | 'no-data'}>, message: string, verifierSays: string, ev: Evidence[], source: string): Reason => {
    const elsewhere = a.allowedIn.length > 0 ? `; Linux ${a.allowedIn.join(', ')} allow${a.allowedIn.length === 1 ? 's' : ''} it` : ''
    const src = `${a.read.map((v) => data.kernels[v]!.source.split(':')[0]).join('; ')}: ${source}`
    if (a.state === 'unsettled') {
      return reason('helper-type', 'unknown', `${message} on Linux ${a.refusedIn.join(', ')}${elsewhere}, and kcompat has not read the source of this kernel's series`, ev, src, {check: 'a test load on such a machine'})
    }
    const r = reason('helper-type', 'fail', `${message} on this kernel (Linux ${a.read.join(', ')}): the verifier refuses the call (${verifierSays})${elsewhere}`, ev, src)
    return heavy ? {...r, status: 'unknown', message: `${r.message} — unless ${k.release.distroName} backported it`, check: 'a test load on such a machine'} : r
  }
  for (const h of called) {
    const label = `bpf_${h.name}()${h.as ? ` (libbpf's stand-in for bpf_${h.as}())` : ''}`
    const callEv: Evidence = {kind: 'object', text: `call bpf_${h.name}#${h.id} in a BPF_PROG_TYPE_${progType} program (${sec.def.name})`}
    const a = helperForType(data, progType, h.name, up)
    if (a.state === 'no-data') return []
    if (a.state !== 'allowed') {
      const at = data.kernels[a.read[0]!]!.progTypes[progType]!
      const ev: Evidence[] = [{kind: 'version', text: `${at.proto}() (${at.file}) of Linux ${a.read.join(' and ')} does not return bpf_${h.name}`}, callEv]
      const other = TYPE_ALTERNATIVE[h.name]
      if (other) suggest.push({kind: 'code', text: `instead of bpf_${h.name}() in a BPF_PROG_TYPE_${progType} program: ${other}`})
      else {
        const types = Object.entries(data.kernels[a.read[0]!]!.progTypes).filter(([, p]) => p.helpers.includes(h.name)).map(([t]) => t)
        if (types.length > 0) suggest.push({kind: 'code', text: `bpf_${h.name}() is for ${types.length > 8 ? `${types.slice(0, 8).join(', ')}, ...` : types.join(', ')} programs (Linux ${a.read[0]})`})
      }
      out.push(guarded(refuse(a, `BPF_PROG_TYPE_${progType} programs cannot call ${label}: ${at.proto}() does not offer it`, `"unknown func bpf_${h.name}#${h.id}"`, ev, `${at.file} ${at.proto}; ${VERIFIER_HELPER}`), guards))
      continue
    }
    // the checks after get_func_proto
    let extra: Reason | undefined
    if (h.name === 'd_path' && !(progType === 'TRACING' && sec.def.attachType === 'BPF_TRACE_ITER')) {
      const target = parseTarget(sec.def, sec.target)
      const fn = progType === 'LSM' ? `bpf_lsm_${target.name}` : target.name
      if ((progType === 'TRACING' || progType === 'LSM') && target.name) {
        const key = progType === 'LSM' ? 'lsmHooks' : 'tracingTargets'
        const d = acrossSeries(data, up, (kp) => kp.checks.d_path[key].includes(fn))
        if (d.state === 'refused' || d.state === 'unsettled') {
          const list = progType === 'LSM' ? 'the sleepable LSM hooks (kernel/bpf/bpf_lsm.c sleepable_lsm_hooks)' : 'btf_allowlist_d_path (kernel/trace/bpf_trace.c)'
          const ev: Evidence[] = [{kind: 'version', text: `${fn} is not in ${list} of Linux ${d.read.join(' and ')}`}, callEv]
          extra = refuse(d, `bpf_d_path() is allowed only where bpf_d_path_allowed() agrees, and ${fn} is not in ${list}`, '"helper call is not allowed in probe"', ev, data.kernels[d.read[0]!]!.checks.d_path.source)
          suggest.push({kind: 'code', text: `bpf_d_path(): attach to one of ${data.kernels[d.read[0]!]!.checks.d_path[key].slice(0, 9).join(', ')}${data.kernels[d.read[0]!]!.checks.d_path[key].length > 9 ? ', ...' : ''} (Linux ${d.read[0]})`})
        }
      }
    } else if (h.name === 'get_func_ip') {
      const trampoline = ['BPF_TRACE_FENTRY', 'BPF_TRACE_FEXIT', 'BPF_MODIFY_RETURN'].includes(sec.def.attachType ?? '')
      const d = acrossSeries(data, up, (kp) => kp.checks.get_func_ip.progTypes.includes(progType) && (progType !== 'TRACING' || trampoline))
      if (d.state === 'refused' || d.state === 'unsettled') {
        const ev: Evidence[] = [{kind: 'version', text: `check_get_func_ip of Linux ${d.read.join(' and ')} accepts ${data.kernels[d.read[0]!]!.checks.get_func_ip.progTypes.join(', ')} (TRACING: fentry/fexit/fmod_ret)`}, callEv]
        extra = refuse(d, `bpf_get_func_ip() is not supported for ${progType === 'TRACING' ? `${sec.def.name} (tracing programs without a trampoline)` : `BPF_PROG_TYPE_${progType}`}`, progType === 'TRACING' ? '"supported only for fentry/fexit/fmod_ret programs"' : '"not supported for program type"', ev, data.kernels[d.read[0]!]!.checks.get_func_ip.source)
      }
    }
    // a helper that might sleep, in a program loaded without BPF_F_SLEEPABLE
    if (!extra && !sec.def.flags.includes('SLEEPABLE')) {
      const d = helperWithoutSleep(data, progType, h.name, up)
      if (d.state === 'refused' || d.state === 'unsettled') {
        const kp = data.kernels[d.read[0]!]!
        const target = sec.target ? `/${sec.target}` : ''
        const twin = matchSection(`${sec.def.base}.s${target || '/x'}`)
        // a released libbpf's sleepable twin of the section (not the newest ones, tracepoint.s, tp_btf.s)
        const sleepy = twin && twin.def.flags.includes('SLEEPABLE') && twin.def.progType === progType && twin.def.libbpf.startsWith('v') ? `SEC("${sec.def.base}.s${target}")` : undefined
        const ev: Evidence[] = [{kind: 'version', text: `${kp.progTypes[progType]!.proto}() of Linux ${d.read.join(' and ')} offers bpf_${h.name} to BPF_PROG_TYPE_${progType} programs only when they are sleepable (its proto might sleep)`}, callEv]
        extra = refuse(d, `bpf_${h.name}() might sleep, and needs a sleepable program${sleepy ? ` (${sleepy})` : ''}: section '${sec.def.name.replace(/\+$/, '')}' is not sleepable`, `"helper call might sleep in a non-sleepable prog"; kernels before the might_sleep flag offer no proto to such a program: "unknown func bpf_${h.name}#${h.id}"`, ev, kp.checks.sleepable!.source)
        suggest.push({kind: 'code', text: sleepy ? `bpf_${h.name}(): load the program as sleepable, ${sleepy}` : `bpf_${h.name}(): call it from a sleepable program (fentry.s, fexit.s, lsm.s, iter.s, uprobe.s): BPF_PROG_TYPE_${progType} programs of '${sec.def.name.replace(/\+$/, '')}' cannot sleep`})
      }
    }
    if (extra) out.push(guarded(extra, guards))
    else allowed.push(h.name)
  }
  if (out.length === 0 && allowed.length > 0) {
    out.push(reason('helper-type', 'pass', `BPF_PROG_TYPE_${progType} programs may call ${allowed.map((n) => `bpf_${n}`).join(', ')}`, [], `${Object.values(data.kernels).map((x) => x.source.split(':')[0]).join('; ')}; ${VERIFIER_HELPER}`))
  }
  return out
}

function mapRules(k: KernelProfile, p: ProgramNeeds, objN: ObjectNeeds, vocab: KernelBpf | undefined, guards: string[], suggest: Suggestion[]): Reason[] {
  const out: Reason[] = []
  const used = new Set(p.maps)
  const seen = new Set<string>()
  for (const m of objN.maps) {
    if (m.type === 0 || seen.has(m.typeName)) continue
    const label = `BPF_MAP_TYPE_${m.typeName}`
    const fact = k.facts.mapTypes[m.typeName]
    let r: Reason
    if (vocab?.mapTypes) {
      r = vocab.mapTypes.has(m.typeName)
        ? reason('map-type', 'pass', `${label}: in this kernel's enum bpf_map_type`, [], KERNEL_SOURCE)
        : reason('map-type', 'fail', `this kernel has no ${label}${fact?.since ? ` (mainline ${fact.since})` : ''}: its enum bpf_map_type lacks it`, [{kind: 'btf', text: `enum bpf_map_type lacks ${label} (${k.btfOrigin})`}], KERNEL_SOURCE)
    } else if (!fact) {
      r = reason('map-type', 'unknown', `${label}: kcompat has no fact about it`, [], 'facts.json')
    } else {
      r = versionGate(k, 'map-type', label, fact)
    }
    if (r.status === 'pass') continue
    seen.add(m.typeName)
    const who = used.has(m.name) ? `map '${m.name}' of this program` : `map '${m.name}' of the object (libbpf creates every map when it loads the object, unless the application calls bpf_map__set_autocreate(false))`
    r.message = `${who}: ${r.message}`
    r.evidence.push({kind: 'object', text: `${m.section} ${m.name}: ${label}`})
    const older = OLDER_MAP[m.typeName]
    if (older) suggest.push({kind: 'code', text: `instead of ${label}: ${older}`})
    out.push(guarded(r, guards))
  }
  // map flags: a flag the kernel does not know makes map creation fail with EINVAL
  const flagSeen = new Set<string>()
  for (const m of objN.maps) {
    for (const [name, bit] of Object.entries(MAP_FLAG_BITS)) {
      if ((m.flags & bit) === 0 || flagSeen.has(name)) continue
      flagSeen.add(name)
      const fact = k.facts.mapFlags[name]
      if (!fact) continue
      const r = versionGate(k, 'map-flags', `BPF_F_${name}`, fact)
      if (r.status === 'pass') continue
      r.message = `map '${m.name}'${used.has(m.name) ? ' of this program' : ' of the object'} is created with ${r.message}`
      r.evidence.push({kind: 'object', text: `${m.section} ${m.name}: map_flags 0x${m.flags.toString(16)}`})
      out.push(guarded(r, guards))
    }
  }
  const kinds = new Set(objN.maps.filter((m) => m.type !== 0).map((m) => m.typeName))
  if (out.length === 0 && kinds.size > 0) {
    out.push(reason('map-type', 'pass', `map types available: ${[...kinds].join(', ')}`, [], vocab?.mapTypes ? KERNEL_SOURCE : 'facts.json mapTypes'))
  }
  return out
}

function kfuncRules(k: KernelProfile, p: ProgramNeeds, vocab: KernelBpf | undefined, guards: string[]): Reason[] {
  if (p.kfuncs.length === 0) return []
  const g = gate(k, 'kfunc', 'kfuncs', 'calling kernel functions (kfuncs)')
  if (g.status !== 'pass') return [g]
  const out: Reason[] = []
  const src = 'libbpf src/libbpf.c bpf_object__resolve_ksym_func_btf_id (a kfunc is looked up by name in vmlinux BTF, then module BTF)'
  if (!k.symbols) {
    return [reason('kfunc', 'unknown', `kfuncs ${p.kfuncs.join(', ')} cannot be looked up: kcompat has no BTF for this kernel`, [], src)]
  }
  const moduleState = moduleBtfState(k)
  for (const name of p.kfuncs) {
    const weak = p.weakKfuncs.includes(name)
    const id = k.symbols.funcs.get(name)
    if (id !== undefined) {
      if (vocab?.taggedKfuncs && !vocab.taggedKfuncs.has(name)) {
        out.push(guarded(reason('kfunc', 'fail', `${name} is a kernel function but not a kfunc of this kernel (no bpf_kfunc tag on it)`, [{kind: 'btf', text: `FUNC ${name} (id ${id}) without DECL_TAG bpf_kfunc in ${k.btfOrigin}`}], src), guards))
      } else {
        out.push(
          reason('kfunc', vocab?.taggedKfuncs ? 'pass' : 'pass', `kfunc ${name} is in this kernel's BTF${vocab?.taggedKfuncs ? ' (tagged bpf_kfunc)' : ''}`, [{kind: 'btf', text: `FUNC ${name} (id ${id}) in ${k.btfOrigin}`}], src),
        )
      }
      continue
    }
    const ev: Evidence[] = [{kind: 'btf', text: `no FUNC ${name} in ${k.btfOrigin}`}]
    if (weak) {
      out.push(reason('kfunc', 'pass', `kfunc ${name} is not in this kernel's BTF; it is declared __weak, so libbpf resolves it to 0 and the program must test it (bpf_ksym_exists)`, ev, src))
    } else if (moduleState.state === false) {
      out.push(guarded(reason('kfunc', 'fail', `kfunc ${name} is not in this kernel's BTF (and the kernel has no module BTF)`, ev, src), guards))
    } else {
      out.push(
        guarded(
          reason('kfunc', 'possible', `kfunc ${name} is not in this kernel's vmlinux BTF; it loads only if a loaded module's BTF defines it`, ev, src, {
            check: `for f in /sys/kernel/btf/*; do bpftool btf dump file $f 2>/dev/null | grep -q "FUNC '${name}'" && echo $f; done`,
          }),
          guards,
        ),
      )
    }
  }
  return out
}

const CTX_SOURCE = 'kernel/bpf/btf.c btf_ctx_access ("func \'%s\' doesn\'t have %d-th argument", then the verifier\'s "invalid bpf_context access"); for raw_tp, kernel/trace/bpf_trace.c __bpf_probe_register (EINVAL when the program reads past the tracepoint\'s arguments)'

/**
 * Context arguments of BTF-typed programs. A tp_btf, fentry/fexit, fmod_ret or lsm
 * program reads its arguments as u64 slots of its context; the verifier
 * (btf_ctx_access) allows slot i only when the kernel's prototype has an argument i:
 * for tp_btf the `btf_trace_<tp>` typedef's prototype minus its leading `void *__data`,
 * for fentry/fexit/fmod_ret the target FUNC's prototype, for lsm `bpf_lsm_<hook>`'s.
 * fexit, fmod_ret and lsm programs may also read the slot after the last argument (the
 * return value). raw_tp programs are refused at attach for the same overreach.
 * A failure is firm even in an object that chooses its path per kernel when the slot is
 * read on the path every run takes (ProgramNeeds.ctxSureSlot, with this kernel's
 * LINUX_KERNEL_VERSION): libbpf-tools' block tracepoints read argument 2 when
 * LINUX_KERNEL_VERSION < 5.11, but Debian 11's 5.10 has the 5.11 one-argument
 * tracepoints (its include/trace/events/block.h), and the kernel refuses them.
 */
function ctxArgsRule(k: KernelProfile, p: ProgramNeeds, objN: ObjectNeeds, section: string, guards: string[]): Reason | undefined {
  if (!p.ctxSlot) return undefined
  const m = matchSection(section)
  if (!m) return undefined
  const {def} = m
  const target = parseTarget(def, m.target)
  let name: string | undefined
  let dropFirst = false
  if (def.family === 'tp_btf' || def.family === 'fentry' || def.family === 'fmod_ret' || def.family === 'lsm') {
    if (target.module && target.module !== 'vmlinux') return undefined
    name = btfTargetName(def, target)
    dropFirst = def.family === 'tp_btf'
  } else if (def.family === 'raw_tracepoint') {
    if (target.name === '') return undefined
    name = `btf_trace_${target.name}`
    dropFirst = true
  } else return undefined
  const btf = k.fullBtf()
  if (!btf || !name) return undefined
  const kind = dropFirst ? Kind.TYPEDEF : Kind.FUNC
  const id = btf.findByName(name, kind)
  if (id === undefined) return undefined
  let t = btf.typeById(btf.skipTypedefsAndModifiers(kind === Kind.FUNC ? (btf.typeById(id) as {type: number}).type : id))
  if (t.kind === Kind.PTR) t = btf.typeById(btf.skipTypedefsAndModifiers(t.type))
  if (t.kind !== Kind.FUNC_PROTO) return undefined
  const nargs = t.params.length - (dropFirst ? 1 : 0)
  const retSlot = def.attachType === 'BPF_TRACE_FEXIT' || def.attachType === 'BPF_MODIFY_RETURN' || def.family === 'lsm'
  const allowed = nargs + (retSlot ? 1 : 0)
  // libbpf sets LINUX_KERNEL_VERSION to KERNEL_VERSION(a, b, min(c, 255)) of the running kernel
  const [a = 0, b = 0, c = 0] = k.release.upstreamVersion
  const lkv = BigInt((a << 16) + (b << 8) + Math.min(c, 255))
  const lkvValues = new Map([['LINUX_KERNEL_VERSION', lkv]])
  const useLkv = objN.kconfigExterns.includes('LINUX_KERNEL_VERSION')
  const folded = useLkv ? objN.ctxSlotOn(p, lkvValues) : p.ctxSlot
  if (!folded) return undefined
  const sure = useLkv ? objN.ctxSureSlotOn(p, lkvValues) : p.ctxSureSlot
  const slot = folded.index
  const ev: Evidence[] = [
    {kind: 'btf', text: `${dropFirst ? 'TYPEDEF' : 'FUNC'} ${name} (id ${id}) in ${k.btfOrigin}: ${nargs} argument${nargs === 1 ? '' : 's'}${retSlot ? ' and the return value' : ''}`},
    {kind: 'object', text: `the program loads context slot ${slot} (argument ${slot + 1}) at ${folded.at}${folded !== p.ctxSlot ? ` (on the paths LINUX_KERNEL_VERSION ${a}.${b}.${Math.min(c, 255)} takes)` : ''}`},
  ]
  if (slot < allowed) return reason('ctx-args', 'pass', `reads ${slot + 1} context slot${slot ? 's' : ''}; ${name} has ${nargs} argument${nargs === 1 ? '' : 's'}${retSlot ? ' and a return value' : ''} on this kernel`, ev, CTX_SOURCE)
  const what = def.family === 'raw_tracepoint' ? 'attaching fails with EINVAL' : 'the verifier refuses it (invalid bpf_context access)'
  if (sure && sure.index >= allowed) {
    const ss = sure.index
    const sureEv: Evidence = {kind: 'object', text: `slot ${ss} (argument ${ss + 1}) is loaded at ${sure.at} on the path every run takes${useLkv ? ` with LINUX_KERNEL_VERSION ${a}.${b}.${Math.min(c, 255)}` : ''} (no undecided or CO-RE-patched branch before it)`}
    return reason('ctx-args', 'fail', `the program reads argument ${ss + 1} of its context on every run, but ${name} has only ${nargs} argument${nargs === 1 ? '' : 's'}${retSlot ? ' and a return value' : ''} on this kernel: ${what}`, [ev[0]!, sureEv], CTX_SOURCE)
  }
  return guarded(
    reason('ctx-args', 'fail', `the program reads argument ${slot + 1} of its context, but ${name} has only ${nargs} argument${nargs === 1 ? '' : 's'}${retSlot ? ' and a return value' : ''} on this kernel: ${what}`, ev, CTX_SOURCE),
    guards,
  )
}

const CTX_MOVED_SOURCE =
  'kernel/bpf/verifier.c check_mem_access, then check_ptr_off_reg (__check_ptr_off_reg) on a PTR_TO_CTX register, of Debian linux-source-6.1 6.1.192-2 and linux-source-6.12 6.12.117 ("dereference of modified ctx ptr R%d off=%d disallowed", "negative offset ctx ptr R%d off=%d disallowed", "variable ctx access var_off=%s disallowed"); the same test since Linux 4.14\'s check_mem_access (bpf/verifier: rework value tracking: "ctx+const is allowed, ctx+const+const is not")'

/**
 * A load or store through a context pointer that arithmetic moved. The verifier keeps
 * the amount a register was moved by (reg->off, or var_off when it is not a constant)
 * apart from the instruction's own offset, and check_mem_access refuses any context
 * access through a register whose amount is not 0 (check_ptr_off_reg), in every program
 * type and on every kernel since 4.14: the offset must be in the instruction
 * (`*(u64 *)(r1 + 8)`), not in the register (`r1 += 8; *(u64 *)(r1 + 0)`). A plain copy
 * (`r6 = r1`) keeps the amount at 0 and is fine. clang emits the moved form for an index
 * it cannot fold, such as libbpf-tools' bitesize `ctx[LINUX_KERNEL_VERSION < 5.11 ? 1 :
 * 0]`: 0 on 6.1, 8 on Debian 11's 5.10, which refuses it ("dereference of modified ctx
 * ptr R1 off=8 disallowed"). Read on this kernel's LINUX_KERNEL_VERSION path (as
 * ctxArgsRule does): on the path every run takes, with a known amount, `unsupported`;
 * elsewhere (after a branch kcompat cannot decide, or by an amount it does not know)
 * `unknown`, since the verifier may prune that branch or know the amount to be 0.
 */
function ctxMovedRule(k: KernelProfile, p: ProgramNeeds, objN: ObjectNeeds): Reason | undefined {
  const [a = 0, b = 0, c = 0] = k.release.upstreamVersion
  const useLkv = objN.kconfigExterns.includes('LINUX_KERNEL_VERSION')
  const lkvText = useLkv ? ` with LINUX_KERNEL_VERSION ${a}.${b}.${Math.min(c, 255)}` : ''
  const moved = useLkv ? objN.ctxMovedOn(p, new Map([['LINUX_KERNEL_VERSION', BigInt((a << 16) + (b << 8) + Math.min(c, 255))]])) : p.ctxMoved
  if (moved.length === 0) return undefined
  const firm = moved.find((m) => m.sure && m.moved !== null)
  const m = firm ?? moved[0]!
  const by = m.moved === null ? 'an amount kcompat does not follow' : `${m.moved} bytes`
  const said = m.moved === null ? 'variable ctx access var_off=... disallowed' : m.moved < 0 ? `negative offset ctx ptr R${m.reg} off=${m.moved} disallowed` : `dereference of modified ctx ptr R${m.reg} off=${m.moved} disallowed`
  const ev: Evidence[] = [{kind: 'object', text: `${m.access} through r${m.reg}, the context pointer moved by ${by}, at ${m.at}${m.sure ? ` on the path every run takes${lkvText}` : lkvText ? ` (on the paths${lkvText} takes)` : ''}`}]
  if (firm) {
    return reason('ctx-pointer', 'fail', `the program ${m.access === 'load' ? 'reads' : 'writes'} its context through a pointer moved by ${by} on every run: the verifier refuses any context access whose offset is not in the instruction ("${said}")`, ev, CTX_MOVED_SOURCE, {})
  }
  const why = m.moved === null ? 'kcompat does not know the amount, which the verifier may know to be 0' : 'on a path the verifier may prune (after a branch kcompat cannot decide)'
  return reason('ctx-pointer', 'unknown', `the program ${m.access === 'load' ? 'reads' : 'writes'} its context through a pointer moved by ${by}, which the verifier refuses ("${said}") — ${why}`, ev, CTX_MOVED_SOURCE, {
    check: 'a test load on such a machine',
  })
}

const CTX_TYPE_SOURCE =
  'kernel/bpf/btf.c btf_ctx_access of Debian linux-source-6.1 6.1.192-2 and linux-source-6.12 6.12.117 (kernel/bpf/verifier.c check_ctx_access: "invalid bpf_context access" after its message)'

/**
 * The types of the context arguments a BTF-typed program reads, as the verifier's
 * btf_ctx_access judges each load `*(uN *)(ctx + off)` against the kernel's prototype
 * (the same one ctxArgsRule counts):
 * - the offset must be a multiple of 8 ("func '%s' offset %d is not multiple of 8");
 * - a slot whose argument is a small int (at most 8 bytes), an enum or a struct passed by
 *   value is a scalar, and any read of it is accepted;
 * - any other non-pointer (a union by value, a float, a wider int) is refused ("arg%d
 *   '%s' has type %s. Only pointer access is allowed");
 * - a pointer to void or to an int is accepted as such; a pointer to anything but a
 *   struct or union (a pointer, an enum, a function, a FWD, an array) is refused ("arg%d
 *   type %s is not a struct");
 * - fmod_ret's return slot must be a small int ("ret type %s not allowed for fmod_ret");
 * - since 6.12 (not in 6.1) a pointer argument must be read with 8 bytes ("size %d must
 *   be 8").
 * btf_ctx_access only loosened from 5.5 to 6.1 (int pointers, enums), so its 6.1
 * refusals hold for older kernels; 6.12 refused the same; beyond 6.12 a refusal is
 * `unknown`. libbpf-tools read every argument as 8 bytes (BPF_PROG), so the narrow reads
 * come from hand-written context access.
 */
function ctxTypeRules(k: KernelProfile, p: ProgramNeeds, objN: ObjectNeeds, section: string, guards: string[]): Reason[] {
  if (p.ctxLoads.length === 0) return []
  const m = matchSection(section)
  if (!m) return []
  const {def} = m
  if (!['tp_btf', 'fentry', 'fmod_ret', 'lsm'].includes(def.family)) return []
  const target = parseTarget(def, m.target)
  if (target.module && target.module !== 'vmlinux') return []
  const name = btfTargetName(def, target)
  const btf = k.fullBtf()
  if (!btf || !name) return []
  const dropFirst = def.family === 'tp_btf'
  const kind = dropFirst ? Kind.TYPEDEF : Kind.FUNC
  const id = btf.findByName(name, kind)
  if (id === undefined) return []
  let t = btf.typeById(btf.skipTypedefsAndModifiers(kind === Kind.FUNC ? (btf.typeById(id) as {type: number}).type : id))
  if (t.kind === Kind.PTR) t = btf.typeById(btf.skipTypedefsAndModifiers(t.type))
  if (t.kind !== Kind.FUNC_PROTO) return []
  const proto = t
  const params = proto.params.slice(dropFirst ? 1 : 0)
  const tname = dropFirst ? name.replace(/^btf_trace_/, '') : name
  const [a = 0, b = 0, c = 0] = k.release.upstreamVersion
  const lkv = BigInt((a << 16) + (b << 8) + Math.min(c, 255))
  const loads = objN.kconfigExterns.includes('LINUX_KERNEL_VERSION') ? objN.ctxLoadsOn(p, new Map([['LINUX_KERNEL_VERSION', lkv]])) : p.ctxLoads
  const series = [a, b]
  const newer612 = compareVersions(series, [6, 12]) > 0
  const out: Reason[] = []
  const refuse = (message: string, said: string, ev: Evidence[], since?: 'sinceSize8'): Reason => {
    if (since) {
      // only 6.12 refuses: between 6.1 and 6.12 the release that added it is not recorded
      if (compareVersions(series, [6, 1]) <= 0) return reason('ctx-types', 'pass', `${message}: accepted before 6.12 (6.1's btf_ctx_access has no size check)`, ev, CTX_TYPE_SOURCE)
      if (compareVersions(series, [6, 12]) < 0) return reason('ctx-types', 'unknown', `${message}: 6.12 refuses it ("${said}"), 6.1 accepts it, and kcompat has not read this kernel's series`, ev, CTX_TYPE_SOURCE, {check: 'a test load on such a machine'})
    }
    if (newer612) return reason('ctx-types', 'unknown', `${message}: Linux 6.1 and 6.12 refuse it ("${said}"); this kernel is newer than the sources kcompat read`, ev, CTX_TYPE_SOURCE, {check: 'a test load on such a machine'})
    return guarded(reason('ctx-types', 'fail', `${message}: the verifier refuses it ("${said}", then "invalid bpf_context access")`, ev, CTX_TYPE_SOURCE), guards)
  }
  const protoEv: Evidence = {kind: 'btf', text: `${dropFirst ? 'TYPEDEF' : 'FUNC'} ${name} (id ${id}) in ${k.btfOrigin}`}
  const kindName = (x: {kind: number}): string => KIND_NAMES[x.kind] ?? String(x.kind)
  // A trampoline (fentry, fexit, fmod_ret) models the target's whole prototype first
  // (kernel/bpf/btf.c btf_distill_func_proto): every argument must be a pointer, an int,
  // an enum or a struct of at most 16 bytes, no varargs, a return value that is not a
  // struct. Struct arguments are accepted from 6.1 on, so this holds for older kernels.
  if (def.family === 'fentry' || def.family === 'fmod_ret') {
    const size = (tid: number): {ok: boolean; t: {kind: number}} => {
      const x = btf.typeById(btf.skipModifiers(tid))
      if (x.kind === Kind.TYPEDEF) return size(x.type)
      if (x.kind === Kind.PTR) return {ok: true, t: x}
      if (x.kind === Kind.INT || x.kind === Kind.ENUM || x.kind === Kind.ENUM64 || x.kind === Kind.STRUCT) return {ok: x.size > 0 && x.size <= 16, t: x}
      return {ok: false, t: x}
    }
    const bad = params.findIndex((q, i) => (q.type === 0 ? i === params.length - 1 : !size(q.type).ok))
    if (bad >= 0) {
      const q = params[bad]!
      const said = q.type === 0 ? `The function ${tname} with variable args is unsupported.` : `The function ${tname} arg${bad} type ${kindName(size(q.type).t)} is unsupported.`
      return [refuse(`the BPF trampoline cannot model ${tname}: its argument ${bad + 1} ('${q.name}') is ${q.type === 0 ? 'variadic' : `${kindName(size(q.type).t)}`}`, said, [protoEv])]
    }
  }
  let passed = 0
  for (const ld of loads) {
    const slot = Math.floor(ld.off / 8)
    const ev: Evidence[] = [protoEv, {kind: 'object', text: `${ld.size}-byte load of context offset ${ld.off} at ${ld.at}`}]
    if (ld.off % 8 !== 0) {
      out.push(refuse(`the program reads ${ld.size} bytes at context offset ${ld.off}, inside argument ${slot + 1}`, `func '${tname}' offset ${ld.off} is not multiple of 8`, ev))
      continue
    }
    let r: Reason | undefined
    if (slot === params.length) {
      // the return slot (ctxArgsRule decides whether this program may read it at all)
      if (def.attachType === 'BPF_MODIFY_RETURN') {
        const rt = btf.typeById(btf.skipModifiers(proto.returnType))
        if (!(rt.kind === Kind.INT && rt.size <= 8)) r = refuse(`fmod_ret reads the return value of ${tname}, which is ${kindName(rt)}`, `ret type ${kindName(rt)} not allowed for fmod_ret`, ev)
      } else if (def.attachType !== 'BPF_TRACE_FEXIT' && def.family !== 'lsm') {
        continue // no return slot: "doesn't have %d-th argument" (ctxArgsRule)
      } else if (proto.returnType === 0) {
        // fexit and lsm: the return slot of a void function is judged like an argument of type void
        r = refuse(`the program reads the return value of ${tname}, which returns void`, `func '${tname}' arg${slot} '' has type UNKNOWN. Only pointer access is allowed`, ev)
      } else continue
    } else if (slot < params.length) {
      const pid = params[slot]!.type
      // the kernel skips modifiers (const, volatile, restrict, typedef, type tags) here
      const at = btf.typeById(btf.skipTypedefsAndModifiers(pid))
      const argName = params[slot]!.name
      if ((at.kind === Kind.INT && at.size <= 8) || at.kind === Kind.ENUM || at.kind === Kind.ENUM64 || at.kind === Kind.STRUCT) {
        passed++
        continue
      }
      if (at.kind !== Kind.PTR) {
        r = refuse(`argument ${slot + 1} of ${tname} ('${argName}') is ${kindName(at)}${at.name ? ` '${at.name}'` : ''}, which a program can read only through a pointer`, `func '${tname}' arg${slot} '${at.name}' has type ${kindName(at)}. Only pointer access is allowed`, ev)
      } else if (at.type !== 0) {
        const pointee = btf.typeById(btf.skipTypedefsAndModifiers(at.type))
        if (pointee.kind !== Kind.INT && pointee.kind !== Kind.STRUCT && pointee.kind !== Kind.UNION) {
          r = refuse(`argument ${slot + 1} of ${tname} ('${argName}') points to ${kindName(pointee)}${pointee.name ? ` '${pointee.name}'` : ''}, not to a struct`, `func '${tname}' arg${slot} type ${kindName(pointee)} is not a struct`, ev)
        }
      }
      if (!r && ld.size !== 8) r = refuse(`the program reads pointer argument ${slot + 1} of ${tname} ('${argName}') with ${ld.size} bytes`, `func '${tname}' size ${ld.size} must be 8`, ev, 'sinceSize8')
    } else continue // past the arguments: ctxArgsRule's
    if (r && r.status !== 'pass') out.push(r)
    else passed++
  }
  if (out.length === 0 && passed > 0) out.push(reason('ctx-types', 'pass', `the context arguments read have types ${tname}'s prototype lets a program read`, [protoEv], CTX_TYPE_SOURCE))
  return out
}

/**
 * The reasons for one program of an object on one kernel, and suggestions for code
 * changes. `program` is libbpf's program name.
 */
export function needsReasons(obj: BpfObjectInfo, program: string, section: string, k: KernelProfile): {reasons: Reason[]; suggestions: Suggestion[]} {
  const objN = objectNeeds(obj)
  const p = objN.programs.find((x) => x.program === program && x.section === section.replace(/^\?/, ''))
  if (!p) return {reasons: [], suggestions: []}
  const vocab = kernelVocabulary(k)
  const suggestions: Suggestion[] = []
  const reasons: Reason[] = []
  // the program's own checks guard its calls; maps belong to the whole object, whose
  // loader may change or skip them (libbpf-tools' bpf_buffer__new turns the ring buffer
  // into a perf buffer on kernels without one)
  const guards = p.guards
  const sec = matchSection(section.replace(/^\?/, ''))
  reasons.push(...helperRules(k, p, vocab, guards, suggestions, sec))
  reasons.push(...mapRules(k, p, objN, vocab, objN.guards, suggestions))
  if (p.globalData.length > 0) {
    const r = gate(k, 'global-data', 'globalData', `global data (${p.globalData.join(', ')})`)
    if (r.status === 'fail') {
      r.message = `this program uses global variables (${p.globalData.join(', ')}): libbpf does not create their maps on kernels without global data (mainline ${k.facts.insnFeatures.globalData.since}), and a program referencing one fails to load`
      suggestions.push({kind: 'code', text: 'global variables: keep configuration in a BPF_MAP_TYPE_ARRAY map written from user space'})
    }
    r.evidence.push({kind: 'object', text: `ld_imm64 of ${p.globalData.join(', ')}`})
    reasons.push(r)
  }
  if (p.subprograms.length > 0) {
    const r = gate(k, 'bpf2bpf', 'bpf2bpfCalls', 'BPF-to-BPF calls')
    r.evidence.push({kind: 'object', text: `calls ${p.subprograms.join(', ')}`})
    if (r.status === 'fail') suggestions.push({kind: 'code', text: `BPF-to-BPF calls: mark ${p.subprograms.join(', ')} __always_inline`})
    reasons.push(r)
  }
  if (p.tailCalls) reasons.push(gate(k, 'tail-call', 'tailCalls', 'tail calls (bpf_tail_call)'))
  if (p.backEdges.length > 0) {
    const r = gate(k, 'loops', 'boundedLoops', 'bounded loops (a backward jump)')
    r.evidence.push({kind: 'object', text: `backward jump at ${p.backEdges.slice(0, 3).join(', ')}${p.backEdges.length > 3 ? ', ...' : ''}`})
    if (r.status === 'fail') suggestions.push({kind: 'code', text: 'loops: unroll them (#pragma unroll with a constant trip count)'})
    reasons.push(r)
  }
  if (p.insnCount > 1_000_000) {
    reasons.push(reason('insn-limit', 'fail', `${p.insnCount} instructions: more than any kernel accepts (1,000,000)`, [], k.facts.insnFeatures.largeInsns.source))
  } else if (p.insnCount > 4096) {
    const r = gate(k, 'insn-limit', 'largeInsns', `programs of more than 4096 instructions (${p.insnCount} after linking)`)
    if (r.status === 'pass') r.message += ' (for privileged loaders; unprivileged ones keep the 4096 limit)'
    reasons.push(r)
  }
  const isa: Array<[keyof ProgramNeeds['isa'] & string, InsnFeatureKey, string]> = [
    ['jmp-v2', 'jmpV2', 'JLT/JLE/JSLT/JSLE jumps (ISA v2)'],
    ['jmp32', 'jmp32', 'JMP32 instructions (ISA v3)'],
    ['atomics', 'atomics', 'atomic operations beyond add (fetch, and/or/xor, xchg, cmpxchg)'],
    ['ldsx', 'cpuV4', 'sign-extending loads (cpu v4)'],
    ['movsx', 'cpuV4', 'sign-extending moves (cpu v4)'],
    ['bswap', 'cpuV4', 'unconditional byte swaps (cpu v4)'],
    ['gotol', 'cpuV4', 'gotol (cpu v4)'],
    ['sdiv-smod', 'cpuV4', 'signed division or modulo (cpu v4)'],
  ]
  let cpuFail = false
  for (const [feat, key, what] of isa) {
    const at = p.isa[feat as keyof ProgramNeeds['isa']]
    if (!at) continue
    const r = gate(k, 'isa', key, what)
    r.evidence.push({kind: 'object', text: `first at ${at}`})
    if (r.status === 'fail' && !cpuFail) {
      cpuFail = true
      suggestions.push({kind: 'code', text: `instruction set: compile with a lower -mcpu (clang -mcpu=v${key === 'cpuV4' ? 3 : key === 'atomics' || key === 'jmp32' ? 2 : 1})`})
    }
    reasons.push(r)
  }
  reasons.push(...kfuncRules(k, p, vocab, guards))
  const ctx = ctxArgsRule(k, p, objN, section.replace(/^\?/, ''), guards)
  if (ctx) reasons.push(ctx)
  reasons.push(...ctxTypeRules(k, p, objN, section.replace(/^\?/, ''), guards))
  const moved = ctxMovedRule(k, p, objN)
  if (moved) {
    reasons.push(moved)
    suggestions.push({kind: 'code', text: 'context access: index the context with a constant (ctx[1]) or load each slot in its own branch, so that the offset is in the load instruction, not added to the pointer'})
  }
  if ((p.funcInfo || p.lineInfo) && kernelBtfState(k).state !== true) {
    const f = k.facts.insnFeatures.btfFuncInfo
    const r = gate(k, 'func-info', 'btfFuncInfo', 'BPF program func/line info')
    if (r.status !== 'pass') {
      reasons.push(reason('func-info', 'info', `libbpf leaves out the program's func/line info on kernels without BTF_KIND_FUNC (mainline ${f.since}); the program still loads`, r.evidence, f.source))
    }
  }
  return {reasons, suggestions}
}
