/**
 * BTFGen over the whole archive: minimized BTF of a set of objects for every archived
 * kernel, laid out as the archive is (`<os-id>/<version>/<arch>/<release>.btf`), ready to
 * be written to a directory or packed into one tarball an application embeds.
 */
import {archiveKernels, prepareRemote} from '../archive/archive.js'
import type {KernelEntry} from '../archive/manifest.js'
import {readManifest} from '../archive/manifest.js'
import {rootOf} from '../archive/remote.js'
import {runJobs} from '../parallel/pool.js'
import type {MinimizeOptions, MinimizeResult} from './btfgen.js'
import type {BtfgenJob, BtfgenTaskInit} from './parallel.js'

export interface KernelMinimized {
  entry: KernelEntry
  /** Path relative to the output root: `<os-id>/<version>/<arch>/<release>.btf`. */
  path: string
  result: MinimizeResult
}

/** The archived kernels that have BTF, in manifest order. */
export function archivedKernels(root: string): KernelEntry[] {
  return readManifest(root).kernels.filter((k) => k.path !== null && k.btf !== 'none')
}

/**
 * Minimizes for every archived kernel (with KCOMPAT_REMOTE, the published archive's
 * kernels the default archive lacks too, each read from its own root), yielding in
 * manifest order. The kernels are
 * spread over `jobs` threads (default: the available cores; see src/parallel/pool.ts),
 * each holding one kernel's BTF at a time. Relocations that do not resolve on a kernel
 * are in that kernel's `result.failures`.
 * @throws what loading the objects or reading a kernel throws (CoreError, InputError, BtfError).
 */
export async function* minimizeArchive(
  root: string,
  objectPaths: string[],
  options: Omit<MinimizeOptions, 'modules'> & {jobs?: number; noModules?: boolean} = {},
): AsyncGenerator<KernelMinimized> {
  const {jobs, noModules, ...minimize} = options
  const init: BtfgenTaskInit = {root, objects: objectPaths, options: minimize, noModules}
  await prepareRemote(root)
  // a worker thread cannot see which root a remote entry came from (remote.ts rootOf): each job names it
  const kernels = archiveKernels(root)
    .filter((k) => k.path !== null && k.btf !== 'none')
    .map((entry) => ({entry, root: rootOf(entry) ?? root}))
  yield* runJobs<BtfgenTaskInit, BtfgenJob, KernelMinimized>(kernels, {task: 'minimize/parallel', init, jobs})
}
