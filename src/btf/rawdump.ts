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
