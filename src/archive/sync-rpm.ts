/**
 * `archive sync rpm`: reads a yum/dnf repository's metadata (rpm-repo.ts), picks its
 * kernel packages and adds each kernel to the archive under `<distro>/<version>/<arch>/`
 * (add-rpm.ts), with the BTF of its modules from the kernel-modules* packages of the same
 * build.
 *
 * Which packages hold a kernel: names starting with `kernel` that are not development,
 * documentation, tool, debug-info, firmware or module packages (KERNEL_EXCLUDE); when
 * both `X` and `X-core` exist for one build, `X` is the meta package and `X-core` holds
 * the image (RHEL 8+, Fedora). The modules of image package `X[-core]` are in `X-modules`,
 * `X-modules-core` and `X-modules-extra` of the same version, release and arch.
 *
 * Every package is downloaded into the cache directory (download.ts: streamed,
 * resumable, retried), checked against primary.xml's sha256 and size, read, and deleted
 * unless kept. A kernel whose package (name, epoch:version-release) is already in the
 * manifest for the same distro, version and arch is skipped, so a re-run adds nothing
 * twice.
 *
 * With a shard (`--shard I/N`, shard.ts) only the kernels whose archive key
 * `<distro>/<version>/<arch>/<release>` hashes to shard I are downloaded. The release is
 * not in the package's name or version (RHEL's kernel-core 5.14.0-362.8.1.el9_3 holds
 * 5.14.0-362.8.1.el9_3.x86_64, SUSE's kernel-default 5.14.21-150500.55.19.1 holds
 * 5.14.21-150500.55.19-default): it is the one in the path of the image, so the
 * repository's filelists.xml (every file of every package, by pkgid) is read for the image
 * packages and the image found there as in the package itself (add-rpm.ts
 * rpmKernelImage). filelists.xml marks directories and %ghost files but not symlinks, so
 * a listed image path is taken as a regular file. A package whose file list names no
 * image (which archive add would refuse) is placed by `<distro>/<version>/<arch>/<NEVRA>`
 * instead, so that exactly one shard tries it and reports the failure.
 *
 * With `generate`, a kernel without BTF in its image (RHEL 7, Amazon Linux 2's 4.14, …)
 * gets BTF generated from its debug-info package of the same build (debugPackageOf), in
 * the repository or in `debugRepo` (distributions publish debug-info packages in a
 * separate one), by debug-rpm.ts. A kernel archived without BTF is taken up again by a
 * later run with `generate`; one generated from this package's build is skipped.
 */
