/**
 * Behaviours of the rules and the answer that the verdict table does not pin down one by
 * one: how verdicts combine, that doubtful facts never give a firm "unsupported", how
 * heavy-backport distros differ from mainline, suggestions checked on the same kernel,
 * unknown and deprecated sections, and the human rendering.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {check, checkSection} from '../../src/check/check.js'
import {profileFrom, resolveKernel} from '../../src/check/kernel.js'
import {renderCheck} from '../../src/check/render.js'
import {combineVerdicts, exitCodeFor} from '../../src/check/types.js'
import {parseRelease} from '../../src/kernel/release.js'
import {FIXTURES} from '../helpers/fixtures.js'

const empty = mkdtempSync(join(tmpdir(), 'kcompat-rules-'))
const on = (release: string, arch?: string) => profileFrom({release: parseRelease(release), arch})

describe('verdicts', () => {
  it('combine as unsupported > unknown > possible > supported; info never counts', () => {
    expect(combineVerdicts(['pass', 'info'])).toBe('supported')
    expect(combineVerdicts(['pass', 'possible'])).toBe('possible')
    expect(combineVerdicts(['possible', 'unknown'])).toBe('unknown')
    expect(combineVerdicts(['unknown', 'fail', 'possible'])).toBe('unsupported')
    expect(combineVerdicts([])).toBe('supported')
  })
  it('exit codes: 0 all supported, 1 any unsupported, 3 otherwise', () => {
    const p = (verdict: 'supported' | 'unsupported' | 'possible' | 'unknown') => ({section: 's', verdict, reasons: [], suggestions: []})
    expect(exitCodeFor([p('supported'), p('supported')])).toBe(0)
    expect(exitCodeFor([p('supported'), p('possible'), p('unsupported')])).toBe(1)
    expect(exitCodeFor([p('supported'), p('unknown')])).toBe(3)
    expect(exitCodeFor([p('possible')])).toBe(3)
  })
})

describe('doubtful facts', () => {
  it('an inferred mainline version the kernel meets passes, marked doubtful', () => {
    const r = checkSection('iter.s/task', on('5.18'))
    expect(r.reasons.find((x) => x.rule === 'sleepable')).toMatchObject({status: 'pass', doubtful: true})
  })
  it('an inferred mainline version the kernel misses is unknown, not unsupported', () => {
    const r = checkSection('struct_ops.s/x', on('6.2'))
    expect(r.reasons.find((x) => x.rule === 'sleepable')).toMatchObject({status: 'unknown', doubtful: true})
  })
  it('a firm fact below it still decides: sleepable programs need 5.10 whatever the inference', () => {
    const r = checkSection('iter.s/task', on('5.9'))
    expect(r.verdict).toBe('unsupported')
  })
})

describe('distro backports', () => {
  it('the same feature gap is unsupported on mainline and unknown on a backporting distro', () => {
    expect(checkSection('sk_lookup', on('5.3')).verdict).toBe('unsupported')
    const el = checkSection('sk_lookup', on('4.18.0-348.el8.x86_64'))
    expect(el.verdict).toBe('unknown')
    expect(el.reasons.find((x) => x.rule === 'prog-type')!.check).toMatch(/bpftool feature probe kernel \| grep 'program_type sk_lookup'/)
  })
  it('distro facts name the profile they come from', () => {
    const r = checkSection('tcx/ingress', on('5.14.0-362.el9.x86_64'))
    const reason = r.reasons.find((x) => x.rule === 'attach-type')!
    expect(reason.evidence[0]!.text).toMatch(/facts\.json distro profile el9/)
    expect(reason.source).toMatch(/cilium\/design-cfps PR #76/)
  })
  it('a kernel newer than the facts know is unknown for unreleased features, not unsupported', () => {
    expect(checkSection('fentry.multi/do_*', on('7.2')).reasons.find((x) => x.rule === 'attach-type')!.status).toBe('unknown')
    expect(checkSection('fentry.multi/do_*', on('6.18')).reasons.find((x) => x.rule === 'attach-type')!.status).toBe('fail')
  })
})

describe('suggestions', () => {
  it('are checked on the same kernel, and dropped when they would not work either', () => {
    // on s390x 6.1 neither fentry nor... kprobes are fine: suggested
    const s390 = checkSection('fexit/do_sys_open', on('6.1', 's390x'))
    expect(s390.suggestions[0]).toMatchObject({section: 'kretprobe/do_sys_open'})
    // on a kernel without BPF at all, nothing is suggested
    const el75 = checkSection('fentry/do_sys_open', on('3.10.0-862.el7.x86_64'))
    expect(el75.verdict).toBe('unsupported')
    expect(el75.suggestions.filter((x) => x.kind === 'section')).toEqual([])
  })
  it('tcx → legacy tc, kprobe.multi → kprobe, xdp.frags → xdp, sk_reuseport/migrate → sk_reuseport', () => {
    expect(checkSection('tcx/egress', on('6.1')).suggestions[0]).toMatchObject({section: 'tc', verdict: 'supported'})
    expect(checkSection('kprobe.multi/do_unlinkat', on('5.15')).suggestions[0]).toMatchObject({section: 'kprobe/do_unlinkat'})
    expect(checkSection('kretprobe.multi/do_unlinkat', on('5.15')).suggestions[0]).toMatchObject({section: 'kretprobe/do_unlinkat'})
    expect(checkSection('xdp.frags', on('5.15')).suggestions[0]).toMatchObject({section: 'xdp', verdict: 'supported'})
    expect(checkSection('sk_reuseport/migrate', on('5.10')).suggestions[0]).toMatchObject({section: 'sk_reuseport'})
  })
  it('unknown and deprecated section names get the libbpf spelling', () => {
    const typo = checkSection('fentyr/do_sys_open', on('6.1'))
    expect(typo.reasons[0]).toMatchObject({rule: 'section', status: 'fail'})
    expect(typo.suggestions[0]).toMatchObject({section: 'fentry/do_sys_open'})
    const old = checkSection('xdp_devmap/redirect', on('6.1'))
    expect(old.reasons[0]!.message).toMatch(/removed "xdp_devmap\/" in favour of "xdp\/devmap"/)
    expect(old.suggestions[0]).toMatchObject({section: 'xdp/devmap', verdict: 'supported'})
    expect(typo.libbpf).toBeUndefined()
    expect(checkSection('fentry/x', on('6.1')).libbpf).toEqual({entry: 'fentry+', progType: 'TRACING', attachType: 'BPF_TRACE_FENTRY', family: 'fentry'})
  })
})

describe('kernels', () => {
  it('--btf with a release: BTF lookups from the file, distro facts for the rest', async () => {
    const k = await resolveKernel({kernel: '6.1.0-56-cloud-amd64', btf: join(FIXTURES, 'kernels', '6.1.0-56-cloud-amd64.btf.xz'), archive: empty})
    expect(k.origin).toBe('btf-file')
    const r = checkSection('fentry/do_unlinkat', k)
    expect(r.verdict).toBe('supported')
    expect(r.reasons.find((x) => x.rule === 'kernel-btf')!.evidence[0]!.text).toMatch(/facts\.json distro profile debian-12/)
    expect(r.reasons.find((x) => x.rule === 'target')!.evidence[0]!.text).toMatch(/6\.1\.0-56-cloud-amd64\.btf\.xz$/)
  })
  it('an unknown arch is a usage error; a known one decides the trampoline', async () => {
    await expect(resolveKernel({kernel: '6.1', arch: 'vax', archive: empty})).rejects.toMatchObject({code: 'CHECK_BAD_ARCH'})
    const k = await resolveKernel({kernel: '6.1', arch: 'aarch64', archive: empty})
    expect(k.arch).toBe('arm64')
    expect(checkSection('fentry/x', k).reasons.find((x) => x.rule === 'trampoline')!.status).toBe('pass')
  })
  it('nothing to check is a usage error', async () => {
    await expect(check({kernel: '6.1', archive: empty})).rejects.toMatchObject({code: 'CHECK_NO_PROGRAMS'})
  })
})

describe('human output', () => {
  it('fits a screen and shows failing reasons with evidence and source', async () => {
    const r = await check({kernel: '4.18.0-305.el8.x86_64', progs: ['lsm/file_open'], archive: empty})
    const text = renderCheck(r)
    expect(text).toMatch(/^kernel {2}4\.18\.0-305\.el8\.x86_64: RHEL\/CentOS 8\.4\n/)
    expect(text).toMatch(/x config:bpf-lsm +needs CONFIG_BPF_LSM=y/)
    expect(text).toMatch(/evidence: # CONFIG_BPF_LSM is not set \(RHEL\/CentOS 8\.4: the distro's \/boot\/config/)
    expect(text).toMatch(/source: /)
    expect(text.split('\n').length).toBeLessThan(30)
  })
  it('--verbose also lists passing rules and notes', async () => {
    const r = await check({kernel: '4.15.0-213-generic', progs: ['kprobe/do_sys_open'], archive: empty})
    expect(renderCheck(r)).not.toMatch(/kern-version/)
    expect(renderCheck(r, {verbose: true})).toMatch(/i kern-version +kernels before 5\.0 check kern_version/)
  })
})
