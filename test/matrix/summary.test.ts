/**
 * Program summaries (grouped in one pass, first version from version classes) equal
 * what the original per-program scan computes, on random matrices with the awkward
 * cases: upstream versions that compare equal as different strings (6.1 / 6.1.0 /
 * 6.1.0-rc1), unparsable versions, two kernels of one name, a program listed twice,
 * cells of programs no object lists, reasons of every status.
 */
import {describe, expect, it} from 'vitest'
import type {Reason, Verdict} from '../../src/check/types.js'
import {compareVersions, parseVersion} from '../../src/kernel/facts/version.js'
import {type FailureGroup, type MatrixCell, type MatrixKernel, type MatrixObject, type ProgramSummary, summarize} from '../../src/matrix/matrix.js'
import {mulberry32} from '../helpers/random.js'

// ---- the original algorithm, kept as the reference
function versionKey(v: string): number[] {
  try {
    return parseVersion(v.replace(/[^0-9.].*$/, ''))
  } catch {
    return [0]
  }
}
function firstFailing(c: MatrixCell): Reason | undefined {
  const rank: Record<string, number> = {fail: 0, unknown: 1, possible: 2}
  return [...c.reasons].filter((r) => r.status in rank).sort((a, b) => rank[a.status]! - rank[b.status]!)[0]
}
function referenceSummarize(kernels: MatrixKernel[], objects: Array<Pick<MatrixObject, 'name' | 'programs'>>, cells: MatrixCell[]): ProgramSummary[] {
  const out: ProgramSummary[] = []
  const kOf = new Map(kernels.map((k) => [k.name, k]))
  for (const o of objects) {
    for (const p of o.programs) {
      const mine = cells.filter((c) => c.object === o.name && c.program === p.program && c.section === p.section)
      const counts: Record<Verdict, number> = {supported: 0, possible: 0, unknown: 0, unsupported: 0}
      for (const c of mine) counts[c.verdict]++
      const byVersion = [...new Set(mine.map((c) => kOf.get(c.kernel)!.upstream))].sort((a, b) => compareVersions(versionKey(a), versionKey(b)))
      let firstVersion: string | null = null
      for (let i = byVersion.length - 1; i >= 0; i--) {
        const v = byVersion[i]!
        const atOrAbove = mine.filter((c) => compareVersions(versionKey(kOf.get(c.kernel)!.upstream), versionKey(v)) >= 0)
        if (atOrAbove.every((c) => c.verdict === 'supported')) firstVersion = v
        else break
      }
      const groups = new Map<string, FailureGroup>()
      for (const c of mine) {
        if (c.verdict === 'supported') continue
        const r = firstFailing(c)
        const rule = r?.rule ?? '?'
        const message = r?.message ?? c.verdict
        const key = `${c.verdict}\u0000${rule}\u0000${message}`
        let g = groups.get(key)
        if (!g) groups.set(key, (g = {verdict: c.verdict, rule, message, kernels: []}))
        g.kernels.push(c.kernel)
      }
      const vr: Record<Verdict, number> = {unsupported: 0, unknown: 1, possible: 2, supported: 3}
      out.push({
        object: o.name,
        program: p.program,
        section: p.section,
        total: mine.length,
        counts,
        firstVersion,
        failures: [...groups.values()].sort((a, b) => vr[a.verdict] - vr[b.verdict] || b.kernels.length - a.kernels.length),
      })
    }
  }
  return out
}

const VERSIONS = ['4.19.0', '5.4', '5.4.0', '5.10.0', '5.15.0', '6.1', '6.1.0', '6.1.0-rc1', '6.1.0.0', '6.6.0', '6.12.0', 'weird', '']
const VERDICTS: Verdict[] = ['supported', 'supported', 'supported', 'possible', 'unknown', 'unsupported']
const STATUSES = ['pass', 'info', 'fail', 'unknown', 'possible'] as const

function randomMatrix(seed: number) {
  const r = mulberry32(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  const nKernels = 1 + Math.floor(r() * 30)
  const kernels: MatrixKernel[] = Array.from({length: nKernels}, (_, i) => ({
    // now and then two kernels share a name (an archived kernel and a --btf file)
    name: r() < 0.1 && i > 0 ? `k${i - 1}` : `k${i}`,
    release: `k${i}`,
    distro: 'debian',
    version: '12',
    arch: 'x86_64',
    flavor: null,
    upstream: pick(VERSIONS),
    btf: 'in-kernel',
    origin: 'archive',
    path: null,
  }))
  const objects = Array.from({length: 1 + Math.floor(r() * 3)}, (_, o) => ({
    name: `o${o}.bpf.o`,
    programs: Array.from({length: 1 + Math.floor(r() * 4)}, (_, p) => ({program: `p${p % 3}`, section: p === 3 ? 'kprobe/p0' : `kprobe/p${p % 3}`})),
  }))
  // the (possibly twice-listed) programs of each object, plus one no object lists
  const programs = [...objects.flatMap((o) => o.programs.map((p) => ({object: o.name, ...p}))), {object: 'o0.bpf.o', program: 'ghost', section: 'kprobe/ghost'}]
  const cells: MatrixCell[] = []
  // an always-supported program where one version fails: it decides the first version
  const versionOf = (k: MatrixKernel) => k.upstream
  const failingVersion = pick(VERSIONS)
  for (const k of kernels) {
    for (const p of programs) {
      if (r() < 0.05) continue
      const verdict = p.program === 'p0' ? (versionOf(k) === failingVersion && r() < 0.7 ? 'unsupported' : 'supported') : pick(VERDICTS)
      const reasons: Reason[] = Array.from({length: Math.floor(r() * 5)}, () => ({
        rule: pick(['target', 'core', 'prog-type', 'config:x']),
        status: pick(STATUSES),
        message: pick(['m1', 'm2', 'm3']),
        evidence: [],
        source: 's',
      }))
      cells.push({kernel: k.name, object: p.object, program: p.program, section: p.section, verdict, reasons, suggestions: []})
    }
  }
  // cells in matrix order are not required: shuffle a little
  for (let i = cells.length - 1; i > 0; i--) {
    if (r() < 0.3) {
      const j = Math.floor(r() * (i + 1))
      ;[cells[i], cells[j]] = [cells[j]!, cells[i]!]
    }
  }
  return {kernels, objects, cells}
}

describe('summaries', () => {
  it('equal the per-program scan on 400 random matrices', () => {
    let firstVersions = 0
    let nullFirst = 0
    let ties = 0
    for (let seed = 1; seed <= 400; seed++) {
      const {kernels, objects, cells} = randomMatrix(seed)
      const want = referenceSummarize(kernels, objects, cells)
      expect(summarize(kernels, objects, cells), `seed ${seed}`).toEqual(want)
      for (const s of want) {
        if (s.firstVersion === null) nullFirst++
        else firstVersions++
        if (s.firstVersion !== null && ['5.4', '6.1', '6.1.0-rc1', '6.1.0.0'].includes(s.firstVersion)) ties++
      }
    }
    // the random matrices reach every kind of answer
    expect(firstVersions).toBeGreaterThan(100)
    expect(nullFirst).toBeGreaterThan(100)
    expect(ties).toBeGreaterThan(10)
  })
})
