/**
 * Answers over two archives: the default archive and KCOMPAT_REMOTE's published one
 * (src/archive/remote.ts). Each archive keeps its own index (the published one comes with
 * its manifest, in the lazy copy); a query runs on both and the answers are merged here.
 *
 * The merge follows what `archiveKernels` does with the manifests: a kernel the default
 * archive has (same distro, version, arch and release) is answered from the default
 * archive's index only, and the remote's answer for it is dropped; the remote's other
 * kernels are added. The merged lists are put back in the answers' kernel order
 * (query.ts `compareKernels`; a stable sort, so one kernel's hits keep their order), and
 * what depends on the whole set of kernels is derived again from the merged lists:
 * the distinct prototypes, and the near names, which are given only when no kernel of
 * either archive has the name (then both archives' suggestions, without repeats).
 */
import {join} from 'node:path'
import {kernelKey} from '../archive/manifest.js'
import {type EnsureOptions, INDEX_FILE, openFreshIndex} from './build.js'
import {type FieldResult, type FuncResult, type KernelInfo, KernelIndex, type KernelRef, compareKernels} from './query.js'

/** Merges the default archive's answer `own` with the remote's `other`; `ownKeys` are the default archive's kernels (`kernelKey`). */
export type Combine<T> = (own: T, other: T, ownKeys: Set<string>) => T

/**
 * Runs `fn` on the up-to-date index of `root` and, when `remote` (a lazy copy's
 * directory) is given, on the remote's index too (`<remote>/index.sqlite`, whatever
 * --db says: --db names the default archive's index), merging with `combine`. A remote
 * without a published index, or with one for another manifest or record format, has its
 * index built there, which fetches its kernels' BTF.
 */
export async function queryArchives<T>(
  root: string,
  remote: string | undefined,
  options: EnsureOptions,
  fn: (index: KernelIndex) => T,
  combine: Combine<T>,
): Promise<T> {
  const run = async (dir: string, o: EnsureOptions, withKeys: boolean): Promise<{value: T; keys: Set<string>}> => {
    const index = await openFreshIndex(dir, o)
    try {
      // the keys serve only to merge KCOMPAT_REMOTE's answer (listKernels parses every kernel's config)
      return {value: fn(index), keys: withKeys ? new Set(index.listKernels().map(kernelKey)) : new Set<string>()}
    } finally {
      index.close()
    }
  }
  const own = await run(root, options, remote !== undefined)
  if (!remote) return own.value
  const other = await run(remote, {...options, db: join(remote, INDEX_FILE)}, false)
  return combine(own.value, other.value, own.keys)
}

function merge<K extends KernelRef>(a: K[], b: K[], ownKeys: Set<string>): K[] {
  return [...a, ...b.filter((k) => !ownKeys.has(kernelKey(k)))].sort(compareKernels)
}

function suggestions(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])]
}

export const combineKernels: Combine<KernelInfo[]> = (own, other, ownKeys) => merge(own, other, ownKeys)

export const combineFunc: Combine<FuncResult> = (own, other, ownKeys) => {
  const kernels = merge(own.kernels, other.kernels, ownKeys)
  return {
    ...own,
    kernels,
    prototypes: [...new Set(kernels.map((h) => h.prototype))],
    absent: merge(own.absent, other.absent, ownKeys),
    noBtf: merge(own.noBtf, other.noBtf, ownKeys),
    suggestions: kernels.length === 0 ? suggestions(own.suggestions, other.suggestions) : [],
  }
}

export const combineField: Combine<FieldResult> = (own, other, ownKeys) => {
  const kernels = merge(own.kernels, other.kernels, ownKeys)
  const memberMissing = merge(own.memberMissing, other.memberMissing, ownKeys)
  // near members: one entry per name, the kernels of both archives that have it
  const related = new Map(own.related.map((r) => [r.member, r.kernels]))
  for (const r of other.related) related.set(r.member, merge(related.get(r.member) ?? [], r.kernels, ownKeys))
  return {
    ...own,
    kernels,
    memberMissing,
    structMissing: merge(own.structMissing, other.structMissing, ownKeys),
    noBtf: merge(own.noBtf, other.noBtf, ownKeys),
    related: memberMissing.length === 0 ? [] : [...related].map(([member, ks]) => ({member, kernels: ks})),
    suggestions: kernels.length + memberMissing.length === 0 ? suggestions(own.suggestions, other.suggestions) : [],
  }
}
