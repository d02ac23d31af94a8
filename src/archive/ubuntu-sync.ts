/**
 * `archive sync ubuntu`: reads an Ubuntu repository's InRelease and Packages indices
 * (apt-repo.ts; every index checked against the Release file's sha256, every package
 * against the index's), picks the kernels (ubuntu.ts) and archives each one:
 *
 * 1. download the image package and, when listed, linux-modules and linux-modules-extra
 *    (download.ts: streamed, checksummed, resumable, retried);
 * 2. BTF from the image's /boot/vmlinuz (kernel-image.ts, as for Debian); the config
 *    from /boot/config-<R>, in linux-modules (19.04+) or in the image package (older);
 * 3. module BTF from both modules packages (modules.ts), validated as split BTF on the
 *    kernel's BTF; a module name in both packages is refused (MODULE_DUPLICATE);
 * 4. the kernel and then its modules are written (archive.ts: tarball renamed into
 *    place, then the manifest); a failure before step 4 writes nothing;
 * 5. with --generate, a kernel without BTF gets it from its dbgsym .ddeb in the ddebs
 *    repository (debug-deb.ts + pahole), as Debian's -dbg path does.
 *
 * With a shard (shard.ts) only the kernels whose key hashes to it are considered.
 */
import {createHash} from 'node:crypto'
import {mkdirSync, rmSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseBtf} from '../btf/decode.js'
import {InputError, KcompatError} from '../errors.js'
import {bpfConfigFacts, parseKernelConfig} from '../kernel/config.js'
import {addKernel} from './archive.js'
import {type ReleaseFile, fetchCheckedPackages, fetchRelease, releaseArches} from './apt-repo.js'
import {kernelConfigOfDeb, readKernelDeb} from './deb.js'
import {addDebugDebUrl} from './debug-deb.js'
import type {PackageStanza} from './debian.js'
import {download} from './download.js'
import {debImageSource} from './image.js'
import {debianArchDir} from './layout.js'
import {type KernelEntry, kernelKey, readManifest} from './manifest.js'
import {addKernelModules, configHasModuleBtf, extractDebModuleBtfs, repackModules} from './modules.js'
import {type Shard, shardOf} from './shard.js'
import {type SyncEvent, type SyncResult, checkSuiteCoverage} from './sync.js'
import {type UbuntuKernel, findDbgsymStanza, selectUbuntuKernels, ubuntuKernels, ubuntuVersionOfSuite} from './ubuntu.js'

export interface UbuntuSyncOptions {
  /** Move the module BTF this sync stored (as `.modules.tar.xz`) into the BTF pack as ONE new segment at the end (default true). */
  repack?: boolean
  /** Repository root (the archive, or ports for arm64/ppc64el/s390x/riscv64). */
  mirror: string
  suite: string
  /** Ubuntu (= Debian) architectures: amd64, arm64, ppc64el, s390x, riscv64, i386. */
  arches: string[]
  /** Components whose Packages indices are read (default main). */
  components?: string[]
  flavors?: string[]
  series?: string[]
  newest?: boolean
  /** Ubuntu version to file kernels under (default: from the suite, jammy → 22.04). */
  osVersion?: string
  shard?: Shard
  cacheDir?: string
  keep?: boolean
  dryRun?: boolean
  retryDelayMs?: number
  /** Store module BTF (default true). */
  modules?: boolean
  /** For kernels without BTF: generate it from the dbgsym package of the ddebs repository. */
  generate?: boolean
  /** The ddebs repository root (default: the mirror). */
  ddebs?: string
  pahole?: string
  libbpf?: string
  jobs?: number
  onEvent?: (e: SyncEvent) => void
}

/** The kernels the options select in one architecture's indices, with their archive key. */
export interface PlannedKernel {
  kernel: UbuntuKernel
  arch: string
  version: string
  key: string
}

/** Selects kernels and applies the shard (pure; for dry runs and tests). */
export function planUbuntu(all: UbuntuKernel[], o: Pick<UbuntuSyncOptions, 'flavors' | 'series' | 'newest' | 'shard' | 'osVersion' | 'suite'>): PlannedKernel[] {
  const version = o.osVersion ?? ubuntuVersionOfSuite(o.suite)
  return selectUbuntuKernels(all, o)
    .map((kernel) => {
      const debArch = kernel.image.architecture
      const arch = debianArchDir(debArch, kernel.release)
      return {kernel, arch, version, key: kernelKey({distro: 'ubuntu', version, arch, release: kernel.release})}
    })
    .filter((p) => !o.shard || shardOf(p.key, o.shard.count) === o.shard.index)
}

async function indices(mirror: string, suite: string, arch: string, components: string[], retryDelayMs?: number, release?: ReleaseFile): Promise<PackageStanza[]> {
  const rel = release ?? (await fetchRelease(mirror, suite, retryDelayMs))
  const out: PackageStanza[] = []
  for (const c of components) out.push(...(await fetchCheckedPackages(mirror, suite, rel, c, arch, retryDelayMs)))
  return out
}

const componentOf = (s: PackageStanza): string | undefined => /^pool\/([^/]+)\//.exec(s.filename)?.[1]

