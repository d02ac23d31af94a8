/**
 * The kernel a check runs against, with every fact kcompat has about it and where each
 * comes from:
 *
 * - the release string, parsed (src/kernel/release.ts): distro, release, upstream base;
 * - the archive entry, when the archive holds this kernel: its BTF (read and parsed
 *   once) and the BPF config facts recorded in the manifest;
 * - otherwise its archived siblings (siblings.ts: same distro release, series, arch and
 *   flavor, another build): their config facts, BTF presence and names, marked inferred;
 * - `--kernel running`: this machine's release, BTF, config and active LSM list
 *   (src/kernel/running.ts);
 * - `--btf FILE`: a BTF file for target lookups;
 * - the distro facts of facts.json whose `match` fits this kernel, merged in file order
 *   (later, more specific profiles override earlier ones, entry by entry).
 *
 * Facts read from the kernel itself (archive, machine) win over distro facts, which win
 * over mainline version rules; the rules in rules.ts apply that order.
 */
import {archiveKernelsNamed, btfLocation, prepareRemote, readKernelBtf} from '../archive/archive.js'
import {DEBIAN_ARCH_MACHINES, normalizeArch} from '../kernel/arch.js'
import type {KernelEntry} from '../archive/manifest.js'
import type {Btf} from '../btf/btf.js'
import {parseBtf} from '../btf/decode.js'
import {loadBtf} from '../btf/load.js'
import {ModuleSet} from '../btf/module-set.js'
import {archiveModuleBytes} from '../archive/module-btf.js'
import {kernelHasModules} from '../archive/modules.js'
import {type DistroFacts, type DistroMatch, type Facts, loadFacts} from '../kernel/facts/index.js'
import {compareVersions, isVersion, parseVersion} from '../kernel/facts/version.js'
import {type DistroId, type KernelRelease, KernelReleaseError, parseRelease, parseReleaseLenient} from '../kernel/release.js'
import {type RunningKernel, readRunningKernel, readRunningModuleBtfs} from '../kernel/running.js'
import {CheckUsageError} from './errors.js'
import {type SiblingInference, inferFromSiblings, siblingConfig, siblingNames} from './siblings.js'
import {type KernelSymbols, symbolsFromBtf} from './symbols.js'
import type {KernelSummary} from './types.js'

export interface ConfigSet {
  /** Symbols known for this kernel; null = not set. With `complete`, absent symbols are not set too. */
  values: Map<string, string | null>
  /** The whole .config (machine, file) rather than the manifest's BPF facts. */
  complete: boolean
  /** e.g. `/proc/config.gz`, `archive manifest (debian/12/x86_64/6.1.0-56-cloud-amd64)`. */
  origin: string
}

export interface MergedDistroFacts {
  /** Ids of the matching profiles, in order. Each merged fact also carries the `profile` it came from. */
  profiles: string[]
  facts: DistroFacts
}

export interface KernelProfile {
  input: string
  release: KernelRelease
  arch: string
  archAssumed: boolean
  origin: KernelSummary['origin']
  archive?: {root: string; entry: KernelEntry}
  config?: ConfigSet
  /** Names from the kernel's BTF (its own, generated, or a file) for lookups. */
  symbols?: KernelSymbols
  /** The whole parsed BTF, parsed on first call (the CO-RE engine needs it; the rules do not). */
  fullBtf(): Btf | undefined
  /**
   * The kernel's module BTF (split on its vmlinux BTF), parsed on first call; undefined
   * when kcompat holds none for this kernel (the archive has no modules for it, or the
   * BTF is a --btf file), or when it is archived but not read yet (see
   * {@link loadModules}). Attach targets and CO-RE candidates are looked up in it as
   * libbpf looks them up in the BTF of loaded modules.
   */
  moduleSet(): ModuleSet | undefined
  /**
   * Reads the archived module BTF, when there is some and it was not read yet. Reading
   * a kernel's modules (a few MB of xz) costs more than the rest of a check, so callers
   * read them only when an answer can depend on them ({@link modulesMatter}).
   */
  loadModules(): Promise<void>
  /** Where the module BTF came from (e.g. the archive's module tarball), when there is one. */
  modulesOrigin?: string
  /** Where the BTF came from. */
  btfOrigin?: string
  btfKind?: 'in-kernel' | 'generated' | 'file' | 'running'
  running?: RunningKernel
  /** The archive does not hold this kernel but holds siblings of it: facts inferred from them. */
  siblings?: SiblingInference
  distro: MergedDistroFacts
  facts: Facts
}

