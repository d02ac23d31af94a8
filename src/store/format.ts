/**
 * Human-readable text for index answers: compact tables grouped by distro, version and
 * arch (printed once per group), with what is missing where and near-name suggestions.
 * Pure functions of the query results; the commands print them.
 */
import type {BuildProgress, BuildResult} from './build.js'
import type {FieldResult, FuncResult, KernelInfo, KernelRef} from './query.js'

const group = (k: KernelRef): string => `${k.distro} ${k.version} ${k.arch}`

/** Aligns columns; `right` lists the columns to right-align. */
export function table(rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths: number[] = []
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 && !right.has(i) ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** `debian 12 x86_64: 6.1.0-56-cloud-amd64, 6.12.117+deb12-cloud-amd64; debian 12 arm64: …` */
export function kernelList(kernels: readonly KernelRef[]): string {
  const groups = new Map<string, string[]>()
  for (const k of kernels) {
    const g = groups.get(group(k))
    if (g) g.push(k.release)
    else groups.set(group(k), [k.release])
  }
  return [...groups.entries()].map(([g, rel]) => `${g}: ${rel.join(', ')}`).join('; ')
}

/** Rows with the group shown only when it changes. */
function groupedRows<T extends KernelRef>(items: readonly T[], cells: (x: T) => string[]): string[][] {
  let last = ''
  return items.map((x) => {
    const g = group(x)
    const shown = g === last ? '' : g
    last = g
    return [shown, x.release, ...cells(x)]
  })
}

function tail(lines: string[], absentLabel: string, absent: readonly KernelRef[], noBtf: readonly KernelRef[]): void {
  if (absent.length > 0) lines.push(`${absentLabel}: ${kernelList(absent)}`)
  if (noBtf.length > 0) lines.push(`no BTF (unknown): ${kernelList(noBtf)}`)
}

function withBtf(r: {kernels: readonly KernelRef[]; absent: readonly KernelRef[]}): number {
  return new Set(r.kernels.map((k) => `${group(k)} ${k.release}`)).size + r.absent.length
}

export function formatFuncResult(r: FuncResult): string {
  const what = r.kind === 'tracepoint' ? 'tracepoint' : r.kind === 'lsm' ? 'LSM hook' : r.kind === 'iter' ? 'BPF iterator' : 'function'
  const total = withBtf(r)
  const lines: string[] = []
  if (r.kernels.length === 0) {
    lines.push(`${what} ${r.query}: not found in any of the ${total} kernels with BTF.`)
    if (r.suggestions.length > 0) lines.push(`Did you mean: ${r.suggestions.join(', ')}?`)
    if (r.noBtf.length > 0) lines.push(`no BTF (unknown): ${kernelList(r.noBtf)}`)
    return `${lines.join('\n')}\n`
  }
  const present = new Set(r.kernels.map((k) => `${group(k)} ${k.release}`)).size
  const many = r.prototypes.length > 1
  lines.push(
    `${what} ${r.query}: in ${present} of ${total} kernels with BTF${many ? `, ${r.prototypes.length} different prototypes` : ''}`,
  )
  if (many) r.prototypes.forEach((p, i) => lines.push(`  [${i + 1}] ${p}`))
  else lines.push(`  ${r.prototypes[0]}`)
  lines.push('')
  const label = new Map(r.prototypes.map((p, i) => [p, `[${i + 1}]`]))
  // A MODULE column when some kernel has it in a module's BTF (`-`: vmlinux).
  const mods = r.kernels.some((k) => k.module !== null)
  const header = ['DISTRO VERSION ARCH', 'RELEASE', ...(mods ? ['MODULE'] : []), ...(many ? ['PROTOTYPE'] : [])]
  lines.push(table([header, ...groupedRows(r.kernels, (k) => [...(mods ? [k.module ?? '-'] : []), ...(many ? [label.get(k.prototype)!] : [])])]))
  const extra: string[] = []
  tail(extra, 'absent', r.absent, r.noBtf)
  if (extra.length > 0) lines.push('', ...extra)
  return `${lines.join('\n')}\n`
}

export function formatFieldResult(r: FieldResult): string {
  const name = `${r.struct}.${r.member}`
  const total = withBtf({kernels: r.kernels, absent: [...r.memberMissing, ...r.structMissing]})
  const lines: string[] = []
  if (r.kernels.length === 0) {
    if (r.memberMissing.length === 0) {
      lines.push(`${name}: no struct or union ${r.struct} in any of the ${total} kernels with BTF.`)
      if (r.suggestions.length > 0) lines.push(`Did you mean: ${r.suggestions.join(', ')}?`)
    } else {
      lines.push(`${name}: ${r.struct} has no member ${r.member} in any of the ${r.memberMissing.length} kernels that have ${r.struct}.`)
    }
  } else {
    const present = new Set(r.kernels.map((k) => `${group(k)} ${k.release}`)).size
    lines.push(`${name}: in ${present} of ${total} kernels with BTF`)
    lines.push('')
    const mods = r.kernels.some((k) => k.module !== null)
    const rows = [
      ['DISTRO VERSION ARCH', 'RELEASE', ...(mods ? ['MODULE'] : []), 'OFFSET', 'BIT OFFSET', 'BITFIELD', 'TYPE'],
      ...groupedRows(r.kernels, (k) => [
        ...(mods ? [k.module ?? '-'] : []),
        String(k.byteOffset),
        String(k.bitOffset),
        k.bitfieldSize ? String(k.bitfieldSize) : '-',
        `${k.type}${k.anonymous ? '  (in an anonymous struct/union)' : ''}`,
      ]),
    ]
    lines.push(table(rows, mods ? new Set([3, 4, 5]) : new Set([2, 3, 4])))
  }
  const extra: string[] = []
  if (r.kernels.length > 0 && r.memberMissing.length > 0) extra.push(`${r.struct} without ${r.member}: ${kernelList(r.memberMissing)}`)
  if (r.related.length > 0) {
    extra.push(`Related members of ${r.struct}:`)
    for (const rel of r.related) {
      extra.push(`  ${rel.member}: in ${rel.kernels.length} of ${total} kernels (${kernelList(rel.kernels)})`)
    }
  }
  if (r.structMissing.length > 0 && r.kernels.length + r.memberMissing.length > 0) {
    extra.push(`no ${r.struct}: ${kernelList(r.structMissing)}`)
  }
  if (r.noBtf.length > 0) extra.push(`no BTF (unknown): ${kernelList(r.noBtf)}`)
  if (extra.length > 0) lines.push('', ...extra)
  return `${lines.join('\n')}\n`
}

export function formatKernels(kernels: readonly KernelInfo[]): string {
  if (kernels.length === 0) return 'No kernels match.\n'
  const rows = [
    ['DISTRO', 'VERSION', 'ARCH', 'RELEASE', 'FLAVOR', 'BTF', 'FUNCS', 'STRUCTS', 'TRACEPOINTS', 'MODULES'],
    ...kernels.map((k) => [
      k.distro,
      k.version,
      k.arch,
      k.release,
      k.flavor,
      k.btf,
      k.counts ? String(k.counts.funcs) : '-',
      k.counts ? String(k.counts.structs) : '-',
      k.counts ? String(k.counts.tracepoints) : '-',
      k.modules === null ? '-' : String(k.modules),
    ]),
  ]
  return `${table(rows, new Set([6, 7, 8, 9]))}\n${kernels.length} kernel${kernels.length === 1 ? '' : 's'}\n`
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`
}

export function formatBuildResult(r: BuildResult): string {
  const parts = [
    `${r.indexed.length} indexed`,
    `${r.updated.length} updated`,
    `${r.removed.length} removed`,
    `${r.unchanged} unchanged`,
  ]
  const ratio = r.archiveBytes > 0 ? ` = ${((100 * r.indexBytes) / r.archiveBytes).toFixed(1)}% of the archive's ${mb(r.archiveBytes)} of BTF tarballs` : ''
  return (
    `${r.kernels} kernels: ${parts.join(', ')} in ${(r.ms / 1000).toFixed(1)} s\n` +
    `index ${r.dbPath}: ${mb(r.indexBytes)}${ratio}; ${r.records} distinct records, ${r.ksets} kernel sets\n`
  )
}

/** One progress line for stderr, e.g. `kcompat: index: indexing kernel 2/3 debian/12/x86_64/6.1.0-56-cloud-amd64`. */
export function progressLine(p: BuildProgress): string {
  const verb = p.action === 'index' ? 'indexing' : p.action === 'update' ? 'updating' : 'removing'
  return `kcompat: index: ${verb} kernel ${p.index}/${p.total} ${p.kernel}\n`
}
