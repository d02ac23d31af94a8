/**
 * Looking things up in a kernel's BTF symbols (symbols.ts) for `check`: attach targets
 * (FUNC / TYPEDEF by name), the program and attach types the kernel knows (its `enum
 * bpf_prog_type` and `enum bpf_attach_type`), and near names for misspelled or renamed
 * targets.
 */
import {type KernelSymbols, keyedNamesOf} from './symbols.js'

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
 * Whether name part `t` is a near name of `target` (`prefix` goes back in front for
 * the answer), and how. This is the rule, stated once:
 *
 * - Spelling: edit distance d <= MAX_TYPO = 2 (t !== target). d is at least the length
 *   difference, so only names of length L-2 .. L+2 (L = target.length) can qualify.
 *   Among those, a pigeonhole filter runs before the distance: cut the target into 3
 *   non-empty consecutive pieces (when L >= 3). Each edit (substitution, deletion, or
 *   insertion inside a piece) spoils at most one piece, and an insertion between two
 *   pieces spoils none, so with at most 2 edits one piece survives verbatim in the
 *   name; the edits before it moved it by at most 2 positions (insertions minus
 *   deletions), so it occurs at its own offset +-2. A name with no piece there is at
 *   distance > 2. Short targets (L < 3) skip the filter.
 * - Variant: one extends the other by up to MAX_VARIANT_EXTRA = 4 characters, the
 *   shorter at least 4 long, and it is not a spelling. An extension by 1 or 2 is within
 *   distance 2, a spelling already; what remains are extensions by 3 or 4: a name of
 *   length L+3 or L+4 that starts with the target (L >= 4), or one of length L-3 or L-4
 *   (at least 4) that the target starts with. Variants count as distance 3.
 */
function nearCandidate(prefix: string, t: string, target: string): NearName | undefined {
  const L = target.length
  const diff = t.length - L
  if (diff >= -MAX_TYPO && diff <= MAX_TYPO) {
    if (t === target || t === '') return undefined
    if (L >= 3) {
      const c1 = Math.floor(L / 3)
      const c2 = Math.floor((2 * L) / 3)
      if (!pieceNear(t, target, 0, c1, MAX_TYPO) && !pieceNear(t, target, c1, c2, MAX_TYPO) && !pieceNear(t, target, c2, L, MAX_TYPO)) return undefined
    }
    const d = boundedDistance(t, target, MAX_TYPO)
    return d <= MAX_TYPO ? {name: prefix + t, target: t, distance: d, why: 'spelling'} : undefined
  }
  if (diff > MAX_TYPO && diff <= MAX_VARIANT_EXTRA) {
    return L >= 4 && t.startsWith(target) ? {name: prefix + t, target: t, distance: MAX_TYPO + 1, why: 'variant'} : undefined
  }
  if (diff < -MAX_TYPO && diff >= -MAX_VARIANT_EXTRA) {
    return t.length >= 4 && target.startsWith(t) ? {name: prefix + t, target: t, distance: MAX_TYPO + 1, why: 'variant'} : undefined
  }
  return undefined
}

/**
 * Near names are asked of many kernels that share most of their names (a matrix asks
 * the same missing targets of every kernel), so candidates are found once per process
 * over the union of the names of every kernel seen, one union per (kind, prefix):
 *
 * - `seen` holds every name part (name without the prefix) of every registered kernel,
 *   also bucketed by length; registering a kernel adds the names it has that are new.
 *   For a kernel whose names come from a parsed Btf, "new" is told by a 53-bit key of
 *   each name (KeyedNames) without decoding the names met before; a new name whose key
 *   equals an earlier name's (odds about 2^-53 per pair) would go unregistered.
 * - `answers` holds, for each target asked about, every name of `seen` that is a
 *   candidate ({@link nearCandidate}). A new target is measured against `seen` (only
 *   the buckets of lengths L-4 .. L+4 can hold candidates; the shorter variants are
 *   the target's own heads, looked up in `seen`); names a later kernel brings are
 *   measured against every target already answered.
 * - A kernel's near names are then the candidates of the target that the kernel has
 *   (one lookup each), ranked as before. Whether a name is a candidate depends only on
 *   the name and the target, so this is exactly what measuring the kernel's own names
 *   gives.
 *
 * Past 500,000 names (maxUniverseNames) the union starts afresh (kernels re-register on their
 * next question), which bounds the memory a long-running process gives it.
 */
