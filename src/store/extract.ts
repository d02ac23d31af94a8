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
import type {BtfType} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {encodeEnum, encodeLayout, anonymousComposite} from './codec.js'
import {CTypeNamer, type TypeSource, cleanName} from './ctype.js'

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
 * The records one type gives (none, one, or for a typedef both a tracepoint and a
 * layout), passed to `emit` with their store. `template` renders a FUNC_PROTO's
 * declaration template (callers memoise it). Shared by extractRecords and the pack
 * reader (extract-pack.ts), so both give the same records for the same type.
 */
export function typeRecords(
  src: TypeSource,
  namer: CTypeNamer,
  t: BtfType,
  template: (id: number) => string,
  emit: (store: StoreName, line: KeyedContent) => void,
): void {
  switch (t.kind) {
    case Kind.FUNC:
      if (t.name === '') break
      emit('fn', `${cleanName(t.name)}\t${template(t.type)}`)
      break
    case Kind.TYPEDEF: {
      if (t.name.startsWith(TRACEPOINT_PREFIX) && t.name.length > TRACEPOINT_PREFIX.length) {
        emit('tp', `${cleanName(t.name.slice(TRACEPOINT_PREFIX.length))}\t${namer.template(t.type)}`)
      }
      const anon = anonymousComposite(src, t.type)
      if (anon && t.name !== '') emit('st', `${cleanName(t.name)}\t${encodeLayout(src, namer, anon, true)}`)
      break
    }
    case Kind.STRUCT:
    case Kind.UNION:
      if (t.name === '') break
      emit('st', `${cleanName(t.name)}\t${encodeLayout(src, namer, t, false)}`)
      break
    case Kind.ENUM:
    case Kind.ENUM64: {
      const key = t.name !== '' ? t.name : `${ANON_ENUM_PREFIX}${t.values[0]?.name ?? ''}`
      emit('en', `${cleanName(key)}\t${encodeEnum(t)}`)
      break
    }
    default:
      break
  }
}

/** Sorts a list of records and drops duplicates, in place. */
export function sortUnique(list: KeyedContent[]): KeyedContent[] {
  // The default sort orders strings by UTF-16 code units, as compareStrings does, natively.
  list.sort()
  let n = 0
  for (let i = 0; i < list.length; i++) if (i === 0 || list[i] !== list[n - 1]) list[n++] = list[i]!
  list.length = n
  return list
}

/**
 * Builds the records of one kernel's BTF (base BTF; split BTF contributes its own types
 * only), without module marks: a module's records are marked by withModuleRecords.
 */
export function extractRecords(btf: Btf): KernelRecords {
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
  const emit = (store: StoreName, line: KeyedContent): void => {
    sets[store].push(line)
  }
  for (const t of btf.types) typeRecords(btf, namer, t, template, emit)
  // every type that gives a record of a store counts once for it
  const counts: KernelCounts = {funcs: sets.fn.length, tracepoints: sets.tp.length, structs: sets.st.length, enums: sets.en.length}
  return {stores: {fn: sortUnique(sets.fn), tp: sortUnique(sets.tp), st: sortUnique(sets.st), en: sortUnique(sets.en)}, counts}
}

/** One module's records (unmarked `key TAB content` lines, duplicates allowed, any order). */
export interface ModuleRecords {
  name: string
  stores: Record<StoreName, readonly KeyedContent[]>
}

/**
 * One kernel's records: its vmlinux records and those of each of its modules, merged
 * and sorted. A module record is marked with the names of every module that has it (see
 * the file comment). A module's tp/st/en record whose key and content equal a vmlinux
 * record (a copy of a vmlinux type) is dropped; FUNCs are always kept (a module function
 * is another function than a vmlinux one of the same name). Counts stay vmlinux's;
 * `modules` counts the modules.
 */
export function withModuleRecords(vmlinux: KernelRecords, modules: readonly ModuleRecords[]): KernelRecords {
  const stores = {} as Record<StoreName, KeyedContent[]>
  const sortedModules = [...modules].sort((a, b) => compareStrings(a.name, b.name))
  for (const s of STORES) {
    const own = new Set(vmlinux.stores[s])
    const all = [...vmlinux.stores[s]]
    // `key \t content` → the modules that have it, in name order
    const where = new Map<string, string[]>()
    for (const m of sortedModules) {
      for (const plain of m.stores[s]) {
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
    stores[s] = sortUnique(all)
  }
  return {stores, counts: vmlinux.counts, modules: modules.length}
}

/** Plain code-unit order, the order records are kept in (and, for ASCII, SQLite's BINARY order). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
