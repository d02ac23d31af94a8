import {Args, Flags} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {mergeArchives} from '../../archive/merge.js'
import {BaseCommand} from '../../lib/base-command.js'
import {ProgressLine} from '../../lib/progress.js'
import {buildIndex, progressLine, resolveIndexPath} from '../../store/index.js'

export default class ArchiveMerge extends BaseCommand {
  static override summary = 'Combine archive directories (e.g. the shards of `archive sync --shard I/N`) into one archive and index.'
  static override description =
    "Copies every kernel of each DIR (manifest entry, BTF tarball, module BTF tarball) into the --archive directory, which may already hold kernels. The same kernel (<distro>/<version>/<arch>/<release>) in several archives must have the same BTF and module BTF, else the merge is refused (MERGE_CONFLICT, every conflict listed) and nothing is written. Each tarball is checked against its manifest before it is copied; the output's manifest is written last, in one rename. The output's index is then brought up to date (--no-index skips)."
  static override examples = [
    '<%= config.bin %> archive merge shard-1 shard-2 shard-3 --archive ./archive',
    '<%= config.bin %> archive merge shards/* --archive ./archive --json',
  ]
  static override strict = false
  static override args = {dirs: Args.string({description: 'archive directories to merge', required: true})}
  static override flags = {
    archive: Flags.string({description: 'output archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    db: Flags.string({description: "index file to update (default: $KCOMPAT_INDEX, else <archive>/index.sqlite)"}),
    index: Flags.boolean({description: "update the output archive's index after the merge (default; --no-index skips)", default: true, allowNo: true}),
    json: Flags.boolean({description: 'print the result as JSON'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(ArchiveMerge)
    const out = resolveArchiveDir(flags.archive)
    const progress = new ProgressLine(process.stderr, !flags.json)
    const r = await mergeArchives(out, argv as string[], (p) =>
      p.phase === 'read' ? (flags.json ? undefined : progress.log(`${p.dir}: ${p.kernels} kernels`)) : progress.update(`copying ${p.index}/${p.total} ${p.key}`),
    )
    progress.clear()
    const index = flags.index
      ? await buildIndex(out, resolveIndexPath(out, flags.db), {onProgress: flags.json ? undefined : (p) => progress.update(progressLine(p).trim())})
      : undefined
    progress.clear()
    if (flags.json) return this.writeOut(`${JSON.stringify({...r, index}, null, 2)}\n`)
    this.log(`${r.added.length} kernels added, ${r.same.length} already present with the same BTF; ${r.kernels} kernels in ${r.out}`)
    if (index) this.log(`index ${index.dbPath}: ${index.indexed.length} kernels indexed, ${index.kernels} in all`)
  }
}
