/** `kcompat archive list`, shared by the oclif command and the fast path. */
import {resolveArchiveDir} from '../../archive/archive.js'
import {readManifest} from '../../archive/manifest.js'
import {writeStdout} from '../output.js'

export interface ArchiveListFlags {
  archive?: string
  json?: boolean
}

/** Runs `archive list`: the manifest's kernels as a table or JSON; returns the exit status. */
export async function runArchiveList(flags: ArchiveListFlags): Promise<number> {
  const root = resolveArchiveDir(flags.archive)
  const kernels = readManifest(root).kernels
  if (flags.json) {
    const rows = kernels.map((k) => ({
      release: k.release,
      distro: k.distro,
      version: k.version,
      arch: k.arch,
      flavor: k.flavor,
      btf: k.btf,
      sha256: k.sha256,
      path: k.path,
      modules: k.modules ? k.modules.count : null,
    }))
    await writeStdout(`${JSON.stringify(rows, null, 2)}\n`)
    return 0
  }
  if (kernels.length === 0) {
    await writeStdout(`no kernels in ${root}\n`)
    return 0
  }
  const head = ['DISTRO', 'VERSION', 'ARCH', 'RELEASE', 'FLAVOR', 'BTF', 'MODULES']
  // MODULES: modules with BTF stored; '-' when they were never added
  const rows = kernels.map((k) => [k.distro, k.version, k.arch, k.release, k.flavor, k.btf, k.modules ? String(k.modules.count) : '-'])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  await writeStdout(`${[fmt(head), ...rows.map(fmt), '', `${kernels.length} kernels in ${root}`].join('\n')}\n`)
  return 0
}
