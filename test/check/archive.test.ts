/**
 * check against archived kernels: the real Debian kernels of fixtures/kernels in a
 * temporary archive. Target lookups are verified independently: with the parsed BTF
 * (kcompat's BTF reader, which is tested against bpftool) and, where bpftool is
 * installed, with bpftool's own dump.
 */
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'
import {loadBtf} from '../../src/btf/load.js'
import {Kind} from '../../src/btf/wire.js'
import {FIXTURES, scratchDir} from '../helpers/fixtures.js'
import {requireTool, run} from '../helpers/tools.js'
import {writeFileSync} from 'node:fs'
import {derivedArchive, fixtureArchive, fixtureKernel} from './fixture-archive.js'

const AMD64 = '6.1.0-56-cloud-amd64'
const haveBpftool = requireTool('bpftool', 'independent BTF lookups for check')

async function funcsIn(release: string): Promise<Set<string>> {
  const btf = (await loadBtf(join(FIXTURES, 'kernels', `${release}.btf.xz`))).parsed
  return new Set(btf.types.filter((t) => t.kind === Kind.FUNC).map((t) => t.name))
}

function bpftoolHas(release: string, line: RegExp): boolean {
  const path = join(scratchDir(), `${release}.check.btf`)
  writeFileSync(path, fixtureKernel(release).btf)
  return line.test(run('bpftool', ['btf', 'dump', 'file', path, 'format', 'raw']).toString())
}

