/**
 * Where the kernel side of a relocation comes from: a BTF file (any container
 * `loadBtf` reads), or a kernel of the archive by release.
 */
import {readKernelBtf, resolveArchiveDir} from '../archive/archive.js'
import type {KernelEntry} from '../archive/manifest.js'
import {readManifest} from '../archive/manifest.js'
import type {Btf} from '../btf/btf.js'
import {parseBtf} from '../btf/decode.js'
import {loadBtf} from '../btf/load.js'
import {InputError} from '../errors.js'

export interface KernelBtf {
  /** What to call it in messages and output: the file, or the release. */
  name: string
  btf: Btf
  entry?: KernelEntry
}

/** Kernel BTF from a file: raw BTF, an ELF vmlinux, a BTFHub .btf.tar.xz, xz/gzip. */
export async function kernelBtfFromFile(path: string): Promise<KernelBtf> {
  return {name: path, btf: (await loadBtf(path)).parsed}
}

/**
 * Kernel BTF of an archived kernel, by `uname -r` release (and arch when the archive
 * has that release for several architectures).
 * @throws InputError `ARCHIVE_UNKNOWN_KERNEL` (no such release), `ARCHIVE_AMBIGUOUS_KERNEL`
 *   (several arches, none chosen), `ARCHIVE_NO_BTF` and the archive's read errors.
 */
export async function kernelBtfFromArchive(release: string, options: {arch?: string; archive?: string} = {}): Promise<KernelBtf> {
  const root = resolveArchiveDir(options.archive)
  const all = readManifest(root).kernels.filter((k) => k.release === release)
  const found = options.arch ? all.filter((k) => k.arch === options.arch) : all
  if (found.length === 0) {
    throw new InputError(
      'ARCHIVE_UNKNOWN_KERNEL',
      `${release}${options.arch ? ` (${options.arch})` : ''} is not in the archive at ${root} (see \`kcompat archive list\`)`,
    )
  }
  if (found.length > 1) {
    throw new InputError('ARCHIVE_AMBIGUOUS_KERNEL', `${release} is in the archive for ${found.map((k) => k.arch).join(', ')}: choose one with --arch`)
  }
  const entry = found[0]!
  const bytes = await readKernelBtf(root, entry)
  return {name: `${entry.release} (${entry.distro} ${entry.version} ${entry.arch})`, btf: parseBtf(bytes, {lazy: true}), entry}
}
