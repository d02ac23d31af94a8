import {Args, Flags} from '@oclif/core'
import {runFindFunc} from '../../lib/actions/find.js'
import {BaseCommand} from '../../lib/base-command.js'

export default class FindFunc extends BaseCommand {
  static override summary = 'Which kernels have a function (or raw tracepoint), with its prototype in each.'
  static override description = [
    'Looks NAME up among the FUNCs of every kernel in the archive and prints the kernels that have it, grouped by distro, version and arch, with its C prototype; when kernels disagree on the prototype, each distinct prototype is numbered and every kernel points at its own. Kernels that lack it, and kernels without BTF, are listed after. When no kernel has it, near names are suggested.',
    'bpf_lsm_* (LSM hooks for BPF_PROG_TYPE_LSM) and bpf_iter_* (iterator targets) are ordinary functions. With --tracepoint (implied by a btf_trace_ prefix), NAME is a raw tracepoint for tp_btf programs, looked up through its btf_trace_NAME typedef.',
    'JSON (--json): {"query", "kind", "kernels": [{"release", "distro", "version", "arch", "flavor", "prototype"}], "prototypes", "absent", "noBtf", "suggestions"}.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> find func tcp_v4_connect',
    '<%= config.bin %> find func bpf_lsm_file_open --json',
    '<%= config.bin %> find func sched_switch --tracepoint',
  ]
  static override args = {
    name: Args.string({description: 'function name, e.g. do_sys_open', required: true}),
  }
  static override flags = {
    tracepoint: Flags.boolean({char: 't', description: 'NAME is a raw tracepoint (btf_trace_NAME typedef)'}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE, else the archive shipped with kcompat)'}),
    db: Flags.string({description: 'index file (default: $KCOMPAT_INDEX, else <archive>/index.sqlite)'}),
    json: Flags.boolean({description: 'print the answer as JSON'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(FindFunc)
    await runFindFunc(flags, args)
  }
}
