/**
 * `archive sync debian`: reads a mirror's Packages index for a suite and adds every
 * matching kernel image package to the archive. The suite's InRelease (or Release) file
 * is read first: it names the suite's architectures and components, and each Packages
 * index is accepted only with the size and sha256 it lists (apt-repo.ts), so one checked
 * chain runs from the Release file to every package. Each package is downloaded (streamed to
 * a cache directory, checksummed against the index, resumable, retried), added, and
 * deleted unless kept. Kernels whose package and version are already in the manifest
 * are skipped, so a re-run adds nothing twice. Archived kernels whose image provenance is
 * missing and whose package is in the index get it back-filled (image.ts).
 */
import {mkdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {KcompatError} from '../errors.js'
import {addKernelDeb} from './add-deb.js'
import {type DebugProgress, type DebugTimings, findDebugStanza, generateFromMirror, generatedFrom} from './debug-deb.js'
import {type PackageStanza, type ReleaseFile, RepoError, fetchCheckedPackages, fetchRelease, releaseArches, releaseComponents} from './apt-repo.js'
import {type KernelPackageInfo, debianVersionOf, kernelPackages, newestPerSeriesAndFlavor} from './debian.js'
import {download} from './download.js'
import {type BackfillEvent, backfillImages} from './image.js'
import {type KernelEntry, readManifest} from './manifest.js'
import {configHasModuleBtf, repackModules} from './modules.js'
import {debianArchDir} from './layout.js'
import {type Shard, shardOf} from './shard.js'

export interface SyncOptions {
  /** Move the module BTF this sync stored (as `.modules.tar.xz`) into the BTF pack as ONE new segment at the end (default true). */
  repack?: boolean
  mirror: string
  suite: string
  /** Debian architectures (amd64, arm64, …); `all`: every one the suite's Release file lists. */
  arches: string[]
  /** Repository components to read (default main). */
  components?: string[]
  /** The suite's Release file when already fetched (syncDebianSuites); else fetched here. */
  release?: ReleaseFile
  /** Flavors to keep (generic, cloud, rt, pae …); all when empty. */
  flavors?: string[]
  /** Kernel series to keep (6.1, 6.12); all when empty. */
  series?: string[]
  /** Only the newest package of each series and flavor. */
  newest?: boolean
  /** Where downloads go (default: a temporary directory). */
  cacheDir?: string
  /** Keep downloaded packages in cacheDir. */
  keep?: boolean
  /** Debian release to record (default: inferred per kernel). */
  osVersion?: string
  /** Only list what would be added. */
  dryRun?: boolean
  /** Base delay between download retries in ms (default 500, doubling). */
  retryDelayMs?: number
  onEvent?: (e: SyncEvent) => void
  /** For kernels without BTF: generate it from their -dbg package with pahole (debug-deb.ts). */
  generate?: boolean
  /** pahole to run (default: $KCOMPAT_PAHOLE or pahole on PATH), oldest libbpf to target, pahole jobs. */
  pahole?: string
  libbpf?: string
  jobs?: number
  /** Only record image provenance of kernels already archived (image.ts); add nothing. */
  backfillOnly?: boolean
  /** Store module BTF (default true): an archived kernel whose config has module BTF but whose modules were never added is downloaded again for them. */
  modules?: boolean
  /** Only the kernels of this shard (shard.ts: by the hash of debian/<version>/<arch>/<release>). */
  shard?: Shard
}

export type SyncEvent =
  | BackfillEvent
  | {type: 'index'; arch: string; packages: number; selected: number}
  | {type: 'unavailable'; arch: string; component: string; code: string; reason: string}
  | {type: 'skip'; release: string; arch: string; reason: string}
  | {type: 'download'; release: string; arch: string; received: number; total: number | undefined}
  | {type: 'added'; release: string; arch: string; btf: string; changed: boolean; modules?: number}
  | {type: 'failed'; release: string; arch: string; code: string; message: string}
  | {type: 'generate'; release: string; arch: string; progress: DebugProgress}
  | {type: 'modules'; release: string; arch: string; files: number; withBtf: number}
  | {type: 'generated'; release: string; arch: string; timings: DebugTimings; flags: string[]}

export interface SyncResult {
  added: {release: string; arch: string; btf: string; modules?: number}[]
  skipped: {release: string; arch: string; reason: string}[]
  failed: {release: string; arch: string; code: string; message: string}[]
  planned: {release: string; arch: string; package: string; version: string; size: number}[]
  /** Kernels whose image provenance was back-filled. */
  imaged: {release: string; arch: string; member: string}[]
  /** (arch, component) pairs the suite does not carry, reported and skipped (Debian). */
  unavailable?: {arch: string; component: string; code: string; reason: string}[]
}

/**
 * Checks the requested architectures and components against the suites' Release files
 * before anything is downloaded: each must be listed by at least one suite (a typo is an
 * error naming what the suites list). One suite may lack what another has
 * (bookworm-security carries no s390x): syncDebian reports and skips it there. `all`
 * stands for every architecture a suite lists; a Release file without an
 * `Architectures:` (or `Components:`) field checks nothing of that kind.
 * @throws RepoError `REPO_UNKNOWN_ARCH`, `REPO_UNKNOWN_COMPONENT`, `REPO_BAD_RELEASE`
 *   (`all` asked of a suite whose Release file lists no architectures).
 */
export function checkSuiteCoverage(releases: {suite: string; release: ReleaseFile}[], arches: string[], components: string[]): void {
  const check = (asked: string[], listed: (r: ReleaseFile) => string[], code: string, flag: string): void => {
    const lists = releases.map((r) => ({suite: r.suite, names: listed(r.release)}))
    if (lists.some((l) => l.names.length === 0)) return
    const unknown = asked.filter((a) => a !== 'all' && !lists.some((l) => l.names.includes(a)))
    if (unknown.length === 0) return
    throw new RepoError(code, `${flag} ${unknown.join(',')}: no suite synced lists ${unknown.length > 1 ? 'them' : 'it'} (${lists.map((l) => `${l.suite}: ${l.names.join(' ')}`).join('; ')})`)
  }
  if (arches.includes('all')) {
    const none = releases.find((r) => releaseArches(r.release).length === 0)
    if (none) throw new RepoError('REPO_BAD_RELEASE', `${none.release.file} lists no Architectures: give --arch by name`)
  }
  check(arches, releaseArches, 'REPO_UNKNOWN_ARCH', '--arch')
  check(components, releaseComponents, 'REPO_UNKNOWN_COMPONENT', '--component')
}

/** Selects the kernel packages a sync would consider, per the options. */
export function selectKernels(pkgs: KernelPackageInfo[], o: Pick<SyncOptions, 'flavors' | 'series' | 'newest'>): KernelPackageInfo[] {
  let sel = pkgs
  if (o.flavors && o.flavors.length > 0) sel = sel.filter((p) => o.flavors!.includes(p.flavor))
  if (o.series && o.series.length > 0) sel = sel.filter((p) => o.series!.includes(p.series))
  if (o.newest) sel = newestPerSeriesAndFlavor(sel)
  return sel
}

/**
 * One suite. Its Release file is read (or given), the requested architectures and
 * components checked against it (checkSuiteCoverage) before any download; then, per
 * architecture, each component's Packages index, checked against the Release file. An
 * architecture or component this suite does not carry (not in its Release file, or no
 * index listed for it) is an `unavailable` event and entry, and the others go on.
 * @throws RepoError `REPO_NO_RELEASE`, `REPO_BAD_RELEASE`, `REPO_UNKNOWN_ARCH`,
 *   `REPO_UNKNOWN_COMPONENT`, `REPO_INDEX_CHECKSUM` (an index that differs from the
 *   Release file: the mirror is not trusted further); download errors of the indices.
 */
export async function syncDebian(root: string, o: SyncOptions): Promise<SyncResult> {
  const result: SyncResult = {added: [], skipped: [], failed: [], planned: [], imaged: [], unavailable: []}
  const components = o.components && o.components.length > 0 ? o.components : ['main']
  const release = o.release ?? (await fetchRelease(o.mirror, o.suite, o.retryDelayMs))
  if (!o.release) checkSuiteCoverage([{suite: o.suite, release}], o.arches, components)
  const listed = releaseArches(release)
  const arches = [...new Set(o.arches.flatMap((a) => (a === 'all' ? listed : [a])))]
  const unavailable = (arch: string, component: string, code: string, reason: string): void => {
    result.unavailable!.push({arch, component, code, reason})
    o.onEvent?.({type: 'unavailable', arch, component, code, reason})
  }
  const cacheDir = o.cacheDir ?? join(tmpdir(), `kcompat-sync-${process.pid}`)
  mkdirSync(cacheDir, {recursive: true})
  try {
    for (const arch of arches) {
      if (listed.length > 0 && !listed.includes(arch)) {
        unavailable(arch, components.join(','), 'REPO_UNKNOWN_ARCH', `${o.suite} does not carry ${arch} (its Release file lists ${listed.join(' ')})`)
        continue
      }
      const stanzas: PackageStanza[] = []
      const componentOf = new Map<PackageStanza, string>()
      for (const c of components) {
        try {
          for (const s of await fetchCheckedPackages(o.mirror, o.suite, release, c, arch, o.retryDelayMs)) {
            stanzas.push(s)
            componentOf.set(s, c)
          }
        } catch (e) {
          if (!(e instanceof RepoError) || (e.code !== 'REPO_NO_INDEX' && e.code !== 'REPO_INDEX_MISSING')) throw e
          unavailable(arch, c, e.code, e.message)
        }
      }
      const all = kernelPackages(stanzas)
      const sel = selectKernels(all, o).filter((p) => {
        if (!o.shard) return true
        const version = o.osVersion ?? debianVersionOf(p.release, p.stanza.version) ?? ''
        const key = `debian/${version}/${debianArchDir(p.stanza.architecture, p.release)}/${p.release}`
        return shardOf(key, o.shard.count) === o.shard.index
      })
      o.onEvent?.({type: 'index', arch, packages: all.length, selected: sel.length})
      if (!o.dryRun) {
        const b = await backfillImages(root, all, {mirror: o.mirror, suite: o.suite, cacheDir, keep: o.keep, retryDelayMs: o.retryDelayMs, onEvent: o.onEvent})
        result.imaged.push(...b.filled)
        result.failed.push(...b.failed)
      }
      if (o.backfillOnly) continue
      for (const p of sel) {
        const s = p.stanza
        // the same release string can exist for two arches: an entry of another arch is not
        // this one (Debian's mipsel and mips64el loongson-3 and octeon kernels are one
        // 64-bit kernel, both filed under mips64: the second package finds the first)
        const archDir = debianArchDir(s.architecture, p.release)
        const have = readManifest(root).kernels.find(
          (k) => k.release === p.release && k.arch === archDir && ((k.source.package === s.package && k.source.packageVersion === s.version) || generatedFrom(k, s)),
        )
        const generate = async (entry: KernelEntry): Promise<KernelEntry> => {
          const g = await generateFromMirror(root, entry, s, {
            mirror: o.mirror, stanzas, cacheDir, keep: o.keep, retryDelayMs: o.retryDelayMs, osVersion: o.osVersion,
            pahole: o.pahole, libbpf: o.libbpf, jobs: o.jobs,
            onProgress: (progress) => o.onEvent?.({type: 'generate', release: p.release, arch, progress}),
          })
          o.onEvent?.({type: 'generated', release: p.release, arch, timings: g.timings, flags: g.entry.source.generator?.flags ?? []})
          return g.entry
        }
        if (have && o.generate && have.btf === 'none') {
          result.planned.push({release: p.release, arch, package: `${s.package}-dbg`, version: s.version, size: findDebugStanza(stanzas, s.package, s.version)?.size ?? 0})
          if (o.dryRun) continue
          try {
            const e = await generate(have)
            result.added.push({release: p.release, arch, btf: e.btf})
            o.onEvent?.({type: 'added', release: p.release, arch, btf: e.btf, changed: true})
          } catch (e) {
            if (!(e instanceof KcompatError)) throw e
            result.failed.push({release: p.release, arch, code: e.code, message: e.message})
            o.onEvent?.({type: 'failed', release: p.release, arch, code: e.code, message: e.message})
          }
          continue
        }
        // an archived kernel without its modules' BTF gets it now (its package is fetched again)
        const needsModules = have && o.modules !== false && have.btf === 'in-kernel' && !have.modules && configHasModuleBtf(have)
        if (have && !needsModules) {
          const reason = `already archived (${s.package} ${s.version})`
          result.skipped.push({release: p.release, arch, reason})
          o.onEvent?.({type: 'skip', release: p.release, arch, reason})
          continue
        }
        // a split kernel (debian.ts, SplitParts) is fetched as its parts: the image, the
        // config's package and, when modules are wanted, the modules' package
        const parts = p.parts
        const fetch = parts ? [parts.binary, ...(parts.base ? [parts.base] : []), ...(parts.modules && o.modules !== false ? [parts.modules] : [])] : [s]
        result.planned.push({release: p.release, arch, package: s.package, version: s.version, size: fetch.reduce((n, x) => n + x.size, 0)})
        if (o.dryRun) continue
        const fileOf = (x: PackageStanza): string => join(cacheDir, x.filename.split('/').pop()!)
        try {
          let received = 0
          for (const x of fetch) {
            await download(`${o.mirror.replace(/\/+$/, '')}/${x.filename}`, fileOf(x), {
              sha256: x.sha256,
              size: x.size,
              retryDelayMs: o.retryDelayMs,
              onProgress: (e) => o.onEvent?.({type: 'download', release: p.release, arch, received: received + e.received, total: fetch.reduce((n, y) => n + y.size, 0)}),
            })
            received += x.size
          }
          const file = fileOf(fetch[0]!)
          const r = await addKernelDeb(root, file, {
            osVersion: o.osVersion,
            origin: {repo: {type: 'debian', suite: o.suite, component: componentOf.get(fetch[0]!) ?? componentOf.get(s) ?? 'main'}, path: fetch[0]!.filename},
            modules: o.modules,
            moduleFormat: 'tar',
            onModuleProgress: (m) => o.onEvent?.({type: 'modules', release: p.release, arch, files: m.files, withBtf: m.withBtf}),
            ...(parts
              ? {
                  split: {
                    package: {name: s.package, version: s.version},
                    ...(parts.base ? {config: fileOf(parts.base)} : {}),
                    modules: parts.modules && o.modules !== false ? [fileOf(parts.modules)] : [],
                  },
                }
              : {}),
          })
          if (o.generate && r.entry.btf === 'none') r.entry = await generate(r.entry)
          const modules = r.entry.modules?.count
          result.added.push({release: p.release, arch, btf: r.entry.btf, ...(modules === undefined ? {} : {modules})})
          o.onEvent?.({type: 'added', release: p.release, arch, btf: r.entry.btf, changed: r.changed, ...(modules === undefined ? {} : {modules})})
        } catch (e) {
          if (!(e instanceof KcompatError)) throw e
          result.failed.push({release: p.release, arch, code: e.code, message: e.message})
          o.onEvent?.({type: 'failed', release: p.release, arch, code: e.code, message: e.message})
        } finally {
          if (!o.keep) for (const x of fetch) rmSync(fileOf(x), {force: true})
        }
      }
    }
  } finally {
    if (!o.cacheDir) rmSync(cacheDir, {recursive: true, force: true})
  }
  // each kernel's modules were staged as a .modules.tar.xz (readable as such): now one segment
  if (!o.dryRun && o.repack !== false) await repackModules(root)
  return result
}

/** A sync of several suites: each entry also names the suite it came from. */
export interface SuitesSyncResult {
  suites: string[]
  added: (SyncResult['added'][number] & {suite: string})[]
  skipped: (SyncResult['skipped'][number] & {suite: string})[]
  failed: (SyncResult['failed'][number] & {suite: string})[]
  planned: (SyncResult['planned'][number] & {suite: string})[]
  imaged: (SyncResult['imaged'][number] & {suite: string})[]
  unavailable: (NonNullable<SyncResult['unavailable']>[number] & {suite: string})[]
}

/**
 * Several suites, one after another, each from its own mirror (bookworm and
 * bookworm-security live on different ones), with the same selection. A kernel that a
 * later suite carries in the same package version as an earlier one is skipped there as
 * already archived, as in any re-run. Events carry no suite: `onSuite` is called before
 * each one starts.
 */
export async function syncDebianSuites(
  root: string,
  suites: {suite: string; mirror: string}[],
  o: Omit<SyncOptions, 'suite' | 'mirror'> & {onSuite?: (suite: string) => void},
): Promise<SuitesSyncResult> {
  const all: SuitesSyncResult = {suites: suites.map((s) => s.suite), added: [], skipped: [], failed: [], planned: [], imaged: [], unavailable: []}
  // every suite's Release file first: an architecture or component none of them lists is an error before any download
  const releases: {suite: string; release: ReleaseFile}[] = []
  for (const {suite, mirror} of suites) releases.push({suite, release: await fetchRelease(mirror, suite, o.retryDelayMs)})
  checkSuiteCoverage(releases, o.arches, o.components && o.components.length > 0 ? o.components : ['main'])
  for (const [i, {suite, mirror}] of suites.entries()) {
    o.onSuite?.(suite)
    const r = await syncDebian(root, {...o, suite, mirror, release: releases[i]!.release, repack: false})
    all.added.push(...r.added.map((x) => ({...x, suite})))
    all.skipped.push(...r.skipped.map((x) => ({...x, suite})))
    all.failed.push(...r.failed.map((x) => ({...x, suite})))
    all.planned.push(...r.planned.map((x) => ({...x, suite})))
    all.imaged.push(...r.imaged.map((x) => ({...x, suite})))
    all.unavailable.push(...(r.unavailable ?? []).map((x) => ({...x, suite})))
  }
  if (!o.dryRun && o.repack !== false) await repackModules(root)
  return all
}
