/**
 * Cross-kernel questions answered from the index: which kernels have function X and
 * with which prototype, where member Y of struct Z sits in each kernel, which kernels
 * there are.
 *
 * Every answer lists kernels as {@link KernelRef}s in a stable order (distro, version,
 * arch, release; numbers compared as numbers), and says which kernels lack the thing
 * (`absent`, `memberMissing`, `structMissing`) and which cannot answer because they have
 * no BTF (`noBtf`). Near names are suggested when nothing matches.
 */
import type {ConfigFacts, KernelSource} from '../archive/manifest.js'
import {normalizeArch} from '../archive/layout.js'
import {naturalCompare} from './collate.js'
import {fillName} from './ctype.js'
import {type Db, openDb} from './db.js'
import {type EnumInfo, type FlatMember, type Layout, decodeEnum, decodeLayout, flattenLayout} from './codec.js'
import {type RecordLine, forEachRecord, headTexts, recordsForKey} from './chunks.js'
import {IndexError} from './errors.js'
import {ANON_ENUM_PREFIX, type KernelCounts, type StoreName, TRACEPOINT_PREFIX, splitOrigin} from './extract.js'
import {blobToIds, ksetOrThrow} from './kset.js'
import {nearKeys, nearNames} from './suggest.js'

/** A kernel, as answers name it. */
export interface KernelRef {
  release: string
  distro: string
  version: string
  arch: string
  flavor: string
}

/** A kernel with everything the manifest says about it, as `listKernels` returns it. */
export interface KernelInfo extends KernelRef {
  btf: 'in-kernel' | 'generated' | 'none'
  /** sha256 of the raw BTF; null without BTF. */
  sha256: string | null
  size: number | null
  path: string | null
  config: ConfigFacts | null
  source: KernelSource
  added: string
  /** What the index holds of its BTF; null without BTF. */
  counts: KernelCounts | null
  /** Modules whose BTF is indexed; null when the archive holds no module BTF for it. */
  modules: number | null
}

export interface KernelFilter {
  distro?: string
  version?: string
  /** Normalised like the archive does (`amd64` → `x86_64`, `aarch64` → `arm64`). */
  arch?: string
  release?: string
}

export interface FuncHit extends KernelRef {
  /** C declaration, e.g. `long do_sys_open(int dfd, const char *filename, int flags, umode_t mode)`. */
  prototype: string
  /** The module whose BTF defines it (`nf_conntrack`), or null for vmlinux. */
  module: string | null
}

export interface FuncResult {
  query: string
  /** `lsm` for bpf_lsm_* hooks, `iter` for bpf_iter_* targets, `tracepoint` for findTracepoint, else `func`. */
  kind: 'func' | 'lsm' | 'iter' | 'tracepoint'
  /** One entry per kernel and prototype (a static function may exist twice in a kernel). */
  kernels: FuncHit[]
  /** The distinct prototypes, in the order of `kernels`. */
  prototypes: string[]
  /** Kernels with BTF that do not have it. */
  absent: KernelRef[]
  /** Kernels without BTF (unknown). */
  noBtf: KernelRef[]
  /** Near names, when no kernel has it. */
  suggestions: string[]
}

export interface FieldHit extends KernelRef {
  /** The struct/union (or typedef) name queried. */
  struct: string
  kind: 'struct' | 'union'
  /** Size of the struct/union in bytes. */
  structSize: number
  /** The member path as queried, e.g. `pid` or `f_path.dentry`. */
  member: string
  /** Offset from the start of the struct, in bits. */
  bitOffset: number
  /** Offset in bytes (rounded down for a bitfield; see bitOffset). */
  byteOffset: number
  /** Bitfield width in bits; 0 when not a bitfield. */
  bitfieldSize: number
  /** C type name of the member, e.g. `pid_t`, `struct path`, `char[16]`. */
  type: string
  /** true when reached through an anonymous struct/union member. */
  anonymous: boolean
  /** The module whose BTF has this layout, or null for vmlinux. */
  module: string | null
}

export interface RelatedMember {
  /** A near member name, e.g. `__state` when `state` was asked for. */
  member: string
  /** Kernels whose struct has that member. */
  kernels: KernelRef[]
}

