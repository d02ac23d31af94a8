/**
 * Kernel release strings, as `uname -r` prints them and as users type them, turned into
 * what kcompat reasons with: distro, distro release, upstream base version, flavor and
 * arch.
 *
 * Recognised forms (examples):
 *
 * | distro | release strings |
 * | --- | --- |
 * | RHEL and rebuilds (CentOS, Alma, Rocky, Oracle RHCK) | `3.10.0-957.el7.x86_64`, `4.18.0-348.7.1.el8_5.x86_64`, `5.14.0-362.el9`, bare `3.10.0-957`, RHEL 6 and older `2.6.32-754.el6.x86_64` |
 * | RHEL 7 kernel-alt, CentOS 7 AltArch | `4.14.0-115.5.1.el7a.aarch64`, `4.11.0-22.el7.2.aarch64`, `3.19.0-0.80.aa7a.aarch64`, `4.19.104-300.el7.aarch64` (an EL7 string whose upstream is not 3.10) |
 * | Oracle UEK | `5.4.17-2136.322.6.2.el7uek.x86_64`, `5.15.0-100.96.32.el8uek.aarch64` (UEK3 3.8 … UEK8 6.x) |
 * | Ubuntu | `5.8.0-63-generic`, `5.15.0-1034-aws`, `-azure`, `-gcp`, `-gke`, `-lowlatency`, every release 14.04–25.10 and its HWE kernels |
 * | Debian | `6.1.0-56-amd64`, `6.1.0-56-cloud-arm64`, `6.12.117+deb12-cloud-amd64`, `6.12.74+deb13+1-arm64`, `6.12.90+deb13.1-amd64`, backports `5.10.0-0.deb10.21-amd64`, `4.19.0-0.bpo.19-amd64`, `6.12.12+bpo-amd64`, unstable `6.12.8-amd64`; every Debian kernel flavor (`armmp-lpae`, `arm64-16k`, `powerpc64le-64k`, `5kc-malta`, `octeon`, `loongson-3`, armel's `marvell` and `rpi`, mipsel's `4kc-malta` and `mips32r2el`, …) |
 * | Fedora | `6.7.7-200.fc39.x86_64` |
 * | Amazon Linux | `4.14.252-195.483.amzn2.x86_64`, `6.1.19-30.43.amzn2023.aarch64`, Amazon Linux AMI 2018.03 `4.14.281-144.502.amzn1.x86_64` |
 * | SUSE | `5.14.21-150400.24.46-default`, `5.3.18-59.24-default`, `4.12.14-120-default`, Tumbleweed `6.7.7-1-default` |
 * | others | Arch `6.7.4-arch1-1`, Flatcar `5.15.63-flatcar`, Photon `5.10.61-1.ph4`, CBL-Mariner `5.15.131.1-2.cm2`, openEuler `5.10.0-60.18.0.50.oe2203.x86_64`, `5.10.0-182.0.0.95.oe2203sp3.x86_64`, `4.19.90-2012.4.0.0053.oe1.aarch64` |
 * | mainline | `6.1`, `6.1.55`, `6.9-rc3` |
 *
 * The string alone does not always say everything: a RHEL build number gives the minor
 * release only through the table of GA builds, an Ubuntu kernel series ships in more
 * than one Ubuntu release (HWE), a bare `3.10.0-957` is read as EL7. Such results carry
 * `inferred: true` and a note saying what was inferred and from what. A string that
 * matches none of the forms is an error ({@link KernelReleaseError}), never a guess.
 */
import {KcompatError} from '../errors.js'
import {DEBIAN_ARCH_SUFFIX, normalizeArch} from './arch.js'
import {loadFacts} from './facts/index.js'
import {formatVersion, parseVersion} from './facts/version.js'

/**
 * The release string is empty or not one kcompat can identify. Codes: `RELEASE_EMPTY`,
 * `RELEASE_UNKNOWN`.
 */
export class KernelReleaseError extends KcompatError {}

