/**
 * Small BTF helpers with libbpf's exact semantics, as the CO-RE engine needs them:
 * size resolution that reports failure the way btf__resolve_size does, the pointer size
 * libbpf assumes for a BTF, kind names as libbpf prints them, and u32 arithmetic.
 */
import {type Btf, guessPointerSize, resolveSize as resolveSizeWalk} from '../btf/btf.js'
import type {BtfType, TypeId} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {E2BIG, EINVAL, ReloFailure} from './errors.js'

const KIND_STR = [
  'void',
  'int',
  'ptr',
  'array',
  'struct',
  'union',
  'enum',
  'fwd',
  'typedef',
  'volatile',
  'const',
  'restrict',
  'func',
  'func_proto',
  'var',
  'datasec',
  'float',
  'decl_tag',
  'type_tag',
  'enum64',
]

/** libbpf's btf_kind_str: 'struct', 'typedef', 'enum64', ... */
export function kindStr(kind: number): string {
  return KIND_STR[kind] ?? 'unknown'
}

/** `kind name` as libbpf prints a type in CO-RE messages ('<anon>' for no name). */
export function typeLabel(t: BtfType): string {
  return `${kindStr(t.kind)} ${t.name === '' ? '<anon>' : t.name}`
}

/** Any two types of the same kind, or any two enums (ENUM/ENUM64): btf_kind_core_compat. */
export function kindsCoreCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b))
}

export function isAnyEnum(t: BtfType): boolean {
  return t.kind === Kind.ENUM || t.kind === Kind.ENUM64
}

/** Skips typedefs and modifiers (libbpf's skip_mods_and_typedefs), returning the id reached. */
export function skipModsAndTypedefs(btf: Btf, id: TypeId): TypeId {
  return btf.skipTypedefsAndModifiers(id)
}

/**
 * The raw `size_or_type` word of a type record: the size for sized kinds, the
 * referenced id for reference kinds. libbpf reads `t->size` of a bitfield's type
 * without checking its kind; this reproduces what it would read.
 */
export function sizeOrType(t: BtfType): number {
  switch (t.kind) {
    case Kind.INT:
    case Kind.STRUCT:
    case Kind.UNION:
    case Kind.ENUM:
    case Kind.ENUM64:
    case Kind.DATASEC:
    case Kind.FLOAT:
      return t.size
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
    case Kind.FUNC:
    case Kind.VAR:
    case Kind.DECL_TAG:
      return t.type
    case Kind.FUNC_PROTO:
      return t.returnType
    default:
      return 0
  }
}

const pointerSizes = new WeakMap<Btf, number>()

/**
 * The pointer size libbpf assumes for `btf` (btf_ptr_sz): {@link guessPointerSize}, memoized,
 * unless declared with {@link setPointerSize}. BPF objects' own BTF is always 8
 * (libbpf sets it): see {@link setPointerSize}.
 */
export function pointerSize(btf: Btf): number {
  let size = pointerSizes.get(btf)
  if (size === undefined) {
    size = guessPointerSize(btf)
    pointerSizes.set(btf, size)
  }
  return size
}

/** Declares the pointer size of `btf` (libbpf forces 8 for BPF object BTF). */
export function setPointerSize(btf: Btf, size: number): void {
  pointerSizes.set(btf, size)
}

const U32 = 0x1_0000_0000

/**
 * btf__resolve_size (the shared walk in src/btf/btf.ts, pointers being
 * {@link pointerSize}), failing like libbpf: EINVAL for void and sizeless kinds (and
 * chains deeper than 32), E2BIG when the element count or the total would not fit in 32
 * bits.
 * @throws ReloFailure
 */
export function resolveSize(btf: Btf, id: TypeId): number {
  const r = resolveSizeWalk((i) => btf.typeById(i), id, pointerSize(btf))
  if (typeof r === 'number') return r
  if (r.fail === 'overflow') throw new ReloFailure('CORE_SIZE_TOO_BIG', `type [${id}]: size overflows 32 bits`, E2BIG)
  if (r.fail === 'no-size' && r.kind !== Kind.UNKN) throw new ReloFailure('CORE_NO_SIZE', `type [${id}] (${kindStr(r.kind)}) has no size`, EINVAL)
  throw new ReloFailure('CORE_NO_SIZE', `type [${id}] has no size`, EINVAL)
}

/** (a * b) mod 2^32 for non-negative integers, exact even past 2^53. */
export function mulU32(a: number, b: number): number {
  const p = a * b
  if (p <= Number.MAX_SAFE_INTEGER) return p % U32
  return Number(BigInt.asUintN(32, BigInt(a) * BigInt(b)))
}

/** (a + b) mod 2^32 for u32 operands (negative b subtracts). */
export function addU32(a: number, b: number): number {
  return (a + b) >>> 0
}
