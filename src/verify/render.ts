/**
 * Human output of `kcompat verify`: per kernel a header line, then one line per program
 * with its load and attach outcome and, where something failed or needs setup, the
 * reason line.
 */
import {basename} from 'node:path'
import type {KernelResult, VerifyProgram, VerifyReport, VerifyStep} from './verify.js'

function step(name: string, s: VerifyStep): string {
  switch (s.status) {
    case 'ok':
      return `${name} ok`
    case 'off':
      return `${name} off`
    case 'skipped':
      return `${name} not tried`
    case 'error':
      return `${name} ${s.errnoName ?? s.errno}`
  }
}

export function programLine(p: VerifyProgram): string {
  const who = p.program ? `${basename(p.object ?? '')}:${p.program} (${p.section})` : p.section
  const why =
    p.outcome === 'refused'
      ? (p.load.status === 'error' ? p.load.message : p.attach.message) ?? ''
      : p.outcome === 'needs-setup'
        ? `needs run-time setup: ${p.needs ?? ''}`
        : ''
  return `${p.outcome.padEnd(11)} ${who}: ${step('load', p.load)}, ${step('attach', p.attach)}${why ? `; ${why}` : ''}`
}

export function reportHeader(r: VerifyReport): string {
  const c = r.counts
  return (
    `${r.kernel ?? basename(r.image)} (${r.arch}, ${r.accel}): ${r.programs.length} programs: ` +
    `${c.loads} load, ${c.refused} refused, ${c['needs-setup']} need run-time setup; ` +
    `boot ${(r.bootMs / 1000).toFixed(1)} s, guest ${(r.guestMs / 1000).toFixed(1)} s` +
    (r.kvmFallback ? `\n  note: TCG instead of KVM: ${r.kvmFallback} (KCOMPAT_ACCEL=tcg skips the trial)` : '')
  )
}

export function renderVerify(results: KernelResult[]): string {
  const out: string[] = []
  for (const r of results) {
    if ('error' in r) {
      const code = (r.error as {code?: string}).code
      out.push(`${r.kernel ?? '?'}: error${code ? ` [${code}]` : ''}: ${r.error.message}`)
      continue
    }
    out.push(reportHeader(r.report))
    for (const p of r.report.programs) out.push(`  ${programLine(p)}`)
    const sets = [...new Set(r.report.programs.map((p) => p.set).filter((s): s is string => !!s))]
    for (const s of sets) out.push(`  note: defaults applied: ${s}`)
  }
  return `${out.join('\n')}\n`
}

/**
 * Exit status: 0 when every program loads (and attaches when asked), 1 when a program
 * is refused or a kernel could not be verified, 3 when none is refused but some need
 * run-time setup.
 */
export function verifyExitCode(results: KernelResult[]): number {
  if (results.some((r) => 'error' in r || r.report.counts.refused > 0)) return 1
  if (results.some((r) => 'report' in r && r.report.counts['needs-setup'] > 0)) return 3
  return 0
}
