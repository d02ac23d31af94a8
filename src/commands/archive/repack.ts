import {Flags} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {repackModules} from '../../archive/modules.js'
import {BaseCommand} from '../../lib/base-command.js'
import {ProgressLine, formatBytes} from '../../lib/progress.js'

export default class ArchiveRepack extends BaseCommand {
  static override summary = "Move the archive's module BTF tarballs (.modules.tar.xz) into its BTF pack, as one new segment."
  static override description =
    'Every kernel whose module BTF is a legacy .modules.tar.xz is added to the deduplicated BTF pack (pack/NNNNNN.kcpack) in one new segment. All or nothing: every vmlinux and module is rebuilt from the new segment and compared with its sha256, and each kernel with the manifest, before the manifest changes; the tarballs are deleted last. Nothing to do when there are no tarballs.'
  static override examples = ['<%= config.bin %> archive repack', '<%= config.bin %> archive repack --archive ./my-archive --json']
  static override flags = {
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    json: Flags.boolean({description: 'print {kernels, modules, segment, removed, removedBytes, rawUnits} as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ArchiveRepack)
    const progress = new ProgressLine(process.stderr, !flags.json)
    const r = await repackModules(resolveArchiveDir(flags.archive), (p) =>
      progress.update(`${p.phase}${p.kernel ? ` ${p.kernel}` : ''}${p.total ? ` ${p.done}/${p.total}` : ''}`),
    )
    progress.clear()
    if (flags.json) return this.log(JSON.stringify(r, null, 2))
    if (r.kernels === 0) return this.log('no .modules.tar.xz to repack')
    this.log(`${r.kernels} kernels, ${r.modules} modules -> ${r.segment!.path} (${formatBytes(r.segment!.size)}), ${r.rawUnits} units kept raw`)
    this.log(`removed ${r.removed.length} tarballs (${formatBytes(r.removedBytes)})`)
  }
}
