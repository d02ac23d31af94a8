/**
 * Sibling inference: what the archive says about a kernel it does not hold.
 *
 * A distro rebuilds the same kernel many times within one release: Debian 12's
 * `6.1.0-50-686-pae` and `6.1.0-54-686-pae` are the same series, flavor and arch two ABI
 * bumps apart, built from the same packaging with the same config. When the archive
 * holds such siblings, they say more about the missing kernel than release rules can:
 * their config facts, whether they ship BTF, which functions they have.
 *
 * Siblings of a release are the archived kernels with the same distro, distro release,
 * upstream `major.minor` series, arch and flavor, and a different release string. Each
 * is read with the same release parser as the kernel asked about, so "flavor" means the
 * same on both sides (`pae`, `cloud`, `rt`, `64k`, …).
 *
 * Nearness: the distance between two siblings is the difference of their distro build
 * numbers (Debian's ABI, `50` vs `54`), or, where the string has none (`6.12.117+deb12`),
 * of their upstream patch levels. kcompat takes the nearest sibling below and the nearest
 * above (bracketing the kernel: what both have, the one between almost surely has too),
 * or the single nearest one when all siblings lie on one side.
 *
 * What is inferred, and how:
 * - config: the manifest's BPF config facts of the chosen siblings; a symbol on which they
 *   disagree is left unknown;
 * - kernel BTF: present if every chosen sibling ships its own (`btf: in-kernel`), absent if
 *   none does, unknown if they disagree;
 * - attach targets: looked up in each chosen sibling's BTF. Present in all of them is
 *   `possible` (it is very likely there, but this exact build was not read); absent from
 *   all of them is a failure stated as an inference from the siblings; mixed is `unknown`.
 *
 * Release rules and distro facts come in only where no sibling exists, or for facts the
 * siblings do not record.
 */
import {archiveKernels, btfLocation, prepareRemote, readKernelBtf} from '../archive/archive.js'
import type {KernelEntry} from '../archive/manifest.js'
import type {Btf} from '../btf/btf.js'
import {parseBtf} from '../btf/decode.js'
import {type KernelRelease, parseReleaseLenient} from '../kernel/release.js'
import type {ConfigSet, KernelProfile} from './kernel.js'
import {type KernelSymbols, symbolsFromBtf} from './symbols.js'
import type {Evidence, Reason} from './types.js'

export interface Sibling {
  entry: KernelEntry
  release: KernelRelease
  /** Build distance from the kernel asked about (see the module comment). */
  distance: number
  /** The sibling's BTF names, when the archive holds its BTF. */
  symbols?: KernelSymbols
  btf?: Btf
}

export interface SiblingInference {
  root: string
  /** The chosen (nearest) siblings, nearest first. */
  chosen: Sibling[]
  /** How many siblings the archive holds in all. */
  total: number
}

/** btfhub-archive os-ids whose kernels release.ts names with another distro id. */
const OS_ALIAS: Record<string, string> = {centos: 'rhel', almalinux: 'rhel', alma: 'rhel', rocky: 'rhel', ol: 'rhel', 'opensuse-leap': 'sles', 'opensuse-tumbleweed': 'opensuse'}

function distance(a: KernelRelease, b: KernelRelease): number | undefined {
  if (a.abi !== null && b.abi !== null) return Math.abs(a.abi - b.abi) + Math.abs(a.upstreamVersion[2]! - b.upstreamVersion[2]!) / 1e6
  if (a.abi === null && b.abi === null) return Math.abs(a.upstreamVersion[2]! - b.upstreamVersion[2]!)
  return undefined
}

/** Signed order of b relative to a (negative: older build). */
function order(a: KernelRelease, b: KernelRelease): number {
  if (a.abi !== null && b.abi !== null && a.abi !== b.abi) return b.abi - a.abi
  return b.upstreamVersion[2]! - a.upstreamVersion[2]!
}

/**
 * The archived siblings of `release` on `arch` (see the module comment), without BTF.
 * Empty when the distro release is not known from the string.
 */
export function findSiblings(root: string, release: KernelRelease, arch: string): {chosen: Sibling[]; total: number} {
  if (release.distroRelease === null || release.distro === 'mainline' || release.distro === 'unknown') return {chosen: [], total: 0}
  // a string that names another arch than the one asked for has no siblings on it
  if (release.arch !== null && release.arch !== arch) return {chosen: [], total: 0}
  const all: Sibling[] = []
  for (const entry of archiveKernels(root)) {
    if (entry.arch !== arch || entry.release === release.input) continue
    if ((OS_ALIAS[entry.distro] ?? entry.distro) !== release.distro) continue
    if (entry.version !== release.distroRelease) continue
    const r = parseReleaseLenient(entry.release)
    if (r.series !== release.series || r.flavor !== release.flavor) continue
    const d = distance(release, r)
    if (d === undefined) continue
    all.push({entry, release: r, distance: d})
  }
  const below = all.filter((s) => order(release, s.release) < 0).sort((a, b) => a.distance - b.distance)[0]
  const above = all.filter((s) => order(release, s.release) > 0).sort((a, b) => a.distance - b.distance)[0]
  const chosen = [below, above].filter((s): s is Sibling => s !== undefined).sort((a, b) => a.distance - b.distance)
  return {chosen, total: all.length}
}

