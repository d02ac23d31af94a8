/**
 * Which helpers each program type may call, per kernel version whose source kcompat read
 * (`helper-protos.json` beside this module, written by scripts/helper-protos.mjs from
 * Debian's linux-source packages of the archived kernels).
 *
 * The verifier (kernel/bpf/verifier.c check_helper_call) asks the program type's
 * `get_func_proto` for every helper call; a helper it does not return is refused with
 * "unknown func bpf_<name>#<id>", even though the kernel has the helper. The lists count
 * generously (privileged loaders, any attach type or config option of the type), so a
 * helper missing from a list is refused for that program type on that kernel.
 */
import {existsSync, readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {FactsError, readBuiltData} from './index.js'
import {compareVersions, isVersion, parseVersion} from './version.js'

export interface ProgTypeProtos {
  /** The program type's get_func_proto function (`kprobe_prog_func_proto`). */
  proto: string
  /** The file defining it (`kernel/trace/bpf_trace.c`). */
  file: string
  /** Helper names without `bpf_`, sorted. */
  helpers: string[]
  /**
   * Those of `helpers` the type offers only to sleepable programs (loaded with
   * BPF_F_SLEEPABLE): the proto it returns to others has `.might_sleep` (or is NULL).
   */
  sleepableOnly?: string[]
}

/** What the verifier checks after get_func_proto, for a few helpers. */
export interface HelperChecks {
  /** bpf_d_path's `allowed` callback: tracing programs on these functions (iterators always), lsm programs on these `bpf_lsm_<hook>`s. */
  d_path: {source: string; tracingTargets: string[]; lsmHooks: string[]}
  /** check_get_func_ip: the program types it accepts (TRACING only with a trampoline: fentry, fexit, fmod_ret). */
  get_func_ip: {source: string; progTypes: string[]}
  /** check_helper_call's refusal of a `.might_sleep` helper in a non-sleepable program: the protos that have it. Absent in lists read before it was recorded. */
  sleepable?: {source: string; mightSleep: string[]}
}

export interface KernelProtos {
  source: string
  /** By program type without `BPF_PROG_TYPE_`. */
  progTypes: Record<string, ProgTypeProtos>
  checks: HelperChecks
}

export interface HelperProtos {
  about: string
  /** By kernel series (`6.1`): where the lists were read, and what they say. */
  kernels: Record<string, KernelProtos>
}

let cached: HelperProtos | undefined

export function helperProtosPathCandidates(): string[] {
  return [
    fileURLToPath(new URL('./helper-protos.json', import.meta.url)),
    fileURLToPath(new URL('../../../src/kernel/facts/helper-protos.json', import.meta.url)),
  ]
}

/** Checks the shape of the per-type helper lists. @throws FactsError `FACTS_INVALID`. */
export function validateHelperProtos(data: unknown): HelperProtos {
  const bad = (msg: string): never => {
    throw new FactsError('FACTS_INVALID', `helper-protos.json: ${msg}`)
  }
  const o = data as HelperProtos
  if (typeof o !== 'object' || o === null || typeof o.about !== 'string' || typeof o.kernels !== 'object' || o.kernels === null) bad('needs about and kernels')
  if (Object.keys(o.kernels).length === 0) bad('kernels is empty')
  for (const [v, k] of Object.entries(o.kernels)) {
    if (!isVersion(v)) bad(`kernels.${v}: not a version`)
    if (typeof k.source !== 'string' || !k.source) bad(`kernels.${v}.source: must name the kernel source read`)
    for (const [t, p] of Object.entries(k.progTypes ?? bad(`kernels.${v}.progTypes missing`))) {
      if (!/^[A-Z0-9_]+$/.test(t)) bad(`kernels.${v}.progTypes.${t}: program types are BPF_PROG_TYPE_ suffixes`)
      if (typeof p.proto !== 'string' || typeof p.file !== 'string' || !Array.isArray(p.helpers) || p.helpers.some((h) => typeof h !== 'string')) bad(`kernels.${v}.progTypes.${t}: needs proto, file and helpers`)
      if (p.sleepableOnly !== undefined && (!Array.isArray(p.sleepableOnly) || p.sleepableOnly.some((h) => !p.helpers.includes(h)))) bad(`kernels.${v}.progTypes.${t}.sleepableOnly: must list helpers of the type`)
    }
    const c = k.checks
    if (c?.sleepable !== undefined && (typeof c.sleepable.source !== 'string' || !c.sleepable.source || !Array.isArray(c.sleepable.mightSleep))) bad(`kernels.${v}.checks.sleepable: needs source and mightSleep`)
    if (!c || !Array.isArray(c.d_path?.tracingTargets) || !Array.isArray(c.d_path?.lsmHooks) || !Array.isArray(c.get_func_ip?.progTypes) || !c.d_path.source || !c.get_func_ip.source) bad(`kernels.${v}.checks: needs d_path (tracingTargets, lsmHooks) and get_func_ip (progTypes), each with a source`)
  }
  return o
}

/**
 * In the start-up bundles (scripts/bundle-fast.mjs), the name of a file beside the
 * bundles holding the shipped lists as the build read and validated them, as JSON: no
 * file to find and check at every `check --object` (~3 ms of its CPU time, more on a
 * loaded machine). See loadFacts for why a file and not a string in the bundle.
 */
declare const __KCOMPAT_HELPER_PROTOS: string | undefined

/** Reads the shipped lists (once per process). @throws FactsError `FACTS_NOT_FOUND`, `FACTS_INVALID`. */
export function loadHelperProtos(): HelperProtos {
  if (cached) return cached
  if (typeof __KCOMPAT_HELPER_PROTOS !== 'undefined') return (cached = JSON.parse(readBuiltData(__KCOMPAT_HELPER_PROTOS)) as HelperProtos)
  const path = helperProtosPathCandidates().find((p) => existsSync(p))
  if (!path) throw new FactsError('FACTS_NOT_FOUND', `helper-protos.json not found (looked in ${helperProtosPathCandidates().join(', ')})`)
  let data: unknown
  try {
    data = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new FactsError('FACTS_INVALID', `${path} is not valid JSON: ${(e as Error).message}`)
  }
  cached = validateHelperProtos(data)
  return cached
}

/** What the sources say about one question (may this program call that helper?) on a kernel. */
export type SeriesAnswer =
  /** The same series says yes, or the nearest older series read does; or the kernel is older than every series read and the oldest says yes (no refusal is known). */
  | {state: 'allowed'; read: string[]}
  /** The same series says no, or the nearest newer series read does (allowances only grow). */
  | {state: 'refused'; read: string[]; allowedIn: string[]}
  /** The series read on either side disagree, or the kernel is newer than every series read, whose newest says no. */
  | {state: 'unsettled'; read: string[]; refusedIn: string[]; allowedIn: string[]}
  | {state: 'no-data'}

/**
 * Asks `yes` of the series read and places the kernel among them.
 *
 * The series read are points on the timeline. A kernel of one of those series gets that
 * series' answer. Below the oldest one, a refusal of the oldest stands: a helper is
 * offered to a program type from some release on, and the lists only grow (helpers are
 * added to get_func_proto functions and to allow-lists, and moved into the shared
 * bpf_base_func_proto, but not taken away). Between two series read, a refusal needs both
 * to refuse; above the newest, a refusal is unsettled (a later release may allow it).
 */
export function acrossSeries(data: HelperProtos, upstream: readonly number[], yes: (k: KernelProtos) => boolean | undefined): SeriesAnswer {
  const series = Object.keys(data.kernels)
    .filter((v) => yes(data.kernels[v]!) !== undefined)
    .sort((a, b) => compareVersions(parseVersion(a), parseVersion(b)))
  if (series.length === 0) return {state: 'no-data'}
  const kv = [upstream[0] ?? 0, upstream[1] ?? 0]
  const has = (v: string): boolean => yes(data.kernels[v]!) === true
  const allowedIn = series.filter(has)
  const same = series.find((v) => compareVersions(parseVersion(v), kv) === 0)
  if (same) return has(same) ? {state: 'allowed', read: [same]} : {state: 'refused', read: [same], allowedIn}
  const lo = series.filter((v) => compareVersions(parseVersion(v), kv) < 0).at(-1)
  const hi = series.find((v) => compareVersions(parseVersion(v), kv) > 0)
  if (hi && !has(hi)) return {state: 'refused', read: [hi], allowedIn}
  if (lo && has(lo)) return {state: 'allowed', read: [lo]}
  if (hi && lo) return {state: 'unsettled', read: [lo, hi], refusedIn: [lo], allowedIn}
  // older than every series read, and the oldest allows it: no refusal is known
  if (hi) return {state: 'allowed', read: [hi]}
  return {state: 'unsettled', read: [lo!], refusedIn: [lo!], allowedIn}
}

/**
 * May a program of this type that is not sleepable call the helper? Asked only of the
 * series whose lists record sleepable-only helpers, and that offer the helper to the type.
 */
export function helperWithoutSleep(data: HelperProtos, progType: string, helper: string, upstream: readonly number[]): SeriesAnswer {
  return acrossSeries(data, upstream, (k) => {
    const t = k.progTypes[progType]
    if (!t || !k.checks.sleepable || !t.helpers.includes(helper)) return undefined
    return !(t.sleepableOnly ?? []).includes(helper)
  })
}

/** May a program of this type call the helper at all (its get_func_proto)? */
export function helperForType(data: HelperProtos, progType: string, helper: string, upstream: readonly number[]): SeriesAnswer {
  return acrossSeries(data, upstream, (k) => (k.progTypes[progType] ? k.progTypes[progType]!.helpers.includes(helper) : undefined))
}
