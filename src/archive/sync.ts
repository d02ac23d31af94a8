/**
 * `archive sync debian`: reads a mirror's Packages index for a suite and adds every
 * matching kernel image package to the archive. Each package is downloaded (streamed to
 * a cache directory, checksummed against the index, resumable, retried), added, and
 * deleted unless kept. Kernels whose package and version are already in the manifest
 * are skipped, so a re-run adds nothing twice.
 */
import {mkdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {KcompatError} from '../errors.js'
import {addKernelDeb} from './add-deb.js'
import {type KernelPackageInfo, fetchPackagesIndex, kernelPackages, newestPerSeriesAndFlavor} from './debian.js'
import {download} from './download.js'
import {readManifest} from './manifest.js'

export interface SyncOptions {
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
}

export type SyncEvent =
  | {type: 'index'; arch: string; packages: number; selected: number}
  | {type: 'skip'; release: string; arch: string; reason: string}
  | {type: 'download'; release: string; arch: string; received: number; total: number | undefined}
  | {type: 'added'; release: string; arch: string; btf: string; changed: boolean}
  | {type: 'failed'; release: string; arch: string; code: string; message: string}

export interface SyncResult {
  added: {release: string; arch: string; btf: string}[]
  skipped: {release: string; arch: string; reason: string}[]
  failed: {release: string; arch: string; code: string; message: string}[]
  planned: {release: string; arch: string; package: string; version: string; size: number}[]
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
  const result: SyncResult = {added: [], skipped: [], failed: [], planned: []}
  const cacheDir = o.cacheDir ?? join(tmpdir(), `kcompat-sync-${process.pid}`)
  mkdirSync(cacheDir, {recursive: true})
  try {
    for (const arch of o.arches) {
      const all = kernelPackages(await fetchPackagesIndex(o.mirror, o.suite, arch, 'main', o.retryDelayMs))
      const sel = selectKernels(all, o)
      o.onEvent?.({type: 'index', arch, packages: all.length, selected: sel.length})
      for (const p of sel) {
        const s = p.stanza
        const have = readManifest(root).kernels.find(
          (k) => k.release === p.release && k.source.package === s.package && k.source.packageVersion === s.version,
        )
        if (have) {
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
          const r = await addKernelDeb(root, file, {osVersion: o.osVersion})
          result.added.push({release: p.release, arch, btf: r.entry.btf})
          o.onEvent?.({type: 'added', release: p.release, arch, btf: r.entry.btf, changed: r.changed})
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
  return result
}
