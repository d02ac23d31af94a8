/**
 * BTFGen over the whole archive: minimized BTF of a set of objects for every archived
 * kernel, laid out as the archive is (`<os-id>/<version>/<arch>/<release>.btf`), ready to
 * be written to a directory or packed into one tarball an application embeds.
 */
import {readKernelBtf} from '../archive/archive.js'
import type {KernelEntry} from '../archive/manifest.js'
import {readManifest} from '../archive/manifest.js'
import {btfPath} from '../archive/layout.js'
import {parseBtf} from '../btf/decode.js'
import type {BpfObject} from '../core/object.js'
import {type MinimizeOptions, type MinimizeResult, minimizeBtf} from './btfgen.js'

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
 * Minimizes for each archived kernel in turn (one kernel's BTF in memory at a time).
 * Relocations that do not resolve on a kernel are in that kernel's `result.failures`.
 */
export async function* minimizeArchive(root: string, objects: BpfObject[], options: MinimizeOptions = {}): AsyncGenerator<KernelMinimized> {
  for (const entry of archivedKernels(root)) {
    const btf = parseBtf(await readKernelBtf(root, entry), {lazy: true})
    const path = btfPath(entry).replace(/\.tar\.xz$/, '')
    yield {entry, path, result: minimizeBtf(btf, objects, options)}
  }
}