export interface ResolveOptions {
  /** A release string or `running`. */
  kernel: string
  /** Archive root (already resolved); omitted: no archive lookup. */
  archive?: string
  /** A BTF file for this kernel (any format loadBtf reads). */
  btf?: string
  /** The content of `btf`, when the caller has read it already. */
  btfBytes?: Uint8Array
  arch?: string
  /** For tests: what `running` reads. */
  running?: RunningKernel
  /** Module BTF of this kernel (raw split BTF by module name), when the caller has it; else read from the archive. */
  moduleBytes?: ReadonlyMap<string, Uint8Array>
  /** Do not read module BTF from the archive (answers are then as without module BTF). */
  noModules?: boolean
}

const KNOWN_ARCHES = new Set(['x86_64', 'arm64', 's390x', 'ppc64le', 'riscv64', 'i686', 'armv7l', 'armv6l', 'armv5tel', 'mips64', 'mips', 'loong64'])

/** btfhub-archive os-ids to the distro ids release.ts uses. */
const OS_ID: Record<string, DistroId> = {
  centos: 'rhel',
  rhel: 'rhel',
  almalinux: 'rhel',
  alma: 'rhel',
  rocky: 'rhel',
  ol: 'rhel',
  ubuntu: 'ubuntu',
  debian: 'debian',
  fedora: 'fedora',
  amzn: 'amzn',
  sles: 'sles',
  'opensuse-leap': 'sles',
  'opensuse-tumbleweed': 'opensuse',
  arch: 'arch',
  photon: 'photon',
  mariner: 'mariner',
  openeuler: 'openeuler',
  flatcar: 'flatcar',
}

function inRange(v: readonly number[] | null, r: {min?: string; max?: string} | undefined): boolean {
  if (!r) return true
  if (!v) return false
  if (r.min !== undefined && compareVersions(v, parseVersion(r.min)) < 0) return false
  if (r.max !== undefined && compareVersions(v, parseVersion(r.max)) > 0) return false
  return true
}

export function profileMatches(m: DistroMatch, r: KernelRelease, arch: string): boolean {
  if (m.distro && !m.distro.includes(r.distro)) return false
  if (m.major !== undefined && r.distroVersion?.[0] !== m.major) return false
  if (m.release && !inRange(r.distroVersion, m.release)) return false
  if (m.series && !m.series.includes(r.series)) return false
  if (m.build) {
    if (r.abi === null) return false
    if (m.build.min !== undefined && r.abi < m.build.min) return false
    if (m.build.max !== undefined && r.abi > m.build.max) return false
  }
  if (m.flavor && (r.flavor === null || !m.flavor.includes(r.flavor))) return false
  if (m.arch && !m.arch.includes(arch)) return false
  if (m.upstream && !inRange(r.upstreamVersion, m.upstream)) return false
  return true
}

/** The distro facts that apply to this kernel, merged in file order. */
export function distroFactsFor(facts: Facts, r: KernelRelease, arch: string): MergedDistroFacts {
  const profiles: string[] = []
  const merged: DistroFacts = {}
  for (const p of facts.distros) {
    if (!profileMatches(p.match, r, arch)) continue
    profiles.push(p.id)
    for (const [k, v] of Object.entries(p.facts) as [keyof DistroFacts, unknown][]) {
      if (k === 'progTypes' || k === 'attachTypes' || k === 'config') {
        const tagged = Object.fromEntries(Object.entries(v as object).map(([name, f]) => [name, {...(f as object), profile: p.id}]))
        ;(merged as Record<string, unknown>)[k] = {...((merged[k] as object | undefined) ?? {}), ...tagged}
      } else {
        ;(merged as Record<string, unknown>)[k] = {...(v as object), profile: p.id}
      }
    }
  }
  return {profiles, facts: merged}
}

const BTF_RANK: Record<KernelEntry['btf'], number> = {'in-kernel': 0, generated: 1, none: 2}

/**
 * The archive entry for a release (and arch). Exact release first; else a release that
 * extends what was typed with its distro suffix (`3.10.0-957` → `3.10.0-957.el7.x86_64`).
 * @throws CheckUsageError `CHECK_AMBIGUOUS_KERNEL` when several different kernels match.
 */
export function findArchiveEntry(root: string, release: string, arch?: string): KernelEntry | undefined {
  const kernels = archiveKernelsNamed(root, release)
  let hits = kernels.filter((k) => k.release === release)
  if (hits.length === 0) {
    hits = kernels.filter((k) => k.release.startsWith(release) && /^(\.el|\.fc|\.amzn|-[a-z])/.test(k.release.slice(release.length)))
  }
  if (arch) hits = hits.filter((k) => k.arch === arch)
  if (hits.length === 0) return undefined
  const kinds = new Set(hits.map((k) => `${k.release} (${k.arch})`))
  if (kinds.size > 1) {
    throw new CheckUsageError(
      'CHECK_AMBIGUOUS_KERNEL',
      `${release} matches several archived kernels: ${[...kinds].sort().join(', ')}; give the full release${arch ? '' : ' or --arch'}`,
    )
  }
  return [...hits].sort((a, b) => BTF_RANK[a.btf] - BTF_RANK[b.btf])[0]
}

