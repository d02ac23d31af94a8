/**
 * Decoding raw BTF bytes into a {@link Btf}.
 *
 * The decoder validates as it goes and throws {@link BtfError} with a stable code and
 * the byte offset of the offending record for every malformation it finds:
 *
 * - header: too short (`BTF_TRUNCATED`), bad magic (`BTF_BAD_MAGIC`), version or flags
 *   it does not know (`BTF_BAD_VERSION`, `BTF_BAD_FLAGS`), sections outside the data or
 *   overlapping (`BTF_BAD_SECTION`);
 * - types: a record or trailer running past the type section (`BTF_TRUNCATED`), a kind
 *   past ENUM64 (`BTF_UNKNOWN_KIND`), reserved INT bits set (`BTF_BAD_INT`), more types
 *   than the kernel allows (`BTF_TOO_MANY_TYPES`);
 * - references: a name offset outside the string table (`BTF_BAD_STRING_OFFSET`), a type
 *   id that does not exist (`BTF_BAD_TYPE_ID`), and a loop of typedefs, modifiers,
 *   pointers or arrays that never reaches a real type (`BTF_CYCLE`).
 *
 * Allocation is bounded by the input: the number of records is at most type_len / 12
 * and every vlen is checked against the bytes left before its trailer is read.
 */
import {BtfError} from '../errors.js'
import {Btf, type BtfHeaderInfo} from './btf.js'
import {StringTable} from './strings.js'
import type {BtfType, Member, TypeId} from './types.js'
import {BTF_HEADER_SIZE, BTF_MAGIC, BTF_MAX_TYPE, BTF_TYPE_SIZE, KIND_NAMES, Kind, trailerSize} from './wire.js'

export interface ParseOptions {
  /** Base BTF for split BTF (kernel module BTF is split on vmlinux). */
  base?: Btf
}

/** Whether `bytes` starts with the BTF magic in either byte order. */
export function looksLikeBtf(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && ((bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f))
}

