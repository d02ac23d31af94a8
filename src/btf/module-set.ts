/**
 * A kernel's module BTF as one set: the split BTF of each module on top of the kernel's
 * vmlinux BTF, with the lookups every answer about modules needs (which modules define
 * a FUNC or TYPEDEF name, every name of a kind for near-name suggestions, the parsed
 * Btfs for CO-RE candidates and for btfgen).
 *
 * Module BTF is split BTF: its type ids continue after vmlinux's last id and its strings
 * after vmlinux's strings, so each module is parsed with vmlinux as its base (lazily:
 * only the validating scan runs until a type is asked for). Modules are kept in name
 * order; libbpf meets them in BTF object id order (load order), which only a running
 * machine knows — answers here never depend on that order except for which of several
 * agreeing candidates is named first.
 *
 * Name maps are built on first use, in one pass over every module's own types (kinds
 * and names come from the scan, nothing is decoded), so code that never asks about
 * modules pays for nothing but the scans.
 */
import type {Btf} from './btf.js'
import {parseBtf} from './decode.js'
import {Kind} from './wire.js'

export interface ModuleBtf {
  /** The module's name as the kernel knows it (`/sys/kernel/btf/<name>`). */
  name: string
  btf: Btf
}

export class ModuleSet {
  readonly modules: readonly ModuleBtf[]
  private readonly byName: Map<string, ModuleBtf>
  private names: {funcs: Map<string, string[]>; typedefs: Map<string, string[]>} | undefined

  private constructor(
    readonly vmlinux: Btf,
    modules: ModuleBtf[],
  ) {
    this.modules = modules
    this.byName = new Map(modules.map((m) => [m.name, m]))
  }

  /**
   * Parses each module's raw split BTF on `vmlinux` (lazily: validated, not decoded).
   * @throws BtfError when a module's BTF is malformed or does not fit this base.
   */
  static parse(vmlinux: Btf, raw: ReadonlyMap<string, Uint8Array>): ModuleSet {
    const names = [...raw.keys()].sort()
    return new ModuleSet(
      vmlinux,
      names.map((name) => ({name, btf: parseBtf(raw.get(name)!, {base: vmlinux, lazy: true})})),
    )
  }

  /** A set of modules already parsed on `vmlinux` (kept in name order). */
  static of(vmlinux: Btf, modules: ModuleBtf[]): ModuleSet {
    return new ModuleSet(vmlinux, [...modules].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)))
  }

  get size(): number {
    return this.modules.length
  }

  module(name: string): ModuleBtf | undefined {
    return this.byName.get(name)
  }

  /** Names of the modules whose own BTF has a FUNC (or TYPEDEF) named `name`, in name order. */
  modulesDefining(kind: 'FUNC' | 'TYPEDEF', name: string): string[] {
    return this.nameMap(kind).get(name) ?? []
  }

  /** Every FUNC (or TYPEDEF) name of every module → the modules that define it. */
  nameMap(kind: 'FUNC' | 'TYPEDEF'): ReadonlyMap<string, string[]> {
    this.names ??= this.collectNames()
    return kind === 'FUNC' ? this.names.funcs : this.names.typedefs
  }

  /** The id of the first FUNC (or TYPEDEF) named `name` in module `module`'s own types. */
  findOwn(module: string, kind: 'FUNC' | 'TYPEDEF', name: string): number | undefined {
    const m = this.byName.get(module)
    if (!m) return undefined
    const k = kind === 'FUNC' ? Kind.FUNC : Kind.TYPEDEF
    for (const id of m.btf.idsByName(name, kind === 'FUNC' ? 'funcs' : 'types')) {
      if (id >= m.btf.startId && m.btf.kindOf(id) === k) return id
    }
    return undefined
  }

  private collectNames(): {funcs: Map<string, string[]>; typedefs: Map<string, string[]>} {
    const funcs = new Map<string, string[]>()
    const typedefs = new Map<string, string[]>()
    for (const m of this.modules) {
      const b = m.btf
      for (let id = b.startId; id <= b.lastId; id++) {
        const kind = b.kindOf(id)
        if (kind !== Kind.FUNC && kind !== Kind.TYPEDEF) continue
        const n = b.nameOf(id)
        if (n === '') continue
        const map = kind === Kind.FUNC ? funcs : typedefs
        const list = map.get(n)
        if (!list) map.set(n, [m.name])
        else if (list[list.length - 1] !== m.name) list.push(m.name)
      }
    }
    return {funcs, typedefs}
  }
}
