/**
 * The fast near-name search (length buckets, pigeonhole prefilter, variant lookups by
 * name) gives exactly what the straightforward one gives — the edit distance to every
 * name of the kernel — on real kernels' FUNC and TYPEDEF names, for misspelled,
 * renamed, extended, shortened and very short targets. The same for the glob count and
 * the bounded edit distance.
 */
import {describe, expect, it} from 'vitest'
import {parseBtf} from '../../src/btf/decode.js'
import {type KernelSymbols, scanSymbols, symbolsFromBtf} from '../../src/check/symbols.js'
import {type NearName, boundedDistance, countGlobMatches, nearNames, setNearNameUniverseLimit} from '../../src/check/targets.js'
import {FIXTURE_KERNELS, fixtureKernel} from './fixture-archive.js'
import {mulberry32} from '../helpers/random.js'

/** Plain Levenshtein distance, the whole table. */
function levenshtein(a: string, b: string): number {
  const d: number[][] = []
  for (let i = 0; i <= a.length; i++) d.push([i])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
  }
  return d[a.length]![b.length]!
}

/**
 * kcompat's original bounded distance (fresh rows per call): the Levenshtein distance
 * when it is at most `max`; something above `max` otherwise (max + 1 when a whole row
 * exceeds it, else the distance itself).
 */
function originalBoundedDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let prev = new Array<number>(b.length + 1)
  let cur = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i
    let rowMin = cur[0]
    const ca = a.charCodeAt(i - 1)
    for (let j = 1; j <= b.length; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost)
      cur[j] = v
      if (v < rowMin) rowMin = v
    }
    if (rowMin > max) return max + 1
    ;[prev, cur] = [cur, prev]
  }
  return prev[b.length]!
}

