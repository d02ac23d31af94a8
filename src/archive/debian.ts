/**
 * Debian repositories: the `Packages` index (deb822 stanzas listing every binary
 * package of a suite/component/architecture with its file name, size and sha256), and
 * the choice of kernel image packages to archive from it.
 *
 * Index location: `<mirror>/dists/<suite>/<component>/binary-<arch>/Packages.xz`
 * (`.gz` as a fallback), as the suite's Release file lists it. Kernel image packages are `linux-image-<abi>-<flavor>-<arch>`
 * (6.1: `linux-image-6.1.0-56-cloud-amd64`) or `linux-image-<version>+deb12-<flavor>-<arch>`
 * (6.12 in bookworm). Meta packages (`linux-image-amd64`), `-dbg` (debug symbols) and
 * `-unsigned` twins of signed images are not kernels to archive.
 */
import {type PackageStanza, fetchCheckedPackages, fetchRelease} from './apt-repo.js'
import {debianFlavor} from './layout.js'

export {type PackageStanza, parsePackages} from './apt-repo.js'

/**
 * Fetches and parses the `Packages` index of one suite/component/arch, checked against
 * the suite's Release file (apt-repo.ts; what `archive sync debian` does per suite).
 * @throws RepoError `REPO_NO_RELEASE`, `REPO_BAD_RELEASE`, `REPO_NO_INDEX` (the suite
 *   carries no such index, e.g. bookworm-security has no s390x), `REPO_INDEX_CHECKSUM`;
 *   download errors.
 */
export async function fetchPackagesIndex(
  mirror: string,
  suite: string,
  arch: string,
  component = 'main',
  retryDelayMs?: number,
): Promise<PackageStanza[]> {
  return fetchCheckedPackages(mirror, suite, await fetchRelease(mirror, suite, retryDelayMs), component, arch, retryDelayMs)
}

export interface KernelPackageInfo {
  stanza: PackageStanza
  /** uname -r the package installs. */
  release: string
  /** 6.1, 6.12 … */
  series: string
  flavor: string
}

const KERNEL_IMAGE = /^linux-image-(\d+\.\d+(?:\.\d+)?(?:-\d+|\+deb\d+)-[a-z0-9-]+)$/

/** The kernel image packages of an index (no meta, -dbg or -unsigned packages). */
export function kernelPackages(stanzas: PackageStanza[]): KernelPackageInfo[] {
  const out: KernelPackageInfo[] = []
  for (const s of stanzas) {
    const m = KERNEL_IMAGE.exec(s.package)
    if (!m || s.package.endsWith('-dbg') || s.package.endsWith('-unsigned')) continue
    const release = m[1]!
    out.push({stanza: s, release, series: release.split('.').slice(0, 2).join('.'), flavor: debianFlavor(release)})
  }
  return out
}

/**
 * Compares Debian package versions (deb-version(7)): epoch, then upstream and revision
 * compared part by part, digits numerically, `~` sorting before everything.
 */
export function compareDebianVersions(a: string, b: string): number {
  const split = (v: string): [number, string, string] => {
    const c = v.indexOf(':')
    const epoch = c >= 0 ? Number(v.slice(0, c)) : 0
    const rest = c >= 0 ? v.slice(c + 1) : v
    const d = rest.lastIndexOf('-')
    return d >= 0 ? [epoch, rest.slice(0, d), rest.slice(d + 1)] : [epoch, rest, '']
  }
  const order = (ch: string): number => (ch === '~' ? -1 : ch === '' ? 0 : /[A-Za-z]/.test(ch) ? ch.charCodeAt(0) : ch.charCodeAt(0) + 256)
  const cmpPart = (x: string, y: string): number => {
    let i = 0
    let j = 0
    while (i < x.length || j < y.length) {
      while ((i < x.length && !/\d/.test(x[i]!)) || (j < y.length && !/\d/.test(y[j]!))) {
        const cx = i < x.length && !/\d/.test(x[i]!) ? x[i]! : ''
        const cy = j < y.length && !/\d/.test(y[j]!) ? y[j]! : ''
        if (cx === '' && cy === '') break
        const d = order(cx) - order(cy)
        if (d !== 0) return d
        if (cx !== '') i++
        if (cy !== '') j++
      }
      let nx = ''
      let ny = ''
      while (i < x.length && /\d/.test(x[i]!)) nx += x[i++]
      while (j < y.length && /\d/.test(y[j]!)) ny += y[j++]
      const d = Number(nx || '0') - Number(ny || '0')
      if (d !== 0) return d
    }
    return 0
  }
  const [ea, ua, ra] = split(a)
  const [eb, ub, rb] = split(b)
  return ea - eb || cmpPart(ua, ub) || cmpPart(ra, rb)
}

/** The Debian release a kernel belongs to: `+debNN` in the release or version, else by series. */
export function debianVersionOf(release: string, packageVersion = ''): string | undefined {
  const m = /\+deb(\d+)/.exec(release) ?? /[+~]deb(\d+)/.exec(packageVersion)
  if (m) return m[1]
  const series = release.split('.').slice(0, 2).join('.')
  // The kernel series each Debian release ships (per Debian's release announcements).
  return ({'3.16': '8', '4.9': '9', '4.19': '10', '5.10': '11', '6.1': '12', '6.12': '13'} as Record<string, string>)[series]
}

/** Keeps the newest package of each (series, flavor) — the curated default of the archive. */
export function newestPerSeriesAndFlavor(pkgs: KernelPackageInfo[]): KernelPackageInfo[] {
  const best = new Map<string, KernelPackageInfo>()
  for (const p of pkgs) {
    const key = `${p.stanza.architecture}/${p.series}/${p.flavor}`
    const cur = best.get(key)
    if (!cur || compareDebianVersions(p.stanza.version, cur.stanza.version) > 0 ||
        (compareDebianVersions(p.stanza.version, cur.stanza.version) === 0 && p.release > cur.release)) best.set(key, p)
  }
  return [...best.values()].sort((a, b) => (a.release < b.release ? -1 : 1))
}
