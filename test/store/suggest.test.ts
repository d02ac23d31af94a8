/**
 * Near-name suggestions: the ranking rules, the banded edit distance against a plain
 * Levenshtein, and the chunk-text scan agreeing with the plain one.
 */
import {describe, expect, it} from 'vitest'
import {nearKeys, nearNames, withinEdits} from '../../src/store/suggest.js'

function levenshtein(a: string, b: string): number {
  const d = Array.from({length: a.length + 1}, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
  }
  return d[a.length]![b.length]!
}

/** A small deterministic generator (xorshift). */
function rng(seed: number): () => number {
  let x = seed
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

describe('suggestions', () => {
  it('withinEdits agrees with a full Levenshtein distance', () => {
    const r = rng(12345)
    const word = (): string => Array.from({length: Math.floor(r() * 9)}, () => 'ab_c'[Math.floor(r() * 4)]).join('')
    for (let i = 0; i < 5000; i++) {
      const a = word()
      const b = word()
      for (const k of [0, 1, 2, 3]) expect(withinEdits(a, b, k), `${a} ${b} ${k}`).toBe(levenshtein(a, b) <= k)
    }
  })

  it('ranks case, underscore and ___flavor variants first, and then only them', () => {
    const names = ['__state', 'exit_state', 'saved_state', 'State', 'task_struct', 'task_struct___old', 'stat']
    expect(nearNames('state', names)).toEqual(['State', '__state'])
    expect(nearNames('task_struct___new', names)).toEqual(['task_struct', 'task_struct___old'])
    expect(nearNames('xit_state', names)).toEqual(['exit_state'])
    expect(nearNames('exit_stat', names)).toEqual(['exit_state'])
    expect(nearNames('nothing_like_it', names)).toEqual([])
  })

  it('the chunk-text scan finds what the plain scan finds', () => {
    const keys = ['do_sys_open', 'do_sys_openat2', 'DO_SYS_OPEN', 'tcp_v4_connect', 'tcp_v6_connect', 'tcp_v4_connect___2', '__tcp_v4_connect', 'x']
    const lines = [...keys].sort().map((k, i) => `${k}\t${i + 1}`)
    const text = lines.join('\n')
    for (const q of ['do_sys_open', 'tcp_v4_conect', 'TCP_V4_CONNECT', 'tcp_v4_connect___9', 'open', 'x', 'y', 'connect']) {
      // chunks end at line boundaries
      expect(nearKeys(q, [lines.slice(0, 3).join('\n'), lines.slice(3).join('\n')]).sort(), q).toEqual(nearKeys(q, [text]).sort())
      expect(nearKeys(q, [text]), q).toEqual(nearNames(q, keys))
    }
  })

  it('the chunk-text scan (with its edit-distance prefilter) equals the plain scan on random names and typos', () => {
    const r = rng(777)
    const word = (n: number): string => Array.from({length: n}, () => 'abc_dE'[Math.floor(r() * 6)]).join('')
    const edit = (w: string): string => {
      const i = Math.floor(r() * (w.length + 1))
      const c = 'abc_dE'[Math.floor(r() * 6)]!
      const op = Math.floor(r() * 3)
      return op === 0 ? w.slice(0, i) + c + w.slice(i) : op === 1 ? w.slice(0, i) + w.slice(i + 1) : w.slice(0, i) + c + w.slice(i + 1)
    }
    for (let round = 0; round < 200; round++) {
      const keys = [...new Set(Array.from({length: 40}, () => word(2 + Math.floor(r() * 10))))]
      const text = [...keys].sort().map((k, i) => `${k}\t${i}`).join('\n')
      for (let t = 0; t < 5; t++) {
        const base = keys[Math.floor(r() * keys.length)]!
        const q = t === 0 ? word(1 + Math.floor(r() * 10)) : t < 3 ? edit(base) : edit(edit(base))
        expect(nearKeys(q, [text], 100), `${q} in ${keys.join(' ')}`).toEqual(nearNames(q, keys, 100))
      }
    }
  })
})
