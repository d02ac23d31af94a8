/**
 * Comparing two BTFs of the same kernel by what CO-RE and BTF-aware tools look at, not
 * by type ids (which differ between any two encodings): generated BTF against the BTF
 * the kernel shipped, to show that generation loses nothing.
 *
 * Compared, by name:
 * - structs and unions: size and members (name, bit offset, bitfield width, type name);
 * - functions (FUNC): linkage and prototype (return type, parameter names and types);
 * - typedefs: the type they name;
 * - enums (ENUM and ENUM64 alike): size, signedness and every enumerator's value;
 *   anonymous enums are keyed by their first enumerator;
 * - variables (VAR, the per-CPU ones pahole encodes): type.
 *
 * A "type name" is a canonical C-like rendering (`struct list_head *`, `char[16]`,
 * `const u32`), with anonymous structs, unions and enums spelled out member by member,
 * so a difference anywhere inside shows. A name defined several times (the kernel has
 * a few same-named types from different headers) is compared as a multiset.
 */
import type {Btf} from '../btf/btf.js'
import type {BtfType, TypeId} from '../btf/types.js'
import {Kind, KIND_NAMES} from '../btf/wire.js'

export type Category = 'struct' | 'func' | 'typedef' | 'enum' | 'var'

export interface Difference {
  category: Category
  /** `struct task_struct`, `func do_sys_open`, … */
  key: string
  /** Definitions in A and in B (empty when absent from one side). */
  a: string[]
  b: string[]
}

export interface Comparison {
  /** Names per category on each side. */
  counts: Record<Category, {a: number; b: number; same: number}>
  /** Types per kind on each side. */
  kinds: Record<string, {a: number; b: number}>
  differences: Difference[]
}

const LINKAGE = ['static', 'global', 'extern']

class Namer {
  private readonly memo = new Map<TypeId, string>()
  constructor(private readonly btf: Btf) {}

  name(id: TypeId, depth = 0): string {
    const hit = this.memo.get(id)
    if (hit !== undefined) return hit
    const s = this.render(id, depth)
    if (depth === 0) this.memo.set(id, s)
    return s
  }

  private render(id: TypeId, depth: number): string {
    if (id === 0) return 'void'
    if (depth > 24) return '…'
    const t = this.btf.typeById(id)
    switch (t.kind) {
      case Kind.INT:
      case Kind.FLOAT:
      case Kind.TYPEDEF:
        return t.name
      case Kind.PTR:
        return `${this.name(t.type, depth + 1)} *`
      case Kind.CONST:
        return `const ${this.name(t.type, depth + 1)}`
      case Kind.VOLATILE:
        return `volatile ${this.name(t.type, depth + 1)}`
      case Kind.RESTRICT:
        return `restrict ${this.name(t.type, depth + 1)}`
      case Kind.TYPE_TAG:
        return `__tag(${t.name}) ${this.name(t.type, depth + 1)}`
      case Kind.ARRAY:
        return `${this.name(t.type, depth + 1)}[${t.nelems}]`
      case Kind.STRUCT:
      case Kind.UNION: {
        const kw = t.kind === Kind.STRUCT ? 'struct' : 'union'
        if (t.name) return `${kw} ${t.name}`
        return `${kw} {${this.members(t, depth + 1)}}`
      }
      case Kind.ENUM:
      case Kind.ENUM64:
        return t.name ? `enum ${t.name}` : `enum {${this.enumBody(t)}}`
      case Kind.FWD:
        return `${t.kindFlag ? 'union' : 'struct'} ${t.name} (declaration)`
      case Kind.FUNC_PROTO:
        return `${this.name(t.returnType, depth + 1)} (${t.params.map((p) => (p.type === 0 && p.name === '' ? '...' : `${this.name(p.type, depth + 1)}${p.name ? ` ${p.name}` : ''}`)).join(', ')})`
      case Kind.FUNC:
        return `func ${t.name}`
      default:
        return `${KIND_NAMES[t.kind] ?? t.kind} ${t.name}`
    }
  }

  members(t: Extract<BtfType, {members: unknown}>, depth = 0): string {
    return t.members
      .map((m) => `${m.name || '(anon)'}: ${this.name(m.type, depth)} @${m.bitOffset}${m.bitfieldSize ? `:${m.bitfieldSize}` : ''}`)
      .join('; ')
  }

  enumBody(t: Extract<BtfType, {kind: typeof Kind.ENUM | typeof Kind.ENUM64}>): string {
    return t.values.map((v) => `${v.name}=${v.value}`).join(', ')
  }
}

type Defs = Record<Category, Map<string, string[]>>

