/**
 * Adding a kernel from RPM packages (the RHEL family, Fedora, Amazon Linux, SUSE,
 * openEuler) to the archive: the image and config from the kernel package, the BTF from
 * the image (kernel-image.ts, as for Debian), and the BTF of its modules from the same
 * package and from its kernel-modules* packages (modules.ts).
 *
 * Where the files are, per distribution family:
 *
 * - RHEL 8+ and rebuilds, Fedora, Amazon Linux 2023, openEuler: `kernel-core` (or
 *   `kernel-<variant>-core`, e.g. kernel-64k-core, kernel-rt-core; UEK's `kernel-uek`
 *   / `kernel-uek-core`) holds `/lib/modules/<release>/vmlinuz` and `…/config`
 *   (`/boot/vmlinuz-<release>` is a %ghost, filled in at install time); modules are
 *   split between kernel-core (RHEL 8), kernel-modules-core (RHEL 9.3+, Fedora 38+),
 *   kernel-modules and kernel-modules-extra. `kernel` itself is a meta package.
 * - RHEL/CentOS 7, Amazon Linux 2, SUSE (`kernel-default`, `kernel-azure`): the image
 *   at `/boot/vmlinuz-<release>` (`/boot/Image-<release>` on SUSE's aarch64) and the
 *   config at `/boot/config-<release>`, the modules in the same package. Newer SUSE
 *   (usrmerge) also puts them under `/usr/lib/modules/<release>/`.
 *
 * Every package is read fully before anything is written, so a bad package or module
 * adds nothing.
 */
import {createHash} from 'node:crypto'
import {statSync} from 'node:fs'
import {basename} from 'node:path'
import {parseBtf} from '../btf/decode.js'
import {InputError} from '../errors.js'
import {bpfConfigFacts, parseKernelConfig} from '../kernel/config.js'
import {type RpmPackage, readRpmHeaders, rpmMembers} from '../pkg/rpm.js'
import {type AddResult, addKernel} from './archive.js'
import type {ImageOrigin} from './image.js'
import {extractKernelBtf} from './kernel-image.js'
import {normalizeArch} from './layout.js'
import type {ImageSource} from './manifest.js'
import {type ModuleProgress, addKernelModules, moduleBtfOf, validateModuleBtfs} from './modules.js'

/** The os ids BTFHub files RPM-family kernels under (`/etc/os-release` ID). */
export const RPM_DISTROS = ['rhel', 'centos', 'almalinux', 'rocky', 'ol', 'fedora', 'amzn', 'sles', 'opensuse-leap', 'openeuler'] as const

/** Where an RPM came from: its path in the repository, or a URL (see ImageOrigin). */
export type RpmOrigin = Pick<ImageOrigin, 'path' | 'url'>

export interface AddRpmOptions {
  /** os id (RPM_DISTROS); default inferred from the release (`.fc39` fedora, `.amzn2` amzn, `.oe2203` openeuler, `uek` ol). */
  distro?: string
  /** VERSION_ID (`8`, `15.5`); default inferred from the release (`.el8` 8, `.fc39` 39, `.amzn2023` 2023, `.oe2203` 22.03). */
  version?: string
  /** Where the kernel package came from (recorded in `source.image`). */
  origin?: RpmOrigin
  /** Also store module BTF when the config has CONFIG_DEBUG_INFO_BTF_MODULES=y (default true). */
  modules?: boolean
  /** How module BTF is stored: `pack` (default, one new pack segment) or `tar` (a `.modules.tar.xz`, which a sync repacks into one segment at its end). */
  moduleFormat?: 'pack' | 'tar'
  onModuleProgress?: (p: ModuleProgress) => void
}

export interface AddRpmResult extends AddResult {
  steps: string[]
  modules?: {files: number; count: number; withoutBtf: number}
  /** The packages read: the kernel package first. */
  packages: {file: string; name: string; evr: string; arch: string}[]
}

/**
 * Image paths, most preferred first: lib/modules/<release>/vmlinuz (RHEL 8+; its
 * /boot/vmlinuz-<release> is a ghost), then /boot/vmlinuz-, vmlinux-, Image-, image-
 * <release>. SUSE's kernel-default also ships /boot/vmlinux-<release>.gz (a compressed
 * ELF for crash tools) beside /boot/vmlinuz-<release>: compressed copies, signatures and
 * hmac files are never the image.
 */
