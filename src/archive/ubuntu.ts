/**
 * Ubuntu's kernel packages in an APT repository (the "archive" for amd64/i386, "ports"
 * for arm64, ppc64el, s390x, riscv64 — both the same format, apt-repo.ts).
 *
 * Since Ubuntu 19.04 one kernel build `<R>` (uname -r, `5.15.0-91-generic`) is split into
 *
 * - `linux-image-<R>` (signed: amd64/arm64) and/or `linux-image-unsigned-<R>`: the
 *   bootable image `/boot/vmlinuz-<R>`, whose .BTF is the kernel's BTF;
 * - `linux-modules-<R>`: the most used modules and the build config `/boot/config-<R>`
 *   (older releases keep the config in the image package: both are looked at);
 * - `linux-modules-extra-<R>`: the remaining modules (not built for every flavor);
 * - `linux-image-unsigned-<R>-dbgsym`: the debug vmlinux, in the separate "ddebs"
 *   repository (same dists/ layout, `.ddeb` files), for kernels built without BTF.
 *
 * The Ubuntu release a kernel is filed under (`22.04`) comes from the suite the index
 * belongs to (jammy, jammy-updates, jammy-security → 22.04), not from the kernel: an HWE
 * kernel (`6.8.0-49-generic` from source `linux-hwe-6.8` in jammy-updates) is a 22.04
 * kernel even though its series first shipped in 24.04.
 */
import {KcompatError} from '../errors.js'
import {parseRelease} from '../kernel/release.js'
import {type PackageStanza, compareDebianVersions} from './debian.js'

export class UbuntuError extends KcompatError {}

/**
 * Ubuntu release versions by series (codename) name, from Ubuntu's release list
 * (wiki.ubuntu.com/Releases; the same data as distro-info-data's ubuntu.csv, which the
 * tests compare this table with).
 */
export const UBUNTU_SERIES: Readonly<Record<string, string>> = {
  precise: '12.04', quantal: '12.10', raring: '13.04', saucy: '13.10',
  trusty: '14.04', utopic: '14.10', vivid: '15.04', wily: '15.10',
  xenial: '16.04', yakkety: '16.10', zesty: '17.04', artful: '17.10',
  bionic: '18.04', cosmic: '18.10', disco: '19.04', eoan: '19.10',
  focal: '20.04', groovy: '20.10', hirsute: '21.04', impish: '21.10',
  jammy: '22.04', kinetic: '22.10', lunar: '23.04', mantic: '23.10',
  noble: '24.04', oracular: '24.10', plucky: '25.04', questing: '25.10',
  resolute: '26.04',
}

/**
 * The Ubuntu version of a suite: its series name is the part before the first `-`
 * (`jammy-updates`, `noble-security`, `focal-proposed`).
 * @throws UbuntuError `UBUNTU_UNKNOWN_SUITE` with the known series names.
 */
export function ubuntuVersionOfSuite(suite: string): string {
  const series = suite.split('-')[0]!
  const v = UBUNTU_SERIES[series]
  if (!v) {
    throw new UbuntuError(
      'UBUNTU_UNKNOWN_SUITE',
      `'${suite}' is not an Ubuntu suite kcompat knows (series: ${Object.keys(UBUNTU_SERIES).join(', ')}); give --os-version`,
    )
  }
  return v
}

/** Ubuntu architectures: the archive carries amd64 and i386, the ports repository the rest. */
export const UBUNTU_PORTS_ARCHES = ['arm64', 'armhf', 'ppc64el', 's390x', 'riscv64']

export interface UbuntuKernel {
  /** uname -r, e.g. `5.15.0-91-generic`. */
  release: string
  /** `5.15` */
  series: string
  /** The part after the ABI number: generic, lowlatency, aws, azure, gcp, oracle, generic-64k … */
  flavor: string
  /** Built from a hardware-enablement source package (`linux-hwe-6.8`, `linux-signed-hwe-6.8` …). */
  hwe: boolean
  /** The package holding /boot/vmlinuz-<R>: linux-image-unsigned-<R> when listed, else linux-image-<R>. */
  image: PackageStanza
  /** linux-modules-<R> and linux-modules-extra-<R> of the same version, when listed. */
  modules?: PackageStanza
  modulesExtra?: PackageStanza
}

/** `<major>.<minor>.<patch>-<abi>-<flavor>`: Ubuntu's release string (release.ts parses its identity). */
const UBUNTU_RELEASE = /^(\d+\.\d+)\.\d+-\d+-([a-z][a-z0-9.-]*)$/
const IMAGE = /^linux-image-(unsigned-)?(.+)$/