export interface FieldResult {
  query: string
  struct: string
  member: string
  kernels: FieldHit[]
  /** Kernels that have the struct but not the member. */
  memberMissing: KernelRef[]
  /** Kernels with BTF that do not have the struct. */
  structMissing: KernelRef[]
  noBtf: KernelRef[]
  /** Near member names and where they exist (whenever some kernel lacks the member). */
  related: RelatedMember[]
  /** Near struct names, when no kernel has the struct. */
  suggestions: string[]
}

export interface EnumHit extends KernelRef {
  /** The module whose BTF has it, or null for vmlinux. */
  module: string | null
  kind: 'enum' | 'enum64'
  size: number
  signed: boolean
  /** 64-bit values are decimal strings (JSON has no 64-bit integers). */
  values: {name: string; value: number | string}[]
}

export interface EnumResult {
  query: string
  kernels: EnumHit[]
  absent: KernelRef[]
  noBtf: KernelRef[]
  suggestions: string[]
}

interface KernelRow {
  id: number
  release: string
  distro: string
  version: string
  arch: string
  flavor: string
  btf: KernelInfo['btf']
  sha256: string | null
  size: number | null
  path: string | null
  config: string | null
  source: string
  added: string
  n_funcs: number | null
  n_tracepoints: number | null
  n_structs: number | null
  n_enums: number | null
  n_modules: number | null
}

// the order of ICU's `en` collator with numeric ordering, without its start-up cost (./collate.ts)
export function compareKernels(a: KernelRef, b: KernelRef): number {
  return (
    naturalCompare(a.distro, b.distro) ||
    naturalCompare(a.version, b.version) ||
    naturalCompare(a.arch, b.arch) ||
    naturalCompare(a.release, b.release)
  )
}

function ref(k: KernelRef): KernelRef {
  return {release: k.release, distro: k.distro, version: k.version, arch: k.arch, flavor: k.flavor}
}

/**
 * An open index. Queries are synchronous and read only what they need: one or two
 * compressed chunks per name looked up.
 */
export class KernelIndex {
  private readonly kernels: Map<number, KernelRow>
  /** Kernel ids in listing order. */
  private readonly order: number[]
  private readonly ksetCache = new Map<number, number[]>()

  private constructor(private readonly db: Db) {
    const rows = db.prepare('SELECT * FROM kernel').all() as KernelRow[]
    rows.sort(compareKernels)
    this.kernels = new Map(rows.map((r) => [r.id, r]))
    this.order = rows.map((r) => r.id)
  }

  /** Opens the index file (migrating its schema if it is older). */
  static open(dbPath: string): KernelIndex {
    return KernelIndex.wrap(openDb(dbPath))
  }

  /** A KernelIndex on a connection openDb made (it takes the connection: {@link close} closes it). */
  static wrap(db: Db): KernelIndex {
    try {
      return new KernelIndex(db)
    } catch (e) {
      db.close()
      throw e
    }
  }

  close(): void {
    this.db.close()
  }

  /** Kernels in the index, optionally filtered, in listing order. */
  listKernels(filter: KernelFilter = {}): KernelInfo[] {
    const arch = filter.arch === undefined ? undefined : normalizeArch(filter.arch)
    return this.order
      .map((id) => this.kernels.get(id)!)
      .filter(
        (k) =>
          (filter.distro === undefined || k.distro === filter.distro) &&
          (filter.version === undefined || k.version === filter.version) &&
          (arch === undefined || k.arch === arch) &&
          (filter.release === undefined || k.release === filter.release),
      )
      .map((k) => ({
        ...ref(k),
        btf: k.btf,
        sha256: k.sha256,
        size: k.size,
        path: k.path,
        config: k.config === null ? null : (JSON.parse(k.config) as ConfigFacts),
        source: JSON.parse(k.source) as KernelSource,
        added: k.added,
        counts:
          k.n_funcs === null
            ? null
            : {funcs: k.n_funcs, tracepoints: k.n_tracepoints ?? 0, structs: k.n_structs ?? 0, enums: k.n_enums ?? 0},
        modules: k.n_modules ?? null,
      }))
  }

  /** Which kernels have function `name`, and with which prototype. */
  findFunc(name: string): FuncResult {
    const kind = name.startsWith('bpf_lsm_') ? 'lsm' : name.startsWith('bpf_iter_') ? 'iter' : 'func'
    return this.findPrototypes('fn', name, name, kind, (t) => fillName(t, name))
  }