describe('check on archived kernels', () => {
  it('fentry/do_unlinkat is supported on 6.1 amd64 cloud: FUNC do_unlinkat is in its BTF', async () => {
    const funcs = await funcsIn(AMD64)
    expect(funcs.has('do_unlinkat')).toBe(true)
    if (haveBpftool) expect(bpftoolHas(AMD64, /^\[\d+\] FUNC 'do_unlinkat' /m)).toBe(true)
    const r = await check({kernel: AMD64, progs: ['fentry/do_unlinkat'], archive: await fixtureArchive()})
    expect(r.kernel).toMatchObject({origin: 'archive', distro: 'debian', distroRelease: '12', arch: 'x86_64', btf: {state: 'present'}})
    expect(r.kernel.archive).toMatchObject({distro: 'debian', version: '12', btf: 'in-kernel'})
    const p = r.programs[0]!
    expect(p.verdict).toBe('supported')
    const target = p.reasons.find((x) => x.rule === 'target')!
    expect(target.status).toBe('pass')
    expect(target.evidence[0]!.text).toMatch(/^FUNC do_unlinkat \(id \d+\) in debian\/12\/x86_64\//)
    expect(p.suggestions).toEqual([])
  })

  it('a misspelled function is unsupported, "not in this kernel\'s BTF", with the near name suggested', async () => {
    const funcs = await funcsIn(AMD64)
    expect(funcs.has('do_unlinkt')).toBe(false)
    const r = await check({kernel: AMD64, progs: ['fentry/do_unlinkt'], archive: await fixtureArchive()})
    const p = r.programs[0]!
    expect(p.verdict).toBe('unsupported')
    const target = p.reasons.find((x) => x.rule === 'target')!
    expect(target.status).toBe('fail')
    expect(target.message).toMatch(/not in this kernel's BTF/)
    expect(p.suggestions[0]).toMatchObject({kind: 'target', section: 'fentry/do_unlinkat', verdict: 'supported'})
  })

  it('a tracepoint renamed between kernels: tp_btf/ext4_writepage works on 6.1, not on 6.12, which has ext4_writepages', async () => {
    const archive = await fixtureArchive()
    const old = await check({kernel: AMD64, progs: ['tp_btf/ext4_writepage'], archive})
    expect(old.programs[0]!.verdict).toBe('supported')
    const neu = await check({kernel: '6.12.117+deb12-cloud-amd64', progs: ['tp_btf/ext4_writepage'], archive})
    const p = neu.programs[0]!
    expect(p.verdict).toBe('unsupported')
    expect(p.reasons.find((x) => x.rule === 'target')!.message).toMatch(/btf_trace_ext4_writepages/)
    expect(p.suggestions.map((s) => s.section)).toContain('tp_btf/ext4_writepages')
  })

  it('lsm: possible when CONFIG_BPF_LSM=y but "bpf" is not in CONFIG_LSM (derived from the 6.1 kernel)', async () => {
    const archive = await derivedArchive(AMD64, (c) => {
      c.CONFIG_LSM = 'landlock,lockdown,yama,integrity,apparmor'
    })
    const r = await check({kernel: AMD64, progs: ['lsm/file_open'], archive})
    const p = r.programs[0]!
    expect(p.reasons.find((x) => x.rule === 'config:bpf-lsm')).toMatchObject({status: 'pass'})
    const lsm = p.reasons.find((x) => x.rule === 'lsm-active')!
    expect(lsm.status).toBe('possible')
    expect(lsm.evidence[0]!.text).toMatch(/^CONFIG_LSM="landlock,lockdown,yama,integrity,apparmor"/)
    expect(lsm.check).toMatch(/\/sys\/kernel\/security\/lsm/)
    expect(p.verdict).toBe('possible')
  })

  it('lsm: unsupported when CONFIG_BPF_LSM is not set', async () => {
    const archive = await derivedArchive(AMD64, (c) => {
      c.CONFIG_BPF_LSM = null
    })
    const r = await check({kernel: AMD64, progs: ['lsm/file_open'], archive})
    const p = r.programs[0]!
    expect(p.verdict).toBe('unsupported')
    expect(p.reasons.find((x) => x.rule === 'config:bpf-lsm')!.evidence[0]!.text).toMatch(/^# CONFIG_BPF_LSM is not set/)
  })

  it('an archived kernel without in-kernel BTF: BTF attach fails although generated BTF answers lookups', async () => {
    const archive = await derivedArchive(AMD64, (c) => {
      c.CONFIG_DEBUG_INFO_BTF = null
    })
    // the same archive entry, but recorded as generated (e.g. from debug info)
    const {readManifest, writeManifest} = await import('../../src/archive/manifest.js')
    const m = readManifest(archive)
    m.kernels[0]!.btf = 'generated'
    writeManifest(archive, m)
    const r = await check({kernel: AMD64, progs: ['fentry/do_unlinkat', 'kprobe/do_unlinkat'], archive})
    const [fentry, kprobe] = r.programs
    expect(fentry!.verdict).toBe('unsupported')
    expect(fentry!.reasons.find((x) => x.rule === 'kernel-btf')!.evidence[0]!.text).toMatch(/btf generated/)
    expect(fentry!.reasons.find((x) => x.rule === 'target')).toMatchObject({status: 'pass'})
    expect(fentry!.suggestions[0]).toMatchObject({section: 'kprobe/do_unlinkat', verdict: 'supported'})
    expect(fentry!.suggestions.some((s) => s.kind === 'btf')).toBe(true)
    expect(kprobe!.verdict).toBe('supported')
  })

  it('program and attach types come from the kernel\'s own BTF enums', async () => {
    const r = await check({kernel: AMD64, progs: ['tcx/ingress', 'lsm_cgroup/socket_bind'], archive: await fixtureArchive()})
    const tcx = r.programs[0]!.reasons.find((x) => x.rule === 'attach-type')!
    expect(tcx).toMatchObject({status: 'fail'})
    expect(tcx.evidence[0]!.text).toMatch(/enum bpf_attach_type lacks BPF_TCX_INGRESS/)
    const lsmCgroup = r.programs[1]!.reasons.find((x) => x.rule === 'attach-type')!
    expect(lsmCgroup).toMatchObject({status: 'pass'})
    expect(lsmCgroup.evidence[0]!.text).toMatch(/enum bpf_attach_type has BPF_LSM_CGROUP/)
  })

  it('module targets: possible with module BTF, looked up nowhere else', async () => {
    const r = await check({kernel: AMD64, progs: ['fentry/nf_tables:nft_do_chain'], archive: await fixtureArchive()})
    const p = r.programs[0]!
    expect(p.verdict).toBe('possible')
    expect(p.reasons.find((x) => x.rule === 'target')!.check).toMatch(/\/sys\/kernel\/btf\/nf_tables/)
  })

  it('a release typed without its flavor resolves when one archived kernel matches, and is ambiguous otherwise', async () => {
    const archive = await fixtureArchive()
    await expect(check({kernel: '6.1.0-56', progs: ['socket'], archive})).rejects.toMatchObject({code: 'CHECK_AMBIGUOUS_KERNEL'})
    const r = await check({kernel: '6.1.0-56', arch: 'arm64', progs: ['socket'], archive})
    expect(r.kernel.release).toBe('6.1.0-56-cloud-arm64')
  })

  it('checks every program of a compiled object', async () => {
    const obj = join(FIXTURES, 'bpf', 'progs.bpfel.o')
    const r = await check({kernel: AMD64, objects: [obj], archive: await fixtureArchive()})
    const bySection = new Map(r.programs.map((p) => [p.section, p]))
    expect(bySection.get('fentry/do_unlinkat')!.verdict).toBe('supported')
    expect(bySection.get('tp_btf/sched_switch')!.verdict).toBe('supported')
    expect(bySection.get('lsm/file_open')!.verdict).toBe('supported')
    expect(bySection.get('iter/task')!.verdict).toBe('supported')
    expect(bySection.get('xdp')!.verdict).toBe('supported')
    for (const p of r.programs) {
      expect(p.program).toMatch(/^[A-Za-z_]\w*$/)
      // the CO-RE engine runs for every program: all relocations resolve (pass), or the
      // program has none (info); either way the verdict above is unchanged
      expect(['pass', 'info']).toContain(p.reasons.find((x) => x.rule === 'core')!.status)
    }
  })

  it('the CO-RE hook adds its reasons to each program of an object', async () => {
    const obj = join(FIXTURES, 'bpf', 'progs.bpfel.o')
    const seen: string[] = []
    const r = await check({
      kernel: AMD64,
      objects: [obj],
      archive: await fixtureArchive(),
      options: {
        core: ({program, kernel}) => {
          seen.push(program.name)
          expect(kernel.fullBtf()?.findByName("do_unlinkat", 12)).toBeDefined()
          return program.section === 'xdp'
            ? [{rule: 'core', status: 'fail', message: 'relocation #0 cannot be resolved', evidence: [], source: 'test engine'}]
            : []
        },
      },
    })
    expect(seen.length).toBe(r.programs.length)
    expect(r.programs.find((p) => p.section === 'xdp')!.verdict).toBe('unsupported')
  })
})
