/**
 * Release strings as uname -r prints them and as users type them. Expected values come
 * from the distros' own naming (features.md §10: GA builds, .elX_Y errata suffixes,
 * Ubuntu series per release, Debian ABI names).
 */
import {describe, expect, it} from 'vitest'
import {KernelReleaseError, parseRelease, parseReleaseLenient} from '../../src/kernel/release.js'

interface Expect {
  distro: string
  distroRelease: string | null
  upstream: string
  flavor?: string | null
  arch?: string | null
  inferred: boolean
  alternatives?: string[]
}

const CASES: [string, Expect][] = [
  // RHEL and rebuilds: GA builds, errata, bare numbers typed by users
  ['3.10.0-957.el7.x86_64', {distro: 'rhel', distroRelease: '7.6', upstream: '3.10.0', arch: 'x86_64', inferred: false}],
  ['3.10.0-957', {distro: 'rhel', distroRelease: '7.6', upstream: '3.10.0', arch: null, inferred: true}],
  ['3.10.0-957.21.3', {distro: 'rhel', distroRelease: '7.6', upstream: '3.10.0', arch: null, inferred: true}],
  ['3.10.0-1160.119.1.el7.x86_64', {distro: 'rhel', distroRelease: '7.9', upstream: '3.10.0', arch: 'x86_64', inferred: false}],
  ['3.10.0-862.el7.x86_64', {distro: 'rhel', distroRelease: '7.5', upstream: '3.10.0', inferred: false}],
  ['3.10.0-514.el7.x86_64', {distro: 'rhel', distroRelease: '7.0–7.4', upstream: '3.10.0', inferred: true}],
  ['4.18.0-80.el8.x86_64', {distro: 'rhel', distroRelease: '8.0', upstream: '4.18.0', inferred: false}],
  ['4.18.0-193.el8', {distro: 'rhel', distroRelease: '8.2', upstream: '4.18.0', arch: null, inferred: false}],
  ['4.18.0-193', {distro: 'rhel', distroRelease: '8.2', upstream: '4.18.0', inferred: true}],
  ['4.18.0-200.el8.x86_64', {distro: 'rhel', distroRelease: '8.2', upstream: '4.18.0', inferred: true}],
  ['4.18.0-348.7.1.el8_5.x86_64', {distro: 'rhel', distroRelease: '8.5', upstream: '4.18.0', inferred: false}],
  ['4.18.0-240.1.1.el8_3.x86_64', {distro: 'rhel', distroRelease: '8.3', upstream: '4.18.0', inferred: false}],
  ['4.18.0-553.el8_10.x86_64', {distro: 'rhel', distroRelease: '8.10', upstream: '4.18.0', inferred: false}],
  ['4.18.0-477.10.1.el8_8.x86_64', {distro: 'rhel', distroRelease: '8.8', upstream: '4.18.0', inferred: false}],
  ['4.18.0-477.el8.x86_64', {distro: 'rhel', distroRelease: '8.8', upstream: '4.18.0', inferred: true}],
  ['4.18.0-348.rt7.130.el8.x86_64', {distro: 'rhel', distroRelease: '8.5', upstream: '4.18.0', flavor: 'rt', inferred: false}],
  ['5.14.0-362.el9', {distro: 'rhel', distroRelease: '9.3', upstream: '5.14.0', inferred: false}],
  ['5.14.0-362.18.1.el9_3.x86_64', {distro: 'rhel', distroRelease: '9.3', upstream: '5.14.0', inferred: false}],
  ['5.14.0-70.13.1.el9_0.aarch64', {distro: 'rhel', distroRelease: '9.0', upstream: '5.14.0', arch: 'arm64', inferred: false}],
  ['5.14.0-162.6.1.el9_1.s390x', {distro: 'rhel', distroRelease: '9.1', upstream: '5.14.0', arch: 's390x', inferred: false}],
  ['5.14.0-500.el9.x86_64', {distro: 'rhel', distroRelease: '9.3+', upstream: '5.14.0', inferred: true}],
  ['5.14.0-200.el9.x86_64', {distro: 'rhel', distroRelease: '9.0–9.1', upstream: '5.14.0', inferred: true}],
  ['6.12.0-55.9.1.el10_0.x86_64', {distro: 'rhel', distroRelease: '10.0', upstream: '6.12.0', inferred: false}],
  ['3.10.0-1160.el7.x86_64+debug', {distro: 'rhel', distroRelease: '7.9', upstream: '3.10.0', flavor: 'debug', inferred: false}],
  // Oracle UEK
  ['5.4.17-2136.322.6.2.el7uek.x86_64', {distro: 'oracle', distroRelease: '7', upstream: '5.4.17', flavor: 'UEK6', arch: 'x86_64', inferred: false}],
  ['5.4.17-2011.6.2.el8uek.x86_64', {distro: 'oracle', distroRelease: '8', upstream: '5.4.17', flavor: 'UEK6', inferred: false}],
  ['4.14.35-1902.3.2.el7uek.x86_64', {distro: 'oracle', distroRelease: '7', upstream: '4.14.35', flavor: 'UEK5', inferred: false}],
  ['5.15.0-100.96.32.el8uek.aarch64', {distro: 'oracle', distroRelease: '8', upstream: '5.15.0', flavor: 'UEK7', arch: 'arm64', inferred: false}],
  ['6.12.0-0.20.20.el9uek.x86_64', {distro: 'oracle', distroRelease: '9', upstream: '6.12.0', flavor: 'UEK8', inferred: true}],
  // Ubuntu (the release is always inferred from the series; HWE alternatives)
  ['5.8.0-63-generic', {distro: 'ubuntu', distroRelease: '20.10', upstream: '5.8.0', flavor: 'generic', inferred: true, alternatives: ['20.04 HWE']}],
  ['5.15.0-1034-aws', {distro: 'ubuntu', distroRelease: '22.04', upstream: '5.15.0', flavor: 'aws', inferred: true}],
  ['5.15.0-1051-azure', {distro: 'ubuntu', distroRelease: '22.04', upstream: '5.15.0', flavor: 'azure', inferred: true}],
  ['5.4.0-1060-aws', {distro: 'ubuntu', distroRelease: '20.04', upstream: '5.4.0', flavor: 'aws', inferred: true, alternatives: ['18.04 HWE']}],
  ['5.11.0-1026-gcp', {distro: 'ubuntu', distroRelease: '21.04', upstream: '5.11.0', flavor: 'gcp', inferred: true}],
  ['4.15.0-213-generic', {distro: 'ubuntu', distroRelease: '18.04', upstream: '4.15.0', inferred: true, alternatives: ['16.04 HWE']}],
  ['6.5.0-28-generic', {distro: 'ubuntu', distroRelease: '23.10', upstream: '6.5.0', inferred: true, alternatives: ['22.04 HWE']}],
  ['6.8.0-45-lowlatency', {distro: 'ubuntu', distroRelease: '24.04', upstream: '6.8.0', flavor: 'lowlatency', inferred: true}],
  ['6.8.0-1012-generic-64k', {distro: 'ubuntu', distroRelease: '24.04', upstream: '6.8.0', arch: 'arm64', inferred: true}],
  ['5.19.0-50-generic', {distro: 'ubuntu', distroRelease: '22.10', upstream: '5.19.0', inferred: true, alternatives: ['22.04 HWE']}],
  ['6.8.0-060800-generic', {distro: 'mainline', distroRelease: null, upstream: '6.8.0', inferred: false}],
  // Debian
  ['6.1.0-56-amd64', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'generic', arch: 'x86_64', inferred: false}],
  ['6.1.0-56-cloud-amd64', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'cloud', arch: 'x86_64', inferred: false}],
  ['6.1.0-56-cloud-arm64', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'cloud', arch: 'arm64', inferred: false}],
  ['6.12.117+deb12-cloud-amd64', {distro: 'debian', distroRelease: '12', upstream: '6.12.117', flavor: 'cloud', arch: 'x86_64', inferred: false}],
  ['6.12.38+deb13-amd64', {distro: 'debian', distroRelease: '13', upstream: '6.12.38', arch: 'x86_64', inferred: false}],
  ['6.1.0-56-rt-arm64', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'rt', arch: 'arm64', inferred: false}],
  ['6.1.0-56-686-pae', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'pae', arch: 'i686', inferred: false}],
  ['6.1.0-56-s390x', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', arch: 's390x', inferred: false}],
  ['6.1.0-56-powerpc64le', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', arch: 'ppc64le', inferred: false}],
  ['5.10.0-28-cloud-amd64', {distro: 'debian', distroRelease: '11', upstream: '5.10.0', inferred: false}],
  ['4.19.0-20-amd64', {distro: 'debian', distroRelease: '10', upstream: '4.19.0', inferred: false}],
  ['6.12.12+bpo-amd64', {distro: 'debian', distroRelease: '12', upstream: '6.12.12', inferred: true}],
  // Backports and rebuilds: the release they are built for (BTFHub files them under debian/10 and debian/9)
  ['5.10.0-0.deb10.21-amd64', {distro: 'debian', distroRelease: '10', upstream: '5.10.0', arch: 'x86_64', inferred: false}],
  ['6.1.0-0.deb11.44-arm64', {distro: 'debian', distroRelease: '11', upstream: '6.1.0', arch: 'arm64', inferred: false}],
  ['4.19.0-0.bpo.19-amd64', {distro: 'debian', distroRelease: '9', upstream: '4.19.0', arch: 'x86_64', inferred: true}],
  ['6.12.74+deb13+1-arm64', {distro: 'debian', distroRelease: '13', upstream: '6.12.74', arch: 'arm64', inferred: false}],
  ['6.12.90+deb13.1-powerpc64le-64k', {distro: 'debian', distroRelease: '13', upstream: '6.12.90', flavor: '64k', arch: 'ppc64le', inferred: false}],
  ['6.12.8-5kc-malta', {distro: 'debian', distroRelease: '13', upstream: '6.12.8', flavor: '5kc-malta', arch: 'mips64', inferred: true}],
  ['6.1.0-28-octeon', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'octeon', arch: 'mips64', inferred: false}],
  // RHEL 7 kernel-alt and CentOS 7 AltArch: not RHEL 7 GA builds
  ['4.14.0-115.5.1.el7a.aarch64', {distro: 'rhel', distroRelease: '7.6', upstream: '4.14.0', flavor: 'kernel-alt', arch: 'arm64', inferred: true}],
  ['4.14.0-60.el7a.aarch64', {distro: 'rhel', distroRelease: '7', upstream: '4.14.0', flavor: 'kernel-alt', arch: 'arm64', inferred: false}],
  ['4.19.104-300.el7.aarch64', {distro: 'rhel', distroRelease: '7', upstream: '4.19.104', flavor: 'altarch', arch: 'arm64', inferred: false}],
  ['3.19.0-0.80.aa7a.aarch64', {distro: 'rhel', distroRelease: '7', upstream: '3.19.0', flavor: 'kernel-alt', arch: 'arm64', inferred: false}],
  ['2.6.32-754.el6.x86_64', {distro: 'rhel', distroRelease: '6', upstream: '2.6.32', arch: 'x86_64', inferred: true}],
  // openEuler, SUSE by build
  ['4.19.90-2012.4.0.0053.oe1.aarch64', {distro: 'openeuler', distroRelease: '20.03', upstream: '4.19.90', arch: 'arm64', inferred: false}],
  ['5.10.0-182.0.0.95.oe2203sp3.x86_64', {distro: 'openeuler', distroRelease: '22.03 SP3', upstream: '5.10.0', arch: 'x86_64', inferred: false}],
  ['4.12.14-120-default', {distro: 'sles', distroRelease: '12 SP5', upstream: '4.12.14', flavor: 'default', inferred: false}],
  ['5.3.18-57-default', {distro: 'sles', distroRelease: '15 SP3', upstream: '5.3.18', flavor: 'default', inferred: false}],
  // Ubuntu interim releases
  ['4.8.0-58-generic', {distro: 'ubuntu', distroRelease: '16.10', upstream: '4.8.0', inferred: true, alternatives: ['16.04 HWE']}],
  ['4.10.0-42-generic', {distro: 'ubuntu', distroRelease: '17.04', upstream: '4.10.0', inferred: true, alternatives: ['16.04 HWE']}],
  ['4.13.0-45-generic', {distro: 'ubuntu', distroRelease: '17.10', upstream: '4.13.0', inferred: true, alternatives: ['16.04 HWE']}],
  ['4.18.0-25-generic', {distro: 'ubuntu', distroRelease: '18.10', upstream: '4.18.0', inferred: true, alternatives: ['18.04 HWE']}],
  ['5.0.0-65-generic', {distro: 'ubuntu', distroRelease: '19.04', upstream: '5.0.0', inferred: true, alternatives: ['18.04 HWE']}],
  ['5.3.0-76-generic', {distro: 'ubuntu', distroRelease: '19.10', upstream: '5.3.0', inferred: true, alternatives: ['18.04 HWE']}],
  ['5.13.0-52-generic', {distro: 'ubuntu', distroRelease: '21.10', upstream: '5.13.0', inferred: true, alternatives: ['20.04 HWE']}],
  ['6.2.0-39-generic', {distro: 'ubuntu', distroRelease: '23.04', upstream: '6.2.0', inferred: true, alternatives: ['22.04 HWE']}],
  ['6.11.0-29-generic', {distro: 'ubuntu', distroRelease: '24.10', upstream: '6.11.0', inferred: true, alternatives: ['24.04 HWE']}],
  ['6.14.0-37-generic', {distro: 'ubuntu', distroRelease: '25.04', upstream: '6.14.0', inferred: true, alternatives: ['24.04 HWE']}],
  ['6.17.0-8-generic', {distro: 'ubuntu', distroRelease: '25.10', upstream: '6.17.0', inferred: true}],
  // Amazon Linux AMI (2018.03 and earlier)
  ['4.14.281-144.502.amzn1.x86_64', {distro: 'amzn', distroRelease: '1', upstream: '4.14.281', arch: 'x86_64', inferred: false}],
  // Fedora, Amazon Linux
  ['6.7.7-200.fc39.x86_64', {distro: 'fedora', distroRelease: '39', upstream: '6.7.7', arch: 'x86_64', inferred: false}],
  ['5.3.7-301.fc31.x86_64', {distro: 'fedora', distroRelease: '31', upstream: '5.3.7', inferred: false}],
  ['4.14.252-195.483.amzn2.x86_64', {distro: 'amzn', distroRelease: '2', upstream: '4.14.252', arch: 'x86_64', inferred: false}],
  ['6.1.19-30.43.amzn2023.aarch64', {distro: 'amzn', distroRelease: '2023', upstream: '6.1.19', arch: 'arm64', inferred: false}],
  ['4.14.77-70.59.amzn1.x86_64', {distro: 'amzn', distroRelease: '1', upstream: '4.14.77', inferred: false}],
  // SUSE
  ['5.14.21-150400.24.46-default', {distro: 'sles', distroRelease: '15 SP4', upstream: '5.14.21', flavor: 'default', inferred: true}],
  ['5.14.21-150500.55.19-azure', {distro: 'sles', distroRelease: '15 SP5', upstream: '5.14.21', flavor: 'azure', inferred: true}],
  ['5.3.18-59.24-default', {distro: 'sles', distroRelease: '15 SP3', upstream: '5.3.18', inferred: false}],
  ['4.12.14-122.37-default', {distro: 'sles', distroRelease: '12 SP5', upstream: '4.12.14', inferred: false}],
  ['6.7.7-1-default', {distro: 'opensuse', distroRelease: null, upstream: '6.7.7', flavor: 'default', inferred: true}],
  // others
  ['6.7.4-arch1-1', {distro: 'arch', distroRelease: null, upstream: '6.7.4', inferred: false}],
  ['5.7.1.arch1-1', {distro: 'arch', distroRelease: null, upstream: '5.7.1', inferred: false}],
  ['5.15.63-flatcar', {distro: 'flatcar', distroRelease: null, upstream: '5.15.63', inferred: false}],
  ['5.10.61-1.ph4', {distro: 'photon', distroRelease: '4', upstream: '5.10.61', inferred: false}],
  ['5.15.131.1-2.cm2', {distro: 'mariner', distroRelease: '2', upstream: '5.15.131', inferred: false}],
  ['5.10.0-60.18.0.50.oe2203.x86_64', {distro: 'openeuler', distroRelease: '22.03', upstream: '5.10.0', arch: 'x86_64', inferred: false}],
  // mainline, as users type it
  ['6.1', {distro: 'mainline', distroRelease: null, upstream: '6.1.0', inferred: true}],
  ['6.1.55', {distro: 'mainline', distroRelease: null, upstream: '6.1.55', inferred: true}],
  ['6.9-rc3', {distro: 'mainline', distroRelease: null, upstream: '6.9.0', flavor: 'rc3', inferred: true}],
  ['  5.15.0-91-generic\n', {distro: 'ubuntu', distroRelease: '22.04', upstream: '5.15.0', inferred: true}],
  // Debian's armel and mipsel flavors (package names from bookworm's Packages indices for
  // armel and mipsel). uname -m is what the kernel prints for the CPU the flavor is built
  // for, read from each package's /boot/config (fixtures/kernels/configs holds 6.1.0-50-
  // marvell's and 4kc-malta's): ARM prints its processor's architecture name and `l`
  // (arch/arm/kernel/setup.c; Feroceon, CONFIG_CPU_FEROCEON: armv5te; ARM1176,
  // CONFIG_CPU_32v6: armv6), MIPS prints mips, or mips64 when CONFIG_64BIT
  // (arch/mips/Makefile, UTS_MACHINE): loongson-3 and octeon are 64-bit even for mipsel.
  ['6.1.0-50-marvell', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'marvell', arch: 'armv5tel', inferred: false}],
  ['6.1.0-50-rpi', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'rpi', arch: 'armv6l', inferred: false}],
  ['6.12.95+deb12-rpi', {distro: 'debian', distroRelease: '12', upstream: '6.12.95', flavor: 'rpi', arch: 'armv6l', inferred: false}],
  ['6.1.0-50-4kc-malta', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: '4kc-malta', arch: 'mips', inferred: false}],
  ['6.1.0-50-mips32r2el', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'generic', arch: 'mips', inferred: false}],
  ['6.1.0-50-loongson-3', {distro: 'debian', distroRelease: '12', upstream: '6.1.0', flavor: 'loongson-3', arch: 'mips64', inferred: false}],
]

