/**
 * Rules-only kernels checked against their real config. fixtures/kernels/configs/ holds
 * the /boot/config of Debian kernels of other suites (scripts/suite-configs.sh: real
 * packages fetched with apt, package and .deb sha256 in SOURCES.tsv). For each, kcompat
 * answers from the release string alone (no archive entry, no siblings, no config), and
 * every fact it claims — in-kernel BTF, module BTF, CONFIG_BPF_LSM, "bpf" in the built-in
 * LSM list, CONFIG_FPROBE, direct calls — must agree with the package's config.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {decompressSync} from '@napi-rs/lzma/xz'
import {describe, expect, it} from 'vitest'
import {profileFrom} from '../../src/check/kernel.js'
import {configValue, evaluateSection, kernelBtfState, moduleBtfState} from '../../src/check/rules.js'
import {parseKernelConfig} from '../../src/kernel/config.js'
import {parseRelease} from '../../src/kernel/release.js'
import {FIXTURES} from '../helpers/fixtures.js'

const DIR = join(FIXTURES, 'kernels', 'configs')
const KERNELS = readFileSync(join(DIR, 'SOURCES.tsv'), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const [release, pkg, version, suite] = l.split('\t')
    return {release: release!, pkg: pkg!, version: version!, suite: suite!}
  })

function realConfig(release: string) {
  return parseKernelConfig(decompressSync(readFileSync(join(DIR, `${release}.config.xz`))))
}

/** What the package's config says: y, a string, or null (not set / absent). */
const real = (c: ReturnType<typeof realConfig>, sym: string): string | null => c.values.get(sym) ?? null

describe.each(KERNELS)('$release ($suite, $pkg $version): release-rule facts agree with its /boot/config', ({release}) => {
  const cfg = realConfig(release)
  const k = profileFrom({release: parseRelease(release)})
  let claims = 0

  it('is answered from release rules (no config, no archive)', () => {
    expect(k.config).toBeUndefined()
    expect(k.archive).toBeUndefined()
    expect(cfg.values.get('CONFIG_BPF_SYSCALL')).toBe('y')
  })

  it('in-kernel and module BTF', () => {
    const b = kernelBtfState(k)
    if (b.state !== null) {
      claims++
      expect(b.state).toBe(real(cfg, 'CONFIG_DEBUG_INFO_BTF') === 'y')
    }
    const m = moduleBtfState(k)
    if (m.state !== null) {
      claims++
      expect(m.state).toBe(real(cfg, 'CONFIG_DEBUG_INFO_BTF_MODULES') === 'y')
    }
  })

  it.each(['CONFIG_BPF_LSM', 'CONFIG_FPROBE', 'CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS'])('%s', (sym) => {
    const v = configValue(k, sym)
    if (!v.known) return
    claims++
    expect(v.value).toBe(real(cfg, sym))
  })

  it('the lsm/ verdict rules: CONFIG_BPF_LSM and "bpf" in the built-in LSM list', () => {
    const ev = evaluateSection('lsm/file_open', k, {noTarget: true})
    const bpfLsm = ev.reasons.find((r) => r.rule === 'config:bpf-lsm')!
    if (bpfLsm.status !== 'unknown') {
      claims++
      expect(bpfLsm.status).toBe(real(cfg, 'CONFIG_BPF_LSM') === 'y' ? 'pass' : 'fail')
    }
    const active = ev.reasons.find((r) => r.rule === 'lsm-active')
    if (active && active.status !== 'unknown') {
      claims++
      const inList = (real(cfg, 'CONFIG_LSM') ?? '').split(',').includes('bpf')
      expect(active.status).toBe(inList ? 'pass' : 'possible')
    }
  })

  it('the kprobe.multi verdict rule: CONFIG_FPROBE', () => {
    const ev = evaluateSection('kprobe.multi/do_unlinkat', k, {noTarget: true})
    const f = ev.reasons.find((r) => r.rule === 'config:fprobe')
    if (f && f.status !== 'unknown') {
      claims++
      expect(f.status).toBe(real(cfg, 'CONFIG_FPROBE') === 'y' ? 'pass' : 'fail')
    }
  })

  it('kcompat claims something about this kernel (the test can fail)', () => {
    expect(claims).toBeGreaterThanOrEqual(3)
  })
})

describe('suite configs', () => {
  it('cover Debian 11, its 6.1 rebuild, 12 and 13, and every arch family whose BTF the rules decide', () => {
    const releases = KERNELS.map((k) => parseRelease(k.release).distroRelease)
    expect(new Set(releases)).toEqual(new Set(['11', '12', '13']))
    const arches = new Set(KERNELS.map((k) => parseRelease(k.release).arch))
    for (const a of ['x86_64', 'arm64', 'i686', 'armv5tel', 'mips', 'ppc64le']) expect(arches.has(a), a).toBe(true)
    expect(KERNELS.length).toBeGreaterThanOrEqual(3)
  })
})
