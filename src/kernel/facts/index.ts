/**
 * The kernel-compatibility facts kcompat decides with, and the loader that validates
 * them.
 *
 * The facts live in one reviewed, versioned data file, `facts.json` beside this module,
 * never in code: program and attach types with the mainline version that added them,
 * per-arch BPF trampoline versions, other version gates (sleepable programs, module
 * BTF, ...), kernel config requirements per section family, how distro release strings
 * map to distro releases, and what each distro release is known to have (BTF, backports,
 * config). Every entry names its public `source`: a kernel commit or file, a libbpf,
 * bpftool or cilium/ebpf source file, a doc page, a distro's release notes or config.
 * Sources that several facts share are written as keys (`BCC`, `EDOCS`, ...) defined in
 * the file's `sources` legend; {@link loadFacts} expands them, so every reason kcompat
 * prints names something a user can look up. Facts whose sources disagree or that rest
 * on an inference carry `doubtful: true`, and the checker never turns a doubtful fact
 * into a firm "unsupported".
 *
 * NB: `tsc` does not copy JSON into dist/, so {@link loadFacts} looks beside the
 * compiled module first and then in the package's `src/kernel/facts/`.
 */
import {existsSync, readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {KcompatError} from '../../errors.js'
import {isVersion} from './version.js'

export const FACTS_SCHEMA = 1

/** The facts file is malformed. Codes: `FACTS_INVALID`, `FACTS_NOT_FOUND`, `FACTS_TOO_NEW`. */
export class FactsError extends KcompatError {}

/** Where a fact comes from. */
export interface Sourced {
  /** A public source (e.g. `kernel commit fec56f5`); legend keys are expanded on load. */
  source: string
  note?: string
  /** The sources disagree, or the fact rests on an inference. */
  doubtful?: boolean
}

/** A mainline version gate; `since: null` with `unreleased` for features not in any release. */
export interface VersionFact extends Sourced {
  since: string | null
  unreleased?: boolean
}

export interface ValueFact<T> extends Sourced {
  value: T
}

export interface ConfigRequirement {
  id: string
  /** Section families (see sections.ts) this applies to; `*` is every section. */
  families: string[]
  /** Every symbol must have one of the `accept` values. */
  symbols: string[]
  accept: string[]
  /** Set in essentially every distro kernel: assumed (and said so) when the config is unknown. */
  common: boolean
  /** Arches where it is common even though `common` is false. */
  commonOn?: string[]
  /** Only for targets starting with this (e.g. `syscalls/` tracepoints). */
  targetPrefix?: string
  /** Only when the target is not an LSM hook (fmod_ret). */
  nonLsmTargetOnly?: boolean
  source: string
}

export interface LsmListFact {
  symbol: string
  entry: string
  families: string[]
  source: string
  check: string
}

export interface RangeMatch {
  min?: string
  max?: string
}

/** Which kernels a distro profile applies to; every given key must match. */
export interface DistroMatch {
  distro?: string[]
  /** First component of the distro release (EL major, ...). */
  major?: number
  /** Range of the distro release (`8.2`, `2023`, `15.4`). */
  release?: RangeMatch
  /** Upstream `major.minor` series. */
  series?: string[]
  /** Range of the first number of the distro build (`957` in 3.10.0-957.el7, `56` in 6.1.0-56-amd64). */
  build?: {min?: number; max?: number}
  flavor?: string[]
  arch?: string[]
  /** Range of the upstream version. */
  upstream?: RangeMatch
}

export type Backports = 'heavy' | 'light'

export interface DistroFacts {
  backports?: ValueFact<Backports>
  /** false: no usable bpf() at all. */
  bpf?: ValueFact<boolean>
  /** The kernel ships its own BTF (CONFIG_DEBUG_INFO_BTF); null: not established. */
  kernelBtf?: ValueFact<boolean | null>
  moduleBtf?: ValueFact<boolean | null>
  trampoline?: ValueFact<boolean | null>
  /** The distro's BPF level matches this mainline version for program/attach types. */
  bpfEquivalent?: ValueFact<string>
  /** Only these program types exist (others: no). */
  onlyProgTypes?: ValueFact<string[]>
  progTypes?: Record<string, ValueFact<boolean | null>>
  attachTypes?: Record<string, ValueFact<boolean | null>>
  /** Config values as the distro builds them; null = not set. */
  config?: Record<string, ValueFact<string | null>>
  /** "bpf" is in the built-in CONFIG_LSM list. */
  lsmHasBpf?: ValueFact<boolean>
}

export interface DistroProfile {
  id: string
  match: DistroMatch
  facts: DistroFacts
}

export interface ElBuild extends Sourced {
  build: number
  release: string
}

export interface Facts {
  schema: number
  dataVersion: string
  reviewed: string
  /** Legend of the keys that sources use: a short name and where to find it. */
  sources: Record<string, {name: string; where: string}>
  latestKnownMainline: ValueFact<string>
  progTypes: Record<string, VersionFact>
  attachTypes: Record<string, VersionFact>
  trampoline: Record<string, VersionFact>
  features: Record<FeatureKey, VersionFact>
  configRequirements: ConfigRequirement[]
  lsmList: LsmListFact
  releaseMaps: {
    el: Record<string, ElBuild[]>
    elUpstream: Record<string, Sourced & {major: number}>
    ubuntu: Record<string, Sourced & {releases: string[]}>
    debian: Record<string, Sourced & {release: string}>
    uek: Record<string, Sourced & {release: string}>
    sles: Record<string, Sourced & {release: string; version: string}>
    /** SLE releases by kernel build: series, first build number range, optional flavor. */
    slesBuilds: (Sourced & {series: string; min: number; max: number; flavor?: string; release: string; version: string})[]
    /** RHEL 7 kernel-alt GA kernels (`4.14.0-115.el7a`): series and build to the 7.x release. */
    el7alt: (Sourced & {series: string; build: number; release: string})[]
    /** openEuler dist tags that do not spell the release (`oe1`). */
    openeuler: Record<string, Sourced & {release: string}>
  }
  distros: DistroProfile[]
  /** BPF helpers by name without `bpf_` (`probe_read_kernel`), the mainline version that added each. */
  helpers: Record<string, VersionFact>
  /** Map types by `BPF_MAP_TYPE_` suffix (`RINGBUF`). */
  mapTypes: Record<string, VersionFact>
  /** Map flags by `BPF_F_` suffix (`MMAPABLE`). */
  mapFlags: Record<string, VersionFact>
  /** What a program's instructions can need beyond its program type (src/check/needs.ts). */
  insnFeatures: Record<InsnFeatureKey, VersionFact>
}

export const INSN_FEATURE_KEYS = [
  'globalData',
  'bpf2bpfCalls',
  'tailCalls',
  'boundedLoops',
  'largeInsns',
  'jmpV2',
  'jmp32',
  'atomics',
  'cpuV4',
  'kfuncs',
  'btfFuncInfo',
  'probeReadKernel',
] as const
export type InsnFeatureKey = (typeof INSN_FEATURE_KEYS)[number]

export const FEATURE_KEYS = [
  'bpfSyscall',
  'expectedAttachType',
  'uprobe',
  'uprobeRefCtr',
  'kprobeKernVersionDropped',
  'kernelBtfConfig',
  'sysfsBtf',
  'moduleBtf',
  'moduleBtfAttach',
  'btfTraceTypedefs',
  'syscallWrapper',
  'xdpFrags',
  'memcgAccounting',
  'sleepable',
  'sleepableIter',
  'sleepableUprobe',
  'sleepableStructOps',
  'sleepableTracepoint',
] as const
export type FeatureKey = (typeof FEATURE_KEYS)[number]

const DISTRO_FACT_KEYS = new Set([
  'backports',
  'bpf',
  'kernelBtf',
  'moduleBtf',
  'trampoline',
  'bpfEquivalent',
  'onlyProgTypes',
  'progTypes',
  'attachTypes',
  'config',
  'lsmHasBpf',
])
const MATCH_KEYS = new Set(['distro', 'major', 'release', 'series', 'build', 'flavor', 'arch', 'upstream'])

class Validator {
  readonly problems: string[] = []

  fail(path: string, msg: string): void {
    this.problems.push(`${path}: ${msg}`)
  }

  obj(v: unknown, path: string): Record<string, unknown> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.fail(path, 'must be an object')
      return undefined
    }
    return v as Record<string, unknown>
  }

  str(v: unknown, path: string): v is string {
    if (typeof v !== 'string' || v.trim() === '') {
      this.fail(path, 'must be a non-empty string')
      return false
    }
    return true
  }

  strList(v: unknown, path: string): void {
    if (!Array.isArray(v) || v.length === 0) return this.fail(path, 'must be a non-empty array of strings')
    v.forEach((s, i) => this.str(s, `${path}[${i}]`))
  }

  version(v: unknown, path: string): void {
    if (!isVersion(v)) this.fail(path, `must be a version like "5.5", got ${JSON.stringify(v)}`)
  }

  sourced(o: Record<string, unknown>, path: string): void {
    this.str(o.source, `${path}.source`)
    if (o.note !== undefined) this.str(o.note, `${path}.note`)
    if (o.doubtful !== undefined && typeof o.doubtful !== 'boolean') this.fail(`${path}.doubtful`, 'must be a boolean')
  }

  versionFact(v: unknown, path: string, allowNull: boolean): void {
    const o = this.obj(v, path)
    if (!o) return
    this.sourced(o, path)
    if (o.since === null) {
      if (!allowNull && o.unreleased !== true) this.fail(`${path}.since`, 'null only for unreleased features (unreleased: true)')
    } else {
      this.version(o.since, `${path}.since`)
      if (o.unreleased !== undefined) this.fail(`${path}.unreleased`, 'only with since: null')
    }
  }

  valueFact(v: unknown, path: string, check: (value: unknown, p: string) => void): void {
    const o = this.obj(v, path)
    if (!o) return
    this.sourced(o, path)
    if (!('value' in o)) this.fail(`${path}.value`, 'missing')
    else check(o.value, `${path}.value`)
  }
}

