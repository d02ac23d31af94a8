/**
 * C type names and declarations rendered from BTF, as the index stores them.
 *
 * The format is C's own declarator syntax, with an identifier or without one (an
 * "abstract declarator", the form C uses in casts and `sizeof`):
 *
 *   u32                        struct task_struct *        const char *
 *   char[16]                   struct list_head *[4]       int (*)[4]
 *   void (*)(struct rcu_head *)                            char *const
 *   long do_sys_open(int dfd, const char *filename, int flags, umode_t mode)
 *
 * Rules: a space separates the base type from a declarator unless the declarator starts
 * with `[`; `*` binds to what follows it (`char *p`); qualifiers of the base type come
 * first (`const char`), qualifiers of a pointer follow its `*` (`char *const`);
 * anonymous types are `struct {...}`, `union {...}`, `enum {...}`; a forward declaration
 * is `struct name` / `union name`; type tags (`__user`, `__rcu`, … as btf_type_tag) are
 * left out, as they are attributes, not part of the C type; a prototype without
 * parameters is `(void)`, a variadic one ends in `...`; a parameter without a name is
 * just its type.
 *
 * Names that contain control characters (never seen in kernel BTF, but possible in
 * crafted input) have them replaced by `?`, so the index's separators stay unambiguous.
 */
import type {Btf} from '../btf/btf.js'
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

/** Renders C type names and declarations for one BTF; abstract names are memoised per id. */
export class CTypeNamer {
  private readonly cache = new Map<TypeId, string>()

  constructor(private readonly btf: Btf) {}

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
        // A qualified pointer: the qualifier goes after its `*` (`char *const p`).
        if (this.peek(t.type, depth).kind === Kind.PTR) {
          return this.render(t.type, decl === '' ? q : `${q} ${decl}`, quals, depth + 1)
        }
        return this.render(t.type, decl, quals === '' ? q : `${quals} ${q}`, depth + 1)
      }
      case Kind.TYPE_TAG:
        return this.render(t.type, decl, quals, depth + 1)
      case Kind.PTR: {
        const target = this.peek(t.type, depth).kind
        const inner = target === Kind.ARRAY || target === Kind.FUNC_PROTO ? `(*${decl})` : `*${decl}`
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
        return this.render(t.returnType, `${decl}(${params.length === 0 ? 'void' : params.join(', ')})`, quals, depth + 1)
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
