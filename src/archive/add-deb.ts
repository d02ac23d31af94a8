/**
 * Adding a Debian kernel image package to the archive: read the .deb, take the kernel
 * image and config from /boot, extract the image's .BTF (or record that the kernel has
 * none, as Debian 12's s390x, ppc64el and i386 kernels), and store it with provenance
 * and the config facts that matter to BPF.
 */
import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {basename} from 'node:path'
import {parseBtf} from '../btf/decode.js'
import {InputError} from '../errors.js'
import {type AddResult, addKernel, readKernelBtf} from './archive.js'
import {kernelKey, readManifest} from './manifest.js'
import {kernelConfigOfDeb, readKernelDeb} from './deb.js'
import {debianVersionOf} from './debian.js'
import {debianArchDir, debianFlavor} from './layout.js'
import {type ImageOrigin, debImageSource} from './image.js'
import {type ModuleExtraction, type ModuleProgress, addKernelModules, extractDebModuleBtfs} from './modules.js'

export interface AddDebOptions {
  /** Debian release (`12`); default: inferred from the kernel (`+deb12`, or its series). */
  osVersion?: string
  /** The .deb's file name to record (default: the path's base name). */
  fileName?: string
  /** Where the package came from (repository path or URL), recorded in `source.image`. */
  origin?: ImageOrigin
  /** Also store the BTF of the package's modules when the config has CONFIG_DEBUG_INFO_BTF_MODULES=y (default true; modules.ts). */
  modules?: boolean
  /** How module BTF is stored: `pack` (default, one new pack segment) or `tar` (a `.modules.tar.xz`, which a sync repacks into one segment at its end). */
  moduleFormat?: 'pack' | 'tar'
  onModuleProgress?: (p: ModuleProgress) => void
  /**
   * A kernel Debian ships in parts (debian.ts, SplitParts): `deb` is its linux-binary
   * package (the image); `config` the package holding its config (linux-base), `modules`
   * the packages holding its modules (linux-modules; default: `deb` itself), and
   * `package` the name and version to record as the kernel's package (the linux-image
   * package users install, so a re-sync recognises it). The image's own package is what
   * `source.image` records, since `archive image` fetches the image from it.
   */
  split?: {config?: string | Uint8Array; modules?: (string | Uint8Array)[]; package: {name: string; version: string}}
}

export interface AddDebResult extends AddResult {
  /** How the BTF was found, one line per layer (e.g. `bzImage: lz4 payload at byte offset 21196`). */
  steps: string[]
  /** What the module pass found, when it ran: module files, modules with BTF stored, without BTF. */
  modules?: {files: number; count: number; withoutBtf: number}
}

/**
 * Adds the kernel in a Debian `linux-image-*` package (bytes or a path) to the archive.
 * @throws InputError `INPUT_BAD_DEB`, `INPUT_NO_KERNEL_IMAGE`, `ARCHIVE_UNKNOWN_VERSION`
 *   (cannot tell the Debian release; give osVersion), `ARCHIVE_BTF_MISSING` (config says
 *   the kernel has BTF but none was found in the image), and BTF parse errors.
 */
