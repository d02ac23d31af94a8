/**
 * Computing a relocation's value from a spec (libbpf's bpf_core_calc_relo and its
 * field/type/enum helpers): once for the local spec (the value the compiler put in the
 * instruction, used to validate it) and once for the target spec (the value to write).
 */
import {Kind} from '../btf/wire.js'
import {isAnyEnum, resolveSize, sizeOrType, skipModsAndTypedefs} from './btf-util.js'
import {E2BIG, EINVAL, EOPNOTSUPP, ReloFailure} from './errors.js'
import {CoreReloKind, coreReloKindName, isEnumValBased, isFieldBased, isTypeBased} from './relo.js'
import type {CoreSpec} from './spec.js'

/** Outcome of one side's computation; `poison` when the target side has nothing to give. */
interface SideValue {
  value: bigint
  /** Load/store width implied by the field (0 when it does not apply). */
  fieldSize: number
  /** The field's type (typedefs skipped), for memory-size adjustment. */
  typeId: number
  validate: boolean
}

/** bpf_core_relo_res: what to check in the instruction and what to write. */
export interface ReloResult {
  /** Value the instruction must hold now (checked when `validate`). */
  origVal: bigint
  /** Value to write. */
  newVal: bigint
  /** No target: the instruction is replaced by an invalid call. */
  poison: boolean
  validate: boolean
  /** The load/store width cannot be adjusted safely (poisons LDX/ST/STX). */
  failMemszAdjust: boolean
  origSize: number
  newSize: number
  origTypeId: number
  newTypeId: number
}

/** Options that change how values are computed. */
export interface CalcOptions {
  /**
   * Byte order of the machine the program runs on, which decides FIELD_LSHIFT_U64 for
   * bitfields (libbpf uses the byte order it was compiled for).
   */
  littleEndian: boolean
  /**
   * libbpf 1.6 and later judge a load's width by an array's innermost element, where
   * 1.1 to 1.5 use the size of the whole array (see {@link fieldLoadSize}). Default false.
   */
  arrayElementWidth?: boolean
}

class Poison extends Error {}

/**
 * Field relocations (bpf_core_calc_field_relo). For a plain field: byte offset =
 * bit offset / 8, byte size = size of the field's type. For an array-element access
 * (the last accessor is an index): byte offset of the element and size of the element
 * type; the shift/signed kinds cannot apply. For a bitfield libbpf finds the smallest
 * naturally aligned load that covers it: start from the size of the bitfield's integer
 * type and the aligned offset that contains the first bit, and double the size (up to
 * 8 bytes) while the bits do not fit. Then, for a 64-bit register loaded with those
 * bytes, the field is extracted by `<< lshift >> rshift`:
 *
 *   little-endian: lshift = 64 - (bit_off + bit_sz - byte_off * 8)
 *   big-endian:    lshift = (8 - byte_sz) * 8 + (bit_off - byte_off * 8)
 *   rshift = 64 - bit_sz
 *
 * and `signed` says whether the right shift must be arithmetic. Values are computed in
 * u32 arithmetic as libbpf does (so an impossible shift wraps rather than going
 * negative). Bitfield offsets, sizes and shifts are not validated against the
 * instruction (the compiler may have chosen differently); `signed` and `rshift` are.
 */
