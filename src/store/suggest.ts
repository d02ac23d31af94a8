/**
 * "Did you mean": near names for a query that found nothing (or found a member in only
 * some kernels). Ranked by how a kernel name usually drifts:
 *
 *   0  the same name in another case                      TCP_V4_CONNECT → tcp_v4_connect
 *   1  the same up to leading/trailing underscores         state → __state
 *   1  the same essential name (libbpf `___flavor` rule)   task_struct___old → task_struct
 *   2  one name contains the other (3+ characters)         do_sys_open → do_sys_openat2
 *   3  a small edit distance (1, or 2 for 8+ characters)   tcp_v4_conect → tcp_v4_connect
 */
import {essentialName} from '../btf/btf.js'

export interface Suggestion {
  name: string
  score: number
}

const strip = (s: string): string => s.replace(/^_+|_+$/g, '')

/**
 * Up to `limit` names from `candidates` near `query` (never `query` itself), best first.
 * When some candidate is a case or underscore/flavor variant (rank 0 or 1), only those
 * are returned: `state` suggests `__state`, not every name containing "state".
 */
export function nearNames(query: string, candidates: Iterable<string>, limit = 8): string[] {
  const q = query
  const qLower = q.toLowerCase()
  const qStrip = strip(qLower)
  const qEss = essentialName(q)
  const maxEdits = q.length >= 8 ? 2 : 1
  const found = new Map<string, number>()
  for (const c of candidates) {
    if (c === q || found.has(c)) continue
    const cLower = c.toLowerCase()
    let score: number | undefined
    if (cLower === qLower) score = 0
    else if ((qStrip !== '' && strip(cLower) === qStrip) || essentialName(c) === qEss || essentialName(c) === q || c === qEss) score = 1
    else if (q.length >= 3 && c.length >= 3 && (cLower.includes(qLower) || qLower.includes(cLower))) score = 2
    else if (Math.abs(c.length - q.length) <= maxEdits && editDistance(qLower, cLower, maxEdits) <= maxEdits) score = 3
    if (score !== undefined) found.set(c, score)
  }
  const best = Math.min(...found.values())
  return [...found.entries()]
    .filter(([, score]) => best > 1 || score <= 1)
    .sort((a, b) => a[1] - b[1] || a[0].length - b[0].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, limit)
    .map(([name]) => name)
}

/** Levenshtein distance, giving up (returning max + 1) once it must exceed `max`. */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let prev = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      cur.push(v)
      if (v < rowMin) rowMin = v
    }
    if (rowMin > max) return max + 1
    prev = cur
  }
  return prev[b.length]!
}
