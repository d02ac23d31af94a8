/**
 * C type names and declarations rendered from BTF, as the index stores them.
 *
 * The format is C declarator syntax spaced exactly as libbpf's btf_dump spaces it, i.e.
 * as the declarations in a `bpftool btf dump … format c` vmlinux.h read, with or
 * without an identifier (without one it is an "abstract declarator", C's form for casts
 * and `sizeof`):
 *
 *   u32                          struct task_struct *         const char *
 *   char[16]                     struct list_head *[4]        int (*)[4]
 *   void (*)(struct rcu_head *)  char * const                 struct dentry * (*)(int)
 *   long int do_sys_open(int dfd, const char *filename, int flags, umode_t mode)
 *
 * Rules (libbpf's): a space separates the base type from a declarator unless the
 * declarator starts with `[`; `*` binds to a following name or `*` (`char **p`) and is
 * followed by a space before a qualifier or `(` (`char * const p`, `int * (*f)(void)`);
 * qualifiers of the base type come first (innermost first: `volatile const int`);
 * qualifiers directly on an array or function type are dropped (GCC emits them
 * spuriously); anonymous types are `struct {...}`, `union {...}`, `enum {...}`; a
 * forward declaration is `struct name` / `union name`; type tags (`__user`, `__rcu` as
 * btf_type_tag) are left out: they are attributes, not part of the C type; a prototype
 * without parameters is `(void)`, a variadic one ends in `...`; a parameter without a
 * name is just its type.
 *
 * Names that contain control characters (never seen in kernel BTF, but possible in
 * crafted input) have them replaced by `?`, so the index's separators stay unambiguous.
 */
import type {BtfType, TypeId} from '../btf/types.js'
import {Kind} from '../btf/wire.js'

/** Deeper declarator nesting than this renders as `?` (only crafted BTF gets there). */
const MAX_DEPTH = 64

/**
 * Stands for the declared name in a stored declaration template: `long \x01(int dfd)`.
 * A control character, so no (cleaned) name can contain it.
 */
export const NAME_MARK = '\x01'

/** Puts `name` into a declaration template (an empty name gives the abstract type). */
export function fillName(template: string, name: string): string {
  const i = template.indexOf(NAME_MARK)
  if (i < 0) return template
  if (name === '') {
    // `long \x01(int)` → `long (int)`; `void (*\x01)(int)` → `void (*)(int)`
    return template.slice(0, i) + template.slice(i + 1)
  }
  return template.slice(0, i) + name + template.slice(i + 1)
}

const CONTROL = /[\x00-\x1f\x7f]/
const CONTROL_ALL = /[\x00-\x1f\x7f]/g

/** The name with control characters replaced by `?`. */
export function cleanName(name: string): string {
  return CONTROL.test(name) ? name.replace(CONTROL_ALL, '?') : name
}

/**
 * What rendering needs of a BTF: its types by id. A parsed Btf is one; the index build
 * also renders straight from the archive's BTF pack (extract-pack.ts).
 */
export interface TypeSource {
  typeById(id: TypeId): BtfType
}

/** Renders C type names and declarations for one BTF; abstract names are memoised per id. */
export class CTypeNamer {
  private readonly cache = new Map<TypeId, string>()

  constructor(private readonly btf: TypeSource) {}

  /** The abstract C type name of `id`, e.g. `struct task_struct *` or `char[16]`. */
  name(id: TypeId): string {
    let s = this.cache.get(id)
    if (s === undefined) {
      s = this.render(id, '', '', 0)
      this.cache.set(id, s)
    }
    return s
  }

  /**
   * A C declaration of `ident` with type `id`, e.g. `declare(proto, 'f')` gives
   * `int f(struct file *file)`; an empty `ident` gives the abstract name.
   */
  declare(id: TypeId, ident: string): string {
    return ident === '' ? this.name(id) : this.render(id, cleanName(ident), '', 0)
  }

  /**
   * A declaration of `id` with {@link NAME_MARK} where the identifier goes: the form
   * the index stores prototypes in (the name is the record's key, see {@link fillName}).
   */
  template(id: TypeId): string {
    return this.render(id, NAME_MARK, '', 0)
  }

