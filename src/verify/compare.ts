/**
 * The static verdicts of `check`/`matrix` measured against what a booted kernel did
 * (`kcompat verify`).
 *
 * A cell is comparable when the prediction is definite (`supported` or `unsupported`)
 * and the kernel gave a definite answer (`loads` or `refused`; a program that needs
 * run-time setup could not be tried). Comparable cells agree when `supported` met
 * `loads` or `unsupported` met `refused`. A disagreement is `explained` when it matches
 * one of the {@link KNOWN_DISAGREEMENTS} below: a short, explicit list of what static
 * checks do not model, each with why and a public source; anything else is a
 * `disagree`, which the agreement test fails on. `possible` and `unknown` predictions
 * are counted against the observed outcome but never disagree: they say the answer is
 * not decidable from the archive.
 */
import {basename} from 'node:path'
import type {Reason, Verdict} from '../check/types.js'
import type {KernelResult, VerifyOutcome, VerifyProgram, VerifyReport} from './verify.js'

export type Agreement = 'agree' | 'disagree' | 'explained' | 'not-comparable'

/** A kind of disagreement static checks are known not to predict. */
export interface KnownDisagreement {
  id: string
  /** the prediction and observation it explains */
  verdict: Verdict
  outcome: VerifyOutcome
  why: string
  source: string
  matches: (p: VerifyProgram) => boolean
}

const TRAMPOLINE = /^(fentry|fexit|fmod_ret)(\.s)?\//

export const KNOWN_DISAGREEMENTS: KnownDisagreement[] = [
  {
    id: 'trampoline-max-args',
    verdict: 'supported',
    outcome: 'refused',
    why:
      'attaching fentry/fexit/fmod_ret fails with ENOTSUPP (524) when the kernel cannot build a BPF trampoline for the target: on x86-64 before 6.6 that is a target with more than 6 arguments (e.g. Debian 6.1\'s tcp_v4_syn_recv_sock, 7 in its BTF); the static checks do not count the target\'s arguments',
    source: 'linux arch/x86/net/bpf_jit_comp.c arch_prepare_bpf_trampoline ("x86-64 supports up to 6 arguments"); raised to 12 in Linux 6.6 ("bpf, x86: allow function arguments up to 12 for TRACING")',
    matches: (p) => TRAMPOLINE.test(p.section) && p.load.status === 'ok' && p.attach.errno === 524,
  },
  {
    id: 'trampoline-not-patchable',
    verdict: 'supported',
    outcome: 'refused',
    why:
      'attaching fentry/fexit/fmod_ret fails with EBUSY when the target is in the kernel\'s BTF but its entry cannot be patched (it is not an ftrace location, so the trampoline\'s text poke finds other bytes than the expected nop); BTF does not say which functions are patchable',
    source: 'linux kernel/bpf/trampoline.c register_fentry (bpf_arch_text_poke when the function is not ftrace-managed), arch/x86/net/bpf_jit_comp.c __bpf_arch_text_poke (-EBUSY)',
    matches: (p) => TRAMPOLINE.test(p.section) && p.load.status === 'ok' && p.attach.errno === 16,
  },
  {
    id: 'kprobe-no-symbol',
    verdict: 'supported',
    outcome: 'refused',
    why:
      'creating a kprobe fails with ENOENT when kallsyms has no symbol of that name, though the kernel\'s BTF has a FUNC of it: pahole writes a FUNC for a function it finds in DWARF even where the compiler inlined every call or emitted only a renamed clone (.isra, .constprop), so no out-of-line copy carries the name (biosnoop\'s kprobe/blk_account_io_merge_bio on Debian 13\'s 6.12.118); the static checks read BTF, not kallsyms (the archived packages\' System.map is a placeholder)',
    source:
      'linux kernel/trace/trace_kprobe.c create_local_trace_kprobe, validate_probe_symbol (number_of_same_symbols() == 0: -ENOENT), kernel/kprobes.c _kprobe_addr (kprobe_lookup_name fails: -ENOENT); Documentation/trace/kprobes.rst ("Kprobes makes no attempt to chase down all inline instances of the function")',
    matches: (p) => /^k(ret)?probe\//.test(p.section) && p.load.status === 'ok' && p.attach.errno === 2,
  },
  {
    id: 'verifier',
    verdict: 'supported',
    outcome: 'refused',
    why:
      'the kernel\'s verifier refused the program\'s instructions (the load fails with EACCES or EINVAL and a verifier message, e.g. "R1 invalid mem access \'scalar\'" for biosnoop\'s tp_btf/block_rq_complete on 6.1); the instruction rules check what the instructions need (helpers, maps, ISA, context reads), not the verifier\'s tracking of every register value',
    source: 'linux kernel/bpf/verifier.c (do_check)',
    matches: (p) => p.load.status === 'error' && (p.load.errno === 13 || p.load.errno === 22) && !/libbpf|failed to/.test(p.load.message ?? ''),
  },
]

export interface VerifyComparison {
  kernel: string
  object: string
  program: string
  section: string
  verdict: Verdict
  /** undefined when the kernel was not verified */
  observed?: VerifyOutcome
  agreement: Agreement
  /** the rules that decided the verdict (status not pass/info), as `rule: message` */
  predicted: string[]
  /** the kernel's reason line (load or attach), or what setup was needed */
  observedReason?: string
  explained?: {id: string; why: string; source: string}
}

export interface AgreementFigures {
  kernel: string
  programs: number
  comparable: number
  agree: number
  explained: number
  disagree: number
  /** `verdict/outcome` → count, over every program verified */
  pairs: Record<string, number>
}