  /**
   * Which kernels have raw tracepoint `name` (`sched_switch` or `btf_trace_sched_switch`),
   * with its `btf_trace_` typedef as the prototype.
   */
  findTracepoint(name: string): FuncResult {
    const short = name.startsWith(TRACEPOINT_PREFIX) ? name.slice(TRACEPOINT_PREFIX.length) : name
    return this.findPrototypes('tp', short, name, 'tracepoint', (t) => `typedef ${fillName(t, TRACEPOINT_PREFIX + short)}`)
  }

  private findPrototypes(
    store: StoreName,
    key: string,
    query: string,
    kind: FuncResult['kind'],
    render: (template: string) => string,
  ): FuncResult {
    const hits: (FuncHit & {id: number})[] = []
    const have = new Set<number>()
    for (const r of this.records(store, key)) {
      const {modules, content} = splitOrigin(r.content)
      const prototype = render(content)
      for (const id of this.ksetIds(r.kset)) {
        const k = this.kernels.get(id)
        if (!k) continue
        for (const module of modules ?? [null]) hits.push({...ref(k), prototype, module, id})
        have.add(id)
      }
    }
    // per kernel: vmlinux first, then modules by name
    hits.sort(
      (a, b) =>
        compareKernels(a, b) ||
        compareModules(a.module, b.module) ||
        (a.prototype < b.prototype ? -1 : a.prototype > b.prototype ? 1 : 0),
    )
    const {absent, noBtf} = this.partition(have)
    const suggestions = hits.length === 0 ? this.suggestKeys(store, key) : []
    return {
      query,
      kind,
      kernels: hits.map(({id: _id, ...h}) => h),
      prototypes: [...new Set(hits.map((h) => h.prototype))],
      absent,
      noBtf,
      suggestions,
    }
  }

  /**
   * Where member `query` (`STRUCT.MEMBER`, e.g. `task_struct.pid`; deeper paths like
   * `file.f_path.dentry` follow members whose type is a struct/union by value) sits in
   * each kernel. `struct `/`union ` before the name is accepted.
   * @throws IndexError `INDEX_BAD_QUERY` when there is no member part.
   */
  findField(query: string): FieldResult {
    const q = query.trim().replace(/^(struct|union)\s+/, '')
    const parts = q.split('.')
    const struct = parts[0]!
    const path = parts.slice(1)
    if (struct === '' || path.length === 0 || path.some((p) => p === '')) {
      throw new IndexError('INDEX_BAD_QUERY', `'${query}' is not STRUCT.MEMBER (e.g. task_struct.pid)`)
    }
    const layouts = new LayoutCache(this)
    const variants = layouts.variants(struct)
    const hits: (FieldHit & {id: number})[] = []
    const withStruct = new Set<number>()
    const withMember = new Set<number>()
    for (const v of variants) {
      for (const id of v.kernels) {
        const k = this.kernels.get(id)
        if (!k) continue
        withStruct.add(id)
        const m = resolvePath(layouts, v.layout, path, id, 0, v.module)
        if (!m) continue
        withMember.add(id)
        hits.push({
          ...ref(k),
          module: v.module,
          struct,
          kind: v.layout.kind,
          structSize: v.layout.size,
          member: path.join('.'),
          bitOffset: m.bitOffset,
          byteOffset: Math.floor(m.bitOffset / 8),
          bitfieldSize: m.bitfieldSize,
          type: m.type,
          anonymous: m.anonymous,
          id,
        })
      }
    }
    hits.sort((a, b) => compareKernels(a, b) || compareModules(a.module, b.module) || a.bitOffset - b.bitOffset)
    const memberMissing = this.order.filter((id) => withStruct.has(id) && !withMember.has(id)).map((id) => ref(this.kernels.get(id)!))
    const {absent: structMissing, noBtf} = this.partition(withStruct)

    // Near member names, with the kernels that have them (single-level paths).
    const related: RelatedMember[] = []
    if (path.length === 1 && memberMissing.length > 0) {
      const where = new Map<string, Set<number>>()
      for (const v of variants) {
        for (const m of flatLayout(v.layout)) {
          if (m.name === '') continue
          let s = where.get(m.name)
          if (!s) where.set(m.name, (s = new Set()))
          for (const id of v.kernels) s.add(id)
        }
      }
      for (const name of nearNames(path[0]!, where.keys(), 5)) {
        const ids = where.get(name)!
        related.push({member: name, kernels: this.order.filter((id) => ids.has(id)).map((id) => ref(this.kernels.get(id)!))})
      }
    }
    return {
      query,
      struct,
      member: path.join('.'),
      kernels: hits.map(({id: _id, ...h}) => h),
      memberMissing,
      structMissing,
      noBtf,
      related,
      suggestions: variants.length === 0 ? this.suggestKeys('st', struct) : [],
    }
  }

