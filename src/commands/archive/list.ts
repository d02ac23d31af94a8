import {Flags} from '@oclif/core'
import {runArchiveList} from '../../lib/actions/archive-list.js'
import {BaseCommand} from '../../lib/base-command.js'

export default class ArchiveList extends BaseCommand {
  static override summary = 'List the kernels in the archive.'
  static override description =
    'Reads the archive manifest. `btf` is in-kernel (taken from the kernel image), generated (made from debug info) or none (the kernel has no BTF and none was generated).'
  static override examples = ['<%= config.bin %> archive list', '<%= config.bin %> archive list --json --archive ./my-archive']
  static override flags = {
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    json: Flags.boolean({description: 'print a JSON array of {release, distro, version, arch, flavor, btf, sha256, path}'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ArchiveList)
    await runArchiveList(flags)
  }
}
