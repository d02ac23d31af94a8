/**
 * Pass 2: emission. Prints each queued definition at top level, after making sure
 * every type its body mentions is either already defined or forward-declared.
 *
 * `emitType(id, contId)` visits a type on behalf of a container: `contId` is 0 for a
 * top-level definition, otherwise the named struct/union (or typedef) whose
 * definition is being prepared. Visiting means:
 *
 * - struct/union at top level, or anonymous (printed inline, so its members are the
 *   container's concern): visit the members first, with the struct itself as the
 *   container when it is named; then, at top level, print the definition. A named
 *   struct visited from inside something else is only referenced by name there:
 *   print `struct foo;` once if it is not defined yet (and is not the container
 *   itself).
 * - typedef: visit what it names (with the typedef as container), then print
 *   `typedef ... name;` once.
 * - enum: printed only at top level; a named enum seen from elsewhere was queued
 *   ahead of its user by the ordering pass.
 * - fwd: print `struct foo;` / `union foo;`.
 * - pointers, qualifiers, arrays, function prototypes: visit what they refer to.
 * - int: print an alias typedef for the few GCC internal type names clang lacks.
 *
 * Emit states catch re-entry. Meeting a struct that is EMITTING (its members are
 * being prepared, so it is reachable from itself) means a forward declaration is
 * needed, unless it is the very container being defined. Meeting an EMITTING
 * typedef means someone refers to it through a pointer while the typedef's own
 * target is still being prepared; since a typedef works as its own forward
 * declaration, it is printed right away and marked fwd_emitted so it is not printed
 * twice. A named struct that was only forward-declared goes back to NOT_EMITTED: its
 * definition comes later, from its own place in the queue.
 */
import type {TypeId} from '../types.js'
import {Kind} from '../wire.js'
import {emitEnumDef, emitFwdDef, emitStructDef, emitStructFwd, emitTypedefDef, isBlacklisted} from './decl.js'
import {typeName} from './names.js'
import {EMITTED, EMITTING, NOT_EMITTED, type DumpState} from './state.js'

/** GCC-internal base type names and the standard C types they stand for. */
const MISSING_BASE_TYPES = new Map([
  ['__Poly8_t', 'unsigned char'],
  ['__Poly16_t', 'unsigned short'],
  ['__Poly64_t', 'unsigned long long'],
  ['__Poly128_t', 'unsigned __int128'],
])

/** GCC names some Arm SIMD base types `__PolyN_t`; alias them so clang can compile. */
function emitMissingAliases(st: DumpState, id: TypeId): void {
  // resolving the name also counts it in the tag namespace, as libbpf does
  const name = typeName(st, id)
  const alias = MISSING_BASE_TYPES.get(name)
  if (alias !== undefined) st.out.put(`typedef ${alias} ${name};\n\n`)
}

export function emitType(st: DumpState, id: TypeId, contId: TypeId): void {
  const emitState = st.emitState
  const state = emitState[id]!
  if (state === EMITTED) return
  const t = st.typeOf(id)
  const topLevel = contId === 0

  if (state === EMITTING) {
    if (st.fwdEmitted[id] === 1) return
    if (t.kind === Kind.STRUCT || t.kind === Kind.UNION) {
      // a struct's own members may point back at it without any declaration
      if (id === contId) return
      // an anonymous struct containing itself cannot be written in C: skip it
      if (t.nameOff === 0) return
      emitStructFwd(st, id, t)
      st.out.put(';\n\n')
      st.fwdEmitted[id] = 1
    } else if (t.kind === Kind.TYPEDEF) {
      // a typedef is its own forward declaration, usable through pointers
      if (!isBlacklisted(st, id)) {
        emitTypedefDef(st, id, t, 0)
        st.out.put(';\n\n')
      }
      st.fwdEmitted[id] = 1
    }
    return
  }

  switch (t.kind) {
    case Kind.INT:
      emitMissingAliases(st, id)
      emitState[id] = EMITTED
      break

    case Kind.ENUM:
    case Kind.ENUM64:
      if (topLevel) {
        emitEnumDef(st, id, t, 0)
        st.out.put(';\n\n')
      }
      emitState[id] = EMITTED
      break

    case Kind.PTR:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
    case Kind.ARRAY:
      emitType(st, t.type, contId)
      break

    case Kind.FWD:
      emitFwdDef(st, id)
      st.out.put(';\n\n')
      emitState[id] = EMITTED
      break

    case Kind.TYPEDEF:
      emitState[id] = EMITTING
      emitType(st, t.type, id)
      if (st.fwdEmitted[id] === 0 && !isBlacklisted(st, id)) {
        emitTypedefDef(st, id, t, 0)
        st.out.put(';\n\n')
      }
      emitState[id] = EMITTED
      break

    case Kind.STRUCT:
    case Kind.UNION:
      emitState[id] = EMITTING
      if (topLevel || t.nameOff === 0) {
        const cont = t.nameOff === 0 ? contId : id
        const members = t.members
        for (let i = 0; i < members.length; i++) emitType(st, members[i]!.type, cont)
      } else if (st.fwdEmitted[id] === 0 && id !== contId) {
        emitStructFwd(st, id, t)
        st.out.put(';\n\n')
        st.fwdEmitted[id] = 1
      }
      if (topLevel) {
        emitStructDef(st, id, t, 0)
        st.out.put(';\n\n')
        emitState[id] = EMITTED
      } else {
        emitState[id] = NOT_EMITTED
      }
      break

    case Kind.FUNC_PROTO:
      emitType(st, t.returnType, contId)
      const params = t.params
      for (let i = 0; i < params.length; i++) emitType(st, params[i]!.type, contId)
      break

    default:
      // FUNC, VAR, DATASEC, DECL_TAG, FLOAT: nothing to print
      break
  }
}