const isBoolOrNull = (val: Validator) => (v: unknown, p: string) => {
  if (v !== null && typeof v !== 'boolean') val.fail(p, 'must be true, false or null')
}

/**
 * Checks the shape of a facts object and the consistency of its references (distro
 * profiles may only name program and attach types the file defines).
 * @throws FactsError `FACTS_INVALID` listing every problem found, `FACTS_TOO_NEW`.
 */
export function validateFacts(data: unknown): Facts {
  const v = new Validator()
  const root = v.obj(data, 'facts')
  if (!root) throw new FactsError('FACTS_INVALID', 'facts: must be an object')
  if (typeof root.schema !== 'number') v.fail('schema', 'must be a number')
  else if (root.schema > FACTS_SCHEMA) {
    throw new FactsError('FACTS_TOO_NEW', `facts schema ${root.schema} is newer than this kcompat reads (${FACTS_SCHEMA})`)
  }
  v.str(root.dataVersion, 'dataVersion')
  v.str(root.reviewed, 'reviewed')
  const sources = v.obj(root.sources, 'sources')
  if (sources) {
    for (const [k, s] of Object.entries(sources)) {
      if (!/^[A-Z][A-Z0-9]+$/.test(k)) v.fail(`sources.${k}`, 'legend keys are upper-case words')
      const o = v.obj(s, `sources.${k}`)
      if (o) {
        v.str(o.name, `sources.${k}.name`)
        v.str(o.where, `sources.${k}.where`)
      }
    }
  }
  checkCitations(v, data, 'facts')
  v.valueFact(root.latestKnownMainline, 'latestKnownMainline', (x, p) => v.version(x, p))

  const progTypes = v.obj(root.progTypes, 'progTypes') ?? {}
  for (const [k, f] of Object.entries(progTypes)) v.versionFact(f, `progTypes.${k}`, false)
  const attachTypes = v.obj(root.attachTypes, 'attachTypes') ?? {}
  for (const [k, f] of Object.entries(attachTypes)) {
    if (!k.startsWith('BPF_')) v.fail(`attachTypes.${k}`, 'attach type names start with BPF_')
    v.versionFact(f, `attachTypes.${k}`, false)
  }
  const tramp = v.obj(root.trampoline, 'trampoline') ?? {}
  for (const [k, f] of Object.entries(tramp)) v.versionFact(f, `trampoline.${k}`, k === 'other')
  if (!('x86_64' in tramp) || !('other' in tramp)) v.fail('trampoline', 'needs x86_64 and other')
  const features = v.obj(root.features, 'features') ?? {}
  for (const k of FEATURE_KEYS) if (!(k in features)) v.fail(`features.${k}`, 'missing')
  for (const [k, f] of Object.entries(features)) {
    if (!(FEATURE_KEYS as readonly string[]).includes(k)) v.fail(`features.${k}`, 'unknown feature key')
    v.versionFact(f, `features.${k}`, false)
  }

  if (!Array.isArray(root.configRequirements)) v.fail('configRequirements', 'must be an array')
  else {
    const ids = new Set<string>()
    root.configRequirements.forEach((r, i) => {
      const p = `configRequirements[${i}]`
      const o = v.obj(r, p)
      if (!o) return
      if (v.str(o.id, `${p}.id`)) {
        if (ids.has(o.id)) v.fail(`${p}.id`, `duplicate id ${o.id}`)
        ids.add(o.id)
      }
      v.strList(o.families, `${p}.families`)
      v.strList(o.symbols, `${p}.symbols`)
      if (Array.isArray(o.symbols)) for (const s of o.symbols) if (typeof s === 'string' && !s.startsWith('CONFIG_')) v.fail(`${p}.symbols`, `${s} is not a CONFIG_ symbol`)
      v.strList(o.accept, `${p}.accept`)
      if (typeof o.common !== 'boolean') v.fail(`${p}.common`, 'must be a boolean')
      if (o.commonOn !== undefined) v.strList(o.commonOn, `${p}.commonOn`)
      if (o.targetPrefix !== undefined) v.str(o.targetPrefix, `${p}.targetPrefix`)
      v.str(o.source, `${p}.source`)
    })
  }
  const lsm = v.obj(root.lsmList, 'lsmList')
  if (lsm) {
    for (const k of ['symbol', 'entry', 'source', 'check']) v.str(lsm[k], `lsmList.${k}`)
    v.strList(lsm.families, 'lsmList.families')
  }

  const maps = v.obj(root.releaseMaps, 'releaseMaps')
  if (maps) {
    const el = v.obj(maps.el, 'releaseMaps.el') ?? {}
    for (const [major, list] of Object.entries(el)) {
      if (!Array.isArray(list)) {
        v.fail(`releaseMaps.el.${major}`, 'must be an array')
        continue
      }
      let last = -1
      list.forEach((e, i) => {
        const p = `releaseMaps.el.${major}[${i}]`
        const o = v.obj(e, p)
        if (!o) return
        v.sourced(o, p)
        if (typeof o.build !== 'number' || !Number.isInteger(o.build)) v.fail(`${p}.build`, 'must be an integer')
        else if (o.build <= last) v.fail(`${p}.build`, 'builds must increase')
        else last = o.build
        v.version(o.release, `${p}.release`)
        if (typeof o.release === 'string' && !o.release.startsWith(`${major}.`)) v.fail(`${p}.release`, `must be a ${major}.x release`)
      })
    }
    for (const name of ['elUpstream', 'ubuntu', 'debian', 'uek', 'sles'] as const) {
      const m = v.obj(maps[name], `releaseMaps.${name}`) ?? {}
      for (const [series, e] of Object.entries(m)) {
        const p = `releaseMaps.${name}.${series}`
        v.version(series, `${p} (key)`)
        const o = v.obj(e, p)
        if (!o) continue
        v.sourced(o, p)
        if (name === 'elUpstream' && typeof o.major !== 'number') v.fail(`${p}.major`, 'must be a number')
        if (name === 'ubuntu') v.strList(o.releases, `${p}.releases`)
        if (name === 'debian' || name === 'uek' || name === 'sles') v.str(o.release, `${p}.release`)
        if (name === 'sles') v.version(o.version, `${p}.version`)
      }
    }
    const listOf = (name: string): Record<string, unknown>[] => {
      const list = maps[name]
      if (!Array.isArray(list)) {
        v.fail(`releaseMaps.${name}`, 'must be an array')
        return []
      }
      return list.map((e, i) => v.obj(e, `releaseMaps.${name}[${i}]`) ?? {})
    }
    listOf('slesBuilds').forEach((o, i) => {
      const p = `releaseMaps.slesBuilds[${i}]`
      v.sourced(o, p)
      v.version(o.series, `${p}.series`)
      v.version(o.version, `${p}.version`)
      v.str(o.release, `${p}.release`)
      for (const k of ['min', 'max']) if (!Number.isInteger(o[k])) v.fail(`${p}.${k}`, 'must be an integer')
      if (o.flavor !== undefined) v.str(o.flavor, `${p}.flavor`)
    })
    listOf('el7alt').forEach((o, i) => {
      const p = `releaseMaps.el7alt[${i}]`
      v.sourced(o, p)
      v.version(o.series, `${p}.series`)
      v.version(o.release, `${p}.release`)
      if (!Number.isInteger(o.build)) v.fail(`${p}.build`, 'must be an integer')
    })
    const oe = v.obj(maps.openeuler, 'releaseMaps.openeuler') ?? {}
    for (const [tag, e] of Object.entries(oe)) {
      const o = v.obj(e, `releaseMaps.openeuler.${tag}`)
      if (!o) continue
      v.sourced(o, `releaseMaps.openeuler.${tag}`)
      v.version(o.release, `releaseMaps.openeuler.${tag}.release`)
    }
  } else {
    v.fail('releaseMaps', 'missing')
  }

  if (!Array.isArray(root.distros)) v.fail('distros', 'must be an array')
  else {
    const ids = new Set<string>()
    root.distros.forEach((d, i) => {
      const p = `distros[${i}]`
      const o = v.obj(d, p)
      if (!o) return
      if (v.str(o.id, `${p}.id`)) {
        if (ids.has(o.id)) v.fail(`${p}.id`, `duplicate id ${o.id}`)
        ids.add(o.id)
      }
      const m = v.obj(o.match, `${p}.match`)
      if (m) {
        for (const k of Object.keys(m)) if (!MATCH_KEYS.has(k)) v.fail(`${p}.match.${k}`, 'unknown match key')
        for (const k of ['distro', 'series', 'flavor', 'arch'] as const) if (m[k] !== undefined) v.strList(m[k], `${p}.match.${k}`)
        if (m.series !== undefined && Array.isArray(m.series)) m.series.forEach((s, j) => v.version(s, `${p}.match.series[${j}]`))
        if (m.major !== undefined && typeof m.major !== 'number') v.fail(`${p}.match.major`, 'must be a number')
        for (const k of ['release', 'upstream'] as const) {
          if (m[k] === undefined) continue
          const r = v.obj(m[k], `${p}.match.${k}`)
          if (!r) continue
          if (r.min === undefined && r.max === undefined) v.fail(`${p}.match.${k}`, 'needs min or max')
          if (r.min !== undefined) v.version(r.min, `${p}.match.${k}.min`)
          if (r.max !== undefined) v.version(r.max, `${p}.match.${k}.max`)
        }
        if (m.build !== undefined) {
          const r = v.obj(m.build, `${p}.match.build`)
          if (r) for (const k of ['min', 'max']) if (r[k] !== undefined && !Number.isInteger(r[k])) v.fail(`${p}.match.build.${k}`, 'must be an integer')
        }
      }
      const f = v.obj(o.facts, `${p}.facts`)
      if (!f) return
      for (const [k, fact] of Object.entries(f)) {
        const fp = `${p}.facts.${k}`
        if (!DISTRO_FACT_KEYS.has(k)) {
          v.fail(fp, 'unknown fact key')
          continue
        }
        switch (k) {
          case 'backports':
            v.valueFact(fact, fp, (x, pp) => {
              if (x !== 'heavy' && x !== 'light') v.fail(pp, 'must be heavy or light')
            })
            break
          case 'bpf':
          case 'lsmHasBpf':
            v.valueFact(fact, fp, (x, pp) => {
              if (typeof x !== 'boolean') v.fail(pp, 'must be a boolean')
            })
            break
          case 'kernelBtf':
          case 'moduleBtf':
          case 'trampoline':
            v.valueFact(fact, fp, isBoolOrNull(v))
            break
          case 'bpfEquivalent':
            v.valueFact(fact, fp, (x, pp) => v.version(x, pp))
            break
          case 'onlyProgTypes':
            v.valueFact(fact, fp, (x, pp) => {
              v.strList(x, pp)
              if (Array.isArray(x)) for (const t of x) if (!(t in progTypes)) v.fail(pp, `unknown program type ${String(t)}`)
            })
            break
          case 'progTypes':
          case 'attachTypes': {
            const table = k === 'progTypes' ? progTypes : attachTypes
            const inner = v.obj(fact, fp) ?? {}
            for (const [name, ff] of Object.entries(inner)) {
              if (!(name in table)) v.fail(`${fp}.${name}`, `not defined in top-level ${k}`)
              v.valueFact(ff, `${fp}.${name}`, isBoolOrNull(v))
            }
            break
          }
          case 'config': {
            const inner = v.obj(fact, fp) ?? {}
            for (const [name, ff] of Object.entries(inner)) {
              if (!name.startsWith('CONFIG_')) v.fail(`${fp}.${name}`, 'not a CONFIG_ symbol')
              v.valueFact(ff, `${fp}.${name}`, (x, pp) => {
                if (x !== null && typeof x !== 'string') v.fail(pp, 'must be a string or null')
              })
            }
            break
          }
        }
      }
    })
  }

  for (const key of ['helpers', 'mapTypes', 'mapFlags'] as const) {
    const m = v.obj(root[key], key) ?? {}
    for (const [k, f] of Object.entries(m)) v.versionFact(f, `${key}.${k}`, false)
  }
  const insn = v.obj(root.insnFeatures, 'insnFeatures') ?? {}
  for (const k of INSN_FEATURE_KEYS) if (!(k in insn)) v.fail(`insnFeatures.${k}`, 'missing')
  for (const [k, f] of Object.entries(insn)) {
    if (!(INSN_FEATURE_KEYS as readonly string[]).includes(k)) v.fail(`insnFeatures.${k}`, 'unknown feature key')
    v.versionFact(f, `insnFeatures.${k}`, false)
  }

  if (v.problems.length > 0) {
    const shown = v.problems.slice(0, 20).join('; ')
    const more = v.problems.length > 20 ? ` (and ${v.problems.length - 20} more)` : ''
    throw new FactsError('FACTS_INVALID', `invalid kernel facts: ${shown}${more}`)
  }
  return root as unknown as Facts
}

