/**
 * The raw text dump, one line per type plus one indented line per member, value,
 * parameter or datasec entry: the same text as `bpftool btf dump file F format raw`
 * (bpftool v7.1), so users can diff the two.
 *
 *   [3] STRUCT 'list_head' size=16 vlen=2
 *   	'next' type_id=4 bits_offset=0
 *   	'prev' type_id=4 bits_offset=64
 *
 * Anonymous names print as '(anon)'. For split BTF only the split's own types are
 * printed (ids continue after the base), as bpftool does.
 */
import type {Btf} from './btf.js'
import {type BtfType, type TypeId, assertNever} from './types.js'
import {BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, KIND_NAMES, Kind, Linkage} from './wire.js'

function intEncoding(encoding: number): string {
  switch (encoding) {
    case 0:
      return '(none)'
    case BTF_INT_SIGNED:
      return 'SIGNED'
    case BTF_INT_CHAR:
      return 'CHAR'
    case BTF_INT_BOOL:
      return 'BOOL'
    default:
      return 'UNKN'
  }
}

function linkageName(linkage: number): string {
  switch (linkage) {
    case Linkage.STATIC:
      return 'static'
    case Linkage.GLOBAL:
      return 'global'
    case Linkage.EXTERN:
      return 'extern'
    default:
      return '(unknown)'
  }
}

function quoted(name: string, nameOff: number): string {
  return nameOff === 0 ? "'(anon)'" : `'${name}'`
}

