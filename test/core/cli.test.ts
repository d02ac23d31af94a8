/**
 * `kcompat relocate` as a user runs it: a real process on the fixture objects, its JSON
 * checked against libbpf's decisions (harness) and its errors and exit codes.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {addKernel} from '../../src/archive/archive.js'
import {FIXTURES, kernelFixtures, scratchDir} from '../helpers/fixtures.js'
import {requireHarness, runHarness} from '../harness/libbpf.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const kcompat = (args: string[]): {status: number; stdout: string; stderr: string} => {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 28})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}
const kernel = kernelFixtures()[0]
const OBJ = join(FIXTURES, 'bpf', 'core_types.bpfel.o')

interface JsonRelo {
  program: string | null
  insn: number
  kind: string
  local: string
  status: string
  value?: number | string
  relo: number
}

describe('kcompat relocate', () => {
  it.skipIf(!kernel)('--json: one entry per relocation with program, insn, kind, local, status and value', () => {
    const r = kcompat(['relocate', '--object', OBJ, '--btf', kernel!.path, '--json'])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as {relocations: JsonRelo[]}
    expect(out.relocations.length).toBe(50)
    for (const x of out.relocations) {
      expect(Object.keys(x).slice(0, 5)).toEqual(['program', 'insn', 'kind', 'local', 'status'])
      expect(['patched', 'poisoned']).toContain(x.status)
      expect(x.status === 'patched').toBe(x.value !== undefined)
    }
    expect(out.relocations[0]).toMatchObject({program: 'core_types', kind: 'local_type_id', local: 'struct task_struct', status: 'patched', value: 6})
    expect(out.relocations.find((x) => x.local === 'enum cgroup_bpf_attach_type::CGROUP_BPF_ATTACH_TYPE_INVALID')?.value).toBe('18446744073709551615')

    if (!requireHarness('relocate CLI vs libbpf')) return
    const theirs = runHarness(OBJ, kernel!.path).decisions
    const mine = out.relocations.map((x) => `${x.program}#${x.relo} ${x.insn} ${x.status} ${x.value ?? ''}`)
    expect(mine.sort()).toEqual(theirs.map((d) => `${d.program}#${d.index} ${d.insn} ${d.status} ${d.value ?? ''}`).sort())
  })

  it.skipIf(!kernel)('text output: a table and a summary line', () => {
    const r = kcompat(['relocate', '--object', OBJ, '--btf', kernel!.path])
    expect(r.status).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^PROGRAM\s+INSN\s+KIND\s+LOCAL\s+STATUS\s+VALUE$/)
    expect(lines.at(-1)).toMatch(/^50 relocations on .*: \d+ patched, \d+ poisoned, 0 failed, 0 skipped$/)
  })

  it.skipIf(!kernel)('--kernel RELEASE reads the archive', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kcompat-relocate-archive-'))
    await addKernel(
      root,
      {
        release: kernel!.release, distro: 'debian', version: '12', arch: 'x86_64', flavor: 'cloud',
        btf: 'in-kernel', config: null, source: {method: 'kernel-image'},
      },
      kernel!.btf,
    )
    const a = kcompat(['relocate', '--object', OBJ, '--kernel', kernel!.release, '--archive', root, '--json'])
    const b = kcompat(['relocate', '--object', OBJ, '--btf', kernel!.path, '--json'])
    expect(a.status).toBe(0)
    expect(JSON.parse(a.stdout).relocations).toEqual(JSON.parse(b.stdout).relocations)
    const missing = kcompat(['relocate', '--object', OBJ, '--kernel', '9.9.9-nope', '--archive', root])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toContain('[ARCHIVE_UNKNOWN_KERNEL]')
  })

  it('errors: bad input exits 1 with a code, usage errors exit 2', () => {
    const notElf = join(scratchDir(), 'not-an-object.o')
    writeFileSync(notElf, 'hello')
    const r1 = kcompat(['relocate', '--object', notElf, '--btf', kernel?.path ?? notElf])
    expect(r1.status).toBe(1)
    expect(r1.stderr).toContain('[INPUT_UNKNOWN_FORMAT]')
    const r2 = kcompat(['relocate', '--object', join(scratchDir(), 'missing.o'), '--btf', notElf, '--json'])
    expect(r2.status).toBe(1)
    expect(JSON.parse(r2.stdout).error.code).toBe('INPUT_NOT_FOUND')
    expect(kcompat(['relocate', '--btf', notElf]).status).toBe(2)
    expect(kcompat(['relocate', '--object', OBJ]).status).toBe(2)
  })
})
