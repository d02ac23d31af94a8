/** `kcompat find func` and `kcompat find field`, shared by the oclif commands and the fast path. */
import {prepareRemote, resolveArchiveDir} from '../../archive/archive.js'
import {combineField, combineFunc, formatFieldResult, formatFuncResult, progressLine, queryArchives} from '../../store/index.js'
import {writeStdout} from '../output.js'

export interface FindFlags {
  archive?: string
  db?: string
  json?: boolean
}

/** Runs `find func NAME` (or a raw tracepoint with --tracepoint or a btf_trace_ prefix); returns the exit status. */
export async function runFindFunc(flags: FindFlags & {tracepoint?: boolean}, args: {name: string}): Promise<number> {
  const tracepoint = flags.tracepoint || args.name.startsWith('btf_trace_')
  const root = resolveArchiveDir(flags.archive)
  // with KCOMPAT_REMOTE, both archives' indexes answer (store/combine.ts)
  const result = await queryArchives(
    root,
    await prepareRemote(root),
    {db: flags.db, onProgress: (p) => process.stderr.write(progressLine(p))},
    (index) => (tracepoint ? index.findTracepoint(args.name) : index.findFunc(args.name)),
    combineFunc,
  )
  await writeStdout(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatFuncResult(result))
  return 0
}

/** Runs `find field STRUCT.MEMBER`; returns the exit status. */
export async function runFindField(flags: FindFlags, args: {field: string}): Promise<number> {
  const root = resolveArchiveDir(flags.archive)
  const result = await queryArchives(
    root,
    await prepareRemote(root),
    {db: flags.db, onProgress: (p) => process.stderr.write(progressLine(p))},
    (index) => index.findField(args.field),
    combineField,
  )
  await writeStdout(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatFieldResult(result))
  return 0
}