export type DistroId =
  | 'rhel'
  | 'oracle'
  | 'ubuntu'
  | 'debian'
  | 'fedora'
  | 'amzn'
  | 'sles'
  | 'opensuse'
  | 'arch'
  | 'photon'
  | 'mariner'
  | 'openeuler'
  | 'flatcar'
  | 'mainline'
  | 'unknown'

export interface KernelRelease {
  /** The string as given (trimmed). */
  input: string
  distro: DistroId
  /** Human name of the distro family (`RHEL/CentOS`, `Ubuntu`, `Oracle Linux`). */
  distroName: string
  /** `7.6`, `20.04`, `12`, `39`, `2023`, `15 SP4`; null when the string does not tell. */
  distroRelease: string | null
  /** The same as numbers, for comparisons (`15 SP4` → [15, 4]). */
  distroVersion: number[] | null
  /** Upstream base version `major.minor.patch` (`3.10.0`). */
  upstream: string
  upstreamVersion: number[]
  /** `major.minor` (`3.10`). */
  series: string
  /** Distro build part (`957.21.3`, `56`, `2136.322.6.2`), null for mainline. */
  build: string | null
  /** First number of the build (`957`, `56`, `150400`). */
  abi: number | null
  /** `generic`, `cloud`, `aws`, `default`, `UEK6`, `rt`, ...; null when there is none. */
  flavor: string | null
  /** Archive arch name (`x86_64`, `arm64`, ...) when the string names it. */
  arch: string | null
  /** Some field was inferred rather than read from the string; see `notes`. */
  inferred: boolean
  notes: string[]
  /** Other distro releases that ship the same kernel series (Ubuntu HWE). */
  alternatives: string[]
}

const MAX_LEN = 200
const EL_ARCH = '(x86_64|aarch64|ppc64le|s390x|i686|noarch)'


const UBUNTU_FLAVOR =
  /^(generic(?:-lpae|-64k|-pae)?|lowlatency(?:-64k)?|aws(?:-fips)?|azure(?:-fde|-cvm|-fips)?|gcp(?:-fips)?|gke|gkeop|oracle|kvm|raspi2?|raspi-nolpae|snapdragon|ibm|nvidia(?:-lowlatency|-64k)?|oem|realtime|intel-iotg|xilinx-zynqmp|fips|bluefield|lowlatency-hwe-[\d.]+|generic-hwe-[\d.]+)$/

const SUSE_ONLY_FLAVOR = /^(default|kvmsmall|64kb|preempt|vanilla|zfcpdump|pae|debug)$/
const SUSE_FLAVOR = /^(default|azure|rt|kvmsmall|64kb|preempt|vanilla|zfcpdump|pae|debug)$/

function upstreamParts(major: string, minor: string, patch: string | undefined): {upstream: string; upstreamVersion: number[]; series: string} {
  const v = [Number(major), Number(minor), Number(patch ?? 0)]
  return {upstream: v.join('.'), upstreamVersion: v, series: `${v[0]}.${v[1]}`}
}

function leadingInt(build: string): number | null {
  const m = /^(\d+)/.exec(build)
  return m ? Number(m[1]) : null
}

function base(input: string, distro: DistroId, distroName: string, up: ReturnType<typeof upstreamParts>): KernelRelease {
  return {
    input,
    distro,
    distroName,
    distroRelease: null,
    distroVersion: null,
    ...up,
    build: null,
    abi: null,
    flavor: null,
    arch: null,
    inferred: false,
    notes: [],
    alternatives: [],
  }
}

const EL_NAME = 'RHEL/CentOS'

