/**
 * `kcompat matrix -j N` (kernels checked on worker threads; the compiled CLI, where the
 * pool starts real workers) writes exactly what one thread writes, cached or not; and a
 * --btf kernel that cannot be named fails with the same usage error (exit 2) from a
 * worker as inline.
 */
import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {describe, expect, it} from 'vitest'
import {FIXTURES} from '../helpers/fixtures.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const OBJECTS = ['core_fields.bpfel.o', 'core_types.bpfel.o', 'progs.bpfel.o'].map((o) => join(FIXTURES, 'bpf', o))

function kcompat(args: string[]): {status: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 28})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

describe('kcompat matrix -j', () => {
  it('the same JSON from 1 and 3 threads, computed and cached, archive and --btf kernels', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-matrix-jobs-'))
    // a few --btf kernels besides the archive's, so that there is work to spread
    const btf: string[] = []
    for (const k of ['6.1.0-56-cloud-amd64', '6.1.0-56-cloud-arm64', '6.12.117+deb12-cloud-amd64']) {
      const f = join(dir, `${k}.btf`)
      writeFileSync(f, decompressSync(readFileSync(join(FIXTURES, 'kernels', `${k}.btf.xz`))))
      btf.push('--btf', f)
    }
    const args = ['matrix', ...OBJECTS.flatMap((o) => ['--object', o]), ...btf, '--kernels', 'debian/12/*/6.1*', '--format', 'json']
    const outs: string[] = []
    for (const j of ['1', '3']) {
      const db = join(dir, `index-${j}.sqlite`)
      for (const run of ['cold', 'warm']) {
        const r = kcompat([...args, '-j', j, '--db', db])
        expect(r.status, `${j} ${run}: ${r.stderr}`).toBe(0)
        outs.push(r.stdout)
      }
    }
    const kernels = (JSON.parse(outs[0]!) as {kernels: unknown[]}).kernels
    expect(kernels.length).toBeGreaterThan(5)
    for (const o of outs.slice(1)) expect(o).toBe(outs[0])
    // four processes, two of them building an index of the archive with its module BTF:
    // about 100 s on an idle 2-core machine, several times that when it is shared
  }, 900_000)

  it('--btf files are hashed where they are checked (no memo yet): the same JSON from 2 threads cold as from 1 thread warm', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-matrix-hash-'))
    const btf: string[] = []
    for (const k of ['6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64']) {
      const f = join(dir, `${k}.btf`)
      writeFileSync(f, decompressSync(readFileSync(join(FIXTURES, 'kernels', `${k}.btf.xz`))))
      btf.push('--btf', f)
    }
    const db = join(dir, 'index.sqlite')
    const args = ['matrix', ...OBJECTS.flatMap((o) => ['--object', o]), ...btf, '--only-btf', '--format', 'json', '--db', db]
    const cold = kcompat([...args, '-j', '2'])
    expect(cold.status, cold.stderr).toBe(0)
    const warm = kcompat([...args, '-j', '1'])
    expect(warm.stdout).toBe(cold.stdout)
  })

  it('a --btf file not named by a kernel release exits 2 with MATRIX_BAD_BTF_NAME from a worker too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kcompat-matrix-jobs-'))
    const good = join(dir, '6.1.0-56-cloud-amd64.btf.xz')
    copyFileSync(join(FIXTURES, 'kernels', '6.1.0-56-cloud-amd64.btf.xz'), good)
    const bad = join(dir, 'not-a-release.btf.xz')
    copyFileSync(good, bad)
    for (const j of ['1', '2']) {
      // the bad kernel first: workers are handed the first jobs
      const r = kcompat(['matrix', '--object', OBJECTS[0]!, '--only-btf', '--btf', bad, '--btf', good, '-j', j, '--db', join(dir, `i-${j}.sqlite`), '--json'])
      expect(r.status, r.stderr).toBe(2)
      expect(r.stdout + r.stderr).toContain('MATRIX_BAD_BTF_NAME')
    }
  })
})