/** Formats one type (with its member lines) without the trailing newline. */
export function formatRawType(btf: Btf, id: TypeId, t: BtfType): string {
  const head = `[${id}] ${KIND_NAMES[t.kind]} ${quoted(t.name, t.nameOff)}`
  switch (t.kind) {
    case Kind.UNKN:
      return head
    case Kind.INT:
      return `${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${intEncoding(t.encoding)}`
    case Kind.PTR:
    case Kind.CONST:
    case Kind.VOLATILE:
    case Kind.RESTRICT:
    case Kind.TYPEDEF:
    case Kind.TYPE_TAG:
      return `${head} type_id=${t.type}`
    case Kind.ARRAY:
      return `${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`
    case Kind.STRUCT:
    case Kind.UNION: {
      let s = `${head} size=${t.size} vlen=${t.members.length}`
      for (const m of t.members) {
        s += `\n\t${quoted(m.name, m.nameOff)} type_id=${m.type} bits_offset=${m.bitOffset}`
        if (m.bitfieldSize !== 0) s += ` bitfield_size=${m.bitfieldSize}`
      }
      return s
    }
    case Kind.ENUM: {
      let s = `${head} encoding=${t.kindFlag ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`
      for (const v of t.values) s += `\n\t${quoted(v.name, v.nameOff)} val=${v.value}`
      return s
    }
    case Kind.ENUM64: {
      let s = `${head} encoding=${t.kindFlag ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`
      const suffix = t.kindFlag ? 'LL' : 'ULL'
      for (const v of t.values) s += `\n\t${quoted(v.name, v.nameOff)} val=${v.value}${suffix}`
      return s
    }
    case Kind.FWD:
      return `${head} fwd_kind=${t.kindFlag ? 'union' : 'struct'}`
    case Kind.FUNC:
      return `${head} type_id=${t.type} linkage=${linkageName(t.linkage)}`
    case Kind.FUNC_PROTO: {
      let s = `${head} ret_type_id=${t.returnType} vlen=${t.params.length}`
      for (const p of t.params) s += `\n\t${quoted(p.name, p.nameOff)} type_id=${p.type}`
      return s
    }
    case Kind.VAR:
      return `${head} type_id=${t.type}, linkage=${linkageName(t.linkage)}`
    case Kind.DATASEC: {
      let s = `${head} size=${t.size} vlen=${t.vars.length}`
      for (const v of t.vars) {
        const vt = btf.typeById(v.type)
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${KIND_NAMES[vt.kind]} ${quoted(vt.name, vt.nameOff)})`
      }
      return s
    }
    case Kind.FLOAT:
      return `${head} size=${t.size}`
    case Kind.DECL_TAG:
      return `${head} type_id=${t.type} component_idx=${t.componentIdx}`
    default:
      return assertNever(t)
  }
}

/**
 * Dumps the types of `btf` (its own ids only, for split BTF) as text, calling `write`
 * with chunks of the output (so a 12 MB dump never sits in one string).
 */
export function dumpRaw(btf: Btf, write: (chunk: string) => void, ids?: readonly TypeId[]): void {
  const list = ids ?? null
  const lines: string[] = []
  let size = 0
  const flush = (): void => {
    if (lines.length === 0) return
    lines.push('')
    write(lines.join('\n'))
    lines.length = 0
    size = 0
  }
  const count = list ? list.length : btf.ownCount
  for (let i = 0; i < count; i++) {
    const id = list ? list[i]! : btf.startId + i
    const line = formatRawType(btf, id, btf.peekType(id))
    lines.push(line)
    size += line.length
    if (size > 1 << 20) flush()
  }
  flush()
}

/** The whole raw dump as one string. */
export function dumpRawString(btf: Btf, ids?: readonly TypeId[]): string {
  const parts: string[] = []
  dumpRaw(btf, (c) => parts.push(c), ids)
  return parts.join('')
}

/**
 * The JSON form bpftool prints with `-j` (`{"types":[{"id":…,"kind":…,…}]}`): field
 * names and order as bpftool's.
 */
export function rawTypeJson(btf: Btf, id: TypeId, t: BtfType): Record<string, unknown> {
  const name = t.nameOff === 0 ? '(anon)' : t.name
  const o: Record<string, unknown> = {id, kind: KIND_NAMES[t.kind], name}
  const nm = (n: string, off: number): string => (off === 0 ? '(anon)' : n)
  switch (t.kind) {
    case Kind.UNKN:
    case Kind.FWD:
      if (t.kind === Kind.FWD) o.fwd_kind = t.kindFlag ? 'union' : 'struct'
      break
    case Kind.INT:
      Object.assign(o, {size: t.size, bits_offset: t.bitOffset, nr_bits: t.bits, encoding: intEncoding(t.encoding)})
      break
    case Kind.PTR:
    case Kind.CONST:
    case Kind.VOLATILE:
    case Kind.RESTRICT:
    case Kind.TYPEDEF:
    case Kind.TYPE_TAG:
      o.type_id = t.type
      break
    case Kind.ARRAY:
      Object.assign(o, {type_id: t.type, index_type_id: t.indexType, nr_elems: t.nelems})
      break
    case Kind.STRUCT:
    case Kind.UNION:
      Object.assign(o, {
        size: t.size,
        vlen: t.members.length,
        members: t.members.map((m) => ({
          name: nm(m.name, m.nameOff),
          type_id: m.type,
          bits_offset: m.bitOffset,
          ...(m.bitfieldSize ? {bitfield_size: m.bitfieldSize} : {}),
        })),
      })
      break
    case Kind.ENUM:
      Object.assign(o, {
        encoding: t.kindFlag ? 'SIGNED' : 'UNSIGNED',
        size: t.size,
        vlen: t.values.length,
        values: t.values.map((v) => ({name: nm(v.name, v.nameOff), val: v.value})),
      })
      break
    case Kind.ENUM64:
      Object.assign(o, {
        encoding: t.kindFlag ? 'SIGNED' : 'UNSIGNED',
        size: t.size,
        vlen: t.values.length,
        // JSON numbers cannot hold every 64-bit value exactly; a string keeps it.
        values: t.values.map((v) => ({name: nm(v.name, v.nameOff), val: v.value.toString()})),
      })
      break
    case Kind.FUNC:
      Object.assign(o, {type_id: t.type, linkage: linkageName(t.linkage)})
      break
    case Kind.FUNC_PROTO:
      Object.assign(o, {
        ret_type_id: t.returnType,
        vlen: t.params.length,
        params: t.params.map((p) => ({name: nm(p.name, p.nameOff), type_id: p.type})),
      })
      break
    case Kind.VAR:
      Object.assign(o, {type_id: t.type, linkage: linkageName(t.linkage)})
      break
    case Kind.DATASEC:
      Object.assign(o, {
        size: t.size,
        vlen: t.vars.length,
        vars: t.vars.map((v) => ({type_id: v.type, offset: v.offset, size: v.size})),
      })
      break
    case Kind.FLOAT:
      o.size = t.size
      break
    case Kind.DECL_TAG:
      Object.assign(o, {type_id: t.type, component_idx: t.componentIdx})
      break
    default:
      assertNever(t)
  }
  return o
}

/** Bytes per output chunk of {@link dumpRawBytes}. */
const CHUNK = 1 << 16

/** `] KIND ` by kind: made once, not once per type. */
const KIND_HEADS = KIND_NAMES.map((k) => `] ${k} `)

/**
 * The raw dump written straight from the BTF's bytes: the same text as {@link dumpRaw}
 * (every line of {@link formatRawType}), produced without decoding a type or making a
 * string. Each record is read where the validating scan found it, names are copied
 * from the string section byte for byte, numbers are written digit by digit, and the
 * text goes into one 64 KiB buffer handed to `write` each time it fills: `write` must
 * be done with the bytes when it returns (copy them to keep them), because they are
 * overwritten next (fresh buffers left ~16 MB of garbage for the collector to find).
 *
 * Why: the string dump makes a decoded object, a name string (kept in the string
 * table's cache) and a line per type, about 100 MB of garbage for a 100,000-type kernel
 * that made the process grow to ~120 MiB; this makes almost none (measured in
 * bench/startup.mjs, see README Performance).
 *
 * Returns false, writing nothing, for a Btf that was not parsed from bytes (then use
 * {@link dumpRaw}).
 */
export function dumpRawBytes(btf: Btf, write: (chunk: Uint8Array) => void): boolean {
  const records = btf.rawRecords()
  if (!records) return false
  const {view: dv, littleEndian: le, offsets} = records
  const buf = new Uint8Array(CHUNK)
  let len = 0
  const flush = (): void => {
    if (len === 0) return
    write(buf.subarray(0, len))
    len = 0
  }
  // the longest fixed piece is far below this margin; names are copied with a bound check
  const room = (n: number): void => {
    if (len + n > CHUNK) flush()
  }
  const ascii = (s: string): void => {
    room(s.length)
    for (let i = 0; i < s.length; i++) buf[len++] = s.charCodeAt(i)
  }
  const num = (v: number): void => {
    room(12)
    if (v < 0) {
      buf[len++] = 0x2d
      v = -v
    }
    if (v < 10) {
      buf[len++] = 0x30 + v
      return
    }
    let digits = 0
    for (let t = v; t > 0; t = Math.floor(t / 10)) digits++
    let at = len + digits
    len = at
    for (let t = v; t > 0; t = Math.floor(t / 10)) buf[--at] = 0x30 + (t % 10)
  }
  // a quoted name: '(anon)' for offset 0, else the string section's bytes up to the NUL
  const name = (off: number): void => {
    if (off === 0) return ascii("'(anon)'")
    let t = btf.strings
    while (off < t.startOffset && t.base) t = t.base
    const bytes = t.bytes
    let p = off - t.startOffset
    room(1)
    buf[len++] = 0x27
    while (bytes[p] !== 0) {
      if (len === CHUNK) flush()
      buf[len++] = bytes[p++]!
    }
    room(1)
    buf[len++] = 0x27
  }
  const lastOwn = btf.ownCount
  for (let i = 0; i < lastOwn; i++) {
    const pos = offsets[i]!
    const nameOff = dv.getUint32(pos, le)
    const info = dv.getUint32(pos + 4, le)
    const sizeOrType = dv.getUint32(pos + 8, le)
    const kind = (info >>> 24) & 0x1f
    const vlen = info & 0xffff
    const kindFlag = info >>> 31 === 1
    const tr = pos + 12
    ascii('[')
    num(btf.startId + i)
    ascii(KIND_HEADS[kind] ?? '] UNKN ')
    name(nameOff)
    switch (kind) {
      case Kind.INT: {
        const data = dv.getUint32(tr, le)
        ascii(' size=')
        num(sizeOrType)
        ascii(' bits_offset=')
        num((data >>> 16) & 0xff)
        ascii(' nr_bits=')
        num(data & 0xff)
        ascii(' encoding=')
        ascii(intEncoding((data >>> 24) & 0xf))
        break
      }
      case Kind.PTR:
      case Kind.CONST:
      case Kind.VOLATILE:
      case Kind.RESTRICT:
      case Kind.TYPEDEF:
      case Kind.TYPE_TAG:
        ascii(' type_id=')
        num(sizeOrType)
        break
      case Kind.ARRAY:
        ascii(' type_id=')
        num(dv.getUint32(tr, le))
        ascii(' index_type_id=')
        num(dv.getUint32(tr + 4, le))
        ascii(' nr_elems=')
        num(dv.getUint32(tr + 8, le))
        break
      case Kind.STRUCT:
      case Kind.UNION:
        ascii(' size=')
        num(sizeOrType)
        ascii(' vlen=')
        num(vlen)
        for (let k = 0, p = tr; k < vlen; k++, p += 12) {
          ascii('\n\t')
          name(dv.getUint32(p, le))
          ascii(' type_id=')
          num(dv.getUint32(p + 4, le))
          const off = dv.getUint32(p + 8, le)
          ascii(' bits_offset=')
          num(kindFlag ? off & 0xffffff : off)
          if (kindFlag && off >>> 24 !== 0) {
            ascii(' bitfield_size=')
            num(off >>> 24)
          }
        }
        break
      case Kind.ENUM:
        ascii(kindFlag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size=')
        num(sizeOrType)
        ascii(' vlen=')
        num(vlen)
        for (let k = 0, p = tr; k < vlen; k++, p += 8) {
          ascii('\n\t')
          name(dv.getUint32(p, le))
          ascii(' val=')
          const raw = dv.getUint32(p + 4, le)
          num(kindFlag ? raw | 0 : raw)
        }
        break
      case Kind.ENUM64:
        ascii(kindFlag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size=')
        num(sizeOrType)
        ascii(' vlen=')
        num(vlen)
        for (let k = 0, p = tr; k < vlen; k++, p += 12) {
          ascii('\n\t')
          name(dv.getUint32(p, le))
          const u = (BigInt(dv.getUint32(p + 8, le)) << 32n) | BigInt(dv.getUint32(p + 4, le))
          ascii(` val=${kindFlag ? BigInt.asIntN(64, u) : u}${kindFlag ? 'LL' : 'ULL'}`)
        }
        break
      case Kind.FWD:
        ascii(kindFlag ? ' fwd_kind=union' : ' fwd_kind=struct')
        break
      case Kind.FUNC:
        ascii(' type_id=')
        num(sizeOrType)
        ascii(' linkage=')
        ascii(linkageName(vlen))
        break
      case Kind.FUNC_PROTO:
        ascii(' ret_type_id=')
        num(sizeOrType)
        ascii(' vlen=')
        num(vlen)
        for (let k = 0, p = tr; k < vlen; k++, p += 8) {
          ascii('\n\t')
          name(dv.getUint32(p, le))
          ascii(' type_id=')
          num(dv.getUint32(p + 4, le))
        }
        break
      case Kind.VAR:
        ascii(' type_id=')
        num(sizeOrType)
        ascii(', linkage=')
        ascii(linkageName(dv.getUint32(tr, le)))
        break
      case Kind.DATASEC:
        ascii(' size=')
        num(sizeOrType)
        ascii(' vlen=')
        num(vlen)
        for (let k = 0, p = tr; k < vlen; k++, p += 12) {
          const id = dv.getUint32(p, le)
          ascii('\n\ttype_id=')
          num(id)
          ascii(' offset=')
          num(dv.getUint32(p + 4, le))
          ascii(' size=')
          num(dv.getUint32(p + 8, le))
          // the variable's own kind and name (a VAR, in this BTF or its base)
          const own = id - btf.startId
          ascii(' (')
          ascii(KIND_NAMES[btf.kindOf(id)] ?? 'UNKN')
          ascii(' ')
          name(own >= 0 && own < lastOwn ? dv.getUint32(offsets[own]!, le) : btf.peekType(id).nameOff)
          ascii(')')
        }
        break
      case Kind.FLOAT:
        ascii(' size=')
        num(sizeOrType)
        break
      case Kind.DECL_TAG:
        ascii(' type_id=')
        num(sizeOrType)
        ascii(' component_idx=')
        num(dv.getInt32(tr, le))
        break
      default:
        // the scan rejected every other kind; UNKN (kind 0) prints its head only
        break
    }
    ascii('\n')
  }
  flush()
  return true
}
