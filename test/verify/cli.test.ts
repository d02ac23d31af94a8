/**
 * `kcompat verify` as a user runs it: a real process booting the archived
 * 6.1.0-56-cloud-amd64 image (fetched once into the image cache), JSON shape and exit
 * status; usage and bad-object errors without a boot.
 */
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {FIXTURES} from '../helpers/fixtures.js'
import {requireTool} from '../helpers/tools.js'
import {archivedKernelImagePath} from './kernel-image.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const RELEASE = '6.1.0-56-cloud-amd64'

function kcompat(args: string[]): {status: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', maxBuffer: 1 << 28})
  return {status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

const tools = requireTool('qemu-system-x86_64', 'kcompat verify (CLI)') && requireTool('gcc', 'kcompat verify (CLI)')
const img = tools ? await archivedKernelImagePath(RELEASE) : {skip: 'no qemu/gcc'}
if ('skip' in img) {
  if (tools && process.env.CI === 'true') throw new Error(img.skip)
  console.warn(`skipping kcompat verify CLI boot: ${img.skip}`)
}

describe('kcompat verify (CLI)', () => {
  it('usage errors exit 2 with a stable code', () => {
    const r = kcompat(['verify', '--kernel', RELEASE])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('kcompat: error [VERIFY_USAGE]: give --object FILE or --prog SECTION')
  })

  it.skipIf('skip' in img)('an object libbpf cannot open exits 1 with VERIFY_BAD_OBJECT, before any boot', () => {
    const r = kcompat(['verify', '--kernel', RELEASE, '--image', (img as {path: string}).path, '--object', join(FIXTURES, 'bpf', 'verify', 'verify.c')])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/^kcompat: error \[VERIFY_BAD_OBJECT\]: .*verify\.c: libbpf cannot open it: .*not a proper ELF object/)
  })

  it.skipIf('skip' in img)('boots the archived image (no --image): JSON per program, exit 1 when one is refused', () => {
    const r = kcompat(['verify', '--kernel', RELEASE, '--prog', 'fentry/do_unlinkat', '--prog', 'fentry/kcompat_absent_function', '--json'])
    expect(r.status, r.stderr).toBe(1)
    const out = JSON.parse(r.stdout) as {kernels: Array<{kernel: string; report: {programs: Array<{section: string; outcome: string; load: {errnoName?: string}}>; accel: string}}>}
    expect(out.kernels).toHaveLength(1)
    expect(out.kernels[0]!.kernel).toBe(RELEASE)
    const progs = out.kernels[0]!.report.programs
    expect(progs.map((p) => [p.section, p.outcome])).toEqual([
      ['fentry/do_unlinkat', 'loads'],
      ['fentry/kcompat_absent_function', 'refused'],
    ])
    expect(progs[1]!.load.errnoName).toBe('ESRCH')
  }, 300_000)
})
