/**
 * Looking things up in a kernel's BTF symbols (symbols.ts) for `check`: attach targets
 * (FUNC / TYPEDEF by name), the program and attach types the kernel knows (its `enum
 * bpf_prog_type` and `enum bpf_attach_type`), and near names for misspelled or renamed
 * targets.
 */
import type {KernelSymbols} from './symbols.js'

/** Whether the kernel's BTF enum lists `name` (`BPF_PROG_TYPE_TRACING`, `BPF_TRACE_FENTRY`); undefined when the enum is absent. */
export function kernelKnows(sym: KernelSymbols, what: 'prog' | 'attach', name: string): boolean | undefined {
  const set = what === 'prog' ? sym.progTypes : sym.attachTypes
  return set ? set.has(name) : undefined
}

/** The id of a FUNC or TYPEDEF named `name`, or undefined. */
export function findTarget(sym: KernelSymbols, kind: 'FUNC' | 'TYPEDEF', name: string): number | undefined {
  return (kind === 'FUNC' ? sym.funcs : sym.typedefs).get(name)
}

/** True when the BTF has `btf_trace_<tp>` typedefs at all (kernels since 5.5). */
export function hasTracepointTypedefs(sym: KernelSymbols): boolean {
  return sym.hasBtfTraceTypedefs
}

/** Number of FUNCs whose name matches a libbpf glob (`*` and `?`). */
export function countGlobMatches(sym: KernelSymbols, glob: string): {count: number; sample: string[]} {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)
  let count = 0
  const sample: string[] = []
  for (const f of sym.funcs.keys()) {
    if (re.test(f)) {
      count++
      if (sample.length < 3) sample.push(f)
    }
  }
  return {count, sample}
}

/** Levenshtein distance, or `max + 1` as soon as it must exceed `max`. */
export function boundedDistance(a: string, b: string, max: number): number {
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

export interface NearName {
  /** The name as it appears in BTF (with the prefix, e.g. `bpf_lsm_file_open`). */
  name: string
  /** Without the prefix (what goes in the section). */
  target: string
  /** Edit distance on the target part; renames (a longer or shorter variant) count as 3. */
  distance: number
  why: 'spelling' | 'variant'
}

const MAX_TYPO = 2
const MAX_VARIANT_EXTRA = 4

/**
 * Names of `kind` with `prefix` close to `prefix + target`: spelling (edit distance up
 * to 2) and variants (one name extends the other by up to 4 characters, like
 * `do_sys_open` / `do_sys_openat2`). Best first, at most `limit`.
 */
export function nearNames(sym: KernelSymbols, kind: 'FUNC' | 'TYPEDEF', prefix: string, target: string, limit = 3): NearName[] {
  // Memoized per kernel: a matrix (and a check's suggestions) asks for the same names again.
  let memo = nearMemo.get(sym)
  if (!memo) nearMemo.set(sym, (memo = new Map()))
  const key = `${kind}\u0000${prefix}\u0000${target}\u0000${limit}`
  let hit = memo.get(key)
  if (!hit) memo.set(key, (hit = computeNearNames(sym, kind, prefix, target, limit)))
  return hit.map((n) => ({...n}))
}

const nearMemo = new WeakMap<KernelSymbols, Map<string, NearName[]>>()

function computeNearNames(sym: KernelSymbols, kind: 'FUNC' | 'TYPEDEF', prefix: string, target: string, limit: number): NearName[] {
  const names = (kind === 'FUNC' ? sym.funcs : sym.typedefs).keys()
  const out: NearName[] = []
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const t = name.slice(prefix.length)
    if (t === target || t === '') continue
    const d = boundedDistance(t, target, MAX_TYPO)
    if (d <= MAX_TYPO) {
      out.push({name, target: t, distance: d, why: 'spelling'})
      continue
    }
    const longer = t.length > target.length ? t : target
    const shorter = t.length > target.length ? target : t
    if (shorter.length >= 4 && longer.length - shorter.length <= MAX_VARIANT_EXTRA && longer.startsWith(shorter)) {
      out.push({name, target: t, distance: MAX_TYPO + 1, why: 'variant'})
    }
  }
  out.sort((a, b) => a.distance - b.distance || a.target.length - b.target.length || (a.target < b.target ? -1 : 1))
  // A close misspelling makes farther ones noise.
  const best = out[0]?.distance ?? 0
  return out.filter((n) => n.why === 'variant' || n.distance === best).slice(0, limit)
}
