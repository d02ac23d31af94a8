/**
 * `kcompat btf export` on the shipped archive as a user runs it: the raw BTF of an archived
 * kernel, or of one of its modules, written as a file libbpf can take as btf_custom_path.
 * Oracles: `tar` (the BTF inside a kernel's BTFHub-layout tarball), the sha256 the sync
 * recorded of pahole's output for kernels kept only in the pack, and bpftool, which must
 * parse every exported file (a module with the exported vmlinux as its base) and list the
 * functions the kernel source defines.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {resolveArchiveDir} from '../../src/archive/archive.js'
import {readManifest} from '../../src/archive/manifest.js'
import {requireTool, run} from '../helpers/tools.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const root = resolveArchiveDir()
const kernels = readManifest(root).kernels
const dir = mkdtempSync(join(tmpdir(), 'kcompat-btf-export-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

function kcompat(args: string[]): {status: number; stdout: Buffer; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {maxBuffer: 1 << 28})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8')}
}

const hasBpftool = requireTool('bpftool', 'btf export: bpftool parses the exported files')

describe('btf export (shipped archive)', () => {
  it('a kernel kept as a tarball: the bytes of the .btf inside it (tar), to a file and to stdout alike', () => {
    for (const release of ['6.1.0-56-amd64', '6.1.0-54-686']) {
      const e = kernels.find((k) => k.release === release)!
      expect(existsSync(join(root, e.path!))).toBe(true)
      const fromTar = run('tar', ['-xJOf', join(root, e.path!), `${release}.btf`])
      const out = join(dir, `${release}.btf`)
      const r = kcompat(['btf', 'export', '--kernel', release, '--out', out])
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout.toString('utf8')).toMatch(new RegExp(`^wrote ${out}: `))
      expect(Buffer.compare(readFileSync(out), fromTar)).toBe(0)
      const piped = kcompat(['btf', 'export', '--kernel', release, '--out', '-'])
      expect(piped.status, piped.stderr).toBe(0)
      expect(Buffer.compare(piped.stdout, fromTar)).toBe(0)
    }
  })

  it.skipIf(!hasBpftool)('kernels kept only in the pack (generated BTF, every arch): the bytes pahole wrote at sync, and bpftool reads them', () => {
    const packOnly = kernels.filter((k) => k.btf === 'generated' && k.vmlinux && !existsSync(join(root, k.path!)))
    const sample = [...new Map(packOnly.map((k) => [k.arch, k])).values()]
    expect(sample.length).toBeGreaterThanOrEqual(6)
    for (const e of sample) {
      const out = join(dir, `${e.release}-${e.arch}.btf`)
      const r = kcompat(['btf', 'export', '--kernel', e.release, '--arch', e.arch, '--out', out, '--json'])
      expect(r.status, r.stderr).toBe(0)
      const bytes = readFileSync(out)
      expect(sha256(bytes)).toBe(e.sha256)
      expect(JSON.parse(r.stdout.toString('utf8'))).toEqual({release: e.release, arch: e.arch, btf: 'generated', module: null, out, size: bytes.length, sha256: e.sha256})
      // do_exit is defined in kernel/exit.c on every arch
      expect(run('bpftool', ['btf', 'dump', 'file', out, 'format', 'raw']).toString('utf8')).toMatch(/^\[\d+\] FUNC 'do_exit' /m)
    }
  })

  it.skipIf(!hasBpftool)('a module: split BTF that bpftool reads on the exported vmlinux, with the functions net/netfilter/nft_ct.c defines', () => {
    const base = join(dir, 'base.btf')
    const mod = join(dir, 'nft_ct.btf')
    expect(kcompat(['btf', 'export', '--kernel', '6.12.117+deb12-cloud-amd64', '--out', base]).status).toBe(0)
    const r = kcompat(['btf', 'export', '--kernel', '6.12.117+deb12-cloud-amd64', '--module', 'nft_ct', '--out', mod])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout.toString('utf8')).toContain('module nft_ct of 6.12.117+deb12-cloud-amd64')
    const dump = run('bpftool', ['btf', 'dump', '-B', base, 'file', mod, 'format', 'raw']).toString('utf8')
    expect(dump).toMatch(/^\[\d+\] FUNC 'nft_ct_get_eval' /m)
    expect(dump).toMatch(/^\[\d+\] FUNC 'nft_ct_set_eval' /m)
  })

  it('errors: stable codes, exit 1 (2 for usage), and no file left behind', () => {
    const out = join(dir, 'err.btf')
    const cases: [string[], number, RegExp][] = [
      [['--kernel', '6.5.0-0.deb12.4-686'], 1, /\[ARCHIVE_NO_BTF\]/],
      [['--kernel', '6.1.0-50-rpy'], 1, /\[ARCHIVE_UNKNOWN_KERNEL\].*did you mean 6\.1\.0-50-rpi/],
      [['--kernel', '6.1.0-56-amd64', '--module', 'nft_cx'], 1, /\[MODULE_NOT_FOUND\].*did you mean nft_ct/],
    ]
    for (const [args, status, message] of cases) {
      const r = kcompat(['btf', 'export', ...args, '--out', out])
      expect([args, r.status]).toEqual([args, status])
      expect(r.stderr).toMatch(message)
    }
    const j = kcompat(['btf', 'export', '--kernel', '6.1.0-56-amd64', '--out', '-', '--json'])
    expect(j.status).toBe(2)
    expect(j.stdout.length).toBe(0)
    expect(kcompat(['btf', 'export', '--out', out]).status).toBe(2)
    expect(readdirSync(dir).filter((f) => f.startsWith('err.btf'))).toEqual([])
  })
})
