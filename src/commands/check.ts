import {Flags} from '@oclif/core'
import {runCheck} from '../lib/actions/check.js'
import {BaseCommand} from '../lib/base-command.js'

export default class Check extends BaseCommand {
  static override summary = 'Will these BPF programs load on that kernel, and why not.'
  static override description = [
    'KERNEL is a release string as uname -r prints it (3.10.0-957.el7.x86_64, 5.15.0-91-generic, 6.1.0-56-cloud-amd64, ...), as users type it (3.10.0-957), or `running` for this machine.',
    'Facts come from the archived kernel (its BTF and config) when the archive holds it, else from distro facts and mainline version rules; every reason names its rule, evidence and source.',
    'Verdicts: supported, unsupported, possible (depends on something only the machine knows; says what to check), unknown (a fact is missing; says which).',
    'Exit status: 0 all supported, 1 any unsupported, 3 otherwise, 2 usage errors.',
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> check --kernel 3.10.0-957 --prog fentry/do_sys_open',
    '<%= config.bin %> check --kernel 6.1.0-56-cloud-amd64 --prog fentry/do_unlinkat --prog lsm/file_open --json',
    '<%= config.bin %> check --kernel running --object prog.bpf.o',
    '<%= config.bin %> check --kernel 5.4.0-100-generic --btf 5.4.0-100-generic.btf --prog tp_btf/sched_switch',
  ]
  static override flags = {
    kernel: Flags.string({char: 'k', description: 'kernel release (uname -r) or `running`', required: true}),
    prog: Flags.string({char: 'p', description: 'program section, e.g. fentry/do_sys_open (repeatable)', multiple: true}),
    object: Flags.string({char: 'o', description: 'a compiled BPF object: check every program in it (repeatable)', multiple: true}),
    archive: Flags.string({description: 'archive directory (default: $KCOMPAT_ARCHIVE or the shipped archive)'}),
    btf: Flags.string({description: 'BTF of the kernel (raw, ELF, .btf.tar.xz, ...) when the archive does not hold it'}),
    arch: Flags.string({description: 'arch of the kernel when the release string does not say (x86_64, arm64, s390x, ...)'}),
    json: Flags.boolean({description: 'print {"kernel": {...}, "programs": [{"section", "verdict", "reasons", "suggestions"}]}'}),
    verbose: Flags.boolean({char: 'v', description: 'also list passing rules, notes, evidence and sources'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Check)
    const code = await runCheck(flags)
    if (code !== 0) this.exit(code)
  }
}
