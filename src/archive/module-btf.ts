/**
 * The archived module BTF of a kernel as the answers use it (index, check, relocate,
 * btfgen): every module's raw split BTF by module name, read and checksummed by the
 * archive's module storage (modules.ts), and what identifies that set of modules.
 */
import {type KernelEntry, readManifest} from './manifest.js'
import {findGroup, loadPack} from './pack/pack.js'
import type {PackTables} from './pack/tables.js'
import type {PackedUnit} from './pack/unit.js'
import {rootOf} from './remote.js'
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

/**
 * The pack units of a kernel's module BTF (name and unit, sorted by name) with the
 * decoded pack tables they index, or undefined when its modules are not in the pack (a
 * legacy tarball, or none). The segments are checked against the manifest on decode;
 * the units are not rebuilt to bytes (see src/store/extract-pack.ts).
 * @throws InputError `ARCHIVE_MISSING_FILE`, `ARCHIVE_CHECKSUM`, `ARCHIVE_BAD_PACK`.
 */
export async function archiveModuleUnits(root: string, entry: KernelEntry): Promise<{tables: PackTables; units: [string, PackedUnit][]} | undefined> {
  const m = entry.modules
  if (!kernelHasModules(entry) || m!.unit === undefined) return undefined
  root = rootOf(entry) ?? root
  const pack = await loadPack(root, readManifest(root).pack?.segments ?? [])
  const g = findGroup(pack, entry, m!.path!, m!.unit)
  return {tables: pack.tables, units: [...g.modules].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))}
}
