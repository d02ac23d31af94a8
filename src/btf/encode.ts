/**
 * Writing BTF: {@link encodeBtf} writes a parsed {@link Btf} back out (byte-identical for
 * any input in canonical layout: header, then types, then strings), and
 * {@link BtfBuilder} makes new BTF from scratch, assigning ids in the order types are
 * added and storing each distinct string once.
 */
import {BtfError} from '../errors.js'
import type {Btf} from './btf.js'
import {parseBtf} from './decode.js'
import {ensureAllLoaded} from './paged.js'
import {StringTableBuilder} from './strings.js'
import {type BtfType, type TypeId, assertNever} from './types.js'
import {BTF_HEADER_SIZE, BTF_MAGIC, BTF_TYPE_SIZE, BTF_VERSION, Kind, makeInfo, trailerSize} from './wire.js'

/** Maps a name to its string offset; for a parsed Btf this is the stored `nameOff`. */
type NameOffsets = (name: string, storedOff: number) => number

function vlenOf(t: BtfType): number {
  switch (t.kind) {
    case Kind.STRUCT:
    case Kind.UNION:
      return t.members.length
    case Kind.ENUM:
    case Kind.ENUM64:
      return t.values.length
    case Kind.FUNC_PROTO:
      return t.params.length
    case Kind.DATASEC:
      return t.vars.length
    case Kind.FUNC:
      return t.linkage
    default:
      return 0
  }
}

/** Size in bytes of the type section that `types` encode to. */
function typeSectionSize(types: readonly BtfType[]): number {
  let n = 0
  for (const t of types) n += BTF_TYPE_SIZE + trailerSize(t.kind, vlenOf(t))
  return n
}

function writeTypes(types: readonly BtfType[], dv: DataView, start: number, le: boolean, off: NameOffsets): number {
  let p = start
  for (const t of types) {
    if (t.kind === Kind.UNKN) throw new BtfError('BTF_BAD_KIND', 'void (kind 0) cannot be written as a type record')
    const vlen = vlenOf(t)
    if (vlen > 0xffff) throw new BtfError('BTF_BAD_VLEN', `type ${JSON.stringify(t.name)} has ${vlen} entries (max 65535)`)
    dv.setUint32(p, off(t.name, t.nameOff), le)
    dv.setUint32(p + 4, makeInfo(t.kind, vlen, t.kindFlag), le)
    let sizeOrType = 0
    const tr = p + BTF_TYPE_SIZE
    switch (t.kind) {
      case Kind.INT:
        sizeOrType = t.size
        dv.setUint32(tr, (((t.encoding & 0xf) << 24) | ((t.bitOffset & 0xff) << 16) | (t.bits & 0xff)) >>> 0, le)
        break
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
      case Kind.FUNC:
        sizeOrType = t.type
        break
      case Kind.FWD:
        break
      case Kind.FLOAT:
        sizeOrType = t.size
        break
      case Kind.ARRAY:
        dv.setUint32(tr, t.type, le)
        dv.setUint32(tr + 4, t.indexType, le)
        dv.setUint32(tr + 8, t.nelems, le)
        break
      case Kind.STRUCT:
      case Kind.UNION:
        sizeOrType = t.size
        for (let i = 0, q = tr; i < t.members.length; i++, q += 12) {
          const m = t.members[i]!
          dv.setUint32(q, off(m.name, m.nameOff), le)
          dv.setUint32(q + 4, m.type, le)
          dv.setUint32(q + 8, t.kindFlag ? ((m.bitfieldSize << 24) | (m.bitOffset & 0xffffff)) >>> 0 : m.bitOffset, le)
        }
        break
      case Kind.ENUM:
        sizeOrType = t.size
        for (let i = 0, q = tr; i < t.values.length; i++, q += 8) {
          const v = t.values[i]!
          dv.setUint32(q, off(v.name, v.nameOff), le)
          dv.setUint32(q + 4, v.value >>> 0, le)
        }
        break
      case Kind.ENUM64:
        sizeOrType = t.size
        for (let i = 0, q = tr; i < t.values.length; i++, q += 12) {
          const v = t.values[i]!
          const u = BigInt.asUintN(64, v.value)
          dv.setUint32(q, off(v.name, v.nameOff), le)
          dv.setUint32(q + 4, Number(u & 0xffffffffn), le)
          dv.setUint32(q + 8, Number(u >> 32n), le)
        }
        break
      case Kind.FUNC_PROTO:
        sizeOrType = t.returnType
        for (let i = 0, q = tr; i < t.params.length; i++, q += 8) {
          const prm = t.params[i]!
          dv.setUint32(q, off(prm.name, prm.nameOff), le)
          dv.setUint32(q + 4, prm.type, le)
        }
        break
      case Kind.VAR:
        sizeOrType = t.type
        dv.setUint32(tr, t.linkage, le)
        break
      case Kind.DATASEC:
        sizeOrType = t.size
        for (let i = 0, q = tr; i < t.vars.length; i++, q += 12) {
          const v = t.vars[i]!
          dv.setUint32(q, v.type, le)
          dv.setUint32(q + 4, v.offset, le)
          dv.setUint32(q + 8, v.size, le)
        }
        break
      case Kind.DECL_TAG:
        sizeOrType = t.type
        dv.setInt32(tr, t.componentIdx, le)
        break
      default:
        assertNever(t)
    }
    dv.setUint32(p + 8, sizeOrType >>> 0, le)
    p = tr + trailerSize(t.kind, vlen)
  }
  return p
}

