/**
 * C declarations of BTF types: definitions of structs, unions, enums and typedefs,
 * and the declarator syntax that turns a chain of BTF types into `type name`.
 *
 * Declarators are the hard part. BTF stores a declaration outside-in, from the
 * declared thing to its base type:
 *
 *     const char *(*handlers[4])(int)   is   ARRAY -> PTR -> FUNC_PROTO -> PTR -> CONST -> INT
 *
 * while C writes the base type first and wraps the name with pointer stars on the
 * left, array and parameter suffixes on the right, and parentheses wherever a
 * suffix would otherwise bind to the wrong part. The dumper therefore works
 * inside-out:
 *
 * 1. walk the chain from the declared type down to a "terminal" (int, float, enum,
 *    struct, union, fwd, typedef or void), pushing every id on a stack;
 * 2. pop from the terminal outwards. Qualifiers sitting right on top of the terminal
 *    are printed before it (`const int`); qualifiers met after a pointer are printed
 *    after the star (`int * const`). A pointer prints `*`. An array or a function
 *    prototype ends the walk: the rest of the stack (what is outside it: the pointers
 *    to it, the name) is printed recursively, wrapped in parentheses unless it is
 *    just the name or another array dimension, and the suffix `[N]` or `(params)` is
 *    appended after it.
 *
 * Qualifiers directly on an array or a function prototype are dropped (GCC emits
 * such meaningless ones). Parameters are full declarations of their own; they, and
 * members of anonymous structs defined inline, push their chains on the same stack
 * above the frame being printed, so one array serves every nesting level.
 *
 * A function prototype with no parameters, or only a `void` one (what clang emits for
 * `f(void)`), prints `(void)`; a last parameter of type void with no name is `...`.
 */
import {type CompositeType, type Enum64Type, type EnumType, type TypedefType, type TypeId, isModifier} from '../types.js'
import {Kind} from '../wire.js'
import {alignOf, isStructPacked, resolveSize} from './layout.js'
import {identName, nameDups, typeName} from './names.js'
import {emitBitPadding, indent} from './padding.js'
import type {DumpState} from './state.js'

/**
 * A view of one declarator chain on the shared stack: declStack[base .. base+cnt).
 * Printing pops from the view (cnt) while the stack's real top stays put, so nested
 * declarations push above the whole chain. (The stack array itself may be replaced
 * when it grows, hence no reference to it here.)
 */
interface Frame {
  readonly base: number
  cnt: number
}

/**
 * `__builtin_va_list` is a compiler built-in. Redefining it from the kernel's (GCC)
 * BTF breaks compilation with clang, so a typedef of that name is never printed.
 */
export function isBlacklisted(st: DumpState, id: TypeId): boolean {
  const t = st.typeOf(id)
  return t.nameOff !== 0 && t.name === '__builtin_va_list'
}

/** Appends the declaration of something named `fname` (may be '') of type `id`. */
export function emitTypeDecl(st: DumpState, id: TypeId, fname: string, lvl: number): void {
  const base = st.declTop
  const types = st.typeOf
  for (;;) {
    st.pushDecl(id)
    if (id === 0) break
    const t = types(id)
    let next = -1
    switch (t.kind) {
      case Kind.PTR:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
      case Kind.ARRAY:
        next = t.type
        break
      case Kind.FUNC_PROTO:
        next = t.returnType
        break
      default:
        // a terminal (int, float, enum, struct, union, fwd, typedef), or a kind that
        // has no business in a declarator, which the chain printer will skip
        break
    }
    if (next < 0) break
    id = next
  }
  const frame: Frame = {base, cnt: st.declTop - base}
  emitTypeChain(st, frame, fname, lvl)
  st.declTop = base
}

/** Prints (and pops) the qualifiers on top of `frame`: they precede their type. */
function emitMods(st: DumpState, frame: Frame): void {
  while (frame.cnt > 0) {
    const kind = st.typeOf(st.declStack[frame.base + frame.cnt - 1]!).kind
    if (kind === Kind.VOLATILE) st.out.put('volatile ')
    else if (kind === Kind.CONST) st.out.put('const ')
    else if (kind === Kind.RESTRICT) st.out.put('restrict ')
    else return
    frame.cnt--
  }
}

/** Pops qualifiers (type tags included) without printing them. */
function dropMods(st: DumpState, frame: Frame): void {
  while (frame.cnt > 0 && isModifier(st.typeOf(st.declStack[frame.base + frame.cnt - 1]!).kind)) frame.cnt--
}

