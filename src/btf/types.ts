/**
 * The typed BTF model.
 *
 * Each type is a plain object tagged by its numeric `kind` (the kernel's BTF_KIND_*),
 * so `switch (t.kind)` narrows it and an exhaustive switch fails to compile when a kind
 * is added. Edges between types are type ids (numbers), exactly as in the wire format
 * and in libbpf: this keeps the model cheap to build for a 150,000-type vmlinux and
 * makes ids (which bpftool prints) first-class. Id 0 is always `void`.
 *
 * Names are kept twice: `name` is the decoded string ('' for anonymous types) and
 * `nameOff` is the offset in the string table it came from, so writing a parsed BTF
 * back reproduces the original bytes.
 *
 * Three relations between types are used across the code base, named as in libbpf:
 * - identity: the same id in the same Btf;
 * - equivalence: the same shape (used by dedup and the minimizer);
 * - compatibility: the CO-RE rule for matching a local type to a kernel type, which is
 *   not symmetric (src/core).
 */
import {Kind} from './wire.js'

export type TypeId = number

interface Common {
  /** Decoded name; '' when anonymous. */
  name: string
  /** Offset of the name in the string table (0 for anonymous). */
  nameOff: number
  kindFlag: boolean
}

export interface VoidType extends Common {
  kind: typeof Kind.UNKN
}
export interface IntType extends Common {
  kind: typeof Kind.INT
  size: number
  /** BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL. */
  encoding: number
  /** Bit offset of the value within the storage (always 0 in practice). */
  bitOffset: number
  /** Number of value bits (<= size * 8). */
  bits: number
}
export interface RefType<K extends number> extends Common {
  kind: K
  type: TypeId
}
export type PtrType = RefType<typeof Kind.PTR>
export type TypedefType = RefType<typeof Kind.TYPEDEF>
export type VolatileType = RefType<typeof Kind.VOLATILE>
export type ConstType = RefType<typeof Kind.CONST>
export type RestrictType = RefType<typeof Kind.RESTRICT>
export type TypeTagType = RefType<typeof Kind.TYPE_TAG>

export interface ArrayType extends Common {
  kind: typeof Kind.ARRAY
  type: TypeId
  indexType: TypeId
  nelems: number
}
export interface Member {
  name: string
  nameOff: number
  type: TypeId
  /** Offset of the member in bits from the start of the struct. */
  bitOffset: number
  /** Bitfield width in bits when the parent has kindFlag set; 0 otherwise. */
  bitfieldSize: number
}
export interface CompositeType<K extends number> extends Common {
  kind: K
  size: number
  members: Member[]
}
export type StructType = CompositeType<typeof Kind.STRUCT>
export type UnionType = CompositeType<typeof Kind.UNION>

export interface EnumValue {
  name: string
  nameOff: number
  /** Value as a number: signed when the enum's kindFlag is set, unsigned otherwise. */
  value: number
}
export interface EnumType extends Common {
  kind: typeof Kind.ENUM
  size: number
  values: EnumValue[]
}
export interface Enum64Value {
  name: string
  nameOff: number
  /** Signed when the enum's kindFlag is set, unsigned otherwise. */
  value: bigint
}
export interface Enum64Type extends Common {
  kind: typeof Kind.ENUM64
  size: number
  values: Enum64Value[]
}
/** A forward declaration; kindFlag set means `union`, clear means `struct`. */
export interface FwdType extends Common {
  kind: typeof Kind.FWD
}
export interface FuncType extends Common {
  kind: typeof Kind.FUNC
  /** The FUNC_PROTO. */
  type: TypeId
  /** Linkage.STATIC / GLOBAL / EXTERN, stored in vlen on the wire. */
  linkage: number
}
export interface Param {
  name: string
  nameOff: number
  /** 0 together with an empty name in the last slot means `...` (variadic). */
  type: TypeId
}
export interface FuncProtoType extends Common {
  kind: typeof Kind.FUNC_PROTO
  returnType: TypeId
  params: Param[]
}
export interface VarType extends Common {
  kind: typeof Kind.VAR
  type: TypeId
  linkage: number
}
export interface VarSecinfo {
  type: TypeId
  offset: number
  size: number
}
export interface DatasecType extends Common {
  kind: typeof Kind.DATASEC
  size: number
  vars: VarSecinfo[]
}
export interface FloatType extends Common {
  kind: typeof Kind.FLOAT
  size: number
}
export interface DeclTagType extends Common {
  kind: typeof Kind.DECL_TAG
  type: TypeId
  /** -1 for the type itself, else the member/param index. */
  componentIdx: number
}

export type BtfType =
  | VoidType
  | IntType
  | PtrType
  | ArrayType
  | StructType
  | UnionType
  | EnumType
  | FwdType
  | TypedefType
  | VolatileType
  | ConstType
  | RestrictType
  | FuncType
  | FuncProtoType
  | VarType
  | DatasecType
  | FloatType
  | DeclTagType
  | TypeTagType
  | Enum64Type

/** The one `void` type, id 0 in every BTF. */
export const VOID: VoidType = Object.freeze({kind: Kind.UNKN, name: '', nameOff: 0, kindFlag: false})

/** Kinds whose record holds a single referenced type id in `type` and nothing else. */
export function isRefKind(kind: number): boolean {
  return (
    kind === Kind.PTR ||
    kind === Kind.TYPEDEF ||
    kind === Kind.VOLATILE ||
    kind === Kind.CONST ||
    kind === Kind.RESTRICT ||
    kind === Kind.TYPE_TAG
  )
}

/** CONST, VOLATILE, RESTRICT and TYPE_TAG: the kinds that only qualify another type. */
export function isModifier(kind: number): boolean {
  return kind === Kind.VOLATILE || kind === Kind.CONST || kind === Kind.RESTRICT || kind === Kind.TYPE_TAG
}

export function isComposite(t: BtfType): t is StructType | UnionType {
  return t.kind === Kind.STRUCT || t.kind === Kind.UNION
}

export function isEnum(t: BtfType): t is EnumType | Enum64Type {
  return t.kind === Kind.ENUM || t.kind === Kind.ENUM64
}

/**
 * Calls `fn` for every type id a type refers to, in wire order. The one place that
 * knows the edges of each kind (libbpf's field iterator plays this role).
 */
export function forEachTypeRef(t: BtfType, fn: (id: TypeId) => void): void {
  switch (t.kind) {
    case Kind.UNKN:
    case Kind.INT:
    case Kind.FWD:
    case Kind.FLOAT:
    case Kind.ENUM:
    case Kind.ENUM64:
      return
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
    case Kind.FUNC:
    case Kind.VAR:
    case Kind.DECL_TAG:
      fn(t.type)
      return
    case Kind.ARRAY:
      fn(t.type)
      fn(t.indexType)
      return
    case Kind.STRUCT:
    case Kind.UNION:
      for (const m of t.members) fn(m.type)
      return
    case Kind.FUNC_PROTO:
      fn(t.returnType)
      for (const p of t.params) fn(p.type)
      return
    case Kind.DATASEC:
      for (const v of t.vars) fn(v.type)
      return
    default:
      assertNever(t)
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`)
}