const IMAGE = [/^(?:usr\/)?lib\/modules\/([^/]+)\/vmlinuz$/, /^boot\/vmlinuz-([^/]+)$/, /^boot\/vmlinux-([^/]+)$/, /^boot\/Image-([^/]+)$/, /^boot\/image-([^/]+)$/]
const NOT_AN_IMAGE = /\.(gz|xz|zst|bz2|hmac|sig|sign)$/
const CONFIG = (release: string): string[] => [`lib/modules/${release}/config`, `usr/lib/modules/${release}/config`, `boot/config-${release}`]
const MODULE = /^(?:usr\/)?lib\/modules\/([^/]+)\/.+\.ko(\.xz|\.zst|\.gz)?$/

/** The image member a kernel package holds (a regular file, not a ghost), and its release. */
export function rpmKernelImage(pkg: Pick<RpmPackage, 'files'>): {path: string; release: string} | undefined {
  for (const re of IMAGE) {
    for (const f of pkg.files) {
      const m = re.exec(f.path)
      if (m && !f.ghost && (f.mode & 0o170000) === 0o100000 && !NOT_AN_IMAGE.test(m[1]!)) return {path: f.path, release: m[1]!}
    }
  }
  return undefined
}

/** The kernel flavor from the package name: kernel[-core] generic, kernel-uek uek, kernel-64k-core 64k, kernel-default default. */
export function rpmFlavor(name: string): string {
  const v = name.replace(/^kernel/, '').replace(/-core$/, '').replace(/^-/, '')
  return v === '' ? 'generic' : v
}

/** os id and VERSION_ID from a release string, where it tells (see AddRpmOptions). */
export function rpmDistroOf(release: string): {distro?: string; version?: string} {
  let m = /\.fc(\d+)\./.exec(release)
  if (m) return {distro: 'fedora', version: m[1]}
  m = /\.amzn(\d+)\./.exec(release)
  if (m) return {distro: 'amzn', version: m[1]}
  m = /\.oe(\d\d)(\d\d)/.exec(release)
  if (m) return {distro: 'openeuler', version: `${m[1]}.${m[2]}`}
  m = /\.el(\d+)(?:_\d+)?(uek)?\./.exec(release)
  if (m) return {...(m[2] ? {distro: 'ol'} : {}), version: m[1]}
  return {}
}

interface Gathered {
  modules: Map<string, {btf: Uint8Array; path: string}>
  seen: Map<string, string>
  withoutBtf: string[]
  files: number
}

/** Takes the BTF of every module of `release` in one member (rpmMembers' read checks its digest). */
async function takeModule(g: Gathered, path: string, read: () => Promise<Buffer>, release: string, o: AddRpmOptions): Promise<void> {
  const data = await read()
  g.files++
  const {name, btf} = moduleBtfOf(path, data, release)
  const other = g.seen.get(name)
  if (other !== undefined) throw new InputError('MODULE_DUPLICATE', `${path} and ${other} are both module ${name}`)
  g.seen.set(name, path)
  if (btf) g.modules.set(name, {btf, path})
  else g.withoutBtf.push(name)
  o.onModuleProgress?.({files: g.files, withBtf: g.modules.size, entry: path})
}

async function fileSha256(path: string): Promise<string> {
  const {createReadStream} = await import('node:fs')
  const h = createHash('sha256')
  for await (const c of createReadStream(path)) h.update(c as Buffer)
  return h.digest('hex')
}

/**
 * Adds the kernel in an RPM kernel package (a path), with the module BTF of it and of
 * `modulePackages` (its kernel-modules* packages, paths).
 * @throws InputError `INPUT_NO_KERNEL_IMAGE`, `ARCHIVE_UNKNOWN_VERSION` (give version),
 *   `ARCHIVE_UNKNOWN_DISTRO` (give distro), `ARCHIVE_BTF_MISSING`, `RPM_*` and
 *   `INPUT_CORRUPT_*` of rpm.ts, `MODULE_*` of modules.ts, BTF parse errors.
 */
