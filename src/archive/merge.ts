/**
 * `archive merge`: combines archive directories (the shards of a sharded sync, shard.ts,
 * or any archives) into one: every manifest entry with its BTF tarball and module
 * tarball.
 *
 * Algorithm: (1) read every input manifest, and the output's when it exists (a merge
 * extends an archive); (2) group the entries by kernel key (`<distro>/<version>/<arch>/
 * <release>`); entries of one key agree when their BTF sha256 (and, when both have
 * module BTF, their module list sha256) are equal — then the first one wins (the
 * output's own, else the first input's in command-line order), except that one with
 * module BTF is preferred to one archived without (`--no-modules`); a key whose entries
 * disagree is a conflict; (3) any conflict stops the merge before anything is written,
 * with all conflicts listed; (4) each file to copy is checked against the manifest
 * (archive.ts readKernelBtf, modules.ts listKernelModules) before it is copied, each
 * copy goes to a temporary name and is renamed into place; module BTF an input holds in
 * its BTF pack is re-packed (read, checked, and written as one new segment of the
 * output's pack: a segment only means something after the segments before it); (5) the
 * output manifest is
 * written last, in one rename, so a merge that fails half way leaves the output's
 * manifest as it was (copied tarballs that no manifest lists are removed).
 *
 * The SQLite index is not touched here (the library does not open it): the command then
 * brings the output's index up to date through src/store's buildIndex.
 */