/** EL minor release from the GA build table (releaseMaps.el). */
function elReleaseFromBuild(r: KernelRelease, major: number, build: number): void {
  const table = loadFacts().releaseMaps.el[String(major)]
  if (!table || table.length === 0) {
    r.distroRelease = String(major)
    r.distroVersion = [major]
    r.inferred = true
    r.notes.push(`EL${major} minor releases are not in kcompat's build table: only the major release is known`)
    return
  }
  const first = table[0]!
  if (build < first.build) {
    r.distroRelease = String(major)
    r.distroVersion = [major]
    r.inferred = true
    r.notes.push(`build ${build} is older than the first EL${major} GA build kcompat knows (${first.release}: ${first.build}); minor release unknown`)
    return
  }
  let i = 0
  while (i + 1 < table.length && table[i + 1]!.build <= build) i++
  const at = table[i]!
  const next = table[i + 1]
  const v = parseVersion(at.release)
  r.distroVersion = v
  if (build === at.build) {
    r.distroRelease = at.release
    r.notes.push(`build ${build} is the EL ${at.release} GA kernel (${at.source})`)
    if (at.doubtful) {
      r.inferred = true
      r.notes.push(`the ${at.release} build number is not verified from a source (doubtful)`)
    }
    return
  }
  r.inferred = true
  if (next) {
    const nextMinor = parseVersion(next.release)[1]!
    const gap = nextMinor - v[1]! > 1
    r.distroRelease = gap ? `${at.release}–${major}.${nextMinor - 1}` : at.release
    r.notes.push(
      `build ${build} lies between the EL ${at.release} (${at.build}) and ${next.release} (${next.build}) GA builds: ` +
        (gap ? `an EL ${r.distroRelease} kernel` : `an EL ${at.release} errata kernel or a CentOS Stream build`),
    )
  } else {
    r.distroRelease = `${at.release}+`
    r.notes.push(`build ${build} is newer than the newest EL${major} GA build kcompat knows (${at.release}: ${at.build}): treated as ${at.release} or later`)
  }
}

/**
 * RHEL 7's second kernel line: `kernel-alt` (`.el7a`, 4.11/4.14 for ARM, POWER9 and IBM Z)
 * and the ARM `aa7a` builds before it, and CentOS 7 AltArch kernels (`.el7` strings whose
 * upstream is not 3.10: 4.19.104-300.el7.aarch64). Their build numbers are not RHEL 7
 * kernel builds, so the RHEL 7 GA table does not apply: the minor release comes from the
 * kernel-alt table (releaseMaps.el7alt) or stays unknown.
 */
function el7Alt(r: KernelRelease, alt: boolean, build: number | null): void {
  r.distroRelease = '7'
  r.distroVersion = [7]
  r.flavor = alt ? 'kernel-alt' : 'altarch'
  if (alt && build !== null) {
    const hit = loadFacts().releaseMaps.el7alt.find((e) => e.series === r.series && e.build === build)
    if (hit) {
      r.distroRelease = hit.release
      r.distroVersion = parseVersion(hit.release)
      r.notes.push(`${r.series}.0-${build}.el7a is the RHEL ${hit.release} kernel-alt kernel (${hit.source})`)
      if (hit.doubtful) r.inferred = true
      return
    }
  }
  r.notes.push(
    alt
      ? `an EL7 kernel-alt (${r.series}) kernel: RHEL 7 for ARM, POWER9 and IBM Z; its build number is not in kcompat's kernel-alt table, so the minor release is unknown`
      : `an EL7 kernel with upstream ${r.upstream} (not RHEL 7's 3.10): a CentOS 7 AltArch kernel; its build number is not a RHEL 7 build, so the minor release is unknown`,
  )
}

