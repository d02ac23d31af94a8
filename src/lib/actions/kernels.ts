/** `kcompat kernels`, shared by the oclif command and the fast path. */
import {resolveArchiveDir} from '../../archive/archive.js'
import {formatKernels, progressLine, queryIndex} from '../../store/index.js'
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
  const kernels = await queryIndex(
    resolveArchiveDir(flags.archive),
    {db: flags.db, onProgress: (p) => process.stderr.write(progressLine(p))},
    (index) => index.listKernels({distro: flags.distro, version: flags.version, arch: flags.arch}),
  )
  await writeStdout(flags.json ? `${JSON.stringify({kernels}, null, 2)}\n` : formatKernels(kernels))
  return 0
}
