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

/**
 * Number of FUNCs whose name matches a libbpf glob (`*` and `?`), with the first three
 * matches (in BTF order) as a sample. The glob's literal head (everything before its
 * first wildcard) must start every match, so names without it are passed over before
 * the regular expression runs. Memoized per kernel: a matrix asks for the same globs of
 * every object again.
 */
export function countGlobMatches(sym: KernelSymbols, glob: string): {count: number; sample: string[]} {
  let memo = globMemo.get(sym)
  if (!memo) globMemo.set(sym, (memo = new Map()))
  let hit = memo.get(glob)
  if (!hit) {
    const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)
    const wild = glob.search(/[*?]/)
    const head = wild < 0 ? glob : glob.slice(0, wild)
    let count = 0
    const sample: string[] = []
    for (const f of sym.funcs.keys()) {
      if (!f.startsWith(head) || !re.test(f)) continue
      count++
      if (sample.length < 3) sample.push(f)
    }
    memo.set(glob, (hit = {count, sample}))
  }
  return {count: hit.count, sample: [...hit.sample]}
}

const globMemo = new WeakMap<KernelSymbols, Map<string, {count: number; sample: string[]}>>()

// Scratch rows for boundedDistance, grown as needed (the function is called for many short names).
let rowA = new Int32Array(64)
let rowB = new Int32Array(64)

/** Levenshtein distance, or `max + 1` as soon as it must exceed `max`. */
export function boundedDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  if (rowA.length < b.length + 1) {
    rowA = new Int32Array(b.length + 1)
    rowB = new Int32Array(b.length + 1)
  }
  // Two rows of the dynamic programme; the smallest value of a row is a lower bound of the result.
  let prev = rowA
  let cur = rowB
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i
    let rowMin = i
    const ca = a.charCodeAt(i - 1)
    for (let j = 1; j <= b.length; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost)
      cur[j] = v
      if (v < rowMin) rowMin = v
    }
    if (rowMin > max) return max + 1
    const t = prev
    prev = cur
    cur = t
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

/**
 * The names of `kind` that start with `prefix`, without the prefix, bucketed by length
 * (`byLength[n]` holds the targets of n characters, in BTF order). Built once per
 * (kernel, kind, prefix) on the first near-name question; later questions on that kernel
 * read only the few buckets whose lengths can answer them.
 */
interface TargetBuckets {
  byLength: string[][]
}

const bucketMemo = new WeakMap<KernelSymbols, Map<string, TargetBuckets>>()

function targetBuckets(sym: KernelSymbols, kind: 'FUNC' | 'TYPEDEF', prefix: string): TargetBuckets {
  let memo = bucketMemo.get(sym)
  if (!memo) bucketMemo.set(sym, (memo = new Map()))
  const key = `${kind}\u0000${prefix}`
  let hit = memo.get(key)
  if (!hit) {
    const byLength: string[][] = []
    for (const name of (kind === 'FUNC' ? sym.funcs : sym.typedefs).keys()) {
      if (!name.startsWith(prefix)) continue
      const t = prefix === '' ? name : name.slice(prefix.length)
      const n = t.length
      if (n === 0) continue
      while (byLength.length <= n) byLength.push([])
      byLength[n]!.push(t)
    }
    memo.set(key, (hit = {byLength}))
  }
  return hit
}

/**
 * Whether `target[start, end)` occurs in `t` starting within `slack` positions of
 * `start`.
 */
function pieceNear(t: string, target: string, start: number, end: number, slack: number): boolean {
  const len = end - start
  const first = target.charCodeAt(start)
  const lo = Math.max(0, start - slack)
  const hi = Math.min(t.length - len, start + slack)
  for (let s = lo; s <= hi; s++) {
    if (t.charCodeAt(s) !== first) continue
    let k = 1
    while (k < len && t.charCodeAt(s + k) === target.charCodeAt(start + k)) k++
    if (k === len) return true
  }
  return false
}