import {copyFileSync, existsSync, renameSync, rmSync, statSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {join, resolve} from 'node:path'
import {InputError, KcompatError} from '../errors.js'
import {readKernelBtf} from './archive.js'
import {mkdirSync} from 'node:fs'
import {dirname} from 'node:path'
import {type KernelEntry, kernelKey, readManifest, writeManifest} from './manifest.js'
import {listKernelModules, packOrder, readModuleBtfs} from './modules.js'
import {writePackSegment} from './pack/pack.js'

export class MergeError extends KcompatError {
  constructor(code: string, message: string, readonly conflicts: MergeConflict[] = []) {
    super(code, message)
  }
}

export interface MergeConflict {
  key: string
  /** One line per disagreeing entry: the directory and what it holds. */
  entries: {dir: string; sha256: string | null; modulesSha256: string | null; package?: string; packageVersion?: string}[]
}

export interface MergeResult {
  out: string
  /** Keys added to the output, by input directory. */
  added: {key: string; from: string}[]
  /** Keys already present with the same BTF (nothing copied). */
  same: string[]
  /** Kernels in the output manifest after the merge. */
  kernels: number
}

export type MergeProgress = {phase: 'read'; dir: string; kernels: number} | {phase: 'copy'; key: string; index: number; total: number}

const agree = (a: KernelEntry, b: KernelEntry): boolean =>
  a.btf === b.btf && a.sha256 === b.sha256 && (!a.modules || !b.modules || a.modules.sha256 === b.modules.sha256)

function copyAtomic(from: string, to: string, copied: string[]): void {
  mkdirSync(dirname(to), {recursive: true})
  const tmp = `${to}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  copyFileSync(from, tmp)
  renameSync(tmp, to)
  copied.push(to)
}

/**
 * Merges the archives in `dirs` into `out` (created when missing; may be one of the
 * inputs' parent but not one of them).
 * @throws MergeError `MERGE_CONFLICT` (same kernel, different BTF or module BTF; nothing
 *   written), `MERGE_NO_INPUT` (an input is not an archive directory), `MERGE_SAME_DIR`;
 *   and ARCHIVE_* codes of a tarball that does not match its manifest.
 */
export async function mergeArchives(out: string, dirs: string[], onProgress?: (p: MergeProgress) => void): Promise<MergeResult> {
  const outDir = resolve(out)
  const inputs = dirs.map((d) => resolve(d))
  if (inputs.length === 0) throw new MergeError('MERGE_NO_INPUT', 'give at least one archive directory to merge')
  for (const d of inputs) {
    if (d === outDir) throw new MergeError('MERGE_SAME_DIR', `${d} is both an input and the output; merge into another directory`)
    if (!existsSync(d) || !statSync(d).isDirectory() || !existsSync(join(d, 'manifest.json'))) {
      throw new MergeError('MERGE_NO_INPUT', `${d} is not an archive directory (no manifest.json)`)
    }
  }
  const base = readManifest(outDir)
  const chosen = new Map<string, {entry: KernelEntry; dir: string}>()
  const all = new Map<string, {entry: KernelEntry; dir: string}[]>()
  for (const e of base.kernels) {
    chosen.set(kernelKey(e), {entry: e, dir: outDir})
    all.set(kernelKey(e), [{entry: e, dir: outDir}])
  }
  for (const d of inputs) {
    const m = readManifest(d)
    onProgress?.({phase: 'read', dir: d, kernels: m.kernels.length})
    for (const e of m.kernels) {
      const key = kernelKey(e)
      all.set(key, [...(all.get(key) ?? []), {entry: e, dir: d}])
      const cur = chosen.get(key)
      // the first wins, except that an entry with module BTF replaces an agreeing one without
      if (!cur || (!cur.entry.modules && e.modules && agree(cur.entry, e))) chosen.set(key, {entry: e, dir: d})
    }
  }
  const conflicts: MergeConflict[] = []
  for (const [key, list] of all) {
    const first = list[0]!.entry
    if (list.every((x) => agree(first, x.entry))) continue
    conflicts.push({
      key,
      entries: list.map((x) => ({
        dir: x.dir,
        sha256: x.entry.sha256,
        modulesSha256: x.entry.modules?.sha256 ?? null,
        package: x.entry.source.package,
        packageVersion: x.entry.source.packageVersion,
      })),
    })
  }
  if (conflicts.length > 0) {
    const lines = conflicts.map((c) => `  ${c.key}: ${c.entries.map((x) => `${x.dir} has BTF ${x.sha256 ?? 'none'}${x.modulesSha256 ? ` modules ${x.modulesSha256.slice(0, 12)}` : ''}${x.package ? ` (${x.package} ${x.packageVersion ?? ''})` : ''}`).join('; ')}`)
    throw new MergeError(
      'MERGE_CONFLICT',
      `${conflicts.length} kernel${conflicts.length === 1 ? '' : 's'} differ between the archives; nothing was written:\n${lines.join('\n')}`,
      conflicts,
    )
  }
  const result: MergeResult = {out: outDir, added: [], same: [], kernels: 0}
  const toCopy = [...chosen.entries()].filter(([, c]) => c.dir !== outDir)
  for (const [key, list] of all) if (list.length > 1 && chosen.get(key)!.dir === outDir) result.same.push(key)
  const copied: string[] = []
  let packOnly = base.pack?.tarballs === false
  try {
    let i = 0
    for (const [key, c] of toCopy) {
      onProgress?.({phase: 'copy', key, index: ++i, total: toCopy.length})
      const e = c.entry
      if (e.path) {
        await readKernelBtf(c.dir, e, {cache: false}) // checked against the manifest before it is copied
        // a kernel a pack-only input keeps in its pack alone has no tarball: re-packed below
        if (existsSync(join(c.dir, e.path))) copyAtomic(join(c.dir, e.path), join(outDir, e.path), copied)
        else packOnly = true
      }
      if (e.modules?.path && e.modules.unit === undefined) {
        await listKernelModules(c.dir, e)
        copyAtomic(join(c.dir, e.modules.path), join(outDir, e.modules.path), copied)
      }
      result.added.push({key, from: c.dir})
      if (all.get(key)!.length > 1) result.same.push(key)
    }
    // Module BTF in an input's pack is re-packed: its groups refer to that input's earlier
    // segments, so the copied kernels go into ONE new segment of the output's pack.
    let pack = base.pack
    // (in repack order, so shards merged give the segment an unsharded sync writes)
    // Kernels with a group in an input's pack (its modules, or its vmlinux alone) all go in.
    const inPack = (e: KernelEntry): boolean => e.modules?.unit !== undefined || e.vmlinux !== undefined
    const packed = toCopy.filter(([, c]) => inPack(c.entry)).sort(([, x], [, y]) => packOrder(x.entry, y.entry))
    if (packed.length > 0) {
      const segments = base.pack?.segments ?? []
      const w = await writePackSegment(
        outDir,
        segments,
        packed.map(([, c]) => ({
          entry: c.entry,
          vmlinux: () => readKernelBtf(c.dir, c.entry, {cache: false}),
          modules: async () => (c.entry.modules?.unit !== undefined ? readModuleBtfs(c.dir, c.entry) : new Map()),
        })),
      )
      copied.push(resolve(outDir, w.segment.path))
      for (const [key, c] of packed) {
        const group = {path: w.segment.path, unit: w.groups.get(key)!.unit}
        const modules = c.entry.modules?.unit !== undefined ? {modules: {...c.entry.modules, ...group}} : {}
        chosen.set(key, {dir: c.dir, entry: {...c.entry, ...modules, vmlinux: group}})
      }
      pack = {segments: [...segments, w.segment]}
    }
    if (packOnly) pack = {segments: pack?.segments ?? [], tarballs: false}
    const kernels = [...chosen.values()].map((c) => c.entry)
    writeManifest(outDir, {version: base.version, pack, kernels})
    result.kernels = kernels.length
  } catch (e) {
    // nothing lists the copied files: take them away again (an existing output kept its manifest)
    for (const f of copied) {
      const listed = base.kernels.some((k) => (k.path && resolve(outDir, k.path) === f) || (k.modules?.path && resolve(outDir, k.modules.path) === f))
      if (!listed) rmSync(f, {force: true})
    }
    if (e instanceof KcompatError) throw e
    throw new InputError('MERGE_WRITE', `merging into ${outDir} failed: ${(e as Error).message}`, {cause: e})
  }
  return result
}
