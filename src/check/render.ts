/**
 * Human output of `check`: the kernel in two or three lines, then per program its
 * verdict, the reasons that decide it (failing, unknown and machine-dependent ones, with
 * evidence and source), a count of the rules that passed, and what to use instead.
 * `verbose` adds passing rules and notes.
 */
import type {CheckResult, ProgramResult, Reason, ReasonStatus} from './types.js'

const MARK: Record<ReasonStatus, string> = {fail: 'x', unknown: '?', possible: '~', pass: '+', info: 'i'}
const ORDER: Record<ReasonStatus, number> = {fail: 0, unknown: 1, possible: 2, info: 3, pass: 4}

function kernelLines(r: CheckResult): string[] {
  const k = r.kernel
  const uek = k.distro === 'oracle' && k.flavor ? ` ${k.flavor}` : ''
  const head = `kernel  ${k.release}: ${k.distroName}${k.distroRelease ? ` ${k.distroRelease}` : ''}${uek}${k.alternatives.length ? ` (or ${k.alternatives.join(', ')})` : ''}`
  const origin =
    k.origin === 'archive'
      ? `archive ${k.archive!.distro}/${k.archive!.version}/${k.arch}`
      : k.origin === 'running'
        ? 'this machine'
        : k.origin === 'btf-file'
          ? `BTF file ${k.btf.data}`
          : k.origin === 'siblings'
            ? `archived siblings ${k.siblings!.releases.join(', ')} (${k.siblings!.distro}/${k.siblings!.version}/${k.siblings!.arch}; inferred, this kernel is not in the archive)`
            : 'release rules (not in the archive)'
  const facts = [`upstream ${k.upstream}`, `${k.arch}${k.archAssumed ? ' (assumed)' : ''}`]
  if (k.flavor) facts.push(`flavor ${k.flavor}`)
  facts.push(`BTF ${k.btf.state}`, `facts from ${origin}`)
  const lines = [head, `        ${facts.join(', ')}`]
  if (k.inferred) {
    const notes = k.notes.filter((n) => !n.startsWith('RHEL, CentOS, AlmaLinux'))
    if (notes.length > 0) lines.push(`        inferred: ${notes.join('; ')}`)
  }
  return lines
}

function reasonLines(r: Reason, detail: boolean): string[] {
  const lines = [`  ${MARK[r.status]} ${r.rule.padEnd(14)} ${r.message}${r.doubtful ? ' (doubtful fact)' : ''}`]
  if (detail) {
    const ev = r.evidence.map((e) => e.text).join('; ')
    if (ev) lines.push(`    ${''.padEnd(14)} evidence: ${ev}`)
    lines.push(`    ${''.padEnd(14)} source: ${r.source}`)
  }
  if (r.check && r.status !== 'pass') lines.push(`    ${''.padEnd(14)} check: ${r.check}`)
  return lines
}

function programLines(p: ProgramResult, opts: {verbose: boolean; detail: boolean}): string[] {
  const name = p.program ? `${p.program} (${p.section})` : p.section
  // Many programs: a supported one is one line.
  if (!opts.detail && !opts.verbose && p.verdict === 'supported') return [`${name}: SUPPORTED`]
  const lines = [`${name}: ${p.verdict.toUpperCase()}`]
  const sorted = [...p.reasons].sort((a, b) => ORDER[a.status] - ORDER[b.status])
  const shown = sorted.filter((r) => opts.verbose || (r.status !== 'pass' && r.status !== 'info'))
  for (const r of shown) lines.push(...reasonLines(r, opts.detail || opts.verbose))
  const passed = p.reasons.filter((r) => r.status === 'pass')
  if (!opts.verbose && passed.length > 0) lines.push(`  + ${passed.length} passed: ${passed.map((r) => r.rule).join(', ')}`)
  for (const s of p.suggestions) {
    const v = s.verdict ? ` (${s.verdict})` : ''
    lines.push(s.section ? `  -> ${s.section}${v}: ${s.text}` : `  -> ${s.text}`)
  }
  return lines
}

export function renderCheck(r: CheckResult, opts: {verbose?: boolean} = {}): string {
  const verbose = opts.verbose ?? false
  // With many programs, keep one line per reason so the answer stays on one screen.
  const detail = r.programs.length <= 3
  const out = [...kernelLines(r), '']
  for (const p of r.programs) {
    const lines = programLines(p, {verbose, detail})
    out.push(...lines)
    if (detail || verbose || lines.length > 1) out.push('')
  }
  if (out[out.length - 1] !== '') out.push('')
  const counts = new Map<string, number>()
  for (const p of r.programs) counts.set(p.verdict, (counts.get(p.verdict) ?? 0) + 1)
  if (r.programs.length > 1) out.push([...counts].map(([v, n]) => `${n} ${v}`).join(', '))
  return `${out.join('\n').trimEnd()}\n`
}
