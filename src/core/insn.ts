/**
 * Applying a relocation result to its BPF instruction, with libbpf's checks
 * (bpf_core_patch_insn). Nothing is written: the outcome says what libbpf would write.
 *
 * A BPF instruction is 8 bytes: `u8 code; u8 regs; s16 off; s32 imm` in the object's
 * byte order (the register nibbles swap with it, which does not matter here). A
 * 64-bit immediate load (`ld_imm64`, code 0x18) takes two slots, the upper half of the
 * value in the second slot's imm. libbpf patches:
 *
 * - ALU/ALU64 with an immediate operand (`rX = imm`, `rX += imm`): the imm;
 * - LDX/ST/STX (`rX = *(T *)(rY + off)`, stores): the offset, and the access width when
 *   the field's size changed (pointers and unsigned integers only);
 * - ld_imm64: the 64-bit immediate.
 *
 * Before patching it checks that the instruction holds the value the local BTF
 * implies (unless the relocation is not validated), which catches an object whose
 * `.BTF.ext` does not describe its code.
 */
import {EINVAL, ERANGE, ReloFailure} from './errors.js'
import type {ReloResult} from './calc.js'

export const BPF_LD = 0x00
export const BPF_LDX = 0x01
export const BPF_ST = 0x02
export const BPF_STX = 0x03
export const BPF_ALU = 0x04
export const BPF_ALU64 = 0x07
const BPF_K = 0x00
const BPF_SRC_MASK = 0x08
const LD_IMM64 = 0x18 // BPF_LD | BPF_IMM | BPF_DW
/** The imm of the call libbpf substitutes for a poisoned instruction: 0xbad2310, "bad relo". */
export const POISON_IMM = 195896080

export type InsnClass = 'alu' | 'alu64' | 'ldx' | 'st' | 'stx' | 'ld_imm64'

/** What libbpf does to the instruction(s). */
export type PatchOutcome =
  | {
      kind: 'patched'
      insnClass: InsnClass
      /** The value found in the instruction before patching (u64, as libbpf logs it). */
      original: bigint
      /** The value written (u64; an ALU imm or an offset is its low 16/32 bits). */
      value: bigint
      /** Load/store width change in bytes, when the field's size changed. */
      memSize?: {from: number; to: number}
    }
  | {kind: 'poisoned'; insnClass: InsnClass | 'other'; reason: string; /** Instruction indices replaced by the invalid call. */ insns: number[]}

/** A view on one program's instructions. */
export interface InsnView {
  /** Number of instructions in the program. */
  count: number
  code(i: number): number
  srcReg(i: number): number
  dstReg(i: number): number
  off(i: number): number
  imm(i: number): number
}

/**
 * Instructions `firstInsn ..` of a section's bytes, read in the object's byte order
 * (`struct bpf_insn` has `dst_reg:4, src_reg:4` bitfields, so dst is the low nibble on
 * little-endian and the high nibble on big-endian).
 */
export function insnView(bytes: Uint8Array, littleEndian: boolean, firstInsn: number, count: number): InsnView {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const at = (i: number): number => (firstInsn + i) * 8
  return {
    count,
    code: (i) => dv.getUint8(at(i)),
    dstReg: (i) => (littleEndian ? dv.getUint8(at(i) + 1) & 0x0f : dv.getUint8(at(i) + 1) >> 4),
    srcReg: (i) => (littleEndian ? dv.getUint8(at(i) + 1) >> 4 : dv.getUint8(at(i) + 1) & 0x0f),
    off: (i) => dv.getInt16(at(i) + 2, littleEndian),
    imm: (i) => dv.getInt32(at(i) + 4, littleEndian),
  }
}

function sizeBytes(code: number): number {
  return [4, 2, 1, 8][(code & 0x18) >> 3]!
}

/**
 * libbpf's decision for relocation `res` at instruction `idx` of `insns`.
 * @throws ReloFailure where libbpf fails the load: an instruction of a kind CO-RE does
 *   not patch, a value that does not match the local BTF, an offset past 32767, an
 *   access width that does not match the field.
 */
