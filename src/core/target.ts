/**
 * Where the kernel side of a relocation comes from: a BTF file (any container
 * `loadBtf` reads), or a kernel of the archive by release.
 */
import {archiveKernelsNamed, prepareRemote, readKernelBtf, resolveArchiveDir} from '../archive/archive.js'
import type {KernelEntry} from '../archive/manifest.js'
import type {Btf} from '../btf/btf.js'
import {parseBtf} from '../btf/decode.js'
import {loadBtf} from '../btf/load.js'
import {ModuleSet} from '../btf/module-set.js'
import {InputError} from '../errors.js'
import type {CoreTarget} from './candidates.js'
import type {BpfObject} from './object.js'
import {needsModuleCandidates} from './relocate.js'
import {archiveModuleBytes} from '../archive/module-btf.js'

export interface KernelBtf {
  /** What to call it in messages and output: the file, or the release. */
  name: string
  btf: Btf
  entry?: KernelEntry
  /**
   * The kernel's module BTF, when libbpf would search it: the BTF is the kernel's own
   * (not a btf_custom_path) and module BTF is known for it.
   */
  modules?: ModuleSet
}

/** The kernel side of a relocation: vmlinux, and the modules when there are any. */
export function coreTarget(k: KernelBtf): CoreTarget {
  return k.modules && k.modules.size > 0 ? {vmlinux: k.btf, modules: [...k.modules.modules]} : {vmlinux: k.btf}
}

/**
 * Kernel BTF from a file: raw BTF, an ELF vmlinux, a BTFHub .btf.tar.xz, xz/gzip. With
 * `modules` (module name → file of its split BTF, any format loadBtf reads), the file
 * is the kernel's own vmlinux BTF and the modules are searched as libbpf searches
 * loaded modules; without, it stands for a btf_custom_path.
 */
export async function kernelBtfFromFile(path: string, modules?: ReadonlyMap<string, string>): Promise<KernelBtf> {
  const btf = (await loadBtf(path)).parsed
  if (!modules || modules.size === 0) return {name: path, btf}
  const list = []
  for (const [name, file] of modules) list.push({name, btf: (await loadBtf(file, {base: btf, lazy: true, name: file})).parsed})
  return {name: path, btf, modules: ModuleSet.of(btf, list)}
}

/**
 * Kernel BTF of an archived kernel, by `uname -r` release (and arch when the archive
 * has that release for several architectures).
 * @throws InputError `ARCHIVE_UNKNOWN_KERNEL` (no such release), `ARCHIVE_AMBIGUOUS_KERNEL`
 *   (several arches, none chosen), `ARCHIVE_NO_BTF` and the archive's read errors.
 */
export async function kernelBtfFromArchive(
  release: string,
  options: {arch?: string; archive?: string; noModules?: boolean; /** read module BTF only if one of their relocations needs it */ objects?: readonly BpfObject[]} = {},
): Promise<KernelBtf> {
  const root = resolveArchiveDir(options.archive)
  await prepareRemote(root, release)
  const all = archiveKernelsNamed(root, release).filter((k) => k.release === release)
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
  // read on demand (btf/paged.ts): only the lazy parse reads these bytes
  const bytes = await readKernelBtf(root, entry, {paged: true})
  const btf = parseBtf(bytes, {lazy: true})
  const name = `${entry.release} (${entry.distro} ${entry.version} ${entry.arch})`
  // The kernel's own BTF: libbpf on that machine also searches its modules' BTF.
  const wanted = !options.noModules && entry.btf === 'in-kernel' && (!options.objects || needsModuleCandidates(btf, options.objects))
  const raw = wanted ? await archiveModuleBytes(root, entry) : undefined
  return {name, btf, entry, ...(raw ? {modules: ModuleSet.parse(btf, raw.bytes)} : {})}
}

