/**
 * What the index keeps of one kernel's BTF, as records of four kinds ("stores"):
 *
 * - `fn`  every FUNC: key = function name, content = its declaration template
 *         (ctype.ts), e.g. `long \x01(int dfd, const char *filename)`. `bpf_lsm_*`
 *         (LSM hooks) and `bpf_iter_*` (iterator targets) are ordinary FUNCs, told
 *         apart by name when queried.
 * - `tp`  every `btf_trace_<name>` typedef (raw tracepoints for tp_btf): key = `<name>`,
 *         content = the typedef's declaration template, `void (*\x01)(void *, …)`.
 * - `st`  every named struct/union, and every typedef of an anonymous struct/union
 *         (`atomic_t`): key = the name, content = the layout (codec.ts).
 * - `en`  every enum (32- and 64-bit): key = the name, or `(anon) FIRST_ENUMERATOR`
 *         for an anonymous one; content = size, signedness and values (codec.ts).
 *
 * Within a kernel the same (key, content) is kept once; the same key with different
 * contents (static functions of the same name, structs defined differently in two
 * compilation units) gives several records.
 *
 * Module BTF (split BTF on the kernel's vmlinux) gives records of the same four stores
 * whose content starts with the names of the modules that have it, comma-separated
 * between two \x02 bytes (`\x02nf_conntrack\x02long \x01(...)`,
 * `\x02ath10k_core,ath11k\x02...` for a struct that two modules' BTF both carry): a
 * record says where the thing is, the same thing in the same modules of many kernels is
 * still one record, and a type that BTF dedup left in hundreds of modules is one record
 * per kernel, not hundreds. Module records sort before vmlinux records of the same key. A module's struct, enum or tracepoint
 * that is exactly one of vmlinux's (BTF dedup leaves such copies in module BTF, e.g.
 * `struct module`) is not recorded for the module: the kernel's answer is vmlinux's,
 * and libbpf never looks at module types where vmlinux has a candidate.
 */
import type {Btf} from '../btf/btf.js'
import {Kind} from '../btf/wire.js'
import {encodeEnum, encodeLayout, anonymousComposite} from './codec.js'
import {CTypeNamer, cleanName} from './ctype.js'

export const STORES = ['fn', 'tp', 'st', 'en'] as const
export type StoreName = (typeof STORES)[number]

/** Key and content of a record, joined by a TAB (which sorts before every printable character). */
export type KeyedContent = string

export interface KernelCounts {
  funcs: number
  tracepoints: number
  structs: number
  enums: number
}

export interface KernelRecords {
  /** Per store: distinct `key \t content` strings, sorted. */
  stores: Record<StoreName, KeyedContent[]>
  /** vmlinux's counts. */
  counts: KernelCounts
  /** Number of modules whose records are included (withModuleRecords). */
  modules?: number
}

export const TRACEPOINT_PREFIX = 'btf_trace_'
export const ANON_ENUM_PREFIX = '(anon) '

/** Marks a module record's content: `\x02<module>\x02<content>`. */
export const MODULE_MARK = '\x02'

/** Splits a record's content into its modules (null: vmlinux) and the content proper. */
export function splitOrigin(content: string): {modules: string[] | null; content: string} {
  if (!content.startsWith(MODULE_MARK)) return {modules: null, content}
  const end = content.indexOf(MODULE_MARK, 1)
  return {modules: content.slice(1, end).split(','), content: content.slice(end + 1)}
}

/**
 * Builds the records of one kernel's BTF (base BTF; split BTF contributes its own types
 * only). With `module`, the records are that module's (see the file comment).
 */