function parseEl(input: string): KernelRelease | undefined {
  const re = new RegExp(
    `^(\\d+)\\.(\\d+)\\.(\\d+)-([\\w.]+?)\\.(?:el(\\d+)(a)?|aa(7)a)(?:_(\\d+))?(uek)?((?:\\.[A-Za-z0-9][A-Za-z0-9]*)*?)(?:\\.${EL_ARCH})?(\\+[A-Za-z0-9_]+)?$`,
  )
  const m = re.exec(input)
  if (!m) return undefined
  const [, maj, min, patch, build, elMajorTag, altTag, aaMajor, elMinor, uek, extra, arch, plus] = m
  const elMajor = elMajorTag ?? aaMajor!
  const up = upstreamParts(maj!, min!, patch!)
  const major = Number(elMajor)
  const abi = leadingInt(build!)
  if (uek) {
    const r = base(input, 'oracle', 'Oracle Linux', up)
    r.build = build!
    r.abi = abi
    r.distroRelease = String(major)
    r.distroVersion = [major]
    const uekMap = loadFacts().releaseMaps.uek
    const gen = uekMap[up.series] ?? uekMap[String(up.upstreamVersion[0])]
    r.flavor = gen ? gen.release : 'uek'
    if (gen) {
      r.notes.push(`${up.series} is ${gen.release} (${gen.source})`)
      if (gen.doubtful) r.inferred = true
    } else {
      r.notes.push(`UEK generation of ${up.series} is not in kcompat's table`)
    }
    if (arch) r.arch = normalizeArch(arch)
    return r
  }
  const r = base(input, 'rhel', EL_NAME, up)
  r.build = build!
  r.abi = abi
  // RHEL 7 is 3.10; an EL7 string of another upstream is kernel-alt or CentOS AltArch.
  const el7Other = major === 7 && (altTag !== undefined || aaMajor !== undefined || up.series !== '3.10')
  if (el7Other) {
    el7Alt(r, altTag !== undefined || aaMajor !== undefined, abi)
  } else if (elMinor !== undefined) {
    r.distroRelease = `${major}.${Number(elMinor)}`
    r.distroVersion = [major, Number(elMinor)]
    r.notes.push(`.el${major}_${elMinor}: an errata kernel of EL ${r.distroRelease}`)
  } else if (abi !== null) {
    elReleaseFromBuild(r, major, abi)
  }
  if (major <= 6) r.notes.push(`EL${major} (upstream ${up.series}): older than Linux 3.18, which added the bpf() syscall`)
  if (/(^|\.)rt\d/.test(build!)) r.flavor = 'rt'
  if (extra) r.notes.push(`extra tags ${extra.slice(1)}`)
  if (plus) r.flavor = plus.slice(1)
  if (arch && arch !== 'noarch') r.arch = normalizeArch(arch)
  r.notes.push('RHEL, CentOS, AlmaLinux, Rocky and Oracle Linux (RHCK) share these kernels: the release string does not tell them apart')
  return r
}

/** `3.10.0-957`, `4.18.0-193.28.1`: an EL kernel typed without its `.elN` suffix. */
function parseBareEl(input: string): KernelRelease | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)-(\d+)((?:\.\d+)*)$/.exec(input)
  if (!m) return undefined
  const up = upstreamParts(m[1]!, m[2]!, m[3]!)
  const facts = loadFacts()
  const el = facts.releaseMaps.elUpstream[up.series]
  if (!el) return undefined
  const build = Number(m[4])
  const table = facts.releaseMaps.el[String(el.major)]
  if (table && table.length > 0 && build < table[0]!.build) return undefined
  const r = base(input, 'rhel', EL_NAME, up)
  r.build = `${m[4]}${m[5]}`
  r.abi = build
  r.inferred = true
  r.notes.push(`no .el suffix: ${up.upstream}-N is read as an EL${el.major} kernel (${el.source}); the kernel's uname -r would end in .el${el.major}`)
  elReleaseFromBuild(r, el.major, build)
  r.inferred = true
  return r
}

function parseFedora(input: string): KernelRelease | undefined {
  const m = new RegExp(`^(\\d+)\\.(\\d+)\\.(\\d+)-([\\w.]+?)\\.fc(\\d+)(?:\\.${EL_ARCH})?(\\+[A-Za-z0-9_]+)?$`).exec(input)
  if (!m) return undefined
  const r = base(input, 'fedora', 'Fedora', upstreamParts(m[1]!, m[2]!, m[3]!))
  r.build = m[4]!
  r.abi = leadingInt(m[4]!)
  r.distroRelease = m[5]!
  r.distroVersion = [Number(m[5])]
  if (m[6] && m[6] !== 'noarch') r.arch = normalizeArch(m[6])
  if (m[7]) r.flavor = m[7].slice(1)
  return r
}