/** Reads the chosen siblings' BTF (when archived) and names. */
export async function inferFromSiblings(root: string, release: KernelRelease, arch: string): Promise<SiblingInference | undefined> {
  await prepareRemote(root) // KCOMPAT_REMOTE's kernels are siblings too
  const {chosen, total} = findSiblings(root, release, arch)
  if (chosen.length === 0) return undefined
  for (const s of chosen) {
    if (!s.entry.path) continue
    s.btf = parseBtf(await readKernelBtf(root, s.entry), {lazy: true})
    s.symbols = symbolsFromBtf(s.btf)
  }
  return {root, chosen, total}
}

export function siblingNames(inf: SiblingInference): string {
  return inf.chosen.map((s) => s.entry.release).join(', ')
}

function where(inf: SiblingInference): string {
  const e = inf.chosen[0]!.entry
  return `${e.distro}/${e.version}/${e.arch}`
}

/**
 * The config facts the chosen siblings agree on. A symbol they record with different
 * values is left out (unknown).
 */
export function siblingConfig(inf: SiblingInference): ConfigSet | undefined {
  const withConfig = inf.chosen.filter((s) => s.entry.config)
  if (withConfig.length !== inf.chosen.length) return undefined
  const values = new Map<string, string | null>()
  const first = withConfig[0]!.entry.config!
  for (const [sym, v] of Object.entries(first)) {
    if (withConfig.every((s) => Object.hasOwn(s.entry.config!, sym) && s.entry.config![sym] === v)) values.set(sym, v)
  }
  return {values, complete: false, origin: `inferred from archived siblings ${siblingNames(inf)} (${where(inf)}): this kernel is not in the archive`}
}

/** Kernel BTF presence from the chosen siblings. */
export function siblingBtfState(inf: SiblingInference): {state: boolean | null; message: string; evidence: Evidence[]; source: string} {
  const kinds = inf.chosen.map((s) => s.entry.btf)
  const evidence: Evidence[] = inf.chosen.map((s) => ({kind: 'archive', text: `sibling ${s.entry.distro}/${s.entry.version}/${s.entry.arch}/${s.entry.release}: btf ${s.entry.btf}`}))
  const source = 'the archive (inferred from sibling kernels of the same distro release, series, arch and flavor)'
  const names = siblingNames(inf)
  if (kinds.every((k) => k === 'in-kernel')) return {state: true, message: `inferred from siblings: ${names} ship${inf.chosen.length > 1 ? '' : 's'} BTF`, evidence, source}
  if (kinds.every((k) => k !== 'in-kernel')) return {state: false, message: `inferred from siblings: ${names} ship${inf.chosen.length > 1 ? '' : 's'} no BTF of ${inf.chosen.length > 1 ? 'their' : 'its'} own`, evidence, source}
  return {state: null, message: `the archived siblings disagree on in-kernel BTF (${inf.chosen.map((s) => `${s.entry.release}: ${s.entry.btf}`).join(', ')})`, evidence, source}
}

/**
 * An attach-target rule answered from the siblings: `lookup` is the archive rule run
 * against one profile, here once per sibling with that sibling's BTF. All pass →
 * `possible`; all fail → `fail`, said to be inferred; otherwise `unknown`.
 */
export function siblingTargetRule(k: KernelProfile, lookup: (p: KernelProfile) => Reason | undefined): Reason | undefined {
  const inf = k.siblings!
  const withBtf = inf.chosen.filter((s) => s.symbols)
  if (withBtf.length === 0) return lookup(k)
  const results = withBtf.map((s) => ({s, r: lookup({...k, symbols: s.symbols, btfOrigin: `sibling ${btfLocation(inf.root, s.entry)}`})}))
  const defined = results.filter((x): x is {s: Sibling; r: Reason} => x.r !== undefined)
  if (defined.length === 0) return undefined
  const first = defined[0]!.r
  const evidence = defined.flatMap((x) => x.r.evidence)
  const names = defined.map((x) => x.s.entry.release).join(', ')
  const note = `this kernel (${k.release.input}) is not in the archive`
  if (defined.every((x) => x.r.status === 'pass')) {
    return {
      rule: first.rule,
      status: 'possible',
      message: `inferred from siblings: present in every archived sibling (${names}): ${first.message.replace(/this kernel's/g, "the sibling's")}; ${note}`,
      evidence,
      source: first.source,
      check: 'the target is in the BTF of the nearest archived builds of this kernel; confirm on the machine (bpftool btf dump file /sys/kernel/btf/vmlinux, or /proc/kallsyms)',
    }
  }
  if (defined.every((x) => x.r.status === 'fail')) {
    return {
      ...first,
      message: `inferred from siblings: absent from every archived sibling (${names}): ${first.message.replace(/this kernel's/g, "the sibling's")}; ${note}`,
      evidence,
    }
  }
  if (defined.every((x) => x.r.status === first.status)) {
    return {...first, message: `inferred from siblings (${names}): ${first.message}`, evidence}
  }
  return {
    rule: first.rule,
    status: 'unknown',
    message: `the archived siblings disagree: ${defined.map((x) => `${x.s.entry.release}: ${x.r.status}`).join(', ')}; ${note}`,
    evidence,
    source: first.source,
  }
}