/** The declared name, separated by a space unless it follows a `*`. */
function emitName(st: DumpState, name: string, lastWasPtr: boolean): void {
  if (name !== '' && !lastWasPtr) st.out.put(' ')
  st.out.put(name)
}

/**
 * Prints the chain in `frame` from its terminal outwards and then `fname`.
 * `lastWasPtr` starts true so that a chain which is just a pointer (what is left
 * around a function prototype) prints `*name`, not ` *name`.
 */
function emitTypeChain(st: DumpState, frame: Frame, fname: string, lvl: number): void {
  const types = st.typeOf
  let lastWasPtr = true
  while (frame.cnt > 0) {
    const id = st.declStack[frame.base + --frame.cnt]!
    if (id === 0) {
      emitMods(st, frame)
      st.out.put('void')
      lastWasPtr = false
      continue
    }
    const t = types(id)
    switch (t.kind) {
      case Kind.INT:
      case Kind.FLOAT:
        emitMods(st, frame)
        st.out.put(t.name)
        break
      case Kind.STRUCT:
      case Kind.UNION:
        emitMods(st, frame)
        if (t.nameOff === 0) emitStructDef(st, id, t, lvl)
        else emitStructFwd(st, id, t)
        break
      case Kind.ENUM:
      case Kind.ENUM64:
        emitMods(st, frame)
        if (t.nameOff === 0) emitEnumDef(st, id, t, lvl)
        else emitEnumFwd(st, id)
        break
      case Kind.FWD:
        emitMods(st, frame)
        emitFwdDef(st, id)
        break
      case Kind.TYPEDEF:
        emitMods(st, frame)
        st.out.put(identName(st, id))
        break
      case Kind.PTR:
        st.out.put(lastWasPtr ? '*' : ' *')
        break
      case Kind.VOLATILE:
        st.out.put(' volatile')
        break
      case Kind.CONST:
        st.out.put(' const')
        break
      case Kind.RESTRICT:
        st.out.put(' restrict')
        break
      case Kind.TYPE_TAG:
        emitMods(st, frame)
        st.out.put(` __attribute__((btf_type_tag("${t.name}")))`)
        break
      case Kind.ARRAY: {
        dropMods(st, frame)
        if (frame.cnt === 0) {
          emitName(st, fname, lastWasPtr)
          st.out.put(`[${t.nelems}]`)
          return
        }
        // Another dimension binds tighter than the parentheses would, so
        // `a[2][3]` needs none; anything else (a pointer) does: `(*p)[3]`.
        const multidim = types(st.declStack[frame.base + frame.cnt - 1]!).kind === Kind.ARRAY
        if (fname !== '' && !lastWasPtr) st.out.put(' ')
        if (!multidim) st.out.put('(')
        emitTypeChain(st, frame, fname, lvl)
        if (!multidim) st.out.put(')')
        st.out.put(`[${t.nelems}]`)
        return
      }
      case Kind.FUNC_PROTO: {
        // GCC marks noreturn function pointers volatile; that qualifier means nothing
        dropMods(st, frame)
        if (frame.cnt > 0) {
          st.out.put(' (')
          emitTypeChain(st, frame, fname, lvl)
          st.out.put(')')
        } else {
          emitName(st, fname, lastWasPtr)
        }
        const params = t.params
        const n = params.length
        if (n === 0 || (n === 1 && params[0]!.type === 0)) {
          st.out.put('(void)')
          return
        }
        st.out.put('(')
        for (let i = 0; i < n; i++) {
          const p = params[i]!
          if (i > 0) st.out.put(', ')
          if (i === n - 1 && p.type === 0) {
            st.out.put('...')
            break
          }
          emitTypeDecl(st, p.type, p.name, lvl)
        }
        st.out.put(')')
        return
      }
      default:
        // FUNC, VAR, DATASEC, DECL_TAG cannot appear in a declarator: print nothing more
        return
    }
    lastWasPtr = t.kind === Kind.PTR
  }
  emitName(st, fname, lastWasPtr)
}

/** `struct foo` / `union foo` (no body). */
export function emitStructFwd(st: DumpState, id: TypeId, t: CompositeType<number>): void {
  st.out.put(t.kind === Kind.STRUCT ? 'struct' : 'union')
  if (t.nameOff !== 0) st.out.put(' ')
  st.out.put(typeName(st, id))
}

/**
 * A struct or union with its body, at nesting level `lvl` (its members at lvl + 1).
 * Walks the members keeping `off`, the bit offset where the previous member ended
 * (a C `int` as in libbpf: offsets past 2^31 bits wrap the same way),
 * and asks {@link emitBitPadding} to bridge any gap to the next member and, for
 * structs, to the declared size. Bitfield widths come from the member (kind_flag
 * encoding); an old-style bitfield (an INT type with fewer bits) prints as a plain
 * member, as libbpf does.
 */