function parseAmazon(input: string): KernelRelease | undefined {
  const m = new RegExp(`^(\\d+)\\.(\\d+)\\.(\\d+)-([\\w.]+?)\\.amzn(\\d+)(?:\\.${EL_ARCH})?$`).exec(input)
  if (!m) return undefined
  const r = base(input, 'amzn', 'Amazon Linux', upstreamParts(m[1]!, m[2]!, m[3]!))
  r.build = m[4]!
  r.abi = leadingInt(m[4]!)
  r.distroRelease = m[5]!
  r.distroVersion = [Number(m[5])]
  if (m[5] === '1') r.notes.push('.amzn1: Amazon Linux AMI (Amazon Linux 1, releases up to 2018.03)')
  else if (m[5] === '2') r.notes.push('.amzn2: Amazon Linux 2')
  else r.notes.push(`.amzn${m[5]}: Amazon Linux ${m[5]}`)
  if (m[6] && m[6] !== 'noarch') r.arch = normalizeArch(m[6])
  return r
}

/** The SLE release of a kernel build from releaseMaps.slesBuilds (series, first build number, flavor). */
function slesBuild(series: string, abi: number, flavor: string) {
  return loadFacts().releaseMaps.slesBuilds.find(
    (e) => e.series === series && abi >= e.min && abi <= e.max && (e.flavor === undefined || e.flavor === flavor),
  )
}

function parseSuse(input: string): KernelRelease | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)-(\d+(?:\.\d+)*)-([a-z0-9]+)$/.exec(input)
  if (!m) return undefined
  const [, maj, min, patch, build, flavor] = m
  const dotted = build!.includes('.')
  if (!SUSE_FLAVOR.test(flavor!)) return undefined
  const up = upstreamParts(maj!, min!, patch!)
  const abi = leadingInt(build!)!
  const known = slesBuild(up.series, abi, flavor!)
  if (!dotted && !known && !SUSE_ONLY_FLAVOR.test(flavor!)) return undefined
  if (!dotted && !known) {
    const r = base(input, 'opensuse', 'openSUSE Tumbleweed (or another SUSE rolling kernel)', up)
    r.build = build!
    r.abi = abi
    r.flavor = flavor!
    r.inferred = true
    r.notes.push(`a single build number with the SUSE flavor -${flavor}: read as an openSUSE Tumbleweed kernel`)
    return r
  }
  const r = base(input, 'sles', 'SUSE Linux Enterprise (or openSUSE Leap)', up)
  r.build = build!
  r.abi = abi
  r.flavor = flavor!
  if (abi >= 150000 && abi < 160000) {
    const sp = Math.floor(abi / 100) % 100
    r.distroRelease = sp === 0 ? '15' : `15 SP${sp}`
    r.distroVersion = [15, sp]
    r.inferred = true
    r.notes.push(`build ${abi}: SUSE numbers SLE 15 kernel builds 15xx00 by service pack, read as ${r.distroRelease}`)
    return r
  }
  const sles = loadFacts().releaseMaps.sles[up.series]
  if (known) {
    r.distroRelease = known.release
    r.distroVersion = parseVersion(known.version)
    r.notes.push(`${up.upstream}-${abi}${known.flavor ? ` (-${known.flavor})` : ''} is ${known.release} (${known.source})`)
    if (known.doubtful) r.inferred = true
  } else if (sles) {
    r.distroRelease = sles.release
    r.distroVersion = parseVersion(sles.version)
    r.inferred = true
    r.notes.push(`SUSE ${up.series} kernels: ${sles.release} (${sles.source})`)
  } else {
    r.notes.push(`the SLE release of a ${up.series} kernel is not in kcompat's table`)
  }
  return r
}

