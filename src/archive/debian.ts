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
  /** Where `stanza` is an empty package that only depends on the kernel's parts (see {@link splitParts}). */
  parts?: SplitParts
}

/**
 * A kernel that Debian ships in parts. From Linux 7.x in forky and sid, `linux-image-<R>`
 * holds no files: it depends on `linux-binary-<R>` (the image, at
 * `/usr/lib/modules/<R>/vmlinuz`; built from the `linux-signed-<arch>` source where the
 * arch is signed), `linux-base-<R>` (`/usr/lib/modules/<R>/config`, System.map, device
 * trees) and `linux-modules-<R>` (the modules), each pinned with `(= version)`. The
 * package list of Debian's kernel source (debian/control of the `linux` source package)
 * has the same split. The signed `linux-binary` is taken, as `linux-image` was before it:
 * the `-unsigned` twin holds the same kernel without the EFI signature.
 */
export interface SplitParts {
  binary: PackageStanza
  base?: PackageStanza
  modules?: PackageStanza
}

/**
 * An image package's name: `linux-image-<release>`, the release being Debian's ABI form
 * `X.Y.Z-ABI-flavor` (`6.1.0-56-amd64`), its backport form `X.Y.Z-0.debN.ABI-flavor` /
 * `X.Y.Z-0.bpo.ABI-flavor` (`6.1.0-0.deb11.44-686-pae`, `4.19.0-0.bpo.19-amd64`), or the
 * form of Linux 6.12 on (`6.12.117+deb12-amd64`, `6.12.12+bpo-amd64`). A version of two
 * parts is a meta package's (`linux-image-6.1-686-pae`, which depends on the newest
 * `6.1.0-0.deb11.*` image), not a kernel.
 */
const KERNEL_IMAGE = /^linux-image-(\d+\.\d+\.\d+(?:-\d+(?:\.(?:deb\d+|bpo)\.\d+)?|\+deb\d+|\+bpo)-[a-z0-9-]+)$/

/** `name (= version)` entries of a Depends field (alternatives and other relations are left out). */
function pinnedDepends(s: PackageStanza): Map<string, string> {
  const out = new Map<string, string>()
  for (const clause of (s.fields.Depends ?? '').split(',')) {
    const m = /^\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*\(\s*=\s*([^)\s]+)\s*\)\s*$/.exec(clause)
    if (m) out.set(m[1]!, m[2]!)
  }
  return out
}

/**
 * The parts of a split kernel (see {@link SplitParts}): found by the image package's
 * pinned dependency on `linux-binary-<R>`, then `linux-base-<R>` and `linux-modules-<R>` at
 * the versions it pins. Undefined for a classic image package, which holds the kernel
 * itself. A part the index does not list at the pinned version is left out (the binary:
 * then the kernel is not split as far as this index can tell, and adding it fails with
 * the image package's own INPUT_NO_KERNEL_IMAGE).
 */
export function splitParts(s: PackageStanza, release: string, byName: Map<string, PackageStanza[]>): SplitParts | undefined {
  const deps = pinnedDepends(s)
  const at = (name: string): PackageStanza | undefined => {
    const v = deps.get(name)
    return v === undefined ? undefined : byName.get(name)?.find((x) => x.version === v && x.architecture === s.architecture)
  }
  const binary = at(`linux-binary-${release}`)
  if (!binary) return undefined
  const base = at(`linux-base-${release}`)
  const modules = at(`linux-modules-${release}`)
  return {binary, ...(base ? {base} : {}), ...(modules ? {modules} : {})}
}

/** The kernel image packages of an index (no meta, -dbg or -unsigned packages), with their parts where the kernel is split. */
export function kernelPackages(stanzas: PackageStanza[]): KernelPackageInfo[] {
  const byName = new Map<string, PackageStanza[]>()
  for (const s of stanzas) byName.set(s.package, [...(byName.get(s.package) ?? []), s])
  const out: KernelPackageInfo[] = []
  for (const s of stanzas) {
    const m = KERNEL_IMAGE.exec(s.package)
    if (!m || s.package.endsWith('-dbg') || s.package.endsWith('-unsigned')) continue
    const release = m[1]!
    const parts = splitParts(s, release, byName)
    out.push({stanza: s, release, series: release.split('.').slice(0, 2).join('.'), flavor: debianFlavor(release), ...(parts ? {parts} : {})})
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
  // the release's own mark (`+deb12`, `-0.deb11.44`), else the package version's (`~deb11u1`, a backport's `~bpo9+1`)
  const m = /[+.]deb(\d+)/.exec(release) ?? /[+~](?:deb|bpo)(\d+)/.exec(packageVersion)
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
