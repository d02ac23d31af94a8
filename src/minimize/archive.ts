/**
 * BTFGen over the whole archive: minimized BTF of a set of objects for every archived
 * kernel, laid out as the archive is (`<os-id>/<version>/<arch>/<release>.btf`), ready to
 * be written to a directory or packed into one tarball an application embeds.
 */
import type {KernelEntry} from '../archive/manifest.js'
import {readManifest} from '../archive/manifest.js'
import {runJobs} from '../parallel/pool.js'
import type {MinimizeOptions, MinimizeResult} from './btfgen.js'
import type {BtfgenTaskInit} from './parallel.js'

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
 * Minimizes for every archived kernel, yielding in manifest order. The kernels are
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
  yield* runJobs<BtfgenTaskInit, KernelEntry, KernelMinimized>(archivedKernels(root), {task: 'minimize/parallel', init, jobs})
}
