import {Flags} from '@oclif/core'
import {runKernels} from '../lib/actions/kernels.js'
import {BaseCommand} from '../lib/base-command.js'

export default class Kernels extends BaseCommand {
  static override summary = 'List the kernels of the archive.'
  static override description = [
    'One line per kernel: distro, version, arch, release, flavor, where its BTF comes from (in-kernel, generated, none) and how many functions, structs/unions and tracepoints the index holds for it.',
    'JSON (--json): {"kernels": [{"release", "distro", "version", "arch", "flavor", "btf", "sha256", "size", "path", "config", "source", "added", "counts": {"funcs", "tracepoints", "structs", "enums"} | null}]}.',
  ].join('\n\n')
  static override examples = ['<%= config.bin %> kernels', '<%= config.bin %> kernels --distro debian --arch arm64 --json']
  static override flags = {
    distro: Flags.string({description: 'only this distro (os-release ID, e.g. debian, ubuntu)'}),
    version: Flags.string({description: 'only this distro version (e.g. 12, 20.04)'}),
    arch: Flags.string({description: 'only this arch (x86_64, arm64; amd64/aarch64 accepted)'}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE, else the archive shipped with kcompat)'}),
    db: Flags.string({description: 'index file (default: $KCOMPAT_INDEX, else <archive>/index.sqlite)'}),
    json: Flags.boolean({description: 'print {"kernels": [...]} as JSON'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Kernels)
    await runKernels(flags)
  }
}
