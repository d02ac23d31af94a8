/**
 * `--kernel running`: the machine's own facts (BTF, config, active LSM list) decide. The
 * machine is simulated with a real fixture kernel's BTF and config, and the real machine
 * is read once as a smoke test.
 */
import {mkdtempSync, mkdirSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {describe, expect, it} from 'vitest'
import {check} from '../../src/check/check.js'
import {readRunningKernel, type RunningKernel} from '../../src/kernel/running.js'
import {fixtureKernel} from './fixture-archive.js'

const AMD64 = '6.1.0-56-cloud-amd64'

function machine(opts: {btf?: boolean; lsm?: string[]; modules?: string[]} = {}): RunningKernel {
  const k = fixtureKernel(AMD64)
  return {
    release: AMD64,
    arch: 'x86_64',
    btfPath: '/sys/kernel/btf/vmlinux',
    ...(opts.btf === false ? {btfMissing: 'not present'} : {btf: k.btf}),
    moduleBtf: opts.modules ?? ['nf_tables', 'xfs'],
    config: k.config,
    configPath: '/proc/config.gz',
    ...(opts.lsm ? {lsm: opts.lsm} : {lsmMissing: '/sys/kernel/security/lsm: not present'}),
  }
}

describe('check --kernel running (simulated machine)', () => {
  it('uses the machine\'s BTF, full config and active LSM list', async () => {
    const r = await check({kernel: 'running', progs: ['fentry/do_unlinkat', 'lsm/file_open'], running: machine({lsm: ['lockdown', 'capability', 'apparmor', 'bpf']})})
    expect(r.kernel).toMatchObject({origin: 'running', distro: 'debian', btf: {state: 'present', data: '/sys/kernel/btf/vmlinux'}, config: {origin: '/proc/config.gz', complete: true}})
    expect(r.programs.map((p) => p.verdict)).toEqual(['supported', 'supported'])
    const lsm = r.programs[1]!.reasons.find((x) => x.rule === 'lsm-active')!
    expect(lsm.evidence[0]!.text).toBe('/sys/kernel/security/lsm: lockdown,capability,apparmor,bpf')
  })

  it('the bpf LSM not active at this boot: unsupported here, with the boot parameter to add', async () => {
    const r = await check({kernel: 'running', progs: ['lsm/file_open'], running: machine({lsm: ['lockdown', 'capability', 'apparmor']})})
    const p = r.programs[0]!
    expect(p.verdict).toBe('unsupported')
    expect(p.reasons.find((x) => x.rule === 'lsm-active')!.message).toMatch(/lsm=lockdown,capability,apparmor,bpf/)
  })

  it('a full config answers what the manifest facts do not (CONFIG_FUNCTION_ERROR_INJECTION)', async () => {
    const r = await check({kernel: 'running', progs: ['fmod_ret/do_unlinkat'], running: machine()})
    const p = r.programs[0]!
    const cfg = p.reasons.find((x) => x.rule === 'config:error-injection')!
    expect(cfg.status).toBe('fail')
    expect(cfg.evidence[0]!.text).toMatch(/^# CONFIG_FUNCTION_ERROR_INJECTION is not set \(\/proc\/config\.gz\)/)
    expect(p.verdict).toBe('unsupported')
  })

  it('no /sys/kernel/btf/vmlinux: BTF programs fail with the machine as evidence', async () => {
    const r = await check({kernel: 'running', progs: ['tp_btf/sched_switch'], running: machine({btf: false})})
    const p = r.programs[0]!
    expect(p.verdict).toBe('unsupported')
    expect(p.reasons.find((x) => x.rule === 'kernel-btf')!.evidence[0]!.text).toBe('/sys/kernel/btf/vmlinux: not present')
    expect(p.suggestions[0]).toMatchObject({section: 'raw_tp/sched_switch', verdict: 'supported'})
  })

  it('module BTF on the machine: module targets stay possible (kcompat does not read module BTF files)', async () => {
    const r = await check({kernel: 'running', progs: ['fentry/nf_tables:nft_do_chain'], running: machine()})
    expect(r.programs[0]!.verdict).toBe('possible')
    const none = await check({kernel: 'running', progs: ['fentry/nf_tables:nft_do_chain'], running: machine({modules: []})})
    expect(none.programs[0]!.verdict).toBe('unsupported')
  })
})

describe('readRunningKernel', () => {
  it('reads files where it is told to, and reports what is missing', () => {
    const root = mkdtempSync(join(tmpdir(), 'kcompat-running-'))
    mkdirSync(join(root, 'btf'))
    writeFileSync(join(root, 'btf', 'vmlinux'), fixtureKernel(AMD64).btf)
    writeFileSync(join(root, 'btf', 'nft_ct'), '')
    writeFileSync(join(root, 'config.gz'), gzipSync('CONFIG_BPF=y\nCONFIG_BPF_SYSCALL=y\n# CONFIG_FPROBE is not set\n'))
    writeFileSync(join(root, 'lsm'), 'lockdown,capability,bpf\n')
    const m = readRunningKernel({
      release: '6.1.0-56-cloud-amd64',
      arch: 'aarch64',
      sysBtfDir: join(root, 'btf'),
      procConfig: join(root, 'config.gz'),
      bootConfigDir: join(root, 'boot'),
      securityLsm: join(root, 'lsm'),
    })
    expect(m.arch).toBe('arm64')
    expect(m.btf?.length).toBe(fixtureKernel(AMD64).btf.length)
    expect(m.moduleBtf).toEqual(['nft_ct'])
    expect(m.config?.values.get('CONFIG_FPROBE')).toBeNull()
    expect(m.lsm).toEqual(['lockdown', 'capability', 'bpf'])
    const bare = readRunningKernel({release: 'x', sysBtfDir: join(root, 'nope'), procConfig: join(root, 'nope.gz'), bootConfigDir: join(root, 'boot'), securityLsm: join(root, 'nope')})
    expect(bare.btfMissing).toBe('not present')
    expect(bare.moduleBtf).toBeUndefined()
    expect(bare.configMissing).toMatch(/nope\.gz: not present; .*config-x: not present/)
    expect(bare.lsmMissing).toMatch(/not present/)
  })

  it.skipIf(!existsSync('/sys/kernel/btf/vmlinux'))('this machine: a check runs on what it reads', async () => {
    const r = await check({kernel: 'running', progs: ['kprobe/do_unlinkat', 'fentry/do_unlinkat']})
    expect(r.kernel.origin).toBe('running')
    expect(r.kernel.btf.state).toBe('present')
    for (const p of r.programs) expect(['supported', 'unsupported', 'possible', 'unknown']).toContain(p.verdict)
  })
})
