import {Flags} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {BaseCommand} from '../../lib/base-command.js'
import {buildIndex, formatBuildResult, progressLine, resolveIndexPath} from '../../store/index.js'

export default class IndexBuild extends BaseCommand {
  static override summary = 'Build or update the SQLite index of a BTF archive.'
  static override description = [
    'Indexes every kernel of the archive: its functions with prototypes, btf_trace_* tracepoints, struct/union layouts and enums, deduplicated across kernels. The build is incremental: only kernels that are new or whose manifest entry changed are (re)indexed, and kernels no longer in the manifest are dropped; each kernel is one transaction.',
    'The index is <archive>/index.sqlite unless --db or $KCOMPAT_INDEX says otherwise (or, when the archive directory is read-only, ~/.cache/kcompat/). `find` and `kernels` build or update it on their own when the manifest changed; this command also recompresses it to its smallest form.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> index build',
    '<%= config.bin %> index build --archive ./my-archive --db /tmp/index.sqlite',
  ]
  static override flags = {
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE, else the archive shipped with kcompat)'}),
    db: Flags.string({description: 'index file (default: $KCOMPAT_INDEX, else <archive>/index.sqlite)'}),
    fast: Flags.boolean({description: 'skip the final recompression: quicker, about 8% larger'}),
    quiet: Flags.boolean({char: 'q', description: 'no progress lines on stderr'}),
    json: Flags.boolean({description: 'print the build summary as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(IndexBuild)
    const archive = resolveArchiveDir(flags.archive)
    const result = await buildIndex(archive, resolveIndexPath(archive, flags.db), {
      compression: flags.fast ? 'fast' : 'small',
      onProgress: flags.quiet ? undefined : (p) => process.stderr.write(progressLine(p)),
    })
    await this.writeOut(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatBuildResult(result))
  }
}