/** Parses the 24-byte BTF header (and keeps any longer header's tail). */
export function parseHeader(bytes: Uint8Array): {header: BtfHeaderInfo; littleEndian: boolean} {
  if (bytes.length < BTF_HEADER_SIZE) {
    throw new BtfError('BTF_TRUNCATED', `BTF is ${bytes.length} bytes, shorter than its ${BTF_HEADER_SIZE}-byte header`, {
      offset: 0,
    })
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let littleEndian: boolean
  if (dv.getUint16(0, true) === BTF_MAGIC) littleEndian = true
  else if (dv.getUint16(0, false) === BTF_MAGIC) littleEndian = false
  else {
    throw new BtfError('BTF_BAD_MAGIC', `not BTF: magic is 0x${dv.getUint16(0, true).toString(16).padStart(4, '0')}`, {
      offset: 0,
    })
  }
  const version = dv.getUint8(2)
  if (version !== 1) throw new BtfError('BTF_BAD_VERSION', `unsupported BTF version ${version}`, {offset: 2})
  const flags = dv.getUint8(3)
  if (flags !== 0) throw new BtfError('BTF_BAD_FLAGS', `unsupported BTF header flags 0x${flags.toString(16)}`, {offset: 3})
  const hdrLen = dv.getUint32(4, littleEndian)
  if (hdrLen < BTF_HEADER_SIZE) {
    throw new BtfError('BTF_BAD_HEADER', `BTF header length ${hdrLen} is shorter than ${BTF_HEADER_SIZE}`, {offset: 4})
  }
  if (hdrLen > bytes.length) {
    throw new BtfError('BTF_TRUNCATED', `BTF header length ${hdrLen} is past the end of the data (${bytes.length})`, {
      offset: 4,
    })
  }
  const header: BtfHeaderInfo = {
    magic: BTF_MAGIC,
    version,
    flags,
    hdrLen,
    typeOff: dv.getUint32(8, littleEndian),
    typeLen: dv.getUint32(12, littleEndian),
    strOff: dv.getUint32(16, littleEndian),
    strLen: dv.getUint32(20, littleEndian),
    extra: bytes.slice(BTF_HEADER_SIZE, hdrLen),
  }
  const dataLen = bytes.length - hdrLen
  if (header.typeOff % 4 !== 0) {
    throw new BtfError('BTF_BAD_SECTION', `type section offset ${header.typeOff} is not 4-byte aligned`, {offset: 8})
  }
  if (header.typeOff + header.typeLen > dataLen) {
    throw new BtfError(
      'BTF_TRUNCATED',
      `type section (${header.typeOff}+${header.typeLen}) runs past the end of the data (${dataLen} bytes after the header)`,
      {offset: 12},
    )
  }
  if (header.strOff + header.strLen > dataLen) {
    throw new BtfError(
      'BTF_TRUNCATED',
      `string section (${header.strOff}+${header.strLen}) runs past the end of the data (${dataLen} bytes after the header)`,
      {offset: 20},
    )
  }
  if (header.typeLen > 0 && header.strLen > 0 && header.typeOff + header.typeLen > header.strOff) {
    throw new BtfError('BTF_BAD_SECTION', 'type section overlaps or follows the string section', {offset: 16})
  }
  return {header, littleEndian}
}

/**
 * Parses raw BTF (the content of a `.BTF` section or of /sys/kernel/btf/*).
 * @throws BtfError for any malformation (see the module comment for codes).
 */
export function parseBtf(bytes: Uint8Array, options: ParseOptions = {}): Btf {
  const {header, littleEndian} = parseHeader(bytes)
  const base = options.base
  const strStart = header.hdrLen + header.strOff
  const strings = new StringTable(
    bytes.subarray(strStart, strStart + header.strLen),
    base?.strings,
    strStart,
  )
  const typeStart = header.hdrLen + header.typeOff
  const typeEnd = typeStart + header.typeLen
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const startId = base ? base.lastId + 1 : 1
  const types: BtfType[] = []
  const offsets: number[] = []
  const name = (off: number, at: number): string => {
    if (!strings.has(off)) {
      throw new BtfError('BTF_BAD_STRING_OFFSET', `name offset ${off} is outside the string section (${strings.end})`, {
        offset: at,
      })
    }
    return strings.get(off)
  }

  // Largest type id referenced anywhere: checked against the last id once at the end,
  // so the common (valid) case needs no second pass over all references.
  let maxRef = 0
  let pos = typeStart
  while (pos < typeEnd) {
    if (pos + BTF_TYPE_SIZE > typeEnd) {
      throw new BtfError('BTF_TRUNCATED', `type record at the end of the type section is cut short`, {offset: pos})
    }
    if (startId + types.length > BTF_MAX_TYPE) {
      throw new BtfError('BTF_TOO_MANY_TYPES', `more than ${BTF_MAX_TYPE} types`, {offset: pos})
    }
    const nameOff = dv.getUint32(pos, littleEndian)
    const info = dv.getUint32(pos + 4, littleEndian)
    const sizeOrType = dv.getUint32(pos + 8, littleEndian)
    const kind = (info >>> 24) & 0x1f
    const vlen = info & 0xffff
    const kindFlag = info >>> 31 === 1
    const tsize = trailerSize(kind, vlen)
    if (tsize < 0 || kind === Kind.UNKN) {
      throw new BtfError('BTF_UNKNOWN_KIND', `type id ${startId + types.length} has unknown kind ${kind}`, {
        offset: pos + 4,
      })
    }
    const tr = pos + BTF_TYPE_SIZE
    if (tr + tsize > typeEnd) {
      throw new BtfError(
        'BTF_TRUNCATED',
        `type id ${startId + types.length} (${KIND_NAMES[kind]}, vlen ${vlen}) needs ${tsize} more bytes than the type section has`,
        {offset: pos},
      )
    }
    const tname = name(nameOff, pos)
    let t: BtfType
    switch (kind) {
      case Kind.INT: {
        const data = dv.getUint32(tr, littleEndian)
        if ((data & 0xf000ff00) !== 0) {
          throw new BtfError('BTF_BAD_INT', `INT type id ${startId + types.length} sets reserved bits (0x${data.toString(16)})`, {
            offset: tr,
          })
        }
        t = {
          kind,
          name: tname,
          nameOff,
          kindFlag,
          size: sizeOrType,
          encoding: (data >>> 24) & 0xf,
          bitOffset: (data >>> 16) & 0xff,
          bits: data & 0xff,
        }
        break
      }
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
        t = {kind, name: tname, nameOff, kindFlag, type: sizeOrType}
        if (sizeOrType > maxRef) maxRef = sizeOrType
        break
      case Kind.FWD:
        t = {kind, name: tname, nameOff, kindFlag}
        break
      case Kind.FLOAT:
        t = {kind, name: tname, nameOff, kindFlag, size: sizeOrType}
        break
      case Kind.FUNC:
        t = {kind, name: tname, nameOff, kindFlag, type: sizeOrType, linkage: vlen}
        if (sizeOrType > maxRef) maxRef = sizeOrType
        break
      case Kind.ARRAY: {
        const elem = dv.getUint32(tr, littleEndian)
        const index = dv.getUint32(tr + 4, littleEndian)
        if (elem > maxRef) maxRef = elem
        if (index > maxRef) maxRef = index
        t = {kind, name: tname, nameOff, kindFlag, type: elem, indexType: index, nelems: dv.getUint32(tr + 8, littleEndian)}
        break
      }
      case Kind.STRUCT:
      case Kind.UNION: {
        const members: Member[] = new Array(vlen)
        for (let i = 0, p = tr; i < vlen; i++, p += 12) {
          const mOff = dv.getUint32(p, littleEndian)
          const mType = dv.getUint32(p + 4, littleEndian)
          const off = dv.getUint32(p + 8, littleEndian)
          if (mType > maxRef) maxRef = mType
          members[i] = {
            name: name(mOff, p),
            nameOff: mOff,
            type: mType,
            bitOffset: kindFlag ? off & 0xffffff : off,
            bitfieldSize: kindFlag ? off >>> 24 : 0,
          }
        }
        t = {kind, name: tname, nameOff, kindFlag, size: sizeOrType, members}
        break
      }
      case Kind.ENUM: {
        const values = new Array(vlen)
        for (let i = 0, p = tr; i < vlen; i++, p += 8) {
          const vOff = dv.getUint32(p, littleEndian)
          const raw = dv.getUint32(p + 4, littleEndian)
          values[i] = {name: name(vOff, p), nameOff: vOff, value: kindFlag ? raw | 0 : raw}
        }
        t = {kind, name: tname, nameOff, kindFlag, size: sizeOrType, values}
        break
      }
      case Kind.ENUM64: {
        const values = new Array(vlen)
        for (let i = 0, p = tr; i < vlen; i++, p += 12) {
          const vOff = dv.getUint32(p, littleEndian)
          const lo = dv.getUint32(p + 4, littleEndian)
          const hi = dv.getUint32(p + 8, littleEndian)
          const u = (BigInt(hi) << 32n) | BigInt(lo)
          values[i] = {name: name(vOff, p), nameOff: vOff, value: kindFlag ? BigInt.asIntN(64, u) : u}
        }
        t = {kind, name: tname, nameOff, kindFlag, size: sizeOrType, values}
        break
      }
      case Kind.FUNC_PROTO: {
        const params = new Array(vlen)
        for (let i = 0, p = tr; i < vlen; i++, p += 8) {
          const pOff = dv.getUint32(p, littleEndian)
          const pType = dv.getUint32(p + 4, littleEndian)
          if (pType > maxRef) maxRef = pType
          params[i] = {name: name(pOff, p), nameOff: pOff, type: pType}
        }
        if (sizeOrType > maxRef) maxRef = sizeOrType
        t = {kind, name: tname, nameOff, kindFlag, returnType: sizeOrType, params}
        break
      }
      case Kind.VAR:
        t = {kind, name: tname, nameOff, kindFlag, type: sizeOrType, linkage: dv.getUint32(tr, littleEndian)}
        if (sizeOrType > maxRef) maxRef = sizeOrType
        break
      case Kind.DATASEC: {
        const vars = new Array(vlen)
        for (let i = 0, p = tr; i < vlen; i++, p += 12) {
          const vType = dv.getUint32(p, littleEndian)
          if (vType > maxRef) maxRef = vType
          vars[i] = {
            type: vType,
            offset: dv.getUint32(p + 4, littleEndian),
            size: dv.getUint32(p + 8, littleEndian),
          }
        }
        t = {kind, name: tname, nameOff, kindFlag, size: sizeOrType, vars}
        break
      }
      case Kind.DECL_TAG:
        t = {kind, name: tname, nameOff, kindFlag, type: sizeOrType, componentIdx: dv.getInt32(tr, littleEndian)}
        if (sizeOrType > maxRef) maxRef = sizeOrType
        break
      default:
        throw new BtfError('BTF_UNKNOWN_KIND', `unknown kind ${kind}`, {offset: pos + 4})
    }
    types.push(t)
    offsets.push(pos)
    pos = tr + tsize
  }

  const btf = new Btf({types, strings, base, littleEndian, header})
  if (maxRef > btf.lastId) findBadReference(btf, offsets)
  checkCycles(btf, offsets)
  return btf
}

/** Finds and reports the first reference to a type id past the last one. */
function findBadReference(btf: Btf, offsets: number[]): void {
  const last = btf.lastId
  const start = btf.startId
  const types = btf.types
  const check = (id: TypeId, owner: number, i: number): void => {
    if (id > last) {
      throw new BtfError('BTF_BAD_TYPE_ID', `type id ${start + i} refers to type id ${id}, past the last id ${last}`, {
        offset: owner,
      })
    }
  }
  for (let i = 0; i < types.length; i++) {
    const t = types[i]!
    const at = offsets[i]!
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
        check(t.type, at, i)
        break
      case Kind.ARRAY:
        check(t.type, at, i)
        check(t.indexType, at, i)
        break
      case Kind.STRUCT:
      case Kind.UNION:
        for (const m of t.members) check(m.type, at, i)
        break
      case Kind.FUNC_PROTO:
        check(t.returnType, at, i)
        for (const p of t.params) check(p.type, at, i)
        break
      case Kind.DATASEC:
        for (const v of t.vars) check(v.type, at, i)
        break
      default:
        break
    }
  }
}

