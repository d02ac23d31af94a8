/**
 * `kcompat btf dump --kernel RELEASE [--arch A] [--module NAME]`: the BTF of an archived
 * kernel (its vmlinux, or one of its modules as split BTF on that vmlinux), dumped as
 * `bpftool btf dump file vmlinux.btf` or `bpftool -B vmlinux.btf btf dump file
 * module.btf` does. Kept apart from btf-dump.ts so the start-up fast path (plain `btf
 * dump FILE`) does not load the archive code.
 */
import {archiveKernels, prepareRemote, readKernelBtf, resolveArchiveDir} from '../archive/archive.js'
import {normalizeArch} from '../archive/layout.js'
import type {KernelEntry} from '../archive/manifest.js'
import {nearNames, readModuleBtf} from '../archive/modules.js'
import {parseBtf} from '../btf/decode.js'
import {InputError} from '../errors.js'
import {type BtfDumpOptions, type DumpWriter, btfDumpBytes} from './btf-dump.js'

export interface ArchivedBtf {
  /** `uname -r` of an archived kernel. */
  kernel: string
  /** Its architecture, when the archive has that release for several. */
  arch?: string
  /** A module of that kernel (the name /sys/kernel/btf/ and lsmod use). */
  module?: string
  /** Archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive). */
  archive?: string
}

/**
 * The archived kernel `release` (on `arch`).
 * @throws InputError `ARCHIVE_UNKNOWN_KERNEL` (with near releases), `ARCHIVE_AMBIGUOUS_KERNEL`.
 */
export function findArchivedKernel(root: string, release: string, arch?: string): KernelEntry {
  const kernels = archiveKernels(root, release)
  const all = kernels.filter((k) => k.release === release)
  const found = arch ? all.filter((k) => k.arch === normalizeArch(arch)) : all
  if (found.length === 0) {
    const near = nearNames(release, [...new Set(kernels.map((k) => k.release))])
    throw new InputError(
      'ARCHIVE_UNKNOWN_KERNEL',
      `${release}${arch ? ` (${arch})` : ''} is not in the archive at ${root}${near.length ? `; did you mean ${near.join(', ')}?` : ' (see `kcompat archive list`)'}`,
    )
  }
  if (found.length > 1) {
    throw new InputError('ARCHIVE_AMBIGUOUS_KERNEL', `${release} is in the archive for ${found.map((k) => k.arch).join(', ')}: choose one with --arch`)
  }
  return found[0]!
}

/**
 * Writes the dump of an archived kernel's vmlinux BTF, or of one of its modules with the
 * vmlinux as base, to `write`.
 * @throws InputError `ARCHIVE_UNKNOWN_KERNEL`, `ARCHIVE_AMBIGUOUS_KERNEL`, `ARCHIVE_NO_BTF`,
 *   `MODULE_NOT_FOUND` (with near names), and the archive's read errors.
 */
export async function btfDumpArchived(t: ArchivedBtf, options: Omit<BtfDumpOptions, 'baseBtf'>, write: DumpWriter): Promise<void> {
  const root = resolveArchiveDir(t.archive)
  await prepareRemote(root, t.kernel)
  const entry = findArchivedKernel(root, t.kernel, t.arch)
  const vmlinux = await readKernelBtf(root, entry)
  if (t.module === undefined) {
    await btfDumpBytes(vmlinux, undefined, options, write)
    return
  }
  const module = await readModuleBtf(root, entry, t.module)
  await btfDumpBytes(module, parseBtf(vmlinux, {lazy: true}), options, write)
}