function parseUbuntu(input: string): KernelRelease | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)-(\d+)-([a-z][a-z0-9.-]*)$/.exec(input)
  if (!m || !UBUNTU_FLAVOR.test(m[5]!)) return undefined
  const up = upstreamParts(m[1]!, m[2]!, m[3]!)
  const abiText = m[4]!
  if (abiText.length === 6 && abiText === `${m[1]!.padStart(2, '0')}${m[2]!.padStart(2, '0')}${m[3]!.padStart(2, '0')}`) {
    const r = base(input, 'mainline', 'mainline (Ubuntu mainline kernel build)', up)
    r.build = abiText
    r.flavor = m[5]!
    r.notes.push(`ABI ${abiText} mirrors the version: an Ubuntu kernel-team build of the upstream ${up.upstream} kernel, not an Ubuntu release kernel`)
    return r
  }
  const r = base(input, 'ubuntu', 'Ubuntu', up)
  r.build = abiText
  r.abi = Number(abiText)
  r.flavor = m[5]!
  if (r.flavor.endsWith('-64k')) r.arch = 'arm64'
  const series = loadFacts().releaseMaps.ubuntu[up.series]
  if (series) {
    r.distroRelease = series.releases[0]!
    r.distroVersion = parseVersion(series.releases[0]!.split(' ')[0]!)
    r.alternatives = series.releases.slice(1)
    r.inferred = true
    r.notes.push(
      `Ubuntu's uname -r does not name the Ubuntu release: the ${up.series} series ships in ${series.releases.join(', ')} (${series.source})`,
    )
  } else {
    r.inferred = true
    r.notes.push(`the Ubuntu release of the ${up.series} kernel series is not in kcompat's table`)
  }
  return r
}

/**
 * Debian ABI names. `6.1.0-28-amd64` (release ABI: the Debian release from the series),
 * `6.12.57+deb13-amd64`, `6.12.74+deb13+1-amd64`, `6.12.90+deb13.1-amd64` (built for
 * Debian 13), `5.10.0-0.deb10.21-amd64` (a newer series rebuilt for Debian 10, through
 * security or backports), `4.19.0-0.bpo.19-amd64` and `6.12.12+bpo-amd64` (backports: the
 * release before the one that ships the series), `6.12.8-amd64` (unstable, no ABI).
 */
function parseDebian(input: string): KernelRelease | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-(\d+)|-0\.deb(\d+)\.(\d+)|-0\.bpo\.(\d+)|\+deb(\d+)((?:[.+]\d+)?)|\+(bpo))?-([a-z0-9-]+)$/.exec(input)
  if (!m) return undefined
  const [, maj, min, patch, abi, rebuiltFor, rebuiltAbi, bpoAbi, debN, debExtra, bpo, rest] = m
  const suffix = DEBIAN_ARCH_SUFFIX.find(([s]) => rest === s || rest!.endsWith(`-${s}`))
  if (!suffix) return undefined
  const noAbi = abi === undefined && rebuiltFor === undefined && bpoAbi === undefined && debN === undefined && bpo === undefined
  // `4.19.0-0.bpo.19-amd64` would otherwise read as ABI 0 with flavor "bpo.19-…": the alternatives above decide.
  if (noAbi && patch === undefined) return undefined
  const up = upstreamParts(maj!, min!, patch)
  const r = base(input, 'debian', 'Debian', up)
  r.arch = suffix[1]
  const flavorPart = rest!.slice(0, rest!.length - suffix[0].length).replace(/-$/, '')
  // `rt-686-pae` → rt; `686-pae` → pae; `cloud-arm64` → cloud; `amd64` → generic
  r.flavor = flavorPart !== '' ? flavorPart : (suffix[2] ?? 'generic')
  const deb = loadFacts().releaseMaps.debian[up.series]
  const fromSeries = (what: string, offset: number): void => {
    r.inferred = true
    if (deb) {
      const n = Number(deb.release) + offset
      r.distroRelease = String(n)
      r.distroVersion = [n]
      r.notes.push(`${what}: Debian ${deb.release} ships the ${up.series} series (${deb.source})${offset ? `, so this is a Debian ${n} kernel` : ''}`)
    } else {
      r.notes.push(`${what}; the Debian release of the ${up.series} series is not in kcompat's table`)
    }
  }
  if (abi !== undefined) {
    r.build = abi
    r.abi = Number(abi)
    if (deb) {
      r.distroRelease = deb.release
      r.distroVersion = [Number(deb.release)]
      r.notes.push(`Debian ${deb.release} ships the ${up.series} series (${deb.source})`)
    } else {
      r.inferred = true
      r.notes.push(`the Debian release of the ${up.series} series is not in kcompat's table`)
    }
  } else if (rebuiltFor !== undefined) {
    r.build = `0.deb${rebuiltFor}.${rebuiltAbi}`
    r.abi = Number(rebuiltAbi)
    r.distroRelease = rebuiltFor
    r.distroVersion = [Number(rebuiltFor)]
    r.notes.push(`-0.deb${rebuiltFor}.${rebuiltAbi}: the ${up.series} series rebuilt for Debian ${rebuiltFor} (security or backports)`)
  } else if (bpoAbi !== undefined) {
    r.build = `0.bpo.${bpoAbi}`
    r.abi = Number(bpoAbi)
    fromSeries(`-0.bpo.${bpoAbi}: a backports kernel`, -1)
  } else if (debN !== undefined) {
    r.build = `deb${debN}${debExtra ?? ''}`
    r.distroRelease = debN
    r.distroVersion = [Number(debN)]
    r.notes.push(`+deb${debN}${debExtra ?? ''}: built for Debian ${debN}`)
  } else if (bpo !== undefined) {
    r.build = 'bpo'
    fromSeries('+bpo: a backports kernel', -1)
  } else {
    fromSeries('no ABI number: a Debian unstable/testing kernel', 0)
  }
  return r
}