function applyArchiveIdentity(r: KernelRelease, e: KernelEntry): void {
  const id = OS_ID[e.distro]
  if (!id || !isVersion(e.version)) return
  if (r.distro !== id && r.distro !== 'unknown' && r.distro !== 'mainline' && !(id === 'rhel' && r.distro === 'oracle')) return
  const v = parseVersion(e.version)
  if (r.distroVersion && v.length < r.distroVersion.length) return
  if (r.distro === 'unknown' || r.distro === 'mainline') r.distro = id
  r.distroRelease = e.version
  r.distroVersion = v
  r.alternatives = []
  r.notes.push(`distro release ${e.distro} ${e.version} from the archive entry`)
}

function configFromEntry(e: KernelEntry): ConfigSet | undefined {
  if (!e.config) return undefined
  return {
    values: new Map(Object.entries(e.config)),
    complete: false,
    origin: `archive manifest (${e.distro}/${e.version}/${e.arch}/${e.release})`,
  }
}

/**
 * Builds the profile of the kernel to check.
 * @throws KernelReleaseError for a release string kcompat cannot identify, CheckUsageError
 *   for an ambiguous archive match or a bad --arch, archive and BTF input errors.
 */
export async function resolveKernel(opts: ResolveOptions): Promise<KernelProfile> {
  const facts = loadFacts()
  let arch = opts.arch ? normalizeArch(opts.arch) : undefined
  if (arch && !KNOWN_ARCHES.has(arch)) {
    const machines = DEBIAN_ARCH_MACHINES[arch]
    const hint = machines ? ` (Debian's ${arch} kernels are ${machines}: give the kernel's uname -m)` : ''
    throw new CheckUsageError('CHECK_BAD_ARCH', `unknown arch ${opts.arch}${hint}; one of ${[...KNOWN_ARCHES].join(', ')}`)
  }
  let release: KernelRelease
  let origin: KernelSummary['origin'] = 'release'
  let running: RunningKernel | undefined
  let config: ConfigSet | undefined
  let btfBytes: Uint8Array | undefined
  let parsed: Btf | undefined
  let btfOrigin: string | undefined
  let btfKind: KernelProfile['btfKind']
  let archive: KernelProfile['archive']
  let siblings: SiblingInference | undefined

  if (opts.kernel === 'running') {
    running = opts.running ?? readRunningKernel()
    release = parseReleaseLenient(running.release)
    origin = 'running'
    arch ??= running.arch
    if (running.config && running.configPath) {
      config = {values: running.config.values, complete: true, origin: running.configPath}
    }
    if (running.btf) {
      btfBytes = running.btf
      btfOrigin = running.btfPath
      btfKind = 'running'
    }
  } else {
    // KCOMPAT_REMOTE's copy is taken now when the default archive lacks this kernel (remote.ts)
    if (opts.archive) await prepareRemote(opts.archive, opts.kernel.trim())
    try {
      release = parseRelease(opts.kernel)
    } catch (e) {
      // Not a form kcompat reads; the archive may still hold a kernel of that name.
      const entry = e instanceof KernelReleaseError && e.code === 'RELEASE_UNKNOWN' && opts.archive ? findArchiveEntry(opts.archive, opts.kernel.trim(), arch) : undefined
      if (!entry) throw e
      release = parseReleaseLenient(entry.release)
    }
    if (opts.archive) {
      const entry = findArchiveEntry(opts.archive, release.input, arch ?? release.arch ?? undefined)
      if (entry) {
        archive = {root: opts.archive, entry}
        origin = 'archive'
        if (entry.release !== release.input) {
          release = parseReleaseLenient(entry.release)
          release.notes.push(`archive entry ${entry.release} matches ${opts.kernel.trim()}`)
        }
        applyArchiveIdentity(release, entry)
        arch ??= entry.arch
        config = configFromEntry(entry)
        if (entry.path && !opts.btf) {
          // read on demand (btf/paged.ts): only the lazy parse below reads these bytes
          btfBytes = await readKernelBtf(opts.archive, entry, {paged: true})
          btfOrigin = btfLocation(opts.archive, entry)
          btfKind = entry.btf === 'in-kernel' ? 'in-kernel' : 'generated'
        }
      } else if (!opts.btf) {
        siblings = await inferFromSiblings(opts.archive, release, arch ?? release.arch ?? 'x86_64')
        if (siblings) {
          origin = 'siblings'
          config = siblingConfig(siblings)
          btfOrigin = `archived siblings ${siblingNames(siblings)} (inferred: this kernel is not in the archive)`
          release.notes.push(`not in the archive: facts inferred from its archived siblings ${siblingNames(siblings)}`)
        }
      }
    }
  }
  if (opts.btf) {
    parsed = (await loadBtf(opts.btfBytes ?? opts.btf, {lazy: true, name: opts.btf})).parsed
    btfBytes = undefined
    btfOrigin = opts.btf
    btfKind = 'file'
    if (origin === 'release') origin = 'btf-file'
  }
  const archAssumed = !arch && !release.arch
  const finalArch = arch ?? release.arch ?? 'x86_64'
  if (archAssumed) release.notes.push('the release string does not name the arch: x86_64 assumed (use --arch)')
  const bytes = btfBytes
  const fullBtf = (): Btf | undefined => {
    if (!parsed && bytes) parsed = parseBtf(bytes, {lazy: true})
    return parsed
  }
  // One lazy parse serves both the rules (names, through the Btf's name index) and CO-RE.
  const btf = fullBtf()
  const symbols = btf ? symbolsFromBtf(btf) : siblings?.chosen.find((s) => s.symbols)?.symbols
  // Module BTF only makes sense on the kernel's own vmlinux BTF (it is split on it).
  let moduleBytes: ReadonlyMap<string, Uint8Array> | undefined = opts.moduleBytes
  let modulesOrigin: string | undefined = moduleBytes ? 'module BTF given by the caller' : undefined
  const fromArchive = !moduleBytes && !opts.noModules && archive && btfKind === 'in-kernel' && kernelHasModules(archive.entry) ? archive : undefined
  if (fromArchive) modulesOrigin = fromArchive.entry.modules!.path!
  // this machine: the BTF of its loaded modules (libbpf sees exactly these)
  const fromMachine = !moduleBytes && !opts.noModules && btfKind === 'running' && running && (running.moduleBtf?.length ?? 0) > 0 ? running : undefined
  if (fromMachine) modulesOrigin = `${fromMachine.btfPath.slice(0, fromMachine.btfPath.lastIndexOf('/'))}/<module> (loaded modules)`
  const loadModules = async (): Promise<void> => {
    if (moduleBytes) return
    if (fromArchive) moduleBytes = (await archiveModuleBytes(fromArchive.root, fromArchive.entry))?.bytes ?? new Map()
    else if (fromMachine) moduleBytes = readRunningModuleBtfs(fromMachine)
  }
  let modules: ModuleSet | undefined
  const moduleSet = (): ModuleSet | undefined => {
    const base = fullBtf()
    if (!modules && moduleBytes && base) modules = ModuleSet.parse(base, moduleBytes)
    return modules
  }
  return {
    input: opts.kernel,
    release,
    arch: finalArch,
    archAssumed,
    origin,
    archive,
    config,
    symbols,
    fullBtf,
    moduleSet,
    loadModules,
    modulesOrigin,
    btfOrigin,
    btfKind,
    running,
    siblings,
    distro: distroFactsFor(facts, release, finalArch),
    facts,
  }
}