export function patchInsn(insns: InsnView, idx: number, res: ReloResult, poisonReason: string): PatchOutcome {
  const code = insns.code(idx)
  const cls = code & 0x07
  const isLdImm64 = code === LD_IMM64
  const klass: InsnClass | 'other' =
    cls === BPF_ALU ? 'alu' : cls === BPF_ALU64 ? 'alu64' : cls === BPF_LDX ? 'ldx' : cls === BPF_ST ? 'st' : cls === BPF_STX ? 'stx' : isLdImm64 ? 'ld_imm64' : 'other'
  const poison = (reason: string): PatchOutcome => ({
    kind: 'poisoned',
    insnClass: klass,
    reason,
    insns: isLdImm64 && idx + 1 < insns.count ? [idx, idx + 1] : [idx],
  })
  if (res.poison) return poison(poisonReason)

  const u64 = (n: number): bigint => BigInt.asUintN(64, BigInt(n))
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      if ((code & BPF_SRC_MASK) !== BPF_K) {
        throw new ReloFailure('CORE_BAD_INSN', `insn #${idx} (ALU/ALU64) does not take an immediate operand`, EINVAL)
      }
      const original = u64(insns.imm(idx))
      if (res.validate && original !== res.origVal) throw mismatch(idx, 'ALU/ALU64', original, res)
      return {kind: 'patched', insnClass: klass as InsnClass, original, value: res.newVal}
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      const original = u64(insns.off(idx))
      if (res.validate && original !== res.origVal) throw mismatch(idx, 'LDX/ST/STX', original, res)
      if (res.newVal > 32767n) {
        throw new ReloFailure('CORE_OFFSET_TOO_BIG', `insn #${idx} (LDX/ST/STX) value too big: ${res.newVal}`, ERANGE)
      }
      if (res.failMemszAdjust) {
        return poison(
          `insn #${idx} (LDX/ST/STX) accesses the field with a different size (${res.origSize} -> ${res.newSize} bytes) that is not a pointer or unsigned integer`,
        )
      }
      const out: PatchOutcome = {kind: 'patched', insnClass: klass as InsnClass, original, value: res.newVal}
      if (res.newSize !== res.origSize) {
        const width = sizeBytes(code)
        if (width !== res.origSize) {
          throw new ReloFailure('CORE_BAD_MEM_SIZE', `insn #${idx} (LDX/ST/STX) unexpected mem size: got ${width}, exp ${res.origSize}`, EINVAL)
        }
        if (![1, 2, 4, 8].includes(res.newSize)) {
          throw new ReloFailure('CORE_BAD_MEM_SIZE', `insn #${idx} (LDX/ST/STX) invalid new mem size: ${res.newSize}`, EINVAL)
        }
        out.memSize = {from: res.origSize, to: res.newSize}
      }
      return out
    }
    case BPF_LD: {
      if (!isLdImm64 || idx + 1 >= insns.count || !ldImm64Plain(insns, idx)) {
        throw new ReloFailure('CORE_BAD_INSN', `insn #${idx} (LDIMM64) has unexpected form`, EINVAL)
      }
      const original = BigInt.asUintN(64, (u64(insns.imm(idx)) & 0xffffffffn) | (BigInt(insns.imm(idx + 1) >>> 0) << 32n))
      if (res.validate && original !== res.origVal) throw mismatch(idx, 'LDIMM64', original, res)
      return {kind: 'patched', insnClass: 'ld_imm64', original, value: res.newVal}
    }
    default:
      throw new ReloFailure('CORE_BAD_INSN', `trying to relocate unrecognized insn #${idx}, code 0x${code.toString(16)}`, EINVAL)
  }
}

/**
 * libbpf accepts an ld_imm64 for CO-RE only in its plain form: no source register and
 * no offset in the first slot, and a second slot that is all zero apart from its imm.
 */
function ldImm64Plain(insns: InsnView, idx: number): boolean {
  return (
    insns.srcReg(idx) === 0 &&
    insns.off(idx) === 0 &&
    insns.code(idx + 1) === 0 &&
    insns.dstReg(idx + 1) === 0 &&
    insns.srcReg(idx + 1) === 0 &&
    insns.off(idx + 1) === 0
  )
}

function mismatch(idx: number, what: string, got: bigint, res: ReloResult): ReloFailure {
  return new ReloFailure(
    'CORE_INSN_MISMATCH',
    `unexpected insn #${idx} (${what}) value: got ${got}, exp ${res.origVal} -> ${res.newVal}`,
    EINVAL,
  )
}