describe('parseRelease', () => {
  it.each(CASES)('%s', (input, want) => {
    const r = parseRelease(input)
    expect(r.distro).toBe(want.distro)
    expect(r.distroRelease).toBe(want.distroRelease)
    expect(r.upstream).toBe(want.upstream)
    expect(r.inferred).toBe(want.inferred)
    if (want.flavor !== undefined) expect(r.flavor).toBe(want.flavor)
    if (want.arch !== undefined) expect(r.arch).toBe(want.arch)
    if (want.alternatives !== undefined) expect(r.alternatives).toEqual(want.alternatives)
    // an inference is always explained
    if (r.inferred) expect(r.notes.length).toBeGreaterThan(0)
    expect(r.series).toBe(want.upstream.split('.').slice(0, 2).join('.'))
  })

  it('says what it inferred for a bare EL build', () => {
    const r = parseRelease('3.10.0-957')
    expect(r.notes.join(' ')).toMatch(/read as an EL7 kernel/)
    expect(r.notes.join(' ')).toMatch(/7\.6 GA/)
  })

  it('marks a doubtful build-number mapping as inferred', () => {
    const r = parseRelease('4.18.0-513.el8.x86_64')
    expect(r.distroRelease).toBe('8.9')
    expect(r.inferred).toBe(true)
    expect(r.notes.join(' ')).toMatch(/doubtful/)
  })

  it.each([
    ['', 'RELEASE_EMPTY'],
    ['   ', 'RELEASE_EMPTY'],
    ['linux', 'RELEASE_UNKNOWN'],
    ['5.15.0-91', 'RELEASE_UNKNOWN'], // Ubuntu without its flavor: could be anything
    ['3.10.0-42', 'RELEASE_UNKNOWN'], // older than any EL7 GA build
    ['4.18.0-25', 'RELEASE_UNKNOWN'],
    ['5.15.0-91-frobnicate', 'RELEASE_UNKNOWN'],
    ['6.1.0-56-cloud-sparc', 'RELEASE_UNKNOWN'],
    ['../../etc/passwd', 'RELEASE_UNKNOWN'],
    ['6.1.0 56', 'RELEASE_UNKNOWN'],
    ['x'.repeat(300), 'RELEASE_UNKNOWN'],
  ])('refuses %j with %s', (input, code) => {
    let err: unknown
    try {
      parseRelease(input)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(KernelReleaseError)
    expect((err as KernelReleaseError).code).toBe(code)
  })

  it('the error lists the forms it knows', () => {
    expect(() => parseRelease('5.15.0-91')).toThrow(/uname -r strings of RHEL/)
  })
})

describe('parseReleaseLenient (for --kernel running)', () => {
  it('keeps the upstream version of a custom build', () => {
    const r = parseReleaseLenient('6.18.44-fc-v669')
    expect(r).toMatchObject({distro: 'unknown', upstream: '6.18.44', flavor: 'fc-v669', inferred: true})
  })
  it('parses known forms as parseRelease does', () => {
    expect(parseReleaseLenient('6.1.0-56-amd64').distro).toBe('debian')
  })
  it('still refuses what has no version at all', () => {
    expect(() => parseReleaseLenient('linux')).toThrow(KernelReleaseError)
  })
})
