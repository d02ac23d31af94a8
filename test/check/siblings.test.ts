/**
 * Sibling inference on the shipped archive (archive/: real Debian 11–14 kernels, their BTF
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
  it('6.1.0-52-686-pae: the archived Debian 12 686-pae kernels around it, not the 686 or rt ones', () => {
    const s = findSiblings(ARCHIVE, parseRelease('6.1.0-52-686-pae'), 'i686')
    expect(s.chosen.map((x) => x.entry.release)).toEqual(['6.1.0-50-686-pae', '6.1.0-54-686-pae'])
  })

  it('brackets the kernel with the nearest build below and above', () => {
    // the archive holds 6.1.0-50, -54 and -57 686: a -55 asked for has -54 below and -57 above
    expect(findSiblings(ARCHIVE, parseRelease('6.1.0-55-686'), 'i686').chosen.map((x) => x.entry.release)).toEqual(['6.1.0-54-686', '6.1.0-57-686'])
    // +deb12 kernels have no ABI number: the upstream patch level is the distance
    expect(findSiblings(ARCHIVE, parseRelease('6.12.100+deb12-cloud-amd64'), 'x86_64').chosen.map((x) => x.entry.release)).toEqual(['6.12.95+deb12-cloud-amd64', '6.12.117+deb12-cloud-amd64'])
  })

  it('no sibling across flavor, arch, series or distro release', () => {
    // flavor: armmp (the archive holds armmp-lpae and rt-armmp); arch: cloud-amd64 asked on arm64
    expect(findSiblings(ARCHIVE, parseRelease('6.1.0-50-armmp'), 'armv7l').chosen).toEqual([])
    expect(findSiblings(ARCHIVE, parseRelease('6.1.0-50-cloud-amd64'), 'arm64').chosen).toEqual([])
    // series: 6.5 amd64 (the archive holds 6.5 for i686 only, and 6.1 and 6.12 for amd64)
    expect(manifest.kernels.some((k) => k.release.startsWith('6.5.') && k.arch === 'i686')).toBe(true)
    expect(findSiblings(ARCHIVE, parseRelease('6.5.0-0.deb12.4-amd64'), 'x86_64').chosen).toEqual([])
    // distro release: Debian 11's 6.1 cloud backport (the archive holds Debian 12's 6.1 cloud kernels)
    expect(findSiblings(ARCHIVE, parseRelease('6.1.0-0.deb11.40-cloud-amd64'), 'x86_64').chosen).toEqual([])
  })
})

describe('siblings: facts and verdicts', () => {
  it('6.1.0-52-686-pae: BTF presence comes from 6.1.0-50/54-686-pae, not from the Debian 12 release rule', async () => {
    const sibs = ['6.1.0-50-686-pae', '6.1.0-54-686-pae'].map(entry)
    for (const sib of sibs) expect(sib.btf).not.toBe('in-kernel') // the oracle: the archived packages ship no BTF of their own
    const r = await run('6.1.0-52-686-pae', 'tp_btf/sched_switch')
    expect(r.kernel.origin).toBe('siblings')
    expect(r.kernel.siblings?.releases).toEqual(['6.1.0-50-686-pae', '6.1.0-54-686-pae'])
    expect(r.kernel.btf.state).toBe('absent')
    expect(r.verdict).toBe('unsupported')
    const b = r.by('kernel-btf')!
    expect(b.status).toBe('fail')
    expect(b.message).toMatch(/inferred from siblings: 6\.1\.0-50-686-pae, 6\.1\.0-54-686-pae/)
    for (const sib of sibs) expect(b.evidence.map((e) => e.text).join(' ')).toContain(`btf ${sib.btf}`)
  })

  it('config facts come from the siblings and agree with their recorded config', async () => {
    const [sib, below] = [entry('6.1.0-56-cloud-amd64'), entry('6.1.0-50-cloud-amd64')]
    const fprobe = sib.config!.CONFIG_FPROBE
    expect(below.config!.CONFIG_FPROBE).toBe(fprobe) // the siblings agree, so the inference is theirs
    const r = await run('6.1.0-53-cloud-amd64', 'kprobe.multi/do_unlinkat')
    const c = r.by('config:fprobe')!
    expect(c.status).toBe(fprobe === 'y' ? 'pass' : 'fail')
    expect(c.evidence[0]!.text).toMatch(/inferred from archived siblings 6\.1\.0-50-cloud-amd64, 6\.1\.0-56-cloud-amd64/)
    const lsm = sib.config!.CONFIG_LSM!.split(',').includes('bpf')
    const l = (await run('6.1.0-53-cloud-amd64', 'lsm/file_open')).by('lsm-active')!
    expect(l.status).toBe(lsm ? 'pass' : 'possible')
  })

  it('a target in every sibling is possible, with the sibling as evidence', async () => {
    const r = await run('6.1.0-53-cloud-amd64', 'fentry/do_unlinkat')
    expect(r.verdict).toBe('possible')
    const t = r.by('target')!
    expect(t.status).toBe('possible')
    expect(t.message).toMatch(/inferred from siblings: present in every archived sibling \(6\.1\.0-50-cloud-amd64, 6\.1\.0-56-cloud-amd64\)/)
    // each sibling's BTF named where it is read: 6.1.0-56's tarball, 6.1.0-50's group in the pack
    const texts = t.evidence.map((e) => e.text).join('\n')
    expect(texts).toMatch(/FUNC do_unlinkat \(id \d+\) in sibling debian\/12\/x86_64\/6\.1\.0-56-cloud-amd64\.btf\.tar\.xz/)
    expect(texts).toMatch(/FUNC do_unlinkat \(id \d+\) in sibling pack\/\d+\.kcpack \(debian\/12\/x86_64\/6\.1\.0-50-cloud-amd64\)/)
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

  it("Debian's armel and mipsel kernels are filed and checked under their uname -m; the Debian arch name is CHECK_BAD_ARCH, saying which names to use", async () => {
    const arches = new Set(manifest.kernels.map((k) => k.arch))
    expect(arches.has('armel') || arches.has('mipsel')).toBe(false)
    const marvell = manifest.kernels.find((k) => k.release === '6.1.0-50-marvell')!
    expect(marvell.arch).toBe('armv5tel')
    const r = await check({kernel: '6.1.0-50-marvell', progs: ['kprobe/do_sys_open'], archive: ARCHIVE})
    expect([r.kernel.origin, r.kernel.arch]).toEqual(['archive', 'armv5tel'])
    // the next ABI of the same flavor is not archived: its archived sibling answers
    const next = await check({kernel: '6.1.0-51-marvell', progs: ['kprobe/do_sys_open'], archive: ARCHIVE})
    expect(next.kernel.origin).toBe('siblings')
    await expect(check({kernel: '6.1.0-50-marvell', arch: 'armel', progs: ['kprobe/do_sys_open'], archive: ARCHIVE})).rejects.toMatchObject({
      code: 'CHECK_BAD_ARCH',
      message: expect.stringMatching(/armv5tel \(marvell\) or armv6l \(rpi\)/),
    })
  })

  it('without siblings, release rules answer', async () => {
    const r = await run('6.1.0-0.deb11.40-cloud-amd64', 'kprobe/do_sys_open')
    expect(r.kernel.origin).toBe('release')
  })
})
