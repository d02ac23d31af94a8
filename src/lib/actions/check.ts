/** `kcompat check`: the library call, its rendering and exit status, shared by the oclif command and the fast path. */
import {check} from '../../check/check.js'
import {CheckUsageError} from '../../check/errors.js'
import {renderCheck} from '../../check/render.js'
import {exitCodeFor} from '../../check/types.js'
import {KernelReleaseError} from '../../kernel/release.js'
import {EXIT_USAGE} from '../exit.js'
import {printKcompatError, writeStdout} from '../output.js'

export interface CheckFlags {
  kernel: string
  prog?: string[]
  object?: string[]
  archive?: string
  btf?: string
  arch?: string
  json?: boolean
  verbose?: boolean
}

/** Runs `check`; returns the exit status (0 all supported, 1 any unsupported, 3 otherwise, 2 usage). */
export async function runCheck(flags: CheckFlags): Promise<number> {
  let result
  try {
    result = await check({
      kernel: flags.kernel,
      progs: flags.prog,
      objects: flags.object,
      archive: flags.archive,
      btf: flags.btf,
      arch: flags.arch,
    })
  } catch (e) {
    if (e instanceof KernelReleaseError || e instanceof CheckUsageError) {
      printKcompatError(e, flags.json === true)
      return EXIT_USAGE
    }
    throw e
  }
  await writeStdout(flags.json ? `${JSON.stringify(result, null, 2)}\n` : renderCheck(result, {verbose: flags.verbose}))
  return exitCodeFor(result.programs)
}
