/**
 * "Did you mean": near names for a query that found nothing (or found a member in only
 * some kernels). Ranked by how a kernel name usually drifts:
 *
 *   0  the same name in another case                      TCP_V4_CONNECT → tcp_v4_connect
 *   1  the same up to leading/trailing underscores         state → __state
 *   1  the same essential name (libbpf `___flavor` rule)   task_struct___old → task_struct
 *   2  the name contains the query (3+ characters)         do_sys_open → do_sys_openat2
 *   3  a small edit distance (1, or 2 for 8+ characters)   tcp_v4_conect → tcp_v4_connect
 *
 * When some candidate ranks 0 or 1, only those are returned: `state` suggests
 * `__state`, not every name containing "state".
 */
import {essentialName} from '../btf/btf.js'

const UNDERSCORE = 0x5f

/** The name without leading and trailing underscores. */
function strip(s: string): string {
  let i = 0
  let j = s.length
  while (i < j && s.charCodeAt(i) === UNDERSCORE) i++
  while (j > i && s.charCodeAt(j - 1) === UNDERSCORE) j--
  return i === 0 && j === s.length ? s : s.slice(i, j)
}

class Query {
  readonly lower: string
  readonly stripped: string
  readonly essential: string
  readonly maxEdits: number
  readonly found = new Map<string, number>()

  constructor(readonly q: string) {
    this.lower = q.toLowerCase()
    this.stripped = strip(this.lower)
    this.essential = essentialName(q)
    this.maxEdits = q.length >= 8 ? 2 : 1
  }

  /** Rank of candidate `c` (lowercased `cl`), or undefined when it is not near. */
  score(c: string, cl: string): number | undefined {
    if (c === this.q) return undefined
    if (cl === this.lower) return 0
    if ((this.stripped !== '' && strip(cl) === this.stripped) || c === this.essential) return 1
    if (c.includes('___') && (essentialName(c) === this.essential || essentialName(c) === this.q)) return 1
    if (this.q.length >= 3 && cl.includes(this.lower)) return 2
    if (Math.abs(c.length - this.q.length) <= this.maxEdits && withinEdits(this.lower, cl, this.maxEdits)) return 3
    return undefined
  }

  consider(c: string, cl: string): void {
    if (this.found.has(c)) return
    const s = this.score(c, cl)
    if (s !== undefined) this.found.set(c, s)
  }

  best(limit: number): string[] {
    const top = Math.min(...this.found.values())
    return [...this.found.entries()]
      .filter(([, score]) => top > 1 || score <= 1)
      .sort((a, b) => a[1] - b[1] || a[0].length - b[0].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, limit)
      .map(([name]) => name)
  }
}

/** Up to `limit` names from `candidates` near `query` (never `query` itself), best first. */
export function nearNames(query: string, candidates: Iterable<string>, limit = 8): string[] {
  const q = new Query(query)
  for (const c of candidates) q.consider(c, c.toLowerCase())
  return q.best(limit)
}

/**
 * The same as {@link nearNames} over the keys of record chunk texts (lines
 * `key TAB …`), without splitting them into strings: the substring ranks are found by
 * searching the lowercased text, and only keys of a near length are compared by edit
 * distance.
 */
export function nearKeys(query: string, texts: Iterable<string>, limit = 8): string[] {
  const q = new Query(query)
  // Every key of rank 0-2 contains one of these; short ones too (`_d__` must find `d_`).
  const needles = [...new Set([q.lower, q.stripped, q.essential.toLowerCase()])].filter((n) => n.length > 0)
  for (const text of texts) {
    const lower = text.toLowerCase()
    if (lower.length !== text.length) {
      // Case mapping changed lengths (non-ASCII): compare key by key.
      forEachLineKey(text, (start, end) => q.consider(text.slice(start, end), text.slice(start, end).toLowerCase()))
      continue
    }
    for (const needle of needles) {
      let pos = lower.indexOf(needle)
      while (pos >= 0) {
        const start = lower.lastIndexOf('\n', pos) + 1
        const tab = lower.indexOf('\t', start)
        if (tab >= 0 && pos + needle.length <= tab) q.consider(text.slice(start, tab), lower.slice(start, tab))
        const nl = lower.indexOf('\n', pos)
        if (nl < 0) break
        pos = lower.indexOf(needle, nl + 1)
      }
    }
    forEachLineKey(text, (start, end) => {
      if (Math.abs(end - start - q.q.length) <= q.maxEdits && mayBeWithinEdits(lower, start, end, q.lower, q.maxEdits)) {
        q.consider(text.slice(start, end), lower.slice(start, end))
      }
    })
  }
  return q.best(limit)
}

/**
 * A filter before the edit distance, on the text itself (no key string made): cut the
 * query into k+1 non-empty pieces; k edits can spoil at most k of them, and shift the
 * others by at most k, so a key within k edits holds some piece verbatim within k of
 * that piece's own offset. Keys this rejects are farther than k; the other ranks (same
 * case-folded name, contained name, essential name) were found by the substring search
 * above, so nothing is lost. Queries shorter than k+1 characters are not filtered.
 */
function mayBeWithinEdits(text: string, start: number, end: number, query: string, k: number): boolean {
  const n = query.length
  if (n < k + 1) return true
  for (let p = 0; p <= k; p++) {
    const from = Math.floor((p * n) / (k + 1))
    const to = Math.floor(((p + 1) * n) / (k + 1))
    const piece = query.slice(from, to)
    for (let shift = -k; shift <= k; shift++) {
      const at = start + from + shift
      if (at >= start && at + piece.length <= end && text.startsWith(piece, at)) return true
    }
  }
  return false
}

function forEachLineKey(text: string, fn: (start: number, end: number) => void): void {
  let at = 0
  while (at < text.length) {
    const tab = text.indexOf('\t', at)
    if (tab < 0) break
    fn(at, tab)
    const nl = text.indexOf('\n', tab)
    if (nl < 0) break
    at = nl + 1
  }
}

/** Whether the Levenshtein distance of a and b is at most k (banded, early exit). */
export function withinEdits(a: string, b: string, k: number): boolean {
  if (Math.abs(a.length - b.length) > k) return false
  const n = b.length
  let prev = new Array<number>(n + 1)
  let cur = new Array<number>(n + 1)
  for (let j = 0; j <= n; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    const lo = Math.max(1, i - k)
    const hi = Math.min(n, i + k)
    cur[lo - 1] = lo - 1 === 0 ? i : k + 1
    let rowMin = cur[lo - 1]!
    for (let j = lo; j <= hi; j++) {
      const sub = prev[j - 1]! + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1)
      const del = (j <= i - 1 + k ? prev[j]! : k + 1) + 1
      const ins = cur[j - 1]! + 1
      const v = Math.min(sub, del, ins)
      cur[j] = v
      if (v < rowMin) rowMin = v
    }
    if (hi < n) cur[hi + 1] = k + 1
    if (rowMin > k) return false
    ;[prev, cur] = [cur, prev]
  }
  return prev[n]! <= k
}
