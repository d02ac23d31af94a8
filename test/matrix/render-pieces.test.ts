/**
 * The JSON and CSV renderings written piece by piece are exactly the whole renderings:
 * JSON.stringify(result, null, 2) for JSON (cells in runs, so runs of every length and
 * their boundaries are covered), renderCsv for CSV, across the piece-size boundaries.
 */
import {describe, expect, it} from 'vitest'
import type {MatrixCell, MatrixResult} from '../../src/matrix/matrix.js'
import {csvChunks, jsonChunks, renderMatrixChunks} from '../../src/matrix/render.js'

function cell(i: number): MatrixCell {
  return {
    kernel: `6.1.0-${i % 3}-amd64`,
    object: i % 3 === 0 ? 'a "quoted", name.bpf.o' : 'o.bpf.o',
    program: `p${i % 7}`,
    section: 'kprobe/do_sys_open',
    verdict: (['supported', 'possible', 'unknown', 'unsupported'] as const)[i % 4]!,
    reasons: Array.from({length: i % 4}, (_, r) => ({
      rule: 'target',
      status: 'fail' as const,
      message: `line one\nline two ${r} — ünïcödé \u2028 \\ "q" ${'x'.repeat(i % 50)}`,
      evidence: r % 2 ? [] : [{kind: 'btf' as const, text: 'no FUNC x in /a/b.btf'}],
      source: 'features.md §9',
    })),
    suggestions: i % 5 === 0 ? [{text: 'use kprobe', section: 'kprobe/x', verdict: 'supported' as const}] : [],
  } as MatrixCell
}

function matrixOf(n: number): MatrixResult {
  return {
    kernels: [0, 1, 2].map((k) => ({name: `6.1.0-${k}-amd64`, release: `6.1.0-${k}-amd64`, distro: 'debian', version: '12', arch: 'x86_64', flavor: null, upstream: '6.1.0', btf: 'file' as const, origin: 'btf-file' as const, path: `/${k}.btf`})),
    objects: [{name: 'o.bpf.o', path: '/o.bpf.o', sha256: 'ab', programs: [{program: 'p', section: 'kprobe/x'}]}],
    cells: Array.from({length: n}, (_, i) => cell(i)),
    summary: [],
    cache: {hits: 1, misses: 2},
  }
}

describe('matrix renderings in pieces', () => {
  it.each([0, 1, 2, 255, 256, 257, 512, 700])('JSON of %i cells is JSON.stringify(result, null, 2), without the cache counts', (n) => {
    const m = matrixOf(n)
    const {cache: _cache, ...rest} = m
    const whole = `${JSON.stringify(rest, null, 2)}\n`
    expect([...jsonChunks(m)].join('')).toBe(whole)
    expect([...renderMatrixChunks(m, 'json')].join('')).toBe(whole)
  })

  it('cells sharing reason objects, and cells of other shapes, are laid out as JSON.stringify lays them out', () => {
    const m = matrixOf(40)
    const shared = m.cells[3]!.reasons[0]!
    const sharedSuggestion = m.cells[5]!.suggestions[0]!
    const odd: unknown[] = [
      {...m.cells[1], reasons: [shared, shared, {...shared, check: undefined}], suggestions: [sharedSuggestion]},
      {...m.cells[2], reasons: [shared]},
      {...m.cells[1], extra: 'x'},
      Object.assign({verdict: 'possible'}, m.cells[1]),
      {...m.cells[1], program: undefined},
      {...m.cells[1], reasons: ['a string', null, 3, [shared]]},
      {...m.cells[1], reasons: [undefined, () => 1]},
      {...m.cells[1], reasons: [{toJSON: () => 'replaced'}, {when: new Date(0), nested: {toJSON: (k: string) => `key ${k}`}}]},
      {...m.cells[1], suggestions: 'not a list'},
      {...m.cells[1], reasons: [{message: 'ünï\u2028\n', evidence: [[], {}, [[]]], n: -0, big: 1e21}]},
    ]
    m.cells.push(...(odd as MatrixCell[]), ...(odd as MatrixCell[]))
    const {cache: _cache, ...rest} = m
    expect([...jsonChunks(m)].join('')).toBe(`${JSON.stringify(rest, null, 2)}\n`)
  })

  it('a large matrix comes in pieces of about a megabyte, the same text as the per-cell pieces', () => {
    const m = matrixOf(6000)
    const json = [...renderMatrixChunks(m, 'json')]
    expect(json.length).toBeGreaterThan(1)
    expect(json.slice(0, -1).every((p) => p.length >= 1 << 20)).toBe(true)
    expect(json.join('')).toBe(`${JSON.stringify({kernels: m.kernels, objects: m.objects, cells: m.cells, summary: m.summary}, null, 2)}\n`)
    const csv = [...renderMatrixChunks(m, 'csv')]
    expect(csv.join('')).toBe([...csvChunks(m)].join(''))
    expect(csv.length).toBeLessThan(6001)
  })
})