/** The reference: every name of the kernel measured against the target (kcompat's original algorithm). */
function naiveNearNames(sym: KernelSymbols, kind: 'FUNC' | 'TYPEDEF', prefix: string, target: string, limit = 3): NearName[] {
  const out: NearName[] = []
  for (const name of (kind === 'FUNC' ? sym.funcs : sym.typedefs).keys()) {
    if (!name.startsWith(prefix)) continue
    const t = name.slice(prefix.length)
    if (t === target || t === '') continue
    const d = originalBoundedDistance(t, target, 2)
    if (d <= 2) {
      out.push({name, target: t, distance: d, why: 'spelling'})
      continue
    }
    const longer = t.length > target.length ? t : target
    const shorter = t.length > target.length ? target : t
    if (shorter.length >= 4 && longer.length - shorter.length <= 4 && longer.startsWith(shorter)) {
      out.push({name, target: t, distance: 3, why: 'variant'})
    }
  }
  out.sort((a, b) => a.distance - b.distance || a.target.length - b.target.length || (a.target < b.target ? -1 : 1))
  const best = out[0]?.distance ?? 0
  return out.filter((n) => n.why === 'variant' || n.distance === best).slice(0, limit)
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz_0123456789'

/** Targets around real names: 1 and 2 random edits, transpositions, heads, extensions, and short strings. */
function targetsAround(names: string[], count: number, seed: number): string[] {
  const r = mulberry32(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  const ch = (): string => pick(ALPHABET.split(''))
  const edit = (s: string): string => {
    const i = Math.floor(r() * (s.length + 1))
    switch (Math.floor(r() * 4)) {
      case 0:
        return s.slice(0, i) + ch() + s.slice(i)
      case 1:
        return s.length === 0 ? s : s.slice(0, Math.min(i, s.length - 1)) + s.slice(Math.min(i, s.length - 1) + 1)
      case 2:
        return s.length === 0 ? ch() : s.slice(0, Math.min(i, s.length - 1)) + ch() + s.slice(Math.min(i, s.length - 1) + 1)
      default:
        return i + 1 < s.length ? s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2) : s
    }
  }
  const out = new Set<string>(['', 'a', 'x', 'do', 'io', 'tcp', 'sys', 'vfs_', 'open', 'read', 'kfree', 'zzzzzz', 'q'.repeat(80)])
  while (out.size < count) {
    const n = pick(names)
    switch (Math.floor(r() * 8)) {
      case 0:
      case 1:
        out.add(edit(n))
        break
      case 2:
      case 3:
        out.add(edit(edit(n)))
        break
      case 4:
        out.add(edit(edit(edit(n))))
        break
      case 5:
        out.add(n.slice(0, Math.max(0, n.length - 1 - Math.floor(r() * 5))))
        break
      case 6:
        out.add(n + ['2', '_rcu', 'at2', '_lock', 'x'][Math.floor(r() * 5)])
        break
      default:
        out.add(n.slice(0, 1 + Math.floor(r() * 4)))
    }
  }
  return [...out]
}

describe('near names: the fast search equals measuring every name', () => {
  it.each(FIXTURE_KERNELS.map((k) => k.release))('%s: FUNC, bpf_lsm_ FUNC and btf_trace_ TYPEDEF targets', (release) => {
    const sym = scanSymbols(fixtureKernel(release).btf)
    const keyedSym = symbolsFromBtf(parseBtf(fixtureKernel(release).btf, {lazy: true}))
    const funcs = [...sym.funcs.keys()]
    const lsm = funcs.filter((f) => f.startsWith('bpf_lsm_')).map((f) => f.slice('bpf_lsm_'.length))
    const tps = [...sym.typedefs.keys()].filter((f) => f.startsWith('btf_trace_')).map((f) => f.slice('btf_trace_'.length))
    expect(funcs.length).toBeGreaterThan(30000)
    const cases: Array<[kind: 'FUNC' | 'TYPEDEF', prefix: string, targets: string[]]> = [
      ['FUNC', '', targetsAround(funcs, 400, 1)],
      ['FUNC', 'bpf_lsm_', targetsAround(lsm, 150, 2)],
      ['TYPEDEF', 'btf_trace_', targetsAround(tps, 150, 3)],
    ]
    const seen = {spelling: [0, 0, 0], variant: 0, none: 0}
    for (const [kind, prefix, targets] of cases) {
      for (const t of targets) {
        // the limit is applied last: the reference computes all once
        const all = naiveNearNames(sym, kind, prefix, t, Infinity)
        expect(nearNames(sym, kind, prefix, t, 100000), `${kind} ${prefix}${t}`).toEqual(all)
        expect(nearNames(sym, kind, prefix, t), `${kind} ${prefix}${t} (limit 3)`).toEqual(all.slice(0, 3))
        // the same kernel's names as a view over its parsed BTF (keyed registration)
        expect(nearNames(keyedSym, kind, prefix, t, 100000), `${kind} ${prefix}${t} (keyed)`).toEqual(all)
        for (const n of all) if (n.why === 'spelling') seen.spelling[n.distance]!++
        seen.variant += all.filter((n) => n.why === 'variant').length
        if (all.length === 0) seen.none++
      }
    }
    // the targets cover every kind of answer (distance 0 is a different name equal to none: never)
    expect(seen.spelling[1]).toBeGreaterThan(50)
    expect(seen.spelling[2]).toBeGreaterThan(50)
    expect(seen.variant).toBeGreaterThan(50)
    expect(seen.none).toBeGreaterThan(20)
  }, 120_000)

  // Candidates are found once per process over the names of every kernel seen; names a
  // later kernel brings must reach the targets answered before it, and names a kernel
  // lacks must not reach its answers.
  // Symbols as plain maps (scanSymbols) register by name; symbols over a parsed Btf
  // (symbolsFromBtf) register by name key, decoding only names not met before.
  it.each([
    ['kernels taking turns on the same targets', Infinity, 150, 'maps'],
    ['the name union starting afresh at every new kernel', 1, 25, 'maps'],
    ['kernels taking turns, names from parsed BTF (keyed)', Infinity, 150, 'btf'],
    ['kernels taking turns, keyed and plain kernels mixed', Infinity, 60, 'mixed'],
    ['the name union starting afresh, keyed', 1, 25, 'btf'],
  ])('%s', (_what, limit, count, source) => {
    const old = setNearNameUniverseLimit(limit)
    try {
      // fresh symbol objects: kernels the union has not seen yet
      const syms = FIXTURE_KERNELS.map((k, i) => {
        const bytes = fixtureKernel(k.release).btf
        return source === 'maps' || (source === 'mixed' && i % 2 === 1) ? scanSymbols(bytes) : symbolsFromBtf(parseBtf(bytes, {lazy: true}))
      })
      const funcs = [...new Set(syms.flatMap((s) => [...s.funcs.keys()]))].sort()
      const targets = targetsAround(funcs, count, 11)
      // names only some kernels have, and their misspellings
      const some = funcs.filter((f) => syms.some((s) => !s.funcs.has(f)))
      expect(some.length).toBeGreaterThan(1000)
      targets.push(...targetsAround(some, count, 12))
      let differ = 0
      for (const t of targets) {
        const answers = syms.map((sym) => {
          const want = naiveNearNames(sym, 'FUNC', '', t, Infinity)
          expect(nearNames(sym, 'FUNC', '', t, 100000), t).toEqual(want)
          return JSON.stringify(want)
        })
        if (new Set(answers).size > 1) differ++
      }
      // kernels answer differently for many targets: the union is filtered per kernel
      expect(differ).toBeGreaterThan(count / 5)
    } finally {
      setNearNameUniverseLimit(old)
    }
  }, 120_000)

  it('answers a second question on the same kernel from its memo, unchanged by callers editing an answer', () => {
    const sym = scanSymbols(fixtureKernel(FIXTURE_KERNELS[0].release).btf)
    const first = nearNames(sym, 'FUNC', '', 'do_unlinkt')
    first[0]!.name = 'edited'
    expect(nearNames(sym, 'FUNC', '', 'do_unlinkt')).toEqual(naiveNearNames(sym, 'FUNC', '', 'do_unlinkt'))
  })
})

describe('bounded edit distance', () => {
  it('is what the original gives (the Levenshtein distance when within the bound, else above it), also past its scratch rows', () => {
    const r = mulberry32(7)
    const word = (n: number): string => Array.from({length: n}, () => 'abc_'[Math.floor(r() * 4)]).join('')
    for (let i = 0; i < 3000; i++) {
      const a = word(Math.floor(r() * (i < 2900 ? 9 : 150)))
      const b = r() < 0.5 ? word(Math.floor(r() * (i < 2900 ? 9 : 150))) : a.slice(1) + word(Math.floor(r() * 3))
      for (const max of [0, 1, 2, 3]) {
        const d = levenshtein(a, b)
        const got = boundedDistance(a, b, max)
        expect(got, `${a} / ${b} / ${max}`).toBe(originalBoundedDistance(a, b, max))
        expect(Math.min(got, max + 1), `${a} / ${b} / ${max}`).toBe(Math.min(d, max + 1))
      }
    }
  })
})

describe('glob matches', () => {
  it('count and sample equal a plain regular-expression scan', () => {
    const sym = scanSymbols(fixtureKernel(FIXTURE_KERNELS[0].release).btf)
    for (const glob of ['tcp_*', '*_rcv', 'vfs_rea?', '?cp_v4_connect', 'do_sys_open', 'nothing_like_this*', '*', 'a.b*', 'security_file_*ermission', '']) {
      const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)
      const all = [...sym.funcs.keys()].filter((f) => re.test(f))
      const got = countGlobMatches(sym, glob)
      expect(got, glob).toEqual({count: all.length, sample: all.slice(0, 3)})
      got.sample.push('edited')
      expect(countGlobMatches(sym, glob).sample, glob).toEqual(all.slice(0, 3))
    }
    expect(countGlobMatches(sym, 'tcp_*').count).toBeGreaterThan(100)
  })
})
