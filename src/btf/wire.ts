/**
 * The BTF wire format: constants and record sizes exactly as the kernel defines them
 * in include/uapi/linux/btf.h. Nothing here allocates or knows about the model.
 *
 * A raw BTF blob is a header, a type section and a string section:
 *
 *   struct btf_header { u16 magic = 0xeb9f; u8 version = 1; u8 flags = 0; u32 hdr_len;
 *                       u32 type_off; u32 type_len; u32 str_off; u32 str_len; }
 *
 * Both section offsets are relative to the end of the header (hdr_len). The byte order
 * of the whole blob is given by how the magic reads: 0xeb9f in the reader's order means
 * same order, 0x9feb means swapped.
 *
 * Each type is a 12-byte `struct btf_type { u32 name_off; u32 info; u32 size_or_type; }`
 * followed by a kind-specific trailer. `info` packs vlen (bits 0-15), kind (bits 24-28)
 * and kind_flag (bit 31).
 */

export const BTF_MAGIC = 0xeb9f
export const BTF_VERSION = 1
/** Size of the header this code writes; readers accept larger hdr_len values. */
export const BTF_HEADER_SIZE = 24
/** Largest type id the kernel accepts (BTF_MAX_TYPE). */
export const BTF_MAX_TYPE = 0x000fffff
/** Largest string offset the kernel accepts (BTF_MAX_NAME_OFFSET). */
export const BTF_MAX_NAME_OFFSET = 0x00ffffff
/** Largest vlen (16 bits). */
export const BTF_MAX_VLEN = 0xffff

/**
 * Type kinds. The comment on each gives the kernel release that introduced it.
 * Kept as a plain `as const` object (not a TS enum) so values are usable as literal types.
 */
export const Kind = {
  UNKN: 0, // void / unknown
  INT: 1, // 4.18
  PTR: 2, // 4.18
  ARRAY: 3, // 4.18
  STRUCT: 4, // 4.18
  UNION: 5, // 4.18
  ENUM: 6, // 4.18
  FWD: 7, // 4.18
  TYPEDEF: 8, // 4.18
  VOLATILE: 9, // 4.18
  CONST: 10, // 4.18
  RESTRICT: 11, // 4.18
  FUNC: 12, // 5.0
  FUNC_PROTO: 13, // 5.0
  VAR: 14, // 5.2
  DATASEC: 15, // 5.2
  FLOAT: 16, // 5.13
  DECL_TAG: 17, // 5.16
  TYPE_TAG: 18, // 5.17
  ENUM64: 19, // 6.0
} as const
export type KindValue = (typeof Kind)[keyof typeof Kind]
export const KIND_MAX = Kind.ENUM64

/** Kind names as bpftool prints them (`[N] STRUCT 'name' …`). Index = kind. */
export const KIND_NAMES: readonly string[] = [
  'UNKNOWN',
  'INT',
  'PTR',
  'ARRAY',
  'STRUCT',
  'UNION',
  'ENUM',
  'FWD',
  'TYPEDEF',
  'VOLATILE',
  'CONST',
  'RESTRICT',
  'FUNC',
  'FUNC_PROTO',
  'VAR',
  'DATASEC',
  'FLOAT',
  'DECL_TAG',
  'TYPE_TAG',
  'ENUM64',
]

/** Size of the fixed `struct btf_type` record. */
export const BTF_TYPE_SIZE = 12

/** Bits of the u32 that follows an INT record. */
export const BTF_INT_SIGNED = 1 << 0
export const BTF_INT_CHAR = 1 << 1
export const BTF_INT_BOOL = 1 << 2

/** FUNC linkage (stored in vlen) and VAR linkage (stored in the trailer). */
export const Linkage = {
  STATIC: 0,
  GLOBAL: 1,
  EXTERN: 2,
} as const

export function infoKind(info: number): number {
  return (info >>> 24) & 0x1f
}
export function infoVlen(info: number): number {
  return info & 0xffff
}
export function infoKindFlag(info: number): boolean {
  return info >>> 31 === 1
}
export function makeInfo(kind: number, vlen: number, kindFlag: boolean): number {
  return ((kindFlag ? 0x80000000 : 0) | ((kind & 0x1f) << 24) | (vlen & 0xffff)) >>> 0
}

/**
 * Size of the trailer that follows the 12-byte record of a type of `kind` with `vlen`
 * entries, or -1 for an unknown kind.
 */
export function trailerSize(kind: number, vlen: number): number {
  switch (kind) {
    case Kind.INT:
    case Kind.VAR:
    case Kind.DECL_TAG:
      return 4
    case Kind.ARRAY:
      return 12
    case Kind.STRUCT:
    case Kind.UNION:
    case Kind.DATASEC:
    case Kind.ENUM64:
      return 12 * vlen
    case Kind.ENUM:
    case Kind.FUNC_PROTO:
      return 8 * vlen
    case Kind.PTR:
    case Kind.FWD:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.FUNC:
    case Kind.FLOAT:
    case Kind.TYPE_TAG:
      return 0
    default:
      return -1
  }
}
