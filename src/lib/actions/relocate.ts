/** `kcompat relocate`: libbpf's CO-RE decisions for an object on a kernel, shared by the oclif command and the fast path. */
import {loadBpfObject} from '../../core/object.js'
import {type CoreRelocation, relocateObject} from '../../core/relocate.js'
import {coreTarget, kernelBtfFromArchive, kernelBtfFromFile} from '../../core/target.js'
import {writeStdout} from '../output.js'

export interface RelocateFlags {
  object: string
  btf?: string
  kernel?: string
  arch?: string
  archive?: string
  /** NAME=FILE pairs, already checked by the command (the fast path leaves --module to oclif). */
  module?: string[]
  'no-modules'?: boolean
  libbpf?: string
  json?: boolean
}

/** A u64 as JSON: a number when exact, else a decimal string. */
function jsonValue(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
}

function toJson(r: CoreRelocation): Record<string, unknown> {
  return {
    program: r.program ?? null,
    insn: r.insn,
    kind: r.kind,
    local: r.local,
    status: r.status,
    ...(r.value !== undefined ? {value: jsonValue(r.value)} : {}),
    ...(r.reason !== undefined ? {reason: r.reason} : {}),
    ...(r.code !== undefined ? {code: r.code} : {}),
    section: r.section,
    relo: r.index,
    ...(r.original !== undefined ? {original: jsonValue(r.original)} : {}),
    ...(r.memSize ? {memSize: r.memSize} : {}),
    ...(r.target ? {target: r.target} : {}),
  }
}

/** Runs `relocate` (exactly one of --btf and --kernel, as the oclif flags require); returns the exit status. */
export async function runRelocate(flags: RelocateFlags): Promise<number> {
  const obj = await loadBpfObject(flags.object)
  const modules = new Map<string, string>()
  for (const m of flags.module ?? []) {
    const eq = m.indexOf('=')
    modules.set(m.slice(0, eq), m.slice(eq + 1))
  }
  const kernel = flags.kernel
    ? await kernelBtfFromArchive(flags.kernel, {arch: flags.arch, archive: flags.archive, noModules: flags['no-modules'], objects: [obj]})
    : await kernelBtfFromFile(flags.btf!, modules)
  const relos = relocateObject(obj, coreTarget(kernel), {libbpf: flags.libbpf === '1.6' ? '1.6' : '1.1'})
  if (flags.json) {
    await writeStdout(`${JSON.stringify({object: flags.object, kernel: kernel.name, relocations: relos.map(toJson)}, null, 2)}\n`)
  } else {
    await writeStdout(renderText(relos, flags.object, kernel.name))
  }
  return 0
}

/**
 * One line per relocation. When some relocation resolved in a module's BTF, a BTF
 * column names where each target is (`vmlinux` or the module).
 */
function renderText(relos: CoreRelocation[], object: string, kernel: string): string {
  if (relos.length === 0) return `${object}: no CO-RE relocations\n`
  const inModules = relos.some((r) => r.target && r.target.source !== 'vmlinux')
  const head = ['PROGRAM', 'INSN', 'KIND', 'LOCAL', 'STATUS', ...(inModules ? ['BTF'] : []), 'VALUE']
  const rows = relos.map((r) => [
    r.program ?? `(${r.section})`,
    String(r.insn),
    r.kind,
    r.local,
    r.status,
    ...(inModules ? [r.target?.source ?? '-'] : []),
    r.status === 'patched' ? String(r.value) + (r.memSize ? ` (${r.memSize.from}->${r.memSize.to} bytes)` : '') : (r.reason ?? ''),
  ])
  const last = head.length - 1
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((row) => (i === last ? 0 : row[i]!.length)))))
  const fmt = (row: string[]): string => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()
  const count = (s: string): number => relos.filter((r) => r.status === s).length
  const inMod = relos.filter((r) => r.target && r.target.source !== 'vmlinux').length
  const where = inMod > 0 ? ` (${inMod} resolved in module BTF)` : ''
  const summary = `${relos.length} relocations on ${kernel}: ${count('patched')} patched, ${count('poisoned')} poisoned, ${count('failed')} failed, ${count('skipped')} skipped${where}`
  return `${[fmt(head), ...rows.map(fmt), '', summary].join('\n')}\n`
}
