/**
 * The seed case of issue 4: `kcompat check --kernel 3.10.0-957 --prog fentry/do_sys_open`
 * is unsupported on CentOS/RHEL 7.6 (no TRACING program type, no BPF trampoline, no
 * in-kernel BTF, and a custom BTF will not help) and suggests kprobe/do_sys_open, which
 * is supported there. Facts: features.md §10a, §14.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'

const empty = mkdtempSync(join(tmpdir(), 'kcompat-seed-'))

describe('seed: fentry/do_sys_open on 3.10.0-957', () => {
  it('is unsupported for the three reasons, each with its source', async () => {
    const r = await check({kernel: '3.10.0-957', progs: ['fentry/do_sys_open'], archive: empty})
    expect(r.kernel).toMatchObject({distro: 'rhel', distroRelease: '7.6', upstream: '3.10.0', inferred: true, origin: 'release'})
    const p = r.programs[0]!
    expect(p.verdict).toBe('unsupported')
    const by = (rule: string) => p.reasons.find((x) => x.rule === rule)
    expect(by('prog-type')).toMatchObject({status: 'fail'})
    expect(by('prog-type')!.message).toMatch(/BPF_PROG_TYPE_TRACING/)
    expect(by('prog-type')!.source).toMatch(/RHEL 7\.6 release notes/)
    expect(by('trampoline')).toMatchObject({status: 'fail'})
    expect(by('kernel-btf')).toMatchObject({status: 'fail'})
    expect(by('kernel-btf')!.message).toMatch(/btf_custom_path/)
    expect(by('kernel-btf')!.message).toMatch(/cannot stand in/)
    expect(by('kernel-btf')!.source).toMatch(/BTFHub.*github.com\/aquasecurity\/btfhub/)
    for (const reason of p.reasons) expect(reason.evidence.length + (reason.status === 'pass' ? 1 : 0)).toBeGreaterThan(0)
  })

  it('suggests kprobe/do_sys_open, supported there, and says custom BTF serves CO-RE only', async () => {
    const r = await check({kernel: '3.10.0-957', progs: ['fentry/do_sys_open'], archive: empty})
    const s = r.programs[0]!.suggestions
    expect(s[0]).toMatchObject({kind: 'section', section: 'kprobe/do_sys_open', verdict: 'supported'})
    const btf = s.find((x) => x.kind === 'btf')
    expect(btf?.text).toMatch(/CO-RE only, never BTF attach/)
  })

  it('kprobe/do_sys_open itself is supported on 3.10.0-957 (KPROBE via the RHEL 7.6 Technology Preview)', async () => {
    const r = await check({kernel: '3.10.0-957', progs: ['kprobe/do_sys_open'], archive: empty})
    const p = r.programs[0]!
    expect(p.verdict).toBe('supported')
    expect(p.reasons.find((x) => x.rule === 'prog-type')).toMatchObject({status: 'pass'})
    // the pre-5.0 kern_version check is noted, not fatal
    expect(p.reasons.find((x) => x.rule === 'kern-version')).toMatchObject({status: 'info'})
  })

  it('the full uname -r string gives the same answer, with the arch read from it', async () => {
    const r = await check({kernel: '3.10.0-957.el7.x86_64', progs: ['fentry/do_sys_open'], archive: empty})
    expect(r.kernel).toMatchObject({distroRelease: '7.6', arch: 'x86_64', archAssumed: false, inferred: false})
    expect(r.programs[0]!.verdict).toBe('unsupported')
  })

  it('a BTF file for the kernel does not change it: EL7 has no in-kernel BTF', async () => {
    const btf = join(import.meta.dirname, '..', '..', 'fixtures', 'kernels', '6.1.0-56-cloud-amd64.btf.xz')
    const r = await check({kernel: '3.10.0-957', btf, progs: ['fentry/do_sys_open'], archive: empty})
    const p = r.programs[0]!
    expect(p.verdict).toBe('unsupported')
    expect(p.reasons.find((x) => x.rule === 'kernel-btf')).toMatchObject({status: 'fail'})
    expect(r.kernel.origin).toBe('btf-file')
  })
})