  /** Which kernels have enum `name` (anonymous enums: `(anon) FIRST_ENUMERATOR`), with its values. */
  findEnum(name: string): EnumResult {
    const hits: (EnumHit & {id: number})[] = []
    const have = new Set<number>()
    for (const r of this.records('en', name)) {
      const {modules, content} = splitOrigin(r.content)
      const e: EnumInfo = decodeEnum(content)
      const values = e.values.map((v) => ({name: v.name, value: typeof v.value === 'bigint' ? v.value.toString() : v.value}))
      for (const id of this.ksetIds(r.kset)) {
        const k = this.kernels.get(id)
        if (!k) continue
        have.add(id)
        for (const module of modules ?? [null]) hits.push({...ref(k), module, kind: e.kind, size: e.size, signed: e.signed, values, id})
      }
    }
    hits.sort((a, b) => compareKernels(a, b) || compareModules(a.module, b.module))
    const {absent, noBtf} = this.partition(have)
    return {
      query: name,
      kernels: hits.map(({id: _id, ...h}) => h),
      absent,
      noBtf,
      suggestions: hits.length === 0 && !name.startsWith(ANON_ENUM_PREFIX) ? this.suggestKeys('en', name) : [],
    }
  }

  /**
   * Every function of one kernel: name → prototypes (usually one); vmlinux's, or with
   * `module` that module's. For comparisons across kernels and for tests; reads the
   * whole function store.
   */
  kernelFuncs(kernel: KernelRef, module: string | null = null): Map<string, string[]> {
    const id = this.kernelId(kernel)
    const out = new Map<string, string[]>()
    this.forKernel('fn', id, (line) => {
      const o = splitOrigin(line.content)
      if (module === null ? o.modules !== null : !o.modules?.includes(module)) return
      const r = {key: line.key, content: o.content}
      const list = out.get(r.key)
      const proto = fillName(r.content, r.key)
      if (list) list.push(proto)
      else out.set(r.key, [proto])
    })
    return out
  }

  /**
   * Every struct/union layout of one kernel: name → layouts (usually one); vmlinux's, or
   * with `module` those that module's BTF adds. Reads the whole store.
   */
  kernelLayouts(kernel: KernelRef, module: string | null = null): Map<string, Layout[]> {
    const id = this.kernelId(kernel)
    const out = new Map<string, Layout[]>()
    this.forKernel('st', id, (line) => {
      const o = splitOrigin(line.content)
      if (module === null ? o.modules !== null : !o.modules?.includes(module)) return
      const r = {key: line.key, content: o.content}
      const list = out.get(r.key)
      const l = decodeLayout(r.content)
      if (list) list.push(l)
      else out.set(r.key, [l])
    })
    return out
  }

  private forKernel(store: StoreName, id: number, fn: (r: RecordLine) => void): void {
    const has = new Map<number, boolean>()
    forEachRecord(this.db, store, (r) => {
      let yes = has.get(r.kset)
      if (yes === undefined) has.set(r.kset, (yes = this.ksetIds(r.kset).includes(id)))
      if (yes) fn(r)
    })
  }

  private kernelId(kernel: KernelRef): number {
    for (const [id, k] of this.kernels) {
      if (k.release === kernel.release && k.distro === kernel.distro && k.version === kernel.version && k.arch === kernel.arch) return id
    }
    throw new IndexError('INDEX_BAD_QUERY', `kernel ${kernel.distro}/${kernel.version}/${kernel.arch}/${kernel.release} is not in the index`)
  }

  /** @internal */
  records(store: StoreName, key: string): RecordLine[] {
    return recordsForKey(this.db, store, key)
  }

  /** @internal Kernel ids of a kernel set. */
  ksetIds(kset: number): number[] {
    let ids = this.ksetCache.get(kset)
    if (ids === undefined) {
      const row = this.db.prepare('SELECT kernels FROM kset WHERE id = ?').get(kset) as {kernels: Buffer} | undefined
      ids = ksetOrThrow(new Map(row ? [[kset, blobToIds(row.kernels)]] : []), kset)
      this.ksetCache.set(kset, ids)
    }
    return ids
  }

