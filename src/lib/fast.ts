/**
 * Start-up fast path. Loading oclif costs about as much as bpftool's whole run, so the
 * plain forms of `kcompat btf dump` are served without it (bench/btf-dump.sh measures
 * the difference). Anything else, including --help and every error in the arguments,
 * goes through oclif. KCOMPAT_NO_FASTPATH=1 turns this off (tests compare both paths).
 */
import {KcompatError} from '../errors.js'
import {btfDump, parseFastDumpArgv} from './btf-dump.js'
import {flushStdout, printKcompatError, stdoutWriter} from './output.js'

/** Runs argv if it is a fast-path form; returns false when oclif should take it. */
export async function tryFastPath(argv: readonly string[]): Promise<boolean> {
  if (process.env.KCOMPAT_NO_FASTPATH === '1') return false
  if (argv[0] !== 'btf' || argv[1] !== 'dump') return false
  const opts = parseFastDumpArgv(argv.slice(2))
  if (!opts) return false
  try {
    await btfDump(opts.file, opts, stdoutWriter())
    await flushStdout()
  } catch (e) {
    if (!(e instanceof KcompatError)) throw e
    printKcompatError(e, opts.json === true)
    process.exitCode = 1
  }
  return true
}