function assemble(
  types: readonly BtfType[],
  strBytes: Uint8Array,
  le: boolean,
  off: NameOffsets,
  extraHeader: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const hdrLen = BTF_HEADER_SIZE + extraHeader.length
  const typeLen = typeSectionSize(types)
  const out = new Uint8Array(hdrLen + typeLen + strBytes.length)
  const dv = new DataView(out.buffer)
  dv.setUint16(0, BTF_MAGIC, le)
  dv.setUint8(2, BTF_VERSION)
  dv.setUint8(3, 0)
  dv.setUint32(4, hdrLen, le)
  dv.setUint32(8, 0, le)
  dv.setUint32(12, typeLen, le)
  dv.setUint32(16, typeLen, le)
  dv.setUint32(20, strBytes.length, le)
  out.set(extraHeader, BTF_HEADER_SIZE)
  writeTypes(types, dv, hdrLen, le, off)
  out.set(strBytes, hdrLen + typeLen)
  return out
}

/**
 * Writes `btf` (its own types only, for split BTF) in its byte order, or in the order
 * given. Names keep their stored string offsets and the string section is written as
 * read, so parse → encode reproduces the input bytes.
 */
export function encodeBtf(btf: Btf, options: {littleEndian?: boolean} = {}): Uint8Array {
  ensureAllLoaded(btf.strings.bytes) // bytes read on demand (paged.ts)
  return assemble(btf.types, btf.strings.bytes, options.littleEndian ?? btf.littleEndian, (_n, o) => o, btf.header.extra)
}

/**
 * Writes `types` with a string section and name offsets chosen by the caller: `strings` is
 * the section's bytes, `nameOff(name)` each name's offset in it (or in the base's, for
 * split BTF). The canonical layout (24-byte header, types, then strings); the BTF pack
 * (src/archive/pack) uses it to rebuild a unit's exact bytes.
 */
export function encodeBtfWith(types: readonly BtfType[], strings: Uint8Array, littleEndian: boolean, nameOff: (name: string) => number): Uint8Array {
  return assemble(types, strings, littleEndian, (n) => nameOff(n))
}

/** A type as given to the builder: offsets are assigned by the builder. */
export type NewType = BtfType

/**
 * Builds BTF from types the program makes itself. `add` returns the id of the new type
 * (ids count up from 1, or from base.lastId + 1 for split BTF); references between
 * types are ids the caller got from earlier or later `add` calls. `nameOff` fields of
 * the given types are ignored: strings are deduplicated and laid out by the builder.
 */
export class BtfBuilder {
  private readonly types: BtfType[] = []
  private readonly strings: StringTableBuilder
  readonly base: Btf | undefined
  readonly startId: number

  constructor(options: {base?: Btf} = {}) {
    this.base = options.base
    this.startId = options.base ? options.base.lastId + 1 : 1
    this.strings = new StringTableBuilder(options.base ? options.base.strings.end : 0)
  }

  /** Adds a type and returns its id. */
  add(t: NewType): TypeId {
    this.types.push(t)
    return this.startId + this.types.length - 1
  }

  get nextId(): TypeId {
    return this.startId + this.types.length
  }

  /** Encodes the types added so far. */
  encode(options: {littleEndian?: boolean} = {}): Uint8Array {
    const le = options.littleEndian ?? true
    const base = this.base
    const offFor = (name: string): number => {
      if (name === '' && !base) return 0
      if (base) {
        const inBase = base.strings.find(name)
        if (inBase !== undefined) return inBase
      }
      return this.strings.add(name)
    }
    // Strings are added in type order, so the layout is deterministic.
    const memo = new Map<string, number>()
    const off: NameOffsets = (name) => {
      let o = memo.get(name)
      if (o === undefined) {
        o = offFor(name)
        memo.set(name, o)
      }
      return o
    }
    // First pass assigns offsets (writing into a scratch buffer), second writes for real.
    const scratch = new DataView(new ArrayBuffer(typeSectionSize(this.types)))
    writeTypes(this.types, scratch, 0, le, off)
    return assemble(this.types, this.strings.toBytes(), le, off)
  }

  /** Encodes and parses back, giving a {@link Btf} with real string offsets. */
  build(options: {littleEndian?: boolean} = {}): Btf {
    return parseBtf(this.encode(options), {base: this.base})
  }
}