export async function addKernelDeb(root: string, deb: string | Uint8Array, options: AddDebOptions = {}): Promise<AddDebResult> {
  const bytes = typeof deb === 'string' ? await readFile(deb) : deb
  const fileName = options.fileName ?? (typeof deb === 'string' ? basename(deb) : undefined)
  const split = options.split
  const splitConfig = split?.config
  const pkg = await readKernelDeb(
    bytes,
    splitConfig ? {config: async (release) => kernelConfigOfDeb(typeof splitConfig === 'string' ? await readFile(splitConfig) : splitConfig, release)} : {},
  )
  const debArch = pkg.architecture ?? ''
  const arch = debianArchDir(debArch, pkg.release)
  if (!arch) throw new InputError('INPUT_BAD_DEB', `${pkg.package ?? 'package'} has no Architecture field`)
  const version = options.osVersion ?? debianVersionOf(pkg.release, pkg.version)
  if (!version) {
    throw new InputError('ARCHIVE_UNKNOWN_VERSION', `cannot tell which Debian release ${pkg.release} belongs to; give --os-version`)
  }
  const btf = pkg.kernel.btf
  const configSaysBtf = pkg.facts?.CONFIG_DEBUG_INFO_BTF === 'y'
  if (!btf && configSaysBtf) {
    throw new InputError('ARCHIVE_BTF_MISSING', `${pkg.release}: config has CONFIG_DEBUG_INFO_BTF=y but no BTF was found in ${pkg.imagePath}`)
  }
  if (btf) parseBtf(btf) // refuse corrupt BTF before it is archived
  const imageSource = {
    method: 'kernel-image' as const,
    package: split?.package.name ?? pkg.package,
    packageVersion: split?.package.version ?? pkg.version,
    file: fileName,
    fileSha256: createHash('sha256').update(bytes).digest('hex'),
  }
  // A kernel without BTF whose BTF was already generated from its debug package keeps
  // that BTF: only the config (and the record of the image package) is refreshed.
  const key = kernelKey({distro: 'debian', version, arch, release: pkg.release})
  const prev = readManifest(root).kernels.find((k) => kernelKey(k) === key)
  const image = debImageSource(pkg, {name: fileName, sha256: imageSource.fileSha256, size: bytes.length}, options.origin, prev?.source.image)
  if (!btf && prev?.btf === 'generated') {
    const r = await addKernel(
      root,
      {...prev, config: pkg.facts ?? prev.config, source: {...prev.source, kernelImage: imageSource, image}},
      await readKernelBtf(root, prev),
    )
    return {...r, steps: [...pkg.kernel.steps, 'kept the BTF generated from debug info']}
  }
  // modules first: a bad module fails the add before anything is written
  const mods =
    btf && options.modules !== false && pkg.facts?.CONFIG_DEBUG_INFO_BTF_MODULES === 'y' && (split?.modules?.length ?? 1) > 0
      ? await extractModules(split?.modules ?? [deb], pkg.release, btf, options.onModuleProgress)
      : undefined
  const r = await addKernel(
    root,
    {
      release: pkg.release,
      distro: 'debian',
      version,
      arch,
      flavor: debianFlavor(pkg.release),
      btf: btf ? 'in-kernel' : 'none',
      config: pkg.facts ?? null,
      source: {...imageSource, image},
    },
    btf,
  )
  if (!mods) return {...r, steps: pkg.kernel.steps}
  const entry = await addKernelModules(root, r.entry, mods.modules, {withoutBtf: mods.withoutBtf.length, validate: false, format: options.moduleFormat})
  return {
    entry,
    changed: r.changed || JSON.stringify(entry.modules) !== JSON.stringify(r.entry.modules),
    steps: pkg.kernel.steps,
    modules: {files: mods.files, count: mods.modules.size, withoutBtf: mods.withoutBtf.length},
  }
}

/** The module BTF of one or more packages (a split kernel's modules are in linux-modules-<R>), as one extraction. */
async function extractModules(
  debs: (string | Uint8Array)[],
  release: string,
  base: Uint8Array,
  onProgress?: (p: ModuleProgress) => void,
): Promise<ModuleExtraction> {
  if (debs.length === 1) return extractDebModuleBtfs(debs[0]!, {release, base, onProgress})
  const modules = new Map<string, Uint8Array>()
  const withoutBtf: string[] = []
  let files = 0
  let packedBytes = 0
  for (const d of debs) {
    const x = await extractDebModuleBtfs(d, {release, base, onProgress: onProgress && ((m) => onProgress({...m, files: files + m.files}))})
    files += x.files
    packedBytes += x.packedBytes
    withoutBtf.push(...x.withoutBtf)
    for (const [name, b] of x.modules) {
      if (modules.has(name)) throw new InputError('MODULE_DUPLICATE', `module ${name} is in more than one of the kernel's packages`)
      modules.set(name, b)
    }
  }
  return {files, withoutBtf, packedBytes, modules: new Map([...modules].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}
}