/** Candidate locations of facts.json: beside this module, then the package's src/ copy. */
export function factsPathCandidates(): string[] {
  return [
    fileURLToPath(new URL('./facts.json', import.meta.url)),
    fileURLToPath(new URL('../../../src/kernel/facts/facts.json', import.meta.url)),
  ]
}

let cached: Facts | undefined

/**
 * A data file the build wrote beside the start-up bundles (in dist/, two levels above
 * this module).
 * @throws FactsError `FACTS_NOT_FOUND` when it is missing.
 */
export function readBuiltData(name: string): string {
  const path = fileURLToPath(new URL(`../../${name}`, import.meta.url))
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    throw new FactsError('FACTS_NOT_FOUND', `${path}: ${(e as Error).message} (run npm run build)`)
  }
}

/**
 * In the start-up bundles (scripts/bundle-fast.mjs): the name of a file beside the
 * bundles holding the shipped facts as this module read, validated and expanded them at
 * build time, as JSON. Validating at every start cost `check` ~10 ms of its ~45 ms of
 * own CPU time. (A file rather than a string inlined in the bundle: the code cache of
 * the bundle held the 127 KB string a second time, and every `check` read both.)
 */
declare const __KCOMPAT_FACTS: string | undefined

/**
 * Reads and validates the shipped facts file (once per process).
 * @throws FactsError `FACTS_NOT_FOUND`, `FACTS_INVALID`, `FACTS_TOO_NEW`.
 */
