/** `kcompat btf dump`, shared by the oclif command and the fast path. */
import {btfDump} from '../btf-dump.js'
import {flushStdout, stdoutWriter} from '../output.js'

export interface BtfDumpFlags {
  format?: string
  'base-btf'?: string
  json?: boolean
}

/** Runs `btf dump FILE` (--json only with --format raw: the oclif command refuses the rest); returns the exit status. */
export async function runBtfDump(flags: BtfDumpFlags, args: {file: string}): Promise<number> {
  const format = flags.format === 'c' ? 'c' : 'raw'
  await btfDump(args.file, {format, baseBtf: flags['base-btf'], json: flags.json}, stdoutWriter())
  await flushStdout()
  return 0
}