export async function addKernelRpm(root: string, file: string, modulePackages: string[] = [], o: AddRpmOptions = {}): Promise<AddRpmResult> {
  const pkg = await readRpmHeaders(file)
  const image = rpmKernelImage(pkg)
  if (!image) {
    throw new InputError('INPUT_NO_KERNEL_IMAGE', `${pkg.name}-${pkg.evr}.${pkg.arch} has no /lib/modules/<release>/vmlinuz or /boot/vmlinuz-* (is it a meta package? kernel-core holds the image on RHEL 8+ and Fedora)`)
  }
  const {release} = image
  const inferred = rpmDistroOf(release)
  const distro = o.distro ?? inferred.distro
  if (!distro) throw new InputError('ARCHIVE_UNKNOWN_DISTRO', `cannot tell which distribution ${release} belongs to; give --distro (${RPM_DISTROS.join(', ')})`)
  const version = o.version ?? inferred.version
  if (!version) throw new InputError('ARCHIVE_UNKNOWN_VERSION', `cannot tell which ${distro} release ${release} belongs to; give --os-version`)
  const arch = normalizeArch(pkg.arch)
  const configPaths = CONFIG(release)
  const wantModules = o.modules !== false
  const g: Gathered = {modules: new Map(), seen: new Map(), withoutBtf: [], files: 0}
  let imageData: Buffer | undefined
  let configData: Buffer | undefined
  let configPath: string | undefined
  const hasModules = pkg.files.some((f) => (MODULE.exec(f.path)?.[1] ?? '') === release)
  // one pass over the kernel package: image, config and (when wanted) its modules
  // (members come in path order, so the config, under boot/ or lib/modules/<release>/c…,
  // comes before the modules: once it says the modules have no BTF they are not read)
  let modulesNeeded = wantModules && hasModules
  for await (const m of rpmMembers(file, pkg)) {
    if (m.type !== 'file') continue
    if (m.path === image.path) imageData = await m.read()
    else if (configPaths.includes(m.path) && !configData) {
      configData = await m.read()
      configPath = m.path
      if (bpfConfigFacts(parseKernelConfig(configData)).CONFIG_DEBUG_INFO_BTF_MODULES !== 'y') modulesNeeded = false
    } else if (modulesNeeded && MODULE.exec(m.path)?.[1] === release) await takeModule(g, m.path, () => m.read(), release, o)
    if (imageData && configData && !modulesNeeded) break
  }
  if (!imageData) throw new InputError('RPM_TRUNCATED', `${pkg.name}: the payload has no ${image.path}, which the header lists`)
  const kernel = extractKernelBtf(imageData)
  const config = configData ? parseKernelConfig(configData) : undefined
  const facts = config ? bpfConfigFacts(config) : undefined
  const btf = kernel.btf
  if (!btf && facts?.CONFIG_DEBUG_INFO_BTF === 'y') {
    throw new InputError('ARCHIVE_BTF_MISSING', `${release}: config has CONFIG_DEBUG_INFO_BTF=y but no BTF was found in ${image.path}`)
  }
  if (btf) parseBtf(btf)
  const packages = [{file: basename(file), name: pkg.name, evr: pkg.evr, arch: pkg.arch}]
  const withModuleBtf = btf !== undefined && wantModules && facts?.CONFIG_DEBUG_INFO_BTF_MODULES === 'y'
  for (const mf of withModuleBtf ? modulePackages : []) {
    const mp = await readRpmHeaders(mf)
    packages.push({file: basename(mf), name: mp.name, evr: mp.evr, arch: mp.arch})
    if (!mp.files.some((f) => MODULE.exec(f.path)?.[1] === release)) continue
    for await (const m of rpmMembers(mf, mp)) {
      if (m.type === 'file' && MODULE.exec(m.path)?.[1] === release) await takeModule(g, m.path, () => m.read(), release, o)
    }
  }
  const names = [...g.modules.keys()].sort()
  const modules = new Map(names.map((n) => [n, g.modules.get(n)!.btf]))
  if (withModuleBtf) validateModuleBtfs(btf, modules)
  const st = statSync(file)
  const fileSha = await fileSha256(file)
  const imageSource: ImageSource = {
    format: 'rpm',
    package: pkg.name,
    packageVersion: pkg.evr,
    file: basename(file),
    sha256: fileSha,
    size: st.size,
    ...(o.origin?.path ? {path: o.origin.path} : {}),
    member: image.path,
    memberSha256: createHash('sha256').update(imageData).digest('hex'),
    memberSize: imageData.length,
    ...(o.origin?.url ? {url: o.origin.url} : {}),
  }
  const steps = [`${pkg.name}-${pkg.evr}.${pkg.arch}: ${image.path}${configPath ? `, ${configPath}` : ', no config'} (${pkg.payloadCompressor} payload)`, ...kernel.steps]
  const r = await addKernel(
    root,
    {
      release,
      distro,
      version,
      arch,
      flavor: rpmFlavor(pkg.name),
      btf: btf ? 'in-kernel' : 'none',
      config: facts ?? null,
      source: {method: 'kernel-image', package: pkg.name, packageVersion: pkg.evr, file: basename(file), fileSha256: fileSha, image: imageSource},
    },
    btf,
  )
  if (!withModuleBtf) return {...r, steps, packages}
  const entry = await addKernelModules(root, r.entry, modules, {withoutBtf: g.withoutBtf.length, validate: false, format: o.moduleFormat})
  return {
    entry,
    changed: r.changed || JSON.stringify(entry.modules) !== JSON.stringify(r.entry.modules),
    steps,
    packages,
    modules: {files: g.files, count: modules.size, withoutBtf: g.withoutBtf.length},
  }
}