export interface VerifyComparisonResult {
  kernels: Array<{kernel: string; verified: boolean; error?: {code?: string; message: string}; accel?: string; bootMs?: number; guestMs?: number}>
  comparisons: VerifyComparison[]
  disagreements: VerifyComparison[]
  figures: AgreementFigures[]
}

/** The cells compare needs (a MatrixCell or a check ProgramResult with its kernel and object). */
export interface PredictedCell {
  kernel: string
  object: string
  program: string
  section: string
  verdict: Verdict
  reasons: Reason[]
}

function observedReason(p: VerifyProgram): string | undefined {
  if (p.load.status === 'error') return `load ${p.load.errnoName ?? p.load.errno}: ${p.load.message ?? ''}`.trim()
  if (p.attach.status === 'error') return `attach ${p.attach.errnoName ?? p.attach.errno}: ${p.attach.message ?? ''}`.trim()
  if (p.outcome === 'needs-setup') return `needs run-time setup: ${p.needs ?? ''}`
  return undefined
}

function agreementOf(verdict: Verdict, p: VerifyProgram): {agreement: Agreement; explained?: KnownDisagreement} {
  if ((verdict !== 'supported' && verdict !== 'unsupported') || p.outcome === 'needs-setup') return {agreement: 'not-comparable'}
  if ((verdict === 'supported') === (p.outcome === 'loads')) return {agreement: 'agree'}
  const known = KNOWN_DISAGREEMENTS.find((k) => k.verdict === verdict && k.outcome === p.outcome && k.matches(p))
  return known ? {agreement: 'explained', explained: known} : {agreement: 'disagree'}
}

/**
 * Puts each verified kernel's observed outcome beside the predicted verdict of every
 * cell. Cells are matched to programs by kernel release, object file name and program
 * name. Kernels that were not verified (no image, an error) keep their cells with no
 * observation.
 */
export function compareWithVerify(cells: PredictedCell[], results: KernelResult[]): VerifyComparisonResult {
  const observed = new Map<string, VerifyProgram>()
  const reports = new Map<string, VerifyReport>()
  const kernels: VerifyComparisonResult['kernels'] = []
  for (const r of results) {
    const kernel = r.kernel ?? ('report' in r ? basename(r.report.image) : '?')
    if ('error' in r) {
      kernels.push({kernel, verified: false, error: {code: (r.error as {code?: string}).code, message: r.error.message}})
      continue
    }
    reports.set(kernel, r.report)
    kernels.push({kernel, verified: true, accel: r.report.accel, bootMs: r.report.bootMs, guestMs: r.report.guestMs})
    for (const p of r.report.programs) {
      if (p.object && p.program) observed.set(`${kernel}\0${basename(p.object)}\0${p.program}`, p)
    }
  }
  const comparisons: VerifyComparison[] = []
  const figures = new Map<string, AgreementFigures>()
  for (const c of cells) {
    const p = observed.get(`${c.kernel}\0${c.object}\0${c.program}`)
    const predicted = c.reasons.filter((r) => r.status !== 'pass' && r.status !== 'info').map((r) => `${r.rule}: ${r.message}`)
    if (!p) {
      comparisons.push({kernel: c.kernel, object: c.object, program: c.program, section: c.section, verdict: c.verdict, agreement: 'not-comparable', predicted})
      continue
    }
    const {agreement, explained} = agreementOf(c.verdict, p)
    const reason = observedReason(p)
    comparisons.push({
      kernel: c.kernel,
      object: c.object,
      program: c.program,
      section: c.section,
      verdict: c.verdict,
      observed: p.outcome,
      agreement,
      predicted,
      ...(reason ? {observedReason: reason} : {}),
      ...(explained ? {explained: {id: explained.id, why: explained.why, source: explained.source}} : {}),
    })
    let f = figures.get(c.kernel)
    if (!f) figures.set(c.kernel, (f = {kernel: c.kernel, programs: 0, comparable: 0, agree: 0, explained: 0, disagree: 0, pairs: {}}))
    f.programs++
    if (agreement !== 'not-comparable') f.comparable++
    if (agreement === 'agree') f.agree++
    if (agreement === 'explained') f.explained++
    if (agreement === 'disagree') f.disagree++
    const key = `${c.verdict}/${p.outcome}`
    f.pairs[key] = (f.pairs[key] ?? 0) + 1
  }
  return {
    kernels,
    comparisons,
    disagreements: comparisons.filter((c) => c.agreement === 'disagree' || c.agreement === 'explained'),
    figures: [...figures.values()],
  }
}

/** One line per kernel: `K: N programs verified, C comparable: A agree, E explained, D disagree; supported/loads 161, ...` */
export function figuresLine(f: AgreementFigures): string {
  const pairs = Object.entries(f.pairs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')
  return `${f.kernel}: ${f.programs} programs verified, ${f.comparable} comparable: ${f.agree} agree, ${f.explained} explained, ${f.disagree} disagree (${pairs})`
}

/** A disagreement with both reasons, for the text formats. */
export function disagreementLine(c: VerifyComparison): string {
  return (
    `${c.kernel} ${c.object}: ${c.program} (${c.section}): predicted ${c.verdict}` +
    `${c.predicted.length ? ` [${c.predicted.join('; ')}]` : ''}, observed ${c.observed}: ${c.observedReason ?? ''}` +
    `${c.explained ? ` (known: ${c.explained.id})` : ''}`
  )
}
