/** `kcompat archive list`, shared by the oclif command and the fast path. */
import {loadArchiveKernels, resolveArchiveDir} from '../../archive/archive.js'
import {readRemoteState, rootOf} from '../../archive/remote.js'
import {writeStdout} from '../output.js'

export interface ArchiveListFlags {
  archive?: string
  json?: boolean
}

/** Runs `archive list`: the manifest's kernels as a table or JSON; returns the exit status. */
export async function runArchiveList(flags: ArchiveListFlags): Promise<number> {
  const root = resolveArchiveDir(flags.archive)
  // with KCOMPAT_REMOTE, the published archive's kernels the archive lacks follow its own (remote.ts)
  const kernels = await loadArchiveKernels(root)
  const remoteDir = kernels.map(rootOf).find((d) => d !== undefined)
  const url = remoteDir ? (readRemoteState(remoteDir)?.url ?? null) : null
  const remoteUrl = (k: (typeof kernels)[number]): string | null => (rootOf(k) ? url : null)
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
      // the pack segment holding the kernel's vmlinux BTF (read from there when `path` is not in the archive)
      pack: k.vmlinux?.path ?? null,
      modules: k.modules ? k.modules.count : null,
      remote: remoteUrl(k),
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
  const remote = kernels.filter((k) => rootOf(k) !== undefined)
  const total = remote.length === 0 ? `${kernels.length} kernels in ${root}` : `${kernels.length} kernels: ${kernels.length - remote.length} in ${root}, ${remote.length} from ${url} (KCOMPAT_REMOTE)`
  await writeStdout(`${[fmt(head), ...rows.map(fmt), '', total].join('\n')}\n`)
  return 0
}
