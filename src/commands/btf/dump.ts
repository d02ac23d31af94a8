import {Args, Flags} from '@oclif/core'
import {runBtfDump} from '../../lib/actions/btf-dump.js'
import {BaseCommand} from '../../lib/base-command.js'

export default class BtfDump extends BaseCommand {
  static override summary = 'Dump BTF as bpftool does: raw type listing or a C header (vmlinux.h).'
  static override description = [
  'FILE may be raw BTF (/sys/kernel/btf/vmlinux, a .btf file), an ELF file with a .BTF section (vmlinux, a kernel module .ko, a BPF object), a BTFHub <release>.btf.tar.xz, or xz/gzip-compressed BTF; the format is detected from the content.',
  'Output is byte-identical to `bpftool btf dump file FILE format raw|c` (bpftool v7.1).',
  'Module BTF is split BTF: give its vmlinux with --base-btf. Raw output then lists the module\'s own types; C output covers base and module, as bpftool does.',
].join('\n\n')
  static override examples = [
    '<%= config.bin %> btf dump /sys/kernel/btf/vmlinux --format c > vmlinux.h',
    '<%= config.bin %> btf dump archive/debian/12/x86_64/6.1.0-56-cloud-amd64.btf.tar.xz',
    '<%= config.bin %> btf dump nf_tables.ko --base-btf /sys/kernel/btf/vmlinux',
    '<%= config.bin %> btf dump prog.bpf.o --format raw --json',
  ]
  static override args = {
    file: Args.string({description: 'BTF source (raw BTF, ELF, .btf.tar.xz, .xz, .gz)', required: true}),
  }
  static override flags = {
    format: Flags.string({
      char: 'f',
      description: 'raw: one line per type (bpftool format raw); c: a compilable C header (vmlinux.h)',
      options: ['raw', 'c'],
      default: 'raw',
    }),
    'base-btf': Flags.string({char: 'B', description: 'base BTF for split (module) BTF, in any supported format'}),
    json: Flags.boolean({description: 'with --format raw: the types as JSON (bpftool -j layout)'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(BtfDump)
    if (flags.json && flags.format === 'c') this.error('--json is only available with --format raw', {exit: 2})
    await runBtfDump(flags, args)
  }
}
