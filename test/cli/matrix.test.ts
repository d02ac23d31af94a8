/**
 * `kcompat matrix` as a user runs it: a real process on the shipped archive, JSON equal to
 * what `check --json` says per cell, and --fail-on exit codes.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {FIXTURES} from '../helpers/fixtures.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const OBJ = join(FIXTURES, 'bpf', 'core_fields.bpfel.o')

function kcompat(args: string[]): {status: number; stdout: string; stderr: string} {
  // a private index so the test never writes next to the shipped archive's
  const db = join(mkdtempSync(join(tmpdir(), 'kcompat-matrix-cli-')), 'index.sqlite')
  const r = spawnSync(process.execPath, [BIN, ...args, '--db', db], {encoding: 'utf8', maxBuffer: 1 << 28})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

describe('kcompat matrix (CLI)', () => {
  it('JSON cells equal check --json for the same kernel and object; --fail-on sets the exit code', () => {
    const m = kcompat(['matrix', '--object', OBJ, '--kernels', 'debian/12/*/6.1.0-56-cloud-*', '--format', 'json'])
    expect(m.status, m.stderr).toBe(0)
    const out = JSON.parse(m.stdout) as {
      kernels: {release: string; arch: string}[]
      cells: {kernel: string; program: string; section: string; verdict: string; reasons: unknown[]}[]
    }
    expect(out.kernels.map((k) => k.release).sort()).toEqual(['6.1.0-56-cloud-amd64', '6.1.0-56-cloud-arm64'])
    expect(out.cells.length).toBeGreaterThan(0)
    for (const release of ['6.1.0-56-cloud-amd64', '6.1.0-56-cloud-arm64']) {
      const c = spawnSync(process.execPath, [BIN, 'check', '--kernel', release, '--object', OBJ, '--json'], {encoding: 'utf8'})
      const check = JSON.parse(c.stdout) as {programs: {section: string; verdict: string}[]}
      const cells = out.cells.filter((x) => x.kernel === release)
      expect(cells.map((x) => [x.section, x.verdict]).sort()).toEqual(check.programs.map((p) => [p.section, p.verdict]).sort())
    }
    const anyUnsupported = out.cells.some((c) => c.verdict === 'unsupported')
    const gated = kcompat(['matrix', '--object', OBJ, '--kernels', 'debian/12/*/6.1.0-56-cloud-*', '--format', 'csv', '--fail-on', 'unsupported'])
    expect(gated.status).toBe(anyUnsupported ? 1 : 0)
    expect(gated.stdout.split(/\r?\n/)[0]).toBe('kernel,distro,version,arch,object,program,section,verdict,reasons,suggestions')
  })
  it('usage errors exit 2', () => {
    expect(kcompat(['matrix', '--object', OBJ, '--kernels', 'no-such-kernel*']).status).toBe(2)
    expect(kcompat(['matrix']).status).toBe(2)
  })
})