interface NameUniverse {
  seen: Set<string>
  /** Keys (KeyedNames) of every name met through a keyed kernel, prefix or not. */
  seenKeys: Set<number>
  byLength: string[][]
  answers: Map<string, NearName[]>
  kernels: WeakSet<KernelSymbols>
}

const universes = new Map<string, NameUniverse>()
let maxUniverseNames = 500_000

/** For tests: the size past which a name union starts afresh; returns the previous limit. */
export function setNearNameUniverseLimit(n: number): number {
  const old = maxUniverseNames
  maxUniverseNames = n
  return old
}

/**
 * A copy of `s` that does not keep alive a larger string it may be a slice of (names
 * are slices of their kernel's whole string table, megabytes that the union must not
 * retain): concatenating forces a new flat string.
 */
function ownCopy(s: string): string {
  return ` ${s}`.slice(1)
}

function universeFor(sym: KernelSymbols, kind: 'FUNC' | 'TYPEDEF', prefix: string): NameUniverse {
  const key = `${kind}\u0000${prefix}`
  let u = universes.get(key)
  if (!u) universes.set(key, (u = {seen: new Set(), seenKeys: new Set(), byLength: [], answers: new Map(), kernels: new WeakSet()}))
  if (u.kernels.has(sym)) return u
  const wasEmpty = u.seen.size === 0
  const fresh: string[] = []
  const consider = (name: string): void => {
    if (!name.startsWith(prefix)) return
    const t = prefix === '' ? name : name.slice(prefix.length)
    if (t === '' || u!.seen.has(t)) return
    const own = ownCopy(t)
    u!.seen.add(own)
    while (u!.byLength.length <= own.length) u!.byLength.push([])
    u!.byLength[own.length]!.push(own)
    fresh.push(own)
  }
  const names = kind === 'FUNC' ? sym.funcs : sym.typedefs
  const keyed = keyedNamesOf(names)
  if (keyed) {
    // Names whose key was met before (in any kernel) are known: only new keys are
    // decoded, so a kernel sharing most names with earlier ones costs a set lookup per
    // name instead of a string per name.
    const {ids, keys} = keyed
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!
      if (u.seenKeys.has(key)) continue
      u.seenKeys.add(key)
      consider(keyed.nameOf(ids[k]!))
    }
  } else {
    for (const name of names.keys()) consider(name)
  }
  if ((u.seen.size > maxUniverseNames || u.seenKeys.size > maxUniverseNames) && !wasEmpty) {
    universes.delete(key)
    return universeFor(sym, kind, prefix)
  }
  for (const [target, list] of u.answers) {
    for (const t of fresh) {
      const c = nearCandidate(prefix, t, target)
      if (c) list.push(c)
    }
  }
  u.kernels.add(sym)
  return u
}

/** Every candidate for `target` among the union's names. */
function answerFor(u: NameUniverse, prefix: string, target: string): NearName[] {
  let list = u.answers.get(target)
  if (list) return list
  list = []
  const L = target.length
  for (let n = Math.max(1, L - MAX_VARIANT_EXTRA); n <= L + MAX_VARIANT_EXTRA && n < u.byLength.length; n++) {
    if (n < L - MAX_TYPO) continue // shorter variants: below, by lookup
    for (const t of u.byLength[n]!) {
      const c = nearCandidate(prefix, t, target)
      if (c) list.push(c)
    }
  }
  for (let n = L - MAX_TYPO - 1; n >= Math.max(4, L - MAX_VARIANT_EXTRA); n--) {
    const t = target.slice(0, n)
    if (u.seen.has(t)) list.push(nearCandidate(prefix, t, target)!)
  }
  u.answers.set(target, list)
  return list
}

/** The kernel's near names: the union's candidates for the target that this kernel has, ranked. */
function computeNearNames(sym: KernelSymbols, kind: 'FUNC' | 'TYPEDEF', prefix: string, target: string, limit: number): NearName[] {
  const u = universeFor(sym, kind, prefix)
  const names = kind === 'FUNC' ? sym.funcs : sym.typedefs
  const mine: NearName[] = []
  for (const c of answerFor(u, prefix, target)) if (names.has(c.name)) mine.push({...c})
  return rankNear(mine, limit)
}

/** Best first (distance, then length, then name); a close misspelling makes farther ones noise; at most `limit`. */
function rankNear(out: NearName[], limit: number): NearName[] {
  out.sort((a, b) => a.distance - b.distance || a.target.length - b.target.length || (a.target < b.target ? -1 : 1))
  const best = out[0]?.distance ?? 0
  return out.filter((n) => n.why === 'variant' || n.distance === best).slice(0, limit)
}
