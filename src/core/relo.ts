/**
 * CO-RE relocation kinds (enum bpf_core_relo_kind in include/uapi/linux/bpf.h) and the
 * names libbpf prints for them (core_relo_kind_str), which are also the `kind` strings
 * of `kcompat relocate --json`.
 *
 * Three families, which decide how the access string is read and what is computed:
 * - field-based: the access string walks from a root type to a field;
 * - type-based: the access string is "0" and only the root type matters;
 * - enum-value-based: the access string is the index of an enumerator of the root enum.
 */
export const CoreReloKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const
export type CoreReloKindValue = (typeof CoreReloKind)[keyof typeof CoreReloKind]

export type CoreReloKindName =
  | 'byte_off'
  | 'byte_sz'
  | 'field_exists'
  | 'signed'
  | 'lshift_u64'
  | 'rshift_u64'
  | 'local_type_id'
  | 'target_type_id'
  | 'type_exists'
  | 'type_size'
  | 'enumval_exists'
  | 'enumval_value'
  | 'type_matches'

const NAMES: readonly CoreReloKindName[] = [
  'byte_off',
  'byte_sz',
  'field_exists',
  'signed',
  'lshift_u64',
  'rshift_u64',
  'local_type_id',
  'target_type_id',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
]

/** libbpf's name for a kind, or 'unknown'. */
export function coreReloKindName(kind: number): CoreReloKindName | 'unknown' {
  return NAMES[kind] ?? 'unknown'
}

export function isFieldBased(kind: number): boolean {
  return kind >= CoreReloKind.FIELD_BYTE_OFFSET && kind <= CoreReloKind.FIELD_RSHIFT_U64
}

export function isTypeBased(kind: number): boolean {
  return (kind >= CoreReloKind.TYPE_ID_LOCAL && kind <= CoreReloKind.TYPE_SIZE) || kind === CoreReloKind.TYPE_MATCHES
}

export function isEnumValBased(kind: number): boolean {
  return kind === CoreReloKind.ENUMVAL_EXISTS || kind === CoreReloKind.ENUMVAL_VALUE
}