import {mkdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {InputError, KcompatError} from '../errors.js'
import {type RepoFile, type RepoPackage, fetchRepoFilelists, fetchRepoIndex, repoUrl} from '../pkg/rpm-repo.js'
import {compareEvr} from '../pkg/rpm-version.js'
import {RPM_DISTROS, addKernelRpm, rpmKernelImage} from './add-rpm.js'
import {type DebugProgress, type DebugTimings, type GeneratedSource} from './debug-deb.js'
import {addDebugRpm} from './debug-rpm.js'
import {download} from './download.js'
import {normalizeArch} from './layout.js'
import {type KernelEntry, kernelKey, readManifest} from './manifest.js'
import {configHasModuleBtf, repackModules} from './modules.js'
import {type Shard, shardOf} from './shard.js'

export interface RpmSyncOptions {
  /** Move the module BTF this sync stored (as `.modules.tar.xz`) into the BTF pack as ONE new segment at the end (default true). */
  repack?: boolean
  /** Repository root URL (the directory holding `repodata/`). */
  repo: string
  /** os id (RPM_DISTROS) and VERSION_ID to file kernels under. */
  distro: string
  version: string
  /** Arches to keep (x86_64, aarch64 or arm64, …); all but noarch/src when empty. */
  arches?: string[]
  /** Only the newest build of each kernel package name and arch. */
  newest?: boolean
  /** Only the kernels of this shard (see the module comment). */
  shard?: Shard
  dryRun?: boolean
  cacheDir?: string
  keep?: boolean
  /** Store module BTF (default true). */
  modules?: boolean
  retryDelayMs?: number
  /** For kernels without BTF: generate it from the kernel's -debuginfo package (debug-rpm.ts). */
  generate?: boolean
  /** Repository holding the -debuginfo packages (default: `repo`; distributions publish them in a separate one). */
  debugRepo?: string
  pahole?: string
  libbpf?: string
  jobs?: number
  onEvent?: (e: RpmSyncEvent) => void
}

export type RpmSyncEvent =
  | {type: 'index'; packages: number; kernels: number; selected: number}
  | {type: 'skip'; package: string; arch: string; reason: string}
  | {type: 'download'; package: string; arch: string; received: number; total: number | undefined}
  | {type: 'modules'; package: string; arch: string; files: number; withBtf: number}
  | {type: 'added'; package: string; release: string; arch: string; btf: string; changed: boolean; modules?: number}
  | {type: 'failed'; package: string; arch: string; code: string; message: string}
  | {type: 'generate'; package: string; arch: string; progress: DebugProgress}
  | {type: 'generated'; package: string; arch: string; debuginfo: string; timings: DebugTimings; flags: string[]}

export interface RpmSyncResult {
  added: {package: string; release: string; arch: string; btf: string; modules?: number}[]
  skipped: {package: string; arch: string; reason: string}[]
  failed: {package: string; arch: string; code: string; message: string}[]
  planned: {package: string; version: string; arch: string; size: number; modulePackages: string[]}[]
}

/**
 * The archive key a kernel package will be filed under, from its files as filelists.xml
 * lists them; with no image among them, `<distro>/<version>/<arch>/<NEVRA>` (see the
 * module comment).
 */
export function rpmShardKey(p: RepoPackage, files: RepoFile[], o: {distro: string; version: string}): string {
  const image = rpmKernelImage({
    files: files.map((f) => ({path: f.path.replace(/^\/+/, ''), size: 0, mode: f.type === 'dir' ? 0o040755 : 0o100644, digest: '', linkTo: '', ghost: f.type === 'ghost'})),
  })
  return kernelKey({distro: o.distro, version: o.version, arch: normalizeArch(p.arch), release: image?.release ?? nevra(p)})
}

/** Sub-package suffixes that never hold the kernel image. */
const KERNEL_EXCLUDE =
  /-(devel|headers|tools|doc|docs|modules|debuginfo|debugsource|firmware|source|syms|macros|abi|cross|selftests|uki|libs|srpm|ipaclones|bootwrapper|livepatch|extra|optional|obs|install|kmp|qa|internal|partner|zfcpdump-man|common|stablelists|whitelists|build|devel-matched)(-|$)/

/** Whether a package name may be a kernel (image or modules) package. */
export function isKernelFamily(name: string): boolean {
  return /^kernel(-|$)/.test(name)
}

export interface KernelBuild {
  image: RepoPackage
  modules: RepoPackage[]
}

const nevra = (p: RepoPackage): string => `${p.name}-${p.evr}.${p.arch}`
const buildKey = (p: RepoPackage): string => `${p.evr}\0${p.arch}`

/** The kernel builds among a repository's packages (see the module comment). */
export function kernelBuilds(pkgs: RepoPackage[], o: {arches?: string[]; newest?: boolean} = {}): KernelBuild[] {
  // RPM arch names or BTFHub's (aarch64 or arm64) both select
  const arches = (o.arches ?? []).filter(Boolean).map(normalizeArch)
  const inArch = (p: RepoPackage): boolean =>
    arches.length > 0 ? arches.includes(normalizeArch(p.arch)) : p.arch !== 'noarch' && p.arch !== 'src' && p.arch !== 'nosrc'
  const all = pkgs.filter((p) => isKernelFamily(p.name) && inArch(p))
  const byNameBuild = new Map(all.map((p) => [`${p.name}\0${buildKey(p)}`, p]))
  let images = all.filter((p) => !/-modules(-core|-extra)?$/.test(p.name) && !KERNEL_EXCLUDE.test(p.name.slice('kernel'.length).replace(/-core$/, '')))
  // X is a meta package when X-core exists for the same build
  images = images.filter((p) => p.name.endsWith('-core') || !byNameBuild.has(`${p.name}-core\0${buildKey(p)}`))
  if (o.newest) {
    const best = new Map<string, RepoPackage>()
    for (const p of images) {
      const k = `${p.name}\0${p.arch}`
      const b = best.get(k)
      if (!b || compareEvr(p, b) > 0) best.set(k, p)
    }
    images = [...best.values()]
  }
  images.sort((a, b) => (a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : compareEvr(a, b)))
  return images.map((image) => {
    const base = image.name.replace(/-core$/, '')
    const modules = ['modules-core', 'modules', 'modules-extra'].map((s) => byNameBuild.get(`${base}-${s}\0${buildKey(image)}`)).filter((p): p is RepoPackage => !!p)
    return {image, modules}
  })
}

/**
 * The debug-info package of a kernel package: `kernel-core` and `kernel` have
 * `kernel-debuginfo`, `kernel-<variant>[-core]` has `kernel-<variant>-debuginfo` (RHEL,
 * Fedora, Oracle's kernel-uek; SUSE's kernel-default has kernel-default-debuginfo).
 */
export function debugNameOf(p: Pick<RepoPackage, 'name'>): string {
  return `${p.name.replace(/-core$/, '')}-debuginfo`
}

/** The debug-info package of the same build (name, epoch:version-release, arch) in a package list. */
export function debugPackageOf(pkgs: RepoPackage[], p: RepoPackage): RepoPackage | undefined {
  const name = debugNameOf(p)
  return pkgs.find((q) => q.name === name && q.evr === p.evr && q.arch === p.arch)
}

function checkSafeHref(p: RepoPackage): void {
  if (p.base || !/^[A-Za-z0-9._/+~^%-]+$/.test(p.href) || p.href.split('/').includes('..') || p.href.startsWith('/')) {
    throw new InputError('RPM_REPO_BAD_XML', `${nevra(p)} has a location outside the repository (${JSON.stringify(p.base ? `${p.base} ${p.href}` : p.href)})`)
  }
  if (p.checksum.type.toLowerCase() !== 'sha256') throw new InputError('RPM_REPO_UNSUPPORTED', `${nevra(p)}: primary.xml gives a ${p.checksum.type} checksum; only sha256 is supported for packages`)
}

export async function syncRpm(root: string, o: RpmSyncOptions): Promise<RpmSyncResult> {
  if (!(RPM_DISTROS as readonly string[]).includes(o.distro)) {
    throw new InputError('ARCHIVE_UNKNOWN_DISTRO', `${JSON.stringify(o.distro)} is not an RPM-family os id (${RPM_DISTROS.join(', ')})`)
  }
  const result: RpmSyncResult = {added: [], skipped: [], failed: [], planned: []}
  const cacheDir = o.cacheDir ?? join(tmpdir(), `kcompat-sync-rpm-${process.pid}`)
  mkdirSync(cacheDir, {recursive: true})
  try {
    const index = await fetchRepoIndex(o.repo, cacheDir, (name) => isKernelFamily(name), {retryDelayMs: o.retryDelayMs})
    let builds = kernelBuilds(index.packages, {arches: o.arches, newest: o.newest})
    const kernels = builds.length
    if (o.shard && builds.length > 0) {
      const shard = o.shard
      const ids = new Set(builds.map((b) => b.image.checksum.value))
      const lists = await fetchRepoFilelists(o.repo, index.repomd, cacheDir, (id) => ids.has(id), {retryDelayMs: o.retryDelayMs})
      builds = builds.filter((b) => shardOf(rpmShardKey(b.image, lists.get(b.image.checksum.value) ?? [], o), shard.count) === shard.index)
    }
    o.onEvent?.({type: 'index', packages: index.packages.length, kernels, selected: builds.length})
    let debugPackages: RepoPackage[] | undefined
    for (const b of builds) {
      const p = b.image
      const arch = normalizeArch(p.arch)
      // an entry from this package: added from it, or generated from its debug-info package after it
      const fromPackage = (k: KernelEntry): boolean => {
        const s = k.source as GeneratedSource
        return (s.package === p.name && s.packageVersion === p.evr) || (s.method === 'debug-info' && s.kernelImage?.package === p.name && s.kernelImage.packageVersion === p.evr)
      }
      const have = readManifest(root).kernels.find((k) => k.distro === o.distro && k.version === o.version && k.arch === arch && fromPackage(k))
      const needsModules = have && o.modules !== false && have.btf === 'in-kernel' && !have.modules && configHasModuleBtf(have)
      const wantGenerate = o.generate && have?.btf === 'none'
      if (have && !needsModules && !wantGenerate) {
        const reason = `already archived as ${have.release} (${p.name} ${p.evr})`
        result.skipped.push({package: nevra(p), arch: p.arch, reason})
        o.onEvent?.({type: 'skip', package: nevra(p), arch: p.arch, reason})
        continue
      }
      const mods = o.modules === false || wantGenerate ? [] : b.modules
      const kernelPackages = wantGenerate ? [] : [p, ...mods]
      result.planned.push({package: p.name, version: p.evr, arch: p.arch, size: kernelPackages.reduce((s, m) => s + m.size, 0), modulePackages: mods.map(nevra)})
      if (o.dryRun) continue
      const files: string[] = []
      const fetch = async (q: RepoPackage, repo: string): Promise<string> => {
        checkSafeHref(q)
        const file = join(cacheDir, q.href.split('/').pop()!)
        files.push(file)
        await download(repoUrl(repo, q.href), file, {
          sha256: q.checksum.value,
          size: q.size,
          retryDelayMs: o.retryDelayMs,
          onProgress: (e) => o.onEvent?.({type: 'download', package: nevra(q), arch: p.arch, received: e.received, total: e.total}),
        })
        return file
      }
      try {
        let entry: KernelEntry
        let changed = true
        if (wantGenerate) entry = have!
        else {
          for (const q of kernelPackages) await fetch(q, o.repo)
          const r = await addKernelRpm(root, files[0]!, files.slice(1), {
            distro: o.distro,
            version: o.version,
            origin: {path: p.href},
            modules: o.modules,
            moduleFormat: 'tar',
            onModuleProgress: (m) => o.onEvent?.({type: 'modules', package: nevra(p), arch: p.arch, files: m.files, withBtf: m.withBtf}),
          })
          entry = r.entry
          changed = r.changed
        }
        if (o.generate && entry.btf === 'none') {
          debugPackages ??= o.debugRepo
            ? (await fetchRepoIndex(o.debugRepo, join(cacheDir, 'debug'), (name) => isKernelFamily(name), {retryDelayMs: o.retryDelayMs})).packages
            : index.packages
          const d = debugPackageOf(debugPackages, p)
          if (!d) {
            throw new InputError(
              'DEBUG_PACKAGE_NOT_FOUND',
              `${o.debugRepo ?? o.repo} has no ${debugNameOf(p)}-${p.evr}.${p.arch}, so there is no debug info to generate ${entry.release}'s BTF from (give --debuginfo-repo)`,
            )
          }
          const file = await fetch(d, o.debugRepo ?? o.repo)
          const g = await addDebugRpm(root, file, {
            distro: o.distro,
            version: o.version,
            fileSha256: d.checksum.value,
            pahole: o.pahole,
            libbpf: o.libbpf,
            jobs: o.jobs,
            onProgress: (progress) => o.onEvent?.({type: 'generate', package: nevra(p), arch: p.arch, progress}),
          })
          entry = g.entry
          changed = true
          o.onEvent?.({type: 'generated', package: nevra(p), arch: p.arch, debuginfo: nevra(d), timings: g.timings, flags: g.entry.source.generator?.flags ?? []})
        }
        const modules = entry.modules?.count
        const m = modules === undefined ? {} : {modules}
        result.added.push({package: nevra(p), release: entry.release, arch: entry.arch, btf: entry.btf, ...m})
        o.onEvent?.({type: 'added', package: nevra(p), release: entry.release, arch: entry.arch, btf: entry.btf, changed, ...m})
      } catch (e) {
        if (!(e instanceof KcompatError)) throw e
        result.failed.push({package: nevra(p), arch: p.arch, code: e.code, message: e.message})
        o.onEvent?.({type: 'failed', package: nevra(p), arch: p.arch, code: e.code, message: e.message})
      } finally {
        if (!o.keep) for (const f of files) rmSync(f, {force: true})
      }
    }
  } finally {
    if (!o.cacheDir) rmSync(cacheDir, {recursive: true, force: true})
  }
  if (!o.dryRun && o.repack !== false) await repackModules(root)
  return result
}
