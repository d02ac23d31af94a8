/**
 * The archived module BTF of a kernel as the answers use it (index, check, relocate,
 * btfgen): every module's raw split BTF by module name, read and checksummed by the
 * archive's module storage (modules.ts), and what identifies that set of modules.
 */
import type {KernelEntry} from './manifest.js'
import {kernelHasModules, readModuleBtfs} from './modules.js'

/**
 * The archived module BTF of a kernel (raw split BTF by module name, and the tarball it
 * comes from), or undefined when the archive holds none for it.
 * @throws InputError `ARCHIVE_MISSING_FILE`, `ARCHIVE_CHECKSUM`, `ARCHIVE_BAD_TARBALL`.
 */
export async function archiveModuleBytes(root: string, entry: KernelEntry): Promise<{bytes: Map<string, Uint8Array>; origin: string} | undefined> {
  if (!kernelHasModules(entry)) return undefined
  const bytes = await readModuleBtfs(root, entry)
  return bytes.size > 0 ? {bytes, origin: entry.modules!.path!} : undefined
}

/**
 * What identifies a kernel's archived module BTF (the sha256 of its module list, which
 * the manifest pins), or null when it has none: the index re-reads a kernel when this
 * changes.
 */
export function moduleIdentity(entry: KernelEntry): string | null {
  return kernelHasModules(entry) ? (entry.modules!.sha256 ?? null) : null
}