  /** Kernels not in `have`: with BTF (absent) and without (noBtf), in listing order. */
  private partition(have: Set<number>): {absent: KernelRef[]; noBtf: KernelRef[]} {
    const absent: KernelRef[] = []
    const noBtf: KernelRef[] = []
    for (const id of this.order) {
      if (have.has(id)) continue
      const k = this.kernels.get(id)!
      if (k.btf === 'none') noBtf.push(ref(k))
      else absent.push(ref(k))
    }
    return {absent, noBtf}
  }

  /** Near keys of a store: decompresses the record heads of the whole store. */
  private suggestKeys(store: StoreName, key: string): string[] {
    return nearKeys(key, headTexts(this.db, store))
  }
}

interface LayoutVariant {
  layout: Layout
  kernels: number[]
  /** The module whose BTF has it; null for vmlinux. */
  module: string | null
}

/** Layout variants by struct name, read once per query; vmlinux's before modules'. */
class LayoutCache {
  private readonly cache = new Map<string, LayoutVariant[]>()

  constructor(private readonly index: KernelIndex) {}

  variants(name: string): LayoutVariant[] {
    let v = this.cache.get(name)
    if (!v) {
      v = this.index.records('st', name).flatMap((r) => {
        const {modules, content} = splitOrigin(r.content)
        const layout = decodeLayout(content)
        const kernels = this.index.ksetIds(r.kset)
        return (modules ?? [null]).map((module) => ({layout, kernels, module}))
      })
      v.sort((a, b) => compareModules(a.module, b.module))
      this.cache.set(name, v)
    }
    return v
  }

  /**
   * The layout of `name` in kernel `id` (the first, if it has several): vmlinux's, else
   * the one of the module `module` (where the outer struct was found), else any module's.
   */
  inKernel(name: string, id: number, module: string | null = null): Layout | undefined {
    const mine = this.variants(name).filter((v) => v.kernels.includes(id))
    return (mine.find((v) => v.module === null) ?? mine.find((v) => v.module === module) ?? mine[0])?.layout
  }
}

/** vmlinux (null) first, then modules by name. */
function compareModules(a: string | null, b: string | null): number {
  if (a === b) return 0
  if (a === null) return -1
  if (b === null) return 1
  return a < b ? -1 : 1
}

interface Resolved {
  bitOffset: number
  bitfieldSize: number
  type: string
  anonymous: boolean
}

const MAX_PATH = 16

/**
 * A layout's flattened members, made once per layout: `findField` follows the path in
 * every kernel a layout variant covers (16 times for task_struct in the shipped archive),
 * and then scans every variant for near member names.
 */
const flattened = new WeakMap<Layout, FlatMember[]>()
function flatLayout(layout: Layout): FlatMember[] {
  let f = flattened.get(layout)
  if (!f) flattened.set(layout, (f = flattenLayout(layout)))
  return f
}

/**
 * Follows a member path in a layout. A member whose type is an inline anonymous
 * struct/union, or `struct X`/`union X`/a typedef of an anonymous struct by value, can
 * be continued into.
 */
function resolvePath(cache: LayoutCache, layout: Layout, path: string[], kernelId: number, depth: number, module: string | null): Resolved | undefined {
  if (depth > MAX_PATH) return undefined
  const m: FlatMember | undefined = flatLayout(layout).find((x) => x.name === path[0])
  if (!m) return undefined
  if (path.length === 1) return {bitOffset: m.bitOffset, bitfieldSize: m.bitfieldSize, type: m.type, anonymous: m.depth > 0}
  let inner: Layout | undefined = m.nested
  if (!inner) {
    const named = /^(?:(?:struct|union) )?([A-Za-z_][A-Za-z0-9_]*)$/.exec(m.type)
    if (named) inner = cache.inKernel(named[1]!, kernelId, module)
  }
  if (!inner) return undefined
  const rest = resolvePath(cache, inner, path.slice(1), kernelId, depth + 1, module)
  if (!rest) return undefined
  return {...rest, bitOffset: m.bitOffset + rest.bitOffset, anonymous: rest.anonymous || m.depth > 0}
}
