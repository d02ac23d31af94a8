/**
 * What `check` needs from a kernel's BTF: its FUNC and TYPEDEF names (attach targets)
 * and the enumerators of `enum bpf_prog_type` and `enum bpf_attach_type` (the program
 * and attach types the kernel knows), each name with the id of its first type.
 *
 * `check` takes them from the kernel's lazily parsed Btf ({@link symbolsFromBtf}): name
 * lookups go through the Btf's byte-level name index and nothing is decoded until asked.
 * {@link scanSymbols} is an independent reading straight from raw vmlinux BTF, one pass
 * over the type section into plain maps, for callers without a Btf (and a cross-check in
 * the tests); it throws on anything malformed rather than reading past it.
 */
import type {Btf} from '../btf/btf.js'
import {parseHeader} from '../btf/decode.js'
import {ensureAllLoaded, indexOfLoaded, loadedStringEnd} from '../btf/paged.js'
import type {StringTable} from '../btf/strings.js'
import {BTF_TYPE_SIZE, Kind, infoKind, infoVlen, trailerSize} from '../btf/wire.js'

export interface KernelSymbols {
  /** FUNC name → id of the first FUNC with that name. */
  funcs: ReadonlyMap<string, number>
  /** TYPEDEF name → id of the first TYPEDEF with that name. */
  typedefs: ReadonlyMap<string, number>
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
  ensureAllLoaded(bytes) // reads every record (bytes read on demand, btf/paged.ts)
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
  const funcs = new Map<string, number>()
  const typedefs = new Map<string, number>()
  const out: KernelSymbols = {funcs, typedefs, hasBtfTraceTypedefs: false}
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
        if (!funcs.has(n)) funcs.set(n, id)
      } else if (kind === Kind.TYPEDEF) {
        const n = name(nameOff)
        if (!typedefs.has(n)) typedefs.set(n, id)
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

/**
 * Names with a 53-bit key each (equal names, equal keys; see NameIndex.keys), so that
 * code meeting the same names in kernel after kernel can skip those it has seen without
 * decoding them. `ids[k]` has key `keys[k]`; the same name may appear more than once.
 */
export interface KeyedNames {
  ids: Int32Array
  keys: Float64Array
  nameOf(id: number): string
}

/** The keyed names behind a symbols map, when it is a view over a parsed Btf. */
export function keyedNamesOf(names: ReadonlyMap<string, number>): KeyedNames | undefined {
  return names instanceof KindNames ? names.keyed() : undefined
}

/**
 * The names of one kind in a parsed Btf, as a read-only map from name to the first id
 * of that kind with that name. A lookup goes through the Btf's name index; only
 * iterating (near names, globs) collects every name of the kind, once.
 */
class KindNames implements ReadonlyMap<string, number> {
  private all: Map<string, number> | undefined
  constructor(
    private readonly btf: Btf,
    private readonly kind: number,
  ) {}

  get(name: string): number | undefined {
    if (this.all) return this.all.get(name)
    for (const id of this.btf.idsByName(name, this.kind === Kind.FUNC ? 'funcs' : 'types')) if (this.btf.kindOf(id) === this.kind) return id
    return undefined
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  private collect(): Map<string, number> {
    if (this.all) return this.all
    const all = new Map<string, number>()
    const btf = this.btf
    for (let id = 1; id <= btf.lastId; id++) {
      if (btf.kindOf(id) !== this.kind) continue
      const n = btf.nameOf(id)
      if (n !== '' && !all.has(n)) all.set(n, id)
    }
    return (this.all = all)
  }

  private keyMemo: KeyedNames | undefined

  /** The names with their 53-bit keys (see Btf.nameKeys), or undefined for split BTF. */
  keyed(): KeyedNames | undefined {
    if (this.keyMemo) return this.keyMemo
    const btf = this.btf
    const all = btf.nameKeys(this.kind === Kind.FUNC ? 'funcs' : 'types')
    if (!all) return undefined
    let {ids, keys} = all
    if (this.kind !== Kind.FUNC) {
      // the 'types' class holds every kind but FUNC: keep this kind's
      let n = 0
      const fi = new Int32Array(ids.length)
      const fk = new Float64Array(ids.length)
      for (let k = 0; k < ids.length; k++) {
        if (btf.kindOf(ids[k]!) !== this.kind) continue
        fi[n] = ids[k]!
        fk[n++] = keys[k]!
      }
      ids = fi.subarray(0, n)
      keys = fk.subarray(0, n)
    }
    return (this.keyMemo = {ids, keys, nameOf: (id) => btf.nameOf(id)})
  }

  get size(): number {
    return this.collect().size
  }
  keys(): MapIterator<string> {
    return this.collect().keys()
  }
  values(): MapIterator<number> {
    return this.collect().values()
  }
  entries(): MapIterator<[string, number]> {
    return this.collect().entries()
  }
  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.collect()[Symbol.iterator]()
  }
  forEach(fn: (value: number, key: string, map: ReadonlyMap<string, number>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.collect()) fn.call(thisArg, v, k, this)
  }
}

/**
 * The same symbols from an already parsed Btf (split BTF included, base first): FUNC
 * and TYPEDEF names as views over the Btf's name index (nothing is collected until
 * asked), the two enums decoded.
 */
export function symbolsFromBtf(btf: Btf): KernelSymbols {
  const out: KernelSymbols = {funcs: new KindNames(btf, Kind.FUNC), typedefs: new KindNames(btf, Kind.TYPEDEF), hasBtfTraceTypedefs: false}
  for (const name of ENUMS) {
    const id = btf.idsByName(name, 'types').find((i) => btf.kindOf(i) === Kind.ENUM || btf.kindOf(i) === Kind.ENUM64)
    if (id === undefined) continue
    const values = new Set((btf.typeById(id) as {values: Array<{name: string}>}).values.map((v) => v.name))
    if (name === 'bpf_prog_type') out.progTypes = values
    else out.attachTypes = values
  }
  // the btf_trace_<tracepoint> typedefs (5.5+): any TYPEDEF whose name starts so
  out.hasBtfTraceTypedefs = hasTypedefWithPrefix(btf, 'btf_trace_')
  return out
}

/**
 * Whether some TYPEDEF's name starts with `prefix` (ASCII). A name is the string
 * section's bytes from its offset to the next NUL, so every such name is the tail that
 * starts at some occurrence of `prefix`'s bytes in the section: search the bytes for
 * them (native, a few hundred microseconds for a kernel's 2 MB) and look each tail up
 * by name (the hashed name index), rather than reading the kind of every one of the
 * ~100,000 types (3-6 ms of `check`, interpreted).
 */
function hasTypedefWithPrefix(btf: Btf, prefix: string): boolean {
  for (let t: StringTable | undefined = btf.strings; t; t = t.base) {
    const bytes = Buffer.from(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength)
    // (bytes read on demand, btf/paged.ts, are read only as far as the search goes)
    for (let at = indexOfLoaded(t.bytes, prefix, 0, bytes); at >= 0; at = indexOfLoaded(t.bytes, prefix, at + 1, bytes)) {
      const name = bytes.toString('utf8', at, loadedStringEnd(t.bytes, at, bytes))
      if (btf.findByName(name, Kind.TYPEDEF) !== undefined) return true
    }
  }
  return false
}