/**
 * Checks that no chain of single-successor kinds (pointer, typedef, modifiers, array
 * element, var, func, decl_tag) loops back on itself without passing through a struct,
 * union, enum, func_proto or base type. Such a loop cannot come from C and would make
 * size and name resolution diverge.
 *
 * Each chain is walked once, colouring ids: 1 = on the current path, 2 = known to
 * terminate. Meeting a 1 again is a cycle. Linear in the number of types.
 */
function checkCycles(btf: Btf, offsets: number[]): void {
  const start = btf.startId
  const types = btf.types
  const state = new Uint8Array(types.length)
  const path: number[] = []
  for (let i = 0; i < types.length; i++) {
    if (state[i] !== 0) continue
    let j = i
    for (;;) {
      const t = types[j]!
      let next: TypeId
      switch (t.kind) {
        case Kind.PTR:
        case Kind.TYPEDEF:
        case Kind.VOLATILE:
        case Kind.CONST:
        case Kind.RESTRICT:
        case Kind.TYPE_TAG:
        case Kind.ARRAY:
        case Kind.VAR:
        case Kind.FUNC:
        case Kind.DECL_TAG:
          next = t.type
          break
        default:
          next = -1
      }
      state[j] = 1
      path.push(j)
      const nj = next - start
      if (next <= 0 || nj < 0) break // void, end of chain, or into the (validated) base
      if (state[nj] === 2) break
      if (state[nj] === 1) {
        throw new BtfError('BTF_CYCLE', `type id ${start + nj} is part of a reference cycle`, {offset: offsets[nj]})
      }
      j = nj
    }
    for (const k of path) state[k] = 2
    path.length = 0
  }
}