/** Whether release.ts reads the string as an Ubuntu release kernel (not, e.g., a mainline build `6.1.0-060100-generic`). */
function isUbuntuRelease(release: string): boolean {
  try {
    return parseRelease(release).distro === 'ubuntu'
  } catch (e) {
    if (e instanceof KcompatError) return false
    throw e
  }
}

function isHwe(s: PackageStanza): boolean {
  return /(^|-)hwe(-|$)/.test(s.source ?? '')
}

/**
 * The kernels of a Packages index (one or more components concatenated): each image
 * package (signed or unsigned; the dbgsym, meta packages such as `linux-image-generic`
 * and anything whose rest is not a release string are not kernels) with the modules
 * packages of the same release and version. The release must be one release.ts reads
 * as Ubuntu's (its flavor list; mainline kernel-team builds are not). When a release is listed in several
 * versions (an index holds one, but suites can be combined) each version is a kernel.
 */
export function ubuntuKernels(stanzas: PackageStanza[]): UbuntuKernel[] {
  const byName = new Map<string, PackageStanza[]>()
  for (const s of stanzas) byName.set(s.package, [...(byName.get(s.package) ?? []), s])
  const sameVersion = (name: string, version: string): PackageStanza | undefined => byName.get(name)?.find((s) => s.version === version)
  const out = new Map<string, UbuntuKernel>()
  for (const s of stanzas) {
    const m = IMAGE.exec(s.package)
    if (!m || s.package.endsWith('-dbgsym') || s.package.endsWith('-dbg')) continue
    const release = m[2]!
    const r = UBUNTU_RELEASE.exec(release)
    if (!r || !isUbuntuRelease(release)) continue
    const key = `${s.architecture}/${release}/${s.version}`
    const unsigned = m[1] !== undefined
    const prev = out.get(key)
    if (prev && !unsigned) continue // the unsigned image is preferred: the same vmlinuz without the EFI signature
    out.set(key, {
      release,
      series: r[1]!,
      flavor: r[2]!,
      hwe: isHwe(s) || (prev?.hwe ?? false),
      image: s,
      modules: sameVersion(`linux-modules-${release}`, s.version),
      modulesExtra: sameVersion(`linux-modules-extra-${release}`, s.version),
    })
  }
  return [...out.values()].sort((a, b) => (a.release < b.release ? -1 : a.release > b.release ? 1 : compareDebianVersions(a.image.version, b.image.version)))
}

export interface UbuntuSelection {
  /** Flavors to keep (`generic`, `aws` …; `hwe` keeps the HWE kernels); all when empty. */
  flavors?: string[]
  /** Kernel series (`5.15`, `6.8`); all when empty. */
  series?: string[]
  /** Only the newest package version of each series, flavor and GA/HWE line. */
  newest?: boolean
}

/** Applies the flavor, series and newest filters. */
export function selectUbuntuKernels(all: UbuntuKernel[], o: UbuntuSelection): UbuntuKernel[] {
  let sel = all
  const flavors = o.flavors ?? []
  if (flavors.length > 0) sel = sel.filter((k) => flavors.includes(k.flavor) || (k.hwe && flavors.includes('hwe')))
  if (o.series && o.series.length > 0) sel = sel.filter((k) => o.series!.includes(k.series))
  if (o.newest) {
    const best = new Map<string, UbuntuKernel>()
    for (const k of sel) {
      const key = `${k.image.architecture}/${k.series}/${k.flavor}/${k.hwe ? 'hwe' : 'ga'}`
      const cur = best.get(key)
      if (!cur || compareDebianVersions(k.image.version, cur.image.version) > 0) best.set(key, k)
    }
    sel = [...best.values()].sort((a, b) => (a.release < b.release ? -1 : 1))
  }
  return sel
}

/**
 * The dbgsym (debug symbols) package of a kernel in a ddebs index: Ubuntu builds it for
 * the unsigned image only (`linux-image-unsigned-<R>-dbgsym`; older series
 * `linux-image-<R>-dbgsym`), same version.
 */
export function findDbgsymStanza(stanzas: PackageStanza[], k: UbuntuKernel): PackageStanza | undefined {
  const names = [`linux-image-unsigned-${k.release}-dbgsym`, `linux-image-${k.release}-dbgsym`]
  for (const n of names) {
    const hit = stanzas.find((s) => s.package === n && s.version === k.image.version && s.architecture === k.image.architecture)
    if (hit) return hit
  }
  return undefined
}