export function loadFacts(): Facts {
  if (cached) return cached
  if (typeof __KCOMPAT_FACTS !== 'undefined') return (cached = JSON.parse(readBuiltData(__KCOMPAT_FACTS)) as Facts)
  const path = factsPathCandidates().find((p) => existsSync(p))
  if (!path) throw new FactsError('FACTS_NOT_FOUND', `kernel facts file not found (looked in ${factsPathCandidates().join(', ')})`)
  cached = parseFacts(readFileSync(path, 'utf8'), path)
  return cached
}

/** Parses and validates facts JSON text; legend keys in sources are expanded. */
export function parseFacts(text: string, name = 'facts.json'): Facts {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new FactsError('FACTS_INVALID', `${name} is not valid JSON: ${(e as Error).message}`)
  }
  const facts = validateFacts(data)
  expandSources(facts, facts.sources)
  return facts
}

/**
 * Citations a user cannot follow: research notes outside the repository and this
 * project's own issue numbers. A source or note that names one is refused.
 */
const PRIVATE_CITATION = /features\.md|§|\bissue \d|research\//

function checkCitations(v: Validator, node: unknown, path: string): void {
  if (Array.isArray(node)) {
    node.forEach((x, i) => checkCitations(v, x, `${path}[${i}]`))
    return
  }
  if (node === null || typeof node !== 'object') return
  for (const [k, x] of Object.entries(node as Record<string, unknown>)) {
    if ((k === 'source' || k === 'note') && typeof x === 'string' && PRIVATE_CITATION.test(x)) {
      v.fail(`${path}.${k}`, `cites something users cannot look up (${PRIVATE_CITATION.exec(x)![0]}): name the public original`)
    }
    if (k === 'ref') v.fail(`${path}.ref`, 'no longer used: the source itself must be public')
    checkCitations(v, x, `${path}.${k}`)
  }
}

