/**
 * Sibling inference on the shipped archive (archive/: real Debian 12 kernels, their BTF
 * and the BPF config facts of their packages' /boot/config). A kernel the archive does
 * not hold, of the same distro release, series, arch and flavor as archived ones, takes
 * their facts. The oracle is the manifest: each expectation is read from the archived
 * sibling's entry (its `btf` and `config`, recorded from the real package), not from
 * kcompat's answer.
 */
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {readManifest} from '../../src/archive/manifest.js'
import {check} from '../../src/check/check.js'
import {findSiblings} from '../../src/check/siblings.js'
import type {Reason} from '../../src/check/types.js'
import {parseRelease} from '../../src/kernel/release.js'

const ARCHIVE = join(import.meta.dirname, '..', '..', 'archive')
const manifest = readManifest(ARCHIVE)
const entry = (release: string) => manifest.kernels.find((k) => k.release === release)!

async function run(kernel: string, prog: string) {
  const r = await check({kernel, progs: [prog], archive: ARCHIVE})
  const p = r.programs[0]!
  const by = (rule: string): Reason | undefined => p.reasons.find((x) => x.rule === rule)
  return {kernel: r.kernel, verdict: p.verdict, by}
}

describe('siblings: which archived kernels', () => {
  it('6.1.0-50-686-pae: the archived Debian 12 686-pae kernel, not the 686 one', () => {
    const s = findSiblings(ARCHIVE, parseRelease('6.1.0-50-686-pae'), 'i686')
    expect(s.chosen.map((x) => x.entry.release)).toEqual(['6.1.0-54-686-pae'])
  })

  it('brackets the kernel with the nearest build below and above', () => {
    // the archive holds 6.1.0-54-686 only; a -55 asked for has it below and nothing above
    expect(findSiblings(ARCHIVE, parseRelease('6.1.0-55-686'), 'i686').chosen.map((x) => x.entry.release)).toEqual(['6.1.0-54-686'])
    // +deb12 kernels have no ABI number: the upstream patch level is the distance
    expect(findSiblings(ARCHIVE, parseRelease('6.12.100+deb12-cloud-amd64'), 'x86_64').chosen.map((x) => x.entry.release)).toEqual(['6.12.117+deb12-cloud-amd64'])
  })

  it('no sibling across flavor, arch, series or distro release', () => {
    expect(findSiblings(ARCHIVE, parseRelease('6.1.0-50-rt-686-pae'), 'i686').chosen).toEqual([])
    expect(findSiblings(ARCHIVE, parseRelease('6.1.0-50-armmp'), 'armv7l').chosen).toEqual([])
    expect(findSiblings(ARCHIVE, parseRelease('6.1.0-50-cloud-amd64'), 'arm64').chosen).toEqual([])
    expect(findSiblings(ARCHIVE, parseRelease('5.10.0-30-amd64'), 'x86_64').chosen).toEqual([])
    expect(findSiblings(ARCHIVE, parseRelease('6.12.57+deb13-amd64'), 'x86_64').chosen).toEqual([])
  })
})

describe('siblings: facts and verdicts', () => {
  it('6.1.0-50-686-pae: BTF presence comes from 6.1.0-54-686-pae, not from the Debian 12 release rule', async () => {
    const sib = entry('6.1.0-54-686-pae')
    expect(sib.btf).not.toBe('in-kernel') // the oracle: the archived package ships no BTF of its own
    const r = await run('6.1.0-50-686-pae', 'tp_btf/sched_switch')
    expect(r.kernel.origin).toBe('siblings')
    expect(r.kernel.siblings?.releases).toEqual(['6.1.0-54-686-pae'])
    expect(r.kernel.btf.state).toBe('absent')
    expect(r.verdict).toBe('unsupported')
    const b = r.by('kernel-btf')!
    expect(b.status).toBe('fail')
    expect(b.message).toMatch(/inferred from siblings: 6\.1\.0-54-686-pae/)
    expect(b.evidence.map((e) => e.text).join(' ')).toContain(`btf ${sib.btf}`)
  })

  it('config facts come from the siblings and agree with their recorded config', async () => {
    const sib = entry('6.1.0-56-cloud-amd64')
    const fprobe = sib.config!.CONFIG_FPROBE
    const r = await run('6.1.0-53-cloud-amd64', 'kprobe.multi/do_unlinkat')
    const c = r.by('config:fprobe')!
    expect(c.status).toBe(fprobe === 'y' ? 'pass' : 'fail')
    expect(c.evidence[0]!.text).toMatch(/inferred from archived siblings 6\.1\.0-56-cloud-amd64/)
    const lsm = sib.config!.CONFIG_LSM!.split(',').includes('bpf')
    const l = (await run('6.1.0-53-cloud-amd64', 'lsm/file_open')).by('lsm-active')!
    expect(l.status).toBe(lsm ? 'pass' : 'possible')
  })

  it('a target in every sibling is possible, with the sibling as evidence', async () => {
    const r = await run('6.1.0-53-cloud-amd64', 'fentry/do_unlinkat')
    expect(r.verdict).toBe('possible')
    const t = r.by('target')!
    expect(t.status).toBe('possible')
    expect(t.message).toMatch(/inferred from siblings: present in every archived sibling \(6\.1\.0-56-cloud-amd64\)/)
    expect(t.evidence[0]!.text).toMatch(/FUNC do_unlinkat \(id \d+\) in sibling debian\/12\/x86_64\/6\.1\.0-56-cloud-amd64/)
  })

  it('a target absent from every sibling fails, said to be inferred', async () => {
    const r = await run('6.1.0-53-cloud-amd64', 'lsm/no_such_hook')
    expect(r.verdict).toBe('unsupported')
    expect(r.by('target')!.message).toMatch(/inferred from siblings: absent from every archived sibling/)
  })

  it('the archived kernel itself is answered from its own entry, not from siblings', async () => {
    const r = await run('6.1.0-56-cloud-amd64', 'fentry/do_unlinkat')
    expect(r.kernel.origin).toBe('archive')
    expect(r.verdict).toBe('supported')
  })

  it('without siblings, release rules answer', async () => {
    const r = await run('6.1.0-50-rt-686-pae', 'kprobe/do_sys_open')
    expect(r.kernel.origin).toBe('release')
  })
})
