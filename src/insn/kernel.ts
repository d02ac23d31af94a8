/**
 * What a kernel's own BTF says about the BPF it offers: the helpers of its
 * `enum bpf_func_id`, the map types of its `enum bpf_map_type`, and its kfuncs.
 *
 * The uapi enums are compiled into every kernel with BPF, so their BTF (in-kernel, or
 * generated from the kernel's debug info) lists exactly what that kernel knows: a helper
 * id past its `__BPF_FUNC_MAX_ID` is refused by the verifier ("invalid func"), a map
 * type past `__MAX_BPF_MAP_TYPE` by map creation (EINVAL).
 *
 * kfuncs are kernel functions in BTF. Kernels built with pahole 1.25 or later tag them
 * with a `bpf_kfunc` DECL_TAG; where any such tag exists, a FUNC without it is not a
 * kfunc. Without tags (the archived Debian kernels have none), a FUNC of that name is
 * all the BTF can say: whether it is registered as a kfunc for the program's type is
 * known only to the running kernel.
 */
import type {Btf} from '../btf/btf.js'
import {Kind} from '../btf/wire.js'

export interface KernelBpf {
  /** Helper names (without `BPF_FUNC_`); undefined when the BTF has no enum bpf_func_id. */
  helpers?: Set<string>
  /** Map type names (without `BPF_MAP_TYPE_`); undefined without enum bpf_map_type. */
  mapTypes?: Set<string>
  /** Names of FUNCs carrying a `bpf_kfunc` decl tag; undefined when the BTF has no such tag. */
  taggedKfuncs?: Set<string>
}

const memo = new WeakMap<Btf, KernelBpf>()

function enumNames(btf: Btf, name: string, prefix: string): Set<string> | undefined {
  for (const id of btf.idsByName(name, 'types')) {
    const t = btf.typeById(id)
    if (t.kind !== Kind.ENUM && t.kind !== Kind.ENUM64) continue
    const out = new Set<string>()
    for (const v of t.values) if (v.name.startsWith(prefix) && !v.name.startsWith('__')) out.add(v.name.slice(prefix.length))
    return out
  }
  return undefined
}

/** The kernel's BPF vocabulary, read once per Btf. */
export function kernelBpf(btf: Btf): KernelBpf {
  const hit = memo.get(btf)
  if (hit) return hit
  const out: KernelBpf = {
    helpers: enumNames(btf, 'bpf_func_id', 'BPF_FUNC_'),
    mapTypes: enumNames(btf, 'bpf_map_type', 'BPF_MAP_TYPE_'),
  }
  for (const id of btf.idsByName('bpf_kfunc', 'types')) {
    if (btf.kindOf(id) !== Kind.DECL_TAG) continue
    const t = btf.typeById(id)
    if (t.kind !== Kind.DECL_TAG) continue
    out.taggedKfuncs ??= new Set()
    out.taggedKfuncs.add(btf.nameOf(t.type))
  }
  memo.set(btf, out)
  return out
}