/**
 * Rewrites every `source` string in place: each legend key (a whole upper-case word such
 * as `BCC`) becomes the legend's short name, and where to find those names is added once
 * at the end — `BCC, EDOCS` becomes `bcc kernel-versions.md, docs.ebpf.io
 * (github.com/iovisor/bcc/…; docs.ebpf.io, …)`. Words that are not keys stay as they are.
 */
export function expandSource(source: string, legend: Facts['sources']): string {
  const where: string[] = []
  const text = source.replace(/\b[A-Z][A-Z0-9]+\b/g, (word) => {
    const e = Object.hasOwn(legend, word) ? legend[word] : undefined
    if (!e) return word
    if (!where.includes(e.where)) where.push(e.where)
    return e.name
  })
  return where.length === 0 ? text : `${text} (${where.join('; ')})`
}

function expandSources(node: unknown, legend: Facts['sources']): void {
  if (Array.isArray(node)) {
    for (const x of node) expandSources(x, legend)
    return
  }
  if (node === null || typeof node !== 'object') return
  const o = node as Record<string, unknown>
  for (const [k, x] of Object.entries(o)) {
    if (k === 'source' && typeof x === 'string') o[k] = expandSource(x, legend)
    else if (k !== 'sources') expandSources(x, legend)
  }
}
