/**
 * `archive sync debian`: reads a mirror's Packages index for a suite and adds every
 * matching kernel image package to the archive. Each package is downloaded (streamed to
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
import {type KernelPackageInfo, debianVersionOf, fetchPackagesIndex, kernelPackages, newestPerSeriesAndFlavor} from './debian.js'
import {download} from './download.js'
import {type BackfillEvent, backfillImages} from './image.js'
import {type KernelEntry, readManifest} from './manifest.js'
import {configHasModuleBtf, repackModules} from './modules.js'
import {DEBIAN_ARCH_DIR} from './layout.js'
import {type Shard, shardOf} from './shard.js'

export interface SyncOptions {
  /** Move the module BTF this sync stored (as `.modules.tar.xz`) into the BTF pack as ONE new segment at the end (default true). */
  repack?: boolean
  mirror: string
  suite: string
  /** Debian architectures (amd64, arm64, …). */
  arches: string[]
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
}

/** Selects the kernel packages a sync would consider, per the options. */
export function selectKernels(pkgs: KernelPackageInfo[], o: Pick<SyncOptions, 'flavors' | 'series' | 'newest'>): KernelPackageInfo[] {
  let sel = pkgs
  if (o.flavors && o.flavors.length > 0) sel = sel.filter((p) => o.flavors!.includes(p.flavor))
  if (o.series && o.series.length > 0) sel = sel.filter((p) => o.series!.includes(p.series))
  if (o.newest) sel = newestPerSeriesAndFlavor(sel)
  return sel
}

export async function syncDebian(root: string, o: SyncOptions): Promise<SyncResult> {
  const result: SyncResult = {added: [], skipped: [], failed: [], planned: [], imaged: []}
  const cacheDir = o.cacheDir ?? join(tmpdir(), `kcompat-sync-${process.pid}`)
  mkdirSync(cacheDir, {recursive: true})
  try {
    for (const arch of o.arches) {
      const stanzas = await fetchPackagesIndex(o.mirror, o.suite, arch, 'main', o.retryDelayMs)
      const all = kernelPackages(stanzas)
      const sel = selectKernels(all, o).filter((p) => {
        if (!o.shard) return true
        const version = o.osVersion ?? debianVersionOf(p.release, p.stanza.version) ?? ''
        const key = `debian/${version}/${DEBIAN_ARCH_DIR[p.stanza.architecture] ?? p.stanza.architecture}/${p.release}`
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
        const have = readManifest(root).kernels.find(
          (k) => k.release === p.release && ((k.source.package === s.package && k.source.packageVersion === s.version) || generatedFrom(k, s)),
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
        result.planned.push({release: p.release, arch, package: s.package, version: s.version, size: s.size})
        if (o.dryRun) continue
        const file = join(cacheDir, s.filename.split('/').pop()!)
        try {
          await download(`${o.mirror.replace(/\/+$/, '')}/${s.filename}`, file, {
            sha256: s.sha256,
            size: s.size,
            retryDelayMs: o.retryDelayMs,
            onProgress: (e) => o.onEvent?.({type: 'download', release: p.release, arch, received: e.received, total: e.total}),
          })
          const r = await addKernelDeb(root, file, {
            osVersion: o.osVersion,
            origin: {repo: {type: 'debian', suite: o.suite, component: 'main'}, path: s.filename},
            modules: o.modules,
            moduleFormat: 'tar',
            onModuleProgress: (m) => o.onEvent?.({type: 'modules', release: p.release, arch, files: m.files, withBtf: m.withBtf}),
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
          if (!o.keep) rmSync(file, {force: true})
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
  const all: SuitesSyncResult = {suites: suites.map((s) => s.suite), added: [], skipped: [], failed: [], planned: [], imaged: []}
  for (const {suite, mirror} of suites) {
    o.onSuite?.(suite)
    const r = await syncDebian(root, {...o, suite, mirror, repack: false})
    all.added.push(...r.added.map((x) => ({...x, suite})))
    all.skipped.push(...r.skipped.map((x) => ({...x, suite})))
    all.failed.push(...r.failed.map((x) => ({...x, suite})))
    all.planned.push(...r.planned.map((x) => ({...x, suite})))
    all.imaged.push(...r.imaged.map((x) => ({...x, suite})))
  }
  if (!o.dryRun && o.repack !== false) await repackModules(root)
  return all
}