function parseOthers(input: string): KernelRelease | undefined {
  let m = /^(\d+)\.(\d+)(?:\.(\d+))?[.-]arch(\d+)-(\d+)$/.exec(input)
  if (m) {
    const r = base(input, 'arch', 'Arch Linux', upstreamParts(m[1]!, m[2]!, m[3]))
    r.build = `arch${m[4]}-${m[5]}`
    r.flavor = 'arch'
    return r
  }
  m = /^(\d+)\.(\d+)\.(\d+)-flatcar$/.exec(input)
  if (m) {
    const r = base(input, 'flatcar', 'Flatcar Container Linux', upstreamParts(m[1]!, m[2]!, m[3]))
    r.flavor = 'flatcar'
    return r
  }
  m = /^(\d+)\.(\d+)\.(\d+)-(\d+(?:\.\d+)*)\.ph(\d+)(?:-([a-z]+))?$/.exec(input)
  if (m) {
    const r = base(input, 'photon', 'VMware Photon OS', upstreamParts(m[1]!, m[2]!, m[3]))
    r.build = m[4]!
    r.abi = leadingInt(m[4]!)
    r.distroRelease = m[5]!
    r.distroVersion = [Number(m[5])]
    r.flavor = m[6] ?? null
    return r
  }
  m = /^(\d+)\.(\d+)\.(\d+)(?:\.\d+)?-(\d+(?:\.\d+)*)\.cm(\d+)(?:\.(x86_64|aarch64))?$/.exec(input)
  if (m) {
    const r = base(input, 'mariner', 'CBL-Mariner', upstreamParts(m[1]!, m[2]!, m[3]))
    r.build = m[4]!
    r.abi = leadingInt(m[4]!)
    r.distroRelease = m[5]!
    r.distroVersion = [Number(m[5])]
    if (m[6]) r.arch = normalizeArch(m[6])
    return r
  }
  m = new RegExp(`^(\\d+)\\.(\\d+)\\.(\\d+)-([\\d.]+?)\\.oe(?:(\\d\\d)(\\d\\d)(?:sp(\\d+))?|(1))(?:\\.${EL_ARCH})?$`).exec(input)
  if (m) {
    const r = base(input, 'openeuler', 'openEuler', upstreamParts(m[1]!, m[2]!, m[3]))
    r.build = m[4]!
    r.abi = leadingInt(m[4]!)
    if (m[8]) {
      // openEuler 20.03 LTS (and its service packs) tag packages .oe1; later releases .oeYYMM.
      const oe1 = loadFacts().releaseMaps.openeuler.oe1
      r.distroRelease = oe1?.release ?? null
      r.distroVersion = oe1 ? parseVersion(oe1.release) : null
      r.notes.push(oe1 ? `.oe1 is openEuler ${oe1.release} (${oe1.source})` : '.oe1: the openEuler release is not in kcompat\'s table')
    } else {
      r.distroRelease = `${m[5]}.${m[6]}${m[7] ? ` SP${m[7]}` : ''}`
      r.distroVersion = [Number(m[5]), Number(m[6])]
    }
    if (m[9] && m[9] !== 'noarch') r.arch = normalizeArch(m[9])
    return r
  }
  return undefined
}

