/** `kcompat kernels`, shared by the oclif command and the fast path. */
import {prepareRemote, resolveArchiveDir} from '../../archive/archive.js'
import {combineKernels, formatKernels, progressLine, queryArchives} from '../../store/index.js'
import {writeStdout} from '../output.js'

export interface KernelsFlags {
  distro?: string
  version?: string
  arch?: string
  archive?: string
  db?: string
  json?: boolean
}

/** Runs `kernels`; returns the exit status. */
export async function runKernels(flags: KernelsFlags): Promise<number> {
  const root = resolveArchiveDir(flags.archive)
  // with KCOMPAT_REMOTE, the published archive's kernels too (store/combine.ts)
  const kernels = await queryArchives(
    root,
    await prepareRemote(root),
    {db: flags.db, onProgress: (p) => process.stderr.write(progressLine(p))},
    (index) => index.listKernels({distro: flags.distro, version: flags.version, arch: flags.arch}),
    combineKernels,
  )
  await writeStdout(flags.json ? `${JSON.stringify({kernels}, null, 2)}\n` : formatKernels(kernels))
  return 0
}
