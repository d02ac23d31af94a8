/**
 * Pass 1: ordering. Decides in which order named definitions must be printed so that
 * the header compiles, collecting them in `st.emitQueue`.
 *
 * C needs a type to be complete where it is embedded (a struct member of type
 * `struct A`, an array of `struct A`), but a pointer only needs `struct A;` declared.
 * The ordering is a depth-first walk that, for every edge it follows, works out
 * whether the edge is a
 * - strong link: the target must be fully defined before the referring type, or a
 * - weak link: a forward declaration of the target is enough.
 *
 * An edge is weak when the path to the target goes through a pointer and reaches a
 * named struct/union (or a typedef that itself only needs weak links): that type can
 * be forward-declared, so the walk stops there and does not order it now. Anything
 * anonymous is printed inline where it is used, so its own dependencies become the
 * user's dependencies, pointer or not: `struct B { struct { struct A a; } *p; }`
 * needs `struct A` complete before `struct B`.
 *
 * The walk returns 1 for strong and 0 for weak. A typedef reached through a pointer
 * is queued only if what it names needs strong ordering; otherwise the emission pass
 * prints it on demand. Function prototypes are strong if any part of them is.
 *
 * Only kinds that can be a stand-alone definition (struct, union, enum, fwd,
 * typedef) are queued, and they get an order state: ORDERING while their members are
 * walked, ORDERED afterwards. Meeting an ORDERING type again is a cycle; a cycle
 * through a pointer to a named struct is fine (that pointer needs just a forward
 * declaration), any other cycle cannot be written in C and is an error. Pointers,
 * ints and floats are marked ORDERED too since their answer cannot change; arrays,
 * qualifiers and function prototypes are not, because their answer depends on the
 * path that reached them. Anonymous structs/unions are not queued (they print
 * inline), nor are anonymous enums that something references; an anonymous enum
 * nothing references is a top-level block of constants and is queued.
 */
import {BtfError} from '../../errors.js'
import type {TypeId} from '../types.js'
import {Kind} from '../wire.js'
import {ORDERED, ORDERING, type DumpState} from './state.js'

/**
 * Orders `id` and everything it needs, returning 1 for a strong link, 0 for a weak one.
 * @throws BtfError `BTF_CYCLE` for a type loop C cannot express.
 */
export function orderType(st: DumpState, id: TypeId, throughPtr: boolean): number {
  const state = st.orderState[id]!
  if (state === ORDERED) return 1
  const t = st.typeOf(id)

  if (state === ORDERING) {
    if ((t.kind === Kind.STRUCT || t.kind === Kind.UNION) && throughPtr && t.nameOff !== 0) return 0
    throw new BtfError('BTF_CYCLE', `unsatisfiable type cycle, id:[${id}]`)
  }

  switch (t.kind) {
    case Kind.INT:
    case Kind.FLOAT:
      st.orderState[id] = ORDERED
      return 0

    case Kind.PTR: {
      const strong = orderType(st, t.type, true)
      st.orderState[id] = ORDERED
      return strong
    }

    case Kind.ARRAY:
      return orderType(st, t.type, false)

    case Kind.STRUCT:
    case Kind.UNION: {
      // a named struct behind a pointer only needs a forward declaration
      if (throughPtr && t.nameOff !== 0) return 0
      st.orderState[id] = ORDERING
      const members = t.members
      for (let i = 0; i < members.length; i++) orderType(st, members[i]!.type, false)
      if (t.nameOff !== 0) st.enqueue(id)
      st.orderState[id] = ORDERED
      return 1
    }

    case Kind.ENUM:
    case Kind.ENUM64:
    case Kind.FWD:
      if (t.nameOff !== 0 || st.referenced[id] === 0) st.enqueue(id)
      st.orderState[id] = ORDERED
      return 1

    case Kind.TYPEDEF: {
      const strong = orderType(st, t.type, throughPtr)
      if (throughPtr && strong === 0) return 0
      st.enqueue(id)
      st.orderState[id] = ORDERED
      return 1
    }

    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
      return orderType(st, t.type, throughPtr)

    case Kind.FUNC_PROTO: {
      let strong = orderType(st, t.returnType, throughPtr)
      const params = t.params
      for (let i = 0; i < params.length; i++) if (orderType(st, params[i]!.type, throughPtr) > 0) strong = 1
      return strong > 0 ? 1 : 0
    }

    case Kind.FUNC:
    case Kind.VAR:
    case Kind.DATASEC:
    case Kind.DECL_TAG:
      st.orderState[id] = ORDERED
      return 0

    default:
      // void is ORDERED from the start; no other kind exists after parsing
      return 0
  }
}