export function extractRecords(btf: Btf, module?: string): KernelRecords {
  const namer = new CTypeNamer(btf)
  // Most FUNCs share their FUNC_PROTO with others: render each once.
  const templates = new Map<number, string>()
  const template = (id: number): string => {
    let t = templates.get(id)
    if (t === undefined) templates.set(id, (t = namer.template(id)))
    return t
  }
  // Collected with duplicates; sorting brings duplicates together, and they are dropped then.
  const sets: Record<StoreName, KeyedContent[]> = {fn: [], tp: [], st: [], en: []}
  const counts: KernelCounts = {funcs: 0, tracepoints: 0, structs: 0, enums: 0}
  const mark = module === undefined ? '' : `${MODULE_MARK}${module}${MODULE_MARK}`
  for (const t of btf.types) {
    switch (t.kind) {
      case Kind.FUNC:
        if (t.name === '') break
        counts.funcs++
        sets.fn.push(`${cleanName(t.name)}\t${mark}${template(t.type)}`)
        break
      case Kind.TYPEDEF: {
        if (t.name.startsWith(TRACEPOINT_PREFIX) && t.name.length > TRACEPOINT_PREFIX.length) {
          counts.tracepoints++
          sets.tp.push(`${cleanName(t.name.slice(TRACEPOINT_PREFIX.length))}\t${mark}${namer.template(t.type)}`)
        }
        const anon = anonymousComposite(btf, t.type)
        if (anon && t.name !== '') {
          counts.structs++
          sets.st.push(`${cleanName(t.name)}\t${mark}${encodeLayout(btf, namer, anon, true)}`)
        }
        break
      }
      case Kind.STRUCT:
      case Kind.UNION:
        if (t.name === '') break
        counts.structs++
        sets.st.push(`${cleanName(t.name)}\t${mark}${encodeLayout(btf, namer, t, false)}`)
        break
      case Kind.ENUM:
      case Kind.ENUM64: {
        counts.enums++
        const key = t.name !== '' ? t.name : `${ANON_ENUM_PREFIX}${t.values[0]?.name ?? ''}`
        sets.en.push(`${cleanName(key)}\t${mark}${encodeEnum(t)}`)
        break
      }
      default:
        break
    }
  }
  // The default sort orders strings by UTF-16 code units, as compareStrings does, natively.
  const sorted = (list: string[]): string[] => {
    list.sort()
    let n = 0
    for (let i = 0; i < list.length; i++) if (i === 0 || list[i] !== list[n - 1]) list[n++] = list[i]!
    list.length = n
    return list
  }
  return {stores: {fn: sorted(sets.fn), tp: sorted(sets.tp), st: sorted(sets.st), en: sorted(sets.en)}, counts}
}

/**
 * One kernel's records: its vmlinux records and those of each of its modules, merged
 * and sorted. A module's tp/st/en record whose key and content equal a vmlinux record
 * (a copy of a vmlinux type) is dropped; FUNCs are always kept (a module function is
 * another function than a vmlinux one of the same name). Counts stay vmlinux's;
 * `modules` counts the modules.
 */
export function withModuleRecords(vmlinux: KernelRecords, modules: readonly {name: string; records: KernelRecords}[]): KernelRecords {
  const stores = {} as Record<StoreName, KeyedContent[]>
  for (const s of STORES) {
    const own = new Set(vmlinux.stores[s])
    const all = [...vmlinux.stores[s]]
    // `key \t content` (without the module mark) → the modules that have it
    const where = new Map<string, string[]>()
    for (const m of [...modules].sort((a, b) => compareStrings(a.name, b.name))) {
      const cut = m.name.length + 2
      for (const line of m.records.stores[s]) {
        const tab = line.indexOf('\t')
        const plain = line.slice(0, tab + 1) + line.slice(tab + 1 + cut)
        if (s !== 'fn' && own.has(plain)) continue
        const list = where.get(plain)
        if (!list) where.set(plain, [m.name])
        else if (list[list.length - 1] !== m.name) list.push(m.name)
      }
    }
    for (const [plain, names] of where) {
      const tab = plain.indexOf('\t')
      all.push(`${plain.slice(0, tab + 1)}${MODULE_MARK}${names.join(',')}${MODULE_MARK}${plain.slice(tab + 1)}`)
    }
    all.sort()
    let n = 0
    for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[n - 1]) all[n++] = all[i]!
    all.length = n
    stores[s] = all
  }
  return {stores, counts: vmlinux.counts, modules: modules.length}
}

/** Plain code-unit order, the order records are kept in (and, for ASCII, SQLite's BINARY order). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
