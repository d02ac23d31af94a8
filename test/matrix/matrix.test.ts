/**
 * The release matrix against `check` (cell by cell) and against libbpf (every CO-RE
 * relocation that drives a verdict is what libbpf decides for it), on the committed
 * fixture kernels; its formats; its cache.
 */
import {mkdtempSync, writeFileSync, copyFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'
import {type MatrixCell, type MatrixResult, btfFileKernelName, buildMatrix, kernelFilter, matrixExitCode} from '../../src/matrix/matrix.js'
import {CSV_HEADER, renderCsv, renderHtml, renderJson, renderMarkdown, renderTable} from '../../src/matrix/render.js'
import {openMatrixCache} from '../../src/store/matrix-cache.js'
import {fixtureArchive} from '../check/fixture-archive.js'
import {FIXTURES, kernelFixtures} from '../helpers/fixtures.js'
import {requireHarness, runHarness} from '../harness/libbpf.js'

const GUARD = join(import.meta.dirname, 'fixtures', 'core_guard.bpfel.o')
const OBJECTS = [join(FIXTURES, 'bpf', 'core_fields.bpfel.o'), join(FIXTURES, 'bpf', 'core_types.bpfel.o'), join(FIXTURES, 'bpf', 'progs.bpfel.o'), GUARD]
const haveHarness = requireHarness('matrix CO-RE verdicts against libbpf')

let memo: Promise<MatrixResult> | undefined
const matrix = (): Promise<MatrixResult> => (memo ??= (async () => buildMatrix({objects: OBJECTS, archive: await fixtureArchive()}))())

const cellOf = (m: MatrixResult, kernel: string, object: string, program: string): MatrixCell =>
  m.cells.find((c) => c.kernel === kernel && c.object === object && c.program === program)!

describe('matrix', () => {
  it('has one cell per (kernel, program), and each equals check --object on that kernel', async () => {
    const m = await matrix()
    const programs = m.objects.reduce((n, o) => n + o.programs.length, 0)
    expect(m.kernels.map((k) => k.name).sort()).toEqual(kernelFixtures().map((k) => k.release).sort())
    expect(m.cells.length).toBe(m.kernels.length * programs)
    for (const k of m.kernels) {
      const r = await check({kernel: k.release, objects: OBJECTS, archive: await fixtureArchive()})
      const mine = m.cells.filter((c) => c.kernel === k.name)
      expect(mine.length).toBe(r.programs.length)
      r.programs.forEach((p, i) => {
        const c = mine[i]!
        expect({program: c.program, section: c.section, verdict: c.verdict, reasons: c.reasons, suggestions: c.suggestions}).toEqual({
          program: p.program,
          section: p.section,
          verdict: p.verdict,
          reasons: p.reasons,
          suggestions: p.suggestions,
        })
      })
    }
  })

  it('CO-RE decides verdicts that differ between 6.1 and 6.12, naming what the kernel lacks', async () => {
    const m = await matrix()
    const v61 = '6.1.0-56-cloud-amd64'
    const v612 = '6.12.117+deb12-cloud-amd64'
    const o = 'core_guard.bpfel.o'
    expect(cellOf(m, v61, o, 'new_member').verdict).toBe('unsupported')
    expect(cellOf(m, v612, o, 'new_member').verdict).toBe('supported')
    expect(cellOf(m, v61, o, 'old_member').verdict).toBe('supported')
    expect(cellOf(m, v612, o, 'old_member').verdict).toBe('unsupported')
    for (const k of [v61, v612]) {
      const u = cellOf(m, k, o, 'unguarded_state')
      expect(u.verdict).toBe('unsupported')
      expect(u.reasons.find((r) => r.rule === 'core' && r.status === 'fail')!.message).toMatch(/^struct task_struct\.state: no such member on this kernel \(task_struct has __state\)/)
      const g = cellOf(m, k, o, 'guarded_state')
      expect(g.verdict).toBe('possible')
      expect(g.reasons.find((r) => r.rule === 'core')!.message).toMatch(/bpf_core_field_exists\(struct task_struct\.__state\) = 1/)
    }
    // core_types: guarded poisoned accesses only; the poisoned ones differ per kernel
    const t61 = cellOf(m, v61, 'core_types.bpfel.o', 'core_types').reasons.filter((r) => r.rule === 'core' && r.status === 'possible').map((r) => r.message)
    const t612 = cellOf(m, v612, 'core_types.bpfel.o', 'core_types').reasons.filter((r) => r.rule === 'core' && r.status === 'possible').map((r) => r.message)
    expect(t61.some((x) => x.startsWith('enum bpf_func_id::BPF_FUNC_cgrp_storage_get: no such enumerator'))).toBe(true)
    expect(t612.some((x) => x.startsWith('enum bpf_func_id::'))).toBe(false)
    // core_fields resolves everywhere
    for (const k of m.kernels) for (const c of m.cells.filter((x) => x.kernel === k.name && x.object === 'core_fields.bpfel.o')) {
      expect(c.reasons.find((r) => r.rule === 'core')!.status).toBe('pass')
    }
  })

  it.skipIf(!haveHarness)('every relocation behind a CO-RE verdict is what libbpf decides, and libbpf poisons or fails nothing the matrix does not report', async () => {
    const m = await matrix()
    for (const k of kernelFixtures()) {
      for (const path of [OBJECTS[0]!, OBJECTS[1]!, GUARD]) {
        const name = path.split('/').pop()!
        const run = runHarness(path, k.path)
        const bad = run.decisions.filter((d) => d.status !== 'patched')
        const cells = m.cells.filter((c) => c.kernel === k.release && c.object === name)
        // relocations our reasons name as poisoned/failed: "<program> insn #N: <kind> ... : poisoned"
        const named = new Set<string>()
        for (const c of cells) {
          for (const r of c.reasons.filter((x) => x.rule === 'core' && (x.status === 'fail' || x.status === 'possible'))) {
            const ev = /^(\S+) insn #(\d+): .*: (poisoned|failed)/.exec(r.evidence[0]!.text)
            expect(ev, r.evidence[0]!.text).not.toBeNull()
            const d = run.decisions.find((x) => x.program === ev![1] && x.insn === Number(ev![2]))
            expect(d, `${k.release} ${name}: libbpf has no decision for ${r.evidence[0]!.text}`).toBeDefined()
            expect(d!.status).toBe(ev![3])
            named.add(`${ev![1]}#${ev![2]}`)
          }
        }
        for (const d of bad) expect(named.has(`${d.program}#${d.insn}`), `${k.release} ${name}: libbpf ${d.status} ${d.program} insn ${d.insn}`).toBe(true)
      }
    }
  })

  it('summaries: loads on N of M, first version, failures grouped by reason', async () => {
    const m = await matrix()
    const s = m.summary.find((x) => x.object === 'core_guard.bpfel.o' && x.program === 'new_member')!
    expect(s.total).toBe(m.kernels.length)
    expect(s.counts.supported).toBe(1)
    expect(s.firstVersion).toBe('6.12.117')
    expect(s.failures).toHaveLength(1)
    expect(s.failures[0]!.kernels.sort()).toEqual(['6.1.0-56-cloud-amd64', '6.1.0-56-cloud-arm64'])
    expect(m.summary.find((x) => x.program === 'old_member')!.firstVersion).toBeNull()
    expect(renderTable(m)).toContain('core_guard.bpfel.o: new_member (kprobe/do_exit): loads on 1 of 3 kernels (2 unsupported)')
  })

  it('--kernels filters, --btf names kernels by file name, --fail-on exit codes', async () => {
    const archive = await fixtureArchive()
    const f = kernelFilter('*arm64,!nothing')
    expect(f({release: '6.1.0-56-cloud-arm64', distro: 'debian', version: '12', arch: 'arm64'} as never)).toBe(true)
    expect(f({release: '6.1.0-56-cloud-amd64', distro: 'debian', version: '12', arch: 'x86_64'} as never)).toBe(false)
    expect(btfFileKernelName('/x/5.15.0-91-generic.btf.tar.xz')).toBe('5.15.0-91-generic')
    expect(btfFileKernelName('6.1.0-56-cloud-amd64.btf')).toBe('6.1.0-56-cloud-amd64')
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-matrix-'))
    const btf = join(dir, '6.12.117+deb12-cloud-amd64.btf.xz')
    copyFileSync(join(FIXTURES, 'kernels', '6.12.117+deb12-cloud-amd64.btf.xz'), btf)
    const m = await buildMatrix({objects: [GUARD], archive, kernels: 'debian/12/x86_64/*', btf: [btf]})
    expect(m.kernels.map((k) => k.name)).toEqual(['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64', '6.12.117+deb12-cloud-amd64'].slice(0, m.kernels.length))
    const fromFile = m.kernels.find((k) => k.origin === 'btf-file')!
    expect(fromFile).toMatchObject({name: '6.12.117+deb12-cloud-amd64', btf: 'file'})
    expect(matrixExitCode(m.cells, undefined)).toBe(0)
    expect(matrixExitCode(m.cells, 'unsupported')).toBe(1)
    const ok = m.cells.filter((c) => c.verdict !== 'unsupported')
    expect(matrixExitCode(ok, 'unsupported')).toBe(0)
    expect(matrixExitCode(ok, 'possible')).toBe(3)
    expect(matrixExitCode(ok.filter((c) => c.verdict === 'supported'), 'possible')).toBe(0)
  })

  it('renders JSON, CSV, markdown and table', async () => {
    const m = await matrix()
    const j = JSON.parse(renderJson(m)) as Record<string, unknown[]>
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['kernels', 'objects', 'cells']))
    for (const c of j.cells as Array<Record<string, unknown>>) {
      expect(Object.keys(c)).toEqual(['kernel', 'object', 'program', 'section', 'verdict', 'reasons', 'suggestions'])
    }
    expect(j.cells!.length).toBe(m.cells.length)
    const csv = renderCsv(m).split('\r\n')
    expect(csv[0]).toBe(CSV_HEADER.join(','))
    expect(csv.filter((l) => l !== '').length).toBe(m.cells.length + 1)
    const md = renderMarkdown(m).split('\n')
    const cols = m.objects.reduce((n, o) => n + o.programs.length, 0)
    expect(md[0]!.split(' | ').length).toBe(3 + cols)
    expect(md[1]).toMatch(/^\| --- \| --- \| --- \| :---: \|/)
    expect(md.filter((l) => l.startsWith('| `')).length).toBe(m.kernels.length)
    const t = renderTable(m)
    expect(t.split('\n')[0]).toMatch(/^KERNEL\s+P1 P2/)
    const html = renderHtml(m)
    expect(html).not.toMatch(/https?:\/\//)
    expect((html.match(/<td class="cell /g) ?? []).length).toBe(m.cells.length)
  })

  it('caches cells per (object, kernel, kcompat): a re-run reads them all, a changed object is recomputed', async () => {
    const archive = await fixtureArchive()
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-matrix-cache-'))
    const db = join(dir, 'index.sqlite')
    const obj = join(dir, 'guard.bpf.o')
    copyFileSync(GUARD, obj)
    let cache = openMatrixCache(db)
    const cold = await buildMatrix({objects: [obj], archive, cache})
    cache.close()
    expect(cold.cache).toEqual({hits: 0, misses: 3})
    cache = openMatrixCache(db)
    const warm = await buildMatrix({objects: [obj], archive, cache})
    cache.close()
    // every cell from the cache (speed is bench/matrix.sh's business, not a test's)
    expect(warm.cache).toEqual({hits: 3, misses: 0})
    expect(warm.cells).toEqual(cold.cells)
    // a different object under the same name: its sha256 changes, the cells are recomputed
    copyFileSync(join(FIXTURES, 'bpf', 'core_fields.bpfel.o'), obj)
    cache = openMatrixCache(db)
    const changed = await buildMatrix({objects: [obj], archive, cache})
    cache.close()
    expect(changed.cache).toEqual({hits: 0, misses: 3})
    writeFileSync(join(dir, 'done'), '')
  })
})

describe('large outputs are rendered piece by piece', () => {
  it('jsonChunks gives exactly what JSON.stringify(result, null, 2) gives', async () => {
    const {jsonChunks} = await import('../../src/matrix/render.js')
    const cell = (i: number) => ({kernel: `k${i}`, object: 'o.bpf.o', program: 'p', section: 'kprobe/x', verdict: 'supported', reasons: [{rule: 'r', status: 'pass', message: 'm "q"\n', evidence: []}], suggestions: []})
    for (const n of [0, 1, 3]) {
      const m = {kernels: [{name: 'k0', distro: 'debian', version: '12', arch: 'x86_64'}], objects: [{name: 'o.bpf.o', programs: []}], cells: Array.from({length: n}, (_, i) => cell(i)), summary: [], cache: {hits: 1}} as never
      const {cache: _c, ...rest} = m as unknown as Record<string, unknown>
      expect([...jsonChunks(m)].join('')).toBe(`${JSON.stringify(rest, null, 2)}\n`)
    }
  })
})