export async function syncUbuntu(root: string, o: UbuntuSyncOptions): Promise<SyncResult> {
  const result: SyncResult = {added: [], skipped: [], failed: [], planned: [], imaged: []}
  const components = o.components && o.components.length > 0 ? o.components : ['main']
  const cacheDir = o.cacheDir ?? join(tmpdir(), `kcompat-sync-ubuntu-${process.pid}`)
  mkdirSync(cacheDir, {recursive: true})
  const mirror = o.mirror.replace(/\/+$/, '')
  try {
    const release = await fetchRelease(mirror, o.suite, o.retryDelayMs)
    // arches and components the suite's Release file does not list fail before any index is
    // read (Ubuntu serves amd64 and i386 from the archive, the others from ports: one mirror
    // carries only some); `all` is every arch it lists
    checkSuiteCoverage([{suite: o.suite, release}], o.arches, components)
    const arches = [...new Set(o.arches.flatMap((a) => (a === 'all' ? releaseArches(release) : [a])))]
    for (const debArch of arches) {
      const stanzas = await indices(mirror, o.suite, debArch, components, o.retryDelayMs, release)
      const all = ubuntuKernels(stanzas)
      const plan = planUbuntu(all, o)
      o.onEvent?.({type: 'index', arch: debArch, packages: all.length, selected: plan.length})
      let ddebStanzas: PackageStanza[] | undefined
      for (const p of plan) {
        const k = p.kernel
        const s = k.image
        const have = readManifest(root).kernels.find((e) => kernelKey(e) === p.key)
        const fromSame = have && ((have.source.package === s.package && have.source.packageVersion === s.version) ||
          (have.source.method === 'debug-info' && have.source.packageVersion === s.version && have.source.package?.endsWith('-dbgsym')))
        const wantGenerate = o.generate && have?.btf === 'none' && fromSame
        const needsModules = fromSame && o.modules !== false && have!.btf === 'in-kernel' && !have!.modules && configHasModuleBtf(have!)
        if (fromSame && !wantGenerate && !needsModules) {
          const reason = `already archived (${s.package} ${s.version})`
          result.skipped.push({release: k.release, arch: p.arch, reason})
          o.onEvent?.({type: 'skip', release: k.release, arch: p.arch, reason})
          continue
        }
        const packages = wantGenerate ? [] : [s, ...(k.modules ? [k.modules] : []), ...(k.modulesExtra ? [k.modulesExtra] : [])]
        for (const pk of packages) result.planned.push({release: k.release, arch: p.arch, package: pk.package, version: pk.version, size: pk.size})
        if (o.dryRun) continue
        const files: string[] = []
        try {
          let entry: KernelEntry | undefined = wantGenerate ? have : undefined
          if (!entry) {
            for (const pk of packages) {
              const file = join(cacheDir, pk.filename.split('/').pop()!)
              await download(`${mirror}/${pk.filename}`, file, {
                sha256: pk.sha256,
                size: pk.size,
                retryDelayMs: o.retryDelayMs,
                onProgress: (e) => o.onEvent?.({type: 'download', release: k.release, arch: p.arch, received: e.received, total: e.total}),
              })
              files.push(file)
            }
            entry = await addUbuntuKernel(root, p, files, {
              suite: o.suite,
              component: componentOf(s),
              modules: o.modules,
              moduleFormat: 'tar',
              onModules: (m) => o.onEvent?.({type: 'modules', release: k.release, arch: p.arch, files: m.files, withBtf: m.withBtf}),
            })
          }
          if (o.generate && entry.btf === 'none') {
            ddebStanzas ??= await indices(o.ddebs ?? mirror, o.suite, debArch, components, o.retryDelayMs)
            entry = await generateUbuntu(root, p, entry, ddebStanzas, o)
          }
          const modules = entry.modules?.count
          result.added.push({release: k.release, arch: p.arch, btf: entry.btf, ...(modules === undefined ? {} : {modules})})
          o.onEvent?.({type: 'added', release: k.release, arch: p.arch, btf: entry.btf, changed: true, ...(modules === undefined ? {} : {modules})})
        } catch (e) {
          if (!(e instanceof KcompatError)) throw e
          result.failed.push({release: k.release, arch: p.arch, code: e.code, message: e.message})
          o.onEvent?.({type: 'failed', release: k.release, arch: p.arch, code: e.code, message: e.message})
        } finally {
          if (!o.keep) for (const f of files) rmSync(f, {force: true})
        }
      }
    }
  } finally {
    if (!o.cacheDir) rmSync(cacheDir, {recursive: true, force: true})
  }
  if (!o.dryRun && o.repack !== false) await repackModules(root)
  return result
}

