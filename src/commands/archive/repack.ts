import {Flags} from '@oclif/core'
import {resolveArchiveDir} from '../../archive/archive.js'
import {repackModules} from '../../archive/modules.js'
import {BaseCommand} from '../../lib/base-command.js'
import {ProgressLine, formatBytes} from '../../lib/progress.js'

export default class ArchiveRepack extends BaseCommand {
  static override summary = "Move the archive's staged BTF (module tarballs; with --vmlinux, kernels' vmlinux BTF) into its BTF pack, as one new segment."
  static override description =
    'Every kernel whose module BTF is a legacy .modules.tar.xz is added to the deduplicated BTF pack (pack/NNNNNN.kcpack) in one new segment; with --vmlinux, so is every kernel with BTF that has no group in the pack yet (its vmlinux BTF alone). All or nothing: every vmlinux and module is rebuilt from the new segment and compared with its sha256, and each kernel with the manifest, before the manifest changes; tarballs are deleted last. --pack-only makes the archive keep kernels added from now on in the pack only: their btfhub-layout .btf.tar.xz is a staging copy, removed once packed (archive publish writes it back); tarballs already there stay.'
  static override examples = ['<%= config.bin %> archive repack', '<%= config.bin %> archive repack --vmlinux --archive ./my-archive --json', '<%= config.bin %> archive repack --pack-only']
  static override flags = {
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    vmlinux: Flags.boolean({description: 'also pack the vmlinux BTF of every kernel that has no group in the pack (tarballs stay)'}),
    'pack-only': Flags.boolean({description: 'keep kernels added from now on in the pack only (implies --vmlinux; manifest version 3)'}),
    json: Flags.boolean({description: 'print {kernels, modules, segment, removed, removedBytes, rawUnits, packOnly} as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ArchiveRepack)
    const progress = new ProgressLine(process.stderr, !flags.json)
    const r = await repackModules(resolveArchiveDir(flags.archive), {
      vmlinux: flags.vmlinux,
      packOnly: flags['pack-only'],
      onProgress: (p) => progress.update(`${p.phase}${p.kernel ? ` ${p.kernel}` : ''}${p.total ? ` ${p.done}/${p.total}` : ''}`),
    })
    progress.clear()
    if (flags.json) return this.log(JSON.stringify(r, null, 2))
    if (r.kernels === 0) return this.log(`nothing to repack${r.packOnly ? ' (the archive keeps new kernels in the pack only)' : ''}`)
    this.log(`${r.kernels} kernels, ${r.modules} modules -> ${r.segment!.path} (${formatBytes(r.segment!.size)}), ${r.rawUnits} units kept raw${r.packOnly ? '; new kernels are kept in the pack only' : ''}`)
    this.log(`removed ${r.removed.length} tarballs (${formatBytes(r.removedBytes)})`)
  }
}