function calcField(kind: number, spec: CoreSpec | undefined, opts: CalcOptions): SideValue {
  const out: SideValue = {value: 0n, fieldSize: 0, typeId: 0, validate: true}
  if (kind === CoreReloKind.FIELD_EXISTS) {
    out.value = spec ? 1n : 0n
    return out
  }
  if (!spec) throw new Poison()
  const btf = spec.btf
  const acc = spec.accessors[spec.accessors.length - 1]!
  if (acc.name === undefined) {
    if (kind === CoreReloKind.FIELD_BYTE_OFFSET) {
      out.value = BigInt(Math.floor(spec.bitOffset / 8))
      out.fieldSize = fieldLoadSize(spec, acc.typeId, opts)
      out.typeId = acc.typeId
    } else if (kind === CoreReloKind.FIELD_BYTE_SIZE) {
      out.value = BigInt(resolveOrInval(spec, acc.typeId))
    } else {
      throw new ReloFailure('CORE_ARRAY_ACCESS', `${coreReloKindName(kind)} cannot be applied to an array element access`, EINVAL)
    }
    return out
  }
  const t = btf.typeById(acc.typeId) as {kindFlag: boolean; members: {type: number; bitOffset: number; bitfieldSize: number}[]}
  const m = t.members[acc.idx]!
  const fieldTypeId = skipModsAndTypedefs(btf, m.type)
  const mt = btf.typeById(fieldTypeId)
  const bitOff = spec.bitOffset
  let bitSz = t.kindFlag ? m.bitfieldSize : 0
  const bitfield = bitSz > 0
  let byteSz: number
  let byteOff: number
  if (bitfield) {
    byteSz = sizeOrType(mt)
    if (byteSz === 0) throw new ReloFailure('CORE_BITFIELD', 'bitfield of a zero-sized type', EINVAL)
    byteOff = Math.floor(Math.floor(bitOff / 8) / byteSz) * byteSz
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw new ReloFailure('CORE_BITFIELD', 'the bitfield cannot be read with one 64-bit load', E2BIG)
      byteSz *= 2
      byteOff = Math.floor(Math.floor(bitOff / 8) / byteSz) * byteSz
    }
  } else {
    byteSz = resolveOrInval(spec, fieldTypeId)
    byteOff = Math.floor(bitOff / 8)
    bitSz = (byteSz * 8) >>> 0
  }
  out.validate = !bitfield
  switch (kind) {
    case CoreReloKind.FIELD_BYTE_OFFSET:
      out.value = BigInt(byteOff)
      if (!bitfield) {
        out.fieldSize = opts.arrayElementWidth ? fieldLoadSize(spec, fieldTypeId, opts) : byteSz
        out.typeId = fieldTypeId
      }
      break
    case CoreReloKind.FIELD_BYTE_SIZE:
      out.value = BigInt(byteSz)
      break
    case CoreReloKind.FIELD_SIGNED:
      out.value = (isAnyEnum(mt) && mt.kindFlag) || (mt.kind === Kind.INT && (mt.encoding & 1) !== 0) ? 1n : 0n
      out.validate = true
      break
    case CoreReloKind.FIELD_LSHIFT_U64:
      out.value = BigInt(
        opts.littleEndian ? (64 - (bitOff + bitSz - byteOff * 8)) >>> 0 : ((8 - byteSz) * 8 + (bitOff - byteOff * 8)) >>> 0,
      )
      break
    case CoreReloKind.FIELD_RSHIFT_U64:
      out.value = BigInt((64 - bitSz) >>> 0)
      out.validate = true
      break
    default:
      throw new ReloFailure('CORE_BAD_KIND', `unrecognized CO-RE relocation kind ${kind}`, EOPNOTSUPP)
  }
  return out
}

/**
 * The width a load or store of the field implies, compared between local and target to
 * decide whether the instruction's access size must change. libbpf up to 1.5 takes the
 * size of the field's type, so an array field counts as its whole size (and a change
 * of array length poisons a load from it); 1.6 (commit "fix LDX/STX/ST CO-RE
 * relocation size adjustment logic") takes the innermost element's size.
 */
function fieldLoadSize(spec: CoreSpec, id: number, opts: CalcOptions): number {
  if (!opts.arrayElementWidth) return resolveOrInval(spec, id)
  let elem = skipModsAndTypedefs(spec.btf, id)
  for (let t = spec.btf.typeById(elem); t.kind === Kind.ARRAY; t = spec.btf.typeById(elem)) elem = skipModsAndTypedefs(spec.btf, t.type)
  return resolveOrInval(spec, elem)
}

function resolveOrInval(spec: CoreSpec, id: number): number {
  try {
    return resolveSize(spec.btf, id)
  } catch (e) {
    if (e instanceof ReloFailure) throw new ReloFailure(e.code, e.message, EINVAL)
    throw e
  }
}

/**
 * Type relocations (bpf_core_calc_type_relo): without a target they all give 0 (not a
 * poison); TYPE_ID_TARGET gives the target id (not validated: ids change when objects
 * are linked), TYPE_EXISTS and TYPE_MATCHES 1, TYPE_SIZE the target's size.
 */
