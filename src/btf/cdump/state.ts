/**
 * State shared by the two passes of the C dumper (ordering, then emission).
 *
 * Everything that libbpf keeps per type id in `struct btf_dump_type_aux_state` lives
 * here in flat typed arrays indexed by type id, so a 150,000-type vmlinux costs a few
 * hundred kilobytes and no per-type objects:
 *
 * - order state (NOT_ORDERED / ORDERING / ORDERED): the depth-first ordering pass's
 *   colouring, used both to skip finished types and to detect cycles;
 * - emit state (NOT_EMITTED / EMITTING / EMITTED): where the emission pass is with a
 *   type; meeting an EMITTING type again means a forward declaration is needed;
 * - fwd_emitted: a forward declaration (or, for a typedef, its definition) was
 *   already printed;
 * - name_resolved + cached name: the type's final, de-duplicated C name;
 * - referenced: some other type points at this one (decides whether an anonymous
 *   enum is a stand-alone top-level declaration or is inlined where it is used).
 *
 * Text goes to `out`, a byte buffer (see sink.ts) that the dumper empties into a
 * string after each top-level `dumpType` call, or once at the end of `dumpC`.
 */
import {type Btf, guessPointerSize} from '../btf.js'
import type {BtfType, TypeId} from '../types.js'
import {Kind} from '../wire.js'
import {NameCounter} from './names.js'
import {TextSink} from './sink.js'

// Order states (libbpf's enum btf_dump_type_order_state).
export const NOT_ORDERED = 0
export const ORDERING = 1
export const ORDERED = 2

// Emit states (libbpf's enum btf_dump_type_emit_state).
export const NOT_EMITTED = 0
export const EMITTING = 1
export const EMITTED = 2


export class DumpState {
  readonly btf: Btf
  readonly lastId: number
  /** Size of a pointer (and of `long`) in bytes: 8 or 4. */
  readonly ptrSize: number

  readonly orderState: Uint8Array
  readonly emitState: Uint8Array
  readonly fwdEmitted: Uint8Array
  readonly nameResolved: Uint8Array
  readonly referenced: Uint8Array
  /** De-duplicated names (`foo___2`) of the types whose name had to change. */
  readonly cachedNames = new Map<TypeId, string>()
  /** Occurrence counts of struct/union/enum tags (C's tag namespace). */
  readonly typeNames: NameCounter
  /** Occurrence counts of typedef names and enumerators (C's ordinary identifiers). */
  readonly identNames: NameCounter
  /** Memoized alignment: value + 1, 0 = not computed yet. */
  readonly alignCache: Int32Array
  /**
   * Type `id` (base types included; 0 is void), as the shared walks of src/btf/btf.ts
   * take it. On a lazily parsed Btf (as `btf dump` parses) the type is decoded afresh
   * at each call and not kept: a dump meets each type a few times (~700,000 decodes for
   * a 107,000-type kernel), and short-lived objects cost less than holding every
   * decoded type at once (peak RSS 120 -> ~70 MiB, and less time in the garbage
   * collector than the full parse took).
   */
  readonly typeOf = (id: TypeId): BtfType => this.btf.peekType(id)

  /** Named definitions in the order the current dumpType() must print them. */
  readonly emitQueue: TypeId[] = []
  emitQueueLen = 0
  /**
   * Shared stack of declarator chains; each chain works on its own frame of it.
   * `declTop` is the number of ids in use.
   */
  declStack = new Int32Array(256)
  declTop = 0
  /** Text produced since the last flush. */
  readonly out: TextSink

  /**
   * @param pointerSize overrides the size guessed from the BTF's `long`.
   * @param outCapacity initial size of the output buffer in bytes.
   */
  constructor(btf: Btf, pointerSize?: number, outCapacity?: number) {
    this.btf = btf
    this.lastId = btf.lastId
    this.typeNames = new NameCounter(btf.strings)
    this.identNames = new NameCounter(btf.strings)
    this.ptrSize = pointerSize ?? guessPointerSize(btf)
    const n = this.lastId + 1
    this.orderState = new Uint8Array(n)
    this.emitState = new Uint8Array(n)
    this.fwdEmitted = new Uint8Array(n)
    this.nameResolved = new Uint8Array(n)
    this.referenced = new Uint8Array(n)
    this.alignCache = new Int32Array(n)
    this.out = new TextSink(outCapacity)
    // void is always "defined": never ordered or emitted.
    this.orderState[0] = ORDERED
    this.emitState[0] = EMITTED
    this.markReferenced()
  }

  /** Appends `id` to the emission queue of the current dumpType(). */
  enqueue(id: TypeId): void {
    this.emitQueue[this.emitQueueLen++] = id
  }

  /** Pushes `id` on the declarator stack, growing it when full. */
  pushDecl(id: TypeId): void {
    if (this.declTop === this.declStack.length) {
      const bigger = new Int32Array(this.declStack.length * 2)
      bigger.set(this.declStack)
      this.declStack = bigger
    }
    this.declStack[this.declTop++] = id
  }

  /**
   * Flags every type some other type refers to. Only anonymous enums care: one that
   * nothing references is a top-level `enum { A = 1, ... };` holding constants, while a
   * referenced one is written inline at its use.
   *
   * As in libbpf, a function prototype's return type does not count as a reference
   * (only its parameters do), so an anonymous enum used solely as a return type is
   * printed as a top-level declaration.
   */
  private markReferenced(): void {
    const referenced = this.referenced
    const btf = this.btf
    for (let id = 1; id <= this.lastId; id++) {
      const t = btf.peekType(id)
      switch (t.kind) {
        case Kind.PTR:
        case Kind.TYPEDEF:
        case Kind.VOLATILE:
        case Kind.CONST:
        case Kind.RESTRICT:
        case Kind.TYPE_TAG:
        case Kind.FUNC:
        case Kind.VAR:
        case Kind.DECL_TAG:
          referenced[t.type] = 1
          break
        case Kind.ARRAY:
          referenced[t.indexType] = 1
          referenced[t.type] = 1
          break
        case Kind.STRUCT:
        case Kind.UNION:
          for (let i = 0, ms = t.members; i < ms.length; i++) referenced[ms[i]!.type] = 1
          break
        case Kind.FUNC_PROTO:
          for (let i = 0, ps = t.params; i < ps.length; i++) referenced[ps[i]!.type] = 1
          break
        case Kind.DATASEC:
          for (let i = 0, vs = t.vars; i < vs.length; i++) referenced[vs[i]!.type] = 1
          break
        default:
          break
      }
    }
  }
}
