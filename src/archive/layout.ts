/**
 * The archive's on-disk layout, compatible with btfhub-archive:
 *
 *   <os-id>/<version>/<arch>/<uname -r>.btf.tar.xz
 *
 * `os-id` is /etc/os-release's ID (`debian`, `ubuntu`, `centos`, …), `version` its
 * VERSION_ID (`12`, `20.04`, `7`), `arch` the kernel's `uname -m` except that aarch64
 * is spelled `arm64` (BTFHub's convention), and each tarball holds exactly one raw BTF
 * file named `<uname -r>.btf`.
 */
import {InputError} from '../errors.js'

export {DEBIAN_ARCH_DIR, debianArchDir, normalizeArch} from '../kernel/arch.js'

export interface KernelLocation {
  distro: string
  version: string
  arch: string
  release: string
}

const SAFE = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/

/**
 * Relative path of a kernel's BTF tarball in the archive.
 * @throws InputError `INPUT_BAD_NAME` for components that are empty or could escape
 *   the archive directory.
 */
export function btfPath(k: KernelLocation): string {
  const parts = {distro: k.distro, version: k.version, arch: k.arch, release: k.release}
  for (const [what, v] of Object.entries(parts)) {
    if (!SAFE.test(v)) throw new InputError('INPUT_BAD_NAME', `${what} ${JSON.stringify(v)} is not a safe archive path component`)
  }
  return `${k.distro}/${k.version}/${k.arch}/${k.release}.btf.tar.xz`
}

/** Parses `<os-id>/<version>/<arch>/<release>.btf.tar.xz`; undefined when it is not one. */
export function parseBtfPath(path: string): KernelLocation | undefined {
  const parts = path.split('/')
  if (parts.length !== 4) return undefined
  const [distro, version, arch, file] = parts as [string, string, string, string]
  if (!file.endsWith('.btf.tar.xz')) return undefined
  const release = file.slice(0, -'.btf.tar.xz'.length)
  if (![distro, version, arch, release].every((p) => SAFE.test(p))) return undefined
  return {distro, version, arch, release}
}

/**
 * Debian kernel flavor from a release string: the part between the ABI number and the
 * architecture suffix. `6.1.0-56-cloud-amd64` → `cloud`, `6.1.0-56-amd64` → `generic`,
 * `6.12.57+deb12-rt-arm64` → `rt`, `6.1.0-56-686-pae` → `pae`, `6.1.0-56-686` →
 * `generic`, `6.1.0-56-rt-686-pae` → `rt`.
 */
export function debianFlavor(release: string): string {
  // ABI forms as debian.ts's KERNEL_IMAGE: -56, backports' -0.deb11.44 / -0.bpo.19, +deb12, +bpo
  const m = /^\d+\.\d+(?:\.\d+)?(?:-\d+(?:\.(?:deb\d+|bpo)\.\d+)?|\+deb\d+|\+bpo)-(.+)$/.exec(release)
  if (!m) return 'generic'
  const rest = m[1]!
  const arch = /(?:^|-)(amd64|arm64|s390x|powerpc64le|armmp-lpae|armmp|riscv64|loong64|mips64r2el|686-pae|686)$/.exec(rest)
  if (!arch) return rest
  const flavor = rest.slice(0, arch.index)
  if (flavor !== '') return flavor
  return arch[1] === '686-pae' ? 'pae' : 'generic'
}