function calcType(kind: number, spec: CoreSpec | undefined): SideValue {
  const out: SideValue = {value: 0n, fieldSize: 0, typeId: 0, validate: true}
  if (!spec) return out
  switch (kind) {
    case CoreReloKind.TYPE_ID_TARGET:
      out.value = BigInt(spec.rootTypeId)
      out.validate = false
      break
    case CoreReloKind.TYPE_EXISTS:
    case CoreReloKind.TYPE_MATCHES:
      out.value = 1n
      break
    case CoreReloKind.TYPE_SIZE:
      out.value = BigInt(resolveOrInval(spec, spec.rootTypeId))
      break
    default:
      throw new ReloFailure('CORE_BAD_KIND', `unrecognized CO-RE relocation kind ${kind}`, EOPNOTSUPP)
  }
  return out
}

/**
 * Enum value relocations (bpf_core_calc_enumval_relo): ENUMVAL_EXISTS is 1 or 0;
 * ENUMVAL_VALUE is the enumerator's value as a u64 (a 32-bit enumerator is read as
 * signed and sign-extended, whatever the enum's signedness flag, as libbpf does), and
 * poisons without a target.
 */
function calcEnumval(kind: number, spec: CoreSpec | undefined): SideValue {
  const out: SideValue = {value: 0n, fieldSize: 0, typeId: 0, validate: true}
  if (kind === CoreReloKind.ENUMVAL_EXISTS) {
    out.value = spec ? 1n : 0n
    return out
  }
  if (kind !== CoreReloKind.ENUMVAL_VALUE) {
    throw new ReloFailure('CORE_BAD_KIND', `unrecognized CO-RE relocation kind ${kind}`, EOPNOTSUPP)
  }
  if (!spec) throw new Poison()
  const acc = spec.accessors[0]!
  const t = spec.btf.typeById(acc.typeId)
  if (t.kind === Kind.ENUM) out.value = BigInt.asUintN(64, BigInt(t.values[acc.idx]!.value | 0))
  else if (t.kind === Kind.ENUM64) out.value = BigInt.asUintN(64, t.values[acc.idx]!.value)
  return out
}

/**
 * Both sides of one relocation (bpf_core_calc_relo). `targ` undefined means no
 * candidate matched. A side that cannot give a value (field other than EXISTS, or
 * ENUMVAL_VALUE, without a target) makes the result a poison. When a field load
 * changes width (orig and new field sizes differ), that is only safe for pointers and
 * unsigned integers (zero extension keeps the value); otherwise the result carries
 * `failMemszAdjust`, which poisons a load/store instruction.
 * @throws ReloFailure for the cases where libbpf fails the relocation.
 */
export function calcRelo(kind: number, local: CoreSpec, targ: CoreSpec | undefined, opts: CalcOptions): ReloResult {
  const res: ReloResult = {
    origVal: 0n,
    newVal: 0n,
    poison: false,
    validate: true,
    failMemszAdjust: false,
    origSize: 0,
    newSize: 0,
    origTypeId: 0,
    newTypeId: 0,
  }
  try {
    if (isFieldBased(kind)) {
      const o = calcField(kind, local, opts)
      res.origVal = o.value
      res.origSize = o.fieldSize
      res.origTypeId = o.typeId
      res.validate = o.validate
      const n = calcField(kind, targ, opts)
      res.newVal = n.value
      res.newSize = n.fieldSize
      res.newTypeId = n.typeId
      if (res.origSize !== res.newSize) {
        const ot = local.btf.typeById(res.origTypeId)
        const nt = targ!.btf.typeById(res.newTypeId)
        const unsignedInt = (t: typeof ot): boolean => t.kind === Kind.INT && t.encoding !== 1
        const safe = (ot.kind === Kind.PTR && nt.kind === Kind.PTR) || (unsignedInt(ot) && unsignedInt(nt))
        res.failMemszAdjust = !safe
      }
    } else if (isTypeBased(kind)) {
      const o = calcType(kind, local)
      res.origVal = o.value
      res.validate = o.validate
      res.newVal = calcType(kind, targ).value
    } else if (isEnumValBased(kind)) {
      res.origVal = calcEnumval(kind, local).value
      res.newVal = calcEnumval(kind, targ).value
    } else {
      throw new ReloFailure('CORE_BAD_KIND', `unrecognized CO-RE relocation kind ${kind}`, EOPNOTSUPP)
    }
  } catch (e) {
    if (!(e instanceof Poison)) throw e
    res.poison = true
  }
  return res
}
