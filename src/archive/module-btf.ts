/**
 * The archived module BTF of a kernel as the answers use it (index, check, relocate,
 * btfgen): every module's raw split BTF by module name, read and checksummed by the
 * archive's module storage (modules.ts), and what identifies that set of modules.
 */
import type {KernelEntry} from './manifest.js'

/**
 * The archived module BTF of a kernel (raw split BTF by module name, and where it is
 * kept), or undefined when the archive holds none for it.
 */
export async function archiveModuleBytes(root: string, entry: KernelEntry): Promise<{bytes: Map<string, Uint8Array>; origin: string} | undefined> {
  void root
  void entry
  return undefined // MERGE: wired to src/archive/modules.ts
}

/**
 * What identifies a kernel's archived module BTF (the manifest's pin of its module
 * list), or null when it has none: the index re-reads a kernel when this changes.
 */
export function moduleIdentity(entry: KernelEntry): string | null {
  void entry
  return null // MERGE: wired to src/archive/modules.ts
}