/** Builds a profile from parts already at hand (tests, the release matrix). */
export function profileFrom(init: {
  release: KernelRelease
  arch?: string
  config?: ConfigSet
  btf?: Btf
  btfKind?: KernelProfile['btfKind']
  btfOrigin?: string
  archive?: KernelProfile['archive']
  running?: RunningKernel
  origin?: KernelSummary['origin']
  /** The kernel's module BTF, parsed on `btf`. */
  modules?: ModuleSet
  modulesOrigin?: string
}): KernelProfile {
  const facts = loadFacts()
  const arch = init.arch ?? init.release.arch ?? 'x86_64'
  return {
    input: init.release.input,
    release: init.release,
    arch,
    archAssumed: !init.arch && !init.release.arch,
    origin: init.origin ?? (init.archive ? 'archive' : init.running ? 'running' : init.btf ? 'btf-file' : 'release'),
    archive: init.archive,
    config: init.config,
    symbols: init.btf ? symbolsFromBtf(init.btf) : undefined,
    fullBtf: () => init.btf,
    moduleSet: () => init.modules,
    loadModules: async () => {},
    modulesOrigin: init.modulesOrigin ?? (init.modules ? 'module BTF given by the caller' : undefined),
    btfOrigin: init.btfOrigin,
    btfKind: init.btfKind,
    running: init.running,
    distro: distroFactsFor(facts, init.release, arch),
    facts,
  }
}
