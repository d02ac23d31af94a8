/**
 * The matrix's cache text for cells: decoding gives back cells whose JSON is the
 * computed cells' JSON (what every rendering reads), for awkward strings too; and a
 * matrix shares equal reasons between cells, computed or read from the cache.
 */
import {copyFileSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type MatrixCell, type StoredCell, buildMatrix, decodeCells, encodeCells} from '../../src/matrix/matrix.js'
import {openMatrixCache} from '../../src/store/matrix-cache.js'
import {fixtureArchive} from '../check/fixture-archive.js'
import {FIXTURES} from '../helpers/fixtures.js'

const GUARD = join(import.meta.dirname, 'fixtures', 'core_guard.bpfel.o')
const OBJECTS = [join(FIXTURES, 'bpf', 'core_fields.bpfel.o'), join(FIXTURES, 'bpf', 'progs.bpfel.o'), GUARD]

const strip = ({kernel: _k, object: _o, ...c}: MatrixCell): StoredCell => c

describe('cells as cache text', () => {
  it('decode(encode(cells)) has the JSON of the cells, awkward strings included', () => {
    const cells: StoredCell[] = [
      {program: 'p', section: 'kprobe/x', verdict: 'supported', reasons: [], suggestions: []},
      {
        program: 'with\nnewline "and" quotes',
        section: 'fentry/\u2028ünï',
        verdict: 'possible',
        reasons: [
          {rule: 'target', status: 'possible', message: 'line\nbreak\r\n\ttab \\ \u0000 \u2029', evidence: [{kind: 'btf', text: '{"json": ["like"]}'}], source: 's', check: 'grep x', doubtful: true},
          {rule: 'core', status: 'pass', message: '', evidence: [], source: ''},
        ],
        suggestions: [{kind: 'section', text: 'use\nkprobe', section: 'kprobe/x', verdict: 'supported'}, {kind: 'machine', text: 'check'}],
      },
    ]
    const text = encodeCells(cells)
    const back = decodeCells('6.1.0-1-amd64', 'o.bpf.o', text)
    expect(JSON.stringify(back)).toBe(JSON.stringify(cells.map((c) => ({kernel: '6.1.0-1-amd64', object: 'o.bpf.o', ...c}))))
    expect(decodeCells('k', 'o', encodeCells([]))).toEqual([])
  })

  it('a matrix shares equal reasons between kernels, computed and read back from the cache, and the cells are the same either way', async () => {
    const archive = await fixtureArchive()
    const db = join(mkdtempSync(join(tmpdir(), 'kcompat-cells-text-')), 'index.sqlite')
    const objects = OBJECTS.map((o) => {
      const to = join(db, '..', o.split('/').pop()!)
      copyFileSync(o, to)
      return to
    })
    const runs: MatrixCell[][] = []
    for (let i = 0; i < 2; i++) {
      const cache = openMatrixCache(db)
      const m = await buildMatrix({objects, archive, cache})
      cache.close()
      expect(m.cache).toEqual(i === 0 ? {hits: 0, misses: 9} : {hits: 9, misses: 0})
      runs.push(m.cells)
    }
    const [cold, warm] = runs as [MatrixCell[], MatrixCell[]]
    expect(JSON.stringify(warm)).toBe(JSON.stringify(cold))
    for (const cells of [cold, warm]) {
      // equal reasons (by JSON) on different cells are one object
      const seen = new Map<string, object>()
      let shared = 0
      for (const c of cells) {
        for (const r of c.reasons) {
          const k = JSON.stringify(r)
          const first = seen.get(k)
          if (first === undefined) seen.set(k, r)
          else {
            expect(r).toBe(first)
            shared++
          }
        }
      }
      expect(shared).toBeGreaterThan(20)
      // and what a cell holds is what the cache text of its object on its kernel holds
      const c0 = cells[0]!
      const row = cells.filter((c) => c.kernel === c0.kernel && c.object === c0.object)
      expect(JSON.stringify(decodeCells(c0.kernel, c0.object, encodeCells(row.map(strip))))).toBe(JSON.stringify(row))
    }
  })
})