function parseMainline(input: string): KernelRelease | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?$/.exec(input)
  if (!m) return undefined
  const r = base(input, 'mainline', 'mainline (kernel.org)', upstreamParts(m[1]!, m[2]!, m[3]))
  if (m[4]) r.flavor = `rc${m[4]}`
  r.inferred = true
  r.notes.push('no distro suffix: read as an upstream (kernel.org) kernel; distro kernels backport and disable features, so give the full uname -r for a distro kernel')
  return r
}

const PARSERS = [parseEl, parseFedora, parseAmazon, parseSuse, parseUbuntu, parseDebian, parseOthers, parseBareEl, parseMainline]

/**
 * Identifies a kernel from its release string.
 * @throws KernelReleaseError `RELEASE_EMPTY`, or `RELEASE_UNKNOWN` for a string that is
 *   none of the recognised forms.
 */
export function parseRelease(text: string): KernelRelease {
  const input = text.trim()
  if (input === '') throw new KernelReleaseError('RELEASE_EMPTY', 'empty kernel release')
  if (input.length > MAX_LEN || !/^[A-Za-z0-9._+~-]+$/.test(input)) {
    throw new KernelReleaseError('RELEASE_UNKNOWN', `${JSON.stringify(input.slice(0, 60))} is not a kernel release string`)
  }
  for (const p of PARSERS) {
    const r = p(input)
    if (r) return r
  }
  throw new KernelReleaseError(
    'RELEASE_UNKNOWN',
    `cannot tell which kernel ${input} is. kcompat reads uname -r strings of RHEL and rebuilds (3.10.0-957.el7.x86_64, 4.18.0-348.7.1.el8_5), ` +
      'Oracle UEK (5.4.17-2136.322.6.2.el7uek.x86_64), Ubuntu (5.15.0-91-generic), Debian (6.1.0-56-amd64, 6.12.117+deb12-cloud-amd64, 5.10.0-0.deb10.21-amd64), ' +
      'Fedora (6.7.7-200.fc39.x86_64), Amazon Linux (5.10.75-79.358.amzn2.x86_64), SUSE (5.14.21-150400.24.46-default), openEuler (5.10.0-60.18.0.50.oe2203.x86_64), ' +
      'Arch, Flatcar, Photon, CBL-Mariner, and plain upstream versions (6.1, 6.1.55)',
  )
}

/**
 * Like {@link parseRelease}, but a string it does not recognise still gives its upstream
 * version (distro `unknown`), for a machine that reports its own facts (`--kernel running`).
 * @throws KernelReleaseError when not even a leading `major.minor` is there.
 */
export function parseReleaseLenient(text: string): KernelRelease {
  try {
    return parseRelease(text)
  } catch (e) {
    if (!(e instanceof KernelReleaseError) || e.code !== 'RELEASE_UNKNOWN') throw e
    const input = text.trim()
    const m = /^(\d+)\.(\d+)(?:\.(\d+))?(.*)$/.exec(input)
    if (!m) throw e
    const r = base(input, 'unknown', 'unrecognised kernel build', upstreamParts(m[1]!, m[2]!, m[3]))
    const rest = m[4]!.replace(/^[-.+]/, '')
    r.flavor = rest === '' ? null : rest
    r.inferred = true
    r.notes.push(`release ${input} is not a distro form kcompat knows: only its upstream version ${r.upstream} is used`)
    return r
  }
}

/** One line: `RHEL … 7.6 (3.10.0, build 957)`. */
export function describeRelease(r: KernelRelease): string {
  const parts = [r.distroName]
  if (r.distroRelease) parts.push(r.distroRelease)
  const extra = [`upstream ${formatVersion(r.upstreamVersion)}`]
  if (r.flavor) extra.push(`flavor ${r.flavor}`)
  if (r.arch) extra.push(r.arch)
  return `${parts.join(' ')} (${extra.join(', ')})`
}
