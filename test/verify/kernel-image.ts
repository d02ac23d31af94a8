/**
 * The bootable image of an archived kernel, for the verify tests: the image the archive's
 * manifest records (`source.image`), fetched once into the image cache by
 * `fetchKernelImage` from the mirror apt's sources name, and checked there against the
 * recorded sha256 (src/archive/image.ts).
 */
import {join} from 'node:path'
import {fetchKernelImage, findArchivedKernel} from '../../src/archive/image.js'

export const ARCHIVE = join(import.meta.dirname, '..', '..', 'archive')

/** The path of the kernel image, or a reason why it cannot be had here. */
export async function archivedKernelImagePath(release: string): Promise<{path: string} | {skip: string}> {
  try {
    const entry = findArchivedKernel(ARCHIVE, release, 'x86_64')
    return {path: (await fetchKernelImage(ARCHIVE, entry)).path}
  } catch (e) {
    const code = (e as {code?: string}).code
    return {skip: `cannot fetch the image of ${release}${code ? ` [${code}]` : ''}: ${(e as Error).message}`}
  }
}
