import {Args, Flags} from '@oclif/core'
import {runFindField} from '../../lib/actions/find.js'
import {BaseCommand} from '../../lib/base-command.js'

export default class FindField extends BaseCommand {
  static override summary = 'Where a struct/union member sits in each kernel: offset, bitfield size, type.'
  static override description = [
    'STRUCT.MEMBER, e.g. task_struct.pid. Members of anonymous struct/union members count as members of the struct (as in C: skb->dev). Longer paths follow members held by value: file.f_path.dentry.',
    'Prints, per kernel, the byte and bit offset from the start of the struct, the bitfield size and the member\'s C type; then the kernels whose struct lacks the member, with near member names and where they exist (ask for task_struct.state and see task_struct.__state), and the kernels without the struct.',
    'JSON (--json): {"query", "struct", "member", "kernels": [{"release", "distro", "version", "arch", "flavor", "struct", "kind", "structSize", "member", "bitOffset", "byteOffset", "bitfieldSize", "type", "anonymous"}], "memberMissing", "structMissing", "noBtf", "related": [{"member", "kernels"}], "suggestions"}.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> find field task_struct.pid',
    '<%= config.bin %> find field task_struct.state',
    '<%= config.bin %> find field sk_buff.len --json',
  ]
  static override args = {
    field: Args.string({description: 'STRUCT.MEMBER, e.g. task_struct.pid', required: true}),
  }
  static override flags = {
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE, else the archive shipped with kcompat)'}),
    db: Flags.string({description: 'index file (default: $KCOMPAT_INDEX, else <archive>/index.sqlite)'}),
    json: Flags.boolean({description: 'print the answer as JSON'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(FindField)
    await runFindField(flags, args)
  }
}
