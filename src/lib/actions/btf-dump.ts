/** `kcompat btf dump`, shared by the oclif command and the fast path. */
import {setFlagsFromString} from 'node:v8'
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
  // The C dump decodes each type again wherever it meets it and drops it: lots of
  // short-lived garbage and little that survives. V8 grows its young generation
  // (1 MiB semi-spaces at start, up to 16 MiB) as scavenges go by, and every page it
  // grows into counts in the peak RSS; a growth factor of 1 keeps it at its initial
  // size. Measured on a 6.12 kernel (107,331 types): peak RSS 73-75 -> 66-68 MiB,
  // time unchanged within noise. Read by V8 when it would grow the space, so setting it
  // here, after start-up, takes effect (a --max-semi-space-size would have to be given
  // on the command line).
  if (format === 'c') setFlagsFromString('--semi-space-growth-factor=1')
  await btfDump(args.file, {format, baseBtf: flags['base-btf'], json: flags.json}, stdoutWriter())
  await flushStdout()
  return 0
}
