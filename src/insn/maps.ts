/**
 * The maps a BPF object defines, as libbpf reads them.
 *
 * BTF-defined maps (libbpf's bpf_object__init_user_btf_maps): every VAR of the `.maps`
 * DATASEC is a struct whose members describe the map. `__uint(name, N)` declares
 * `int (*name)[N]`: a pointer to an array of N elements, so the value is the array's
 * element count (type, max_entries, map_flags, key_size, value_size, pinning).
 * `__type(key, T)` declares `T *key`: key_size is sizeof(T) (the same for `value`).
 *
 * Legacy maps (`SEC("maps")` with `struct bpf_map_def`, dropped by libbpf 1.0): the
 * section holds one `{u32 type, key_size, value_size, max_entries, map_flags}` per map
 * symbol, read in the object's byte order.
 */
import type {Btf} from '../btf/btf.js'
import {Kind} from '../btf/wire.js'
import type {ElfFile} from '../elf/elf.js'
import {mapTypeName} from './enums.js'

export interface MapDef {
  name: string
  /** `.maps` (BTF-defined) or `maps` (legacy). */
  section: string
  /** enum bpf_map_type value; 0 when not given. */
  type: number
  typeName: string
  keySize: number | null
  valueSize: number | null
  maxEntries: number | null
  flags: number
}

function uintMember(btf: Btf, typeId: number): number | null {
  const p = btf.typeById(btf.skipModifiers(typeId))
  if (p.kind !== Kind.PTR) return null
  const a = btf.typeById(btf.skipModifiers(p.type))
  return a.kind === Kind.ARRAY ? a.nelems : null
}

function pointeeSize(btf: Btf, typeId: number): number | null {
  const p = btf.typeById(btf.skipModifiers(typeId))
  if (p.kind !== Kind.PTR) return null
  try {
    return btf.sizeOf(p.type)
  } catch {
    return null
  }
}

/** Every map of the object, BTF-defined first, in declaration order. */
export function readMapDefs(elf: ElfFile, btf: Btf): MapDef[] {
  const out: MapDef[] = []
  for (let id = 1; id <= btf.lastId; id++) {
    const sec = btf.typeById(id)
    if (sec.kind !== Kind.DATASEC || sec.name !== '.maps') continue
    for (const vi of sec.vars) {
      const v = btf.typeById(vi.type)
      if (v.kind !== Kind.VAR) continue
      const s = btf.typeById(btf.skipTypedefsAndModifiers(v.type))
      if (s.kind !== Kind.STRUCT) continue
      const def: MapDef = {name: v.name, section: '.maps', type: 0, typeName: '', keySize: null, valueSize: null, maxEntries: null, flags: 0}
      for (const m of s.members) {
        switch (m.name) {
          case 'type':
            def.type = uintMember(btf, m.type) ?? 0
            break
          case 'max_entries':
            def.maxEntries = uintMember(btf, m.type)
            break
          case 'map_flags':
            def.flags = uintMember(btf, m.type) ?? 0
            break
          case 'key_size':
            def.keySize = uintMember(btf, m.type)
            break
          case 'value_size':
            def.valueSize = uintMember(btf, m.type)
            break
          case 'key':
            def.keySize = pointeeSize(btf, m.type)
            break
          case 'value':
            def.valueSize = pointeeSize(btf, m.type)
            break
          default:
            break
        }
      }
      def.typeName = mapTypeName(def.type)
      out.push(def)
    }
  }
  const legacy = elf.section('maps')
  if (legacy && legacy.type !== 8 /* SHT_NOBITS */) {
    const bytes = elf.sectionData(legacy)
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const le = elf.littleEndian
    for (const sym of elf.symbols()) {
      if (sym.shndx !== legacy.index || sym.name === '' || sym.type === 3) continue
      const at = Number(sym.value)
      if (at + 20 > bytes.length) continue
      const type = dv.getUint32(at, le)
      out.push({
        name: sym.name,
        section: 'maps',
        type,
        typeName: mapTypeName(type),
        keySize: dv.getUint32(at + 4, le),
        valueSize: dv.getUint32(at + 8, le),
        maxEntries: dv.getUint32(at + 12, le),
        flags: dv.getUint32(at + 16, le),
      })
    }
  }
  return out
}