async function generateUbuntu(root: string, p: PlannedKernel, entry: KernelEntry, ddebs: PackageStanza[], o: UbuntuSyncOptions): Promise<KernelEntry> {
  const dbg = findDbgsymStanza(ddebs, p.kernel)
  if (!dbg) {
    throw new InputError(
      'DEBUG_PACKAGE_NOT_FOUND',
      `the ddebs index has no linux-image-unsigned-${p.kernel.release}-dbgsym ${p.kernel.image.version}, so there is no debug info to generate ${p.kernel.release}'s BTF from`,
    )
  }
  const g = await addDebugDebUrl(root, `${(o.ddebs ?? o.mirror).replace(/\/+$/, '')}/${dbg.filename}`, {
    cacheDir: o.cacheDir,
    keep: o.keep,
    sha256: dbg.sha256,
    size: dbg.size,
    retryDelayMs: o.retryDelayMs,
    distro: 'ubuntu',
    osVersion: entry.version,
    pahole: o.pahole,
    libbpf: o.libbpf,
    jobs: o.jobs,
    onProgress: (progress) => o.onEvent?.({type: 'generate', release: p.kernel.release, arch: p.arch, progress}),
  })
  o.onEvent?.({type: 'generated', release: p.kernel.release, arch: p.arch, timings: g.timings, flags: g.entry.source.generator?.flags ?? []})
  return g.entry
}

export interface AddUbuntuOptions {
  suite: string
  component?: string
  modules?: boolean
  /** How module BTF is stored: `pack` (default, one new pack segment) or `tar` (a `.modules.tar.xz`, which a sync repacks into one segment at its end). */
  moduleFormat?: 'pack' | 'tar'
  onModules?: (m: {files: number; withBtf: number}) => void
}

/**
 * Archives one Ubuntu kernel from its downloaded packages: `files[0]` the image package,
 * then linux-modules and linux-modules-extra when the kernel has them (in p.kernel's
 * order). Module BTF is read only when the config has CONFIG_DEBUG_INFO_BTF_MODULES=y
 * and the image has BTF.
 * @throws InputError `INPUT_NO_KERNEL_IMAGE`, `ARCHIVE_BTF_MISSING`, `UBUNTU_WRONG_RELEASE`
 *   (the image's file name names another release than its package), `MODULE_*` codes,
 *   and the .deb readers' codes.
 */
export async function addUbuntuKernel(root: string, p: PlannedKernel, files: string[], o: AddUbuntuOptions): Promise<KernelEntry> {
  const k = p.kernel
  const imageBytes = await readFile(files[0]!)
  const pkg = await readKernelDeb(imageBytes)
  if (pkg.release !== k.release) {
    throw new InputError('UBUNTU_WRONG_RELEASE', `${k.image.package} holds /${pkg.imagePath}, not /boot/vmlinuz-${k.release}`)
  }
  const moduleFiles = files.slice(1)
  let config = pkg.config
  if (!config) {
    let configBytes: Uint8Array | undefined
    for (const f of moduleFiles) {
      configBytes = await kernelConfigOfDeb(await readFile(f), k.release)
      if (configBytes) break
    }
    config = configBytes ? parseKernelConfig(configBytes) : undefined
  }
  const facts = config ? bpfConfigFacts(config) : null
  const btf = pkg.kernel.btf
  if (!btf && facts?.CONFIG_DEBUG_INFO_BTF === 'y') {
    throw new InputError('ARCHIVE_BTF_MISSING', `${k.release}: config has CONFIG_DEBUG_INFO_BTF=y but no BTF was found in ${pkg.imagePath}`)
  }
  if (btf) parseBtf(btf) // refuse corrupt BTF before anything is archived
  // modules first: a bad module fails the add before anything is written
  let modules: Map<string, Uint8Array> | undefined
  let withoutBtf = 0
  if (btf && o.modules !== false && facts?.CONFIG_DEBUG_INFO_BTF_MODULES === 'y') {
    modules = new Map()
    const from = new Map<string, string>()
    let seen = 0
    for (const f of moduleFiles) {
      const x = await extractDebModuleBtfs(f, {release: k.release, base: btf, onProgress: (m) => o.onModules?.({files: seen + m.files, withBtf: modules!.size + m.withBtf})})
      seen += x.files
      withoutBtf += x.withoutBtf.length
      for (const [name, b] of x.modules) {
        if (from.has(name)) throw new InputError('MODULE_DUPLICATE', `module ${name} is in both ${from.get(name)} and ${f.split('/').pop()}`)
        from.set(name, f.split('/').pop()!)
        modules.set(name, b)
      }
    }
    modules = new Map([...modules.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
  const fileSha256 = createHash('sha256').update(imageBytes).digest('hex')
  const fileName = files[0]!.split('/').pop()!
  const image = debImageSource(pkg, {name: fileName, sha256: fileSha256, size: imageBytes.length}, {
    repo: {type: 'ubuntu', suite: o.suite, ...(o.component ? {component: o.component} : {})},
    path: k.image.filename,
  })
  const r = await addKernel(
    root,
    {
      release: k.release,
      distro: 'ubuntu',
      version: p.version,
      arch: p.arch,
      flavor: k.flavor,
      btf: btf ? 'in-kernel' : 'none',
      config: facts,
      source: {method: 'kernel-image', package: k.image.package, packageVersion: k.image.version, file: fileName, fileSha256, image},
    },
    btf,
  )
  if (!modules) return r.entry
  return addKernelModules(root, r.entry, modules, {withoutBtf, validate: false, format: o.moduleFormat})
}
