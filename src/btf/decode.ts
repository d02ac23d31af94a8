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
import {NameIndex} from './name-index.js'
import {elementAt, ensureAllLoaded, ensureLoaded} from './paged.js'
import {type StoredScan, decodeScan, encodeScan, scanStoreOf} from './scan-cache.js'
import {StringTable} from './strings.js'
import {type BtfType, type Member, forEachTypeRef} from './types.js'
import {BTF_HEADER_SIZE, BTF_MAGIC, BTF_MAX_TYPE, BTF_TYPE_SIZE, KIND_NAMES, Kind, trailerSize} from './wire.js'

export interface ParseOptions {
  /** Base BTF for split BTF (kernel module BTF is split on vmlinux). */
  base?: Btf
  /** Decode each type on first use instead of all at once (see {@link parseBtf}). */
  lazy?: boolean
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
  ensureLoaded(bytes, 0, BTF_HEADER_SIZE) // bytes read on demand (paged.ts)
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
  ensureLoaded(bytes, 0, hdrLen)
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
 * What one validating pass over the type section learns: where each record starts, and
 * for each type its kind, name offset and (for single-successor kinds) the id it refers
 * to. Enough to decode any type later without checking it again.
 */
export interface TypeScan {
  /** Number of types in this BTF (not counting void or the base's). */
  count: number
  /** Byte offset of each type's record in the input. */
  offsets: Uint32Array
  kinds: Uint8Array
  nameOffs: Uint32Array
}

/**
 * Parses raw BTF (the content of a `.BTF` section or of /sys/kernel/btf/*).
 *
 * Two steps: {@link scanTypes} validates every record, name offset and reference (and
 * the absence of reference cycles) without building anything; then each record is
 * decoded into its typed form. With `lazy`, the second step happens per type on first
 * use (`Btf.typeById`), so a caller that touches a few hundred types of a 100,000-type
 * kernel (the CO-RE engine, the minimizer, `check`) pays for the scan only. Either way
 * malformed input is rejected here, before anything is returned.
 * @throws BtfError for any malformation (see the module comment for codes).
 */
export function parseBtf(bytes: Uint8Array, options: ParseOptions = {}): Btf {
  // bytes read on demand (paged.ts) are read on demand by a lazy parse only
  if (!options.lazy) ensureAllLoaded(bytes)
  const {header, littleEndian} = parseHeader(bytes)
  const base = options.base
  const strStart = header.hdrLen + header.strOff
  const strings = new StringTable(
    bytes.subarray(strStart, strStart + header.strLen),
    base?.strings,
    strStart,
  )
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const startId = base ? base.lastId + 1 : 1
  // A lazy parse of base BTF whose bytes have a scan store (an archived kernel's cached
  // raw BTF, see scan-cache.ts) reads the scan and name indexes made by an earlier
  // process, or makes them (both indexes at once) and stores them for the next.
  const store = options.lazy && !base ? scanStoreOf(bytes) : undefined
  let stored: StoredScan | undefined
  if (store) {
    const file = store.read()
    stored = file && decodeScan(file, bytes.length, header.typeLen, header.strLen, strings)
  }
  // the validating scan reads every record
  if (!stored) ensureLoaded(bytes, header.hdrLen + header.typeOff, header.hdrLen + header.typeOff + header.typeLen)
  const scan = stored?.scan ?? scanTypes(dv, littleEndian, header.hdrLen + header.typeOff, header.typeLen, strings, startId)
  const decode = (i: number): BtfType => decodeType(dv, littleEndian, strings, elementAt(scan.offsets, i))
  const scanned = {kinds: scan.kinds, nameOffs: scan.nameOffs}
  if (store && !stored) {
    const kinds = scan.kinds
    stored = {
      scan,
      funcs: new NameIndex(scan.nameOffs, strings, (i) => kinds[i] === Kind.FUNC),
      types: new NameIndex(scan.nameOffs, strings, (i) => kinds[i] !== Kind.FUNC),
    }
    store.write(encodeScan(stored, bytes.length, header.typeLen, header.strLen))
  }
  const records = {view: dv, littleEndian, offsets: scan.offsets}
  if (options.lazy) return new Btf({lazy: {decode}, scanned, records, nameIndexes: stored, strings, base, littleEndian, header})
  const types: BtfType[] = new Array(scan.count)
  for (let i = 0; i < scan.count; i++) types[i] = decode(i)
  return new Btf({types, scanned, records, strings, base, littleEndian, header})
}

/**
 * The validating pass: record bounds and kinds, reserved INT bits, every name offset
 * (types, members, parameters, enumerators), every referenced type id, then cycles.
 * Reads integers only; allocates three typed arrays of at most type_len / 12 entries.
 */
export function scanTypes(dv: DataView, le: boolean, typeStart: number, typeLen: number, strings: StringTable, startId: number): TypeScan {
  const typeEnd = typeStart + typeLen
  const cap = Math.floor(typeLen / BTF_TYPE_SIZE)
  // The four arrays share one allocation, which the three kept ones hold: freeing
  // `next` alone (0.9 MB for a kernel) made glibc raise its mmap and trim thresholds to
  // that size and keep memory freed later, ~2 MiB more peak RSS in a C dump (measured).
  const all = new ArrayBuffer(cap * 13)
  const offsets = new Uint32Array(all, 0, cap)
  const nameOffs = new Uint32Array(all, cap * 4, cap)
  // Successor of each single-successor type (pointer, typedef, modifiers, array element,
  // var, func, decl_tag), -1 for the others: what the cycle check walks.
  const next = new Int32Array(all, cap * 8, cap)
  const kinds = new Uint8Array(all, cap * 12, cap)
  // The type section as 32-bit words in host order: a view when the bytes allow one,
  // else a copy (big-endian BTF on a little-endian host, or an unaligned buffer).
  const words = hostWords(dv, le, typeStart, typeLen)
  const strEnd = strings.end
  const badName = (off: number, at: number): never => {
    throw new BtfError('BTF_BAD_STRING_OFFSET', `name offset ${off} is outside the string section (${strEnd})`, {offset: at})
  }
  // Largest type id referenced anywhere: checked against the last id once at the end,
  // so the common (valid) case needs no second pass over all references.
  let maxRef = 0
  let n = 0
  let pos = typeStart
  while (pos < typeEnd) {
    if (pos + BTF_TYPE_SIZE > typeEnd) {
      throw new BtfError('BTF_TRUNCATED', `type record at the end of the type section is cut short`, {offset: pos})
    }
    if (startId + n > BTF_MAX_TYPE) {
      throw new BtfError('BTF_TOO_MANY_TYPES', `more than ${BTF_MAX_TYPE} types`, {offset: pos})
    }
    const nameOff = words[(pos - typeStart) >>> 2]!
    const info = words[(pos + 4 - typeStart) >>> 2]!
    const sizeOrType = words[(pos + 8 - typeStart) >>> 2]!
    const kind = (info >>> 24) & 0x1f
    const vlen = info & 0xffff
    const tsize = trailerSize(kind, vlen)
    if (tsize < 0 || kind === Kind.UNKN) {
      throw new BtfError('BTF_UNKNOWN_KIND', `type id ${startId + n} has unknown kind ${kind}`, {offset: pos + 4})
    }
    const tr = pos + BTF_TYPE_SIZE
    if (tr + tsize > typeEnd) {
      throw new BtfError(
        'BTF_TRUNCATED',
        `type id ${startId + n} (${KIND_NAMES[kind]}, vlen ${vlen}) needs ${tsize} more bytes than the type section has`,
        {offset: pos},
      )
    }
    if (nameOff >= strEnd) badName(nameOff, pos)
    let succ = -1
    switch (kind) {
      case Kind.INT: {
        const data = words[(tr - typeStart) >>> 2]!
        if ((data & 0xf000ff00) !== 0) {
          throw new BtfError('BTF_BAD_INT', `INT type id ${startId + n} sets reserved bits (0x${data.toString(16)})`, {offset: tr})
        }
        break
      }
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
      case Kind.FUNC:
      case Kind.VAR:
      case Kind.DECL_TAG:
        succ = sizeOrType
        if (sizeOrType > maxRef) maxRef = sizeOrType
        break
      case Kind.ARRAY: {
        const elem = words[(tr - typeStart) >>> 2]!
        const index = words[(tr + 4 - typeStart) >>> 2]!
        if (elem > maxRef) maxRef = elem
        if (index > maxRef) maxRef = index
        succ = elem
        break
      }
      case Kind.STRUCT:
      case Kind.UNION:
        for (let i = 0, p = tr; i < vlen; i++, p += 12) {
          const mOff = words[(p - typeStart) >>> 2]!
          if (mOff >= strEnd) badName(mOff, p)
          const mType = words[(p + 4 - typeStart) >>> 2]!
          if (mType > maxRef) maxRef = mType
        }
        break
      case Kind.ENUM:
        for (let i = 0, p = tr; i < vlen; i++, p += 8) {
          const vOff = words[(p - typeStart) >>> 2]!
          if (vOff >= strEnd) badName(vOff, p)
        }
        break
      case Kind.ENUM64:
        for (let i = 0, p = tr; i < vlen; i++, p += 12) {
          const vOff = words[(p - typeStart) >>> 2]!
          if (vOff >= strEnd) badName(vOff, p)
        }
        break
      case Kind.FUNC_PROTO:
        for (let i = 0, p = tr; i < vlen; i++, p += 8) {
          const pOff = words[(p - typeStart) >>> 2]!
          if (pOff >= strEnd) badName(pOff, p)
          const pType = words[(p + 4 - typeStart) >>> 2]!
          if (pType > maxRef) maxRef = pType
        }
        if (sizeOrType > maxRef) maxRef = sizeOrType
        break
      case Kind.DATASEC:
        for (let i = 0, p = tr; i < vlen; i++, p += 12) {
          const vType = words[(p - typeStart) >>> 2]!
          if (vType > maxRef) maxRef = vType
        }
        break
      default:
        break
    }
    offsets[n] = pos
    kinds[n] = kind
    nameOffs[n] = nameOff
    next[n] = succ
    n++
    pos = tr + tsize
  }
  const lastId = startId + n - 1
  if (maxRef > lastId) findBadReference(dv, le, strings, offsets, n, startId, lastId)
  checkCycles(next, offsets, n, startId)
  return {count: n, offsets: offsets.subarray(0, n), kinds: kinds.subarray(0, n), nameOffs: nameOffs.subarray(0, n)}
}

const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

function hostWords(dv: DataView, le: boolean, start: number, len: number): Uint32Array {
  const n = len >>> 2
  const at = dv.byteOffset + start
  if (le === HOST_LE && at % 4 === 0) return new Uint32Array(dv.buffer, at, n)
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[i] = dv.getUint32(start + 4 * i, le)
  return out
}

/** Decodes the (already validated) record at `pos`. */
function decodeType(dv: DataView, le: boolean, strings: StringTable, pos: number): BtfType {
  // the record, then its trailer, from bytes read on demand (paged.ts); the scan checked both are in the type section
  ensureLoaded(dv, pos, pos + BTF_TYPE_SIZE)
  const info = dv.getUint32(pos + 4, le)
  ensureLoaded(dv, pos + BTF_TYPE_SIZE, pos + BTF_TYPE_SIZE + trailerSize((info >>> 24) & 0x1f, info & 0xffff))
  const nameOff = dv.getUint32(pos, le)
  const sizeOrType = dv.getUint32(pos + 8, le)
  const kind = (info >>> 24) & 0x1f
  const vlen = info & 0xffff
  const kindFlag = info >>> 31 === 1
  const tr = pos + BTF_TYPE_SIZE
  const name = nameOff === 0 ? '' : strings.get(nameOff)
  switch (kind) {
    case Kind.INT: {
      const data = dv.getUint32(tr, le)
      return {kind, name, nameOff, kindFlag, size: sizeOrType, encoding: (data >>> 24) & 0xf, bitOffset: (data >>> 16) & 0xff, bits: data & 0xff}
    }
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
      return {kind, name, nameOff, kindFlag, type: sizeOrType}
    case Kind.FWD:
      return {kind, name, nameOff, kindFlag}
    case Kind.FLOAT:
      return {kind, name, nameOff, kindFlag, size: sizeOrType}
    case Kind.FUNC:
      return {kind, name, nameOff, kindFlag, type: sizeOrType, linkage: vlen}
    case Kind.ARRAY:
      return {kind, name, nameOff, kindFlag, type: dv.getUint32(tr, le), indexType: dv.getUint32(tr + 4, le), nelems: dv.getUint32(tr + 8, le)}
    case Kind.STRUCT:
    case Kind.UNION: {
      const members: Member[] = new Array(vlen)
      for (let i = 0, p = tr; i < vlen; i++, p += 12) {
        const mOff = dv.getUint32(p, le)
        const off = dv.getUint32(p + 8, le)
        members[i] = {
          name: mOff === 0 ? '' : strings.get(mOff),
          nameOff: mOff,
          type: dv.getUint32(p + 4, le),
          bitOffset: kindFlag ? off & 0xffffff : off,
          bitfieldSize: kindFlag ? off >>> 24 : 0,
        }
      }
      return {kind, name, nameOff, kindFlag, size: sizeOrType, members}
    }
    case Kind.ENUM: {
      const values = new Array(vlen)
      for (let i = 0, p = tr; i < vlen; i++, p += 8) {
        const vOff = dv.getUint32(p, le)
        const raw = dv.getUint32(p + 4, le)
        values[i] = {name: strings.get(vOff), nameOff: vOff, value: kindFlag ? raw | 0 : raw}
      }
      return {kind, name, nameOff, kindFlag, size: sizeOrType, values}
    }
    case Kind.ENUM64: {
      const values = new Array(vlen)
      for (let i = 0, p = tr; i < vlen; i++, p += 12) {
        const vOff = dv.getUint32(p, le)
        const u = (BigInt(dv.getUint32(p + 8, le)) << 32n) | BigInt(dv.getUint32(p + 4, le))
        values[i] = {name: strings.get(vOff), nameOff: vOff, value: kindFlag ? BigInt.asIntN(64, u) : u}
      }
      return {kind, name, nameOff, kindFlag, size: sizeOrType, values}
    }
    case Kind.FUNC_PROTO: {
      const params = new Array(vlen)
      for (let i = 0, p = tr; i < vlen; i++, p += 8) {
        const pOff = dv.getUint32(p, le)
        params[i] = {name: pOff === 0 ? '' : strings.get(pOff), nameOff: pOff, type: dv.getUint32(p + 4, le)}
      }
      return {kind, name, nameOff, kindFlag, returnType: sizeOrType, params}
    }
    case Kind.VAR:
      return {kind, name, nameOff, kindFlag, type: sizeOrType, linkage: dv.getUint32(tr, le)}
    case Kind.DATASEC: {
      const vars = new Array(vlen)
      for (let i = 0, p = tr; i < vlen; i++, p += 12) {
        vars[i] = {type: dv.getUint32(p, le), offset: dv.getUint32(p + 4, le), size: dv.getUint32(p + 8, le)}
      }
      return {kind, name, nameOff, kindFlag, size: sizeOrType, vars}
    }
    case Kind.DECL_TAG:
      return {kind, name, nameOff, kindFlag, type: sizeOrType, componentIdx: dv.getInt32(tr, le)}
    default:
      // scanTypes rejected every other kind
      throw new BtfError('BTF_UNKNOWN_KIND', `unknown kind ${kind}`, {offset: pos + 4})
  }
}

/**
 * Finds and reports the first reference to a type id past the last one. Only reached
 * when the scan saw one, so it decodes the types (the scan has checked their bounds
 * and names) and walks their edges with forEachTypeRef.
 */
function findBadReference(dv: DataView, le: boolean, strings: StringTable, offsets: Uint32Array, count: number, start: number, last: number): void {
  for (let i = 0; i < count; i++) {
    const at = offsets[i]!
    forEachTypeRef(decodeType(dv, le, strings, at), (id) => {
      if (id > last) {
        throw new BtfError('BTF_BAD_TYPE_ID', `type id ${start + i} refers to type id ${id}, past the last id ${last}`, {offset: at})
      }
    })
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
function checkCycles(next: Int32Array, offsets: Uint32Array, count: number, start: number): void {
  const state = new Uint8Array(count)
  // the current chain, as a stack of indexes (a typed array: this runs once per type)
  const path = new Int32Array(count)
  for (let i = 0; i < count; i++) {
    if (state[i] !== 0) continue
    let depth = 0
    let j = i
    for (;;) {
      const succ = next[j]!
      state[j] = 1
      path[depth++] = j
      const nj = succ - start
      if (succ <= 0 || nj < 0) break // void, end of chain, or into the (validated) base
      if (state[nj] === 2) break
      if (state[nj] === 1) {
        throw new BtfError('BTF_CYCLE', `type id ${start + nj} is part of a reference cycle`, {offset: offsets[nj]})
      }
      j = nj
    }
    while (depth > 0) state[path[--depth]!] = 2
  }
}
