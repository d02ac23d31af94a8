/**
 * Candidate target types for a local CO-RE root type (libbpf's bpf_core_find_cands and
 * bpf_core_add_cands).
 *
 * A candidate is a target type of a CO-RE-compatible kind (the same kind, or any two
 * enums) whose essential name equals the local type's essential name: `task_struct`,
 * `task_struct___old` and `task_struct___2` are all candidates for each other (see
 * essentialName in src/btf/btf.ts). libbpf looks in vmlinux BTF first, in id order,
 * and only when that yields nothing in each loaded module's BTF (its own types, after
 * the vmlinux ids), in module order. When vmlinux BTF is replaced by a custom file
 * (`btf_custom_path`, which is what `kcompat relocate --btf` models), libbpf never
 * looks at modules; pass no modules to get that behaviour.
 */
import type {Btf} from '../btf/btf.js'
import {essentialName} from '../btf/btf.js'
import type {TypeId} from '../btf/types.js'
import {Kind} from '../btf/wire.js'
import {kindsCoreCompatible, typeLabel} from './btf-util.js'
import {EINVAL, ReloFailure} from './errors.js'

/** The kernel side of a relocation: vmlinux BTF and, optionally, module BTFs. */
export interface CoreTarget {
  vmlinux: Btf
  /** Module (split) BTFs on top of `vmlinux`, searched only when vmlinux has no candidate. */
  modules?: {name: string; btf: Btf}[]
}

export interface Candidate {
  btf: Btf
  id: TypeId
  /** 'vmlinux' or the module's name, as libbpf's debug log says. */
  source: string
}

/**
 * All candidates for local type `localId`, in libbpf's order.
 * @throws ReloFailure `CORE_ANON_TYPE` for an anonymous local type (libbpf cannot
 *   search for it and fails the relocation).
 */
export function findCandidates(local: Btf, localId: TypeId, target: CoreTarget): Candidate[] {
  const lt = local.typeById(localId)
  if (lt.name === '') {
    throw new ReloFailure('CORE_ANON_TYPE', `relocation against anonymous ${typeLabel(lt)} [${localId}]: libbpf cannot search for candidates`, EINVAL)
  }
  const want = essentialName(lt.name)
  const add = (btf: Btf, source: string, fromId: number): Candidate[] =>
    btf.idsByEssentialName(want, lt.kind === Kind.FUNC ? 'funcs' : 'types')
      .filter((id) => id >= fromId && kindsCoreCompatible(btf.typeById(id), lt))
      .map((id) => ({btf, id, source}))
  const found = add(target.vmlinux, 'vmlinux', 1)
  if (found.length > 0 || !target.modules) return found
  for (const m of target.modules) found.push(...add(m.btf, m.name, m.btf.startId))
  return found
}