/**
 * Near names, computed from the length buckets instead of measuring the distance to
 * every name of the kernel (it gives exactly what measuring every name gives; the
 * tests keep that naive version and compare):
 *
 * - Spelling (edit distance d <= MAX_TYPO = 2): d is at least the length difference, so
 *   only targets of length L-2 .. L+2 (L = target.length) can qualify. Among those, a
 *   pigeonhole filter runs before the distance: cut the target into 3 non-empty
 *   consecutive pieces (when L >= 3). Each edit (substitution, deletion, or insertion
 *   inside a piece) spoils at most one piece, and an insertion between two pieces
 *   spoils none, so with at most 2 edits one piece survives verbatim in the name; the
 *   edits before it moved it by at most 2 positions (insertions minus deletions), so it
 *   occurs at its own offset +-2. A name with no piece there is at distance > 2. Short
 *   targets (L < 3) skip the filter; their buckets are small.
 * - Variants (one extends the other by up to MAX_VARIANT_EXTRA = 4 characters, the
 *   shorter at least 4 long, and not already a spelling): an extension by 1 or 2 is
 *   within distance 2, so it is a spelling already; what remains are extensions by 3
 *   or 4. Longer names: targets of length L+3 and L+4 that start with the target (when
 *   L >= 4). Shorter names: the target's own heads of length L-3 and L-4 (when those
 *   are at least 4 long), looked up by name.
 *
 * Every candidate is a distinct name, and the final order (distance, length, name) is
 * total, so the result does not depend on the order candidates are found in.
 */
function computeNearNames(sym: KernelSymbols, kind: 'FUNC' | 'TYPEDEF', prefix: string, target: string, limit: number): NearName[] {
  const {byLength} = targetBuckets(sym, kind, prefix)
  const L = target.length
  const out: NearName[] = []
  // piece boundaries: [0, c1), [c1, c2), [c2, L)
  const pigeon = L >= 3
  const c1 = Math.floor(L / 3)
  const c2 = Math.floor((2 * L) / 3)
  for (let n = Math.max(1, L - MAX_TYPO); n <= L + MAX_TYPO && n < byLength.length; n++) {
    for (const t of byLength[n]!) {
      if (t === target) continue
      if (pigeon && !pieceNear(t, target, 0, c1, MAX_TYPO) && !pieceNear(t, target, c1, c2, MAX_TYPO) && !pieceNear(t, target, c2, L, MAX_TYPO)) continue
      const d = boundedDistance(t, target, MAX_TYPO)
      if (d <= MAX_TYPO) out.push({name: prefix + t, target: t, distance: d, why: 'spelling'})
    }
  }
  if (L >= 4) {
    for (let n = L + MAX_TYPO + 1; n <= L + MAX_VARIANT_EXTRA && n < byLength.length; n++) {
      for (const t of byLength[n]!) if (t.startsWith(target)) out.push({name: prefix + t, target: t, distance: MAX_TYPO + 1, why: 'variant'})
    }
  }
  const names = kind === 'FUNC' ? sym.funcs : sym.typedefs
  for (let n = L - MAX_TYPO - 1; n >= Math.max(4, L - MAX_VARIANT_EXTRA); n--) {
    const t = target.slice(0, n)
    if (names.has(prefix + t)) out.push({name: prefix + t, target: t, distance: MAX_TYPO + 1, why: 'variant'})
  }
  return rankNear(out, limit)
}

/** Best first (distance, then length, then name); a close misspelling makes farther ones noise; at most `limit`. */
function rankNear(out: NearName[], limit: number): NearName[] {
  out.sort((a, b) => a.distance - b.distance || a.target.length - b.target.length || (a.target < b.target ? -1 : 1))
  const best = out[0]?.distance ?? 0
  return out.filter((n) => n.why === 'variant' || n.distance === best).slice(0, limit)
}