  /**
   * `decl` is the declarator built so far (identifier, `*`, `[N]`, `(…)`), `quals` the
   * qualifiers that apply to the base type once it is reached.
   */
  private render(id: TypeId, decl: string, quals: string, depth: number): string {
    if (depth > MAX_DEPTH) return join(quals, '?', decl)
    const t = this.btf.typeById(id)
    switch (t.kind) {
      case Kind.UNKN:
        return join(quals, 'void', decl)
      case Kind.INT:
      case Kind.FLOAT:
      case Kind.TYPEDEF:
        return join(quals, cleanName(t.name), decl)
      case Kind.STRUCT:
        return join(quals, t.name === '' ? 'struct {...}' : `struct ${cleanName(t.name)}`, decl)
      case Kind.UNION:
        return join(quals, t.name === '' ? 'union {...}' : `union ${cleanName(t.name)}`, decl)
      case Kind.ENUM:
      case Kind.ENUM64:
        return join(quals, t.name === '' ? 'enum {...}' : `enum ${cleanName(t.name)}`, decl)
      case Kind.FWD:
        return join(quals, `${t.kindFlag ? 'union' : 'struct'} ${cleanName(t.name)}`, decl)
      case Kind.CONST:
      case Kind.VOLATILE:
      case Kind.RESTRICT: {
        const q = t.kind === Kind.CONST ? 'const' : t.kind === Kind.VOLATILE ? 'volatile' : 'restrict'
        const next = this.peek(t.type, depth).kind
        // A qualified pointer: the qualifier follows its `*` (`char * const p`).
        if (next === Kind.PTR) {
          const rest = decl === '' || decl.startsWith(' ') ? decl : ` ${decl}`
          return this.render(t.type, ` ${q}${rest}`, quals, depth + 1)
        }
        // On an array or a function type: dropped, as libbpf does.
        if (next === Kind.ARRAY || next === Kind.FUNC_PROTO) return this.render(t.type, decl, quals, depth + 1)
        // On the base type: in front of it, innermost qualifier first.
        return this.render(t.type, decl, quals === '' ? q : `${q} ${quals}`, depth + 1)
      }
      case Kind.TYPE_TAG:
        return this.render(t.type, decl, quals, depth + 1)
      case Kind.PTR: {
        const target = this.peek(t.type, depth).kind
        const star = decl.startsWith('(') ? `* ${decl}` : `*${decl}`
        const inner = target === Kind.ARRAY || target === Kind.FUNC_PROTO ? `(${star})` : star
        return this.render(t.type, inner, quals, depth + 1)
      }
      case Kind.ARRAY:
        return this.render(t.type, `${decl}[${t.nelems}]`, quals, depth + 1)
      case Kind.FUNC_PROTO: {
        const params: string[] = []
        for (let i = 0; i < t.params.length; i++) {
          const p = t.params[i]!
          if (p.type === 0 && p.name === '' && i === t.params.length - 1) params.push('...')
          else params.push(depth + 1 > MAX_DEPTH ? '?' : this.render(p.type, cleanName(p.name), '', depth + 1))
        }
        return this.render(t.returnType, `${decl}(${params.length === 0 ? 'void' : params.join(', ')})`, '', depth + 1)
      }
      case Kind.FUNC:
      case Kind.VAR:
      case Kind.DATASEC:
      case Kind.DECL_TAG:
        // Not types a value can have; only reachable from crafted BTF.
        return join(quals, `?${t.kind}`, decl)
      default:
        return assertKind(t)
    }
  }

  /** The first type under `id` that is not a modifier or type tag (what a pointer points at). */
  private peek(id: TypeId, depth: number): BtfType {
    let t = this.btf.typeById(id)
    for (let d = depth; d <= MAX_DEPTH; d++) {
      if (t.kind !== Kind.CONST && t.kind !== Kind.VOLATILE && t.kind !== Kind.RESTRICT && t.kind !== Kind.TYPE_TAG) return t
      t = this.btf.typeById(t.type)
    }
    return t
  }
}

function join(quals: string, base: string, decl: string): string {
  const b = quals === '' ? base : `${quals} ${base}`
  if (decl === '') return b
  return decl.charCodeAt(0) === 0x5b /* [ */ ? b + decl : `${b} ${decl}`
}

function assertKind(t: never): never {
  throw new Error(`unexpected BTF kind ${(t as BtfType).kind}`)
}
