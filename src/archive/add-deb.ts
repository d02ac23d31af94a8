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
import {readKernelDeb} from './deb.js'
import {debianVersionOf} from './debian.js'
import {DEBIAN_ARCH_DIR, debianFlavor} from './layout.js'
import {type ImageOrigin, debImageSource} from './image.js'
import {type ModuleProgress, addKernelModules, extractDebModuleBtfs} from './modules.js'

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
  const pkg = await readKernelDeb(bytes)
  const debArch = pkg.architecture ?? ''
  const arch = DEBIAN_ARCH_DIR[debArch] ?? debArch
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
    package: pkg.package,
    packageVersion: pkg.version,
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
    btf && options.modules !== false && pkg.facts?.CONFIG_DEBUG_INFO_BTF_MODULES === 'y'
      ? await extractDebModuleBtfs(deb, {release: pkg.release, base: btf, onProgress: options.onModuleProgress})
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
