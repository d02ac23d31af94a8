/**
 * The CLI on an archive with module BTF (real nft_ct / nf_conntrack_h323 split BTF of
 * Debian 6.1 and 6.12): find names the module (human and --json), check says possible
 * naming the module / unsupported with near names, relocate shows where each
 * relocation resolved. Which module defines what comes from bpftool's dump of the module
 * BTF; kcompat's output is checked against that, not against itself.
 */
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {FIXTURES} from '../helpers/fixtures.js'
import {type ModuleArchive, moduleArchive} from '../helpers/module-archive.js'
import {requireTool, run} from '../helpers/tools.js'
import {tempDb} from '../store/helpers.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const OBJ = join(FIXTURES, 'bpf', 'modules.bpfel.o')
const bpftool = requireTool('bpftool', 'module answers of the CLI against bpftool')

function kcompat(args: string[]): {status: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 28})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

describe.skipIf(!bpftool)('CLI with module BTF', () => {
  let arch: ModuleArchive
  let db: string
  beforeAll(async () => {
    arch = await moduleArchive()
    db = tempDb()
  })

  const funcIn = (release: string, module: string, name: string): boolean => {
    const m = arch.modules.get(release)!.find((x) => x.module === module)!
    const dump = run('bpftool', ['-B', m.base.path, 'btf', 'dump', 'file', m.path, 'format', 'raw']).toString('utf8')
    return new RegExp(`^\\[\\d+\\] FUNC '${name}' `, 'm').test(dump)
  }

  it('find func names the module, as a MODULE column and "module" in --json', () => {
    for (const rel of arch.modules.keys()) expect(funcIn(rel, 'nft_ct', 'nft_ct_get_eval')).toBe(true)
    const j = kcompat(['find', 'func', 'nft_ct_get_eval', '--archive', arch.root, '--db', db, '--json'])
    expect(j.status, j.stderr).toBe(0)
    const r = JSON.parse(j.stdout) as {kernels: {release: string; module: string | null}[]}
    expect(r.kernels.map((k) => k.module)).toEqual([...arch.modules.keys()].map(() => 'nft_ct'))
    const h = kcompat(['find', 'func', 'nft_ct_get_eval', '--archive', arch.root, '--db', db])
    expect(h.stdout).toMatch(/RELEASE +MODULE/)
    expect(h.stdout).toMatch(/6\.1\.0-56-cloud-amd64 +nft_ct/)
    const v = JSON.parse(kcompat(['find', 'func', 'do_unlinkat', '--archive', arch.root, '--db', db, '--json']).stdout) as {kernels: {module: string | null}[]}
    expect(v.kernels.every((k) => k.module === null)).toBe(true)
  })

  it('find field names the module of a module struct', () => {
    const j = JSON.parse(kcompat(['find', 'field', 'nft_ct.len', '--archive', arch.root, '--db', db, '--json']).stdout) as {kernels: {module: string | null; bitOffset: number}[]}
    expect(j.kernels.length).toBe(arch.modules.size)
    expect(j.kernels.every((k) => k.module === 'nft_ct' && k.bitOffset === 16)).toBe(true)
  })

  it('check: the module function is possible naming nft_ct; the misspelled one unsupported with it as near name', () => {
    for (const rel of arch.modules.keys()) {
      const r = kcompat(['check', '--kernel', rel, '--archive', arch.root, '--object', OBJ, '--json'])
      const out = JSON.parse(r.stdout) as {programs: {program: string; verdict: string; reasons: {rule: string; message: string; check?: string}[]}[]}
      const good = out.programs.find((p) => p.program === 'ct_get_eval')!
      expect(good.verdict, rel).toBe('possible')
      expect(good.reasons.find((x) => x.rule === 'target')!.check).toMatch(/lsmod \| grep -w nft_ct/)
      const bad = out.programs.find((p) => p.program === 'ct_typo')!
      expect(bad.verdict, rel).toBe('unsupported')
      expect(r.status).toBe(1)
    }
  })

  it('matrix: the same verdicts as check, per kernel', () => {
    const r = kcompat(['matrix', '--object', OBJ, '--archive', arch.root, '--db', db, '--format', 'json', '--no-cache'])
    expect(r.status, r.stderr).toBe(0)
    const m = JSON.parse(r.stdout) as {cells: {kernel: string; program: string; verdict: string; reasons: {rule: string; message: string}[]}[]}
    const cells = m.cells.filter((c) => c.program === 'ct_get_eval')
    expect(cells.length).toBe(arch.modules.size)
    expect(cells.every((c) => c.verdict === 'possible')).toBe(true)
    expect(cells.every((c) => c.reasons.some((x) => x.rule === 'target' && /module nft_ct/.test(x.message)))).toBe(true)
    expect(m.cells.filter((c) => c.program === 'ct_typo').every((c) => c.verdict === 'unsupported')).toBe(true)
  })

  it('relocate --kernel: relocations resolve in the modules, and the BTF column says which', () => {
    const r = kcompat(['relocate', '--object', OBJ, '--kernel', '6.1.0-56-cloud-amd64', '--archive', arch.root])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.split('\n')[0]).toMatch(/^PROGRAM\s+INSN\s+KIND\s+LOCAL\s+STATUS\s+BTF\s+VALUE$/)
    expect(r.stdout).toMatch(/struct nft_ct\.key +patched +nft_ct +0/)
    expect(r.stdout).toMatch(/struct module\.name +patched +vmlinux +1/)
    const custom = kcompat(['relocate', '--object', OBJ, '--kernel', '6.1.0-56-cloud-amd64', '--archive', arch.root, '--no-modules'])
    expect(custom.stdout).not.toMatch(/nft_ct +\d/)
  })
})