export function emitStructDef(st: DumpState, id: TypeId, t: CompositeType<number>, lvl: number): void {
  const isStruct = t.kind === Kind.STRUCT
  const align = alignOf(st, id)
  const packed = isStruct && isStructPacked(st, t)
  const members = t.members
  const inner = indent(lvl + 1)

  st.out.put(isStruct ? 'struct' : 'union')
  if (t.nameOff !== 0) st.out.put(' ')
  st.out.put(typeName(st, id))
  st.out.put(' {')

  let off = 0
  let prevBitfield = false
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!
    const mSize = m.bitfieldSize
    const mOff = m.bitOffset | 0
    const mAlign = packed ? 1 : alignOf(st, m.type)
    emitBitPadding(st, off, mOff, mAlign, prevBitfield && mSize !== 0, lvl + 1)
    st.out.put('\n')
    st.out.put(inner)
    emitTypeDecl(st, m.type, m.name, lvl + 1)
    if (mSize !== 0) {
      st.out.put(`: ${mSize}`)
      off = (mOff + mSize) | 0
      prevBitfield = true
    } else {
      off = (mOff + Math.imul(Math.max(0, resolveSize(st, m.type)), 8)) | 0
      prevBitfield = false
    }
    st.out.put(';')
  }
  if (isStruct) emitBitPadding(st, off, Math.imul(t.size, 8), align, false, lvl + 1)

  // `struct empty {}` stays on one line
  if (members.length > 0 || t.size !== 0) st.out.put(`\n${indent(lvl)}}`)
  else st.out.put('}')
  if (packed) st.out.put(' __attribute__((packed))')
}

/** `enum foo` (no body). */
export function emitEnumFwd(st: DumpState, id: TypeId): void {
  st.out.put(`enum ${typeName(st, id)}`)
}

/**
 * An enum with its enumerators. Enumerators share the identifier namespace with
 * typedefs, so a repeated one is printed `NAME___N`. Values print as the enum's
 * signedness says; 64-bit values get an `LL`/`ULL` suffix.
 */
export function emitEnumDef(st: DumpState, id: TypeId, t: EnumType | Enum64Type, lvl: number): void {
  st.out.put('enum')
  if (t.nameOff !== 0) st.out.put(' ')
  st.out.put(typeName(st, id))
  if (t.values.length === 0) return
  st.out.put(' {')
  const pfx = indent(lvl + 1)
  const signed = t.kindFlag
  if (t.kind === Kind.ENUM) {
    for (let i = 0, values = t.values; i < values.length; i++) {
      const v = values[i]!
      const n = nameDups(st.identNames, v.nameOff)
      // the model already holds the value with the enum's signedness
      const val = signed ? v.value | 0 : v.value >>> 0
      st.out.put(n > 1 ? `\n${pfx}${v.name}___${n} = ${val},` : `\n${pfx}${v.name} = ${val},`)
    }
  } else {
    const suffix = signed ? 'LL' : 'ULL'
    for (let i = 0, values = t.values; i < values.length; i++) {
      const v = values[i]!
      const n = nameDups(st.identNames, v.nameOff)
      const val = signed ? BigInt.asIntN(64, v.value) : BigInt.asUintN(64, v.value)
      st.out.put(n > 1 ? `\n${pfx}${v.name}___${n} = ${val}${suffix},` : `\n${pfx}${v.name} = ${val}${suffix},`)
    }
  }
  st.out.put(`\n${indent(lvl)}}`)
}

/** A forward declaration: `struct foo` or `union foo` (kind_flag set). */
export function emitFwdDef(st: DumpState, id: TypeId): void {
  const t = st.typeOf(id)
  const name = typeName(st, id)
  st.out.put(t.kindFlag ? `union ${name}` : `struct ${name}`)
}

/**
 * `typedef <declaration of name>`. Old GCC describes `__gnuc_va_list` as a typedef of
 * void, which would not compile; it is printed as an alias of `__builtin_va_list`.
 */
export function emitTypedefDef(st: DumpState, id: TypeId, t: TypedefType, lvl: number): void {
  const name = identName(st, id)
  if (t.type === 0 && name === '__gnuc_va_list') {
    st.out.put('typedef __builtin_va_list __gnuc_va_list')
    return
  }
  st.out.put('typedef ')
  emitTypeDecl(st, t.type, name, lvl)
}

