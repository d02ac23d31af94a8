/**
 * `kcompat btf export --kernel RELEASE [--module NAME] --out FILE`: an archived kernel's
 * BTF as a raw BTF file, the bytes the kernel itself would expose as
 * /sys/kernel/btf/vmlinux (or /sys/kernel/btf/NAME, split BTF on that vmlinux). It is what
 * a program gives libbpf as `bpf_object_open_opts.btf_custom_path` on a kernel that ships
 * no BTF of its own, and what tools that take a BTF file (`bpftool btf dump file`, `bpftool
 * gen min_core_btf`, pahole's `--btf_base`) read. Kernels in a pack-only archive have no
 * tarball to hand out; this rebuilds their BTF from the pack, checked against the
 * manifest's sha256 as every read of the archive is.
 */
import {createHash} from 'node:crypto'
import {prepareRemote, readKernelBtf, resolveArchiveDir} from '../archive/archive.js'
import {type KernelEntry, writeFileAtomic} from '../archive/manifest.js'
import {readModuleBtf} from '../archive/modules.js'
import {type ArchivedBtf, findArchivedKernel} from './btf-dump-archived.js'

export interface ExportedBtf {
  /** The archived kernel the BTF belongs to. */
  entry: KernelEntry
  /** Raw BTF: the kernel's vmlinux BTF, or the module's split BTF. */
  bytes: Uint8Array
  /** sha256 of `bytes` (for vmlinux BTF, the manifest's `sha256` of the kernel). */
  sha256: string
}

/**
 * Reads the raw BTF of an archived kernel, or of one of its modules.
 * @throws InputError `ARCHIVE_UNKNOWN_KERNEL`, `ARCHIVE_AMBIGUOUS_KERNEL`, `ARCHIVE_NO_BTF`,
 *   `MODULE_NOT_FOUND` (with near names), and the archive's read errors.
 */
export async function exportArchivedBtf(t: ArchivedBtf): Promise<ExportedBtf> {
  const root = resolveArchiveDir(t.archive)
  await prepareRemote(root, t.kernel)
  const entry = findArchivedKernel(root, t.kernel, t.arch)
  const bytes = t.module === undefined ? await readKernelBtf(root, entry) : await readModuleBtf(root, entry, t.module)
  return {entry, bytes, sha256: createHash('sha256').update(bytes).digest('hex')}
}

/**
 * {@link exportArchivedBtf}, written to `out` atomically (a temporary sibling renamed into
 * place: an interrupted export leaves no partial file).
 */
export async function exportArchivedBtfTo(t: ArchivedBtf, out: string): Promise<ExportedBtf> {
  const r = await exportArchivedBtf(t)
  writeFileAtomic(out, r.bytes)
  return r
}
