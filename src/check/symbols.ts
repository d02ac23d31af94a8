/**
 * What `check` needs from a kernel's BTF: its FUNC and TYPEDEF names (attach targets)
 * and the enumerators of `enum bpf_prog_type` and `enum bpf_attach_type` (the program
 * and attach types the kernel knows), each name with the id of its first type.
 *
 * {@link scanSymbols} reads these straight from raw vmlinux BTF in one pass over the
 * type section, without building the typed model: about ten times faster than a full
 * parse of a 100,000-type kernel, which keeps `check` well under a second. It checks
 * every record and string offset against the section bounds and throws on anything
 * malformed, so the caller can fall back to the validating parser for a proper error.
 */
import type {Btf} from '../btf/btf.js'
import {parseHeader} from '../btf/decode.js'
import {BTF_TYPE_SIZE, Kind, infoKind, infoVlen, trailerSize} from '../btf/wire.js'

export interface KernelSymbols {
  /** FUNC name → id of the first FUNC with that name. */
  funcs: Map<string, number>
  /** TYPEDEF name → id of the first TYPEDEF with that name. */
  typedefs: Map<string, number>
  /** Enumerators of enum bpf_prog_type; undefined when the BTF has no such enum. */
  progTypes?: Set<string>
  attachTypes?: Set<string>
  hasBtfTraceTypedefs: boolean
}

const ENUMS = new Set(['bpf_prog_type', 'bpf_attach_type'])

class Malformed extends Error {}

/**
 * Reads the symbols of raw (base) BTF.
 * @throws BtfError from the header check, or an Error for a malformed type or string section.
 */
export function scanSymbols(bytes: Uint8Array): KernelSymbols {
  const {header, littleEndian: le} = parseHeader(bytes)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const typeStart = header.hdrLen + header.typeOff
  const typeEnd = typeStart + header.typeLen
  const strStart = header.hdrLen + header.strOff
  const strings = Buffer.from(bytes.buffer, bytes.byteOffset + strStart, header.strLen).toString('latin1')
  const name = (off: number): string => {
    if (off >= strings.length) throw new Malformed(`string offset ${off} is outside the string section`)
    const end = strings.indexOf('\0', off)
    if (end < 0) throw new Malformed(`string at ${off} is not NUL-terminated`)
    return strings.slice(off, end)
  }
  const out: KernelSymbols = {funcs: new Map(), typedefs: new Map(), hasBtfTraceTypedefs: false}
  let id = 1
  for (let at = typeStart; at < typeEnd; id++) {
    if (at + BTF_TYPE_SIZE > typeEnd) throw new Malformed(`type ${id} is truncated`)
    const nameOff = dv.getUint32(at, le)
    const info = dv.getUint32(at + 4, le)
    const kind = infoKind(info)
    const vlen = infoVlen(info)
    const trailer = trailerSize(kind, vlen)
    if (trailer < 0) throw new Malformed(`type ${id} has unknown kind ${kind}`)
    const next = at + BTF_TYPE_SIZE + trailer
    if (next > typeEnd) throw new Malformed(`type ${id} runs past the type section`)
    if (nameOff !== 0) {
      if (kind === Kind.FUNC) {
        const n = name(nameOff)
        if (!out.funcs.has(n)) out.funcs.set(n, id)
      } else if (kind === Kind.TYPEDEF) {
        const n = name(nameOff)
        if (!out.typedefs.has(n)) out.typedefs.set(n, id)
        if (n.startsWith('btf_trace_')) out.hasBtfTraceTypedefs = true
      } else if (kind === Kind.ENUM || kind === Kind.ENUM64) {
        const n = name(nameOff)
        if (ENUMS.has(n)) {
          const values = new Set<string>()
          const step = kind === Kind.ENUM ? 8 : 12
          for (let i = 0; i < vlen; i++) values.add(name(dv.getUint32(at + BTF_TYPE_SIZE + i * step, le)))
          if (n === 'bpf_prog_type') out.progTypes ??= values
          else out.attachTypes ??= values
        }
      }
    }
    at = next
  }
  return out
}

/** The same symbols from an already parsed Btf (split BTF included, base first); decodes only the two enums. */
export function symbolsFromBtf(btf: Btf): KernelSymbols {
  const out: KernelSymbols = {funcs: new Map(), typedefs: new Map(), hasBtfTraceTypedefs: false}
  for (let id = 1; id <= btf.lastId; id++) {
    const kind = btf.kindOf(id)
    if (kind !== Kind.FUNC && kind !== Kind.TYPEDEF && kind !== Kind.ENUM && kind !== Kind.ENUM64) continue
    const name = btf.nameOf(id)
    if (name === '') continue
    if (kind === Kind.FUNC) {
      if (!out.funcs.has(name)) out.funcs.set(name, id)
    } else if (kind === Kind.TYPEDEF) {
      if (!out.typedefs.has(name)) out.typedefs.set(name, id)
      if (name.startsWith('btf_trace_')) out.hasBtfTraceTypedefs = true
    } else if (ENUMS.has(name)) {
      const t = btf.typeById(id) as {values: Array<{name: string}>}
      const values = new Set(t.values.map((v) => v.name))
      if (name === 'bpf_prog_type') out.progTypes ??= values
      else out.attachTypes ??= values
    }
  }
  return out
}

/** {@link scanSymbols}, or `fallback()`'s parse when the fast scan finds the bytes malformed. */
export function symbolsOf(bytes: Uint8Array, fallback: () => Btf): KernelSymbols {
  try {
    return scanSymbols(bytes)
  } catch (e) {
    if (!(e instanceof Malformed)) throw e
    return symbolsFromBtf(fallback())
  }
}