function collect(btf: Btf): {defs: Defs; kinds: Map<string, number>} {
  const n = new Namer(btf)
  const defs: Defs = {struct: new Map(), func: new Map(), typedef: new Map(), enum: new Map(), var: new Map()}
  const kinds = new Map<string, number>()
  const add = (c: Category, key: string, sig: string): void => {
    const list = defs[c].get(key)
    if (list) list.push(sig)
    else defs[c].set(key, [sig])
  }
  for (let id = btf.startId; id <= btf.lastId; id++) {
    const t = btf.typeById(id)
    const kn = KIND_NAMES[t.kind] ?? String(t.kind)
    kinds.set(kn, (kinds.get(kn) ?? 0) + 1)
    switch (t.kind) {
      case Kind.STRUCT:
      case Kind.UNION:
        if (t.name) add('struct', `${t.kind === Kind.STRUCT ? 'struct' : 'union'} ${t.name}`, `size ${t.size}: ${n.members(t)}`)
        break
      case Kind.FUNC: {
        const proto = btf.typeById(t.type)
        add('func', t.name, `${LINKAGE[t.linkage] ?? t.linkage} ${proto.kind === Kind.FUNC_PROTO ? n.name(t.type) : `(${KIND_NAMES[proto.kind]})`}`)
        break
      }
      case Kind.TYPEDEF:
        add('typedef', t.name, n.name(t.type))
        break
      case Kind.ENUM:
      case Kind.ENUM64: {
        const key = t.name ? `enum ${t.name}` : `enum (anon: ${t.values[0]?.name ?? 'empty'})`
        add('enum', key, `size ${t.size} ${t.kindFlag ? 'signed' : 'unsigned'}: ${n.enumBody(t)}`)
        break
      }
      case Kind.VAR:
        add('var', t.name, `${LINKAGE[t.linkage] ?? t.linkage} ${n.name(t.type)}`)
        break
    }
  }
  return {defs, kinds}
}

/** Compares `a` and `b` (see the module comment). Differences are sorted by category and key. */
export function compareBtf(a: Btf, b: Btf): Comparison {
  const A = collect(a)
  const B = collect(b)
  const differences: Difference[] = []
  const counts = {} as Comparison['counts']
  for (const c of ['struct', 'func', 'typedef', 'enum', 'var'] as const) {
    const keys = [...new Set([...A.defs[c].keys(), ...B.defs[c].keys()])].sort()
    let same = 0
    for (const key of keys) {
      const x = [...(A.defs[c].get(key) ?? [])].sort()
      const y = [...(B.defs[c].get(key) ?? [])].sort()
      if (x.length === y.length && x.every((v, i) => v === y[i])) same++
      else differences.push({category: c, key, a: x, b: y})
    }
    counts[c] = {a: A.defs[c].size, b: B.defs[c].size, same}
  }
  const kinds: Comparison['kinds'] = {}
  for (const k of new Set([...A.kinds.keys(), ...B.kinds.keys()])) kinds[k] = {a: A.kinds.get(k) ?? 0, b: B.kinds.get(k) ?? 0}
  return {counts, kinds, differences}
}

export interface Explained {
  difference: Difference
  /** Why the difference is expected, or undefined when it is not. */
  reason?: string
}

/**
 * Sorts differences into expected ones (with the reason) and the rest, for generated BTF
 * (`a`) against the BTF the kernel shipped (`b`), both from the same pahole version.
 *
 * The one expected kind: a static function name defined in several compilation units
 * with different prototypes. pahole 1.24 keeps the first one it meets per encoder; the
 * kernel build runs pahole with `-j` (one encoder per thread), so which and how many of
 * the prototypes land in the kernel's BTF depends on thread scheduling, while a
 * single-threaded run keeps exactly one. pahole >= 1.25 with
 * `--skip_encoding_btf_inconsistent_proto` leaves all of them out instead.
 */
export function explainDifferences(c: Comparison): Explained[] {
  return c.differences.map((d) => {
    if (d.category === 'func' && d.a.length > 0 && d.b.length > 0) {
      const both = d.a.some((x) => d.b.includes(x))
      // several definitions on one side (their prototypes may even print alike when a
      // parameter's struct has two definitions of the same name, e.g. arm64 KVM's VHE
      // and nVHE struct tlb_inv_context), or differing prototypes across the two
      const ambiguous = d.a.length > 1 || d.b.length > 1 || new Set([...d.a, ...d.b]).size > 1
      const allStatic = [...d.a, ...d.b].every((s) => s.startsWith('static '))
      if (both && ambiguous && allStatic) {
        return {
          difference: d,
          reason: `static function defined in several compilation units (${Math.max(d.a.length, d.b.length)} definitions, ${new Set([...d.a, ...d.b]).size} distinct prototypes as printed); which of them pahole keeps depends on -j threading (pahole 1.24 keeps the first per encoder)`,
        }
      }
    }
    return {difference: d}
  })
}

/** A readable report of a comparison: totals, then every difference with its explanation. */
export function formatComparison(c: Comparison, labels: {a: string; b: string} = {a: 'A', b: 'B'}): string {
  const lines: string[] = []
  for (const [cat, n] of Object.entries(c.counts)) {
    lines.push(`${cat.padEnd(8)} ${labels.a}: ${n.a}, ${labels.b}: ${n.b}, identical: ${n.same}`)
  }
  const kinds = Object.entries(c.kinds).filter(([, v]) => v.a !== v.b)
  if (kinds.length > 0) lines.push(`kinds that differ in count: ${kinds.map(([k, v]) => `${k} ${v.a} vs ${v.b}`).join(', ')}`)
  const ex = explainDifferences(c)
  const unexpected = ex.filter((e) => !e.reason)
  lines.push(`${c.differences.length} differences: ${c.differences.length - unexpected.length} expected, ${unexpected.length} unexpected`)
  for (const e of [...unexpected, ...ex.filter((x) => x.reason)]) {
    const d = e.difference
    lines.push(`${e.reason ? 'expected' : 'UNEXPECTED'}: ${d.category} ${d.key}${e.reason ? ` (${e.reason})` : ''}`)
    for (const s of d.a) lines.push(`    ${labels.a}: ${s}`)
    for (const s of d.b) lines.push(`    ${labels.b}: ${s}`)
  }
  return lines.join('\n')
}
